"""Who sent a stop signal. The user's (Ctrl-C, `kill`, a closed terminal) stops the run; one sent to the
harness from inside a running case's process tree (`os.kill(os.getppid(), SIGTERM)`) fails that case only.

A Python handler cannot see a signal's sender, so `install` blocks the stop signals before any other thread
exists (thread pools and progress bars inherit the mask) and one thread takes them with sigwaitinfo, which
can. A signal that is not a case's is handed to the main thread as if it had been delivered there
(`_thread.interrupt_main`): Ctrl-C raises KeyboardInterrupt, SIGTERM the CLI's Stopped. Children inherit the
mask, so a worker unblocks the signals first thing (`unblock`).

A sender that is gone before it is looked at (a `kill` command that has already exited and been reaped) cannot
be placed: it counts as the user's, and the run stops as it did before.
"""

from __future__ import annotations

import _thread
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

STOP = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP})
MAX_DEPTH = 64  # ancestors looked at for a sender: a deeper tree than this is not a case's


@dataclass(frozen=True)
class Sent:
    """A stop signal that came from the running case."""

    signum: int
    pid: int


_case: int | None = None  # the running case's worker
_sent: list[Sent] = []
_delivery = threading.Lock()  # held while a record is written: a stop waits for the whole line


def install() -> bool:
    """Take the stop signals in a thread of their own; False (and nothing changed) where that cannot work."""
    if not hasattr(signal, "sigwaitinfo") or threading.active_count() > 1 or not os.path.exists("/proc/self/stat"):
        return False
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP)
    threading.Thread(target=_take, name="sizeup-signals", daemon=True).start()
    return True


def unblock() -> None:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP)


@contextmanager
def case(worker: int) -> Iterator[list[Sent]]:
    """While a case runs: the stop signals its process tree sends the harness, in the list yielded."""
    global _case, _sent
    _sent = []
    _case = worker
    try:
        yield _sent
    finally:
        _case = None


@contextmanager
def shielded() -> Iterator[None]:
    """A stop waits until the block is done (a journal line is written whole)."""
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, STOP)  # where `install` did not run
    try:
        with _delivery:
            yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def _take() -> None:
    while True:
        info = signal.sigwaitinfo(STOP)
        worker = _case
        if worker is not None and from_case(info.si_pid, worker):
            _sent.append(Sent(info.si_signo, info.si_pid))
            continue
        with _delivery:
            _deliver(info.si_signo)


def from_case(pid: int, worker: int) -> bool:
    """Whether `pid` is the worker or below it, or below the harness (a case's orphans come to the harness,
    a subreaper while a case runs)."""
    harness = os.getpid()
    if pid == harness:
        return False
    for _ in range(MAX_DEPTH):
        if pid in (worker, harness):
            return True
        if pid <= 1 or (pid := _parent(pid)) is None:
            return False
    return False


def _parent(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return int(f.read().rsplit(b")", 1)[1].split()[1])  # field 4 of proc(5); the name may hold ")"
    except (OSError, IndexError, ValueError):
        return None


def _deliver(signum: int) -> None:
    handler = signal.getsignal(signum)
    if handler is signal.SIG_IGN:
        return
    if callable(handler):
        _thread.interrupt_main(signum)
        return
    # The default action (no handler set yet: sizeup is still starting): it ends the process, as it would have.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signum})
    signal.pthread_kill(threading.get_ident(), signum)
