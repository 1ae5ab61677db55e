"""Was a measurement disturbed by other processes? A rule on CPU readings, and a check before a run.

A repeat is disturbed when other processes (neither the case's tree nor the
harness) used more than `THRESHOLD_CORES` of CPU during its timed phases, on
any of the CPUs the case may run on, beyond what /proc/stat's clock ticks can
resolve over the repeat (see `allowance`). On a 2-core machine, clean repeats showed 0.02-0.07
cores of other work and repeats slowed 2-8x by another benchmark 0.16-0.61,
hence 0.10. Work on a core the case leaves idle counts too: on a 2-vCPU VM one
busy process on the other core left a one-thread loop's median alone but
slowed single repeats up to 2.3x (vCPUs can share a physical core, caches and
memory bandwidth).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass

from harness.run import cputime, procfs

THRESHOLD_CORES = 0.10
BUSY_AT_START_CORES = 0.25  # warn before a run when other work already takes this much


def allowance(seconds: float, cpus: int) -> float:
    """Cores of other work a window of `seconds` may show without it being real.

    /proc/stat truncates to a clock tick at each end of the window: two ticks per CPU. (With one,
    3 of 60 warm repeats of 10-200 ms on a quiet machine were marked; with two, none.)
    """
    return THRESHOLD_CORES + (2 * cpus * procfs.TICK_S / seconds if seconds > 0 else float("inf"))


def other_cores(windows: Iterable[tuple[float, float]]) -> float | None:
    """Mean cores other processes used over (seconds, other CPU seconds) windows, or None if no time passed."""
    seconds = other = 0.0
    for s, o in windows:
        seconds, other = seconds + s, other + o
    return other / seconds if seconds > 0 else None


def is_disturbed(other: float, seconds: float, cpus: int) -> bool:
    """`other` cores of other work over a window of `seconds`, read on `cpus` CPUs."""
    return other > allowance(seconds, cpus)


@dataclass(frozen=True)
class Busy:
    other_cores: float  # cores other processes used over the check's window
    seconds: float  # the window
    load_average: tuple[float, float, float]
    cpus: int

    @property
    def busy(self) -> bool:
        return self.other_cores >= BUSY_AT_START_CORES

    def warning(self) -> str:
        one, five, _ = self.load_average
        return (f"the machine is busy: other processes used {self.other_cores:.2f} of {self.cpus} CPUs over "
                f"{self.seconds:g} s (load average {one:.2f}, {five:.2f} over 5 min). Timings taken now will be slowed; "
                "disturbed repeats are marked and left out of the statistics where enough clean ones remain. "
                "Stop the other work, or add --rerun-disturbed N.")


def check_machine(seconds: float = 0.5) -> Busy:
    """Other processes' CPU use over `seconds` while the harness waits: pyperf-style, before measuring."""
    before = sum(cputime.machine_busy_s())
    own = time.process_time()
    time.sleep(seconds)
    other = sum(cputime.machine_busy_s()) - before - (time.process_time() - own)
    return Busy(max(0.0, other / seconds), seconds, os.getloadavg(), len(os.sched_getaffinity(0)))
