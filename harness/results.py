"""Result files: one versioned JSON document per run, a journal while it runs.

Layout: ``results/<machine-id>/<run-id>.json``. While a run is going, each
finished case is appended (and flushed) to ``<run-id>.journal.jsonl`` beside it,
so a killed run loses nothing finished and ``sizeup run --resume`` continues it.
The JSON file is written once, atomically, when the run ends. The schema is
documented in docs/results.md; bump SCHEMA_VERSION on any incompatible change
and teach ``_upgrade`` to read the old one.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.errors import SizeupError

SCHEMA = "sizeup-result"
SCHEMA_VERSION = 2
STATUSES = ("ok", "error", "timeout", "oom", "crashed", "skipped")
JOURNAL_SUFFIX = ".journal.jsonl"
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

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    @property
    def id(self) -> str:
        return self.case["id"]

    def warm_runs(self) -> list[dict[str, Any]]:
        """The repeats the statistics use (see select_warm)."""
        return select_warm(self.runs)

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


def result_path(root: Path, run: RunResult) -> Path:
    return root / run.machine["id"] / f"{run.run_id}.json"


def journal_path(root: Path, run: RunResult) -> Path:
    return root / run.machine["id"] / f"{run.run_id}{JOURNAL_SUFFIX}"


class Journal:
    """Append-only JSON lines: a header, then one line per finished case."""

    def __init__(self, path: Path, run: RunResult, new: bool) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        if not new:
            _drop_cut_line(path)
        self._file = open(path, "x" if new else "a", buffering=1)
        if new:
            self._write({"kind": "header", **run.header()})

    def append(self, record: CaseRecord) -> None:
        self._write({"kind": "case", "record": record.to_dict()})

    def _write(self, obj: dict[str, Any]) -> None:
        self._file.write(json.dumps(obj) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


def _drop_cut_line(path: Path) -> None:
    """A run killed mid-write can leave half a line; appending after it would corrupt the journal."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        write_atomic(path, data[: data.rfind(b"\n") + 1].decode())


def write_atomic(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, then rename: readers see all or nothing."""
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
    write_atomic(path, json.dumps(run.to_dict(), indent=1) + "\n")


def load(path: str | Path) -> RunResult:
    """A result file or a journal of an unfinished run -> RunResult. Bad files raise SizeupError."""
    path = Path(path)
    if not path.is_file():
        raise SizeupError(f"result file {path} does not exist")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise SizeupError(f"cannot read result file {path}: {exc}") from None
    if path.name.endswith(JOURNAL_SUFFIX):
        return _from_journal(path, text)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SizeupError(f"{path} is not valid JSON (truncated or corrupt?): {exc}") from None
    return _from_dict(doc, path)


def _from_journal(path: Path, text: str) -> RunResult:
    lines = list(_journal_lines(path, text))
    if not lines or lines[0].get("kind") != "header":
        raise SizeupError(f"{path} is not a sizeup journal: its first line is no header")
    header = {k: v for k, v in lines[0].items() if k != "kind"}
    cases = [line["record"] for line in lines[1:] if line.get("kind") == "case"]
    return _from_dict({**header, "cases": cases}, path)


def _journal_lines(path: Path, text: str) -> Iterator[dict[str, Any]]:
    rows = text.splitlines()
    for i, row in enumerate(rows):
        try:
            yield json.loads(row)
        except json.JSONDecodeError:
            if i == len(rows) - 1:  # a line cut by a kill mid-write: that case simply did not finish
                return
            raise SizeupError(f"{path}: line {i + 1} is not valid JSON") from None


def _from_dict(doc: Any, path: Path) -> RunResult:
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise SizeupError(f"{path} is not a sizeup result (no schema {SCHEMA!r})")
    doc = _upgrade(doc, path)
    try:
        fields = {k: doc[k] for k in RunResult.__dataclass_fields__ if k != "cases" and k in doc}
        cases = [CaseRecord(**c) for c in doc.get("cases", [])]
        return RunResult(**fields, cases=cases)
    except (TypeError, ValueError, KeyError) as exc:
        raise SizeupError(f"{path} does not match the result schema: {exc}") from None


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


def find_unfinished(root: Path, machine_id: str) -> Path | None:
    """The newest journal of this machine, for `run --resume` without a path."""
    journals = sorted((root / machine_id).glob(f"*{JOURNAL_SUFFIX}"), key=lambda p: p.stat().st_mtime)
    return journals[-1] if journals else None


def finish(root: Path, run: RunResult, finished: str) -> Path:
    """Write the final document atomically, then drop the journal it supersedes."""
    done = replace(run, finished=finished, complete=not run.pending())
    path = result_path(root, done)
    save(path, done)
    journal = journal_path(root, done)
    if journal.exists():
        journal.unlink()
    return path
