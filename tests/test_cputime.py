"""CPU readings at phase boundaries, against processes with known CPU use."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from harness.run import cputime, procfs
from tests.conftest import needs_quiet

pytestmark = pytest.mark.quiet  # CPU seconds, ours and other processes'

BURN = "import time\nend = time.thread_time() + {s}\nwhile time.thread_time() < end: pass\ntime.sleep({rest})\n"


WINDOW = f"""
import subprocess, sys, time
from harness.run import cputime
before = cputime.start()
end = time.thread_time() + 0.2
while time.thread_time() < end: pass
subprocess.run([sys.executable, "-c", {BURN.format(s=0.3, rest=0)!r}], check=True)
use = cputime.stop(before).since(before)
print(use.seconds, use.tree_s)
"""


def test_a_window_counts_this_process_and_its_reaped_children_exactly() -> None:
    # In a fresh interpreter: one that has run a case holds a BLAS or OpenMP pool whose threads may spin (in the
    # worker, rightly counted), which would break "one thread at a time" here.
    done = subprocess.run([sys.executable, "-c", WINDOW], check=True, capture_output=True, text=True,
                          cwd=Path(__file__).parents[1])
    seconds, tree_s = map(float, done.stdout.split())
    # The child's interpreter start-up adds a few tens of milliseconds to the 0.5 s burnt; without the reaped
    # child the window would hold 0.2 s.
    assert 0.5 <= tree_s < 0.8
    assert seconds >= tree_s - 0.05  # one thread at a time: CPU cannot run ahead of the clock


def test_a_live_child_counts_only_for_what_it_used_inside_the_window() -> None:
    child = subprocess.Popen([sys.executable, "-c", BURN.format(s=0.6, rest=30)])
    try:
        time.sleep(0.2)  # it is burning already when the window opens
        before = cputime.start()
        meter = psutil.Process(child.pid)
        child_before = sum(meter.cpu_times()[:2])
        time.sleep(0.3)
        use = cputime.stop(before).since(before)
        child_used = sum(meter.cpu_times()[:2]) - child_before
    finally:
        child.kill()
        child.wait()
    assert use.tree_s == pytest.approx(child_used, abs=0.03)  # psutil's view has clock-tick resolution


def orphan_burner(seconds: float, tmp_path: Path) -> psutil.Process:
    """A busy process that is not ours: started through a shell that exits, so init adopts it."""
    script = tmp_path / "burn.py"
    script.write_text(BURN.format(s=seconds, rest=0))
    found = subprocess.run(["sh", "-c", f"{sys.executable} {script} >/dev/null 2>&1 & echo $!"],
                           capture_output=True, text=True, check=True)
    return psutil.Process(int(found.stdout))


def test_other_processes_show_as_other_cpu_and_on_the_cores(tmp_path: Path) -> None:
    needs_quiet()
    other = orphan_burner(1.5, tmp_path)
    try:
        time.sleep(0.2)
        assert other.pid not in procfs.descendants(os.getpid())
        other_before = sum(other.cpu_times()[:2])
        before = cputime.start()
        time.sleep(0.5)
        use = cputime.stop(before).since(before)
        other_used = sum(other.cpu_times()[:2]) - other_before
    finally:
        other.kill()
    assert use.tree_s < 0.02
    # At least the burner's CPU, to /proc/stat's clock tick per CPU; whatever else runs on the machine adds to it.
    assert other_used - 0.03 <= use.other_s <= other_used + 0.15
    assert max(use.percore) > 60 and len(use.percore) == len(os.sched_getaffinity(0))


def test_started_at_is_on_the_monotonic_clock() -> None:
    t0 = time.monotonic()
    child = subprocess.Popen(["sleep", "5"])
    try:
        started = procfs.stat(child.pid).started
    finally:
        child.kill()
        child.wait()
    assert t0 - 0.05 <= started <= time.monotonic() + 0.05
