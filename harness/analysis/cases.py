"""One case's figures as `sizeup show` and the live progress print them: per-phase statistics, quality
against the workload's target, throughput, fit CPU, contention, the CPU twin's verdict and the
telemetry figures its sources declared. Computed here; harness.present.table only formats them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from harness.analysis import twins
from harness.analysis.scaling import MIN_FIT_SIZES
from harness.analysis.stats import Stats, quality_stats, stats
from harness.records import CaseRecord, Contention, RunResult, quality_target
from harness.records import figures as fig


@dataclass(frozen=True)
class Quality:
    metric: str
    median: float | None  # None: no repeat has a finite value
    missing: tuple[str, ...] = ()  # why not, where it is None ("nan")
    met: bool | None = None  # against the workload's target, where it has one for this metric


@dataclass(frozen=True)
class CaseSummary:
    record: CaseRecord
    phases: dict[str, Stats] = field(default_factory=dict)  # the timed phases measured, in PHASES order, then
    # the phases a profiled job marked itself, in their order
    quality: Quality | None = None
    throughput: tuple[float, str] | None = None  # median items per second, and the unit
    fit_cpu_percent: float | None = None  # the tree's CPU during fit, 100 = one core
    contention: Contention | None = None
    twin: twins.QualityGap | None = None
    figures: dict[tuple[str, str], float | None] = field(default_factory=dict)  # (source, figure key) -> value


def summarize(record: CaseRecord, run: Sequence[CaseRecord] = ()) -> CaseSummary:
    """`record`'s figures; its CPU twin is looked for among `run`'s cases."""
    if record.status != "ok":
        return CaseSummary(record)
    phases = {p: s for p in record.phase_names() if (s := stats(record.phase_samples(p)))}
    rates = [r.throughput for r in record.warm_runs() if r.throughput]
    rate = stats([t.per_s for t in rates])
    values = {(source, f.key): fig.value(record.telemetry, source, f) for source, f in fig.declared(record.telemetry)}
    return CaseSummary(record, phases, _quality(record), (rate.median, rates[0].unit) if rate else None,
                       _fit_cpu(record), record.contention(), twins.check(record, run), values)


def _quality(record: CaseRecord) -> Quality | None:
    """The median over warm repeats of the workload's metric, and whether it meets the workload's target."""
    info = record.workload_info
    metric = info.get("metric")
    runs = [r for r in record.warm_runs() if metric in (r.quality or {})]
    if not metric or not runs:
        return None
    summary = quality_stats(record, metric)
    if summary is None:  # no finite value: say why (a one-row test split gives r2 = nan)
        return Quality(metric, None, tuple(sorted({r.quality_missing.get(metric) or "none" for r in runs})))
    target = quality_target(info)
    return Quality(metric, summary.median, met=None if target is None else target.met(summary.median))


# The CPU clocks are read just outside the timed window, and the readings take CPU themselves: over a shorter phase
# than this, CPU / wall measures them as much as the phase (linear fits of 3.3 ms on 2 threads took 7.2 ms of CPU,
# 109% of the 2 threads of a 2-core machine; a 1 us fit 241%). At 25 ms, those 0.6 ms over are about 1% of 2 threads.
CPU_WINDOW_S = 0.025


def _fit_cpu(record: CaseRecord) -> float | None:
    """Tree CPU during fit: exact from phase boundaries where the fit took CPU_WINDOW_S or more (sampled in version-1
    results)."""
    timed = [r for r in record.warm_runs() if r.cpu_s.get("fit") is not None and r.phases.get("fit")]
    if timed:
        exact = stats([100 * r.cpu_s["fit"] / r.phases["fit"] for r in timed if r.phases["fit"] >= CPU_WINDOW_S])
        return exact.median if exact else None
    cpu = record.telemetry.get("phases", {}).get("fit", {}).get("cpu_percent")
    return cpu["mean"] if cpu else None


def figure_columns(summaries: Sequence[CaseSummary]) -> list[tuple[str, fig.Figure]]:
    """(source, figure) for every figure a telemetry source declared and measured in any of the cases."""
    found: dict[tuple[str, str], tuple[str, fig.Figure]] = {}
    for s in summaries:
        for source, figure in fig.declared(s.record.telemetry):
            if (source, figure.key) not in found and s.figures.get((source, figure.key)) is not None:
                found[source, figure.key] = (source, figure)
    return list(found.values())


def short_sweeps(run: RunResult) -> list[tuple[str, int, str]]:
    """The sweeps that ended with fewer sizes than a size fit takes, each with the sizes it measured and why it ended
    (one that measured none, its backend unavailable or its first size failed, is said with that case)."""
    ok = Counter(config for config, _ in {(c.case.config, c.case.size) for c in run.cases if c.status == "ok"})
    return [(config, ok[config], why) for config, why in sorted(run.sweeps.items()) if 0 < ok[config] < MIN_FIT_SIZES]


def short_sweep_note(config: str, sizes: int, why: str) -> str:
    return (f"{config} ended after {sizes} size{'s' * (sizes > 1)}, fewer than a fit takes ({MIN_FIT_SIZES}): no "
            f"prediction comes from this run alone: {why}")
