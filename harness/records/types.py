"""The typed vocabulary of a result: one case's record, a whole run, and which repeats count."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

SCHEMA = "sizeup-result"
SCHEMA_VERSION = 2
STATUSES = ("ok", "error", "timeout", "oom", "crashed", "skipped")
MIN_CLEAN = 2  # clean warm repeats needed to leave the disturbed ones out of the statistics


def select_warm(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The repeats statistics are taken over: complete warm repeats, without disturbed ones when
    at least MIN_CLEAN clean ones remain; with zero repeats, the cold run is all there is."""
    complete = [r for r in runs if r["complete"]]
    warm = [r for r in complete if not r["cold"]] or complete
    clean = [r for r in warm if not r.get("disturbed")]
    return clean if len(clean) >= min(MIN_CLEAN, len(warm)) else warm


@dataclass(frozen=True)
class Contention:
    """How other processes disturbed a case's warm repeats."""

    disturbed: int  # warm repeats marked disturbed
    repeats: int  # complete warm repeats
    counted: bool  # whether disturbed repeats are in the statistics (too few clean ones)
    max_other_cores: float  # the most CPU other processes took during one repeat, in cores


@dataclass(frozen=True)
class CaseRecord:
    """Everything one case produced. Nested values stay plain JSON: one shape on disk and in memory."""

    case: dict[str, Any]  # plan.Case.to_dict()
    status: str  # one of STATUSES
    reason: str | None = None  # why not ok: exception text, signal, limit, missing dependency
    started: str = ""
    wall_s: float = 0.0  # the whole worker, process start to exit
    params: dict[str, Any] = field(default_factory=dict)  # the workload params actually used
    workload_info: dict[str, Any] = field(default_factory=dict)  # family, metric, target: read without the catalogue
    backend_info: str | None = None
    runs: list[dict[str, Any]] = field(default_factory=list)  # per repeat: phases, quality, throughput
    data_sha256: str | None = None
    threads: dict[str, Any] = field(default_factory=dict)
    telemetry: dict[str, Any] = field(default_factory=dict)
    exit: dict[str, Any] = field(default_factory=dict)  # returncode, signal
    log_tail: str | None = None  # the worker's last output lines, when it failed
    checks: dict[str, Any] = field(default_factory=dict)  # twin_quality: a device case against its CPU twin

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    @property
    def id(self) -> str:
        return self.case["id"]

    def warm_runs(self) -> list[dict[str, Any]]:
        """The repeats the statistics use (see select_warm)."""
        return select_warm(self.runs)

    def phase_samples(self, phase: str) -> list[float]:
        """A phase's times over the warm repeats; where the case ran in several worker processes, each
        process's median instead (repeats inside one process understate run-to-run noise)."""
        by_process: dict[int, list[float]] = {}
        for r in self.warm_runs():
            if phase in r["phases"]:
                by_process.setdefault(r.get("process", 0), []).append(r["phases"][phase])
        if len(by_process) > 1:
            return [float(np.median(times)) for times in by_process.values()]
        return next(iter(by_process.values()), [])

    def contention(self) -> Contention | None:
        """None when no warm repeat was disturbed."""
        warm = [r for r in self.runs if r["complete"] and not r["cold"]]
        disturbed = [r for r in warm if r.get("disturbed")]
        if not disturbed:
            return None
        return Contention(len(disturbed), len(warm), any(r.get("disturbed") for r in self.warm_runs()),
                          max(r["other_cores"] or 0.0 for r in disturbed))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RunResult:
    run_id: str
    started: str
    suite: str
    settings: dict[str, Any]
    plan: list[dict[str, Any]]  # every case of the run, in order
    machine: dict[str, Any]
    sizeup_version: str
    finished: str | None = None
    complete: bool = False
    sweeps: dict[str, str] = field(default_factory=dict)  # sweep (harness.sweep.family) -> why it ended
    cases: list[CaseRecord] = field(default_factory=list)

    def header(self) -> dict[str, Any]:
        d = {"schema": SCHEMA, "version": SCHEMA_VERSION, **asdict(self)}
        del d["cases"]
        return d

    def to_dict(self) -> dict[str, Any]:
        return {**self.header(), "cases": [c.to_dict() for c in self.cases]}

    def pending(self) -> list[dict[str, Any]]:
        done = {c.id for c in self.cases}
        return [c for c in self.plan if c["id"] not in done]
