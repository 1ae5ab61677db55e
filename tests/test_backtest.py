"""Backtests and the calibration they give: which backtests a fit yields, the conformal interval, the levels
and the promise each keeps, and the shipped references' backtests as `fit --backtest` computes them."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from harness.analysis import backtest, scaling
from harness.analysis.backtest import Backtest, Calibration

SIZES = [1e3, 2e3, 4e3, 8e3, 16e3, 32e3]


def test_a_fit_is_backtested_on_every_prefix_and_without_each_inner_size() -> None:
    samples = [[0.2 + 1e-4 * n] * 3 for n in SIZES]
    time = scaling.fit_time(SIZES, samples)
    memory = scaling.fit_memory(SIZES, [1e8 + 100 * n for n in SIZES])
    found = backtest.of_fit("run", "w/m@b/n=*/t=2", time, memory)
    times = [b for b in found if b.quantity == "time"]
    # Prefixes of 3, 4 and 5 sizes predict the 3, 2 and 1 sizes past them; four inner sizes are left out once each.
    assert sorted((b.fitted, b.size) for b in times if b.beyond > 1) == [
        (3, 8e3), (3, 16e3), (3, 32e3), (4, 16e3), (4, 32e3), (5, 32e3)]
    assert sorted(b.size for b in times if b.beyond < 1) == SIZES[1:-1]
    assert len([b for b in found if b.quantity == "memory"]) == (4 + 3 + 2 + 1) + 4
    # An exact fixed cost plus linear: every prediction is right (the blend of two exact curves is exact).
    assert max(abs(b.error) for b in found) < 1e-3 and all(b.settled for b in times if b.fitted >= 4)


def made(errors: list[float], config: str = "c", beyond: float = 3.0, quantity: str = "time") -> list[Backtest]:
    return [Backtest("run", f"{config}{i}" if config == "c" else config, quantity, 3, 1e4, beyond, e, True)
            for i, e in enumerate(errors)]


def test_the_interval_is_the_conformal_quantile_of_the_errors_of_its_kind() -> None:
    errors = [0.01 * (i + 1) for i in range(20)]  # 0.01 .. 0.20
    cal = Calibration(tuple(made(errors)))
    # m = 20: the ceil(0.95 * 21) = 20th smallest absolute error.
    assert cal.half_width("time", 3.0, True) == pytest.approx(0.20)
    pred = scaling.Prediction(10.0, 9.5, 10.5, 3.0)
    widened, calibrated = cal.interval("time", pred, True)
    assert calibrated and (widened.lo, widened.hi) == pytest.approx((10 * math.exp(-0.2), 10 * math.exp(0.2)))
    # Too few of its kind (18 < 19): no calibrated interval, the fit's own is kept.
    few = Calibration(tuple(made(errors[:18])))
    assert few.half_width("time", 3.0, True) is None and few.interval("time", pred, True) == (pred, False)
    # A nearer band with too few widens to the farther ones, which err more.
    assert cal.half_width("time", 1.5, True) == pytest.approx(0.20)


def test_past_the_farthest_backtest_the_interval_grows_with_the_log_of_the_distance() -> None:
    errors = [0.01 * (i + 1) for i in range(20)]  # 0.01 .. 0.20, at 20x and 40x past the sizes fitted
    cal = Calibration(tuple(made(errors[:10], beyond=20.0) + made(errors[10:], beyond=40.0)))
    assert cal.reach("time") == 40.0
    assert cal.half_width("time", 30.0, True) == pytest.approx(0.20)  # within the reach: as backtested
    assert cal.half_width("time", 1600.0, True) == pytest.approx(0.40)  # log(1600) = 2 log(40)


def test_a_prediction_farther_than_any_backtest_is_low_and_says_so() -> None:
    from harness.analysis import frame, predict
    from harness.analysis.compute import analyse

    fitted = analyse(frame.load(["results/reference/x86-64-2c-24g-4e6360dc-sizing.json"]), "regression").machines[0]
    model = fitted.size_model("regression/xgboost@xgboost/n=*/t=2")
    settled = backtest.past_fixed_costs(model.time)
    reach = fitted.calibration.reach("time")
    near, far = (predict.estimate(fitted, model, max(model.time.sizes) * k) for k in (reach / 2, reach ** 2))
    assert predict.BEYOND_BACKTESTS not in {c.code for c in near.caveats}
    assert predict.BEYOND_BACKTESTS in {c.code for c in far.caveats} and far.level == "low"
    # Twice the log of the distance: the interval's half-width (in log space) doubles, or more where the fit's own
    # interval was wider there.
    half = math.log(far.time.hi / far.time.value)
    assert half >= 2 * fitted.calibration.half_width("time", reach, settled) * 0.999


def test_a_level_is_the_promise_nine_in_ten_backtests_kept() -> None:
    within_10 = [0.1] * 9 + [-0.5]  # 9 of 10 within 15%
    assert Calibration(tuple(made(within_10))).level("time", 3.0, True) == "high"
    within_25 = [0.25] * 9 + [0.5]
    assert Calibration(tuple(made(within_25))).level("time", 3.0, True) == "medium"
    assert Calibration(tuple(made([0.1] * 8 + [0.5, 0.5]))).level("time", 3.0, True) == "low"
    assert Calibration(tuple(made([0.01] * 9))).level("time", 3.0, True) == "low"  # fewer than 10
    # The fit's own backtests hold a good kind down...
    assert Calibration(tuple(made(within_10))).level("time", 3.0, True, made([0.6, -0.5, 0.4], "mine")) == "low"
    # ... and never raise a poor one, however many of them kept a better promise (they come from a few fits of one
    # sweep, whose errors go together).
    assert Calibration(tuple(made([0.6] * 20))).level("time", 3.0, True, made([0.05] * 30, "mine")) == "low"
    assert Calibration(tuple(made(within_25))).level("time", 3.0, True, made([0.05] * 30, "mine")) == "medium"
    # Its own backtests from the fixed-cost region say nothing of a fit past it, nor hold it down.
    unsettled = [replace(b, settled=False) for b in made([0.6, -0.5, 0.4], "mine")]
    assert Calibration(tuple(made(within_10))).level("time", 3.0, True, unsettled) == "high"


def test_no_level_promises_less_error_than_the_fit_misses_its_own_sizes_by() -> None:
    allows = backtest.own_error_allows
    assert [allows("high", math.log(x)) for x in (1.10, 1.20, 1.64)] == ["high", "medium", "low"]
    assert [allows("medium", math.log(x)) for x in (1.10, 1.29, 1.31)] == ["medium", "medium", "low"]
    assert allows("low", 0.0) == "low"
    # Judged as predicted, within the sizes and past them: a kind that keeps "high" gives a fit missing its own
    # sizes by 64% "low".
    for beyond in (0.5, 2.0):
        kind = made([0.1] * 9 + [-0.5], beyond=beyond)
        (held,) = [h for h in backtest.judge([*kind, replace(kind[0], config="mine", loo=math.log(1.64))],
                                             Calibration(tuple(kind))) if h.test.config == "mine"]
        assert held.level == "low"


def test_within_its_sizes_a_fit_is_held_to_what_it_misses_its_inner_sizes_by() -> None:
    """Leaving out the largest size extrapolates (0.65 s from the three below, against 2.0 s measured); the inner
    sizes, each between two others, are what a prediction within the sizes resembles."""
    fit = scaling.fit_time(SIZES[:4], [[x] * 3 for x in (0.5, 0.55, 0.65, 2.0)])
    assert math.expm1(fit.loo_error) > 0.5 and math.expm1(fit.inner_loo) < 0.3
    assert backtest.own_error_allows("medium", fit.inner_loo) == "medium"
    # Backtests carry the same error of their own fit, so that they are judged as predictions are.
    times = (0.5, 0.55, 0.65, 2.0, 4.1)
    found = backtest.of_fit("run", "c", scaling.fit_time(SIZES[:5], [[x] * 3 for x in times]), None)
    prefix = next(b for b in found if b.fitted == 4 and b.beyond > 1)
    assert prefix.loo == pytest.approx(fit.inner_loo)


def test_past_fixed_costs_takes_two_steps_not_one() -> None:
    def fit(times: list[float]) -> scaling.SizeFit:
        return scaling.fit_time(SIZES[:len(times)], [[t] * 3 for t in times])

    # XGBoost from 10,000 to 40,000 rows here: ^0.74 once, then ^0.04.
    assert not backtest.past_fixed_costs(fit([0.37, 0.62, 0.634]))
    assert not backtest.past_fixed_costs(fit([0.37, 0.38, 0.60]))  # only the last step grew
    assert backtest.past_fixed_costs(fit([0.30, 0.37, 0.62, 0.94]))  # ^0.74, then ^0.60


def test_past_fixed_costs_takes_the_two_steps_together_each_at_least_half_the_bar() -> None:
    def fit(times: list[float]) -> scaling.SizeFit:
        return scaling.fit_time(SIZES[:len(times)], [[t] * 3 for t in times])

    # Classification's XGBoost at 80,000 to 320,000 rows in a make bench run: ^0.58, then ^0.47, ^0.53 together.
    grew = fit([1.6, 2.4, 3.32])
    assert grew.step_exponents() == pytest.approx([0.58, 0.47], abs=0.01)
    assert grew.span_exponent(2) == pytest.approx(0.53, abs=0.01) and backtest.past_fixed_costs(grew)
    assert not backtest.past_fixed_costs(fit([1.0, 2.0, 2.2]))  # ^1.00, then ^0.14: ^0.57 together, one step flat
    assert not backtest.past_fixed_costs(fit([1.0, 1.3, 1.7]))  # ^0.38, then ^0.39: each grew, too little
    assert backtest.past_fixed_costs(fit([1.0, 1.0, 1.1, 1.6, 2.9]))  # only the last two steps count
    # A change of regime (time x10 on one step) is no growth of the curve fitted past it: flat there, ^0.26.
    jumped = scaling.fit_time([1000, 2000, 3000, 4000], [[0.1], [1.0], [1.1], [1.2]])
    assert jumped.start == 1 and jumped.span_exponent(2) < backtest.SETTLED
    assert not backtest.past_fixed_costs(jumped)


def test_past_fixed_costs_steps_at_least_2x_so_that_pooled_runs_do_not_zigzag() -> None:
    """Two runs of one linear-time sweep on interleaved grids (5,000 x 2^k and 7,500 x 2^k), the second 25%
    slower: consecutive sizes zigzag (^0.22, then ^1.55), steps of 2x stay within one run and grow as ^1."""
    one = [(5000 * 2**k, 1e-6 * 5000 * 2**k) for k in range(5)]
    two = [(7500 * 2**k, 1.25e-6 * 7500 * 2**k) for k in range(5)]
    n, t = zip(*sorted(one + two))
    fit = scaling.fit_time(n, [[x] * 3 for x in t])
    assert min(fit.local_exponents()[-2:]) < backtest.SETTLED
    assert fit.step_exponents()[-2:] == pytest.approx([1.0, 1.0]) and backtest.past_fixed_costs(fit)
    on_grid = scaling.fit_time([5000, 10000, 20000, 40000], [[0.3], [0.37], [0.62], [0.94]])
    assert on_grid.step_exponents() == pytest.approx(on_grid.local_exponents())  # one x2 sweep: the same steps
    # Sizes spanning fewer than two steps of 2x: consecutive sizes decide, as on any grid (one step is no proof).
    one_step = scaling.fit_time([1000, 2000, 3000], [[1.0], [2.0], [2.1]])
    assert one_step.step_exponents() == pytest.approx(one_step.local_exponents())
    assert not backtest.past_fixed_costs(one_step)  # ^1.00, then ^0.12; 1,000 to 3,000 alone went as ^0.68
    assert backtest.past_fixed_costs(scaling.fit_time([10, 12, 15], [[1.0], [1.2], [1.5]]))


def test_memory_is_backtested_as_it_is_predicted_never_below_a_smaller_size_fitted() -> None:
    """The first size peaked at 300 MB, the others near 100 MB: fitted on the first two, the prediction at the third is
    floored at 300 MB, as harness.analysis.predict floors it."""
    sizes, peaks = (1e4, 2e4, 4e4, 8e4), (3e8, 1e8, 1.2e8, 1.3e8)
    time = scaling.fit_time(sizes, [[1e-5 * n] * 3 for n in sizes])
    found = backtest.of_fit("run", "c", time, scaling.fit_memory(sizes, peaks))
    two = next(b for b in found if b.quantity == "memory" and b.fitted == 2 and b.size == pytest.approx(4e4))
    assert scaling.fit_memory(sizes[:2], peaks[:2])(4e4) < 3e8
    assert two.error == pytest.approx(math.log(3e8 / 1.2e8))


def test_judging_leaves_each_configuration_out_of_its_own_calibration() -> None:
    # One configuration alone: nothing else calibrates it, so it is judged uncalibrated and low.
    alone = made([0.01] * 30, config="only")
    held = backtest.judge(alone, Calibration(tuple(alone)))
    assert {h.level for h in held} == {"low"} and {h.covered for h in held} == {None}
    # Memory gets an interval, never a level (predictions give memory none).
    memory = made([0.01] * 30, quantity="memory")
    assert {h.level for h in backtest.judge(memory, Calibration(tuple(memory)))} == {None}
    # Thirty configurations of errors within 5%: each judged high on the others, promise and interval held.
    many = made([0.05 * (-1) ** i for i in range(30)])
    held = backtest.judge(many, Calibration(tuple(many)))
    bands, levels = backtest.summarize(held)
    assert [(lv.level, lv.count, lv.kept) for lv in levels] == [("high", 30, 30), ("medium", 0, 0), ("low", 0, 0)]
    assert [(b.band, b.count, b.covered, b.low) for b in bands] == [("4x", 30, 30, 15)]


def test_a_backtest_is_judged_only_on_what_its_own_fit_could_know() -> None:
    """A prefix fit of sizes up to 4,000 predicting 16,000 may learn from its sweep's earlier backtests that
    predicted 4,000 or less from fewer sizes; never from those that predicted past 4,000, or from a fit that
    left out an inner size (it was fitted on every other size, 16,000 among them)."""
    def bt(fitted: int, largest: float, beyond: float) -> Backtest:
        return Backtest("run", "c", "time", fitted, largest, beyond, 0.0, True)

    b = bt(3, 4e3, 4.0)  # predicts 16,000
    assert backtest._available(bt(2, 2e3, 2.0), b)  # predicted 4,000 from up to 2,000
    assert not backtest._available(bt(3, 4e3, 2.0), b)  # predicted 8,000: past what b's fit had
    assert not backtest._available(bt(4, 8e3, 0.5), b)  # left 4,000 out, fitted on 8,000 too
    assert not backtest._available(b, b)


def test_backtests_read_back_as_written(tmp_path) -> None:
    found = made([0.1, -0.2]) + made([0.05], quantity="memory", beyond=0.5)
    backtest.write(found, tmp_path / "b.csv")
    back = backtest.read(tmp_path / "b.csv")
    assert [(b.config, b.quantity, b.beyond, b.settled) for b in back] == [
        (b.config, b.quantity, b.beyond, b.settled) for b in found]
    found = [replace(b, loo=0.25) for b in found]
    backtest.write(found, tmp_path / "b.csv")
    assert [b.loo for b in backtest.read(tmp_path / "b.csv")] == [0.25] * 3
    assert np.allclose([b.error for b in back], [b.error for b in found])
    assert backtest.read(tmp_path / "missing.csv") == []


def test_the_shipped_backtests_are_those_of_the_committed_references(tmp_path) -> None:
    """harness/analysis/data/backtests.csv must be what `fit --backtest results/reference --csv` writes today."""
    from harness import cli

    out = tmp_path / "now.csv"
    assert cli.main(["fit", "--backtest", "results/reference", "--csv", str(out)]) == 0
    now, shipped = backtest.read(out), backtest.read()
    assert [(b.source, b.config, b.quantity, b.fitted, b.settled) for b in now] == [
        (b.source, b.config, b.quantity, b.fitted, b.settled) for b in shipped]
    # The same to the last digits kept (another platform's libraries may round a fit differently).
    assert np.allclose([b.error for b in now], [b.error for b in shipped], atol=1e-4)
    assert np.allclose([b.beyond for b in now], [b.beyond for b in shipped], rtol=1e-5)
    assert np.allclose([b.loo for b in now], [b.loo for b in shipped], atol=1e-4)


def test_the_scatter_of_measurements_about_their_own_curve_is_the_noise_put_in(capsys) -> None:
    """What no prediction can beat: the measured times' distance from the curve fitted to all of them."""
    from harness import cli

    sizes = [5000 * 2**k for k in range(6)]
    truth = [0.3 + 1e-5 * n for n in sizes]
    exact = scaling.fit_time(sizes, [[t] for t in truth])
    noisy = scaling.fit_time(sizes, [[t * (1.1 if k % 2 else 1 / 1.1)] for k, t in enumerate(truth)])
    assert backtest.scatter([exact]) < 0.001 and 0.06 < backtest.scatter([noisy]) < 0.11
    assert backtest.scatter([scaling.fit_time(sizes[:3], [[t] for t in truth[:3]])]) is None  # none backtested
    # Sizes below a change of regime are none of the curve's (scaling.regime_start): they are not its scatter
    jump = scaling.fit_time([125 * 2**k for k in range(9)], [[t] for t in (0.01, 0.0105, 0.011, 0.0115, 0.012,
                                                                           0.4, 0.8, 1.6, 3.2)])
    assert jump.start == 5 and backtest.scatter([jump]) < 0.001
    assert cli.main(["fit", "--backtest", "results/reference/x86-64-2c-24g-a9b1bd19-memory.json"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "sit a median" in out and "from the curve fitted to all of their configuration's sizes" in out


def test_backtests_written_to_a_folder_or_nowhere_are_refused_in_one_line(tmp_path, capsys) -> None:
    from harness import cli
    from tests import builders
    from tests.test_recommend import sweep

    path = builders.write(tmp_path / "r.json", sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250))
    assert cli.main(["fit", path, "--backtest", "--csv", str(tmp_path)]) == cli.EXIT_USAGE
    assert cli.main(["fit", path, "--backtest", "--csv", str(tmp_path / "no" / "b.csv")]) == cli.EXIT_USAGE
    assert cli.main(["fit", path, "--csv", str(tmp_path / "b.csv")]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "Traceback" not in err and sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_the_calibration_table_says_so_where_no_time_was_backtested() -> None:
    from rich.console import Console

    from harness.present import calibration
    from harness.present.fit import render_backtest

    memory = made([0.001, 0.0012], quantity="memory", beyond=0.5)
    held = backtest.judge(memory, Calibration(tuple(memory)))
    text = calibration.markdown(held)
    assert "No time was backtested here" in text and "| high |" not in text and "| memory | within | 2 |" in text
    console = Console(width=200, record=True)  # fit --backtest alike: no table of levels with nothing in it
    console.print(render_backtest(held))
    printed = console.export_text()
    assert "No time was backtested here" in printed and "promise held" not in printed


def test_the_shipped_backtests_of_a_run_count_once_and_all_of_its_other_configurations_stay() -> None:
    a, b = made([0.1] * 3, config="a"), made([0.2] * 4, config="b")
    on_a = [replace(x, source="r1") for x in a]
    shipped = [replace(x, source="r1+r2") for x in a + b] + [replace(x, source="r3") for x in a]
    # Configuration a measured here in run r1: its shipped backtests of r1+r2 are not counted again; those of
    # another run (r3), and of configuration b of the same run, are.
    kept = backtest.calibration(on_a, shipped).backtests
    assert sorted((x.config, x.source) for x in kept) == sorted(
        [("a", "r1")] * 3 + [("b", "r1+r2")] * 4 + [("a", "r3")] * 3)


def test_a_workload_analysed_alone_is_calibrated_on_all_of_its_machines_fits(tmp_path) -> None:
    """A run of this machine ships no backtests: recommend --workload had calibrated on its workload's fits alone,
    and given another level than the summary to the same prediction."""
    from harness.analysis import frame
    from harness.analysis.compute import analyse
    from harness.records import Case
    from tests import builders

    cases = [builders.record(Case(workload, "m", "numpy", int(n), 2), builders.times(1e-5 * n ** grows, 3, 0.1, i))
             for workload, grows in (("classification", 1.0), ("regression", 1.3)) for i, n in enumerate(SIZES)]
    loaded = frame.load([builders.write(tmp_path / "r.json", cases)])
    (whole,), (part,) = analyse(loaded).machines, analyse(loaded, "classification").machines
    assert {b.config for b in whole.backtests} == {b.config for b in whole.calibration.backtests} - {
        b.config for b in backtest.read()}  # both workloads' fits, shipped or not
    assert Counter(part.calibration.backtests) == Counter(whole.calibration.backtests)


@pytest.fixture(scope="module")
def references():
    """The references loaded and analysed whole, once for the tests that read them."""
    from harness.analysis import frame
    from harness.analysis.compute import analyse

    loaded = frame.load(["results/reference"])
    return loaded, analyse(loaded)


def test_a_prediction_is_calibrated_alike_whichever_workloads_of_its_runs_are_analysed(references) -> None:
    """recommend --workload analyses one workload: its intervals and levels are those fit gives over them all."""
    from harness.analysis import predict
    from harness.analysis.compute import analyse

    loaded, whole = references
    for workload in ("forecasting", "nlp"):
        part = analyse(loaded, workload)
        for fitted in part.machines:
            everything = next(m for m in whole.machines if m.machine == fitted.machine)
            for model in fitted.sizes:
                size = 2 * max(model.time.sizes)
                one, other = predict.estimate(fitted, model, size), predict.estimate(everything,
                                                                                    everything.size_model(model.config),
                                                                                    size)
                assert one.level == other.level, model.config
                assert (one.time.lo, one.time.hi) == pytest.approx((other.time.lo, other.time.hi)), model.config
                assert (one.memory.lo, one.memory.hi) == pytest.approx((other.memory.lo, other.memory.hi))


def test_a_level_the_backtests_set_low_or_held_down_says_so(references) -> None:
    """Within the sizes, a fit 9% off its own sizes was 'low' with nothing said: the backtests of its kind had kept
    30% in 238 of 273. Each prediction whose pooled level is low says how they did; each one its own backtests held
    below the pool says how those did."""
    from harness.analysis import predict

    seen = set()
    for fitted in references[1].machines:
        for model in fitted.sizes:
            for size in (2 * max(model.time.sizes),):
                e = predict.estimate(fitted, model, size)
                codes = {c.code for c in e.caveats}
                settled = backtest.past_fixed_costs(model.time)
                beyond = size / max(model.time.sizes)
                mine = [b for b in fitted.backtests if b.config == model.config and b.quantity == "time"]
                pooled = fitted.calibration.level("time", beyond, settled)
                held = fitted.calibration.level("time", beyond, settled, mine)
                assert (predict.KIND_SHORT in codes) == (pooled == "low"), (model.config, size)
                assert (predict.OWN_BACKTESTS in codes) == (pooled != "low" and held != pooled), (model.config, size)
                seen |= codes
    assert {predict.KIND_SHORT, predict.OWN_BACKTESTS} <= seen
