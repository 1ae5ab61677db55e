"""Sizing sweeps: grow a case's size step by step until the curve is known, instead of trusting a grid.

A sweep starts at ``start`` and multiplies the size by ``factor`` after every finished step,
until one of these stops it (the reason is kept in the result):

- a step failed (an out-of-memory step is data: the smallest size that failed);
- the local exponent of fit time against size has settled: it moved less than ``settle``
  over the last two steps, at PAST_FIXED or more (the curve has left the region where fixed costs
  dominate; a plateau below, 0.57 then 0.19, 0.18 and 0.21 from 5,000 to 80,000 rows of XGBoost, is
  that region, and a sweep ended there predicts nothing past it);
- with ``past_fixed``: the last two local exponents are both at least that (a short sweep, as
  `make bench`'s, stops as soon as fixed costs no longer dominate: predictions need no more). The
  fits ask less (harness.analysis.backtest.past_fixed_costs: the two steps together), for a sweep
  that the budget stopped; one that stops here on its own x2 grid they take as past fixed costs;
- the next step would take longer than ``budget_s`` (the case's whole wall time, predicted
  from the last two steps); until MIN_STEPS sizes are measured, the last step passed it itself.
  One step cannot tell fixed costs from growth: a Spark case at 45 rows took 46 s, nearly all
  of it the session and XGBoost's start, and a linear guess would end it before any fit. A sweep's
  first step counts without what its start-up waited (wall time past CPU time: `waited`) past
  what its later steps' start-ups wait, and every step without its disturbed repeats' excess;
- the run's own budget (a suite's ``budget_s``: all its cases' wall time) would be passed by
  the next step (while another sweep's step is planned, the runner has the step wait instead: a
  step planned counts at its predicted time and may come in under it; it also holds a step back
  while another task family needs the room for its first MIN_STEPS sizes, or past them one that has
  spent less for its next step: ``reserve``; and, past MIN_STEPS, the step of a model whose quality
  is clearly behind another of its family while that one still grows: ``ahead``);
- the next step's peak memory, projected on the line through the last two steps' peaks,
  would pass ``memory`` of this machine's memory;
- the workload has no more rows (its whole data, or the sweep's ``max_size``, is the last
  step), or ``max_steps`` sizes were measured.

The next size is decided from the records alone, so a resumed run decides the same.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from harness.records import Case, CaseRecord, quality_score

LAST_STEP = 1.25  # the whole data is a step of its own where it is at least this much larger than the last size
KEYS = {"start", "factor", "budget_s", "memory", "settle", "past_fixed", "max_steps", "max_size"}
MIN_STEPS = 3  # the fewest sizes a size fit takes
PAST_FIXED = 0.5  # growth (size^x) on each of two steps: more than the fits ask (backtest.past_fixed_costs)
BEHIND = 0.05  # a quality score this far below another model's at the same size is clearly behind it


@dataclass(frozen=True)
class Sweep:
    start: int
    factor: float = 2.0
    budget_s: float = 60.0  # the largest step's case wall time, cold run and repeats together
    memory: float = 0.6  # share of this machine's memory a step may be predicted to need
    settle: float = 0.1  # stop when the local exponent moves less than this twice in a row; 0: never
    past_fixed: float = 0.0  # stop when the last two local exponents are at least this; 0: never
    max_steps: int = 12
    max_size: int | None = None  # the data's rows: the last step takes them all

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Stop:
    """Why a sweep ends: a code (step-failed, max-steps, whole-data, settled, past-fixed-cost, time-budget,
    run-budget, memory) and a message for people (the result file keeps the message, per sweep)."""

    code: str
    message: str


def next_size(sweep: Sweep, steps: Sequence[CaseRecord], memory_total: int, max_size: int | None,
              run_left_s: float | None = None) -> tuple[int | None, Stop | None]:
    """The size to measure next, or None and why the sweep ends. `steps`: this sweep's records so far;
    `run_left_s`: what is left of the run's budget (None: it has none)."""
    if not steps:
        return sweep.start, None
    steps = sorted(steps, key=lambda r: r.case.size)
    last = steps[-1]
    size = last.case.size
    if last.status != "ok":
        return None, Stop("step-failed", f"size {size:,} ended {last.status}: {last.reason}")
    if len(steps) >= sweep.max_steps:
        return None, Stop("max-steps", f"{len(steps)} steps, the most a sweep takes")
    following = grown(size, sweep.factor)
    max_size = min((m for m in (max_size, sweep.max_size) if m), default=None)
    if max_size is not None and following > max_size:
        if max_size < size * LAST_STEP:  # the whole data is hardly larger: what was measured will do
            unit = last.workload_info.get("size_unit") or "rows"
            return None, Stop("whole-data", f"the workload has {max_size:,} {unit}")
        following = max_size  # the whole data as the last step
    times = [_fit_median(r) for r in steps]
    exponents = [math.log(t2 / t1) / math.log(r2.case.size / r1.case.size)
                 for (r1, t1), (r2, t2) in zip(zip(steps, times), zip(steps[1:], times[1:])) if t1 and t2]
    if sweep.settle > 0 and len(exponents) >= 3 and min(exponents[-2:]) >= PAST_FIXED and all(
            abs(b - a) < sweep.settle for a, b in zip(exponents[-3:], exponents[-2:])):
        return None, Stop("settled", f"the local exponent settled at {exponents[-1]:.2f}")
    if sweep.past_fixed > 0 and len(exponents) >= 2 and min(exponents[-2:]) >= sweep.past_fixed:
        return None, Stop("past-fixed-cost", f"time grew as size^{exponents[-2]:.2f}, then ^{exponents[-1]:.2f}: "
                                             "fixed costs no longer dominate")
    wall = predicted_wall(steps, following)
    if len(steps) < MIN_STEPS:
        if (took := _wall(steps, last)) > sweep.budget_s:
            less = f", {took:.0f} s without waits and contention" if took < last.wall_s - 0.5 else ""
            return None, Stop("time-budget", f"the case at size {size:,} took {last.wall_s:.0f} s (start, cold run "
                                             f"and repeats{less}), past the {sweep.budget_s:g} s budget")
    elif wall > sweep.budget_s:
        return None, Stop("time-budget", f"the case at size {following:,} would take about {wall:.0f} s (start, cold "
                                         f"run and repeats), past the {sweep.budget_s:g} s budget")
    if run_left_s is not None and wall > run_left_s:
        return None, Stop("run-budget", f"the case at size {following:,} would take about {wall:.0f} s (start, cold "
                                        f"run and repeats), past the {max(run_left_s, 0):.0f} s left of the run's "
                                        "budget")
    need = _projected_memory(steps, following, sweep.factor)
    if need > sweep.memory * memory_total:
        return None, Stop("memory", f"size {following:,} would need about {need / 2**30:.1f} GiB, past "
                                    f"{sweep.memory:.0%} of this machine's {memory_total / 2**30:.1f} GiB")
    return following, None


