"""The user's own table (`sizeup run --data PATH`): classification, regression or forecasting, on one
machine and, where pyspark is installed, on Spark.

The file is read, never written. A classification or regression case takes a seeded subsample of
`size` rows and splits it 80/20, as the synthetic tabular workloads do; numbers, dates and
identifiers become float32 features and the other text columns category codes, placed last, as
the tabular models expect. A forecasting case takes the most recent `size` steps of every series
and forecasts the last `horizon` of them. `harness/run/userdata.py` identifies the task and fills
`params`.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache, partial
from typing import Any

import numpy as np

from workloads import forecasting, regression, sparkml, tabular
from workloads.base import Model, ModelContext, Split, Workload
from workloads.classification import Probabilities

PARAMS = {"path": "", "target": "", "features": 1, "categorical": 0, "rows": 0, "file_sha256": "", "schema": "{}",
          "ordered": "", "trees": 200}


def read_table(path: str) -> Any:
    """A CSV, TSV or Parquet file as a DataFrame, by its suffix (harness/run/userdata.py checks the suffix first)."""
    import pandas as pd

    if path.lower().rsplit(".", 1)[-1] in ("parquet", "pq"):
        return pd.read_parquet(path)
    return pd.read_csv(path, sep=separator(path))


def separator(path: str) -> str:
    """A delimited table's separator, by its suffix: a tab for .tsv, else a comma."""
    return "\t" if path.lower().endswith(".tsv") else ","


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

    frame = read_table(path)
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
        if params.get("ordered"):  # a time index: the most recent rows, the last of them tested, never shuffled
            n_test = max(1, round(size * tabular.TEST_FRACTION))
            train, test = slice(len(y) - size, len(y) - n_test), slice(len(y) - n_test, len(y))
            return Split(X[train], y[train], X[test], y[test])
        order = np.random.default_rng(seed).permutation(len(y))
        if not classify:
            take = np.sort(order[:size])
            return tabular.split(X[take], y[take], seed)
        take = np.sort(_keeping_classes(order, y, size))
        train, test = _stratified(y[take], seed)
        return Split(X[take[train]], y[take[train]], X[take[test]], y[take[test]])
    return generate


