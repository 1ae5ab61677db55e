"""A GPU case and its CPU twin: the same workload, model, size and parameters on the CPU backend
that does the same work. Their quality must agree, or the speed-up compares different results."""

from __future__ import annotations

from typing import Any

from harness.run.backends import BACKENDS
from harness.analysis.stats import quality_stats
from harness.records import CaseRecord

ABSOLUTE = 0.01  # metrics where higher is better live in [0, 1] (accuracy, F1, AUC): one point
RELATIVE = 0.02  # error metrics (RMSE, WAPE): 2% of the CPU twin's value

SAME_WORK = ("workload", "model", "size", "params", "seed")


def twin_of(record: CaseRecord, records: list[CaseRecord]) -> CaseRecord | None:
    """The finished CPU twin of a case on a device backend, same threads preferred; None if there is none."""
    backend = BACKENDS.get(record.case["backend"])
    if backend is None or backend.twin is None:
        return None
    same = [r for r in records if r.case["backend"] == backend.twin and r.status == "ok"
            and all(r.case.get(k) == record.case.get(k) for k in SAME_WORK)]
    same.sort(key=lambda r: r.case["threads"] != record.case["threads"])
    return same[0] if same else None


def quality_gap(record: CaseRecord, twin: CaseRecord) -> dict[str, Any] | None:
    """How far the case's median quality is from its twin's, against the tolerance; None if either has none."""
    info = record.workload_info
    metric = info.get("metric")
    summaries = [quality_stats(r, metric) for r in (record, twin)] if metric else [None]
    if any(s is None for s in summaries):
        return None
    ours, theirs = (s.median for s in summaries)
    tolerance = ABSOLUTE if info.get("higher_is_better", True) else RELATIVE * abs(theirs)
    difference = ours - theirs
    return {"twin": twin.id, "metric": metric, "value": ours, "twin_value": theirs, "difference": difference,
            "tolerance": tolerance, "beyond": abs(difference) > tolerance}


def check(record: CaseRecord, records: list[CaseRecord]) -> dict[str, Any] | None:
    twin = twin_of(record, records) if record.status == "ok" else None
    return None if twin is None else quality_gap(record, twin)
