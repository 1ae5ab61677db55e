"""Sizing sweeps grow a case until its curve is known; each case may run in several processes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from harness import records
from harness.analysis import backtest, scaling
from harness.errors import SizeupError
from harness.records import Case, CaseRecord
from harness.run import plan, runner, sweep
from harness.run.sweep import Stop, Sweep, ahead, next_size
from tests import builders

GiB = 2**30


def step(size: int, fit: float, wall: float = 1.0, peak: float = 0.5 * GiB, status: str = "ok") -> CaseRecord:
    return builders.record(Case("classification", "xgboost", "xgboost", size, 2), [fit, fit], peak=peak, wall=wall,
                           status=status)


def steps(sizes: Sequence[int], fits: Sequence[float], walls: Sequence[float] | None = None) -> list[CaseRecord]:
    return [step(n, t, w) for n, t, w in zip(sizes, fits, walls or [1.0] * len(sizes))]


RULE = Sweep(start=1000, budget_s=60, settle=0.1)


def test_a_sweep_starts_doubles_and_stops_for_each_reason_it_states() -> None:
    assert next_size(RULE, [], 16 * GiB, None) == (1000, None)
    # Fixed costs still dominate (exponents 0.2, 0.5, 0.8): keep growing.
    growing = steps([1000, 2000, 4000, 8000], [1.0, 1.15, 1.63, 2.83])
    assert next_size(RULE, growing, 16 * GiB, None) == (16000, None)
    settled = steps([1000, 2000, 4000, 8000, 16000], [1.0, 1.9, 3.7, 7.3, 14.5])
    assert stopped(next_size(RULE, settled, 16 * GiB, None)) == "settled"
    # A plateau in the fixed-cost region (^0.57, then 0.19, 0.18, 0.21: XGBoost from 5,000 rows) is no settling.
    plateau = steps([5000, 10000, 20000, 40000, 80000], [0.378, 0.561, 0.641, 0.724, 0.837])
    assert next_size(RULE, plateau, 16 * GiB, None) == (160000, None)
    slow = steps([1000, 2000, 4000], [1.0, 2.0, 4.0], walls=[10.0, 20.0, 40.0])
    size, stop = next_size(RULE, slow, 16 * GiB, None)
    assert stop.code == "time-budget" and "80 s" in stop.message  # 40 s x 2: the walls grew linearly
    # Fewer than three sizes cannot be fitted: the sweep goes on while each step stays within the budget.
    assert next_size(RULE, slow[:2], 16 * GiB, None) == (4000, None)
    assert stopped(next_size(RULE, steps([1000], [1.0], walls=[61.0]), 16 * GiB, None)) == "time-budget"
    hungry = [step(1000, 1.0, peak=2 * GiB), step(2000, 2.0, peak=4 * GiB)]
    size, stop = next_size(RULE, hungry, 10 * GiB, None)
    assert stop.code == "memory" and "8.0 GiB" in stop.message  # 2 GiB per 1,000 rows, at 4,000
    failed = [step(1000, 1.0), step(2000, 2.0, status="oom")]
    assert stopped(next_size(RULE, failed, 16 * GiB, None)) == "step-failed"
    assert next_size(RULE, steps([1000], [1.0]), 16 * GiB, 1500) == (1500, None)  # the whole data, last
    assert stopped(next_size(RULE, steps([1000, 1500], [1.0, 1.4]), 16 * GiB, 1500)) == "whole-data"
    assert stopped(next_size(RULE, steps([1000], [1.0]), 16 * GiB, 1100)) == "whole-data"
    images = builders.record(Case("vision", "cnn", "torch", 40, 2), [0.1], unit="images")
    assert next_size(RULE, [images], 16 * GiB, 45)[1].message == "the workload has 45 images"  # not rows


def started(record: CaseRecord, wall: float, cpu: float) -> CaseRecord:
    """`record` with its cold run's start-up taking `wall` seconds, `cpu` of them on the CPU."""
    cold, *warm = record.runs
    return replace(record, runs=[replace(cold, phases={**cold.phases, "startup": wall},
                                         cpu_s={**cold.cpu_s, "startup": cpu}), *warm])


