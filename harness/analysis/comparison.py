"""`sizeup compare`: runs against a baseline, and a run's GPU cases against their CPU twins."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from harness.analysis import frame
from harness.run.backends import BACKENDS
from harness.analysis.significance import ADVICE, ALPHA, Difference, difference, instability, samples

VERDICT_STYLE = {"slower": "red", "faster": "green", "same": "", "undecided": "yellow", "not comparable": "yellow"}


@dataclass(frozen=True)
class CaseComparison:
    case_id: str
    a_median: float
    b_median: float
    difference: Difference | None  # None where the two are not comparable
    notes: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return self.difference.verdict if self.difference else "not comparable"


def compare_sets(a: pd.DataFrame, b: pd.DataFrame, phase: str = "fit", alpha: float = ALPHA) -> list[CaseComparison]:
    """Every case measured in both (by case id): B against A on `phase` time."""
    column = f"{phase}_s"
    out = []
    sizes = dict(zip(a["case_id"], a["size"]))
    families = dict(zip(a["case_id"], a["family"]))
    for case_id in sorted(set(a["case_id"]) & set(b["case_id"]), key=lambda c: (families[c], sizes[c])):
        ra, rb = a[a["case_id"] == case_id], b[b["case_id"] == case_id]
        xa, xb = samples(ra, column), samples(rb, column)
        if not xa or not xb:
            continue
        notes = [f"{side} unstable: {', '.join(flags)}" for side, x in (("A", xa), ("B", xb))
                 if (flags := instability(x))]
        blockers = _mismatch(ra, rb)
        result = None if blockers else difference(xa, xb, alpha)
        out.append(CaseComparison(case_id, float(np.median(xa)), float(np.median(xb)), result, blockers + notes))
    return out


def _mismatch(a: pd.DataFrame, b: pd.DataFrame) -> list[str]:
    """Why two sets of rows of one case must not be compared: other data, other params, or mixed within a side."""
    said = []
    for side, rows in (("A", a), ("B", b)):
        if rows["data_sha256"].nunique() > 1:
            said.append(f"{side} pools runs over different data (data_sha256 differs between its files)")
    ha, hb = set(a["data_sha256"].dropna()), set(b["data_sha256"].dropna())
    if ha and hb and not ha & hb:
        said.append("the data differ (data_sha256): the generator or its params changed")
    pa, pb = set(a["params"]), set(b["params"])
    if pa != pb:
        said.append("the workload params differ")
    return said


def failures(comparisons: Sequence[CaseComparison], threshold: float) -> list[CaseComparison]:
    """Real slowdowns larger than `threshold` (0.10 = 10%)."""
    return [c for c in comparisons if c.verdict == "slower" and c.difference.ratio - 1 > threshold]


def render_comparison(name_a: str, name_b: str, comparisons: Sequence[CaseComparison], phase: str,
                      machine_notes: Sequence[str], only: tuple[int, int]) -> RenderableType:
    table = Table(title=Text(f"{phase} time, B = {name_b} against A = {name_a}"), header_style="bold")
    for column in ("case", "A median", "B median", "B/A [95% interval]", "p", "verdict", "notes"):
        table.add_column(column, no_wrap=column in ("case", "B/A [95% interval]"))
    for c in comparisons:
        d = c.difference
        table.add_row(Text(c.case_id), f"{c.a_median:.4g} s", f"{c.b_median:.4g} s", d.describe() if d else "",
                      f"{d.p:.2g}" if d else "", Text(c.verdict, style=VERDICT_STYLE[c.verdict]),
                      Text("; ".join(([d.why] if d and d.verdict == "undecided" else []) + c.notes)))
    parts: list[RenderableType] = [table]
    if any("unstable" in note for c in comparisons for note in c.notes):
        parts.append(Text(ADVICE))
    if only[0] or only[1]:
        parts.append(Text(f"Not in both: {only[0]} case(s) only in A, {only[1]} only in B."))
    if machine_notes:
        parts.append(Text("Warning: the machines or libraries differ, so differences may come from them: "
                          + "; ".join(machine_notes), style="yellow"))
    return Group(*parts)


@dataclass(frozen=True)
class DevicePair:
    workload: str
    model: str
    cpu: str  # case ids
    gpu: str
    measure: str  # "time" (same size) or the throughput unit (different sizes)
    speedup: Difference  # ratio = how many times faster the GPU is
    quality_cpu: float | None
    quality_gpu: float | None
    energy_j: float | None  # per warm fit on the GPU
    gpu_util: float | None


def device_pairs(rows: pd.DataFrame) -> list[DevicePair]:
    """Each GPU case against its CPU twin: the same size when measured (fit time), else the largest
    CPU size (throughput, items per second: vision and NLP CPU baselines train on fewer items)."""
    pairs = []
    for gpu_id, g in rows.groupby("case_id", sort=True):
        first = g.iloc[0]
        twin = BACKENDS.get(first["backend"]) and BACKENDS[first["backend"]].twin
        if not twin:
            continue
        cpu = rows[(rows["workload"] == first["workload"]) & (rows["model"] == first["model"])
                   & (rows["backend"] == twin) & (rows["params"] == first["params"])]
        if cpu.empty:
            continue
        same = cpu[cpu["size"] == first["size"]]
        if not same.empty:
            c, measure = same, "time"
            speedup = difference(samples(g), samples(c))  # cpu time / gpu time
        else:
            c = cpu[cpu["size"] == cpu["size"].max()]
            measure = f"{first['size_unit']}/s"
            # Items per second, as times for the same amount of work: seconds per item.
            speedup = difference([t / first["size"] for t in samples(g)],
                                 [t / c.iloc[0]["size"] for t in samples(c)])
        pairs.append(DevicePair(first["workload"], first["model"], c.iloc[0]["case_id"], gpu_id, measure, speedup,
                                _median(c["quality"]), _median(g["quality"]), first["fit_energy_j"],
                                first["fit_gpu_util_pct"]))
    return pairs


def _median(values: pd.Series) -> float | None:
    values = values.dropna()
    return float(values.median()) if len(values) else None


def render_devices(pairs: Sequence[DevicePair]) -> RenderableType:
    if not pairs:
        return Text("No GPU case with a CPU twin in these results: run on a GPU machine (the `gpu` suite), "
                    "or compare with a reference result under results/reference/.")
    table = Table(title=Text("GPU against its CPU twin (fit)"), header_style="bold")
    for column in ("GPU case", "CPU case", "by", "speed-up [95% interval]", "verdict", "quality CPU -> GPU",
                   "GPU util %", "energy per fit"):
        table.add_column(column)
    for p in pairs:
        q = (f"{p.quality_cpu:.4g} -> {p.quality_gpu:.4g}" if p.quality_cpu is not None
             and p.quality_gpu is not None else "")
        verdict = {"slower": "GPU faster", "faster": "CPU faster"}.get(p.speedup.verdict, p.speedup.verdict)
        table.add_row(Text(p.gpu), Text(p.cpu), p.measure, p.speedup.describe(), verdict, q,
                      "" if p.gpu_util is None else f"{p.gpu_util:.0f}",
                      "" if p.energy_j is None else f"{p.energy_j:.3g} J")
    return table


def machine_notes(a: Sequence[frame.Loaded], b: Sequence[frame.Loaded]) -> list[str]:
    notes: list[str] = []
    for x in a[:1]:
        for y in b:
            notes += [n for n in frame.machine_differences(x.run, y.run) if n not in notes]
    return notes
