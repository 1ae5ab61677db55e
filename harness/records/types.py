"""The typed vocabulary of a result: one repeat, one case's record, a whole run, which repeats count.

One shape on disk and in memory: every class here writes exactly the JSON it reads back
(``to_dict``/``from_dict``); telemetry and machine identity stay plain JSON inside them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from harness.records.case import Case
from workloads.base import FAMILIES, Target

SCHEMA = "sizeup-result"
SCHEMA_VERSION = 3
STATUSES = ("ok", "error", "timeout", "oom", "crashed", "skipped")
# The timed phases of a repeat, in order; `generate` in the cold run only (the warm repeats reuse its data).
# `run`: the whole of a job profiled with `sizeup profile`.
WHOLE_RUN = "run"  # a profile's own phase: the job timed whole
PHASES = ("generate", "features", "transfer", "fit", "predict", "score", WHOLE_RUN)
PROFILE = "profile"  # the workload of a job's record from `sizeup profile` (harness.run.profile)
TASKS = FAMILIES  # the task families; defined with the workloads, which import nothing of the harness
MIN_CLEAN = 2  # clean warm repeats needed to leave the disturbed ones out of the statistics


def known(cls: type, d: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of `d` that are fields of the dataclass `cls`: a file may hold more than it means."""
    return {k: v for k, v in d.items() if k in cls.__dataclass_fields__}


@dataclass(frozen=True)
class BackendFacts:
    """What analysis needs to know of a case's backend, kept with the record so an old file means the
    same after the backends change."""

    device: str  # "cpu" or "cuda"
    twin: str | None = None  # the CPU backend doing the same work, whose quality this one must match
    distributed: bool = False  # runs on a cluster engine (Spark): sized as a cluster, not as one node

    @property
    def on_gpu(self) -> bool:
        return self.device != "cpu"


@dataclass(frozen=True)
class Throughput:
    unit: str  # "rows", "images", "tokens", ...
    items: float  # processed by one fit
    per_s: float


@dataclass(frozen=True)
class Repeat:
    """One pass over the phases: the cold run (repeat 0) or a warm repeat."""

    repeat: int
    cold: bool
    complete: bool = False  # every phase ran and was scored
    extra: bool = False  # added to replace a disturbed repeat
    phases: Mapping[str, float] = field(default_factory=dict)  # seconds per phase
    spans: Mapping[str, Sequence[float]] = field(default_factory=dict)  # [start, end] on the monotonic clock
    cpu_s: Mapping[str, float | None] = field(default_factory=dict)  # the worker's tree, per phase
    other_cpu_s: Mapping[str, float | None] = field(default_factory=dict)  # other processes, per phase
    percore: Mapping[str, Sequence[float]] = field(default_factory=dict)
    other_cores: float | None = None  # mean cores other processes took over the repeat
    disturbed: bool | None = None  # None: not judged (results before schema 2)
    quality: Mapping[str, float | None] | None = None
    throughput: Throughput | None = None
    quality_missing: Mapping[str, str] = field(default_factory=dict)  # metric -> why it has no value
    imports: Mapping[str, Sequence[str]] = field(default_factory=dict)  # cold phases: packages first imported
    process: int = 0  # which worker process ran it (--processes)

    OPTIONAL = ("quality_missing", "imports", "process")  # written only where they hold something

    def metric(self, name: str | None) -> float | None:
        return (self.quality or {}).get(name) if name else None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in self.OPTIONAL:
            if not d[key]:
                del d[key]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Repeat:
        t = d.get("throughput")
        return cls(**{**known(cls, d), "throughput": Throughput(**known(Throughput, t)) if t else None})


def phase_order(names: Iterable[str]) -> list[str]:
    """Phase names once each: those of PHASES in their order, then the others (a profiled job's) as they come."""
    seen = dict.fromkeys(names)
    return [p for p in PHASES if p in seen] + [p for p in seen if p not in PHASES]


def quality_target(info: Mapping[str, Any]) -> Target | None:
    """A case's quality target (its `workload_info`'s), where it is set on the metric measured."""
    t = info.get("target")
    if not t or t["metric"] != info.get("metric"):
        return None
    return Target(t["metric"], t["threshold"], t["higher_is_better"])


def quality_score(value: float, higher_is_better: bool) -> float:
    """A quality as a score where higher is better: a score (accuracy, ROC AUC, R2) as it is, an error (WAPE)
    as -log(error). A tolerance on the score is then a share of a score, or a ratio of an error, whatever the
    error's scale: a forecast's WAPE of 0.003 is not "within 0.01" of one of 0.007."""
    return value if higher_is_better else -math.log(max(value, 1e-12))


