"""One prediction per option: `fit --target --cores`, `recommend` and the summary (`report`, `run --data`) give
one time for one configuration on one VM, from the size fit at the thread count nearest its vCPUs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import cli
from harness.analysis import frame, predict
from harness.analysis.compute import analyse
from harness.records import Case
from harness.sizing import catalog
from harness.sizing import findings as f
from harness.sizing.options import cpu_options
from harness.sizing.recommend import SCALE
from harness.sizing.recommend import summary
from tests import builders
from tests.test_recommend import SIZES, sweep

TARGET = 3_200_000


def grid(tmp_path: Path) -> str:
    """XGBoost at 1 and 2 threads over four sizes: T = 0.5 + n (2e-6 + 8e-6 / p)."""
    cases = [r for p in (1, 2) for r in sweep("xgboost", "xgboost", lambda n, p=p: 0.5 + n * (2e-6 + 8e-6 / p), 250,
                                                threads=p)]
    return builders.write(tmp_path / "grid.json", cases)


def test_the_three_commands_give_one_time_for_one_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = grid(tmp_path)
    analysis = analyse(frame.load([path]))
    fitted = analysis.machines[0]
    vms = {vm.name: vm for vm in catalog.load()}
    assert cli.main(["recommend", path, "--workload", "classification", "--rows", str(TARGET), "--json"]) == 0
    options = json.loads(capsys.readouterr().out)["options"]
    two = next(o for o in options if vms[o["vm"]].vcpus == 2)
    assert two["config"].endswith("t=2")  # the 2-vCPU VM is answered by the 2-thread fit, not the 1-thread one
    assert cli.main(["fit", path, "--target", str(TARGET), "--cores", "2"]) == 0
    printed = capsys.readouterr().out
    answer = predict.at_target(fitted, TARGET, 2).answers[0]
    assert answer.time.value == pytest.approx(two["seconds"], rel=1e-9)
    assert f"{two['seconds']:.4g} s" in printed
    # The summary (the report's and `run --data`'s) at its own size: the same estimate for its pick.
    pick = summary(analysis, list(vms.values()))[0].pick
    at = predict.at_target(fitted, SCALE * max(SIZES), vms[pick.vm].vcpus).answers[0]
    assert (pick.seconds, pick.lo, pick.hi, pick.confidence) == (at.time.value, at.time.lo, at.time.hi, at.level)


def test_each_vm_gets_one_option_per_configuration_from_the_nearest_thread_count(tmp_path: Path) -> None:
    analysis = analyse(frame.load([grid(tmp_path)]))
    fitted = analysis.machines[0]
    vms = [vm for vm in catalog.load() if vm.name in ("D2s_v5", "D4s_v5", "D16s_v5")]
    by_vm: dict[str, list[str]] = {}
    for m in fitted.sizes:  # every configuration's options, before ranking keeps one VM each
        for o in cpu_options(m, fitted.rows[fitted.rows["config"] == m.config], TARGET, vms, fitted, []):
            by_vm.setdefault(o.vm, []).append(o.config)
    # The 2-thread fit answers every VM of 2 or more vCPUs; the 1-thread fit none of them.
    assert by_vm == {vm.name: [next(m.config for m in fitted.sizes if m.case.threads == 2)] for vm in vms}
    two = next(m for m in fitted.sizes if m.case.threads == 2)
    on_16 = predict.estimate(fitted, two, TARGET, 16)
    # 16 vCPUs from at most 2 threads: the thread fit is extrapolated 8x, low, its interval reaching both ways.
    assert predict.VCPUS_FAR in [c.code for c in on_16.caveats] and on_16.level == "low"
    on_2 = predict.estimate(fitted, two, TARGET, 2)
    assert on_16.time.lo < on_2.time.lo * on_16.ratio < on_2.time.hi * on_16.ratio < on_16.time.hi
    assert on_16.time.lo >= on_2.time.lo * 2 / 16  # never past perfect scaling


def test_memory_gets_a_calibrated_interval(tmp_path: Path) -> None:
    analysis = analyse(frame.load([grid(tmp_path)]))
    fitted = analysis.machines[0]
    e = predict.estimate(fitted, fitted.sizes[0], TARGET)
    assert e.memory is not None and e.memory.lo < e.memory.value < e.memory.hi
    assert e.memory.value == pytest.approx(200 * 2**20 + 250 * TARGET, rel=0.02)
    assert f.UNCALIBRATED not in [c.code for c in e.caveats]  # the shipped references calibrate 4x


def test_memory_is_never_predicted_below_a_smaller_size_measured(tmp_path: Path) -> None:
    """A peak above the line the others fit (as a noisy one is) stays the least that any larger size can need."""
    peaks = {n: 200 * 2**20 + 250 * n for n in SIZES} | {SIZES[-1]: 2 * (200 * 2**20 + 250 * SIZES[-1])}
    cases = [builders.record(Case("classification", "xgboost", "xgboost", n, 2), [1e-5 * n] * 3, peak=peaks[n])
             for n in SIZES]
    fitted = analyse(frame.load([builders.write(tmp_path / "r.json", cases)])).machines[0]
    at = predict.estimate(fitted, fitted.sizes[0], 1.2 * SIZES[-1]).memory
    assert at is not None and at.lo >= peaks[SIZES[-1]] and at.value >= peaks[SIZES[-1]]
    assert predict.estimate(fitted, fitted.sizes[0], SIZES[1]).memory.lo < peaks[SIZES[-1]]  # below it: not held


def test_without_a_thread_fit_the_interval_reaches_to_perfect_scaling(tmp_path: Path) -> None:
    path = builders.write(tmp_path / "two.json", sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250))
    fitted = analyse(frame.load([path])).machines[0]
    model = fitted.sizes[0]
    on_2 = predict.estimate(fitted, model, TARGET, 2)
    more, fewer = predict.estimate(fitted, model, TARGET, 8), predict.estimate(fitted, model, TARGET, 1)
    # 8 vCPUs: assumed no faster than 2 threads, but up to 4x faster; 1 vCPU: up to 2x slower, no faster.
    assert more.time.value == on_2.time.value and more.time.hi == on_2.time.hi
    assert more.time.lo == pytest.approx(on_2.time.lo / 4) and more.level == "low"
    assert fewer.time.value == pytest.approx(2 * on_2.time.value) and fewer.time.lo == on_2.time.lo
    assert fewer.time.hi == pytest.approx(2 * on_2.time.hi)
    assert {c.code for c in more.caveats} >= {predict.NO_THREAD_FIT}


def test_below_the_smallest_size_measured_is_low_and_no_vcpus_is_refused(tmp_path: Path) -> None:
    fitted = analyse(frame.load([grid(tmp_path)])).machines[0]
    model = fitted.sizes[0]
    below = predict.estimate(fitted, model, min(SIZES) / 100)
    assert below.level == "low" and predict.BELOW_MEASURED in [c.code for c in below.caveats]
    with pytest.raises(ValueError, match="at least one vCPU"):
        predict.estimate(fitted, model, TARGET, 0)


def test_a_size_below_a_change_of_regime_is_low_and_says_where_the_fit_starts(tmp_path: Path) -> None:
    """Below 150,000 rows the fit takes 0.01 s; from 200,000 it grows from 0.9 s: the fit starts at 200,000."""
    cases = sweep("linear", "sklearn", lambda n: 0.01 if n < 150_000 else 0.5 + 2e-6 * n, 250)
    fitted = analyse(frame.load([builders.write(tmp_path / "r.json", cases)])).machines[0]
    model = fitted.sizes[0]
    assert model.time.start == 1
    below = predict.estimate(fitted, model, 150_000)
    assert below.level == "low" and predict.BELOW_REGIME in [c.code for c in below.caveats]
    past = predict.estimate(fitted, model, 1_600_000)
    assert predict.BELOW_REGIME not in [c.code for c in past.caveats]
    assert past.time.value == pytest.approx(0.5 + 2e-6 * 1_600_000, rel=0.05)


def test_a_fit_that_misses_its_own_sizes_promises_no_better_than_it_and_says_so(tmp_path: Path) -> None:
    """Three sizes whose middle one took twice as long: the fit misses its own sizes by far more than 30%."""
    seconds = {SIZES[0]: 0.1, SIZES[1]: 0.4, SIZES[2]: 0.3}
    cases = sweep("xgboost", "xgboost", lambda n: seconds.get(n, 1.0), 250)[:3]
    fitted = analyse(frame.load([builders.write(tmp_path / "r.json", cases)])).machines[0]
    (model,) = fitted.sizes
    at = predict.estimate(fitted, model, SIZES[1])
    assert model.time.loo_error > 0.3 and at.level == "low" and predict.MISSES_OWN in [c.code for c in at.caveats]
