"""`sizeup show`: one row per case with its fit time, interval, quality and peak memory (every phase,
throughput and fit CPU with `--wide`), skipped cases folded into one line per reason. Formats what
harness.analysis.cases computed for each case."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from harness.analysis.cases import CaseSummary, figure_columns, short_sweep_note, short_sweeps, summarize
from harness.records import PHASES, PROFILE, WHOLE_RUN, RunResult, quality_target
from harness.records import figures as fig
from harness.records.figures import seconds

STATUS_STYLE = {"ok": "green", "skipped": "yellow"}


class Ident:
    """A case id or configuration in a table cell: where its column is narrower than it, it breaks after a '/' or a ','
    (inside a piece still too long, after its '@'; a name longer than the column still folds), where plain text would
    fold it anywhere, even mid-name ('linear@skle', then 'arn'). Lines after the first are indented by `hang` more
    than the text's own indent, so that the rest of a name does not read as a name of its own."""

    def __init__(self, text: str, hang: int = 0) -> None:
        self.pieces = [p for p in re.split(r"(?<=[/,])", text) if p]
        self.indent = " " * (len(text) - len(text.lstrip(" ")) + hang) if hang else ""

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        # At least one cell: a narrow column folds it, as the table's other folding columns, and no number is cut.
        return Measurement(1, sum(map(cell_len, self.pieces)))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        pieces = [q for p in self.pieces for q in ([p] if cell_len(p) <= width else re.split(r"(?<=@)", p)) if q]
        lines = [""]
        for piece in pieces:
            if lines[-1].strip() and cell_len(lines[-1] + piece) > width:
                lines.append(self.indent)
            lines[-1] += piece
        yield Text("\n".join(lines), overflow="fold")


def compact(title: str, columns: Sequence[str], folds: Sequence[str] = (), wraps: Sequence[str] = ()) -> Table:
    """A table readable within 100 columns: one space between columns, no outer edge. Columns in `folds` (long ids)
    fold anywhere and those in `wraps` wrap at spaces; every other column stays whole, so no number is cut."""
    table = Table(title=Text(title), header_style="bold", box=box.SIMPLE_HEAD, padding=0, pad_edge=False,
                  show_edge=False)
    for c in columns:
        table.add_column(c, no_wrap=c not in folds and c not in wraps, overflow="fold" if c in folds else "ellipsis")
    return table
WIDTH = 100  # what `show` fits in by default, in a terminal or not; --wide has every column
SHOWN = 1000  # cases tabled by `show`: past it a table is read by nobody (10^5 cases took minutes to draw)
LEFT = ("case", "status", "quality", "fit interval", "interval")
NO_WRAP = ("case", "fit interval", "quality", "throughput")  # short cells that must stay on one line


def quality(s: CaseSummary, named: bool = True) -> tuple[str, bool | None]:
    """'roc_auc 0.978' ('0.978' where not `named`), and whether it meets the workload's target."""
    q = s.quality
    if q is None:
        return "", None
    name = f"{q.metric} " if named else ""
    if q.median is None:  # no finite value: say why (a one-row test split gives r2 = nan)
        return f"{name}n/a ({', '.join(q.missing)})", None
    return (f"{name}{q.median:.3f}" if abs(q.median) < 1e6 else f"{name}{q.median:.3g}"), q.met


def throughput(s: CaseSummary) -> str:
    if s.throughput is None:
        return ""
    rate, unit = s.throughput
    scaled = next((f"{rate / f:.3g}{p}" for f, p in ((1e9, "G"), (1e6, "M"), (1e3, "k")) if rate >= f), f"{rate:.3g}")
    return f"{scaled} {unit}/s"


def contention_note(s: CaseSummary) -> str | None:
    """One sentence on disturbed repeats, or None."""
    c = s.contention
    if c is None:
        return None
    clean = c.repeats - c.disturbed
    what = ("none clean" if not clean else f"only {clean} clean") if c.counted else \
        f"the statistics use the {clean} clean ones"
    what += ", so its figures were taken under contention" if c.counted else ""
    return (f"{c.disturbed} of {c.repeats} warm repeats disturbed (other processes took up to "
            f"{c.max_other_cores:.2f} cores); {what}")


