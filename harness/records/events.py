"""What a worker tells the runner: one typed event per JSON line, the same classes on both sides.

The worker writes each event as it happens, flushed at once, so a worker killed mid-way still
leaves every phase it finished; the runner reads them back into these classes and builds the
case's record from them (harness.run.assemble).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

from harness.records.jsonio import dumps


@dataclass(frozen=True)
class Ready:
    """The worker is up (its interpreter started, the lifeline held)."""

    kind: ClassVar[str] = "ready"
    t: float  # time.monotonic()


@dataclass(frozen=True)
class Begin:
    """A phase is about to start: a killed case then says where it was."""

    kind: ClassVar[str] = "begin"
    repeat: int
    phase: str


@dataclass(frozen=True)
class PhaseTiming:
    """One timed phase of one repeat: its seconds, its span on the monotonic clock, and CPU read at its edges."""

    kind: ClassVar[str] = "phase"
    repeat: int
    phase: str
    seconds: float
    start: float
    end: float
    cpu_s: float  # the worker's process tree
    other_cpu_s: float  # other processes on the case's CPUs
    percore: list[float] = field(default_factory=list)
    imports: list[str] | None = None  # packages first imported inside a cold phase
    energy_j: float | None = None  # the case's GPU, read after the synchronize at each edge (harness.run.energy)


@dataclass(frozen=True)
class Verdict:
    """Whether other processes disturbed a repeat."""

    kind: ClassVar[str] = "repeat"
    repeat: int
    other_cores: float | None
    disturbed: bool
    extra: bool  # a repeat added to replace a disturbed one


@dataclass(frozen=True)
class Quality:
    kind: ClassVar[str] = "quality"
    repeat: int
    quality: dict[str, float | None]
    missing: dict[str, str] = field(default_factory=dict)  # metric -> why it has no value ("nan")
    work: tuple[str, float] | None = None  # (unit, items one fit processed)


@dataclass(frozen=True)
class Started:
    """The workload as the worker found it: its params and what its quality means."""

    kind: ClassVar[str] = "start"
    params: dict[str, Any]
    family: str
    metric: str
    higher_is_better: bool
    size_unit: str
    target: dict[str, Any] | None = None
    how: list[str] = field(default_factory=list)  # params that say how it runs, not what work it is


@dataclass(frozen=True)
class BackendStarted:
    kind: ClassVar[str] = "backend"
    info: str  # what the probe found: versions, devices
    energy: str = ""  # which GPU's energy counter the phases read, or why none


@dataclass(frozen=True)
class DataHash:
    kind: ClassVar[str] = "data"
    sha256: str


@dataclass(frozen=True)
class Threads:
    """The thread settings the libraries actually used."""

    kind: ClassVar[str] = "threads"
    env: dict[str, str]
    threadpools: list[dict[str, Any]] | None = None
    torch_threads: int | None = None


@dataclass(frozen=True)
class Done:
    kind: ClassVar[str] = "done"
    hwm_bytes: int | None  # the worker's own peak RSS (VmHWM)


@dataclass(frozen=True)
class Dispatched:
    """Where an accelerator that falls back silently (cuml.accel) ran the cold fit's calls: calls per method."""

    kind: ClassVar[str] = "dispatch"
    gpu: dict[str, int]
    cpu: dict[str, int]
    reasons: list[str] = field(default_factory=list)  # why calls fell back to the CPU


@dataclass(frozen=True)
class Skipped:
    kind: ClassVar[str] = "skipped"
    reason: str


@dataclass(frozen=True)
class Failed:
    kind: ClassVar[str] = "error"
    status: str  # "error", or "oom" where memory ran out
    message: str
    traceback: str = ""


Event = (Ready | Begin | PhaseTiming | Verdict | Quality | Started | BackendStarted | DataHash | Threads | Done
         | Dispatched | Skipped | Failed)
KINDS: dict[str, type] = {cls.kind: cls for cls in (Ready, Begin, PhaseTiming, Verdict, Quality, Started,
                                                    BackendStarted, DataHash, Threads, Done, Dispatched, Skipped,
                                                    Failed)}


def encode(event: Event) -> str:
    return dumps({"event": event.kind, **asdict(event)})


def decode(line: str) -> Event:
    """One line back into its event; ValueError for a line that is no event (a worker cut mid-write)."""
    try:
        data = json.loads(line)
        cls = KINDS[data.pop("event")]
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a worker event: {line[:80]!r}") from exc
