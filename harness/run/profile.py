"""`sizeup profile -- CMD`: the user's own training job, run as a case is run and sampled as cases are.

The job runs in a session of its own with the case's lifeline token: its process tree is sampled,
and nothing it starts outlives it (a daemon it forks is killed when it exits, and named; while the
job runs, a process that has left its tree, such as a daemon, is not sampled).
Its output goes straight to the terminal, untouched (with --mark, through sizeup, byte for byte:
harness.run.printed). The record is a case of workload `profile`:
one repeat whose one phase, `run`, is the job's wall time, with the sampled series (tree CPU,
per-core CPU, memory with PSS for forked trees, disk I/O, and every telemetry source there is,
the GPU's included). Ctrl-C stops the job (SIGINT first, then SIGKILL after GRACE_S) and keeps
what was measured. The job's exit code is recorded, and is the exit code of `sizeup profile`.
"""

from __future__ import annotations

import math
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import psutil

from harness import phases, signals
from harness.errors import SizeupError, Stopped
from harness.records import PROFILE, BackendFacts, Case, CaseRecord, Repeat, RunResult
from harness.run import lifeline, machine, monitor, printed, procfs
from harness.run.assemble import signal_name
from harness.run.marks import PHASE, UNMARKED, merged, own
from harness.run.marks import outside as marks_outside
from harness.run.marks import read as read_marks
from harness.run.marks import within as marks_within
from harness.run.plan import SAMPLE_HZ, Plan, Settings
from harness.run.runner import new_run, now_iso
from harness.run.sources import open_sources
from harness.run.watch import Limits, Watch, next_tick

BACKEND = "process"
GRACE_S = 10.0  # after Ctrl-C, how long the job has to stop on its own before it is killed
# The harness blocks the stop signals (harness.signals) and children inherit the mask: the job must get them
# as it would from a shell, so it starts through this, which unblocks them and becomes the command.
# Where exec fails (no shebang, a missing interpreter), one line and the shell's exit codes, 126 or 127.
EXEC = ("import errno, os, signal, sys\n"
        "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGHUP})\n"
        "try:\n    os.execv(sys.argv[1], sys.argv[1:])\n"
        "except OSError as e:\n    print(f'sizeup profile: cannot run {sys.argv[1]}: {e.strerror}', file=sys.stderr)\n"
        "    os._exit(127 if e.errno == errno.ENOENT else 126)")
SCRIPT = re.compile(r"\.(py|R|r|sh|ipynb)$")  # a file an interpreter runs, by its suffix
INTERPRETERS = {"python", "python3", "bash", "sh", "Rscript", "torchrun", "accelerate", "deepspeed", "jupyter"}
VALUED = {"-W", "-X", "--check-hash-based-pycs"}  # Python's options whose value is the next argument


@dataclass(frozen=True)
class Profiled:
    run: RunResult
    exit_code: int  # the job's, as a shell gives it: 128 + N where signal N ended it
    interrupted: int  # 128 + N where the user's signal N (Ctrl-C: 2) stopped it before it ended, else 0


def executable(command: list[str]) -> str:
    """The command's program as a path; SizeupError (exit 2) where there is none to run."""
    if not command or not command[0].strip():
        raise SizeupError("sizeup profile needs the command to run after --, for example: "
                          "sizeup profile -- python train.py")
    program = command[0]
    found = shutil.which(program)
    if found is None:
        path = Path(program)
        if os.sep in program and path.is_file():
            raise SizeupError(f"{program} is not executable: chmod +x it, or name its interpreter "
                              f"(sizeup profile -- python {program})")
        if os.sep in program and path.is_dir():
            raise SizeupError(f"{program} is a folder, not a command")
        raise SizeupError(f"command not found: {program}")
    return found


def job_name(command: list[str]) -> str:
    """A name for the job's record (letters, digits, ._-): what an interpreter runs, the first of a module given
    with `-m`, 'python3-c' for code given with `-c` (the code itself is no name) and a file of a script's suffix
    (past options that take a value: `-W ignore`), else its first argument that is neither an option nor Python's
    option's value (`-X dev`); else the program."""
    name = Path(command[0]).name
    if name.rstrip("0123456789.") in INTERPRETERS:
        args = command[1:]
        for i, a in enumerate(args):
            if a == "-m" and i + 1 < len(args):
                return _safe(args[i + 1])
            if a == "-c":
                return _safe(f"{name}-c")
            if SCRIPT.search(a) and not a.startswith("-"):
                return _safe(Path(a).name)
        values = {i + 1 for i, a in enumerate(args) if a in VALUED}
        name = next((Path(a).name for i, a in enumerate(args) if not a.startswith("-") and i not in values), name)
    return _safe(name)