def test_a_first_step_counts_without_what_its_start_up_waited() -> None:
    """Vision's first step after a page-cache drop: 34.4 s, 32.5 of them torch's first import on 3.1 s of CPU. The
    sweep ended there with one size; the next process started in 2-3 s."""
    short = Sweep(start=500, budget_s=25, settle=0, past_fixed=0.5)
    cold = started(step(500, 0.4, wall=34.4), wall=32.5, cpu=3.1)
    assert next_size(short, [cold], 16 * GiB, None) == (1000, None)
    assert sweep.predicted_wall([cold], 1000) == pytest.approx(2 * (34.4 - 29.4))
    assert sweep.waited(cold) == pytest.approx(29.4)
    # The growth from the first step to the second is taken without the wait: 5 s, then 10 s.
    assert sweep.predicted_wall([cold, step(1000, 0.8, wall=10.0)], 2000) == pytest.approx(20.0)
    # A wait the next step has too (contention, a device's set-up) is no one-off: only the excess is left out.
    both = [cold, started(step(1000, 0.8, wall=60.0), wall=32.5, cpu=3.1)]
    assert sweep.predicted_wall(both, 2000) == pytest.approx(60.0 * 60.0 / 34.4)
    computing = started(step(500, 0.4, wall=34.4), wall=32.5, cpu=33.0)  # a start-up that computes: a JVM's
    assert sweep.waited(computing) == 0.0 and stopped(next_size(short, [computing], 16 * GiB, None)) == "time-budget"
    # Only the first step reads the libraries from disk: a later step counts whole.
    later = started(step(1000, 0.8, wall=34.4), wall=32.5, cpu=3.1)
    assert stopped(next_size(short, [step(500, 0.4, wall=3.0), later], 16 * GiB, None)) == "time-budget"


def test_a_disturbed_repeat_is_no_growth() -> None:
    """A trial's run --data: one warm repeat of a 0.1 s fit at 400 rows, disturbed, took 41.9 s; its step's 43.7 s
    made the next "about 175 s", past the 60 s budget, and the sweep never reached the whole table."""
    budget = Sweep(start=100, budget_s=60, settle=0)
    case = Case("classification", "hgb", "sklearn", 400, 2)
    slow = builders.record(case, [0.1, 41.9, 0.1, 0.1], disturbed=[False, True, False, False], wall=43.7)
    first = [step(100, 0.05, wall=1.5), step(200, 0.07, wall=1.6)]
    assert sweep.disturbed_excess(slow) == pytest.approx(41.8)
    assert next_size(budget, [*first, slow], 16 * GiB, 800) == (800, None)
    # Without a clean repeat to compare with, the step counts whole.
    all_bad = builders.record(case, [41.9, 41.9], disturbed=[True, True], wall=90.0)
    assert sweep.disturbed_excess(all_bad) == 0.0
    assert stopped(next_size(budget, [*first, all_bad], 16 * GiB, 800)) == "time-budget"


def test_a_short_sweep_stops_once_past_fixed_costs_or_at_the_runs_budget() -> None:
    short = Sweep(start=1000, budget_s=100, settle=0, past_fixed=0.5)
    once = steps([1000, 2000, 4000], [1.0, 1.1, 1.6])  # exponents 0.14, 0.54: one step past is not enough
    assert next_size(short, once, 16 * GiB, None) == (8000, None)
    past = steps([1000, 2000, 4000, 8000], [1.0, 1.1, 1.6, 3.0])  # 0.14, 0.54, 0.91
    assert stopped(next_size(short, past, 16 * GiB, None)) == "past-fixed-cost"
    assert next_size(RULE, past, 16 * GiB, None) == (16000, None)  # a sizing sweep goes on
    walls = steps([1000, 2000, 4000], [1.0, 1.1, 1.2], walls=[10.0, 20.0, 40.0])  # the next: about 80 s
    assert next_size(short, walls, 16 * GiB, None, run_left_s=81.0) == (8000, None)
    size, stop = next_size(short, walls, 16 * GiB, None, run_left_s=79.0)
    assert size is None and stop.code == "run-budget"
    assert stopped(next_size(short, walls[:1], 16 * GiB, None, run_left_s=15.0)) == "run-budget"  # 10 s x 2


