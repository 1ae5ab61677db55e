"""CPU time read at phase boundaries: the worker's process tree, the harness, and the machine.

The worker reads these just outside each timed phase, so every phase gets its
exact CPU seconds (no sampling interval to attribute) and the CPU that other
processes took meanwhile. A reading costs 0.1-0.5 ms, outside the timed window:

- the tree: this process's CPU clock, the rusage of reaped children, and each
  live descendant's CPU clock (see procfs.descendants);
- the harness: its CPU clock, so the watcher's own work is not blamed on others;
- the machine: busy time of the CPUs this process may run on, from /proc/stat.
  /proc/stat counts in clock ticks, so a window's figure is only good to about
  one tick per CPU (`procfs.TICK_S`); contention rules allow for that.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass

from harness.run import procfs

_CPUCLOCK_SCHED = 2  # the kernel's per-process CPU clock: MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED)


@dataclass(frozen=True)
class Reading:
    t: float  # time.monotonic(), next to the tree's CPU clock
    tree_s: float  # CPU seconds of this process and its descendants, live or reaped
    harness_s: float  # CPU seconds of the parent (the harness), 0 if unreadable
    busy_s: tuple[float, ...]  # busy seconds of each CPU in our affinity set, machine-wide
    descendants: tuple[int, ...] = ()

    def since(self, earlier: Reading) -> Usage:
        seconds = self.t - earlier.t
        busy = [now - then for now, then in zip(self.busy_s, earlier.busy_s)]
        tree = self.tree_s - earlier.tree_s
        return Usage(
            seconds=seconds,
            tree_s=tree,
            other_s=max(0.0, sum(busy) - tree - (self.harness_s - earlier.harness_s)),
            percore=[round(min(100.0, 100.0 * b / seconds), 1) if seconds > 0 else 0.0 for b in busy],
        )


@dataclass(frozen=True)
class Usage:
    seconds: float  # wall seconds of the window
    tree_s: float  # CPU seconds of the worker's tree
    other_s: float  # CPU seconds other processes took on our CPUs (neither the tree nor the harness)
    percore: list[float]  # busy % of each of our CPUs, whoever used it (to a clock tick)


# A spinning OpenMP thread adds CPU while a reading runs, outside the phase: so the tree's CPU
# clock is read next to the timer, the slow reads on the far side.

def start() -> Reading:
    """Just before a timed window: slow reads first, the tree's clock last."""
    busy = machine_busy_s()
    harness = process_cpu_s(os.getppid())
    found = tuple(procfs.descendants(os.getpid()) or ())
    t = time.monotonic()
    return Reading(t, tree_cpu_s(found), harness, busy, found)


def stop(begun: Reading) -> Reading:
    """Just after a timed window: the tree's clock first (with the descendants known at `begun`),
    then children that appeared meanwhile, then the slow reads."""
    t = time.monotonic()
    tree = tree_cpu_s(begun.descendants)
    new = set(procfs.descendants(os.getpid()) or ()) - set(begun.descendants)
    tree += tree_cpu_s(tuple(new), own=False)
    return Reading(t, tree, process_cpu_s(os.getppid()), machine_busy_s())


def tree_cpu_s(descendants: tuple[int, ...], own: bool = True) -> float:
    """This process and its reaped children (if `own`), plus the given live descendants."""
    total = 0.0
    if own:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        total = time.process_time() + children.ru_utime + children.ru_stime
    for pid in descendants:
        total += process_cpu_s(pid) + reaped_by_s(pid)
    return total


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process, all threads, in nanoseconds' precision."""
    try:
        return time.clock_gettime((~pid << 3) | _CPUCLOCK_SCHED)
    except OSError:  # exited, or not ours to read
        return 0.0


def reaped_by_s(pid: int) -> float:
    """CPU of children that `pid` has reaped (cutime + cstime, in ticks): grandchildren's work."""
    found = procfs.stat(pid)
    return found.reaped_s if found else 0.0


def machine_busy_s() -> tuple[float, ...]:
    """Seconds each CPU of our affinity set spent on anything but idle and iowait, in CPU order.

    Steal time counts as busy: on a VM it is a neighbour taking our core.
    """
    cpus = os.sched_getaffinity(0)
    busy = []
    try:
        with open("/proc/stat") as f:
            for line in f:
                if not line.startswith("cpu") or line[3] == " ":
                    continue
                name, *values = line.split()
                if int(name[3:]) in cpus:
                    user, nice, system, idle, iowait, irq, softirq, steal = (int(v) for v in values[:8])
                    busy.append((user + nice + system + irq + softirq + steal) * procfs.TICK_S)
    except (OSError, ValueError):
        return ()
    return tuple(busy)