def _groups(order: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """`order` cut into one run per class, each in `order`'s order."""
    ranked = order[np.argsort(y[order], kind="stable")]
    starts = np.flatnonzero(np.diff(y[ranked], prepend=y[ranked][0] - 1))
    return np.split(ranked, starts[1:])


def _keeping_classes(order: np.ndarray, y: np.ndarray, size: int) -> np.ndarray:
    """The first `size` rows of `order`, but with two rows of every class that has them (one of a class that has
    one): a small subsample of a table with a rare class must still hold it, or the models refuse the labels."""
    must = np.concatenate([g[:2] for g in _groups(order, y)])
    rest = order[~np.isin(order, must)]
    return np.concatenate([must, rest])[:max(size, len(must))]


def _stratified(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) positions: TEST_FRACTION of each class tested, and at least one row of every class trained."""
    order = np.random.default_rng(seed + 2).permutation(len(y))
    test = np.concatenate([g[:min(int(round(len(g) * tabular.TEST_FRACTION)), len(g) - 1)] for g in _groups(order, y)])
    if not len(test):  # a split needs one test row: a class with two or more rows lends it
        test = np.array([next(g[0] for g in _groups(order, y) if len(g) > 1)])
    return np.setdiff1d(np.arange(len(y)), test), np.sort(test)


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


def _xgboost(ctx: ModelContext) -> Probabilities:
    from xgboost import XGBClassifier

    return Probabilities(XGBClassifier(**tabular.xgboost_params(ctx)))


def _hgb(ctx: ModelContext) -> Probabilities:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return Probabilities(HistGradientBoostingClassifier(**tabular.hgb_params(ctx)))


def _linear(ctx: ModelContext) -> Probabilities:
    from sklearn.linear_model import LogisticRegression

    return Probabilities(tabular.linear_pipeline(LogisticRegression(max_iter=1000), ctx.params, impute=True))


def _ridge(ctx: ModelContext) -> Any:
    from sklearn.linear_model import Ridge

    return tabular.linear_pipeline(Ridge(alpha=1.0), ctx.params, impute=True)


CLASSIFIERS = (
    Model("xgboost", ("xgboost", "xgboost-cuda"), _xgboost, "XGBoost hist, all cores or the GPU"),
    Model("xgboost_spark", ("spark",), partial(sparkml.xgboost, objective="classes"), "the same XGBoost on Spark (xgboost.spark)"),
    Model("hgb", ("sklearn", "sklearn-rapids"), _hgb, "scikit-learn HistGradientBoostingClassifier"),
    Model("linear", ("sklearn", "sklearn-rapids"), _linear, "one-hot + scaled logistic regression (missing "
          "numbers: the median)"),
)
RIDGE = Model("linear", ("sklearn", "sklearn-rapids"), _ridge, "one-hot + scaled ridge regression (missing numbers: "
              "the median)")
REGRESSORS = tuple(RIDGE if m.name == "linear" else m for m in regression.MODELS
                   if m.name in ("xgboost", "xgboost_spark", "hgb", "linear"))



# --- forecasting: the user's dated table ------------------------------------------------------------

FORECAST_PARAMS = {"path": "", "target": "", "date": "", "series": "", "horizon": 7, "rows": 0, "file_sha256": "",
                   "schema": "{}", "trees": 200}
WINDOWS = (1, 2, 3, 4)  # lags, in steps past the horizon: the newest values a forecast may use
MIN_TRAIN_ROWS = 10


def min_steps(horizon: int) -> int:
    """The fewest steps per series to forecast from: three horizons of history, and MIN_TRAIN_ROWS left to train
    on after the test split and the longest lag."""
    return max(3 * horizon + 8, 2 * horizon + max(WINDOWS) - 1 + MIN_TRAIN_ROWS)


@cache
def _series(path: str, target: str, date: str, series: str) -> Any:
    """The file as one frame sorted by series and date, with a step index per series (read once per process)."""
    import pandas as pd

    frame = read_table(path)
    keys = [k for k in series.split(",") if k]
    frame = frame[[date, target, *keys]].dropna(subset=[date, target]).copy()
    frame[date] = pd.to_datetime(frame[date], format="mixed")
    frame["_series"] = pd.factorize(frame[keys].astype(str).agg("|".join, axis=1))[0] if keys else 0
    frame = frame.sort_values(["_series", date]).reset_index(drop=True)
    frame["_step"] = frame.groupby("_series").cumcount()
    return frame


def _forecast_generate(size: int, seed: int, params: Mapping[str, Any]) -> Split:
    """The most recent `size` steps of every series; the last `horizon` of them are the test split (time-ordered,
    never shuffled). Features: lags of at least the horizon, a rolling mean, calendar, the series."""
    import pandas as pd

    horizon = int(params["horizon"])
    frame = _series(str(params["path"]), str(params["target"]), str(params["date"]), str(params["series"]))
    last = frame.groupby("_series")["_step"].transform("max")
    frame = frame[frame["_step"] > last - size].copy()
    grouped = frame.groupby("_series")[str(params["target"])]
    columns = {f"lag_{horizon + k - 1}": grouped.shift(horizon + k - 1) for k in WINDOWS}
    columns["mean_4_at_horizon"] = grouped.transform(lambda s: s.shift(horizon).rolling(4, min_periods=1).mean())
    when = frame[str(params["date"])]
    columns.update(month=when.dt.month, weekday=when.dt.day_of_week, day_of_year=when.dt.day_of_year,
                   series=frame["_series"])
    X = pd.DataFrame(columns).astype(np.float32)
    y = frame[str(params["target"])].to_numpy(np.float32)
    test = (frame["_step"] > last.loc[frame.index] - horizon).to_numpy()
    train = ~test & X.notna().all(axis=1).to_numpy()
    if train.sum() < MIN_TRAIN_ROWS or test.sum() == 0:
        raise ValueError(f"{size} steps leave {int(train.sum())} training rows after lags of {horizon}+ steps")
    return Split(X[train].reset_index(drop=True), y[train], X[test].reset_index(drop=True), y[test])


class LastValue:
    """The naive forecast: the newest value the horizon allows."""

    def __init__(self, horizon: int) -> None:
        self.column = f"lag_{horizon}"

    def fit(self, X: Any, y: Any) -> LastValue:
        return self

    def predict(self, X: Any) -> np.ndarray:
        return X[self.column].to_numpy(np.float32)


def _forecast_xgboost(ctx: ModelContext) -> Any:
    from xgboost import XGBRegressor

    return XGBRegressor(**tabular.xgboost_params(ctx))


def _forecast_naive(ctx: ModelContext) -> LastValue:
    return LastValue(int(ctx.params["horizon"]))


FORECASTERS = (
    Model("xgboost", ("xgboost",), _forecast_xgboost, "XGBoost on lags >= the horizon, a rolling mean and calendar"),
    Model("xgboost_spark", ("spark",), partial(sparkml.xgboost, objective="reg:squarederror"), "the same XGBoost on Spark"),
    Model("naive", ("sklearn",), _forecast_naive, "the newest value the horizon allows"),
)

WORKLOADS = (
    Workload(name="user_classification", family="classification",
             description="your table (sizeup run --data PATH --target COLUMN): classification",
             generate=_generate(True), models=CLASSIFIERS, score=score_classes, metric="accuracy",
             params=PARAMS, sizes=(), target=None, imports=("sklearn.metrics",)),
    Workload(name="user_regression", family="regression",
             description="your table (sizeup run --data PATH --target COLUMN): regression",
             generate=_generate(False), models=REGRESSORS, score=regression.score, metric="r2",
             params=PARAMS, sizes=(), imports=()),
    Workload(name="user_forecasting", family="forecasting",
             description="your dated table (sizeup run --data PATH --target COLUMN): forecasting",
             generate=_forecast_generate, models=FORECASTERS, score=forecasting.score, metric="wape",
             higher_is_better=False, params=FORECAST_PARAMS, sizes=(), size_unit="steps", imports=()),
)
