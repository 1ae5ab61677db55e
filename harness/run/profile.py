"""`sizeup profile -- CMD`: the user's own training job, run as a case is run and sampled as cases are.

The job runs in a session of its own with the case's lifeline token: its process tree is sampled,
and nothing it starts outlives it (a daemon it forks is killed when it exits, and named; while the
job runs, a process that has left its tree, such as a daemon, is not sampled).
Its output goes straight to the terminal, untouched. The record is a case of workload `profile`:
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
import time
from dataclasses import dataclass, replace
from pathlib import Path

from harness import signals
from harness.errors import SizeupError, Stopped
from harness.records import PROFILE, BackendFacts, Case, CaseRecord, Repeat, RunResult
from harness.run import lifeline, machine, monitor, procfs
from harness.run.assemble import signal_name
from harness.run.runner import new_run, now_iso
from harness.run.plan import SAMPLE_HZ, Plan, Settings
from harness.run.watch import Limits, Watch

BACKEND = "process"
PHASE = "run"
GRACE_S = 10.0  # after Ctrl-C, how long the job has to stop on its own before it is killed
# The harness blocks the stop signals (harness.signals) and children inherit the mask: the job must get them
# as it would from a shell, so it starts through this, which unblocks them and becomes the command.
# Where exec fails (no shebang, a missing interpreter), one line and the shell's exit codes, 126 or 127.
EXEC = ("import errno, os, signal, sys\n"
        "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGHUP})\n"
        "try:\n    os.execv(sys.argv[1], sys.argv[1:])\n"
        "except OSError as e:\n    print(f'sizeup profile: cannot run {sys.argv[1]}: {e.strerror}', file=sys.stderr)\n"
        "    os._exit(127 if e.errno == errno.ENOENT else 126)")
INTERPRETERS = {"python", "python3", "bash", "sh", "Rscript", "torchrun", "accelerate", "deepspeed", "jupyter"}


@dataclass(frozen=True)
class Profiled:
    run: RunResult
    exit_code: int  # the job's, as a shell gives it: 128 + N where signal N ended it
    interrupted: int  # 128 + N where the user's signal N (Ctrl-C: 2) stopped it before it ended, else 0


def executable(command: list[str]) -> str:
    """The command's program as a path; SizeupError (exit 2) where there is none to run."""
    if not command:
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
    """A name for the job's record: the script an interpreter runs, else the program (letters, digits, ._-)."""
    name = Path(command[0]).name
    if name.rstrip("0123456789.") in INTERPRETERS:
        name = next((Path(a).name for a in command[1:] if not a.startswith("-")), name)
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:64] or "job"


def profile(command: list[str], sample_hz: float) -> Profiled:
    """Run `command` to its end (or the user's stop) and return its profile as a run of one record."""
    program = executable(command)
    if not SAMPLE_HZ[0] <= sample_hz <= SAMPLE_HZ[1]:
        raise SizeupError(f"--sample-hz must be from {SAMPLE_HZ[0]:g} to {SAMPLE_HZ[1]:g}, got {sample_hz:g}")
    cores = len(os.sched_getaffinity(0))
    case = Case(PROFILE, job_name(command), BACKEND, 1, cores)
    run = new_run(Plan(PROFILE, Settings(repeats=1, timeout_s=math.inf, sample_hz=sample_hz), (case,)),
                  machine.fingerprint())
    del run.settings["timeout_s"]  # a job runs as long as it runs
    token = secrets.token_hex(8)
    known = set(procfs.children(os.getpid()))
    env = dict(os.environ) | {lifeline.TOKEN_VAR: token}  # what carries the token is the job's: killed with it
    started = now_iso()
    oom_before = _oom_kills()
    lifeline.become_subreaper()  # its orphans come to us, not to init: they are the job's, and die with it
    t0 = time.monotonic()
    try:
        proc = subprocess.Popen([sys.executable, "-c", EXEC, program, *command[1:]], env=env,
                                start_new_session=True)
    except OSError as exc:
        lifeline.become_subreaper(False)
        raise SizeupError(f"cannot start {command[0]}: {exc.strerror or exc}") from None
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
                status, rusage = _stop(proc, watch)
    finally:
        if proc.returncode is None:  # never leave the job behind (a stop while the sampler was being set up)
            _signal_group(proc.pid, signal.SIGKILL)
            status, rusage = _reap(proc, 0)
        leftovers = lifeline.kill_case(token, roots=lifeline.strays(known | {proc.pid}))
        if watch is not None:
            watch.close()
        lifeline.become_subreaper(False)
    wall = watch.exited_at - t0 if watch.exited_at else time.monotonic() - t0
    code = os.waitstatus_to_exitcode(status)
    record = _record(case, command, started, wall, t0, watch, code, rusage, leftovers, interrupted, oom_before)
    run.cases.append(record)
    run = replace(run, finished=now_iso(), complete=True)
    return Profiled(run, 128 - code if code < 0 else code, interrupted)