@dataclass(frozen=True)
class Progress:
    """A sweep as the runner plans it: its last step (`case`, done or planned), its records (the steps done),
    whether that last step is planned and not done, whether the sweep ended, and whether a model of its task
    family is clearly ahead of it in quality (`ahead`)."""

    case: Case
    records: Sequence[CaseRecord]
    planned: bool = False
    ended: bool = False
    behind: bool = False

    def first_sizes(self) -> float | None:
        """The predicted wall time of the steps still to plan before it has MIN_STEPS sizes, done and planned
        (0 once it has them); None where it ended short of them, or has no step done to predict from."""
        have = self.sizes()
        if have >= MIN_STEPS:
            return 0.0
        last = max(self.records, key=lambda r: r.case.size, default=None)
        if last is None or self.ended or (not self.planned and last.status != "ok"):
            return None  # unknown, ended, or about to: a failed step ends its sweep (next_size)
        factor, size, cost = Sweep(**self.case.sweep).factor, self.case.size, 0.0
        for _ in range(MIN_STEPS - have):
            size = grown(size, factor)
            cost += predicted_wall(self.records, size)
        return cost

    def following(self) -> float:
        """The predicted wall time of the step after its last."""
        return predicted_wall(self.records, grown(self.case.size, Sweep(**self.case.sweep).factor))

    def sizes(self) -> int:
        """Its sizes, done and planned."""
        return len(self.records) + self.planned


