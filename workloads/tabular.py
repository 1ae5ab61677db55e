"""Pieces shared by the tabular workloads (classification and regression)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from workloads.base import ModelContext, Split

TEST_FRACTION = 0.2


def make_features(size: int, seed: int, params: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray, np.random.Generator]:
    """A float32 matrix of numeric features with a few low-cardinality categorical columns.

    Categorical columns hold small integer codes (as float32, the way tree
    libraries take them after ordinal encoding). Returns (X, latent signal, rng):
    the latent signal is a non-linear function of the features that the caller
    turns into a label, so that models have something real to learn.
    """
    _check_size(size)
    n_features = int(params["features"])
    n_categorical = int(params["categorical"])
    if not 0 <= n_categorical < n_features:
        raise ValueError(f"categorical must be in [0, features); got {n_categorical} of {n_features}")
    rng = np.random.default_rng(seed)
    n_numeric = n_features - n_categorical
    numeric = rng.standard_normal((size, n_numeric), dtype=np.float32)
    codes = rng.integers(0, 8, size=(size, n_categorical)).astype(np.float32)

    # Non-linear signal over the first few numeric columns and the categories:
    # interactions, a threshold and a periodic term, plus a per-category offset.
    k = min(n_numeric, 6)
    x = numeric[:, :k].astype(np.float64)
    signal = np.zeros(size)
    if k >= 2:
        signal += 1.5 * x[:, 0] * x[:, 1]
    if k >= 3:
        signal += np.where(x[:, 2] > 0.5, 2.0, -0.5)
    if k >= 4:
        signal += np.sin(2.0 * x[:, 3])
    if k >= 5:
        signal += 0.8 * x[:, 4] ** 2 - 0.8
    signal += 0.7 * x[:, 0] - 0.5 * x[:, k - 1]
    if n_categorical:
        offsets = np.random.default_rng(seed + 1).normal(0.0, 1.0, size=8)
        signal += offsets[codes[:, 0].astype(int)]
    X = np.concatenate([numeric, codes], axis=1)
    return X, signal, rng


def split(X: np.ndarray, y: np.ndarray, seed: int) -> Split:
    order = np.random.default_rng(seed + 2).permutation(len(y))
    n_test = max(1, int(round(len(y) * TEST_FRACTION)))
    test, train = order[:n_test], order[n_test:]
    return Split(X[train], y[train], X[test], y[test])


def xgboost_params(ctx: ModelContext) -> dict[str, Any]:
    """The gradient-boosting settings every XGBoost model here shares: hist trees, all case threads."""
    return {
        "tree_method": "hist",
        "device": ctx.device,
        "n_estimators": int(ctx.params["trees"]),
        "max_depth": 6,
        "learning_rate": 0.1,
        "n_jobs": ctx.threads,
        "random_state": ctx.seed,
    }


EXTERNAL_BATCH_ROWS = 2**18  # rows per batch file: tens of MB, as an out-of-core reader would stream


class ExternalMemoryXGBoost:
    """XGBoost trained out of core: the training rows are written to disk in batches and streamed
    back through a DataIter into an ExtMemQuantileDMatrix, whose pages are cached on disk too.

    The alternative to a bigger machine for data that does not fit in memory. Fit time includes
    writing the batches once (the harness generated the data in memory); the batch files and
    XGBoost's cache are deleted after fit. Same trees and settings as the in-memory model.
    """

    def __init__(self, ctx: ModelContext, objective: str) -> None:
        params = xgboost_params(ctx)
        self.rounds = params.pop("n_estimators")
        self.params = {"tree_method": "hist", "device": params["device"], "max_depth": params["max_depth"],
                       "eta": params["learning_rate"], "nthread": params["n_jobs"], "seed": params["random_state"],
                       "objective": objective}

    def fit(self, X: Any, y: Any) -> ExternalMemoryXGBoost:
        import tempfile

        import xgboost as xgb

        with tempfile.TemporaryDirectory(prefix="sizeup-extmem-") as folder:
            files = []
            for i, start in enumerate(range(0, len(X), EXTERNAL_BATCH_ROWS)):
                stop = start + EXTERNAL_BATCH_ROWS
                files.append((f"{folder}/X{i}.npy", f"{folder}/y{i}.npy"))
                np.save(files[-1][0], np.asarray(X[start:stop]))
                np.save(files[-1][1], np.asarray(y[start:stop]))
            matrix = xgb.ExtMemQuantileDMatrix(_batches(files, f"{folder}/cache"), nthread=self.params["nthread"])
            self.booster = xgb.train(self.params, matrix, num_boost_round=self.rounds)
            del matrix  # its cache files live in the folder about to go
        return self

    def predict(self, X: Any) -> Any:
        return self.booster.inplace_predict(X)  # binary:logistic gives P(class 1)


def _batches(files: list[tuple[str, str]], cache: str) -> Any:
    import xgboost as xgb

    class Batches(xgb.DataIter):
        def __init__(self) -> None:
            self.i = 0
            super().__init__(cache_prefix=cache)

        def next(self, input_data: Any) -> bool:
            if self.i == len(files):
                return False
            X_file, y_file = files[self.i]
            input_data(data=np.load(X_file), label=np.load(y_file))
            self.i += 1
            return True

        def reset(self) -> None:
            self.i = 0

    return Batches()


def hgb_params(ctx: ModelContext) -> dict[str, Any]:
    """The same trees for scikit-learn; its threads come from OMP_NUM_THREADS, set by the harness per case."""
    n_features, n_cat = int(ctx.params["features"]), int(ctx.params["categorical"])
    return {
        "max_iter": int(ctx.params["trees"]),
        "max_depth": 6,
        "learning_rate": 0.1,
        "early_stopping": False,
        "categorical_features": list(range(n_features - n_cat, n_features)) or None,
        "random_state": ctx.seed,
    }


def linear_pipeline(estimator: Any, params: Mapping[str, Any], impute: bool = False) -> Any:
    """Scale the numeric columns and one-hot the categorical ones before a linear model; with `impute`, a
    missing number (NaN, which the tree models take as it is) becomes its column's median first."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    n_features, n_cat = int(params["features"]), int(params["categorical"])
    numeric, categorical = list(range(n_features - n_cat)), list(range(n_features - n_cat, n_features))
    scale = make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler()) if impute \
        else StandardScaler()
    encode = ColumnTransformer(
        [("num", scale, numeric), ("cat", OneHotEncoder(handle_unknown="ignore"), categorical)]
    )
    return make_pipeline(encode, estimator)


def _check_size(size: int) -> None:
    if size < 10:
        raise ValueError(f"size must be at least 10 rows, got {size}")
