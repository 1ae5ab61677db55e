"""Regression on tabular data: gradient boosting and a linear model.

Synthetic data: the same feature generator as classification, with the
non-linear signal plus Gaussian noise as the target. Sanity case:
scikit-learn's diabetes data, where every model here must reach R2 >= 0.30.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

import numpy as np

from workloads import sparkml, tabular
from workloads.arrays import NormalEquationRidge
from workloads.base import Model, ModelContext, Split, Target, Workload


def generate(size: int, seed: int, params: Mapping[str, Any]) -> Split:
    X, signal, rng = tabular.make_features(size, seed, params)
    y = (signal + rng.normal(0.0, float(params["noise"]), size=size)).astype(np.float32)
    return tabular.split(X, y, seed)


def diabetes(size: int, seed: int, params: Mapping[str, Any]) -> Split:
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    take = np.random.default_rng(seed).permutation(len(y))[:size]
    return tabular.split(X[take].astype(np.float32), y[take].astype(np.float32), seed)


def score(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    y_true = np.asarray(y_true, dtype=np.float64)
    residual = y_true - np.asarray(y_pred, dtype=np.float64)
    total = np.sum((y_true - y_true.mean()) ** 2)
    return {
        "rmse": float(np.sqrt(np.mean(residual**2))),
        "r2": float(1.0 - np.sum(residual**2) / total) if total > 0 else float("nan"),
    }


def xgboost(ctx: ModelContext) -> Any:
    from xgboost import XGBRegressor

    return XGBRegressor(**tabular.xgboost_params(ctx))


def xgboost_external(ctx: ModelContext) -> tabular.ExternalMemoryXGBoost:
    return tabular.ExternalMemoryXGBoost(ctx, "reg:squarederror")


def hist_gradient_boosting(ctx: ModelContext) -> Any:
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(**tabular.hgb_params(ctx))


def ridge(ctx: ModelContext) -> Any:
    from sklearn.linear_model import Ridge

    return tabular.linear_pipeline(Ridge(alpha=1.0), ctx.params)


def normal_equation_ridge(ctx: ModelContext) -> NormalEquationRidge:
    return NormalEquationRidge(alpha=1.0)


MODELS = (
    Model("xgboost", ("xgboost", "xgboost-cuda"), xgboost, "XGBoost hist, all cores or the GPU"),
    Model("xgboost_external", ("xgboost",), xgboost_external,
          "the same XGBoost trained out of core: batches streamed from disk (ExtMemQuantileDMatrix)"),
    Model("hgb", ("sklearn", "sklearn-rapids"), hist_gradient_boosting, "scikit-learn HistGradientBoostingRegressor"),
    Model("linear", ("sklearn", "sklearn-rapids"), ridge, "one-hot + scaled ridge regression"),
    Model("ridge_solve", ("numpy", "cupy"), normal_equation_ridge,
          "ridge from its normal equations on standardized features: one array code, NumPy or CuPy"),
    Model("xgboost_spark", ("spark",), partial(sparkml.xgboost, objective="reg:squarederror"),
          "the same XGBoost trees on Spark (xgboost.spark)"),
    Model("gbt_spark", ("spark",), partial(sparkml.gbt, classify=False),
          "Spark MLlib gradient-boosted trees (20 trees)"),
)

WORKLOADS = (
    Workload(
        name="regression",
        family="regression",
        description="synthetic tabular regression, non-linear signal plus Gaussian noise",
        generate=generate,
        models=MODELS,
        score=score,
        metric="r2",
        params={"features": 20, "categorical": 3, "noise": 0.5, "trees": 200},
        sizes=(20_000, 80_000, 320_000, 1_280_000),
        target=Target("r2", 0.25),
    ),
    Workload(
        name="diabetes",
        family="regression",
        description="scikit-learn's diabetes data (442 rows), a real sanity case",
        generate=diabetes,
        models=MODELS,
        score=score,
        metric="r2",
        params={"features": 10, "categorical": 0, "trees": 100},
        sizes=(442,),
        max_size=442,
        target=Target("r2", 0.30),
        imports=("sklearn.datasets",),
    ),
)