def first_sizes(family: Iterable[Progress]) -> float:
    """What a task family still needs for a size fit of a model that may be its answer: the cheapest first
    sizes of its sweeps not clearly behind another (0 where one has them, or where none can get them)."""
    return min((c for p in family if not p.behind and (c := p.first_sizes()) is not None), default=0.0)


def next_first_size(family: Sequence[Progress]) -> tuple[int, float] | None:
    """Where a task family still needs first sizes: the sizes its furthest sweep (of those not clearly behind
    another) has, and what the next step of such a sweep is predicted to take (the cheapest's)."""
    growing = [p for p in family if not p.behind and p.first_sizes()]
    if not growing:
        return None
    most = max(p.sizes() for p in growing)
    return most, min(p.following() for p in growing if p.sizes() == most)


def reserve(step: Progress, spent: Mapping[str, float], sweeps: Iterable[Progress]) -> float:
    """The run's budget a step of sweep `step` must leave for the other task families (`sweeps`: every sweep of
    the run; `spent`: each family's sweeps' wall time, done and planned, per workload).

    First sizes come first, breadth first: a step among a family's first MIN_STEPS sizes leaves room for the next
    step of every family that still needs first sizes and has fewer of them than this step's sweep has, or as
    many and has spent less (each family takes its second size before any takes its third); a step past them
    leaves room for every other family to get all its first sizes (`first_sizes`), and for the next step of every
    family that has spent less and has one planned (its cheapest sweep's). In a `make bench` on a slow
    machine, classification's boosted trees measured 80,000 and 160,000 rows while regression's grew to 320,000
    and NLP's to 20,000 documents: the summary had no classification. Ordered by what their first sizes were
    predicted to cost instead, vision (whose one measured size, 500 images in 9.6 s, mostly start-up, predicted
    19 and 38 s for the next two) waited while the others took their third sizes, and ended at one."""
    workload = step.case.workload
    families: dict[str, list[Progress]] = {}
    for p in sweeps:
        families.setdefault(p.case.workload, []).append(p)
    among_first = len(step.records) < MIN_STEPS and first_sizes(families.get(workload, ())) > 0
    total = 0.0
    for family, progress in families.items():
        if family == workload:
            continue
        poorer = spent.get(family, 0.0) < spent.get(workload, 0.0)
        if among_first:
            behind = next_first_size(progress)
            if behind is not None and (behind[0] < len(step.records) or behind[0] == len(step.records) and poorer):
                total += behind[1]
            continue
        following = min((p.following() for p in progress if p.planned), default=0.0) if poorer else 0.0
        total += max(first_sizes(progress), following)
    return total


def grown(size: int, factor: float) -> int:
    """The size after `size`, by `factor`."""
    return max(size + 1, round(size * factor))


def ahead(steps: Sequence[CaseRecord], others: Mapping[str, Sequence[CaseRecord]]) -> list[str]:
    """The sweeps of `others` (configuration: its records; the same task family's) whose model is clearly ahead
    of this sweep's in quality: at the largest size both measured, their score is BEHIND or more above. A score
    is the metric where higher is better (accuracy, R2) and -log(error) where lower is (WAPE): BEHIND is then 5
    points of a score or an error 5% smaller. The run's summary picks the cheapest option within a point of the
    best quality, so a model 20 points behind (a linear model's ROC AUC against boosted trees') is not its
    answer: under a run's budget, past MIN_STEPS its steps wait while a sweep ahead of it grows."""
    mine = {r.case.size: q for r in steps if (q := _score(r)) is not None}
    out = []
    for config, records in others.items():
        theirs = {r.case.size: q for r in records if (q := _score(r)) is not None}
        common = set(mine) & set(theirs)
        if common and theirs[max(common)] - mine[max(common)] >= BEHIND:
            out.append(config)
    return out


