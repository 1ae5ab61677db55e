"""Result files: one versioned JSON document per run, a journal while it runs.

Layout: ``results/<machine-id>/<run-id>.json``. While a run is going, each
finished case is appended (and flushed) to ``<run-id>.journal.jsonl`` beside it,
so a killed run loses nothing finished and ``sizeup run --resume`` continues it.
The JSON file is written once, atomically, when the run ends. The schema is
documented in docs/results.md; bump SCHEMA_VERSION on any incompatible change
and teach ``_upgrade`` to read the old one.
"""

from __future__ import annotations

import errno
import fcntl
import json
import math
import os
import re
import signal
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import SizeupError
from harness.stats import Stats, stats

SCHEMA = "sizeup-result"
SCHEMA_VERSION = 2
STATUSES = ("ok", "error", "timeout", "oom", "crashed", "skipped")
JOURNAL_SUFFIX = ".journal.jsonl"
MIN_CLEAN = 2  # clean warm repeats needed to leave the disturbed ones out of the statistics
SCHEMA_FILE = Path(__file__).with_name("result.schema.json")
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")  # a name that becomes one path component
SHIELDED = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}  # held back while a record is written


def plain(obj: Any) -> Any:
    """`obj` with every non-finite float replaced by None: strict JSON readers reject NaN and Infinity."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    return obj


def dumps(obj: Any, **kwargs: Any) -> str:
    """Standard JSON: a missing value is null, never NaN."""
    return json.dumps(plain(obj), allow_nan=False, **kwargs)


def check_name(what: str, name: Any) -> str:
    """`name` if it is safe as one path component (no separators, no '..'), else SizeupError."""
    if not isinstance(name, str) or not SAFE_NAME.fullmatch(name):
        raise SizeupError(f"{what} {name!r} cannot name a file: use letters, digits, '.', '_' and '-' "
                          "(starting with a letter or digit), at most 128 characters")
    return name


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

    def quality_stats(self, metric: str) -> Stats | None:
        """Statistics of `metric` over the warm repeats; None where no repeat has a finite value."""
        return stats([(r["quality"] or {}).get(metric) for r in self.warm_runs()])

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


def journal_path(root: Path, run: RunResult) -> Path:
    return root / check_name("machine id", run.machine["id"]) / f"{check_name('run id', run.run_id)}{JOURNAL_SUFFIX}"


def final_path(journal: Path) -> Path:
    """Where a journal's finished result goes: beside it, whatever it has been renamed to."""
    return journal.with_name(journal.name.removesuffix(JOURNAL_SUFFIX) + ".json")