def test_a_sweep_ends_past_fixed_costs_only_where_the_size_fit_finds_it_past_them() -> None:
    """Both take the median of a step's repeats; of two, their mean (the larger alone gave 0.58 and 0.62). The sweep
    asks more than the fit: ^0.5 on each step, where the fit takes the two together (a sweep the budget stops)."""
    short = Sweep(start=1000, budget_s=100, settle=0, past_fixed=0.5)
    pairs = {1000: [1.0, 1.0], 2000: [1.3, 1.5], 4000: [2.2, 2.3]}  # medians 1.0, 1.4, 2.25: ^0.49, then ^0.68
    records = [builders.record(Case("classification", "xgboost", "xgboost", n, 2), fits) for n, fits in pairs.items()]
    assert next_size(short, records, 16 * GiB, None) == (8000, None)
    fit = scaling.fit_time(list(pairs), list(pairs.values()))
    assert [round(e, 2) for e in fit.local_exponents()] == [0.49, 0.68] and backtest.past_fixed_costs(fit)
    pairs[8000] = [4.0, 4.2]  # ^0.87: the sweep stops, and the fit is past fixed costs too
    records.append(builders.record(Case("classification", "xgboost", "xgboost", 8000, 2), pairs[8000]))
    assert stopped(next_size(short, records, 16 * GiB, None)) == "past-fixed-cost"
    assert backtest.past_fixed_costs(scaling.fit_time(list(pairs), list(pairs.values())))
    assert sweep.PAST_FIXED >= backtest.SETTLED  # on each step, at least what the fits ask of both together


def budgeted(tmp_path: Path, suite: str) -> tuple[plan.Plan, records.RunResult]:
    """A suite's plan, and a new run of it on a 16 GiB machine."""
    path = tmp_path / "s.toml"
    path.write_text(suite)
    built = plan.build(plan.Choices(suite=str(path)), 2)
    return built, runner.new_run(built, {"id": "m-1", "identity": {"memory_bytes": 16 * GiB}})


def reached(run: records.RunResult, planned: Sequence[Case], cases: Sequence[CaseRecord],
            ended: Mapping[str, str] | None = None) -> records.RunResult:
    """`run` with this plan and these cases done, and the sweeps `ended` (none by default) ended."""
    return records.RunResult(**{**run.__dict__, "plan": list(planned), "cases": list(cases),
                                "sweeps": dict(ended or {})})


