"""`sizeup report`: one self-contained HTML file (plots embedded as PNG, no scripts) and a Markdown
summary of result files: time per configuration, CPU against GPU, time and memory against size
with their fits, thread scaling, and one case's utilization over time.

Plots are made with matplotlib's Agg backend, so no display is needed; the HTML fetches nothing.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from harness import frame, predictions
from harness.results import write_atomic

STYLE = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}"
         "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}"
         "img{max-width:100%;border:1px solid #eee}")


def build(loaded: Sequence[frame.Loaded], out: Path) -> tuple[Path, Path]:
    """Write `<out>.html` and `<out>.md`; returns both paths."""
    import matplotlib

    matplotlib.use("Agg")
    rows = frame.rows(loaded)
    sections: list[tuple[str, str, str | None]] = []  # (title, markdown, png base64)
    sections.append(("Time per configuration", _median_table(rows), _png(_fit_times(rows))))
    models = predictions.size_models(rows) if not rows.empty else []
    if models:
        summary = "\n".join(f"- `{m.family}`: {m.time.curve.kind}, exponent {m.time.curve.exponent:.2f}, LOO error "
                            f"{np.expm1(m.time.loo_error):.0%}" + (f"; memory {m.memory.per_item:,.0f} B per item"
                                                                   if m.memory else "") for m in models)
        crossing = "\n".join(f"- `{gpu}` against `{cpu}`: {cross.describe(unit)}"
                             for cpu, gpu, cross, unit in predictions.crossovers(models))
        sections.append(("Time and memory against size", summary + ("\n" + crossing if crossing else ""),
                         _png(_scaling(models))))
    threads = predictions.thread_models(rows) if not rows.empty else []
    if threads:
        sections.append(("Thread scaling", "\n".join(f"- `{key}`: serial fraction {fit.serial:.2f} "
                                                     f"[{fit.serial_lo:.2f}-{fit.serial_hi:.2f}]"
                                                     for key, fit, _ in threads), _png(_threads(threads))))
    busiest = _busiest_case(loaded)
    if busiest is not None:
        record, path = busiest
        sections.append((f"Utilization over time: {record.id}", f"from `{path}`", _png(_utilization(record))))
    title = "sizeup report: " + ", ".join(sorted({item.run.run_id for item in loaded}))
    html_path, md_path = out.with_suffix(".html"), out.with_suffix(".md")
    write_atomic(html_path, _html(title, sections))
    write_atomic(md_path, "\n\n".join([f"# {title}"] + [f"## {t}\n\n{md}" for t, md, _ in sections]) + "\n")
    return html_path, md_path


def _median_table(rows: pd.DataFrame) -> str:
    if rows.empty:
        return "No finished case."
    table = rows.groupby(["case_id"]).agg(fit_s=("fit_s", "median"), quality=("quality", "median"),
                                          metric=("metric", "first"), repeats=("fit_s", "size"))
    lines = ["| case | fit median (s) | quality | repeats |", "|---|---|---|---|"]
    lines += [f"| `{case}` | {r.fit_s:.4g} | {r.metric} {r.quality:.3g} | {r.repeats} |" for case, r in table.iterrows()]
    return "\n".join(lines)


def _figure(width: float = 9, height: float = 4, columns: int = 1) -> tuple:
    import matplotlib.pyplot as plt

    return plt.subplots(1, columns, figsize=(width, height), dpi=100)


def _png(fig) -> str | None:
    import matplotlib.pyplot as plt

    if fig is None:
        return None
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _fit_times(rows: pd.DataFrame):
    if rows.empty:
        return None
    medians = rows.groupby("case_id")["fit_s"].median().sort_values()
    fig, ax = _figure(9, max(2.5, 0.3 * len(medians)))
    ax.barh(range(len(medians)), medians.to_numpy(),
            color=["tab:orange" if "cuda" in c or "rapids" in c or "cupy" in c else "tab:blue" for c in medians.index])
    ax.set_yticks(range(len(medians)), medians.index, fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("fit time, median of warm repeats (s); orange: GPU")
    return fig


def _scaling(models: Sequence[predictions.SizeModel]):
    fig, (times, memory) = _figure(11, 4.5, columns=2)
    for m in models:
        n = np.asarray(m.time.sizes)
        line, = times.plot(n, m.time.medians, "o", label=m.family, markersize=4)
        grid = np.geomspace(n.min(), n.max() * 4, 50)
        times.plot(grid, m.time.curve(grid), "-", color=line.get_color(), linewidth=1)
        if m.memory:
            memory.plot(grid, [m.memory(x) / 2**30 for x in grid], "-", color=line.get_color(), linewidth=1)
    for ax, label in ((times, "fit time (s)"), (memory, "peak memory, fitted (GiB)")):
        ax.set_xscale("log")
        ax.set_xlabel("size (points measured; lines: the fits, to 4x past)")
        ax.set_ylabel(label)
    times.set_yscale("log")
    times.legend(fontsize=6)
    return fig


def _threads(threads: Sequence) -> object:
    fig, ax = _figure(7, 4)
    for key, fit, _ in threads:
        ax.plot(fit.threads, fit.efficiency(), "o-", label=key)
    ax.set_xlabel("threads")
    ax.set_ylabel("parallel efficiency")
    ax.set_ylim(0, 1.1)
    ax.legend(fontsize=6)
    return fig


def _busiest_case(loaded: Sequence[frame.Loaded]):
    cases = [(r, item.path) for item in loaded for r in item.run.cases
             if r.status == "ok" and (r.telemetry.get("series") or {}).get("t")]
    return max(cases, key=lambda pair: pair[0].wall_s) if cases else None


def _utilization(record) -> object:
    series = record.telemetry["series"]
    t = np.asarray(series["t"]) - series["t"][0]
    fig, cpu = _figure(9, 3.5)
    cpu.plot(t, series.get("cpu_percent", [np.nan] * len(t)), label="CPU % (100 = one core)", color="tab:blue")
    cpu.set_xlabel("seconds since the worker started")
    cpu.set_ylabel("CPU %")
    memory = cpu.twinx()
    memory.plot(t, np.asarray(series.get("memory_bytes", [np.nan] * len(t))) / 2**20, color="tab:green",
                label="memory (MiB)")
    memory.set_ylabel("memory (MiB)")
    for run in record.runs:
        for phase, (start, _) in (run.get("spans") or {}).items():
            if phase == "fit":
                cpu.axvline(start - series["t"][0], color="grey", linewidth=0.5)
    cpu.set_title("grey lines: each repeat's fit starts", fontsize=8)
    return fig


def _html(title: str, sections: Sequence[tuple[str, str, str | None]]) -> str:
    body = []
    for heading, markdown, png in sections:
        body.append(f"<h2>{html.escape(heading)}</h2>")
        body.append(_markdown_html(markdown))
        if png:
            body.append(f'<img alt="{html.escape(heading)}" src="data:image/png;base64,{png}">')
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{''.join(body)}</body></html>\n")


def _markdown_html(markdown: str) -> str:
    """The few Markdown forms the summaries use (tables, bullets, paragraphs) as HTML."""
    out, rows = [], []
    for line in markdown.splitlines() + [""]:
        if line.startswith("|"):
            if not set(line) <= set("|-"):
                rows.append([html.escape(c.strip().strip("`")) for c in line.strip("|").split("|")])
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
