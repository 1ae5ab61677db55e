"""Cheap reads of /proc: one process's CPU, RSS and start time; a process's descendants; the OOM killer's count.

One file per process per sample keeps the sampler cheap: on a VM the first /proc read after a
sleep costs ~0.3 ms, and every extra file per process adds to it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

AVAILABLE = os.path.exists("/proc/self/stat")  # Linux; the sampler and the CPU readings need it
TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Stat:
    cpu_s: float  # user + system, all threads (clock-tick resolution)
    reaped_s: float  # user + system of reaped children, theirs included
    rss_bytes: int
    started: float  # on the time.monotonic() clock, to a tick
    state: str  # "R", "S", ... "Z" for a zombie, "X" dead


def stat(pid: int) -> Stat | None:
    """None when the process is gone or unreadable."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()  # the command name before ")" may hold spaces
    except (OSError, IndexError):
        return None
    # Fields of proc(5), counted from 1: 3 state; 14-17 utime, stime, cutime, cstime; 22 starttime; 24 rss.
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    boot_offset = time.clock_gettime(time.CLOCK_BOOTTIME) - time.monotonic()
    return Stat((utime + stime) * TICK_S, (cutime + cstime) * TICK_S, int(fields[21]) * PAGE_BYTES,
                int(fields[19]) * TICK_S - boot_offset, fields[0].decode())


def descendants(pid: int) -> list[int] | None:
    """Live descendants of `pid` from the kernel's per-thread child lists: reads our own tree
    instead of every process on the machine. None where the kernel does not keep the lists."""
    if not HAS_CHILD_LISTS:
        return None
    found, queue = [], [pid]
    while queue:
        for child in children(queue.pop()):
            found.append(child)
            queue.append(child)
    return found


def children(pid: int) -> list[int]:
    """Live children of `pid` (every thread's); empty where the process is gone."""
    kids: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids += map(int, f.read().split())
    except OSError:  # the process or thread is gone
        pass
    return kids


HAS_CHILD_LISTS = os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")  # CONFIG_PROC_CHILDREN


def oom_kills() -> tuple[int, str]:
    """How many processes the kernel's OOM killer has killed, and where: "cgroup" (this process's cgroup v2 and
    below), else "machine" (/proc/vmstat: cgroup v1 counts no kill in a child cgroup); (0, "none") unreadable."""
    try:
        own = next(line[3:] for line in Path("/proc/self/cgroup").read_text().splitlines() if line.startswith("0::"))
    except (OSError, StopIteration):
        own = None
    places = [(Path("/sys/fs/cgroup", own.lstrip("/"), "memory.events"), "cgroup")] if own is not None else []
    for path, counted in [*places, (Path("/proc/vmstat"), "machine")]:
        try:
            lines = path.read_text().splitlines()
        except OSError:
            continue
        found = [int(n) for name, n in (line.split()[:2] for line in lines if len(line.split()) >= 2)
                 if name == "oom_kill"]
        if found:
            return found[0], counted
    return 0, "none"