def render(run: RunResult, wide: bool = False) -> Group:
    summaries = [summarize(c, run.cases) for c in run.cases[:SHOWN]]
    figures = figure_columns(summaries)
    title = (f"{run.suite} run {run.run_id} on {run.machine.get('id')}"
             f"{'' if run.complete else ' (incomplete)'}")
    table = _wide(summaries, figures) if wide else _narrow(summaries, figures)
    table.title, table.caption, table.caption_justify = Text(title), Text(_caption(run, wide, summaries)), "left"
    notes = [Text.assemble((c.status, STATUS_STYLE.get(c.status, "red")), f" {c.id}: {c.reason or ''}")
             for c in run.cases if c.status not in ("ok", "skipped") or (wide and c.status == "skipped")]
    if not wide:
        notes += [Text.assemble(("skipped", STATUS_STYLE["skipped"]), f" {n} case{'s' * (n > 1)}: {reason}")
                  for reason, n in Counter(c.reason or "" for c in run.cases if c.status == "skipped").items()]
    if not wide:
        notes += [Text.assemble(("phases", "bold"), f" {s.record.id}: " + ", ".join(
            f"{p} {_s(t.median)} s" for p, t in s.phases.items() if p not in PHASES)) for s in summaries
            if any(p not in PHASES for p in s.phases) and s.record.case.workload != PROFILE]  # a profile's: below
    notes += [Text.assemble(("contention", "yellow"), f" {s.record.id}: {note}")
              for s in summaries if (note := contention_note(s))]
    notes += [Text.assemble(("sweep", "yellow"), f" {short_sweep_note(*short)}") for short in short_sweeps(run)]
    notes += [Text.assemble(("quality", "red"), f" {s.record.id}: {gap.metric} {gap.value:.4g} against "
                            f"{gap.twin_value:.4g} on its CPU twin {gap.twin}, beyond the tolerance of "
                            f"{gap.tolerance:.2g}: the two do not compute the same result")
              for s in summaries if (gap := s.twin) and gap.beyond]
    if len(run.cases) > SHOWN:
        notes.insert(0, Text(f"The first {SHOWN:,} of {len(run.cases):,} cases are tabled (every failure is listed "
                             "below); `sizeup show --json` has them all, `sizeup fit` and `recommend` use them all."))
    return Group(table, *notes)


def _wide(summaries: list[CaseSummary], figures: list[tuple[str, fig.Figure]]) -> Table:
    """Every column, one row per case, skipped ones included."""
    used = list(dict.fromkeys([p for p in PHASES if any(p in s.phases for s in summaries)]
                              + [p for s in summaries for p in s.phases]))  # then a profile's marked phases
    table = Table(header_style="bold")
    names = ["case", "size", "thr", "status", *[f"{p} s" for p in used], "fit interval", "quality", "throughput",
             "fit CPU %", "peak memory", *(f.label for _, f in figures)]
    rated = any(s.throughput for s in summaries)  # else a column of nothing (tabular workloads count none)
    keep = [name != "throughput" or rated for name in names]
    for name in itertools.compress(names, keep):
        table.add_column(name, justify="left" if name in LEFT else "right", no_wrap=name in NO_WRAP)
    for s in summaries:
        cells = row(s, used) + [fig.text(f, s.figures.get((source, f.key))) for source, f in figures]
        table.add_row(*(cell if isinstance(cell, Text) else Text(cell) for cell in itertools.compress(cells, keep)))
    return table