class Journal:
    """Append-only JSON lines: a header, then one line per finished case.

    Locked (flock) for as long as it is open, so two processes never run one journal's cases.
    """

    def __init__(self, path: Path, fd: int) -> None:
        self.path, self.fd = path, fd

    @classmethod
    def create(cls, path: Path, run: RunResult) -> Journal:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o666)
        except (OSError, ValueError) as exc:
            raise SizeupError(f"cannot write results to {path}: {getattr(exc, 'strerror', None) or exc}") from None
        journal = cls(path, fd)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # new and ours: cannot be held elsewhere
        try:
            journal._write({"kind": "header", **run.header()})
        except OSError as exc:
            journal.close()
            path.unlink(missing_ok=True)  # a journal without its header is nothing: leave none
            raise SizeupError(f"cannot write results to {path}: {exc.strerror or exc}") from None
        return journal

    @classmethod
    def reopen(cls, path: Path) -> Journal:
        """An existing journal, to continue it; SizeupError if a live run holds it."""
        _check_file(path, "journal")
        try:
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CLOEXEC)
        except OSError as exc:
            raise SizeupError(f"cannot open journal {path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise JournalBusy(f"{path} belongs to a run that is still going in another process") from None
        journal = cls(path, fd)
        journal._drop_cut_line()
        return journal

    def read(self) -> RunResult:
        with open(self.fd, "rb", closefd=False) as f:
            f.seek(0)
            text = _decode(f.read(), self.path)
        return _from_journal(self.path, text)

    def append(self, record: CaseRecord) -> None:
        try:
            self._write({"kind": "case", "record": record.to_dict()})
        except OSError as exc:
            raise SizeupError(f"case {record.id} ({record.status}) finished but could not be recorded in {self.path}: "
                              f"{exc.strerror or exc}. Every case before it is kept; make room, then continue with: "
                              f"sizeup run --resume {self.path}") from None

    def _write(self, obj: dict[str, Any]) -> None:
        """One write of one whole line, fsynced; a line that did not fit is cut off again (OSError raised)."""
        data = (dumps(obj) + "\n").encode()
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, SHIELDED)  # Ctrl-C must not cut a record in half
        size = os.fstat(self.fd).st_size
        try:
            written = os.write(self.fd, data)
            if written < len(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            os.fsync(self.fd)
        except OSError:
            try:
                os.ftruncate(self.fd, size)
            except OSError:
                pass
            raise
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def _drop_cut_line(self) -> None:
        """A run killed mid-write can leave half a line; appending after it would corrupt the journal."""
        with open(self.fd, "rb", closefd=False) as f:
            data = f.read()
        if data and not data.endswith(b"\n"):
            os.ftruncate(self.fd, data.rfind(b"\n") + 1)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # releases the lock
            self.fd = -1


class JournalBusy(SizeupError):
    """The journal is locked by a live run."""


def _check_file(path: Path, what: str) -> None:
    """SizeupError unless `path` is an existing regular file, saying what it is instead."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise SizeupError(f"{what} {path} does not exist") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte, or a character no file name can hold
        raise SizeupError(f"cannot read {what} {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
        raise SizeupError(f"{what} {path} is {kind}")


def write_atomic(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, then rename: readers see all or nothing.

    Only for a regular file or a missing one; a symlink's target is written, and anything
    else (a device, a FIFO) is written through, not replaced. Failures are SizeupError.
    """
    try:
        _write_output(Path(os.path.realpath(path)), text)
    except (OSError, ValueError) as exc:
        raise SizeupError(f"cannot write {path}: {getattr(exc, 'strerror', None) or exc}") from None


def _write_output(path: Path, text: str) -> None:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "it is a directory")
    if mode is not None and not stat.S_ISREG(mode):
        if not (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
            raise OSError(errno.EINVAL, "it is neither a regular file, a character device nor a FIFO")
        with open(path, "w") as f:  # /dev/null, /dev/stdout, a named pipe: write through, never replace
            f.write(text)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes 0600; results are meant to be shared
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def save(path: Path, run: RunResult) -> None:
    write_atomic(path, dumps(run.to_dict(), indent=1) + "\n")


def load(path: str | Path) -> RunResult:
    """A result file or a journal of an unfinished run -> RunResult. Bad files raise SizeupError."""
    path = Path(path)
    _check_file(path, "result file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SizeupError(f"cannot read result file {path}: {exc.strerror or exc}") from None
    text = _decode(data, path)
    if path.name.endswith(JOURNAL_SUFFIX):
        return _from_journal(path, text)
    return _from_dict(_parse(text, path), path)


def _decode(data: bytes, path: Path) -> str:
    try:
        return data.decode()
    except UnicodeDecodeError as exc:
        raise SizeupError(f"{path} is not a sizeup result: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _parse(text: str, path: Path, where: str = "") -> Any:
    """JSON, with NaN and Infinity (written by sizeup before 0.3) read as null."""
    try:
        return json.loads(text, parse_constant=lambda _: None)
    except json.JSONDecodeError as exc:
        raise SizeupError(f"{path}{where} is not valid JSON (truncated or corrupt?): {exc}") from None
    except RecursionError:
        raise SizeupError(f"{path}{where} is nested too deeply to be a sizeup result") from None


def _from_journal(path: Path, text: str) -> RunResult:
    lines = list(_journal_lines(path, text))
    if not lines or lines[0].get("kind") != "header":
        raise SizeupError(f"{path} is not a sizeup journal: its first line is no header")
    header = {k: v for k, v in lines[0].items() if k != "kind"}
    cases = []
    for number, line in enumerate(lines[1:], start=2):
        if line.get("kind") != "case" or not isinstance(line.get("record"), dict):
            raise SizeupError(f"{path}, line {number}, is not a case record")
        cases.append(line["record"])
    return _from_dict({**header, "cases": cases}, path)


def _journal_lines(path: Path, text: str) -> Iterator[dict[str, Any]]:
    rows = text.splitlines()
    for i, row in enumerate(rows):
        if i == len(rows) - 1 and not text.endswith("\n"):  # cut by a kill mid-write: that case did not finish
            return
        line = _parse(row, path, f", line {i + 1},")
        if not isinstance(line, dict):
            raise SizeupError(f"{path}, line {i + 1}, is not a journal entry (a JSON object)")
        yield line


def _from_dict(doc: Any, path: Path) -> RunResult:
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise SizeupError(f"{path} is not a sizeup result (no schema {SCHEMA!r})")
    doc = _upgrade(doc, path)
    from jsonschema.exceptions import best_match

    error = best_match(_validator().iter_errors(doc))
    if error is not None:
        where = "/".join(map(str, error.absolute_path)) or "the top level"
        raise SizeupError(f"{path} does not match the result schema at {where}: {error.message:.200}")
    fields = {k: doc[k] for k in RunResult.__dataclass_fields__ if k != "cases" and k in doc}
    known = CaseRecord.__dataclass_fields__
    cases = [CaseRecord(**{k: v for k, v in c.items() if k in known}) for c in doc.get("cases", [])]
    return RunResult(**fields, cases=cases)


@cache
def _validator() -> Any:
    import jsonschema

    schema = json.loads(SCHEMA_FILE.read_text())
    return jsonschema.Draft202012Validator(schema)


def _upgrade(doc: dict[str, Any], path: Path) -> dict[str, Any]:
    """Bring an older document up to SCHEMA_VERSION, one version at a time (pyperf-style)."""
    version = doc.get("version")
    if not isinstance(version, int) or not 1 <= version <= SCHEMA_VERSION:
        raise SizeupError(f"{path} has result schema version {version}; this sizeup reads versions 1 to "
                          f"{SCHEMA_VERSION}")
    try:
        while version < SCHEMA_VERSION:
            doc = _UPGRADES[version](doc)
            version = doc["version"]
    except (TypeError, KeyError, AttributeError) as exc:
        raise SizeupError(f"{path} does not match result schema version {doc.get('version')}: {exc!r}") from None
    return doc


def _v1_to_v2(doc: dict[str, Any]) -> dict[str, Any]:
    """Version 2 added per-phase CPU and contention to runs, and named tree memory honestly."""
    cases = []
    for case in doc.get("cases", []):
        runs = [{"extra": False, "spans": {}, "cpu_s": {}, "other_cpu_s": {}, "other_cores": None,
                 "disturbed": None, **r} for r in case.get("runs", [])]
        t = dict(case.get("telemetry", {}))
        if "peak_memory_bytes" not in t:
            sampled = t.pop("peak_rss_bytes", None)
            t |= {"peak_memory_bytes": max(sampled or 0, t.get("worker_maxrss_bytes") or 0) or None,
                  "sampled_peak_bytes": sampled, "tree_memory": "rss"}
        if "series" in t and "rss_bytes" in t["series"]:
            series = dict(t["series"])
            series["memory_bytes"] = series.pop("rss_bytes", [])
            times = series.get("t", [])
            series["start"] = 2 * times[0] - times[1] if len(times) > 1 else (times[0] if times else 0.0)
            t["series"] = series
        if "phases" in t:
            t["phases"] = _rename_rss(t["phases"])
        cases.append({**case, "runs": runs, "telemetry": t})
    return {**doc, "version": 2, "cases": cases}


def _rename_rss(summaries: dict[str, Any]) -> dict[str, Any]:
    return {name: _rename_rss(v) if name == "cold" else
            {("memory_bytes" if k == "rss_bytes" else k): x for k, x in v.items()}
            for name, v in summaries.items()}


_UPGRADES = {1: _v1_to_v2}


def unfinished(root: Path, machine_id: str) -> list[Path]:
    """Journals of this machine, newest first, for `run --resume` without a path."""
    def mtime(p: Path) -> float:
        try:
            return p.stat().st_mtime
        except OSError:
            return 0.0

    return sorted((root / machine_id).glob(f"*{JOURNAL_SUFFIX}"), key=mtime, reverse=True)


def finish(journal: Journal, run: RunResult, finished: str) -> Path:
    """Write the final document atomically beside the journal, then drop the journal it supersedes."""
    done = replace(run, finished=finished, complete=not run.pending())
    path = final_path(journal.path)
    try:
        save(path, done)
    except SizeupError as exc:
        raise SizeupError(f"{exc}. Every finished case is in {journal.path}; make room, then write the "
                          f"result with: sizeup run --resume {journal.path}") from None
    journal.path.unlink(missing_ok=True)
    return path
