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
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness import __version__, signals
from harness.errors import SizeupError
from harness.records import Case, CaseRecord, Journal, RunResult, finish
from harness.records import events as ev
from harness.run import lifeline, procfs, sweep
from harness.run.assemble import build_record, read_events
from harness.run.machine import THREAD_VARIABLES, memory_limit
from harness.run.outputtail import OutputTail
from harness.run.plan import MIN_MEMORY_CAP, Plan, parse_memory
from harness.run.watch import Limits, Watch
from workloads import catalogue

# -P: never import from the directory sizeup was started in (a stray xgboost.py there would shadow the library).
# A meter may prefix it (make bench-self: /usr/bin/time).
WORKER_COMMAND = (sys.executable, "-P", "-m", "harness.run.worker")
DEADLINE_GRACE_S = 5.0  # a worker ends itself this long (or half its timeout) past the timeout: see worker.keep_deadline


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def new_run(plan: Plan, machine: dict[str, Any]) -> RunResult:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return RunResult(
        run_id=f"{stamp}-{plan.suite}-{secrets.token_hex(2)}",
        started=now_iso(),
        suite=plan.suite,
        settings={k: v for k, v in plan.settings.__dict__.items() if v is not None},
        plan=list(plan.cases),
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

    def case_started(self, case: Case, index: int, total: int) -> None: ...

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
                if case.backend in unavailable:
                    record = CaseRecord(case, "skipped", unavailable[case.backend], started=now_iso())
                else:
                    record = run_case(case, limits)
            except Exception as exc:  # a harness bug must cost one case, not the run
                record = CaseRecord(case, "error", f"harness error: {type(exc).__name__}: {exc}",
                                    started=now_iso(), log_tail=traceback.format_exc())
            if record.status == "skipped":  # only an unavailable backend skips a case
                unavailable[case.backend] = record.reason or ""
            journal.append(record)
            run.cases.append(record)
            progress.case_finished(record)
            progress.planned(len(grow_sweeps(run)))
        return finish(journal, run, now_iso())
    finally:
        journal.close()


def grow_sweeps(run: RunResult) -> list[Case]:
    """Plan the next step of every sweep whose last step is done; note why finished sweeps ended.

    Decided from the records alone, so a resumed run plans what the interrupted one would have, but for a
    run's budget: it counts the cases done and the sweep steps planned (at their predicted wall time), and a
    resumed run counts all it finds done and not the step that was running, so it may decide a step otherwise
    than the interrupted one would have. Under a run's budget the task families share it: every family's first
    sizes (enough for a size fit) come before any sweep grows past them, and past them a family's sweeps take a
    step only where it leaves room for the following step of every family that has spent less on its sweeps and
    is still growing one (else they wait for a later case; sweep.reserve); within a family, past its first sizes
    a model's sweep waits while one clearly ahead of it in quality grows (sweep.ahead). A step past what is left
    of the budget waits too, while another sweep's step is planned and the step would fit were that one to take
    no time: it counts at its predicted time and may come in under it. Returns the cases added.
    """
    done = {c.id: c for c in run.cases}
    last: dict[str, Case] = {}
    for case in run.plan:
        if case.sweep:
            last[case.config] = case  # the plan holds a sweep's steps in order

    steps: dict[str, list[CaseRecord]] = {config: [] for config in last}  # each sweep's records
    for r in run.cases:
        if r.case.sweep and r.case.config in steps:
            steps[r.case.config].append(r)

    pending = {config: (case, steps[config]) for config, case in last.items() if case.id not in done}
    planned = [(case.workload, sweep.predicted_wall(mine, case.size)) for case, mine in pending.values()]
    spent: dict[str, float] = {}  # per workload: its sweeps' wall time, done and planned
    for workload, seconds in [(r.case.workload, r.wall_s) for r in run.cases if r.case.sweep] + planned:
        spent[workload] = spent.get(workload, 0.0) + seconds
    budget = run.settings.get("budget_s")
    left = unplanned = None
    if budget is not None:
        unplanned = budget - sum(r.wall_s for r in run.cases)  # what is left once the steps planned are done
        left = unplanned - sum(seconds for _, seconds in planned)
    memory = run.machine.get("identity", {}).get("memory_bytes") or 0
    added = []
    ready = [(config, case) for config, case in last.items() if case.id in done and config not in run.sweeps]
    ahead = {config: sweep.ahead(steps[config], {c: steps[c] for c, other in last.items()
                                                 if c != config and other.workload == case.workload})
             for config, case in last.items()} if budget is not None else {}

    def progress() -> dict[str, sweep.Progress]:  # every sweep, as planned so far
        return {config: sweep.Progress(pending[config][0] if config in pending else case, steps[config],
                                       config in pending, config in run.sweeps, bool(ahead.get(config)))
                for config, case in last.items()}

    # First sizes first, fewest first, then the poorest family and, within one, the models ahead in quality first
    # where that is an order. A sweep behind one still growing waits, while some step is planned (so that this is
    # called again); one whose leader ends meanwhile is decided in the next pass. A family a step is held back for
    # was decided before it in this order (it has fewer sizes), so the room is held for a step that family has
    # planned, or for one a planned step holds back in turn: the step is decided again after the next case.
    queue = sorted(ready, key=lambda item: (min(len(steps[item[0]]), sweep.MIN_STEPS),
                                            spent.get(item[1].workload, 0.0), len(ahead.get(item[0], ()))))
    while queue:
        waiting = []
        for config, case in queue:
            mine = steps[config]
            if len(mine) >= sweep.MIN_STEPS and pending and any(c not in run.sweeps for c in ahead.get(config, ())):
                waiting.append((config, case))
                continue
            given = (sweep.Sweep(**case.sweep), mine, memory, catalogue()[case.workload].max_size)
            size, stop = sweep.next_size(*given, left)
            if size is None:
                if stop.code == "run-budget" and pending and sweep.next_size(*given, unplanned)[0] is not None:
                    continue  # fits once the steps planned are done, which may take less than predicted
                run.sweeps[config] = stop.message
                continue
            following = replace(case, size=size)
            cost = sweep.predicted_wall(mine, size)
            if left is not None:
                sweeps = progress()
                if cost > left - sweep.reserve(sweeps[config], spent, sweeps.values()):
                    continue  # another family needs the room: decided again after the next case
            if following.id not in done:
                run.plan.append(following)
                added.append(following)
                pending[config] = (following, mine)
                spent[case.workload] = spent.get(case.workload, 0.0) + cost
                if left is not None:
                    left -= cost
        queue = waiting if len(waiting) < len(queue) else []
    return added


def worker_env(threads: int, token: str, lifeline_fd: int, tmpdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({name: str(threads) for name in THREAD_VARIABLES})
    env |= {"PYTHONUNBUFFERED": "1", lifeline.TOKEN_VAR: token, lifeline.LIFELINE_VAR: str(lifeline_fd),
            "TMPDIR": str(tmpdir),  # what libraries leave there (Spark, torch's compiler caches) goes with the case
            # CuPy keeps compiled kernels on disk (~/.cupy): one cache per case, so that a cold run compiles on
            # every machine, whatever ran there before.
            "CUPY_CACHE_DIR": str(tmpdir / "cupy-kernels")}
    if "PYTHONPATH" in env:  # an empty entry means the current directory, which the worker must not import from
        env["PYTHONPATH"] = os.pathsep.join(p for p in env["PYTHONPATH"].split(os.pathsep) if p)
    return env


def run_case(case: Case, limits: Limits) -> CaseRecord:
    if case.memory_cap:  # a case's own cap only ever tightens the run's
        own = parse_memory(case.memory_cap, memory_limit())
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
    runs = [replace(run, process=i) for i, r in enumerate(records) for run in r.runs]
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


def _run_case(case: Case, limits: Limits) -> CaseRecord:
    with tempfile.TemporaryDirectory(prefix="sizeup-case-") as tmp:
        spec, events_path, scratch = Path(tmp, "case.json"), Path(tmp, "events.jsonl"), Path(tmp, "tmp")
        scratch.mkdir()
        spec.write_text(json.dumps({"case": case.to_dict(), "repeats": limits.repeats,
                                    "rerun_disturbed": limits.rerun_disturbed,
                                    "deadline_s": limits.timeout_s + max(DEADLINE_GRACE_S, limits.timeout_s / 2)}))
        token = secrets.token_hex(8)
        known = set(procfs.children(os.getpid()))
        output = OutputTail()
        lifeline_read, lifeline_write = os.pipe()
        # Held open from here on, and named to the worker through /dev/fd: a case that deletes its temp folder
        # (or anything that cleans TMPDIR) cannot take the events of a finished case with it.
        events_fd = os.open(events_path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        events_name = f"/dev/fd/{events_fd}"
        started = now_iso()
        load_before = os.getloadavg()
        t0 = time.monotonic()
        try:
            proc = subprocess.Popen(
                [*WORKER_COMMAND, str(spec), events_name],
                env=worker_env(case.threads, token, lifeline_read, scratch), stdout=output.write_fd,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, pass_fds=(lifeline_read, events_fd),
                start_new_session=True,  # its own group: one kill takes the tree
            )
        except BaseException:
            os.close(lifeline_write)
            os.close(events_fd)
            raise
        finally:
            os.close(lifeline_read)
            output.close_writer()
        watch = Watch(proc, limits)
        try:
            with signals.case(proc.pid) as sent:
                watch.sent = sent
                status, rusage = watch.until_exit(t0)
        finally:
            if proc.returncode is None:  # interrupted while waiting: never leave a worker behind
                watch.kill()
                _, status, rusage = os.wait4(proc.pid, 0)
                proc.returncode = -1
            leftovers = lifeline.kill_case(token, roots=lifeline.strays(known | {proc.pid}))
            os.close(lifeline_write)
            watch.close()
            events = read_events(Path(events_name))
            os.close(events_fd)
        wall = watch.exited_at - t0
        log_tail = output.text()
    ready = next((e.t for e in events if isinstance(e, ev.Ready)), None)
    context = {"spawn_s": None if ready is None else ready - t0,
               "load_average": {"before": list(load_before), "after": list(os.getloadavg())},
               "output_bytes": output.total_bytes, "leftover_processes": leftovers}
    return build_record(case, started, wall, events, watch, status, rusage, log_tail, limits, context)