def _narrow(summaries: list[CaseSummary], figures: list[tuple[str, fig.Figure]]) -> Table:
    """The columns that matter, within WIDTH: a section per workload, the fit's time and interval, quality,
    peak memory and the telemetry figures a source asks to plot (fit GPU %); a failed case says its status
    where its time would be."""
    figures = [(source, f) for source, f in figures if f.plot]
    # At least 70 wide: its title and caption wrap to its width (a profile's table has three columns).
    table = Table(header_style="bold", box=box.SIMPLE_HEAD, padding=(0, 1, 0, 1), pad_edge=False, collapse_padding=True,
                  min_width=70)
    # The intervals' confidence levels (they depend on the repeats), said once in the header: 75%, or 75-88%.
    levels = sorted({f"{s.phases['fit'].coverage:.0%}" for s in summaries if _interval(s.phases.get("fit"))})
    level = f" {levels[0]}" if len(levels) == 1 else f" {levels[0][:-1]}-{levels[-1]}" if levels else ""
    timed = "fit s" if any("fit" in s.phases for s in summaries) or not summaries else "run s"  # profiles: the job
    names = ["case", "size", "thr", timed, f"interval{level}", "quality", "memory", *(f.label for _, f in figures)]
    # Columns no row fills go: a thread count all share (said in the caption), and a profile's size, threads,
    # interval (one run) and quality (none), which sizeup does not set or measure.
    profiles = bool(summaries) and all(s.record.case.workload == PROFILE for s in summaries)
    empty = {"size", "thr"} if profiles else {"thr"} if _same_threads(summaries) is not None else set()
    if not any(_interval(s.phases.get("fit") or s.phases.get(WHOLE_RUN)) for s in summaries):
        empty.add(f"interval{level}")
    if profiles and not any(s.quality for s in summaries):
        empty.add("quality")
    keep = [i for i, name in enumerate(names) if name not in empty]
    for name in (names[i] for i in keep):
        # The case folds (a profile's is its command line, any length); the numbers stay whole.
        table.add_column(name, justify="left" if name.startswith(LEFT) else "right", no_wrap=name != "case")
    sections: dict[str, list[CaseSummary]] = {}  # per workload, in the order the run first met it
    for s in summaries:
        sections.setdefault(s.record.case.workload, [])
        if s.record.status != "skipped":
            sections[s.record.case.workload].append(s)
    for workload, cases in sections.items():
        if not cases:
            continue
        # One quality metric for the section: named once, in its own row (narrower rows).
        metrics = {s.quality.metric for s in cases if s.quality}
        metric = next(iter(metrics)) if len(metrics) == 1 else None
        # With its target, where its cases share one: what a ✓ or ✗ below is against.
        targets = {quality_target(s.record.workload_info) for s in cases}
        target = next(iter(targets)) if len(targets) == 1 else None
        cells = [Text(workload, style="bold"), *[""] * (len(names) - 1)]
        bar = f"\n{target.bound}" if target and target.metric == metric else ""  # under the metric: a narrow column
        cells[names.index("quality")] = Text(f"{metric or ''}{bar}", style="bold")
        table.add_row(*(cells[i] for i in keep))
        # Params that tell the section's cases apart follow the name (trees=50); those all share do not.
        common = set.intersection(*(set(s.record.case.params_said()) for s in cases))
        for s in cases:
            said = [p for p in s.record.case.params_said() if p not in common]
            cells = _narrow_row(s, named=metric is None, params=said)
            cells += [fig.text(f, s.figures.get((source, f.key))) for source, f in figures]
            table.add_row(*(Text(cell) if isinstance(cell, str) else cell for cell in (cells[i] for i in keep)))
    return table


def _same_threads(summaries: Sequence[CaseSummary]) -> int | None:
    """The thread count of every case tabled, where they share one (a profile sets none)."""
    threads = {s.record.case.threads for s in summaries if s.record.status != "skipped"}
    profiled = any(s.record.case.workload == PROFILE for s in summaries)
    return next(iter(threads)) if len(threads) == 1 and not profiled else None


def _narrow_row(s: CaseSummary, named: bool = True, params: Sequence[str] = ()) -> list[str | Text | Ident]:
    record, case = s.record, s.record.case
    profiled = case.workload == PROFILE  # one job as it is: no data size or thread count set by sizeup
    name = Ident(f" {case.model}@{case.backend}" + "".join(f",{p}" for p in params), hang=2)
    cells: list[str | Text | Ident] = [name, "" if profiled else f"{case.size:,}",
                                       "" if profiled else str(case.threads)]
    if record.status != "ok":  # a profile stopped or failed keeps what it measured until then: said with it
        ran = record.runs[0].phases.get(WHOLE_RUN) if record.runs and profiled else None
        kept = f"{_s(ran)} " if ran is not None else ""
        memory = _memory(record.telemetry.get("peak_memory_bytes")) if kept else ""
        return cells + [Text(f"{kept}{record.status}", STATUS_STYLE.get(record.status, "red")), "", "", memory]
    fit = s.phases.get("fit") or s.phases.get(WHOLE_RUN)
    contended = "!" if s.contention and s.contention.counted else ""
    cells.append("" if fit is None else f"{_s(fit.median)}{'~' if fit.noisy else ''}{contended}")
    cells.append(f"{_s(fit.lo)}-{_s(fit.hi)}" if _interval(fit) else "")
    text, met = quality(s, named)
    cells.append(Text.assemble(text, {True: (" ✓", "green"), False: (" ✗", "red"), None: ""}[met]))
    cells.append(_memory(record.telemetry.get("peak_memory_bytes")))
    return cells


