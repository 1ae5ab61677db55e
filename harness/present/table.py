"""`sizeup show`: one row per case with median phase times, interval, quality and utilization."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from harness.analysis import twins
from harness.analysis.stats import Stats, quality_stats, stats
from harness.records import PHASES, CaseRecord, RunResult
from harness.records import figures as fig

STATUS_STYLE = {"ok": "green", "skipped": "yellow"}
LEFT = ("case", "status", "quality", "fit interval")
NO_WRAP = ("case", "fit interval", "quality", "throughput")  # short cells that must stay on one line


def phase_stats(record: CaseRecord, phase: str) -> Stats | None:
    return stats(record.phase_samples(phase))


def quality(record: CaseRecord) -> tuple[str, bool | None]:
    """'roc_auc 0.978' from the median over warm repeats, and whether it meets the workload's target."""
    info = record.workload_info
    metric = info.get("metric")
    runs = [r for r in record.warm_runs() if metric in (r.quality or {})]
    if not metric or not runs:
        return "", None
    summary = quality_stats(record, metric)
    if summary is None:  # no finite value: say why (a one-row test split gives r2 = nan)
        why = sorted({r.quality_missing.get(metric) or "none" for r in runs})
        return f"{metric} n/a ({', '.join(why)})", None
    value = summary.median
    target = info.get("target")
    met = None
    if target and target["metric"] == metric:
        met = value >= target["threshold"] if target["higher_is_better"] else value <= target["threshold"]
    return f"{metric} {value:.3f}" if abs(value) < 1e6 else f"{metric} {value:.3g}", met


def throughput(record: CaseRecord) -> str:
    rates = [r.throughput for r in record.warm_runs() if r.throughput]
    summary = stats([t.per_s for t in rates])
    if summary is None:
        return ""
    rate = summary.median
    scaled = next((f"{rate / f:.3g}{p}" for f, p in ((1e9, "G"), (1e6, "M"), (1e3, "k")) if rate >= f), f"{rate:.3g}")
    return f"{scaled} {rates[0].unit}/s"


def fit_cpu(record: CaseRecord) -> str:
    """Tree CPU during fit, 100 = one core: exact from phase boundaries (sampled in version-1 results)."""
    exact = stats([100 * r.cpu_s["fit"] / r.phases["fit"] for r in record.warm_runs()
                   if r.cpu_s.get("fit") is not None and r.phases.get("fit")])
    if exact:
        return f"{exact.median:.0f}"
    cpu = record.telemetry.get("phases", {}).get("fit", {}).get("cpu_percent")
    return f"{cpu['mean']:.0f}" if cpu else ""


def contention_note(record: CaseRecord) -> str | None:
    """One sentence on disturbed repeats, or None."""
    c = record.contention()
    if c is None:
        return None
    what = (f"only {c.repeats - c.disturbed} clean, so its figures were taken under contention" if c.counted
            else f"the statistics use the {c.repeats - c.disturbed} clean ones")
    return (f"{c.disturbed} of {c.repeats} warm repeats disturbed (other processes took up to "
            f"{c.max_other_cores:.2f} cores); {what}")


def figure_columns(cases: list[CaseRecord]) -> list[tuple[str, fig.Figure]]:
    """(source, figure) for every figure a telemetry source declared and measured in any of `cases`."""
    found: dict[tuple[str, str], tuple[str, fig.Figure]] = {}
    for c in cases:
        for source, figure in fig.declared(c.telemetry):
            if (source, figure.key) not in found and fig.value(c.telemetry, source, figure) is not None:
                found[source, figure.key] = (source, figure)
    return list(found.values())


def figure_cells(record: CaseRecord, columns: list[tuple[str, fig.Figure]]) -> list[str]:
    return [fig.text(figure, fig.value(record.telemetry, source, figure)) for source, figure in columns]


def render(run: RunResult) -> Group:
    used = [p for p in PHASES if any(phase_stats(c, p) for c in run.cases)]
    figures = figure_columns(run.cases)
    title = (f"{run.suite} run {run.run_id} on {run.machine.get('id')}"
             f"{'' if run.complete else ' (incomplete)'}")
    table = Table(title=Text(title), caption=Text(_caption(run)), header_style="bold")
    for name in ("case", "size", "thr", "status", *[f"{p} s" for p in used], "fit interval",
                 "quality", "throughput", "fit CPU %", "peak memory", *(f.label for _, f in figures)):
        table.add_column(name, justify="left" if name in LEFT else "right", no_wrap=name in NO_WRAP)
    for record in run.cases:
        cells = row(record, used) + figure_cells(record, figures)
        table.add_row(*(cell if isinstance(cell, Text) else Text(cell) for cell in cells))
    notes = [Text.assemble((c.status, STATUS_STYLE.get(c.status, "red")), f" {c.id}: {c.reason or ''}")
             for c in run.cases if c.status != "ok"]
    notes += [Text.assemble(("contention", "yellow"), f" {c.id}: {note}")
              for c in run.cases if c.status == "ok" and (note := contention_note(c))]
    notes += [Text.assemble(("quality", "red"), f" {c.id}: {gap.metric} {gap.value:.4g} against "
                            f"{gap.twin_value:.4g} on its CPU twin {gap.twin}, beyond the tolerance of "
                            f"{gap.tolerance:.2g}: the two do not compute the same result")
              for c in run.cases if (gap := twins.check(c, run.cases)) and gap.beyond]
    return Group(table, *notes)


def row(record: CaseRecord, phases: list[str]) -> list[str | Text]:
    """Cells as plain text (nothing from a result is read as markup); styles come as Text."""
    case = record.case
    cells: list[str | Text] = [f"{case.workload}/{case.model}@{case.backend}", f"{case.size:,}", str(case.threads)]
    style = STATUS_STYLE.get(record.status, "red")
    if record.status != "ok":  # the reason follows the table, unwrapped
        return cells + [Text(record.status, style)] + [""] * (len(phases) + 5)
    cells.append(Text("ok", style))
    contended = "!" if (c := record.contention()) and c.counted else ""
    for phase in phases:
        s = phase_stats(record, phase)
        cells.append("" if s is None else f"{_s(s.median)}{'~' if s.noisy else ''}{contended}")
    fit = phase_stats(record, "fit")
    cells.append(f"{_s(fit.lo)}-{_s(fit.hi)} {fit.coverage:.0%}" if fit else "")
    text, met = quality(record)
    cells.append(Text.assemble(text, {True: (" ✓", "green"), False: (" ✗", "red"), None: ""}[met]))
    cells += [throughput(record), fit_cpu(record), _mib(record.telemetry.get("peak_memory_bytes"))]
    return cells


def _s(seconds: float) -> str:
    return f"{seconds:.3g}" if seconds >= 0.001 else f"{seconds:.1e}"


def _mib(value: Any) -> str:
    return "" if not value else f"{value / 2**20:,.0f} MiB"


def _caption(run: RunResult) -> str:
    counts: dict[str, int] = {}
    for c in run.cases:
        counts[c.status] = counts.get(c.status, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in counts.items())
    repeats = run.settings.get("repeats")
    return (f"{summary}. Times: medians of {repeats} warm repeats, disturbed ones left out where enough clean ones "
            "remain; '~' marks IQR/median > 10%, '!' figures taken under contention. Fit interval: distribution-free "
            "for the median, at the confidence shown. Quality: ✓/✗ against the workload's target.")
