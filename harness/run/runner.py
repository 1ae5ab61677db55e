"""Runs cases, each in its own spawned worker, and turns whatever happens into a record.

The runner watches the worker from outside: it samples the process tree, kills
the whole tree when the case passes its timeout or memory cap, and reaps it
with wait4 so the kernel's own peak-RSS figure lands in the record too. Every
case ends as exactly one CaseRecord; nothing a case does stops the run.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import select
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psutil

from harness import __version__
from harness.analysis import twins
from harness.run import lifeline, monitor, procfs, sweep
from harness.errors import SizeupError
from harness.run.machine import THREAD_VARIABLES, memory_limit
from harness.run.nvml import NvmlSource
from harness.run.outputtail import OutputTail
from harness.run.plan import MIN_MEMORY_CAP, Case, Plan, parse_memory
from harness.records import CaseRecord, Journal, RunResult, finish, select_warm
from workloads import catalogue

POLL_S = 0.1  # how often limits are checked, whatever the sampling rate
# -P: never import from the directory sizeup was started in (a stray xgboost.py there would shadow the library).
WORKER_COMMAND = (sys.executable, "-P", "-m", "harness.run.worker")  # a meter may prefix it (make bench-self: /usr/bin/time)


@dataclass(frozen=True)
class Limits:
    repeats: int
    timeout_s: float
    memory_cap_bytes: int
    sample_hz: float
    rerun_disturbed: int = 0  # extra warm repeats allowed, to replace disturbed ones
    processes: int = 1  # worker processes per case


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
    """The run's settings as limits on this machine; SizeupError for a memory cap that cannot work here."""
    s = run.settings
    if missing := [k for k in ("repeats", "timeout_s", "memory_cap", "sample_hz") if k not in s]:
        raise SizeupError(f"run {run.run_id} has no setting {', '.join(missing)}: it cannot be continued")
    memory_cap = parse_memory(s["memory_cap"], memory_total)
    if memory_cap > memory_total:
        raise SizeupError(f"memory cap {s['memory_cap']} ({memory_cap / 2**30:.1f} GiB) is more than this machine's "
                          f"{memory_total / 2**30:.1f} GiB, so it would never apply: give at most that, or a share "
                          "like '80%'")
    if memory_cap < MIN_MEMORY_CAP:
        raise SizeupError(f"memory cap {s['memory_cap']} ({memory_cap / 2**20:.0f} MiB) is too small to start a "
                          f"worker: give at least {MIN_MEMORY_CAP // 2**20} MiB")
    return Limits(int(s["repeats"]), float(s["timeout_s"]), memory_cap, float(s["sample_hz"]),
                  int(s.get("rerun_disturbed", 0)), int(s.get("processes", 1)))


class Progress:
    """What a display hooks into; the default shows nothing."""

    def case_started(self, case: dict[str, Any], index: int, total: int) -> None: ...

    def case_finished(self, record: CaseRecord) -> None: ...

    def planned(self, added: int) -> None:
        """A sweep added `added` cases to the plan."""


def execute(run: RunResult, journal: Journal, limits: Limits, progress: Progress) -> Path:
    """Run every pending case of `run`, journaling each; returns the final result file's path.

    If interrupted, or a record cannot be written, the journal keeps every case finished
    before it, and the exception propagates. The journal is closed on return.
    """
    unavailable: dict[str, str] = {}  # backend -> why: found once per run, not once per case (a worker each)
    try:
        grow_sweeps(run)
        while pending := run.pending():
            case = pending[0]
            progress.case_started(case, len(run.cases) + 1, len(run.plan))
            try:
                if case["backend"] in unavailable:
                    record = CaseRecord(case, "skipped", unavailable[case["backend"]], started=now_iso())
                else:
                    record = run_case(case, limits)
            except Exception as exc:  # a harness bug must cost one case, not the run
                record = CaseRecord(case, "error", f"harness error: {type(exc).__name__}: {exc}",
                                    started=now_iso(), log_tail=traceback.format_exc())
            if record.status == "skipped" and (record.reason or "").startswith(f"backend {case['backend']} "):
                unavailable[case["backend"]] = record.reason
            if gap := twins.check(record, run.cases):
                record = replace(record, checks={"twin_quality": gap})
            journal.append(record)
            run.cases.append(record)
            progress.case_finished(record)
            progress.planned(len(grow_sweeps(run)))
        return finish(journal, run, now_iso())
    finally:
        journal.close()


