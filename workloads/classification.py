"""Binary classification on tabular data: gradient boosting and a linear model.

Synthetic data: numeric features plus a few categorical columns; the label is a
noisy threshold on a non-linear signal (see ``tabular.make_features``). Sanity
case: scikit-learn's breast cancer data, which every model here must classify
with at least 92% accuracy.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

import numpy as np

from workloads import sparkml, tabular
from workloads.base import Model, ModelContext, Split, Target, Workload


def generate(size: int, seed: int, params: Mapping[str, Any]) -> Split:
    X, signal, rng = tabular.make_features(size, seed, params)
    noisy = signal + rng.normal(0.0, float(params["noise"]), size=size)
    y = (noisy > np.median(noisy)).astype(np.int32)  # balanced classes
    return tabular.split(X, y, seed)


def breast_cancer(size: int, seed: int, params: Mapping[str, Any]) -> Split:
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    take = np.random.default_rng(seed).permutation(len(y))[:size]
    return tabular.split(X[take].astype(np.float32), y[take].astype(np.int32), seed)


def score(y_true: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import roc_auc_score

    return {
        "accuracy": float(np.mean((proba >= 0.5) == y_true)),
        "roc_auc": float(roc_auc_score(y_true, proba)),
    }


class Probabilities:
    """Makes ``predict`` return every class's probability (`workloads.user` scores two classes or ten)."""

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator

    def fit(self, X: Any, y: Any) -> Probabilities:
        self.estimator.fit(X, y)
        return self

    def predict(self, X: Any) -> Any:
        return self.estimator.predict_proba(X)  # a NumPy or (on CUDA) CuPy array; the backend brings it back


class PositiveProba(Probabilities):
    """Makes ``predict`` return P(class 1), which both metrics need."""

    def predict(self, X: Any) -> Any:
        return super().predict(X)[:, 1]


def xgboost(ctx: ModelContext) -> PositiveProba:
    from xgboost import XGBClassifier

    return PositiveProba(XGBClassifier(**tabular.xgboost_params(ctx)))


def xgboost_external(ctx: ModelContext) -> tabular.ExternalMemoryXGBoost:
    return tabular.ExternalMemoryXGBoost(ctx, "binary:logistic")


def hist_gradient_boosting(ctx: ModelContext) -> PositiveProba:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return PositiveProba(HistGradientBoostingClassifier(**tabular.hgb_params(ctx)))


def logistic(ctx: ModelContext) -> PositiveProba:
    from sklearn.linear_model import LogisticRegression

    return PositiveProba(tabular.linear_pipeline(LogisticRegression(max_iter=1000), ctx.params))


MODELS = (
    Model("xgboost", ("xgboost", "xgboost-cuda"), xgboost, "XGBoost hist, all cores or the GPU"),
    Model("xgboost_external", ("xgboost",), xgboost_external,
          "the same XGBoost trained out of core: batches streamed from disk (ExtMemQuantileDMatrix)"),
    Model("hgb", ("sklearn", "sklearn-rapids"), hist_gradient_boosting, "scikit-learn HistGradientBoostingClassifier"),
    Model("linear", ("sklearn", "sklearn-rapids"), logistic, "one-hot + scaled logistic regression"),
    Model("xgboost_spark", ("spark",), partial(sparkml.xgboost, objective="binary:logistic"),
          "the same XGBoost trees on Spark (xgboost.spark)"),
    Model("gbt_spark", ("spark",), partial(sparkml.gbt, classify=True),
          "Spark MLlib gradient-boosted trees (20 trees)"),
)

WORKLOADS = (
    Workload(
        name="classification",
        family="classification",
        description="synthetic tabular binary classification, non-linear signal plus noise",
        generate=generate,
        models=MODELS,
        score=score,
        metric="roc_auc",
        params={"features": 20, "categorical": 3, "noise": 0.5, "trees": 200},
        sizes=(20_000, 80_000, 320_000, 1_280_000),
        target=Target("roc_auc", 0.75),
        imports=("sklearn.metrics",),
    ),
    Workload(
        name="breast_cancer",
        family="classification",
        description="scikit-learn's breast cancer data (569 rows), a real sanity case",
        generate=breast_cancer,
        models=MODELS,
        score=score,
        metric="accuracy",
        params={"features": 30, "categorical": 0, "trees": 200},
        sizes=(569,),
        max_size=569,
        target=Target("accuracy", 0.92),
        imports=("sklearn.metrics", "sklearn.datasets"),
    ),
)