def _score(record: CaseRecord) -> float | None:
    """The median quality of a step's repeats, as a score where higher is better."""
    info = record.workload_info
    values = [v for r in record.warm_runs() if (v := r.metric(info.get("metric"))) is not None]
    if record.status != "ok" or not values:
        return None
    return quality_score(statistics.median(values), info.get("higher_is_better", True))


def _projected_memory(steps: Sequence[CaseRecord], size: int, factor: float) -> float:
    """The next step's peak memory, on the line through the last two steps' peaks (never falling); from one
    step, that peak times the growth factor. A guard for the sweep, not a prediction anyone is shown."""
    peaks = [(r.case.size, m) for r in steps if (m := r.telemetry.get("peak_memory_bytes"))]
    if len(peaks) < 2:
        return peaks[-1][1] * factor if peaks else 0.0
    (n1, m1), (n2, m2) = peaks[-2:]
    return m2 + max(0.0, (m2 - m1) / (n2 - n1)) * (size - n2)


def _fit_median(record: CaseRecord) -> float | None:
    """The median as the size fits take it (of two repeats, their mean), so that the sweep ends where the
    analysis finds the fit past its fixed costs: with the larger of two, 0.56 here was 0.49 there."""
    times = [r.phases["fit"] for r in record.warm_runs() if "fit" in r.phases]
    return statistics.median(times) if times else None


def predicted_wall(steps: Sequence[CaseRecord], size: int) -> float:
    """The next step's wall time, growing as the last two steps' did (linearly from one step; 0 from none)."""
    if not steps:
        return 0.0
    steps = sorted(steps, key=lambda r: r.case.size)
    walls = [_wall(steps, r) for r in steps[-2:]]
    exponent = 1.0
    if len(steps) >= 2 and min(walls) > 0:
        exponent = math.log(walls[1] / walls[0]) / math.log(steps[-1].case.size / steps[-2].case.size)
        exponent = min(max(exponent, 0.5), 2.0)  # a noisy pair must neither stall nor explode the prediction
    return walls[-1] * (size / steps[-1].case.size) ** exponent


def waited(record: CaseRecord) -> float:
    """How long the step's start-up waited: the cold run's start-up wall time past its CPU time (0 where either is
    unknown); with several processes, the first's. Reading libraries from a cold page cache waits (torch's first
    import: 32.5 s on 3.1 s of CPU); a start-up that computes (a Spark session's JVM) does not."""
    cold = next((r for r in record.runs if r.cold), None)
    wall, cpu = (None, None) if cold is None else (cold.phases.get("startup"), cold.cpu_s.get("startup"))
    return max(wall - cpu, 0.0) if wall is not None and cpu is not None else 0.0


def disturbed_excess(record: CaseRecord) -> float:
    """How much longer the step's disturbed warm repeats took than its clean ones' median (0 where none is clean).
    Contention is no growth: one repeat of a 0.1 s fit, disturbed, took 41.9 s, and its step's 43.7 s had ended the
    sweep before the whole table ("about 175 s" for the next). A repeat run again in place of a disturbed one
    (rerun_disturbed) stays in: the next step may need one too."""
    warm = [(sum(r.phases.values()), r.disturbed) for r in record.runs if not r.cold and r.complete]
    clean = [t for t, disturbed in warm if not disturbed]
    if not clean:
        return 0.0
    typical = statistics.median(clean)
    return sum(max(t - typical, 0.0) for t, disturbed in warm if disturbed)


def _wall(steps: Sequence[CaseRecord], record: CaseRecord) -> float:
    """A step's wall time as the sweep counts it: without its disturbed repeats' excess (disturbed_excess), and for a
    sweep's first step (of `steps`, its records) without what its start-up waited past the least any later step's
    did. Only the first reads the libraries from disk; a wait every step has (contention, a device's set-up) is no
    growth, and stays in each."""
    wall = max(record.wall_s - disturbed_excess(record), 0.0)
    first = min(steps, key=lambda r: r.case.size)
    if record is not first:
        return wall
    again = min((waited(r) for r in steps if r is not first), default=0.0)
    return max(wall - max(waited(record) - again, 0.0), 0.0)