def grow_sweeps(run: RunResult) -> list[dict[str, Any]]:
    """Plan the next step of every sweep whose last step is done; note why finished sweeps ended.

    Decided from the records alone, so a resumed run plans what the interrupted one would have.
    Returns the cases added.
    """
    done = {c.id: c for c in run.cases}
    last: dict[str, dict[str, Any]] = {}
    for case in run.plan:
        if case.get("sweep"):
            last[sweep.family(case)] = case  # the plan holds a sweep's steps in order
    added = []
    for name, case in last.items():
        if case["id"] not in done or name in run.sweeps:
            continue
        steps = [r for r in run.cases if r.case.get("sweep") and sweep.family(r.case) == name]
        rule = sweep.Sweep(**case["sweep"])
        size, why = sweep.next_size(rule, steps, run.machine.get("identity", {}).get("memory_bytes") or 0,
                                    catalogue()[case["workload"]].max_size)
        if size is None:
            run.sweeps[name] = why
            continue
        following = Case.from_dict(case)
        following = replace(following, size=size).to_dict()
        if following["id"] not in done:
            run.plan.append(following)
            added.append(following)
    return added


def worker_env(threads: int, token: str, lifeline_fd: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update({name: str(threads) for name in THREAD_VARIABLES})
    env |= {"PYTHONUNBUFFERED": "1", lifeline.TOKEN_VAR: token, lifeline.LIFELINE_VAR: str(lifeline_fd)}
    if "PYTHONPATH" in env:  # an empty entry means the current directory, which the worker must not import from
        env["PYTHONPATH"] = os.pathsep.join(p for p in env["PYTHONPATH"].split(os.pathsep) if p)
    return env


def run_case(case: dict[str, Any], limits: Limits) -> CaseRecord:
    if case.get("memory_cap"):  # a case's own cap only ever tightens the run's
        own = parse_memory(case["memory_cap"], memory_limit())
        limits = replace(limits, memory_cap_bytes=max(MIN_MEMORY_CAP, min(limits.memory_cap_bytes, own)))
    lifeline.become_subreaper()  # orphans of the case come to us, not to init
    try:
        records = []
        for _ in range(limits.processes):  # each process is timed and capped on its own
            records.append(_run_case(case, limits))
            if records[-1].status != "ok":
                break
        return records[0] if len(records) == 1 else merge_processes(records)
    finally:
        lifeline.become_subreaper(False)


def merge_processes(records: list[CaseRecord]) -> CaseRecord:
    """One record for a case run in several worker processes: every process's runs, tagged with
    `process`; the first failure's status and reason; the first process's sampled telemetry."""
    failed = next((r for r in records if r.status != "ok"), records[0])
    runs = [{**run, "process": i} for i, r in enumerate(records) for run in r.runs]
    telemetry = {**records[0].telemetry,
                 "peak_memory_bytes": max(r.telemetry.get("peak_memory_bytes") or 0 for r in records),
                 "processes": [{"wall_s": r.wall_s, "status": r.status, "data_sha256": r.data_sha256,
                                "peak_memory_bytes": r.telemetry.get("peak_memory_bytes"),
                                "spawn_s": r.telemetry.get("spawn_s")} for r in records]}
    record = replace(failed, runs=runs, wall_s=sum(r.wall_s for r in records), telemetry=telemetry,
                     data_sha256=records[0].data_sha256)
    if len({r.data_sha256 for r in records if r.data_sha256}) > 1:  # a seeded generator must not drift
        record = replace(record, status="error", reason="the worker processes saw different data (data_sha256)")
    return record


def _run_case(case: dict[str, Any], limits: Limits) -> CaseRecord:
    with tempfile.TemporaryDirectory(prefix="sizeup-case-") as tmp:
        spec, events_path = Path(tmp, "case.json"), Path(tmp, "events.jsonl")
        spec.write_text(json.dumps({"case": case, "repeats": limits.repeats,
                                    "rerun_disturbed": limits.rerun_disturbed}))
        token = secrets.token_hex(8)
        known = set(procfs.children(os.getpid()))
        output = OutputTail()
        lifeline_read, lifeline_write = os.pipe()
        started = now_iso()
        load_before = os.getloadavg()
        t0 = time.monotonic()
        try:
            proc = subprocess.Popen(
                [*WORKER_COMMAND, str(spec), str(events_path)],
                env=worker_env(case["threads"], token, lifeline_read), stdout=output.write_fd,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, pass_fds=(lifeline_read,),
                start_new_session=True,  # its own group: one kill takes the tree
            )
        except BaseException:
            os.close(lifeline_write)
            raise
        finally:
            os.close(lifeline_read)
            output.close_writer()
        watch = Watch(proc, limits)
        try:
            status, rusage = watch.until_exit(t0)
        finally:
            if proc.returncode is None:  # interrupted while waiting: never leave a worker behind
                watch.kill()
                _, status, rusage = os.wait4(proc.pid, 0)
                proc.returncode = -1
            leftovers = lifeline.kill_case(token, roots=lifeline.strays(known | {proc.pid}))
            os.close(lifeline_write)
            watch.close()
        wall = watch.exited_at - t0
        events = read_events(events_path)
        log_tail = output.text()
    ready = next((e["t"] for e in events if e["event"] == "ready"), None)
    context = {"spawn_s": None if ready is None else ready - t0,
               "load_average": {"before": list(load_before), "after": list(os.getloadavg())},
               "output_bytes": output.total_bytes, "leftover_processes": leftovers}
    return build_record(case, started, wall, events, watch, status, rusage, log_tail, limits, context)


class Watch:
    """Samples the worker's tree until it exits, and kills it at a limit."""

    def __init__(self, proc: subprocess.Popen[bytes], limits: Limits) -> None:
        self.proc = proc
        self.limits = limits
        self.killed_for: str | None = None
        self.memory_at_kill = 0
        self.tree = monitor.ProcessTree(proc.pid)
        self.sources: dict[str, str] = {}  # telemetry source -> what it found, or why it is off
        self.monitor = monitor.Monitor(self.tree, limits.sample_hz, self._open_sources()) if limits.sample_hz > 0 \
            else None
        self.peak_memory = 0
        self.exited_at = 0.0

    def _open_sources(self) -> list[Any]:
        gpu, why = NvmlSource.open()
        self.sources["nvml"] = why
        return [gpu] if gpu else []

    def close(self) -> None:
        for source in self.monitor.sources if self.monitor else ():
            source.close()

    def until_exit(self, t0: float) -> tuple[int, Any]:
        """Enforce limits every POLL_S and sample at the sampling rate; return (wait status, rusage)
        the moment the worker exits."""
        exit_signal = ExitSignal(self.proc.pid)
        check = sample = time.monotonic()
        try:
            while True:
                pid, status, rusage = os.wait4(self.proc.pid, os.WNOHANG)
                if pid:
                    self.exited_at = time.monotonic()
                    self.proc.returncode = os.waitstatus_to_exitcode(status)
                    return status, rusage
                now = time.monotonic()
                due = self.monitor is not None and now >= sample
                if self.killed_for is None:
                    self.check_limits(t0, due)
                if due:
                    sample = next_tick(sample, now, self.monitor.interval)
                check = next_tick(check, now, POLL_S)
                exit_signal.wait(min(check, sample if self.monitor else check) - time.monotonic())
        finally:
            exit_signal.close()

    def check_limits(self, t0: float, sample: bool) -> None:
        memory = self.monitor.sample() if sample else self.tree.memory_now()
        if memory > self.limits.memory_cap_bytes and self.tree.shared_accounting:
            memory = self.tree.memory_now(fresh=True)  # PSS between reads is an estimate: confirm first
        self.peak_memory = max(self.peak_memory, memory)
        if memory > self.limits.memory_cap_bytes:
            self.memory_at_kill = memory
            self.stop("oom")
        elif time.monotonic() - t0 > self.limits.timeout_s:
            self.stop("timeout")

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


def next_tick(tick: float, now: float, interval: float) -> float:
    """The next sampling time after `now` on the grid tick + k * interval: missed ticks are skipped, not caught up."""
    return tick + interval * max(1, math.floor((now - tick) / interval) + 1)


class ExitSignal:
    """Wakes a wait early when the process exits (a pidfd), so wall time is not rounded up to the interval."""

    def __init__(self, pid: int) -> None:
        try:
            self.fd: int | None = os.pidfd_open(pid)
        except (AttributeError, OSError):  # before Linux 5.3, or not Linux: plain sleeps
            self.fd = None

    def wait(self, seconds: float) -> None:
        if seconds <= 0:
            return
        if self.fd is None:
            time.sleep(seconds)
        else:
            select.select([self.fd], [], [], seconds)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)


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
                 status: int, rusage: Any, log_tail: str, limits: Limits, context: dict[str, Any]) -> CaseRecord:
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        by_kind.setdefault(e["event"], []).append(e)
    phases = by_kind.get("phase", [])
    runs = collect_runs(phases, by_kind.get("repeat", []), by_kind.get("quality", []))
    outcome, reason = classify(by_kind, watch, status, limits)
    maxrss = rusage.ru_maxrss * 1024 if rusage else None
    hwm = (by_kind.get("done") or [{}])[-1].get("hwm_bytes")
    telemetry: dict[str, Any] = {
        "sample_hz": limits.sample_hz,
        # Not ru_maxrss: it starts from the harness's own RSS when the worker is forked.
        "peak_memory_bytes": max(watch.peak_memory, hwm or 0),
        "sampled_peak_bytes": watch.peak_memory,
        "tree_memory": "pss" if watch.tree.shared_accounting else "rss",
        "worker_hwm_bytes": hwm,
        "worker_maxrss_bytes": maxrss,
        "worker_cpu_s": (rusage.ru_utime + rusage.ru_stime) if rusage else None,
        **context,
    }
    if watch.monitor:
        telemetry["sampler_s"] = watch.monitor.cost_s
        telemetry["sampler_overhead"] = watch.monitor.cost_s / wall if wall > 0 else None
        counted = {r["repeat"] for r in select_warm(runs)} | {0}  # the repeats the statistics use
        telemetry["phases"] = monitor.phase_summaries(watch.monitor.series,
                                                      [p for p in phases if p["repeat"] in counted])
        telemetry["series"] = watch.monitor.series.to_dict()
        telemetry["sources"] = watch.sources
    start = {k: v for k, v in by_kind.get("start", [{}])[0].items() if k != "event"}
    code = os.waitstatus_to_exitcode(status)
    return CaseRecord(
        case=case, status=outcome, reason=reason, started=started, wall_s=wall,
        params=start.pop("params", {}), workload_info=start,
        backend_info=by_kind.get("backend", [{}])[0].get("info"), runs=runs,
        data_sha256=by_kind.get("data", [{}])[0].get("sha256"),
        threads={k: v for k, v in by_kind.get("threads", [{}])[0].items() if k != "event"},
        telemetry=telemetry,
        exit={"returncode": code, "signal": signal_name(-code) if code < 0 else None},
        log_tail=_failure_log(by_kind, log_tail) if outcome not in ("ok", "skipped") else None,
    )


