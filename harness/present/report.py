"""`sizeup report`: one self-contained HTML file (plots embedded as PNG, no scripts) and a Markdown
summary of result files: time per configuration, CPU against GPU, time and memory against size
with their fits, thread scaling, and one case's utilization over time.

Plots (harness.present.plots) are embedded as PNG; the HTML fetches nothing.
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from harness.analysis import backtest, comparison, frame
from harness.analysis.compute import Analysis, case_medians, configuration_times, spark_medians, spark_rows
from harness.analysis.fits import SizeModel, ThreadModel
from harness.errors import SizeupError
from harness.present import calibration, plots
from harness.present.profiled import should_run_on
from harness.present.recommend import cost_text, frontier_lines, time_text
from harness.records import PROFILE, WHOLE_RUN, CaseRecord, figures, write_atomic
from harness.sizing import profiled, recommend
from harness.sizing.catalog import VM
from harness.sizing.findings import BETTER_UNFITTED, TOO_FEW_SIZES

CELL = re.compile(r"(?<!\\)\|")  # a Markdown cell boundary: a "|" not escaped as "\\|"
STYLE = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}"
         "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}"
         "img{max-width:100%;border:1px solid #eee}")


def build(analysis: Analysis, picks: Sequence[recommend.Pick], out: Path,
          case_id: str | None = None, vms: Sequence[VM] | None = None) -> tuple[Path, Path]:
    """Write `<out>.html` and `<out>.md` of `analysis` and its per-task recommendations; returns both paths.
    `vms`: the catalog a profiled job is judged against (default: the shipped one)."""
    plots.setup()
    rows, loaded = analysis.rows, analysis.loaded
    sections: list[tuple[str, str, str | None]] = []  # (title, markdown, png base64)
    if not profiles_only(loaded):
        sections.append(("Recommendations", _recommendations(picks), None))
        trained = rows[rows["workload"] != PROFILE] if not rows.empty else rows  # a profile's job has no fit phase
        sections.append(("Time per configuration", _median_table(trained), plots.png(_fit_times(trained))))
        pairs = analysis.pairs()
        sections.append(("CPU against GPU", _devices(pairs), plots.png(_speedups(pairs))))
    if not rows.empty and rows["distributed"].any():
        sections.append(("Spark against a single node", _spark(analysis), plots.png(_spark_plot(rows))))
    models = [(f"{m.config}{analysis.tag(fitted.machine)}", m) for fitted in analysis.machines for m in fitted.sizes]
    if models:
        summary = "\n".join(f"- `{label}`: {m.time.curve.kind}, exponent {m.time.curve.exponent:.2f}, LOO error "
                            f"{np.expm1(m.time.loo_error):.0%}" + (f"; memory {m.memory.per_item:,.0f} B per item"
                                                                   if m.memory else "") for label, m in models)
        crossing = "\n".join(f"- `{c.gpu}` against `{c.cpu}`: {c.found.describe(c.unit)}"
                             for m in analysis.machines for c in m.crossings)
        sections.append(("Time and memory against size", summary + ("\n" + crossing if crossing else ""),
                         plots.png(_scaling(models))))
        own = [b for m in analysis.machines for b in m.backtests]
        held = backtest.judge(own, backtest.calibration(own))
        spread = backtest.scatter(m.time for m in analysis.sizes())
        sections.append(("Calibration: how sure the predictions are", calibration.markdown(held, spread), None))
    threads = [(f"{t.key}{analysis.tag(m.machine)}", t) for m in analysis.machines for t in m.threads]
    if threads:
        sections.append(("Thread scaling", "\n".join(f"- `{label}`: serial fraction {t.fit.serial:.2f} "
                                                     f"[{t.fit.serial_lo:.2f}-{t.fit.serial_hi:.2f}]"
                                                     for label, t in threads), plots.png(_threads(threads))))
    if telemetry := _telemetry(loaded):
        sections.append(("Telemetry sources", telemetry, None))
    chosen = _chosen_case(loaded, case_id)
    if chosen is not None and chosen[0].case.workload != PROFILE:  # a profile is drawn in its own section below
        record, path = chosen
        sections.append((f"Utilization over time: {record.id}", _phases(record, path), plots.png(_utilization(record))))
    for item in loaded:  # `sizeup profile`: what held each job back
        if item.run.cases and item.run.cases[0].case.workload == PROFILE:  # a profile: its one case
            judged = profiled.judged(item.run, vms)
            record = judged.record
            found = judged.findings
            text = (f"- {judged.short}: too short to say what held it back or what it should run on"
                    if found is None else "\n".join(f"- `{f.code}`: {f.message}" for f in found)
                    or "- nothing that sizeup looks for")
            sampled = bool((record.telemetry.get("series") or {}).get("t"))
            attached = record.telemetry.get("attached")
            ran = (f"pid {attached['pid']} sampled {record.wall_s:.1f} s, until {attached['ended']}" if attached
                   else f"{record.wall_s:.1f} s, exit code {record.exit.get('returncode')}")
            advice = "\n".join(f"- {line.text.strip()}" for line in should_run_on(judged))
            sections.append((f"Profile: {record.id}", f"`{record.params.get('command')}`: {ran}\n\n{text}"
                             + (f"\n\nWhat it should run on:\n\n{advice}" if advice else "")
                             + (f"\n\nPhases, {_phases(record, item.path)}" if sampled else ""),
                             plots.png(_utilization(record)) if sampled else None))
    title = "sizeup report: " + ", ".join(sorted({item.run.run_id for item in loaded}))
    html_path, md_path = out.with_suffix(".html"), out.with_suffix(".md")
    write_atomic(html_path, _html(title, sections))
    write_atomic(md_path, "\n\n".join([f"# {html.escape(title, quote=False)}"] + [
        f"## {html.escape(t, quote=False)}\n\n{md}" for t, md, _ in sections]) + "\n")  # names: text, not HTML
    return html_path, md_path


def profiles_only(loaded: Sequence[frame.Loaded]) -> bool:
    """Results of `sizeup profile` alone: no benchmark to size from, time per configuration or GPU twins to speak of."""
    cases = [r for item in loaded for r in item.run.cases]
    return bool(cases) and all(r.case.workload == PROFILE for r in cases)


def _recommendations(picks: Sequence[recommend.Pick]) -> str:
    if not picks:
        return ("No workload was measured at three sizes, so there is nothing to size from (`sizeup run --suite "
                "sizing`, or `sizeup recommend results/reference`).")
    contended = sum(p.contended for p in picks)
    warning = ([f"{contended} measurement(s) were taken while other processes used the CPU; run again on a quiet "
                "machine.", ""] if contended else [])
    lines = warning + [
             "Per workload, for the configurations of its newest sizing run, on that run's machine, at "
             f"{recommend.SCALE:g}x the largest size that run reached with all of them (for your own data, `run "
             f"--data`, at its whole size): the cheapest configuration whose quality is within "
             f"{recommend.QUALITY_TOLERANCE} of the best measured "
             f"({recommend.QUALITY_TOLERANCE:.0%} of an error metric's best, such as WAPE), compared at the largest "
             "size both measured, or a more confident one whose cost interval reaches its own. "
             "`sizeup recommend --workload W --size N` ranks every option at your size (N in the workload's unit).", "",
             "Time and cost are of training (the fit phase) alone, not loading or feature steps.", "",
             "| workload | size | VM | configuration | quality | fit time per run [95%] | $ per run [95%] "
             "| confidence |",
             "|---|---|---|---|---|---|---|---|"]
    evidence, frontier = [], []
    for p in picks:
        size = f"{p.found.size:,.0f} {p.found.unit}"
        o = p.pick
        if p.code == BETTER_UNFITTED:  # the better model, its quality, and why it has no time
            lines.append(_row(p.workload, size, "", f"`{p.better.config}`", p.better_quality, "too few sizes", "", ""))
            continue
        if o is None:
            time = "too few sizes" if p.code == TOO_FEW_SIZES else ""
            lines.append(_row(p.workload, size, "", p.note, "", time, "", ""))
            continue
        lines.append(_row(p.workload, size, o.vm, f"`{o.config}`{p.on}", o.quality, time_text(o), cost_text(o),
                          o.confidence))
        evidence += [f"- {p.workload}, {o.vm}: {e.message}" for e in o.evidence]
        evidence += [f"- {p.workload}, rule: {r.message}" for r in p.found.rules[1:]]
        frontier += [f"- {p.workload} at {size}: {line}" for line in frontier_lines(p.found.options)]
    if frontier:  # a section with nothing under it is left out (no pick: no option to weigh)
        lines += ["", "Quality against cost: per workload, the options that no other beats on both, cheapest first:",
                  *frontier]
    if evidence:
        lines += ["", "Evidence and rules:", *evidence]
    return "\n".join(lines)


def _devices(pairs: Sequence[comparison.DevicePair]) -> str:
    if not pairs:
        return ("No GPU case with a CPU twin in these results: run the `gpu` suite on a GPU machine, which measures "
                "each GPU case next to its CPU twin on the same host (a GPU is never set against another "
                "machine's CPU).")
    lines = ["| GPU case | CPU case | by | GPU speed-up [95%] | quality CPU -> GPU | GPU util % |", "|---|---|---|---|---|---|"]
    for p in pairs:
        quality = (f"{p.quality_cpu:.4g} -> {p.quality_gpu:.4g}"
                   if p.quality_cpu is not None and p.quality_gpu is not None else "")
        util = "" if p.gpu_util is None else f"{p.gpu_util:.0f}"
        lines.append(_row(f"`{p.gpu}`", f"`{p.cpu}`", p.measure, p.speedup.describe(), quality, util))
    return "\n".join(lines)


def _speedups(pairs: Sequence[comparison.DevicePair]):
    if not pairs:
        return None
    fig, ax = plots.figure(9, max(2.5, 0.35 * len(pairs)))
    ratios = np.array([p.speedup.ratio for p in pairs])
    errors = np.array([[0.0 if p.speedup.lo is None else p.speedup.ratio - p.speedup.lo for p in pairs],  # none: no bar
                       [0.0 if p.speedup.hi is None else p.speedup.hi - p.speedup.ratio for p in pairs]])
    ax.barh(range(len(pairs)), ratios, xerr=errors, color=["tab:orange" if r > 1 else "tab:blue" for r in ratios])
    ax.axvline(1, color="grey", linewidth=0.8)
    ax.set_yticks(range(len(pairs)), [p.gpu for p in pairs], fontsize=7)
    plots.log(ax, "x")
    ax.set_xlabel("GPU speed-up over its CPU twin (x, 95% interval); right of the grey line the GPU is faster")
    return fig


def _median_table(rows: pd.DataFrame) -> str:
    if rows.empty:
        return "No finished case."
    table = case_medians(rows)
    lines = ["| case | fit median (s) | quality | repeats |", "|---|---|---|---|"]
    lines += [_row(f"`{case}`", f"{figures.seconds(r.fit_s, 4)}{' !' if r.contended else ''}",
                   f"{r.metric} {r.quality:.3g}", r.repeats) for case, r in table.iterrows()]
    if table["contended"].any():
        lines += ["", "! every repeat of this case was disturbed by other processes: its time was taken under "
                      "contention (`sizeup show` says by how much)."]
    return "\n".join(lines)


def _spark(analysis: Analysis) -> str:
    table = spark_medians(analysis.rows)
    lines = ["Median fit time (s) on the same data at each size; Spark's data load (Parquet read and cache) and "
             "session start are separate phases, not in these times.", "",
             _row("workload", "size", *table.columns), "|---" * (len(table.columns) + 2) + "|"]
    for (workload, size), row in table.iterrows():
        lines.append(_row(workload, f"{int(size):,}", *("" if pd.isna(v) else f"{v:.3g}" for v in row)))
    lines.append("")
    for tag, fit in ((analysis.tag(m.machine), s) for m in analysis.machines for s in m.spark):
        lines.append(f"- `{fit.key}`{tag}: fixed cost {fit.time.fixed:.3g} s, {fit.time.parallel * 1e6:.3g} us per "
                     f"item per core; parallel efficiency {fit.time.efficiency(fit.sizes[1], fit.time.cores[1]):.0%} "
                     f"on {fit.time.cores[1]:g} cores at {fit.sizes[1]:,}")
    return "\n".join(lines)


def _spark_plot(rows: pd.DataFrame):
    fig, ax = plots.figure(9, 4)
    for (workload, label), g in spark_rows(rows).groupby(["workload", "label"]):
        medians = g.groupby("size")["fit_s"].median()
        ax.plot(medians.index, medians.to_numpy(), "o-" if g["distributed"].iloc[0] else "s--",
                label=f"{workload}: {label}")
    plots.log(ax, "x", "y")
    ax.set_xlabel("size")
    ax.set_ylabel("fit time, median (s)")
    ax.legend(fontsize=6)
    return fig


def _fit_times(rows: pd.DataFrame):
    if rows.empty:
        return None
    table = configuration_times(rows)
    if table.empty:  # profiles only: they have no fit phase
        return None
    fig, ax = plots.figure(9, max(2.5, 0.3 * len(table)))
    ax.barh(range(len(table)), table["fit_s"].to_numpy(), color=table["on_gpu"].map({True: "tab:orange",
                                                                                      False: "tab:blue"}).tolist())
    ax.set_yticks(range(len(table)), [f"{r.label} at {r.size:,} {r.unit}{' (!)' if r.contended else ''}"
                                      for r in table.itertuples()], fontsize=7)
    ax.invert_yaxis()  # the first workload on top, its fastest first
    plots.log(ax, "x")
    # in short lines, at the plot's right: long labels narrow the plot, and a centred line ran off the figure
    ax.set_xlabel("fit time (s), median of the warm repeats counted,\nat the largest size most of a workload's "
                  "configurations\nmeasured (else at each one's largest)"
                  + ("\n(!): every repeat disturbed: other processes used the CPU" if table["contended"].any() else "")
                  + ("\norange: GPU" if table["on_gpu"].any() else ""), loc="right")
    return fig


def _scaling(models: Sequence[tuple[str, SizeModel]]):
    fig, (times, memory) = plots.figure(11, 4.5, columns=2, legend_rows=(len(models) + 1) // 2)
    for label, m in models:
        n = np.asarray(m.time.sizes)
        line, = times.plot(n, m.time.medians, "o", label=label, markersize=4)
        grid = np.geomspace(n.min(), n.max() * 4, 50)
        times.plot(grid, m.time(grid), "-", color=line.get_color(), linewidth=1)
        if m.memory:
            memory.plot(grid, [m.memory(x) / 2**30 for x in grid], "-", color=line.get_color(), linewidth=1)
            memory.plot(m.memory.sizes, np.asarray(m.memory.peaks) / 2**30, "o", color=line.get_color(), markersize=4)
    for ax, label in ((times, "fit time (s)"), (memory, "peak memory (GiB)")):
        plots.log(ax, "x")
        ax.set_xlabel("size (points measured; lines: the fits, to 4x past)")
        ax.set_ylabel(label)
    memory.set_ylim(bottom=0)  # from zero: 0.03 GiB between two fits had filled the panel
    plots.log(times, "y")
    plots.legend_below(fig, times)
    return fig


def _threads(threads: Sequence[tuple[str, ThreadModel]]) -> object:
    fig, ax = plots.figure(7, 4)
    for label, t in threads:
        ax.plot(t.fit.threads, t.fit.efficiency(), "o-", label=label)
    ax.set_xlabel("threads")
    ax.set_ylabel("parallel efficiency")
    ax.set_ylim(0, 1.1)
    ax.legend(fontsize=6)
    return fig


def _chosen_case(loaded: Sequence[frame.Loaded], case_id: str | None):
    """The case to draw over time: the one named, else the longest (most to see) of those no repeat of which was
    disturbed (a 0.1 s fit whose one disturbed repeat took 41.9 s had been drawn, beside a phase table of 0.19 s)."""
    cases = [(r, item.path) for item in loaded for r in item.run.cases
             if r.status == "ok" and (r.telemetry.get("series") or {}).get("t")]
    if case_id is not None:
        named = [pair for pair in cases if pair[0].id == case_id]
        if not named:
            raise SizeupError(f"--case {case_id}: no finished case with a sampled series of that id in these results")
        return named[0]
    return max(cases, key=lambda pair: (not any(r.disturbed for r in pair[0].runs), pair[0].wall_s)) if cases else None


PHASE_COLOURS = {"startup": "tab:grey", "generate": "tab:olive", "features": "tab:cyan", "transfer": "tab:pink",
                 "fit": "tab:red", "predict": "tab:purple", "score": "tab:brown", "run": "tab:green"}
OWN_PHASE_COLOURS = ("tab:orange", "tab:cyan", "tab:purple", "tab:olive", "tab:pink", "tab:brown", "tab:red",
                     "tab:grey")


def _utilization(record: CaseRecord) -> object:
    """CPU and memory over time, then one panel per telemetry figure its source asked to plot, with the
    phases of every run as bands."""
    series = record.telemetry["series"]
    profiled = record.case.workload == PROFILE
    whole = record.runs[0].spans.get(WHOLE_RUN) if profiled and record.runs else None
    # a job's clock starts with it: a phase it marked before the first sample had started at a negative time
    origin = whole[0] if whole else series["t"][0]
    t = np.asarray(series["t"]) - origin
    panels = [(figure, lines) for source, figure in figures.declared(record.telemetry) if figure.plot
              and (lines := figures.series(record.telemetry, source, figure))]
    fig, axes = plots.figure(9, 3.5 + 2 * len(panels), rows=1 + len(panels))
    axes = list(np.atleast_1d(axes))
    cpu = axes[0]
    cpu.plot(t, series.get("cpu_percent", [np.nan] * len(t)), label="CPU % (100 = one core)", color="tab:blue")
    cpu.set_ylabel("CPU %")
    memory = cpu.twinx()
    memory.plot(t, np.asarray(series.get("memory_bytes", [np.nan] * len(t))) / 2**20, color="tab:green")
    memory.set_ylabel("memory (MiB), green")
    shown = set()
    # A job's own phases (load, train, epoch...): a colour each, in the order they first began (all had been grey)
    own = [p for p in dict.fromkeys(p for run in record.runs for p in run.spans) if p not in PHASE_COLOURS]
    colours = PHASE_COLOURS | dict(zip(own, itertools.cycle(OWN_PHASE_COLOURS)))
    for run in record.runs:  # each phase of each run as a band: which phase the machine was busy with
        for phase, (start, stop) in run.spans.items():
            if profiled and phase == WHOLE_RUN and len(run.spans) > 1:  # the whole run: it would hide the rest
                continue
            colour = colours[phase]
            for ax in axes:
                ax.axvspan(start - origin, stop - origin, color=colour, alpha=0.12, linewidth=0,
                           label=None if phase in shown or ax is not cpu else phase)
            shown.add(phase)
    cpu.set_ylim(bottom=0)
    cpu.legend(fontsize=7, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=8, frameon=False)
    for ax, (figure, lines) in zip(axes[1:], panels):
        for device, (times, readings) in lines.items():
            ax.plot(np.asarray(times) - origin, [np.nan if v is None else v for v in readings], label=device)
        ax.set_ylabel(f"{figure.value} ({figure.unit})" if figure.unit else figure.value)
        ax.legend(fontsize=6)
    marked = profiled and any(len(run.spans) > 1 for run in record.runs)
    axes[-1].set_xlabel("seconds since the job started" + ("; bands: the phases it marked" if marked else "")
                        if profiled else "seconds since the worker started; bands: phases of each run")
    return fig


def _phases(record: CaseRecord, path: Path) -> str:
    """Each phase's time (the median over the case's runs) and sampled CPU and memory, in words."""
    lines = [f"from `{path}`", "",
             "| phase | seconds | samples | CPU % mean (100 = one core) | CPU % p95 | memory peak (MiB) |",
             "|---|---|---|---|---|---|"]
    within = record.phase_parents()  # a profiled job's phase run inside another
    for phase, summary in record.telemetry.get("phases", {}).items():
        cpu, memory = summary.get("cpu_percent") or {}, summary.get("memory_bytes") or {}
        times = [r.phases[phase] for r in record.runs if phase in r.phases]
        if summary.get("samples"):
            label = f"{phase} (in {within[phase]})" if phase in within else phase
            lines.append(_row(label, figures.seconds(float(np.median(times))) if times else "", summary["samples"], *(
                f"{v:.0f}" if v is not None else "" for v in (cpu.get("mean"), cpu.get("p95"), memory["max"] / 2**20
                                                             if memory.get("max") is not None else None))))
    return "\n".join(lines)


def _telemetry(loaded: Sequence[frame.Loaded]) -> str:
    """Every figure the telemetry sources declared, per finished case that measured one."""
    lines = []
    for item in loaded:
        for record in item.run.cases:
            cells = [f"{figure.label}: {text}" for source, figure in figures.declared(record.telemetry)
                     if (text := figures.text(figure, figures.value(record.telemetry, source, figure)))]
            if record.status == "ok" and cells:
                lines.append(f"- `{record.id}`: " + "; ".join(cells))
    return "\n".join(lines)


def _html(title: str, sections: Sequence[tuple[str, str, str | None]]) -> str:
    body = []
    for heading, markdown, png in sections:
        body.append(f"<h2>{html.escape(heading)}</h2>")
        body.append(_markdown_html(markdown))
        if png:
            body.append(f'<img alt="{html.escape(heading)}" src="data:image/png;base64,{png}">')
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{''.join(body)}</body></html>\n")


def _row(*cells: object) -> str:
    """A Markdown table row; a '|' in a cell (a name from a file) is escaped, not a new cell."""
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def _markdown_html(markdown: str) -> str:
    """The few Markdown forms the summaries use (tables, bullets, paragraphs) as HTML."""
    out, rows = [], []
    for line in markdown.splitlines() + [""]:
        if line.startswith("|"):
            if not set(line) <= set("|-"):
                cells = CELL.split(line.strip()[1:-1])
                rows.append([html.escape(c.strip().strip("`").replace("\\|", "|")) for c in cells])
            continue
        if rows:
            head, *rest = rows
            out.append("<table><tr>" + "".join(f"<th>{c}</th>" for c in head) + "</tr>"
                       + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rest) + "</table>")
            rows = []
        if line.startswith("- "):
            out.append(f"<li>{html.escape(line[2:].replace('`', ''))}</li>")
        elif line:
            out.append(f"<p>{html.escape(line.replace('`', ''))}</p>")
    return "\n".join(out)
