"""Time-series forecasting: daily supermarket sales, a global gradient-boosted model.

Synthetic data: ``size`` series (store x item pairs) of daily unit sales over
``days`` days (three years by default) ending on 2024-12-08. Each series has a
level, a trend, a weekly and a yearly pattern, a gift-season build-up, a holiday
calendar (Thanksgiving, Christmas closure, ...), chain-wide promotions and a
slowly wandering local level; sales are negative-binomial counts around that
multiplicative mean. The task is to forecast the last ``horizon`` days (28 by
default: Nov 11 - Dec 8, with Thanksgiving) of every series.

``generate`` returns raw long-format frames (one row per series and day; the
horizon rows carry the promotion flag, which is planned in advance, but no
sales). ``features`` turns them into a row-per-series-day table of lags, rolling
means and calendar columns, built from the history only, so that one direct
model forecasts every horizon day without recursion. Models: XGBoost on those
features, and the seasonal-naive baseline (repeat the last observed week).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from workloads import sparkml, tabular
from workloads.base import Model, ModelContext, Split, Target, Workload

# Fixed, so the default horizon is always Nov 11 - Dec 8 2024: Thanksgiving and the start of the
# gift season. (Christmas itself would be unfair: with two or three years of history, each
# fixed-date holiday has been seen on one or two weekdays only, so trees cannot tell its effect
# from a weekday's.)
LAST_DAY = np.datetime64("2024-12-08", "D")
YEAR = 364  # 52 weeks: the yearly lag that lands on the same weekday

# Holiday codes (0 = ordinary day) and their effect on log sales.
HOLIDAYS = {
    "new_year": (1, -0.8),
    "valentines": (2, 0.15),
    "independence": (3, 0.3),
    "halloween": (4, 0.2),
    "thanksgiving_eve": (5, 0.5),
    "thanksgiving": (6, -0.7),
    "christmas_eve": (7, 0.6),
    "christmas": (8, -3.5),  # stores closed but for a trickle
    "new_years_eve": (9, 0.4),
}
FIXED_DATE_HOLIDAYS = {
    (1, 1): "new_year",
    (2, 14): "valentines",
    (7, 4): "independence",
    (10, 31): "halloween",
    (12, 24): "christmas_eve",
    (12, 25): "christmas",
    (12, 31): "new_years_eve",
}


# --- calendar -------------------------------------------------------------------------


def dates_for(days: int) -> np.ndarray:
    """The ``days`` consecutive dates (datetime64[D]) ending on LAST_DAY."""
    return LAST_DAY - np.arange(days - 1, -1, -1)


def holiday_codes(dates: np.ndarray) -> np.ndarray:
    """Holiday code per date (see HOLIDAYS), 0 on ordinary days."""
    dates = np.asarray(dates, dtype="datetime64[D]")
    index = pd.DatetimeIndex(dates)
    month, day, weekday = index.month.to_numpy(), index.day.to_numpy(), index.day_of_week.to_numpy()
    codes = np.zeros(len(dates), dtype=np.int8)
    for (m, d), name in FIXED_DATE_HOLIDAYS.items():
        codes[(month == m) & (day == d)] = HOLIDAYS[name][0]
    # Thanksgiving: the fourth Thursday of November (day 22..28), and the Wednesday before.
    november = month == 11
    codes[november & (weekday == 3) & (day >= 22) & (day <= 28)] = HOLIDAYS["thanksgiving"][0]
    codes[november & (weekday == 2) & (day >= 21) & (day <= 27)] = HOLIDAYS["thanksgiving_eve"][0]
    return codes


def _calendar(dates: np.ndarray) -> dict[str, np.ndarray]:
    index = pd.DatetimeIndex(np.asarray(dates, dtype="datetime64[D]"))
    return {
        "dayofweek": index.day_of_week.to_numpy(),
        # Month and day of month rather than day of year, which shifts by one after
        # February in leap years (2024 here) and would confuse Christmas Eve with Christmas.
        "month": index.month.to_numpy(),
        "dayofmonth": index.day.to_numpy(),
        "holiday": holiday_codes(dates),
    }


# --- data -----------------------------------------------------------------------------


def _check(size: int, params: Mapping[str, Any]) -> tuple[int, int]:
    days, horizon = int(params["days"]), int(params["horizon"])
    if size < 1:
        raise ValueError(f"size must be at least 1 series, got {size}")
    if not 1 <= horizon <= YEAR - 7:
        raise ValueError(f"horizon must be in [1, {YEAR - 7}] days, got {horizon}")
    # The yearly lags must exist for some training days (plus a few weeks to learn from).
    if days < _lookback(horizon) + horizon + 28:
        raise ValueError(f"days must be at least {_lookback(horizon) + horizon + 28}, got {days}")
    return days, horizon


def _promotions(rng: np.random.Generator, n_items: int, days: int) -> np.ndarray:
    """(items, days) bool: chain-wide promotions, runs of 3-10 days about every 6 weeks."""
    counts = rng.poisson(days / 42.0, size=n_items)
    item = np.repeat(np.arange(n_items), counts)
    start = rng.integers(0, days, size=item.size)
    stop = np.minimum(start + rng.integers(3, 11, size=item.size), days)
    edges = np.zeros((n_items, days + 1), dtype=np.int32)
    np.add.at(edges, (item, start), 1)
    np.add.at(edges, (item, stop), -1)
    return np.cumsum(edges[:, :days], axis=1) > 0


def _local_level(rng: np.random.Generator, n_series: int, days: int) -> np.ndarray:
    """(series, days) AR(1) wander of log level: what the recent weeks tell about the next."""
    phi, sigma = 0.97, 0.03
    shocks = rng.normal(0.0, sigma, size=(days, n_series))
    level = np.empty_like(shocks)
    level[0] = shocks[0] * (1.0 / np.sqrt(1.0 - phi * phi))  # start in the stationary law
    for t in range(1, days):
        level[t] = phi * level[t - 1] + shocks[t]
    return level.T


def simulate(size: int, seed: int, params: Mapping[str, Any]) -> pd.DataFrame:
    """Long-format sales, one row per (series, date), series-major. All columns are exact ints/dates."""
    days, _ = _check(size, params)
    rng = np.random.default_rng(seed)
    n_stores = min(int(params["stores"]), size)
    n_items = -(-size // n_stores)
    series = np.arange(size)
    store, item = series % n_stores, series // n_stores

    dates = dates_for(days)
    cal = _calendar(dates)
    years = np.arange(days) / 365.25
    dayofyear = pd.DatetimeIndex(dates).day_of_year.to_numpy()
    angle = 2.0 * np.pi * dayofyear / 365.25
    december = np.exp(-(((dayofyear - 358.0) / 14.0) ** 2))  # gift-season build-up

    # Per store: size and a weekly profile (weekends busier); per item: level, how strongly it
    # follows the weekly, yearly and holiday patterns, how much a promotion lifts it.
    store_level = rng.normal(0.0, 0.3, size=n_stores)
    week_base = np.array([-0.1, -0.15, -0.1, 0.0, 0.15, 0.35, 0.1])
    store_week = week_base + rng.normal(0.0, 0.05, size=(n_stores, 7))
    item_level = rng.normal(np.log(3.0), 1.2, size=n_items)  # from intermittent to ~100/day
    item_week = rng.uniform(0.5, 1.5, size=n_items)
    item_sin, item_cos = rng.normal(0.0, 0.2, size=(2, n_items))
    item_december = rng.uniform(0.0, 0.8, size=n_items)
    item_holiday = rng.uniform(0.5, 1.5, size=n_items)
    item_promo = rng.uniform(0.2, 1.0, size=n_items)
    item_dispersion = rng.uniform(4.0, 16.0, size=n_items)  # negative-binomial shape
    trend = rng.normal(0.05, 0.15, size=size)  # log growth per year
    participates = rng.random(size) < 0.85  # stores that run the chain's promotions
    promo = _promotions(rng, n_items, days)[item] & participates[:, None]
    wander = _local_level(rng, size, days)

    effect = np.zeros(len(HOLIDAYS) + 1)
    for code, lift in HOLIDAYS.values():
        effect[code] = lift
    holiday = effect[cal["holiday"]]
    closed = cal["holiday"] == HOLIDAYS["christmas"][0]  # closure hits every item alike

    log_mu = (
        (item_level[item] + store_level[store])[:, None]
        + trend[:, None] * years
        + item_week[item][:, None] * store_week[store][:, cal["dayofweek"]]
        + item_sin[item][:, None] * np.sin(angle)
        + item_cos[item][:, None] * np.cos(angle)
        + item_december[item][:, None] * december
        + np.where(closed, holiday, item_holiday[item][:, None] * holiday)
        + item_promo[item][:, None] * promo
        + wander
    )
    shape = item_dispersion[item][:, None]
    mu = np.exp(log_mu) * rng.gamma(shape, 1.0 / shape, size=log_mu.shape)  # day-to-day noise
    sales = rng.poisson(mu).astype(np.int32)

    return pd.DataFrame(
        {
            "series": np.repeat(series, days).astype(np.int32),
            "store": np.repeat(store, days).astype(np.int16),
            "item": np.repeat(item, days).astype(np.int32),
            "date": np.tile(dates, size),
            "promo": promo.reshape(-1).astype(np.int8),
            "sales": sales.reshape(-1),
        }
    )


def generate(size: int, seed: int, params: Mapping[str, Any]) -> Split:
    """Raw split: history rows (with sales) to learn from, horizon rows (without) to forecast."""
    _, horizon = _check(size, params)
    frame = simulate(size, seed, params)
    in_horizon = (frame["date"] > LAST_DAY - horizon).to_numpy()
    history = frame[~in_horizon].reset_index(drop=True)
    future = frame[in_horizon].reset_index(drop=True)
    y_test = future.pop("sales").to_numpy(dtype=np.float32)
    return Split(history, history["sales"].to_numpy(dtype=np.float32), future, y_test)


# --- features -------------------------------------------------------------------------


def _first_lag(horizon: int) -> int:
    """Shortest lag usable for every horizon day, rounded up to whole weeks (same weekday)."""
    return 7 * -(-horizon // 7)


def _lookback(horizon: int) -> int:
    """How far back the features reach; training rows need this much history."""
    return max(YEAR + 3, _first_lag(horizon) + 90)


def features(split: Split, params: Mapping[str, Any], xp: ModuleType = np) -> Split:
    """Lag, rolling-mean, calendar and promotion features for history and horizon rows.

    Everything is read from a (series, day) grid of the history's sales, so no
    horizon sales can reach a feature. Two kinds of look-back:

    * fixed lags >= horizon (same weekday 4-7 weeks back, 52 weeks back) and
      rolling means over windows that end at the first such lag;
    * "as of the forecast origin": history is cut into horizon-long blocks ending
      where the real horizon starts; a day in a block sees the block's origin as
      "now" (the last observed week, the last 7/28 days' mean, the step ahead),
      exactly as a horizon day sees the end of the history. The seasonal-naive
      forecast is the ``last_week`` column.

    Training rows whose look-backs reach before the first day are dropped.

    The grid and every per-row feature are built with the array module ``xp``: NumPy gives
    named float32 frames; CuPy builds them on the GPU (after copying the raw integer
    columns it reads) and gives float32 matrices in the same column order. Only the
    per-day calendar (one entry per distinct date) is computed on the host.
    """
    horizon = int(params["horizon"])
    history, future = split.X_train, split.X_test
    start = history["date"].to_numpy().astype("datetime64[D]").min()
    origin = future["date"].to_numpy().astype("datetime64[D]").min()  # first horizon day
    n_days = int((origin - start).astype(np.int64))
    n_series = int(max(history["series"].max(), future["series"].max())) + 1

    # The sales grid (NaN where a day is missing) and its running sum, for O(1) window means.
    day = xp.asarray(_day_index(history, start))
    sales = xp.asarray(history["sales"].to_numpy())
    grid = xp.full((n_series, n_days), xp.nan)
    grid[xp.asarray(history["series"].to_numpy()), day] = sales
    cumulative = xp.zeros((n_series, n_days + 1))
    cumulative[:, 1:] = xp.cumsum(grid, axis=1)

    names, train = _feature_matrix(history, grid, cumulative, start, n_days, horizon, xp)
    keep = (day >= _lookback(horizon)) & ~xp.isnan(train).any(axis=1)
    X_train, y_train = train[keep], sales[keep].astype(xp.float32)
    _, X_test = _feature_matrix(future, grid, cumulative, start, n_days, horizon, xp)
    if xp is np:
        X_train, X_test = pd.DataFrame(X_train, columns=names), pd.DataFrame(X_test, columns=names)
    return Split(X_train, y_train, X_test, split.y_test)


def _day_index(frame: pd.DataFrame, start: np.datetime64) -> np.ndarray:
    return (frame["date"].to_numpy().astype("datetime64[D]") - start).astype(np.int64)


def _feature_matrix(
    rows: pd.DataFrame, grid: Any, cumulative: Any, start: np.datetime64, n_days: int, horizon: int, xp: ModuleType
) -> tuple[list[str], Any]:
    """Feature names and a (rows, features) float32 matrix of module ``xp``."""
    s = xp.asarray(rows["series"].to_numpy())
    days_of_rows = _day_index(rows, start)  # on the host: its range is read here, not back from the device
    t = xp.asarray(days_of_rows)

    def value(day: Any) -> Any:
        ok = (day >= 0) & (day < n_days)
        return xp.where(ok, grid[s, xp.clip(day, 0, n_days - 1)], xp.nan)

    def mean(end: Any, width: int) -> Any:  # mean of days (end - width, end]
        lo, hi = end - width + 1, end + 1
        ok = (lo >= 0) & (hi <= n_days)
        total = cumulative[s, xp.clip(hi, 0, n_days)] - cumulative[s, xp.clip(lo, 0, n_days)]
        return xp.where(ok, total / width, xp.nan)

    # Calendar columns come from a per-day table (one entry per distinct day, not per row).
    first, last = int(days_of_rows.min()), int(days_of_rows.max())
    days = start + np.arange(first, last + 1)
    cal = _calendar(days)
    since = t - first
    columns: dict[str, Any] = {
        "series": s,
        "store": xp.asarray(rows["store"].to_numpy()),
        "item": xp.asarray(rows["item"].to_numpy()),
        "promo": xp.asarray(rows["promo"].to_numpy()),
    }
    columns.update({name: xp.asarray(col)[since] for name, col in cal.items()})

    # As of the origin of the day's horizon-long block (the real origin for horizon days).
    origin = n_days + horizon * xp.floor_divide(t - n_days, horizon)
    step = t - origin
    columns["step"] = step
    columns["last_week"] = value(origin - 7 + step % 7)
    columns["mean_last_7"] = mean(origin - 1, 7)
    columns["mean_last_28"] = mean(origin - 1, 28)

    # Fixed lags, all at least the horizon.
    lag = _first_lag(horizon)
    for k in (lag, lag + 7, lag + 14, lag + 21):
        columns[f"lag_{k}"] = value(t - k)
    for width in (7, 28, 91):
        columns[f"mean_{width}_lag_{lag}"] = mean(t - lag, width)
    columns[f"lag_{YEAR}"] = value(t - YEAR)
    columns[f"mean_7_around_lag_{YEAR}"] = mean(t - YEAR + 3, 7)
    # The same calendar date a year ago (365 or 366 days back): fixed-date holidays
    # fall on another weekday every year, so the weekday-aligned yearly lag misses them.
    index = pd.DatetimeIndex(days)
    back = (index - (index - pd.DateOffset(years=1))).days.to_numpy()
    columns["same_date_last_year"] = value(t - xp.asarray(back)[since])
    matrix = xp.empty((len(t), len(columns)), dtype=xp.float32)
    for j, col in enumerate(columns.values()):
        matrix[:, j] = col
    return list(columns), matrix


# --- quality --------------------------------------------------------------------------


def score(y_true: Any, y_pred: Any) -> dict[str, float]:
    """WAPE (total absolute error / total sales) and sMAPE (mean over rows, 0/0 counts as 0)."""
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    error = np.abs(y_true - y_pred)
    total = np.abs(y_true).sum()
    wape = error.sum() / total if total > 0 else (0.0 if error.sum() == 0 else float("inf"))
    scale = np.abs(y_true) + np.abs(y_pred)
    smape = np.divide(2.0 * error, scale, out=np.zeros_like(error), where=scale > 0)
    return {"wape": float(wape), "smape": float(smape.mean()) if smape.size else 0.0}


# --- models ---------------------------------------------------------------------------


def xgboost(ctx: ModelContext) -> Any:
    from xgboost import XGBRegressor

    # Log link: the calendar, promotion and level effects are multiplicative; counts'
    # variance grows with their mean. Beats squared error by ~0.01 WAPE here.
    return XGBRegressor(**tabular.xgboost_params(ctx), objective="reg:tweedie")


class SeasonalNaive:
    """Repeats the last observed week: reads the ``last_week`` feature, learns nothing."""

    def fit(self, X: Any, y: Any) -> SeasonalNaive:
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return X["last_week"].to_numpy(dtype=np.float32)


def seasonal_naive(ctx: ModelContext) -> SeasonalNaive:
    return SeasonalNaive()


MODELS = (
    Model("xgboost", ("xgboost", "xgboost-cuda"), xgboost, "global XGBoost hist (Tweedie) on lag/calendar features"),
    Model("seasonal_naive", ("sklearn",), seasonal_naive, "repeat the last observed week"),
    Model("xgboost_spark", ("spark",), partial(sparkml.xgboost, objective="reg:tweedie"),
          "the same XGBoost (Tweedie) on Spark (xgboost.spark)"),
)

WORKLOADS = (
    Workload(
        name="forecasting",
        family="forecasting",
        description="daily supermarket sales per store x item, forecast the last 28 days (Thanksgiving incl.)",
        generate=generate,
        models=MODELS,
        score=score,
        metric="wape",
        higher_is_better=False,
        params={"days": 1095, "horizon": 28, "stores": 10, "trees": 200},
        size_unit="series",
        sizes=(300, 1_200, 4_800, 19_200),
        features=features,
        target=Target("wape", 0.50, higher_is_better=False),
    ),
)