def collect_runs(phases: list[dict[str, Any]], verdicts: list[dict[str, Any]],
                 quality: list[dict[str, Any]]) -> list[dict[str, Any]]:
    runs: dict[int, dict[str, Any]] = {}
    for p in phases:
        run = runs.setdefault(p["repeat"], {
            "repeat": p["repeat"], "cold": p["repeat"] == 0, "extra": False, "phases": {}, "spans": {}, "cpu_s": {},
            "other_cpu_s": {}, "percore": {}, "other_cores": None, "disturbed": None, "quality": None,
            "throughput": None, "complete": False})
        name = p["phase"]
        run["phases"][name] = p["seconds"]
        run["spans"][name] = [p["start"], p["end"]]
        run["cpu_s"][name] = p["cpu_s"]
        run["other_cpu_s"][name] = p["other_cpu_s"]
        run["percore"][name] = p["percore"]
        if p.get("imports"):
            run.setdefault("imports", {})[name] = p["imports"]
    for v in verdicts:
        runs[v["repeat"]].update(other_cores=v["other_cores"], disturbed=v["disturbed"], extra=v["extra"])
    for q in quality:
        run = runs[q["repeat"]]
        run["quality"], run["complete"] = q["quality"], True
        if q.get("missing"):
            run["quality_missing"] = q["missing"]  # metric -> why it has no value ("nan")
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
        return "oom", (f"process tree memory {watch.memory_at_kill / 2**20:.0f} MiB passed the memory cap "
                       f"{limits.memory_cap_bytes / 2**20:.0f} MiB {where}")
    if "skipped" in by_kind:
        return "skipped", by_kind["skipped"][0]["reason"]
    if "error" in by_kind:
        e = by_kind["error"][0]
        return e["kind"], e["message"]
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        name = signal_name(-code)
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


def signal_name(number: int) -> str:
    """'SIGSEGV'; real-time signals have no name in Python, so 'SIGRTMIN+3' or 'signal 40'."""
    try:
        return signal.Signals(number).name
    except ValueError:
        if signal.SIGRTMIN <= number <= signal.SIGRTMAX:
            return f"SIGRTMIN+{number - signal.SIGRTMIN}"
        return f"signal {number}"