def test_the_runs_budget_counts_the_cases_done_and_stops_every_sweep_past_it(tmp_path: Path) -> None:
    built, run = budgeted(tmp_path, 'name = "s"\nbudget_s = 100\n[[benchmark]]\nworkload = "classification"\n'
                                    'models = ["xgboost", "linear"]\nbackends = ["xgboost", "sklearn"]\n'
                                    'sweep = { start = 1000, settle = 0 }\n')
    suite = tmp_path / "s.toml"
    assert built.settings.budget_s == 100 and run.settings["budget_s"] == 100
    assert plan.build(plan.Choices(suite=str(suite), budget_s=300), 2).settings.budget_s == 300

    def spent(wall: float) -> records.RunResult:  # every first step done, each in `wall` seconds
        return reached(run, built.cases, [builders.record(c, [1.0, 1.0], wall=wall) for c in built.cases])

    over = spent(30.0)  # 60 s spent: each next step (about 60 s) would pass the 40 s left
    assert runner.grow_sweeps(over) == []
    assert all(stop.startswith("the case at size 2,000 would take about 60 s (start, cold run and repeats), past "
                               "the 40 s left") for stop in over.sweeps.values())
    assert len(over.sweeps) == 2
    one = spent(20.0)  # 40 s spent, 60 s left: room for one more 40 s step
    assert [c.model for c in runner.grow_sweeps(one)] == ["xgboost"]
    # The other waits: the step planned may take less than its predicted 40 s.
    assert one.sweeps == {}
    # Deciding again from the same records gives the same answer: the step planned counts at its predicted 40 s.
    resumed = records.RunResult(**{**one.__dict__, "plan": list(one.plan), "sweeps": {}})
    assert runner.grow_sweeps(resumed) == [] and resumed.sweeps == {}
    # With nothing planned any more, a step that does not fit ends its sweep: 100 - 40 - 30 = 30 s left.
    done = [*one.cases, builders.record(one.plan[-1], [2.0, 2.0], wall=30.0)]
    last = reached(run, one.plan, done)
    assert runner.grow_sweeps(last) == [] and len(last.sweeps) == 2
    assert last.sweeps["classification/linear@sklearn/n=*/t=2"].endswith("past the 30 s left of the run's budget")
    # Where the step planned came in short enough, the waiting sweep takes its step instead.
    done[-1] = builders.record(one.plan[-1], [2.0, 2.0], wall=15.0)
    short = reached(run, one.plan, done, one.sweeps)
    assert [(c.model, c.size) for c in runner.grow_sweeps(short)] == [("linear", 2000)]
    assert [c.size for c in runner.grow_sweeps(spent(10.0))] == [2000, 2000]  # 20 s spent, about 20 s each
    for bad in ("0", "-5", '"fast"'):
        suite.write_text(f'name = "s"\nbudget_s = {bad}\n[[benchmark]]\nworkload = "diabetes"\n')
        with pytest.raises(SizeupError, match="budget_s"):
            plan.build(plan.Choices(suite=str(suite)), 2)


def two_families(tmp_path: Path, budget: float, other: str, start: int) -> tuple[records.RunResult, Case, Case]:
    """A new run of classification's XGBoost sweep and another family's under a budget, and each sweep's first step."""
    built, run = budgeted(tmp_path, f'name = "s"\nbudget_s = {budget}\n[[benchmark]]\nworkload = "classification"\n'
                                    'models = ["xgboost"]\nbackends = ["xgboost"]\n'
                                    'sweep = { start = 1000, settle = 0 }\n[[benchmark]]\n'
                                    f'workload = "{other}"\nmodels = ["xgboost"]\nbackends = ["xgboost"]\n'
                                    f'sweep = {{ start = {start}, settle = 0 }}\n')
    first, second = built.cases
    return run, first, second


def walled(run: records.RunResult, done: Sequence[tuple[Case, float]], planned: Sequence[Case] = (),
           ended: Mapping[str, str] | None = None) -> records.RunResult:
    """`run` with these cases done, each in its wall time, these planned, and the sweeps `ended` ended."""
    return reached(run, [c for c, _ in done] + list(planned),
                   [builders.record(c, [1.0, 1.0], wall=wall) for c, wall in done], ended)


