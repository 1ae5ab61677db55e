"""The forecasting workload: deterministic data, leak-free features, honest models, sane scores."""

from __future__ import annotations

import types

import numpy as np
import pandas as pd
import pytest

from workloads import catalogue
from workloads import forecasting as fc
from workloads.base import ModelContext, Split

SIZE = 40  # series; small enough to keep the whole file fast
PARAMS = dict(fc.WORKLOADS[0].params)
HORIZON = PARAMS["horizon"]


def _digest(split: Split) -> bytes:
    parts = [pd.util.hash_pandas_object(split.X_train, index=True).to_numpy().tobytes()]
    parts.append(pd.util.hash_pandas_object(split.X_test, index=True).to_numpy().tobytes())
    parts += [np.asarray(split.y_train).tobytes(), np.asarray(split.y_test).tobytes()]
    return b"".join(parts)


@pytest.fixture(scope="module")
def raw() -> Split:
    return fc.generate(SIZE, 0, PARAMS)


@pytest.fixture(scope="module")
def featured(raw: Split) -> Split:
    return fc.features(raw, PARAMS)


def test_registered() -> None:
    w = catalogue()["forecasting"]
    assert w.family == "forecasting" and w.metric == "wape" and not w.higher_is_better
    assert w.size_unit == "series" and w.features is fc.features
    assert {m.name: m.backends for m in w.models} == {"xgboost": ("xgboost", "xgboost-cuda"),
                                                     "seasonal_naive": ("sklearn",), "xgboost_spark": ("spark",)}
    assert len(w.sizes) >= 3
    assert all(2 <= b / a <= 4 for a, b in zip(w.sizes, w.sizes[1:]))
    assert w.target is not None and w.target.metric == "wape" and not w.target.higher_is_better


def test_generate_is_deterministic(raw: Split) -> None:
    assert _digest(fc.generate(SIZE, 0, PARAMS)) == _digest(raw)
    assert _digest(fc.generate(SIZE, 1, PARAMS)) != _digest(raw)


def test_generate_shape(raw: Split) -> None:
    days = PARAMS["days"]
    assert len(raw.X_train) == len(raw.y_train) == SIZE * (days - HORIZON)
    assert len(raw.X_test) == len(raw.y_test) == SIZE * HORIZON
    assert "sales" not in raw.X_test.columns  # the horizon's promotions are known, its sales are not
    assert raw.X_train["series"].nunique() == raw.X_test["series"].nunique() == SIZE
    assert raw.X_train["date"].max() < raw.X_test["date"].min()
    for y in (raw.y_train, raw.y_test):
        assert y.min() >= 0 and np.array_equal(y, np.round(y))  # counts
    np.testing.assert_array_equal(raw.X_train["sales"].to_numpy(), raw.y_train)
    assert 0.0 < raw.X_train["promo"].mean() < 0.5
    seen = set(np.unique(fc.holiday_codes(raw.X_train["date"].to_numpy())))
    assert seen == {0} | {code for code, _ in fc.HOLIDAYS.values()}


def test_holiday_calendar() -> None:
    days = ["2024-11-27", "2024-11-28", "2024-11-29", "2023-11-23", "2024-12-25", "2024-12-26"]
    dates = np.array(days, dtype="datetime64[D]")
    code = {name: c for name, (c, _) in fc.HOLIDAYS.items()}
    expected = [code["thanksgiving_eve"], code["thanksgiving"], 0, code["thanksgiving"], code["christmas"], 0]
    assert fc.holiday_codes(dates).tolist() == expected


def test_bad_params() -> None:
    with pytest.raises(ValueError):
        fc.generate(SIZE, 0, {**PARAMS, "days": 400})
    with pytest.raises(ValueError):
        fc.generate(0, 0, PARAMS)


def test_features_are_deterministic_and_complete(raw: Split, featured: Split) -> None:
    assert _digest(fc.features(raw, PARAMS)) == _digest(featured)
    n_per_series = PARAMS["days"] - HORIZON - fc._lookback(HORIZON)
    assert len(featured.X_train) == len(featured.y_train) == SIZE * n_per_series
    assert len(featured.X_test) == SIZE * HORIZON
    np.testing.assert_array_equal(featured.y_test, raw.y_test)
    assert list(featured.X_train.columns) == list(featured.X_test.columns)
    assert not featured.X_train.isna().any().any()
    assert not featured.X_test.isna().any().any()
    lags = [int(c.split("_")[-1]) for c in featured.X_train.columns if c.startswith("lag_")]
    assert {28, 35, 364} <= set(lags) and min(lags) >= HORIZON


def test_features_are_written_once_for_any_array_module(raw: Split, featured: Split) -> None:
    """The path CuPy takes (matrices, no names), run here on a stand-in module that is not numpy itself."""
    stand_in = types.ModuleType("numpy_stand_in")
    stand_in.__dict__.update(vars(np))
    matrices = fc.features(raw, PARAMS, stand_in)
    assert isinstance(matrices.X_train, np.ndarray) and matrices.X_train.dtype == np.float32
    np.testing.assert_array_equal(matrices.X_train, featured.X_train.to_numpy())
    np.testing.assert_array_equal(matrices.X_test, featured.X_test.to_numpy())
    np.testing.assert_array_equal(matrices.y_train, featured.y_train)


