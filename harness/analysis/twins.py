"""A GPU case and its CPU twin: the same workload, model, size and work (params that say only how it runs,
such as a batch size, may differ) on the CPU backend. Their quality must agree, or the speed-up compares
different results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.analysis.stats import quality_stats
from harness.records import CaseRecord

ABSOLUTE = 0.01  # metrics where higher is better live in [0, 1] (accuracy, F1, AUC): one point
RELATIVE = 0.02  # error metrics (RMSE, WAPE): 2% of the CPU twin's value


@dataclass(frozen=True)
class QualityGap:
    twin: str  # the CPU twin's case id
    metric: str
    value: float
    twin_value: float
    difference: float
    tolerance: float

    @property
    def beyond(self) -> bool:
        return abs(self.difference) > self.tolerance


def twin_of(record: CaseRecord, records: Sequence[CaseRecord]) -> CaseRecord | None:
    """The finished CPU twin of a case on a device backend, same threads preferred; None if there is none."""
    twin = record.backend_facts.twin if record.backend_facts else None
    if twin is None:
        return None
    c = record.case
    same = [r for r in records if r.status == "ok" and r.case.backend == twin
            and (r.case.workload, r.case.model, r.case.size, r.work_params(), r.case.seed)
            == (c.workload, c.model, c.size, record.work_params(), c.seed)]
    same.sort(key=lambda r: r.case.threads != c.threads)
    return same[0] if same else None


def quality_gap(record: CaseRecord, twin: CaseRecord) -> QualityGap | None:
    """How far the case's median quality is from its twin's, against the tolerance; None if either has none."""
    info = record.workload_info
    metric = info.get("metric")
    summaries = [quality_stats(r, metric) for r in (record, twin)] if metric else [None]
    if any(s is None for s in summaries):
        return None
    ours, theirs = (s.median for s in summaries)
    tolerance = ABSOLUTE if info.get("higher_is_better", True) else RELATIVE * abs(theirs)
    return QualityGap(twin.id, metric, ours, theirs, ours - theirs, tolerance)


def check(record: CaseRecord, records: Sequence[CaseRecord]) -> QualityGap | None:
    twin = twin_of(record, records) if record.status == "ok" else None
    return None if twin is None else quality_gap(record, twin)