def test_under_a_runs_budget_a_family_that_spent_less_keeps_room_for_its_next_step(tmp_path: Path) -> None:
    run, classification, forecasting = two_families(tmp_path, 100, "forecasting", 50)
    at = {n: replace(classification, size=n) for n in (1000, 2000, 4000)}
    grown = [(at[1000], 10.0), (at[2000], 20.0), (forecasting, 5.0)]  # classification's next: about 40 s
    # 35 s spent, forecasting's 100 series planned (about 10 s): 55 s left, room for classification's 40 s step,
    # but not for it and forecasting's step after (200 series, about 20 s): classification, which spent more, waits.
    waiting = walled(run, grown, [replace(forecasting, size=100)])
    assert runner.grow_sweeps(waiting) == [] and waiting.sweeps == {}
    # With no step of a family that spent less to make room for, it takes the step.
    alone = walled(run, grown)
    alone.sweeps["forecasting/xgboost@xgboost/n=*/t=2"] = "ended"
    assert runner.grow_sweeps(alone) == [at[4000]]
    # Once forecasting's step is done, it is decided first (it has spent less), and classification then gets what
    # is left: 100 - 45 - 20 = 35 s, short of its 40 s step. It waits for forecasting's step, which may come in short.
    both = walled(run, [*grown, (replace(forecasting, size=100), 10.0)])
    assert [c.size for c in runner.grow_sweeps(both)] == [200] and both.sweeps == {}
    ended = walled(run, [*grown, (replace(forecasting, size=100), 10.0), (replace(forecasting, size=200), 20.0)])
    assert runner.grow_sweeps(ended) == []
    assert ended.sweeps["classification/xgboost@xgboost/n=*/t=2"].endswith("past the 35 s left of the run's budget")


def test_under_a_runs_budget_every_family_gets_its_first_sizes_before_any_grows_past_them(tmp_path: Path) -> None:
    def at(case: Case, *sizes: int) -> list[Case]:
        return [replace(case, size=n) for n in sizes]

    # Regression has its three sizes (12 s) and classification two (24 s, the dearer family): 22 s left, room for
    # classification's third (about 20 s) or regression's fourth (about 7 s), not both. The third size comes first.
    run, classification, regression = two_families(tmp_path, 58, "regression", 1000)
    cheap = list(zip(at(regression, 1000, 2000, 4000), (3.0, 4.0, 5.0)))
    short = walled(run, [*zip(at(classification, 1000, 2000), (10.0, 14.0)), *cheap])
    assert [(c.workload, c.size) for c in runner.grow_sweeps(short)] == [("classification", 4000)]
    assert short.sweeps == {}  # regression's fourth waits for classification's third, which may come in short
    # With classification's second size still running (planned at about 20 s), regression's fourth size waits:
    # it would leave less than the about 40 s that classification's third is predicted to take.
    run, classification, regression = two_families(tmp_path, 85, "regression", 1000)
    running = walled(run, [(classification, 10.0), *cheap], at(classification, 2000))
    assert runner.grow_sweeps(running) == [] and running.sweeps == {}


def test_a_step_past_whats_left_waits_while_steps_are_planned_that_could_make_room(tmp_path: Path) -> None:
    """In a make bench, classification's trees at 80,000 and 160,000 rows predicted about 14 s for their third size
    with 14 s left, less the steps planned at their predicted times: their sweeps ended, the steps planned came in
    shorter, and regression's and NLP's sweeps grew past their first sizes in what was left. No classification."""
    run, classification, regression = two_families(tmp_path, 50, "regression", 1000)
    done = [*zip((classification, replace(classification, size=2000)), (10.0, 10.0)),
            *zip((replace(regression, size=n) for n in (1000, 2000, 4000)), (3.0, 4.0, 5.0))]
    fourth = replace(regression, size=8000)  # planned at about 7 s: 50 - 32 - 7 = 11 s left, short of 14 s
    state = walled(run, done, [fourth])
    assert runner.grow_sweeps(state) == [] and state.sweeps == {}  # classification waits
    later = walled(run, [*done, (fourth, 3.0)], ended=state.sweeps)  # it came in at 3 s: 15 s left
    assert [(c.workload, c.size) for c in runner.grow_sweeps(later)] == [("classification", 4000)]
    # A step that would not fit even were the planned one to take no time (45 - 32 = 13 s) ends its sweep at once.
    run, classification, regression = two_families(tmp_path, 45, "regression", 1000)
    hopeless = walled(run, done, [fourth])
    assert runner.grow_sweeps(hopeless) == []
    assert hopeless.sweeps[classification.config].endswith("past the 6 s left of the run's budget")


