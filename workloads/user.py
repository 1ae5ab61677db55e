"""The user's own table (`sizeup run --data PATH`): classification or regression on their columns.

The file is read, never written; a case takes a seeded subsample of `size` rows and splits it
80/20, as the synthetic tabular workloads do. Numbers, dates and identifiers become float32
features and the other text columns category codes, placed last, as the tabular models expect. `harness/userdata.py` identifies the task and fills `params`.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import numpy as np

from workloads import regression, tabular
from workloads.base import Model, ModelContext, Split, Workload

PARAMS = {"path": "", "target": "", "features": 1, "categorical": 0, "rows": 0, "file_sha256": "", "schema": "{}",
          "trees": 200}


MAX_LEVELS = 255  # more distinct values than this is an identifier or a date, not a category to learn


def is_date(column: Any) -> bool:
    """Text that reads as dates (ISO or m/d/y), or a datetime column."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(column):
        return True
    if column.dtype != object and not pd.api.types.is_string_dtype(column):
        return False
    sample = column.dropna().astype(str).head(200)
    if sample.empty or not sample.str.contains(r"\d{4}-\d{1,2}|\d{1,2}/\d{1,2}/\d{2,4}", regex=True).all():
        return False
    return bool(pd.to_datetime(sample, errors="coerce", format="mixed").notna().mean() > 0.9)


def column_kinds(frame: Any) -> tuple[list[str], list[str]]:
    """(numeric, categorical) feature columns. Numbers, dates (as days) and text with more than
    MAX_LEVELS values (as codes) are numeric; other text and booleans are categories."""
    import pandas as pd

    numeric, categorical = [], []
    for c in frame.columns:
        column = frame[c]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            numeric.append(c)
        elif is_date(column) or column.nunique() > MAX_LEVELS:
            numeric.append(c)
        else:
            categorical.append(c)
    return numeric, categorical


def _as_number(column: Any) -> Any:
    import pandas as pd

    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return column.to_numpy(np.float32)
    if is_date(column):
        days = pd.to_datetime(column, errors="coerce", format="mixed")
        return ((days - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)).to_numpy(np.float32)
    return pd.factorize(column, sort=True)[0].astype(np.float32)


@cache
def encoded(path: str, target: str, classify: bool) -> tuple[np.ndarray, np.ndarray]:
    """The whole file as (features, labels), categories last as the tabular models expect: read once
    per worker process. Category codes are fixed over the whole file, so every subsample codes alike."""
    import pandas as pd

    frame = pd.read_parquet(path) if path.endswith((".parquet", ".pq")) else pd.read_csv(
        path, sep="\t" if path.lower().endswith(".tsv") else ",")
    frame = frame[frame[target].notna()]
    y = frame.pop(target)
    numeric, categorical = column_kinds(frame)
    X = np.column_stack([_as_number(frame[c]) for c in numeric]
                        + [pd.factorize(frame[c], sort=True)[0].astype(np.float32) for c in categorical])
    labels = pd.factorize(y, sort=True)[0].astype(np.int32) if classify else y.to_numpy(np.float64)
    return X.astype(np.float32), labels


def _generate(classify: bool):
    def generate(size: int, seed: int, params: Mapping[str, Any]) -> Split:
        X, y = encoded(str(params["path"]), str(params["target"]), classify)
        take = np.sort(np.random.default_rng(seed).permutation(len(y))[:size])
        return tabular.split(X[take], y[take], seed)
    return generate


def score_classes(y_true: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """Accuracy, and ROC AUC (one against the rest, macro, for more than two classes) where every class is
    in the test split."""
    from sklearn.metrics import roc_auc_score

    proba = np.asarray(proba)
    predicted = proba.argmax(axis=1) if proba.ndim == 2 else (proba >= 0.5).astype(int)
    out = {"accuracy": float(np.mean(predicted == y_true))}
    try:
        out["roc_auc"] = float(roc_auc_score(y_true, proba[:, 1] if proba.ndim == 2 and proba.shape[1] == 2 else proba,
                                             multi_class="ovr"))
    except ValueError:  # a class missing from a small test split
        pass
    return out


class Probabilities:
    """`predict` gives every class's probability, so one model and one score serve two classes or ten."""

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator

    def fit(self, X: Any, y: Any) -> Probabilities:
        self.estimator.fit(X, y)
        return self

    def predict(self, X: Any) -> Any:
        return self.estimator.predict_proba(X)


def _xgboost(ctx: ModelContext) -> Probabilities:
    from xgboost import XGBClassifier

    return Probabilities(XGBClassifier(**tabular.xgboost_params(ctx)))


def _hgb(ctx: ModelContext) -> Probabilities:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return Probabilities(HistGradientBoostingClassifier(**tabular.hgb_params(ctx)))


def _linear(ctx: ModelContext) -> Probabilities:
    from sklearn.linear_model import LogisticRegression

    return Probabilities(tabular.linear_pipeline(LogisticRegression(max_iter=1000), ctx.params))


CLASSIFIERS = (
    Model("xgboost", ("xgboost", "xgboost-cuda"), _xgboost, "XGBoost hist, all cores or the GPU"),
    Model("hgb", ("sklearn", "sklearn-rapids"), _hgb, "scikit-learn HistGradientBoostingClassifier"),
    Model("linear", ("sklearn", "sklearn-rapids"), _linear, "one-hot + scaled logistic regression"),
)
REGRESSORS = tuple(m for m in regression.MODELS if m.name in ("xgboost", "hgb", "linear"))

WORKLOADS = (
    Workload(name="user_classification", family="classification",
             description="your table (sizeup run --data PATH --target COLUMN): classification",
             generate=_generate(True), models=CLASSIFIERS, score=score_classes, metric="accuracy",
             params=PARAMS, sizes=(), target=None, imports=("sklearn.metrics",)),
    Workload(name="user_regression", family="regression",
             description="your table (sizeup run --data PATH --target COLUMN): regression",
             generate=_generate(False), models=REGRESSORS, score=regression.score, metric="r2",
             params=PARAMS, sizes=(), imports=()),
)
