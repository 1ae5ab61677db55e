"""From what a worker said (its events) and what the runner saw (its exit, the samples, a kill)
to the case's one record, with a status for every way a case can end."""

from __future__ import annotations

import errno
import os
import signal
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from harness.records import Case, CaseRecord, Repeat, Throughput, select_warm
from harness.records import events as ev
from harness.records.figures import GPU_ENERGY
from harness.run import energy, monitor
from harness.run.backends import BACKENDS
from harness.run.watch import Limits, Watch


def read_events(path: Path) -> list[ev.Event]:
    if not path.exists():
        return []
    found = []
    for line in path.read_text().splitlines():
        try:
            found.append(ev.decode(line))
        except ValueError:  # the last line of a killed worker may be cut
            break
    return found


class Said:
    """A worker's events by kind."""

    def __init__(self, events: list[ev.Event]) -> None:
        self.by_kind: dict[type, list[Any]] = defaultdict(list)
        for e in events:
            self.by_kind[type(e)].append(e)

    def all(self, kind: type) -> list[Any]:
        return self.by_kind.get(kind, [])

    def first(self, kind: type) -> Any:
        return next(iter(self.all(kind)), None)


def build_record(case: Case, started: str, wall: float, events: list[ev.Event], watch: Watch, status: int,
                 rusage: Any, log_tail: str, limits: Limits, context: dict[str, Any]) -> CaseRecord:
    said = Said(events)
    phases: list[ev.PhaseTiming] = said.all(ev.PhaseTiming)
    runs = collect_runs(phases, said.all(ev.Verdict), said.all(ev.Quality))
    outcome, reason = classify(said, watch, status, limits, log_tail or "")
    maxrss = rusage.ru_maxrss * 1024 if rusage else None
    done = said.first(ev.Done)
    hwm = done.hwm_bytes if done else None
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
    counted = {r.repeat for r in select_warm(runs)} | {0}  # the repeats the statistics use
    summarized = [p for p in phases if p.repeat in counted]
    if watch.monitor:
        telemetry["sampler_s"] = watch.monitor.cost_s
        telemetry["sampler_overhead"] = watch.monitor.cost_s / wall if wall > 0 else None
        telemetry["phases"] = monitor.phase_summaries(watch.monitor.series, summarized)
        telemetry["series"] = watch.monitor.series.to_dict()
        telemetry["sources"] = watch.sources
        if figures := {s.name: [f.to_dict() for f in s.figures] for s in watch.monitor.sources if s.figures}:
            telemetry["figures"] = figures
    backend: ev.BackendStarted | None = said.first(ev.BackendStarted)
    if backend is not None and backend.energy:
        telemetry["sources"] = {**telemetry.get("sources", {}), energy.SOURCE: backend.energy}
    if spent := energy.summaries(summarized):
        telemetry["phases"] = _merged(telemetry.get("phases") or {}, spent)
        telemetry["figures"] = {**telemetry.get("figures", {}), energy.SOURCE: [GPU_ENERGY.to_dict()]}
    if dispatched := said.first(ev.Dispatched):  # where an accelerator that may fall back ran the cold fit
        telemetry["dispatch"] = {"gpu": dispatched.gpu, "cpu": dispatched.cpu, "reasons": dispatched.reasons}
    start: ev.Started | None = said.first(ev.Started)
    workload_info = {k: v for k, v in vars(start).items() if k != "params"} if start else {}
    threads = said.first(ev.Threads)
    code = os.waitstatus_to_exitcode(status)
    return CaseRecord(
        case=case, status=outcome, reason=reason, started=started, wall_s=wall,
        params=start.params if start else {}, workload_info=workload_info,
        backend_info=backend.info if backend else None, runs=runs,
        backend_facts=BACKENDS[case.backend].facts() if case.backend in BACKENDS else None,
        data_sha256=data.sha256 if (data := said.first(ev.DataHash)) else None,
        threads={k: v for k, v in vars(threads).items() if v is not None} if threads else {},
        telemetry=telemetry,
        exit={"returncode": code, "signal": signal_name(-code) if code < 0 else None},
        log_tail=_failure_log(said, log_tail) if outcome not in ("ok", "skipped") else None,
    )