def _safe(name: str) -> str:
    """`name` as a record's model name: letters, digits and ._- only."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:64] or "job"


def _new_run(name: str, sample_hz: float, fingerprint: dict[str, object]) -> RunResult:
    """A run of one profile case, its sampling rate checked first."""
    if not SAMPLE_HZ[0] <= sample_hz <= SAMPLE_HZ[1]:
        raise SizeupError(f"--sample-hz must be from {SAMPLE_HZ[0]:g} to {SAMPLE_HZ[1]:g}, got {sample_hz:g}")
    case = Case(PROFILE, name, BACKEND, 1, len(os.sched_getaffinity(0)))
    run = new_run(Plan(PROFILE, Settings(repeats=1, timeout_s=math.inf, sample_hz=sample_hz), (case,)), fingerprint)
    del run.settings["timeout_s"]  # a job runs as long as it runs
    return run


def profile(command: list[str], sample_hz: float, fingerprint: dict[str, object],
            mark: re.Pattern[bytes] | None = None, notice: Callable[[str], None] = lambda _: None) -> Profiled:
    """Run `command` to its end (or the user's stop) and return its profile as a run of one record; with `mark`,
    lines of its output that match it start phases too (harness.run.printed). `notice` tells the user, at once,
    what a stop does while the job is given time to end."""
    program = executable(command)
    run = _new_run(job_name(command), sample_hz, fingerprint)
    case = run.plan[0]
    token = secrets.token_hex(8)
    known = set(procfs.children(os.getpid()))
    env = dict(os.environ) | {lifeline.TOKEN_VAR: token}  # what carries the token is the job's: killed with it
    marks_fd, marks_path = tempfile.mkstemp(prefix="sizeup-phases-")  # `with harness.phase(...)` writes here
    os.close(marks_fd)
    env[phases.ENV] = marks_path
    streams, ends, terminal = printed.job_streams() if mark is not None else ([], (None, None), True)
    if not terminal:
        env["PYTHONUNBUFFERED"] = "1"  # a line is timed when it arrives: Python must not hold it back in a pipe
    started = now_iso()
    oom_before = procfs.oom_kills()
    lifeline.become_subreaper()  # its orphans come to us, not to init: they are the job's, and die with it
    t0 = time.monotonic()
    try:
        proc = subprocess.Popen([sys.executable, "-c", EXEC, program, *command[1:]], env=env,
                                start_new_session=True, stdout=ends[0], stderr=ends[1])
    except OSError as exc:
        lifeline.become_subreaper(False)
        Path(marks_path).unlink(missing_ok=True)
        printed.close([*ends, *(read for read, _ in streams)])
        raise SizeupError(f"cannot start {command[0]}: {exc.strerror or exc}") from None
    printed.close(ends)  # the job's now: the reads end when it, and all it started, close them
    tee = printed.Tee(mark, streams) if mark is not None else None
    watch: Watch | None = None
    interrupted = 0  # 128 + the stop signal the user sent sizeup
    status, rusage = 0, None
    try:
        watch = Watch(proc, Limits(0, math.inf, machine.memory_limit() * 4, sample_hz))
        with signals.case(proc.pid) as sent:
            watch.sent = sent  # a job that signals sizeup itself is stopped, as a case would be
            try:
                status, rusage = watch.until_exit(t0)
            except (KeyboardInterrupt, Stopped) as exc:
                interrupted = 128 + exc.signum if isinstance(exc, Stopped) else 128 + signal.SIGINT
                status, rusage = _stop(proc, watch, notice)
    finally:
        if proc.returncode is None:  # never leave the job behind (a stop while the sampler was being set up)
            _signal_group(proc.pid, signal.SIGKILL)
            status, rusage = _reap(proc, 0)
        leftovers = lifeline.kill_case(token, roots=lifeline.strays(known | {proc.pid}))
        if watch is not None:
            watch.close()
        lifeline.become_subreaper(False)
    wall = watch.exited_at - t0 if watch.exited_at else time.monotonic() - t0
    marks = read_marks(Path(marks_path), t0 + wall)
    for name, windows in (tee.windows(t0 + wall) if tee else {}).items():  # one name from both: counted once
        marks[own(name)] = merged(marks.get(own(name), []) + windows)
    if marks and UNMARKED not in marks and (outside := marks_outside(marks, t0, t0 + wall)):
        marks[UNMARKED] = outside
    Path(marks_path).unlink(missing_ok=True)
    code = os.waitstatus_to_exitcode(status)
    status_, reason = _outcome(watch, code, wall, interrupted, oom_before)
    telemetry = _telemetry(watch, wall, t0, marks) | {"leftover_processes": leftovers,
                                                      "worker_cpu_s": _cpu_s(rusage),
                                                      "worker_system_s": getattr(rusage, "ru_stime", None)}
    params = {"command": shlex.join(command), "cwd": os.getcwd()} | ({"mark": os.fsdecode(mark.pattern)} if mark else {})
    record = _record(case, params, started, wall, t0, status_, reason,
                     telemetry, {"returncode": code, "signal": signal_name(-code) if code < 0 else None},
                     _cpu_s(rusage), f"{command[0]} (sizeup profile)", marks)
    run.cases.append(record)
    run = replace(run, finished=now_iso(), complete=True)
    return Profiled(run, 128 - code if code < 0 else code, interrupted)


class Attached:
    """Sampling a process tree sizeup did not start (`--pid`): what a Watch holds, without a child to wait for."""

    def __init__(self, pid: int, sample_hz: float) -> None:
        self.tree = monitor.ProcessTree(pid)
        self.sample_hz = sample_hz
        sources, self.sources = open_sources()
        self.monitor = monitor.Monitor(self.tree, sample_hz, sources)
        self.peak_memory = 0

    def close(self) -> None:
        for source in self.monitor.sources:
            source.close()


def attach(pid: int, duration_s: float | None, sample_hz: float, fingerprint: dict[str, object]) -> Profiled:
    """Sample process `pid` and its tree until it exits, `duration_s` passes or the user stops sizeup; the process
    is never touched. What this user may not read of it (another user's I/O and PSS) is said in the record."""
    if duration_s is not None and not (math.isfinite(duration_s) and duration_s > 0):
        raise SizeupError(f"--duration must be a number of seconds above 0, got {duration_s:g}")
    if pid == os.getpid() or pid in {p.pid for p in psutil.Process().parents()}:
        raise SizeupError(f"--pid {pid} is sizeup itself or runs it: give the job's own process")
    try:
        target = psutil.Process(pid)
        name, cmdline = target.name(), target.cmdline()
    except psutil.ZombieProcess:
        raise SizeupError(f"--pid {pid} exited before it could be sampled: nothing to keep") from None
    except psutil.NoSuchProcess:
        raise SizeupError(f"--pid {pid}: no such process") from None
    except psutil.AccessDenied:
        name, cmdline = f"pid{pid}", []
    run = _new_run(_safe(name), sample_hz, fingerprint)
    unseen = _unseen(target)
    started, t0 = now_iso(), time.monotonic()
    sampled = Attached(pid, sample_hz)
    interrupted, why = 0, "it exited"
    tick = t0
    try:
        while True:
            if not _alive(target):
                break
            sampled.peak_memory = max(sampled.peak_memory, sampled.monitor.sample())
            if duration_s is not None and time.monotonic() - t0 >= duration_s:
                why = f"the {duration_s:g} s asked for passed"
                break
            tick = next_tick(tick, time.monotonic(), sampled.monitor.interval)
            time.sleep(max(0.0, tick - time.monotonic()))
    except (KeyboardInterrupt, Stopped) as exc:
        interrupted, why = (128 + exc.signum if isinstance(exc, Stopped) else 128 + signal.SIGINT), "stopped by the user"
    finally:
        sampled.close()
    wall = time.monotonic() - t0
    if len(sampled.monitor.series.t) < 1:
        raise SizeupError(f"--pid {pid} exited before it could be sampled: nothing to keep")
    telemetry = _telemetry(sampled, wall, t0) | {"attached": {"pid": pid, "ended": why, "unseen": unseen}}
    record = _record(run.plan[0], {"pid": pid, "command": shlex.join(cmdline)}, started, wall, t0, "ok", None,
                     telemetry, {"returncode": None, "signal": None}, None, f"pid {pid} (sizeup profile --pid)")
    run.cases.append(record)
    return Profiled(replace(run, finished=now_iso(), complete=True), 0, interrupted)


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _unseen(process: psutil.Process) -> list[str]:
    """What of `process` this user may not read (another user's process): said, not guessed."""
    out = []
    for what, read in (("disk I/O", process.io_counters), ("shared memory (PSS)", process.memory_full_info)):
        try:
            read()
        except psutil.AccessDenied:
            out.append(what)
        except psutil.NoSuchProcess:
            break
    return out


def _cpu_s(rusage: object) -> float | None:
    return (rusage.ru_utime + rusage.ru_stime) if rusage else None  # type: ignore[attr-defined]


def _stop(proc: subprocess.Popen[bytes], watch: Watch, notice: Callable[[str], None]) -> tuple[int, object]:
    """The user stopped sizeup: SIGINT to the job's group, as a terminal would, then SIGKILL after GRACE_S (or at
    once, on a second stop)."""
    deadline = time.monotonic() + GRACE_S
    try:
        _signal_group(proc.pid, signal.SIGINT)
        notice(f"Ctrl-C passed to the job, which has {GRACE_S:g} s to stop on its own (a job may catch it to save its "
               "work); a second Ctrl-C stops it now")
        while proc.returncode is None and time.monotonic() < deadline:
            status, rusage = _reap(proc, os.WNOHANG)
            if proc.returncode is not None:
                watch.exited_at = time.monotonic()
                return status, rusage
            time.sleep(0.05)
    except (KeyboardInterrupt, Stopped):
        pass
    watch.kill()
    status, rusage = _reap(proc, 0)
    watch.exited_at = watch.exited_at or time.monotonic()
    return status, rusage


def _signal_group(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)
    except OSError:  # gone, or another user's (sudo): nothing more sizeup can do to it
        pass


def _reap(proc: subprocess.Popen[bytes], flags: int) -> tuple[int, object]:
    """wait4 on the job; sets its returncode once it has exited. Already reaped (a stop that came between the
    watcher's wait4 and its bookkeeping): status 0, and the record says it was stopped by the user."""
    try:
        pid, status, rusage = os.wait4(proc.pid, flags)
    except ChildProcessError:
        proc.returncode = proc.returncode if proc.returncode is not None else 0
        return 0, None
    if pid:
        proc.returncode = os.waitstatus_to_exitcode(status)
    return status, rusage


def _telemetry(sampled: Watch | Attached, wall: float, t0: float,
               marks: dict[str, list[tuple[float, float]]] | None = None) -> dict[str, object]:
    """The sampled series and their summary over the whole run and each phase the job marked."""
    out: dict[str, object] = {
        "sample_hz": sampled.sample_hz, "peak_memory_bytes": sampled.peak_memory,
        "sampled_peak_bytes": sampled.peak_memory, "tree_memory": "pss" if sampled.tree.shared_accounting else "rss",
        "memory_total_bytes": machine.memory_limit()}
    if sampled.monitor:
        mon = sampled.monitor
        out |= {"sampler_s": mon.cost_s, "sampler_overhead": mon.cost_s / wall if wall else None,
                "phases": {PHASE: monitor.summarize(mon.series, [(t0, t0 + wall)])}
                | {name: monitor.summarize(mon.series, w) | _times(name, w) for name, w in (marks or {}).items()},
                "series": mon.series.to_dict(), "sources": sampled.sources}
        if figures := {s.name: [f.to_dict() for f in s.figures] for s in mon.sources if s.figures}:
            out["figures"] = figures
    if nested := marks_within(marks or {}):
        out["phases_within"] = nested  # a phase -> the phase it ran inside, shown beneath it
    return out


def _times(name: str, windows: list[tuple[float, float]]) -> dict[str, int]:
    """How many separate stretches a phase the job marked ran in (its overlapping marks joined): not for the time
    outside them, nor for the names past the cap, which are many phases under one name."""
    return {} if name in (UNMARKED, phases.MORE) else {"times": len(windows)}


def _record(case: Case, params: dict[str, object], started: str, wall: float, t0: float, status: str,
            reason: str | None, telemetry: dict[str, object], exit: dict[str, object], cpu_s: float | None,
            info: str, marks: dict[str, list[tuple[float, float]]] | None = None) -> CaseRecord:
    # The job's one run is what was asked for, not a warm-up: the statistics count it (a repeat 1, not cold).
    # A phase the job marked more than once: its seconds summed, its span from its first start to its last end.
    marks = marks or {}
    repeat = Repeat(1, cold=False, complete=status == "ok",
                    phases={PHASE: wall} | {n: sum(b - a for a, b in w) for n, w in marks.items()},
                    spans={PHASE: [t0, t0 + wall]} | {n: [w[0][0], max(b for _, b in w)] for n, w in marks.items()},
                    cpu_s={PHASE: cpu_s})
    return CaseRecord(case, status, reason, started, wall, params=params,
                      workload_info={"family": None, "metric": None, "size_unit": "runs"}, backend_info=info,
                      backend_facts=BackendFacts("cpu"), runs=[repeat], telemetry=telemetry, exit=exit)


def _outcome(watch: Watch, code: int, wall: float, interrupted: int,
             oom_before: tuple[int, str]) -> tuple[str, str | None]:
    if interrupted:
        return "error", f"stopped by the user after {wall:.1f} s (what ran until then is kept)"
    if watch.killed_for == "signal":
        return "error", f"the job sent sizeup {signal_name(watch.sent[0].signum)}: stopped"
    if code == 0:
        return "ok", None
    if code < 0:
        kills, counted = procfs.oom_kills()
        oom = -code == signal.SIGKILL and kills > oom_before[0]
        where = "" if counted == "cgroup" else ", counted on the whole machine: this system keeps no count per cgroup"
        return ("oom" if oom else "crashed"), f"the job was killed by {signal_name(-code)}" + (
            f" (the kernel's out-of-memory killer{where})" if oom else "")
    return "error", exited(code)


def exited(code: int) -> str:
    """The reason of a job that ended by itself with a non-zero code: no more than its exit code says."""
    return f"the job exited with code {code}"