def _stop(proc: subprocess.Popen[bytes], watch: Watch) -> tuple[int, object]:
    """The user stopped sizeup: SIGINT to the job's group, as a terminal would, then SIGKILL after GRACE_S (or at
    once, on a second stop)."""
    _signal_group(proc.pid, signal.SIGINT)
    deadline = time.monotonic() + GRACE_S
    try:
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


def _record(case: Case, command: list[str], started: str, wall: float, t0: float, watch: Watch, code: int,
            rusage: object, leftovers: list[str], interrupted: int, oom_before: int) -> CaseRecord:
    cpu_s = (rusage.ru_utime + rusage.ru_stime) if rusage else None  # type: ignore[attr-defined]
    end = t0 + wall
    telemetry: dict[str, object] = {
        "sample_hz": watch.limits.sample_hz, "peak_memory_bytes": watch.peak_memory,
        "sampled_peak_bytes": watch.peak_memory, "tree_memory": "pss" if watch.tree.shared_accounting else "rss",
        "worker_cpu_s": cpu_s, "leftover_processes": leftovers, "memory_total_bytes": machine.memory_limit()}
    if watch.monitor:
        telemetry |= {"sampler_s": watch.monitor.cost_s, "sampler_overhead": watch.monitor.cost_s / wall if wall else None,
                      "phases": {PHASE: monitor.summarize(watch.monitor.series, [(t0, end)])},
                      "series": watch.monitor.series.to_dict(), "sources": watch.sources}
        if figures := {s.name: [f.to_dict() for f in s.figures] for s in watch.monitor.sources if s.figures}:
            telemetry["figures"] = figures
    if interrupted:
        status, reason = "error", f"stopped by the user after {wall:.1f} s (what ran until then is kept)"
    elif watch.killed_for == "signal":
        status, reason = "error", f"the job sent sizeup {signal_name(watch.sent[0].signum)}: stopped"
    elif code == 0:
        status, reason = "ok", None
    elif code < 0:
        killed = signal_name(-code)
        oom = -code == signal.SIGKILL and _oom_kills() > oom_before
        status, reason = ("oom" if oom else "crashed"), f"the job was killed by {killed}" + (
            " (the kernel's out-of-memory killer)" if oom else "")
    else:
        status, reason = "error", f"the job exited with code {code}"
    # The job's one run is what was asked for, not a warm-up: the statistics count it (a repeat 1, not cold).
    repeat = Repeat(1, cold=False, complete=status == "ok", phases={PHASE: wall}, spans={PHASE: [t0, end]},
                    cpu_s={PHASE: cpu_s})
    return CaseRecord(case, status, reason, started, wall, params={"command": shlex.join(command),
                                                                       "cwd": os.getcwd()},
                      workload_info={"family": None, "metric": None, "size_unit": "runs"},
                      backend_info=f"{command[0]} (sizeup profile)", backend_facts=BackendFacts("cpu"),
                      runs=[repeat], telemetry=telemetry,
                      exit={"returncode": code, "signal": signal_name(-code) if code < 0 else None})


def _oom_kills() -> int:
    """How many processes the kernel's OOM killer has killed in this memory cgroup (0 where unreadable)."""
    try:
        events = Path("/sys/fs/cgroup/memory.events").read_text()
    except OSError:
        return 0
    return next((int(n) for name, n in (line.split() for line in events.splitlines() if line.strip())
                 if name == "oom_kill"), 0)
