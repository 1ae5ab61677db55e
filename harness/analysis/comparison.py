"""`sizeup compare`: runs against a baseline, and a run's GPU cases against their CPU twins (computed here,
rendered by harness.present.compare)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from harness.analysis import frame
from harness.analysis.significance import ALPHA, Difference, difference, instability, samples
from harness.records import Case


@dataclass(frozen=True)
class CaseComparison:
    case_id: str
    case: Case
    a_median: float
    b_median: float
    difference: Difference | None  # None where the two are not comparable
    notes: list[str] = field(default_factory=list)
    unstable: bool = False  # either side's timings fail pyperf's stability rules (see notes)

    @property
    def verdict(self) -> str:
        return self.difference.verdict if self.difference else "not comparable"


def compare_sets(a: pd.DataFrame, b: pd.DataFrame, phase: str = "fit", alpha: float = ALPHA) -> list[CaseComparison]:
    """Every case measured in both (by case id): B against A on `phase` time."""
    column = f"{phase}_s"
    out = []
    if column not in a or column not in b:  # a phase a side never timed (a profile's own, asked of a benchmark)
        return out
    sizes = dict(zip(a["case_id"], a["size"]))
    configs = dict(zip(a["case_id"], a["config"]))
    cases = dict(zip(a["case_id"], a["case"]))
    for case_id in sorted(set(a["case_id"]) & set(b["case_id"]), key=lambda c: (configs[c], sizes[c])):
        ra, rb = a[a["case_id"] == case_id], b[b["case_id"] == case_id]
        xa, xb = samples(ra, column), samples(rb, column)
        if not xa or not xb:
            continue
        notes = [f"{side} unstable: {', '.join(flags)}" for side, x in (("A", xa), ("B", xb))
                 if (flags := instability(x))]
        blockers = _mismatch(ra, rb)
        result = None if blockers else difference(xa, xb, alpha)
        out.append(CaseComparison(case_id, cases[case_id], float(np.median(xa)), float(np.median(xb)), result,
                                  blockers + notes, bool(notes)))
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
    """Each GPU case against its CPU twin: the same work (params that say only how it runs, such as a batch size
    or a precision, may differ), at the same size when measured (fit time), else the largest CPU size
    (throughput, items per second: vision and NLP CPU baselines train on fewer items)."""
    pairs = []
    for gpu_id, g in rows.groupby("case_id", sort=True):
        first = g.iloc[0]
        twin = first["twin"]
        if not twin:
            continue
        cpu = rows[(rows["workload"] == first["workload"]) & (rows["model"] == first["model"])
                   & (rows["backend"] == twin) & (rows["work"] == first["work"])]
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


def machine_notes(a: Sequence[frame.Loaded], b: Sequence[frame.Loaded]) -> list[str]:
    notes: list[str] = []
    for x in a[:1]:
        for y in b:
            notes += [n for n in frame.machine_differences(x.run, y.run) if n not in notes]
    return notes
