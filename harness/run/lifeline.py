"""Nothing a case starts outlives it, however the case or the harness ends.

Three holds on a case's processes, because each alone has a gap:

- a token: every process of a case inherits ``SIZEUP_CASE=<token>`` in its environment, so
  it is found even after it left the process group and was reparented to init;
- subreapers: the worker, and the harness while a case runs, set PR_SET_CHILD_SUBREAPER, so
  an orphan is reparented to them (and stays findable as a descendant) rather than to init,
  even where it cleared its environment;
- a lifeline: the worker holds the read end of a pipe whose write end only the harness
  has. When the harness dies, however it dies (SIGKILL included), the kernel closes the
  write end; the worker's watcher thread reads end-of-file and forks a killer that freezes
  the worker, kills the case's processes, then the worker. It starts before the worker
  imports anything heavy, and a harness that died before it started is seen at once,
  since end-of-file is already waiting.

Stdlib only: the worker imports this first.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import threading
import time
import warnings
from pathlib import Path

from harness.run import procfs

TOKEN_VAR = "SIZEUP_CASE"
LIFELINE_VAR = "SIZEUP_LIFELINE_FD"
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
KILL_ROUNDS = 50  # a case that forks while it is being killed is looked up again, this many times at most


def become_subreaper(on: bool = True) -> bool:
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def die_with_parent() -> None:
    """This process gets SIGKILL when the thread that forked it ends (the harness killed meanwhile)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def case_processes(token: str, roots: tuple[int, ...] = ()) -> set[int]:
    """Live processes that carry the case's token, and every descendant of `roots` (roots included)."""
    mark = f"{TOKEN_VAR}={token}".encode()
    found = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/environ", "rb") as f:
                    if mark in f.read().split(b"\0"):
                        found.add(int(entry.name))
            except OSError:  # gone, or not ours to read
                pass
    for root in roots:
        if procfs.stat(root) is not None:
            found.add(root)
            found.update(procfs.descendants(root) or ())
    return found


def kill_case(token: str, roots: tuple[int, ...] = ()) -> list[str]:
    """SIGKILL the case's processes until none is left; 'name (pid)' of each one killed.

    Never kills the calling process. Killed children of the caller are reaped, and so are
    `roots` that had already exited (orphans handed to a subreaper).
    """
    me = os.getpid()
    killed: dict[int, str] = {}
    for _ in range(KILL_ROUNDS):
        found = {pid for pid in case_processes(token, roots) - {me} if not _dead(pid)}
        if not found:
            break
        for pid in found:
            killed.setdefault(pid, _name(pid))
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        _reap(found)
    _reap({pid for pid in roots if _dead(pid)})
    return [f"{name} ({pid})" for pid, name in killed.items()]


def strays(known: set[int]) -> tuple[int, ...]:
    """Children of this process it did not start: orphans reparented to it as a subreaper."""
    return tuple(set(procfs.children(os.getpid())) - known)


def hold(case_dir: Path | None) -> None:
    """In the worker: become a subreaper and watch the lifeline the harness passed (if any)."""
    fd = os.environ.pop(LIFELINE_VAR, None)
    become_subreaper()
    if fd is not None:
        threading.Thread(target=_watch, args=(int(fd), case_dir), name="sizeup-lifeline", daemon=True).start()


def _watch(fd: int, case_dir: Path | None) -> None:
    try:
        while os.read(fd, 1):  # the harness never writes: b"" means it is gone
            pass
    except OSError:
        pass
    worker = os.getpid()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12 warns of fork() with threads; the child only kills
        killer = os.fork()
    if killer:
        time.sleep(60)  # the killer ends us; meanwhile this thread does nothing
        return
    # A single-threaded copy does the killing, with the worker frozen: a worker still running could start
    # another process between the last look-up and its own end.
    try:
        os.kill(worker, signal.SIGSTOP)
        if TOKEN_VAR in os.environ:
            kill_case(os.environ[TOKEN_VAR], roots=(worker,))
        os.kill(worker, signal.SIGKILL)
        if case_dir is not None and case_dir.name.startswith("sizeup-case-"):
            shutil.rmtree(case_dir, ignore_errors=True)  # nobody else is left to remove it
    finally:
        os._exit(0)


def _reap(pids: set[int]) -> None:
    """Wait for those of `pids` that are our children; give the others a moment to go."""
    deadline = time.monotonic() + 2.0
    for pid in pids:
        try:
            os.waitpid(pid, 0)
            continue
        except ChildProcessError:  # not ours: its own parent reaps it
            pass
        while not _dead(pid) and time.monotonic() < deadline:
            time.sleep(0.005)


def _dead(pid: int) -> bool:
    """Gone, or a zombie waiting to be reaped."""
    st = procfs.stat(pid)
    return st is None or st.state in ("Z", "X")


def _name(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"