def test_among_first_sizes_each_family_takes_its_second_size_before_any_takes_its_third(tmp_path: Path) -> None:
    """A CNN's one size, 500 images in 9.6 s (mostly start-up), predicts 19 s for 1,000 and 38 s for 2,000: ranked by
    what their first sizes were predicted to cost, every other family took its third size first, and vision ended
    at one. Breadth first, its second size comes before another family's third; a failed step reserves nothing."""
    run, classification, regression = two_families(tmp_path, 35, "regression", 1000)
    cheap = [(regression, 2.0), (replace(regression, size=2000), 3.0)]  # its third: about 4.5 s
    state = walled(run, [(classification, 9.6), *cheap])  # 20.4 s left: room for 19.2 s or 4.5 s, not both
    assert [(c.workload, c.size) for c in runner.grow_sweeps(state)] == [("classification", 2000)]
    assert state.sweeps == {}  # regression's third waits for classification's second
    # A sweep whose last step failed needs no room: it ends.
    run, classification, regression = two_families(tmp_path, 50, "regression", 1000)
    failed = builders.record(replace(classification, size=2000), [], wall=10.0, status="timeout")
    state = reached(run, [classification, regression, failed.case],
                    [builders.record(classification, [1.0, 1.0], wall=5.0), failed,
                     builders.record(regression, [1.0, 1.0], wall=10.0)])
    assert sweep.Progress(failed.case, state.cases[:2]).first_sizes() is None
    # A sibling whose first step is yet to run says nothing of what the family's first sizes cost (not 0: "has them").
    assert sweep.Progress(classification, [], planned=True).first_sizes() is None
    assert [(c.workload, c.size) for c in runner.grow_sweeps(state)] == [("regression", 2000)]
    assert state.sweeps[classification.config].startswith("size 2,000 ended timeout")


def test_under_a_runs_budget_a_model_clearly_behind_in_quality_waits_while_its_familys_better_model_grows(
        tmp_path: Path) -> None:
    built, run = budgeted(tmp_path, 'name = "s"\nbudget_s = 1000\n[[benchmark]]\nworkload = "classification"\n'
                                    'models = ["xgboost", "linear"]\nsweep = { start = 1000, settle = 0 }\n')
    trees, linear = (next(c for c in built.cases if c.model == m) for m in ("xgboost", "linear"))

    def state(quality: dict[str, float], linear_at: int = 4000) -> records.RunResult:
        done = [replace(c, size=n) for c in (trees, linear) for n in (1000, 2000, 4000) if n <= linear_at or c is trees]
        return reached(run, done, [builders.record(c, [1.0, 1.0], quality=quality[c.model], metric="roc_auc")
                                   for c in done])

    behind = state({"xgboost": 0.98, "linear": 0.78})  # the summary's answer is never 20 points behind the best
    assert [(c.model, c.size) for c in runner.grow_sweeps(behind)] == [("xgboost", 8000)]
    again = state({"xgboost": 0.98, "linear": 0.78})  # decided again while the trees' step runs: it still waits
    again.plan.append(replace(trees, size=8000))
    assert runner.grow_sweeps(again) == [] and linear.config not in again.sweeps
    ended = state({"xgboost": 0.98, "linear": 0.78})  # the better model's sweep ended: the budget left is its
    ended.sweeps[trees.config] = "ended"
    assert [(c.model, c.size) for c in runner.grow_sweeps(ended)] == [("linear", 8000)]
    close = state({"xgboost": 0.98, "linear": 0.95})  # 3 points: either may be the answer, both grow
    assert sorted((c.model, c.size) for c in runner.grow_sweeps(close)) == [("linear", 8000), ("xgboost", 8000)]
    young = state({"xgboost": 0.98, "linear": 0.78}, linear_at=2000)  # a model behind still takes its first sizes,
    assert [(c.model, c.size) for c in runner.grow_sweeps(young)] == [("linear", 4000), ("xgboost", 8000)]  # first