@pytest.mark.gpu
def test_features_on_cupy_match_numpy(raw: Split, featured: Split) -> None:
    cupy = pytest.importorskip("cupy")
    on_gpu = fc.features(raw, PARAMS, cupy)
    assert isinstance(on_gpu.X_train, cupy.ndarray)
    np.testing.assert_allclose(cupy.asnumpy(on_gpu.X_train), featured.X_train.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(cupy.asnumpy(on_gpu.X_test), featured.X_test.to_numpy(), rtol=1e-6)


def test_test_features_match_history(raw: Split, featured: Split) -> None:
    # Lags of horizon rows are history values: look them up by (series, date).
    history = raw.X_train.set_index(["series", "date"])["sales"]
    dates = raw.X_test["date"]
    for lag in (28, 364):
        expected = history.loc[list(zip(raw.X_test["series"], dates - pd.Timedelta(days=lag)))].to_numpy()
        np.testing.assert_array_equal(featured.X_test[f"lag_{lag}"].to_numpy(), expected)
    # Seasonal naive: the same weekday in the last observed week, i.e. 7, 14, 21 or 28 days back.
    back = 7 * (1 + featured.X_test["step"].to_numpy().astype(int) // 7)
    expected = history.loc[list(zip(raw.X_test["series"], dates - pd.to_timedelta(back, unit="D")))].to_numpy()
    np.testing.assert_array_equal(featured.X_test["last_week"].to_numpy(), expected)


def test_no_leakage_training_rows_built_like_horizon_rows(raw: Split, featured: Split) -> None:
    # Move the forecast origin one horizon earlier: the history's last block becomes the
    # "horizon". Its features must equal the full run's training rows for that block, so a
    # training row sees exactly what a horizon row would (nothing from its own block on).
    history = raw.X_train
    cutoff = history["date"].max() - pd.Timedelta(days=HORIZON - 1)
    early = history["date"] < cutoff
    block = history[~early].reset_index(drop=True)
    y_block = block.pop("sales").to_numpy(dtype=np.float32)
    before = Split(history[early].reset_index(drop=True), raw.y_train[early.to_numpy()], block, y_block)
    shifted = fc.features(before, PARAMS)

    n_cols = featured.X_train.shape[1]
    full = featured.X_train.to_numpy().reshape(SIZE, -1, n_cols)[:, -HORIZON:]
    np.testing.assert_array_equal(shifted.X_test.to_numpy().reshape(SIZE, HORIZON, n_cols), full)
    np.testing.assert_array_equal(featured.y_train.reshape(SIZE, -1)[:, -HORIZON:].reshape(-1), y_block)


def test_horizon_sales_do_not_reach_features(raw: Split, featured: Split) -> None:
    scrambled = Split(raw.X_train, raw.y_train, raw.X_test, np.full_like(raw.y_test, 1e6))
    again = fc.features(scrambled, PARAMS)
    pd.testing.assert_frame_equal(again.X_test, featured.X_test)
    pd.testing.assert_frame_equal(again.X_train, featured.X_train)


def _fit_score(name: str, split: Split) -> dict[str, float]:
    w = fc.WORKLOADS[0]
    # One thread: OpenMP's spin-waiting makes 2 threads crawl when other jobs share the cores.
    est = w.model(name).build(ModelContext(threads=1, seed=0, device="cpu", params=w.params))
    est.fit(split.X_train, split.y_train)
    return w.score(split.y_test, est.predict(split.X_test))


def test_xgboost_beats_baselines() -> None:
    pytest.importorskip("xgboost")
    w = fc.WORKLOADS[0]
    split = fc.features(fc.generate(100, 0, w.params), w.params)
    xgb = _fit_score("xgboost", split)
    naive = _fit_score("seasonal_naive", split)
    mean = w.score(split.y_test, np.full(len(split.y_test), split.y_train.mean()))
    assert xgb["wape"] < 0.85 * naive["wape"]
    assert xgb["wape"] < 0.75 * mean["wape"]
    assert xgb["smape"] < naive["smape"]
    assert w.target.met(xgb["wape"]) and not w.target.met(mean["wape"])


def test_seasonal_naive_fit_is_a_no_op(featured: Split) -> None:
    est = fc.seasonal_naive(ModelContext(threads=1, seed=0, device="cpu", params=PARAMS))
    assert est.fit(None, None) is est
    np.testing.assert_array_equal(est.predict(featured.X_test), featured.X_test["last_week"].to_numpy())


def test_score() -> None:
    y = np.array([3.0, 0.0, 5.0, 2.0])
    assert fc.score(y, y) == {"wape": 0.0, "smape": 0.0}
    assert fc.score(np.zeros(3), np.zeros(3)) == {"wape": 0.0, "smape": 0.0}  # 0/0 counts as 0
    zeros = fc.score(np.zeros(2), np.array([1.0, 0.0]))
    assert zeros["wape"] == np.inf and zeros["smape"] == pytest.approx(1.0)  # (2 + 0) / 2
    s = fc.score(np.array([1.0, 0.0, 4.0]), np.array([3.0, 0.0, 4.0]))
    assert s["wape"] == pytest.approx(2.0 / 5.0)
    assert s["smape"] == pytest.approx((2 * 2 / 4) / 3)
    assert set(fc.score([1, 2], [2, 1])) == {"wape", "smape"}