def select_warm(runs: Sequence[Repeat]) -> list[Repeat]:
    """The repeats statistics are taken over: complete warm repeats, without disturbed ones when
    at least MIN_CLEAN clean ones remain; with zero repeats, the cold run is all there is."""
    complete = [r for r in runs if r.complete]
    warm = [r for r in complete if not r.cold] or complete
    clean = [r for r in warm if not r.disturbed]
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
    """Everything one case produced."""

    case: Case
    status: str  # one of STATUSES
    reason: str | None = None  # why not ok: exception text, signal, limit, missing dependency
    started: str = ""
    wall_s: float = 0.0  # the whole worker, process start to exit
    params: dict[str, Any] = field(default_factory=dict)  # the workload params actually used
    workload_info: dict[str, Any] = field(default_factory=dict)  # family, metric, target: read without the catalogue
    backend_info: str | None = None
    backend_facts: BackendFacts | None = None  # None: a backend unknown when the record was written
    runs: list[Repeat] = field(default_factory=list)
    data_sha256: str | None = None
    threads: dict[str, Any] = field(default_factory=dict)
    telemetry: dict[str, Any] = field(default_factory=dict)
    exit: dict[str, Any] = field(default_factory=dict)  # returncode, signal
    log_tail: str | None = None  # the worker's last output lines, when it failed
    checks: dict[str, Any] = field(default_factory=dict)  # kept from results before schema 3, not relied on

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    @property
    def id(self) -> str:
        return self.case.id

    def work_params(self) -> dict[str, Any]:
        """The params that define the work, without those the workload says only change how it runs (a batch
        size, a precision): what a GPU case and its CPU twin must share."""
        how = set(self.workload_info.get("how") or ())
        return {k: v for k, v in self.params.items() if k not in how}

    def warm_runs(self) -> list[Repeat]:
        """The repeats the statistics use (see select_warm)."""
        return select_warm(self.runs)

    def phase_parents(self) -> dict[str, str]:
        """A profiled job's phases that ran inside another (telemetry's phases_within: `epoch` -> `train`), kept where
        both are phases it timed and every chain ends at a phase inside none (a file's cycle is no nesting)."""
        timed = {p for r in self.runs for p in r.phases} - {WHOLE_RUN}
        parent = {k: v for k, v in (self.telemetry.get("phases_within") or {}).items() if k in timed and v in timed}

        def ends(name: str) -> bool:
            seen = {name}
            while (name := parent[name]) in parent:
                if name in seen:
                    return False
                seen.add(name)
            return True

        return {k: v for k, v in parent.items() if ends(k)}

    def phase_names(self) -> list[str]:
        """The phases its warm repeats timed: those of PHASES in their order, then any a profiled job marked itself,
        in the order it marked them."""
        return phase_order(p for r in self.warm_runs() for p in r.phases)

    def phase_samples(self, phase: str) -> list[float]:
        """A phase's times over the warm repeats; where the case ran in several worker processes, each
        process's median instead (repeats inside one process understate run-to-run noise)."""
        by_process: dict[int, list[float]] = {}
        for r in self.warm_runs():
            if phase in r.phases:
                by_process.setdefault(r.process, []).append(r.phases[phase])
        if len(by_process) > 1:
            return [float(np.median(times)) for times in by_process.values()]
        return next(iter(by_process.values()), [])

    def contention(self) -> Contention | None:
        """None when no warm repeat was disturbed."""
        warm = [r for r in self.runs if r.complete and not r.cold]
        disturbed = [r for r in warm if r.disturbed]
        if not disturbed:
            return None
        return Contention(len(disturbed), len(warm), any(r.disturbed for r in self.warm_runs()),
                          max(r.other_cores or 0.0 for r in disturbed))

    def to_dict(self) -> dict[str, Any]:
        d = {f: getattr(self, f) for f in self.__dataclass_fields__}
        facts = asdict(self.backend_facts) if self.backend_facts else None
        return {**d, "case": self.case.to_dict(), "runs": [r.to_dict() for r in self.runs], "backend_facts": facts}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CaseRecord:
        facts = d.get("backend_facts")
        return cls(**{**known(cls, d), "case": Case.from_dict(d["case"]),
                      "runs": [Repeat.from_dict(r) for r in d.get("runs", [])],
                      "backend_facts": BackendFacts(**known(BackendFacts, facts)) if facts else None})


@dataclass(frozen=True)
class RunResult:
    run_id: str
    started: str
    suite: str
    settings: dict[str, Any]
    plan: list[Case]  # every case of the run, in order
    machine: dict[str, Any]
    sizeup_version: str
    finished: str | None = None
    complete: bool = False
    sweeps: dict[str, str] = field(default_factory=dict)  # a sweep's config -> why it ended
    cases: list[CaseRecord] = field(default_factory=list)

    def header(self) -> dict[str, Any]:
        d = {f: getattr(self, f) for f in self.__dataclass_fields__ if f != "cases"}
        return {"schema": SCHEMA, "version": SCHEMA_VERSION, **d, "plan": [c.to_dict() for c in self.plan]}

    def to_dict(self) -> dict[str, Any]:
        return {**self.header(), "cases": [c.to_dict() for c in self.cases]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RunResult:
        return cls(**{**known(cls, d), "plan": [Case.from_dict(c) for c in d.get("plan", [])],
                      "cases": [CaseRecord.from_dict(c) for c in d.get("cases", [])]})

    def pending(self) -> list[Case]:
        done = {c.id for c in self.cases}
        return [c for c in self.plan if c.id not in done]

    def finished_as(self, finished: str) -> RunResult:
        return replace(self, finished=finished, complete=not self.pending())