def test_a_sweep_waiting_on_a_better_model_is_decided_once_that_ends_whatever_their_order(tmp_path: Path) -> None:
    built, run = budgeted(tmp_path, 'name = "s"\nbudget_s = 1000\n[[benchmark]]\nworkload = "classification"\n'
                                    'models = ["linear", "hgb", "xgboost"]\nbackends = ["sklearn", "xgboost"]\n'
                                    'sweep = { start = 1000, settle = 0, max_steps = 4 }\n')
    # At 4,000 rows hgb is ahead of linear and xgboost of neither; at 8,000 xgboost is ahead of hgb: one model
    # ahead of each of linear and hgb, so plan order decides, and linear comes first. hgb then ends (4 steps).
    quality = {("linear", 4000): 0.80, ("hgb", 4000): 0.86, ("xgboost", 4000): 0.84, ("hgb", 8000): 0.86,
               ("xgboost", 8000): 0.92}
    done = [replace(c, size=n) for c in built.cases for n in (1000, 2000, 4000, 8000)
            if n < 8000 or c.model != "linear"]
    cases = [builders.record(c, [1.0, 1.0], quality=quality.get((c.model, c.size), 0.5), metric="roc_auc")
             for c in done]
    state = reached(run, done, cases)
    state.sweeps["classification/xgboost@xgboost/n=*/t=2"] = "ended"
    assert [(c.model, c.size) for c in runner.grow_sweeps(state)] == [("linear", 8000)]
    assert state.sweeps["classification/hgb@sklearn/n=*/t=2"] == "4 steps, the most a sweep takes"


def test_a_model_is_behind_by_its_score_at_the_largest_size_both_measured_errors_as_their_log() -> None:
    def sweep_of(model: str, qualities: dict[int, float], metric: str = "roc_auc", higher: bool = True):
        return [builders.record(Case("forecasting", model, "xgboost", n, 2), [1.0], quality=q, metric=metric,
                                higher_is_better=higher) for n, q in qualities.items()]

    mine = sweep_of("linear", {100: 0.70, 200: 0.80})
    assert ahead(mine, {"a": sweep_of("a", {100: 0.90, 200: 0.84, 400: 0.99})}) == []  # 4 points at 200
    assert ahead(mine, {"a": sweep_of("a", {100: 0.90, 200: 0.86})}) == ["a"]
    assert ahead(mine, {"a": sweep_of("a", {400: 0.99})}) == []  # no size in common: nothing to compare
    errors = sweep_of("naive", {100: 0.30}, "wape", higher=False)
    assert ahead(errors, {"a": sweep_of("a", {100: 0.28}, "wape", higher=False)}) == ["a"]  # 7% smaller error
    assert ahead(errors, {"a": sweep_of("a", {100: 0.29}, "wape", higher=False)}) == []  # 3%
    assert ahead(sweep_of("a", {100: 0.28}, "wape", higher=False), {"naive": errors}) == []


def stopped(decided: tuple[int | None, Stop | None]) -> str:
    size, stop = decided
    assert size is None and stop is not None, decided
    return stop.code


