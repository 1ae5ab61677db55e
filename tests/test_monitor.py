"""The sampler against real processes with known behaviour."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import psutil
import pytest

from harness.records.events import PhaseTiming
from harness.run.monitor import Monitor, ProcessTree, Series, phase_summaries, summarize

pytestmark = pytest.mark.quiet  # samples taken on a clock

BUSY = "import time\nt = time.time()\nwhile time.time() - t < {s}: pass\n"
# A parent that sleeps while its child burns one core: only a tree-wide view sees the work.
PARENT_OF_BUSY = f"import subprocess, sys, time\nsubprocess.run([sys.executable, '-c', {BUSY.format(s=3)!r}])\n"
# A parent that starts its busy child only after `delay` seconds, so the sampler meets a newcomer.
LATE_CHILD = ("import subprocess, sys, time\ntime.sleep({delay})\n"
              f"subprocess.run([sys.executable, '-c', {BUSY.format(s=1.6)!r}])\n")


def sample_for(proc: subprocess.Popen, seconds: float, hz: float = 20) -> Monitor:
    m = Monitor(ProcessTree(proc.pid), hz)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        m.sample()
        time.sleep(m.interval)
    return m


def integral(s: Series) -> float:
    """CPU seconds the series accounts for: each sample's mean over the interval before it."""
    t = np.asarray(s.t)
    return float(np.sum(np.asarray(s.cpu_percent) / 100 * np.diff(np.concatenate([[s.start], t]))))


def kill_tree(proc: subprocess.Popen) -> None:
    """The parent and its children: an orphaned busy child would disturb the tests after this one."""
    children = psutil.Process(proc.pid).children(recursive=True)
    proc.kill()
    proc.wait()
    for child in children:
        child.kill()
    psutil.wait_procs(children, timeout=5)


@pytest.fixture
def parent_of_busy():
    proc = subprocess.Popen([sys.executable, "-c", PARENT_OF_BUSY])
    time.sleep(0.5)  # let the child start
    yield proc
    kill_tree(proc)


def test_cpu_of_a_busy_grandchild_is_counted(parent_of_busy) -> None:
    child = psutil.Process(parent_of_busy.pid).children()[0]
    before = sum(child.cpu_times()[:2])
    m = sample_for(parent_of_busy, 1.5)
    used = sum(child.cpu_times()[:2]) - before
    # The sampled CPU %, integrated over time, must account for the CPU seconds the child really used
    # (whatever share of a core a loaded machine gave it).
    assert len(m.series.t) >= 15
    assert used > 0.2 and integral(m.series) == pytest.approx(used, rel=0.2)
    assert len(m.tree.pids()) == 2
    assert max(m.series.memory_bytes) > 5 * 2**20
    assert m.series.slow_t and all(len(p) == psutil.cpu_count() for p in m.series.percore)


def test_a_process_that_joins_the_tree_does_not_dump_its_cpu_into_one_sample() -> None:
    """The child starts between tree look-ups; its CPU so far is spread over the samples it lived through."""
    proc = subprocess.Popen([sys.executable, "-c", LATE_CHILD.format(delay=0.3)])
    try:
        m = sample_for(proc, 2.5)
    finally:
        kill_tree(proc)
    child_cpu = 1.6 * 0.5  # at least: a busy loop for 1.6 s on a machine that gives it half a core or more
    assert integral(m.series) >= child_cpu
    # One core of work, never more than the machine has, and no burst of several cores' worth in one sample.
    assert max(m.series.cpu_percent) <= 100 * min(2, psutil.cpu_count()) + 10


def test_a_child_reaped_between_look_ups_is_spread_too() -> None:
    """A 0.4 s child that starts and is reaped between two look-ups is seen only through its parent."""
    code = ("import subprocess, sys, time\ntime.sleep(0.2)\n"
            f"subprocess.run([sys.executable, '-c', {BUSY.format(s=0.4)!r}])\ntime.sleep(1.5)\n")
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        m = Monitor(ProcessTree(proc.pid), 20)
        m.tree.processes()  # looked up now, then not again before the child is gone
        end = time.monotonic() + 1.2
        while time.monotonic() < end:
            m.sample()
            time.sleep(m.interval)
    finally:
        kill_tree(proc)
    assert integral(m.series) >= 0.4 * 0.5
    assert max(m.series.cpu_percent) <= 100 * min(2, psutil.cpu_count()) + 10


def test_forked_children_sharing_pages_are_counted_once() -> None:
    shared = np.ones(100 * 2**20 // 8)  # touched: 100 MiB resident, shared copy-on-write after the fork
    children = []
    for _ in range(3):
        pid = os.fork()
        if pid == 0:
            time.sleep(30)
            os._exit(0)
        children.append(pid)
    try:
        time.sleep(0.2)
        tree = ProcessTree(os.getpid())
        procs = tree.processes()
        summed_rss = sum(p.memory_info().rss for p in procs)
        counted = tree.memory_now()
    finally:
        for pid in children:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
    own = psutil.Process().memory_info().rss
    assert len(procs) == 4 and tree.shared_accounting
    assert summed_rss > 3.5 * shared.nbytes  # the naive sum counts the array four times
    assert counted < own + 0.5 * shared.nbytes  # once, plus each child's small private part


def test_summaries_take_cpu_by_interval_and_memory_by_reading_time() -> None:
    # Samples at 1..4 cover (0,1], (1,2], (2,3], (3,4]; their midpoints are 0.5, 1.5, 2.5, 3.5.
    s = Series(start=0.0, t=[1.0, 2.0, 3.0, 4.0], cpu_percent=[10, 20, 90, 100], memory_bytes=[1, 2, 3, 4])
    out = summarize(s, [(2.2, 4.0)])
    assert out["samples"] == 2  # (2,3] and (3,4]: the sample at 3 is mostly inside, though its interval starts before
    assert out["cpu_percent"]["mean"] == 95 and out["cpu_percent"]["max"] == 100
    assert out["memory_bytes"]["max"] == 4 and out["memory_bytes"]["mean"] == 3.5
    # A sample taken inside a phase whose interval mostly lies in the phase before does not count.
    assert summarize(s, [(1.9, 2.4)])["samples"] == 0
    assert summarize(s, [(5.0, 6.0)]) == {"samples": 0}
    phases = [PhaseTiming(r, "fit", end - start, start, end, 0.0, 0.0)
              for r, start, end in ((0, 0.2, 1.0), (1, 1.0, 2.0), (2, 3.0, 4.0))]
    summary = phase_summaries(s, phases)
    assert summary["fit"]["samples"] == 2  # warm repeats only: (1,2] and (3,4]
    assert summary["cold"]["fit"]["samples"] == 1


def test_sampling_costs_little(parent_of_busy) -> None:
    m = sample_for(parent_of_busy, 1.0, hz=10)
    # Wall time inside sample(), an upper bound of its CPU cost; generous for a loaded CI box.
    assert m.cost_s / len(m.series.t) < 0.01