def _merged(into: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    """`into` with `more` added, nested dicts merged key by key."""
    out = dict(into)
    for key, value in more.items():
        out[key] = _merged(out.get(key) or {}, value) if isinstance(value, dict) else value
    return out


def collect_runs(phases: list[ev.PhaseTiming], verdicts: list[ev.Verdict], quality: list[ev.Quality]) -> list[Repeat]:
    runs: dict[int, dict[str, Any]] = {}
    for p in phases:
        run = runs.setdefault(p.repeat, {"repeat": p.repeat, "cold": p.repeat == 0, "phases": {}, "spans": {},
                                         "cpu_s": {}, "other_cpu_s": {}, "percore": {}, "imports": {}})
        run["phases"][p.phase] = p.seconds
        run["spans"][p.phase] = [p.start, p.end]
        run["cpu_s"][p.phase] = p.cpu_s
        run["other_cpu_s"][p.phase] = p.other_cpu_s
        run["percore"][p.phase] = p.percore
        if p.imports:
            run["imports"][p.phase] = p.imports
    for v in verdicts:
        runs[v.repeat].update(other_cores=v.other_cores, disturbed=v.disturbed, extra=v.extra)
    for q in quality:
        run = runs[q.repeat]
        run |= {"quality": q.quality, "complete": True, "quality_missing": q.missing}
        fit = run["phases"].get("fit")
        if q.work and fit:
            unit, items = q.work
            run["throughput"] = Throughput(unit, items, items / fit)
    return [Repeat(**runs[r]) for r in sorted(runs)]


def classify(said: Said, watch: Watch, status: int, limits: Limits, log_tail: str = "") -> tuple[str, str | None]:
    begun = said.all(ev.Begin)
    where = f"during {begun[-1].phase} of repeat {begun[-1].repeat}" if begun else "before the first phase"
    if watch.killed_for == "timeout":
        return "timeout", f"passed the {limits.timeout_s:g} s timeout {where}"
    if watch.killed_for == "oom":
        return "oom", (f"process tree memory {watch.memory_at_kill / 2**20:.0f} MiB passed the memory cap "
                       f"{limits.memory_cap_bytes / 2**20:.0f} MiB {where}")
    if watch.sent:  # it may have exited before the watch stopped it
        sent = watch.sent[0]
        return "error", (f"sent {signal_name(sent.signum)} to the harness (from pid {sent.pid}, in the case's "
                         f"process tree) {where}: a case's signal fails the case, not the run")
    if skipped := said.first(ev.Skipped):
        return "skipped", skipped.reason
    if failed := said.first(ev.Failed):
        return failed.status, failed.message
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        name = signal_name(-code)
        hint = " (the kernel's OOM killer?)" if -code == signal.SIGKILL else ""
        return "crashed", f"worker killed by {name}{hint} {where}"
    if code != 0:
        full = f": {os.strerror(errno.ENOSPC)} (a disk it wrote to is full: TMPDIR is {tempfile.gettempdir()})"
        return "crashed", f"worker exited with code {code}" + (full if os.strerror(errno.ENOSPC) in log_tail else "")
    if not said.all(ev.Done):
        return "crashed", "worker exited without finishing"
    return "ok", None


def _failure_log(said: Said, log_tail: str) -> str:
    """The worker's traceback, if it reported one, then the last lines it printed."""
    failed = said.first(ev.Failed)
    return "\n".join(filter(None, [failed.traceback if failed else None, log_tail]))


def signal_name(number: int) -> str:
    """'SIGSEGV'; real-time signals have no name in Python, so 'SIGRTMIN+3' or 'signal 40'."""
    try:
        return signal.Signals(number).name
    except ValueError:
        if signal.SIGRTMIN <= number <= signal.SIGRTMAX:
            return f"SIGRTMIN+{number - signal.SIGRTMIN}"
        return f"signal {number}"
