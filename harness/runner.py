"""Runs cases, each in its own spawned worker, and turns whatever happens into a record.

The runner watches the worker from outside: it samples the process tree, kills
the whole tree when the case passes its timeout or memory cap, and reaps it
with wait4 so the kernel's own peak-RSS figure lands in the record too. Every
case ends as exactly one CaseRecord; nothing a case does stops the run.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psutil

from harness import __version__, monitor
from harness.machine import THREAD_VARIABLES
from harness.plan import Plan, parse_memory
from harness.results import CaseRecord, Journal, RunResult, finish, journal_path

POLL_S = 0.1  # how often limits are checked when sampling is off


@dataclass(frozen=True)
class Limits:
    repeats: int
    timeout_s: float
    memory_cap_bytes: int
    sample_hz: float


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def new_run(plan: Plan, machine: dict[str, Any]) -> RunResult:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return RunResult(
        run_id=f"{stamp}-{plan.suite}-{secrets.token_hex(2)}",
        started=now_iso(),
        suite=plan.suite,
        settings=plan.settings.__dict__.copy(),
        plan=[c.to_dict() for c in plan.cases],
        machine=machine,
        sizeup_version=__version__,
    )


def limits_for(run: RunResult, memory_total: int) -> Limits:
    s = run.settings
    memory_cap = parse_memory(s["memory_cap"], memory_total)
    return Limits(int(s["repeats"]), float(s["timeout_s"]), memory_cap, float(s["sample_hz"]))


class Progress:
    """What a display hooks into; the default shows nothing."""

    def case_started(self, case: dict[str, Any], index: int, total: int) -> None: ...

    def case_finished(self, record: CaseRecord) -> None: ...


def execute(run: RunResult, root: Path, limits: Limits, progress: Progress, resume: bool = False) -> Path:
    """Run every pending case of `run`, journaling each; returns the final result file's path.

    If interrupted, the journal keeps every finished case and the exception propagates.
    """
    journal = Journal(journal_path(root, run), run, new=not resume)
    try:
        for case in run.pending():
            progress.case_started(case, len(run.cases) + 1, len(run.plan))
            try:
                record = run_case(case, limits)
            except Exception as exc:  # a harness bug must cost one case, not the run
                record = CaseRecord(case, "error", f"harness error: {type(exc).__name__}: {exc}",
                                    started=now_iso(), log_tail=traceback.format_exc())
            journal.append(record)
            run.cases.append(record)
            progress.case_finished(record)
    finally:
        journal.close()
    return finish(root, run, now_iso())


def worker_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update({name: str(threads) for name in THREAD_VARIABLES})
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_case(case: dict[str, Any], limits: Limits) -> CaseRecord:
    with tempfile.TemporaryDirectory(prefix="sizeup-case-") as tmp:
        spec, events_path, log_path = Path(tmp, "case.json"), Path(tmp, "events.jsonl"), Path(tmp, "worker.log")
        spec.write_text(json.dumps({"case": case, "repeats": limits.repeats}))
        started = now_iso()
        t0 = time.monotonic()
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "harness.worker", str(spec), str(events_path)],
                env=worker_env(case["threads"]), stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,  # its own group: one kill takes the tree
            )
        watch = Watch(proc, limits)
        try:
            status, rusage = watch.until_exit(t0)
        finally:
            if proc.returncode is None:  # interrupted while waiting: never leave a worker behind
                watch.kill()
                _, status, rusage = os.wait4(proc.pid, 0)
                proc.returncode = -1
        wall = time.monotonic() - t0
        events = read_events(events_path)
        log_tail = _tail(log_path)
    return build_record(case, started, wall, events, watch, status, rusage, log_tail, limits)


class Watch:
    """Samples the worker's tree until it exits, and kills it at a limit."""

    def __init__(self, proc: subprocess.Popen[bytes], limits: Limits) -> None:
        self.proc = proc
        self.limits = limits
        self.killed_for: str | None = None
        self.rss_at_kill = 0
        self.tree = monitor.ProcessTree(proc.pid)
        self.monitor = monitor.Monitor(self.tree, limits.sample_hz) if limits.sample_hz > 0 else None
        self.peak_rss = 0

    def until_exit(self, t0: float) -> tuple[int, Any]:
        interval = self.monitor.interval if self.monitor else POLL_S
        tick = time.monotonic()
        while True:
            pid, status, rusage = os.wait4(self.proc.pid, os.WNOHANG)
            if pid:
                self.proc.returncode = os.waitstatus_to_exitcode(status)
                return status, rusage
            if self.killed_for is None:
                rss = self.monitor.sample() if self.monitor else self.tree.rss()
                self.peak_rss = max(self.peak_rss, rss)
                if rss > self.limits.memory_cap_bytes:
                    self.rss_at_kill = rss
                    self.stop("oom")
                elif time.monotonic() - t0 > self.limits.timeout_s:
                    self.stop("timeout")
            tick += interval
            time.sleep(max(0.0, tick - time.monotonic()))

    def stop(self, why: str) -> None:
        self.killed_for = why
        self.kill()

    def kill(self) -> None:
        procs = self.tree.processes()  # before the kill: orphans are reparented and lost to us
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for p in procs:  # descendants that left the process group
            try:
                p.kill()
            except psutil.Error:
                pass