def to_json(run: RunResult) -> dict[str, Any]:
    """What `show` prints, every column, as numbers: `sizeup show --json`."""
    def stats(t: Any) -> dict[str, float]:
        return {"median": t.median, "lo": t.lo, "hi": t.hi, "coverage": t.coverage, "iqr": t.iqr, "n": t.n}

    cases = []
    for s in (summarize(c, run.cases) for c in run.cases):
        r = s.record
        q = s.quality
        cases.append({"id": r.id, "status": r.status, "reason": r.reason,
                      "phases": {p: stats(t) for p, t in s.phases.items()},
                      "quality": None if q is None else {"metric": q.metric, "median": q.median, "met": q.met,
                                                         "missing": list(q.missing)},
                      "throughput": None if s.throughput is None else {"per_s": s.throughput[0],
                                                                       "unit": s.throughput[1]},
                      "fit_cpu_percent": s.fit_cpu_percent,
                      "peak_memory_bytes": r.telemetry.get("peak_memory_bytes"),
                      "contention": None if s.contention is None else vars(s.contention),
                      "figures": {f"{source}.{key}": v for (source, key), v in s.figures.items()}})
    return {"run_id": run.run_id, "machine": run.machine.get("id"), "complete": run.complete, "cases": cases}


def row(s: CaseSummary, phases: list[str]) -> list[str | Text]:
    """Cells as plain text (nothing from a result is read as markup); styles come as Text."""
    record, case = s.record, s.record.case
    cells: list[str | Text] = [f"{case.workload}/{case.model}@{case.backend}", f"{case.size:,}", str(case.threads)]
    style = STATUS_STYLE.get(record.status, "red")
    if record.status != "ok":  # the reason follows the table, unwrapped
        return cells + [Text(record.status, style)] + [""] * (len(phases) + 5)
    cells.append(Text("ok", style))
    contended = "!" if s.contention and s.contention.counted else ""
    for phase in phases:
        t = s.phases.get(phase)
        cells.append("" if t is None else f"{_s(t.median)}{'~' if t.noisy else ''}{contended}")
    fit = s.phases.get("fit")
    cells.append(f"{_s(fit.lo)}-{_s(fit.hi)} {fit.coverage:.0%}" if _interval(fit) else "")
    text, met = quality(s)
    cells.append(Text.assemble(text, {True: (" ✓", "green"), False: (" ✗", "red"), None: ""}[met]))
    cells += [throughput(s), "" if s.fit_cpu_percent is None else f"{s.fit_cpu_percent:.0f}",
              _mib(record.telemetry.get("peak_memory_bytes"))]
    return cells


def _interval(t: Any) -> bool:
    """Whether a phase's times give an interval: one run alone covers its median with no confidence (8.21-8.21)."""
    return t is not None and t.coverage > 0


def _s(x: float) -> str:
    """Three figures (1,490 from 1,000 up); under a millisecond, two and an exponent, to stay narrow."""
    return seconds(x) if x >= 0.001 else f"{x:.1e}"


def _memory(value: Any) -> str:
    """189 MiB, 1.61 GiB: three figures at most."""
    return "" if not value else f"{value / 2**30:.3g} GiB" if value >= 2**30 else f"{value / 2**20:.0f} MiB"


def _mib(value: Any) -> str:
    return "" if not value else f"{value / 2**20:,.0f} MiB"


def _caption(run: RunResult, wide: bool, summaries: Sequence[CaseSummary]) -> str:
    counts: dict[str, int] = {}
    for c in run.cases:
        counts[c.status] = counts.get(c.status, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in counts.items())
    if not wide and (threads := _same_threads(summaries)):  # said once, not in a column of one number
        summary += f"; every case that ran used {threads} thread{'s' * (threads > 1)}"
    repeats = run.settings.get("repeats")
    more = "" if wide else " Every phase, throughput and fit CPU: --wide; all of it as numbers: --json."
    if run.cases and all(c.case.workload == PROFILE for c in run.cases):
        marked = any(p != WHOLE_RUN for c in run.cases for r in c.runs for p in r.phases)
        # what follows may be 'too short to say' or 'no VM' (a job that failed): nothing more is promised
        return (f"{summary}. A profile: the job's one run, timed whole ('run'); "
                f"{'its phases and ' if marked else ''}what sizeup can say of it follow{'' if marked else 's'}.")
    quality = " Quality: ✓/✗ against the workload's target." if any(quality_target(c.workload_info)
                                                                  for c in run.cases) else ""
    times = (f"medians of {repeats} warm repeat{'s' * (repeats != 1)}, disturbed ones left out where enough clean "
             "ones remain" if repeats != 0 else "the cold run's alone (--repeats 0: start-up costs in every one)")
    return (f"{summary}. Times: {times}; '~' marks IQR/median > 10% (of three or more repeats), '!' figures taken "
            "under contention. The interval holds the fit's median with the confidence its header gives "
            f"(distribution-free: 50% from two repeats, 75% from three, 88% from four).{quality}{more}")
