"""The prediction check, kept alive at small sizes: measure a short sweep on this machine, fit it,
and predict a size 4x past the largest fitted one, which is then measured too. A broken fit
(or a broken path from records to fits) fails here, not in someone's sizing decision."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from harness import records
from harness.analysis import backtest, frame, predict
from harness.analysis.compute import analyse
from harness.records import Case, RunResult
from harness.run.runner import Limits, run_case
from tests.conftest import needs_quiet

# Past the sizes where XGBoost's fixed costs dominate (below ~16,000 rows here the time barely grows,
# and no fit of that region says much about 4x beyond it). About 25 s on a 2-core machine.
SIZES = (16000, 32000, 64000, 128000)
MEMORY_TOLERANCE = 0.40
# A prediction 2x off lies outside any interval around it narrower than 4x (hi/lo); a clean sweep here gives
# about 3x at 4x past it (2.95 here, 3.1 on CI). One whose last step grew too little to have left its fixed
# costs (backtest.past_fixed_costs; 1 sweep in 3 here, both attempts once on CI) gets what backtests of its kind
# give, 4.6x: no wider than that, or the prediction was not calibrated at 4x as it should be.
WIDEST = 4.0


@pytest.mark.quiet
@pytest.mark.e2e
def test_a_fit_of_a_measured_sweep_predicts_the_size_4x_past_it(tmp_path: Path) -> None:
    needs_quiet()
    limits = Limits(repeats=3, timeout_s=120, memory_cap_bytes=4 * 2**30, sample_hz=0, rerun_disturbed=2)

    def measured(sizes: tuple[int, ...], name: str) -> list[frame.Loaded]:
        done = [run_case(Case("regression", "xgboost", "xgboost", n, 1, {"trees": 20}), limits) for n in sizes]
        assert all(r.status == "ok" for r in done), [r.reason for r in done]
        run = RunResult(name, "", "check", {}, [r.case for r in done], {"id": "here"}, "0", cases=done)
        records.save(tmp_path / f"{name}.json", run)
        return frame.load([str(tmp_path / f"{name}.json")])

    # What sizeup promises at 4x is its interval, not its point: on a shared CI machine a slowed sweep put the
    # point 45% over the measurement, inside an interval 3.1x wide. A broken fit, or a broken path from records
    # to fits, misses its interval or widens it past WIDEST (predicting for twice the size asked: 5.0x). A second
    # measurement tells a case slowed for seconds from a broken fit.
    misses = []
    for attempt in range(2):
        fitted = analyse(measured(SIZES, f"sweep{attempt}")).machines[0]
        (check,) = predict.checks(fitted, frame.rows(measured((4 * SIZES[-1],), f"at4x{attempt}")))
        assert check.beyond == 4
        assert check.memory_error is not None and abs(check.memory_error) < MEMORY_TOLERANCE
        settled = backtest.past_fixed_costs(fitted.sizes[0].time)
        widest = max(WIDEST, math.exp(2 * fitted.calibration.half_width("time", 4.0, settled)) * 1.001)
        if check.predicted.lo <= check.measured <= check.predicted.hi <= widest * check.predicted.lo:
            return
        misses.append((check.predicted, check.measured, widest))
    pytest.fail(f"measured at 4x, twice outside the predicted interval or in one wider than its kind's: {misses}")
