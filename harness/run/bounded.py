"""Work the harness does on the user's behalf, held to a memory cap as a case is: reading a user's table to
identify it. The function runs in a forked child that the harness watches from outside and kills when it has
grown past the cap; its result (or its SizeupError) comes back through a pipe.

Why not a resource limit in-process: past RLIMIT_DATA, a thread pool's new thread fails in its start-up and
`Thread.start()` waits forever (pandas' CSV reader starts one); a child killed from outside cannot hang.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import struct
import traceback
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from harness.errors import SizeupError
from harness.run import lifeline, procfs

T = TypeVar("T")
POLL_S = 0.05


class OverCap(SizeupError):
    """The child grew past its memory cap and was stopped."""

    def __init__(self, cap_bytes: int, grown_bytes: int) -> None:
        super().__init__(f"it grew past the memory cap of {size(cap_bytes)} and was stopped")
        self.cap_bytes, self.grown_bytes = cap_bytes, grown_bytes


def size(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def call(fn: Callable[..., T], cap_bytes: int, *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` in a forked child that may grow by at most `cap_bytes` (resident memory). Its
    SizeupError is raised here; OverCap past the cap; anything else is a bug, raised with the child's traceback."""
    read, write = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12 warns of fork() with threads: the child
        pid = os.fork()  # runs only this function, in its one thread
    if pid == 0:  # pragma: no cover (the child; its exit code is unused)
        try:
            _child(read, write, fn, args, kwargs)
        finally:
            os._exit(0)  # whatever happened: the child never returns into the caller's code
    os.close(write)
    try:
        header = os.read(read, 8)
        base = struct.unpack("<Q", header)[0] if len(header) == 8 else 0
        data, peak = _collect(read, pid, base + cap_bytes)
        grown = peak - base
    finally:
        os.close(read)
        _end(pid)
    if data is None:
        raise OverCap(cap_bytes, grown)
    if not data:
        raise RuntimeError(f"{fn.__name__} ended its process without an answer")
    kind, value = pickle.loads(data)
    if kind == "ok":
        return value
    if kind == "refused":
        raise SizeupError(value)
    raise RuntimeError(f"{fn.__name__} failed in its process: {value}")


def _child(read: int, write: int, fn: Callable[..., Any], args: Any, kwargs: Any) -> None:
    lifeline.die_with_parent()
    os.close(read)
    own = procfs.stat(os.getpid())  # its own start: a fork maps the parent's file pages lazily
    os.write(write, struct.pack("<Q", own.rss_bytes if own else 0))
    try:
        outcome = ("ok", fn(*args, **kwargs))
    except SizeupError as exc:
        outcome = ("refused", str(exc))
    except BaseException as exc:  # noqa: BLE001 - a bug, reported by the parent
        outcome = ("failed", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
    try:
        data = pickle.dumps(outcome)
    except Exception as exc:  # an answer that cannot travel is a bug too
        data = pickle.dumps(("failed", f"its answer cannot be sent back: {type(exc).__name__}: {exc}"))
    with os.fdopen(write, "wb") as f:
        f.write(data)


def _collect(fd: int, pid: int, limit: int) -> tuple[bytes | None, int]:
    """The child's whole answer, or None when its memory passed `limit` first; and its peak resident memory."""
    chunks, peak = [], 0
    while True:
        ready, _, _ = select.select([fd], [], [], POLL_S)
        if ready:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return b"".join(chunks), peak
            chunks.append(chunk)
        now = procfs.stat(pid)
        peak = max(peak, now.rss_bytes if now else 0)
        if peak > limit:
            return None, peak


def _end(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)