def read_events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    events = []
    for line in path.read_text().splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:  # the last line of a killed worker may be cut
            break
    return events


def build_record(case: dict[str, Any], started: str, wall: float, events: list[dict[str, Any]], watch: Watch,
                 status: int, rusage: Any, log_tail: str, limits: Limits) -> CaseRecord:
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        by_kind.setdefault(e["event"], []).append(e)
    phases = by_kind.get("phase", [])
    runs = collect_runs(phases, by_kind.get("quality", []))
    outcome, reason = classify(by_kind, watch, status, limits)
    telemetry: dict[str, Any] = {
        "sample_hz": limits.sample_hz,
        "peak_rss_bytes": watch.peak_rss,
        # The kernel's own high-water mark for the worker process (not its children).
        "worker_maxrss_bytes": rusage.ru_maxrss * 1024 if rusage else None,
        "worker_cpu_s": (rusage.ru_utime + rusage.ru_stime) if rusage else None,
    }
    if watch.monitor:
        telemetry["sampler_s"] = watch.monitor.cost_s
        telemetry["sampler_overhead"] = watch.monitor.cost_s / wall if wall > 0 else None
        telemetry["phases"] = monitor.phase_summaries(watch.monitor.series, phases)
        telemetry["series"] = watch.monitor.series.to_dict()
    start = {k: v for k, v in by_kind.get("start", [{}])[0].items() if k != "event"}
    code = os.waitstatus_to_exitcode(status)
    return CaseRecord(
        case=case, status=outcome, reason=reason, started=started, wall_s=wall,
        params=start.pop("params", {}), workload_info=start,
        backend_info=by_kind.get("backend", [{}])[0].get("info"), runs=runs,
        data_sha256=by_kind.get("data", [{}])[0].get("sha256"),
        threads={k: v for k, v in by_kind.get("threads", [{}])[0].items() if k != "event"},
        telemetry=telemetry,
        exit={"returncode": code, "signal": signal.Signals(-code).name if code < 0 else None},
        log_tail=_failure_log(by_kind, log_tail) if outcome not in ("ok", "skipped") else None,
    )


def collect_runs(phases: list[dict[str, Any]], quality: list[dict[str, Any]]) -> list[dict[str, Any]]:
    runs: dict[int, dict[str, Any]] = {}
    for p in phases:
        run = runs.setdefault(p["repeat"], {"repeat": p["repeat"], "cold": p["repeat"] == 0, "phases": {},
                                            "quality": None, "throughput": None, "complete": False})
        run["phases"][p["phase"]] = p["seconds"]
    for q in quality:
        run = runs[q["repeat"]]
        run["quality"], run["complete"] = q["quality"], True
        fit = run["phases"].get("fit")
        if q.get("work") and fit:
            unit, items = q["work"]
            run["throughput"] = {"unit": unit, "items": items, "per_s": items / fit}
    return [runs[r] for r in sorted(runs)]


def classify(by_kind: dict[str, list[dict[str, Any]]], watch: Watch, status: int,
             limits: Limits) -> tuple[str, str | None]:
    begun = by_kind.get("begin")
    where = f"during {begun[-1]['phase']} of repeat {begun[-1]['repeat']}" if begun else "before the first phase"
    if watch.killed_for == "timeout":
        return "timeout", f"passed the {limits.timeout_s:g} s timeout {where}"
    if watch.killed_for == "oom":
        return "oom", (f"process tree RSS {watch.rss_at_kill / 2**20:.0f} MiB passed the memory cap "
                       f"{limits.memory_cap_bytes / 2**20:.0f} MiB {where}")
    if "skipped" in by_kind:
        return "skipped", by_kind["skipped"][0]["reason"]
    if "error" in by_kind:
        e = by_kind["error"][0]
        return e["kind"], e["message"]
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        name = signal.Signals(-code).name
        hint = " (the kernel's OOM killer?)" if -code == signal.SIGKILL else ""
        return "crashed", f"worker killed by {name}{hint} {where}"
    if code != 0:
        return "crashed", f"worker exited with code {code}"
    if "done" not in by_kind:
        return "crashed", "worker exited without finishing"
    return "ok", None


def _failure_log(by_kind: dict[str, list[dict[str, Any]]], log_tail: str) -> str:
    """The worker's traceback, if it reported one, then the last lines it printed."""
    error = by_kind.get("error", [{}])[0]
    return "\n".join(filter(None, [error.get("traceback"), log_tail]))


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""

