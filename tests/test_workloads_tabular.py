"""Classification and regression workloads at tiny sizes: determinism, learning, sanity targets."""

from __future__ import annotations

import numpy as np
import pytest

from harness.run.worker import data_hash
from workloads import catalogue
from workloads.base import ModelContext

SIZE = 3000


def fit_score(name: str, model: str, size: int, params: dict | None = None) -> dict[str, float]:
    w = catalogue()[name]
    p = {**w.params, **(params or {})}
    split = w.generate(size, 0, p)
    est = w.model(model).build(ModelContext(threads=1, seed=0, device="cpu", params=p))
    est.fit(split.X_train, split.y_train)
    return w.score(split.y_test, est.predict(split.X_test))


@pytest.mark.parametrize("name", ["classification", "regression", "breast_cancer", "diabetes"])
def test_generators_are_deterministic(name: str) -> None:
    w = catalogue()[name]
    size = min(SIZE, w.max_size or SIZE)
    same = [data_hash(w.generate(size, 0, w.params)) for _ in range(2)]
    other = data_hash(w.generate(size, 1, w.params))
    assert same[0] == same[1] != other


def test_synthetic_data_has_the_asked_shape_and_categories() -> None:
    w = catalogue()["classification"]
    split = w.generate(1000, 0, {**w.params, "features": 12, "categorical": 2})
    assert split.X_train.shape == (800, 12) and split.X_test.shape == (200, 12)
    assert split.X_train.dtype == np.float32
    assert set(np.unique(split.X_train[:, -1])) <= set(range(8))
    assert 0.4 < split.y_train.mean() < 0.6  # balanced classes


@pytest.mark.parametrize("model", ["xgboost", "hgb", "linear"])
def test_classifiers_learn(model: str) -> None:
    q = fit_score("classification", model, SIZE, {"trees": 50})
    assert q["roc_auc"] > 0.75  # a trivial classifier scores 0.5
    assert q["accuracy"] > 0.65


@pytest.mark.parametrize("model", ["xgboost", "hgb", "linear"])
def test_regressors_learn(model: str) -> None:
    q = fit_score("regression", model, SIZE, {"trees": 50})
    assert q["r2"] > 0.25  # predicting the mean scores 0


def test_boosting_captures_what_a_linear_model_cannot() -> None:
    assert fit_score("regression", "hgb", SIZE, {"trees": 50})["r2"] > fit_score("regression", "linear", SIZE)["r2"] + 0.3


@pytest.mark.parametrize("name, model", [(n, m) for n in ("breast_cancer", "diabetes") for m in ("xgboost", "hgb", "linear")])
def test_real_sanity_datasets_reach_their_targets(name: str, model: str) -> None:
    w = catalogue()[name]
    q = fit_score(name, model, w.max_size)
    assert w.target.met(q[w.target.metric]), q


def test_scores_of_perfect_and_constant_predictions() -> None:
    reg, clf = catalogue()["regression"], catalogue()["classification"]
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert reg.score(y, y) == {"rmse": 0.0, "r2": 1.0}
    assert reg.score(y, np.full(4, y.mean()))["r2"] == 0.0
    labels = np.array([0, 1, 0, 1])
    assert clf.score(labels, np.array([0.1, 0.9, 0.2, 0.8])) == {"accuracy": 1.0, "roc_auc": 1.0}


def test_data_hash_reads_values_not_pointers() -> None:
    from workloads.base import Split

    def split_of(docs: list[str]) -> Split:
        return Split(np.array(docs, dtype=object), np.arange(2), [d.upper() for d in docs], None)

    assert data_hash(split_of(["a b", "c"])) == data_hash(split_of(["a b", "c"])) != data_hash(split_of(["a b", "d"]))


@pytest.mark.parametrize("name", ["classification", "regression"])
def test_out_of_core_xgboost_streams_batches_and_matches_the_in_memory_trees(name: str, monkeypatch, tmp_path) -> None:
    from workloads import tabular

    monkeypatch.setattr(tabular, "EXTERNAL_BATCH_ROWS", 1000)  # three batches of the 2,400 training rows
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    external = fit_score(name, "xgboost_external", SIZE, {"trees": 30})
    assert external == pytest.approx(fit_score(name, "xgboost", SIZE, {"trees": 30}), abs=0.01)
    assert list(tmp_path.iterdir()) == []  # the batch files and XGBoost's page cache are gone