def test_suites_declare_sweeps_case_caps_and_processes(tmp_path: Path) -> None:
    suite = tmp_path / "s.toml"
    suite.write_text('name = "s"\nprocesses = 2\n[[benchmark]]\nworkload = "regression"\nmodels = ["ridge_solve"]\n'
                     'backends = ["numpy"]\nsweep = { start = 1000, factor = 4 }\nmemory_cap = "1GiB"\n')
    built = plan.build(plan.Choices(suite=str(suite)), 2)
    (case,) = built.cases
    assert built.settings.processes == 2 and case.size == 1000 and case.sweep["factor"] == 4
    assert case.id.endswith(",cap=1GiB") and case.config == "regression/ridge_solve@numpy/n=*/t=2,cap=1GiB"
    assert Case.from_dict(case.to_dict()) == case
    fixed = plan.build(plan.Choices(suite=str(suite), sizes=[500]), 2)
    assert fixed.cases[0].sweep is None  # --sizes replaces the sweep
    for bad, message in (('sweep = { factor = 2 }', "a 'start' size"), ('sweep = { start = 10, grow = 2 }', "grow"),
                         ('sweep = { start = 10, factor = 1 }', "factor must be"),
                         ('sizes = [10]\nsweep = { start = 10 }', "not both"), ('memory_cap = 5', "memory_cap")):
        suite.write_text(f'name = "s"\n[[benchmark]]\nworkload = "regression"\n{bad}\n')
        with pytest.raises(SizeupError, match=message):
            plan.build(plan.Choices(suite=str(suite)), 2)


def test_a_sweep_runs_grows_and_resumes_to_the_same_plan(tmp_path: Path) -> None:
    suite = tmp_path / "s.toml"
    suite.write_text('name = "s"\nrepeats = 1\nprocesses = 2\n[[benchmark]]\nworkload = "regression"\n'
                     'models = ["ridge_solve"]\nbackends = ["numpy"]\n'
                     'sweep = { start = 1000, factor = 4, max_steps = 3, settle = 0 }\n')
    run = runner.new_run(plan.build(plan.Choices(suite=str(suite)), 1),
                         {"id": "m-1", "identity": {"memory_bytes": 16 * GiB}})
    limits = runner.Limits(1, 120, 4 * GiB, 0, processes=2)
    path = runner.execute(run, records.Journal.create(records.journal_path(tmp_path, run), run), limits,
                          runner.Progress())
    done = records.load(path)
    assert [c.case.size for c in done.cases] == [1000, 4000, 16000]
    assert done.sweeps == {"regression/ridge_solve@numpy/n=*/t=1": "3 steps, the most a sweep takes"}
    first = done.cases[0]
    assert first.status == "ok" and {r.process for r in first.runs} == {0, 1}
    assert len(first.phase_samples("fit")) == 2 and len(first.telemetry["processes"]) == 2
    # Resuming from the first step alone plans the same next steps from the records.
    partial = records.RunResult(**{**done.__dict__, "plan": done.plan[:1], "cases": done.cases[:1], "sweeps": {}})
    assert [c.size for c in runner.grow_sweeps(partial)] == [4000]


def test_processes_come_from_the_command_line_too() -> None:
    from harness import cli
    from harness.commands.run import PLAN_FLAGS

    args = cli.build_parser().parse_args(["run", "--processes", "3", "--workloads", "diabetes"])
    choices = plan.Choices(suite=args.suite, **{flag: getattr(args, flag) for flag in PLAN_FLAGS})
    assert plan.build(choices, 2).settings.processes == 3


def test_an_interrupted_or_resumed_run_counts_its_cases_without_a_plan_its_sweeps_outgrew() -> None:
    from harness.commands.run import done
    from tests import builders

    fixed = [Case("classification", "linear", "sklearn", n, 1) for n in (100, 200, 400)]
    run = builders.run_result([builders.record(c, [0.1]) for c in fixed[:2]])
    assert done(replace(run, plan=fixed)) == "2 of 3 cases"  # one case left
    grown = [replace(c, sweep={"grow": 2.0}) for c in fixed]
    run = builders.run_result([builders.record(c, [0.1]) for c in grown])
    # A sweep's steps past its first are planned as it grows: 3 done of a plan of 2 (had read '3 of 2 cases').
    assert done(replace(run, plan=run.plan[:2])) == "3 cases (sweeps add sizes as they grow)"
