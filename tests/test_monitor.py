"""The sampler against real processes with known behaviour."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
import pytest

from harness.monitor import Monitor, ProcessTree, Series, phase_summaries, summarize

BUSY = "import time\nt = time.time()\nwhile time.time() - t < {s}: pass\n"
# A parent that sleeps while its child burns one core: only a tree-wide view sees the work.
PARENT_OF_BUSY = f"import subprocess, sys, time\nsubprocess.run([sys.executable, '-c', {BUSY.format(s=3)!r}])\n"


def sample_for(proc: subprocess.Popen, seconds: float, hz: float = 20) -> Monitor:
    m = Monitor(ProcessTree(proc.pid), hz)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        m.sample()
        time.sleep(m.interval)
    return m


@pytest.fixture
def parent_of_busy():
    proc = subprocess.Popen([sys.executable, "-c", PARENT_OF_BUSY])
    time.sleep(0.5)  # let the child start
    yield proc
    proc.kill()
    proc.wait()


def test_cpu_of_a_busy_grandchild_is_counted(parent_of_busy) -> None:
    child = psutil.Process(parent_of_busy.pid).children()[0]
    before = sum(child.cpu_times()[:2])
    m = sample_for(parent_of_busy, 1.5)
    used = sum(child.cpu_times()[:2]) - before
    s = m.series
    # The sampled CPU %, integrated over time, must account for the CPU seconds the child really used
    # (whatever share of a core a loaded machine gave it).
    sampled = sum(c / 100 * (t1 - t0) for c, t0, t1 in zip(s.cpu_percent[1:], s.t, s.t[1:]))
    assert len(s.t) >= 15
    assert used > 0.2 and sampled == pytest.approx(used, rel=0.2)
    assert len(m.tree.pids()) == 2
    assert max(s.rss_bytes) > 5 * 2**20
    assert all(len(p) == len(m.series.percore[0]) for p in m.series.percore)


def test_summaries_cover_only_samples_inside_each_phase() -> None:
    s = Series(t=[1.0, 2.0, 3.0, 4.0], cpu_percent=[10, 20, 90, 100], percore=[[1, 2]] * 4,
               rss_bytes=[1, 2, 3, 4], system_used_bytes=[0] * 4, read_bytes=[0] * 4, write_bytes=[0] * 4)
    out = summarize(s, [(2.5, 4.0)])
    assert out["samples"] == 2
    assert out["cpu_percent"]["mean"] == 95 and out["cpu_percent"]["max"] == 100
    assert out["rss_bytes"]["max"] == 4
    assert summarize(s, [(5.0, 6.0)]) == {"samples": 0}
    phases = [{"repeat": 0, "phase": "fit", "start": 0.5, "end": 1.5},
              {"repeat": 1, "phase": "fit", "start": 1.5, "end": 2.5},
              {"repeat": 2, "phase": "fit", "start": 3.5, "end": 4.5}]
    summary = phase_summaries(s, phases)
    assert summary["fit"]["samples"] == 2  # warm repeats only: t=2 and t=4
    assert summary["cold"]["fit"]["samples"] == 1


def test_sampling_costs_little(parent_of_busy) -> None:
    m = sample_for(parent_of_busy, 1.0, hz=10)
    # Wall time inside sample(), an upper bound of its CPU cost; generous for a loaded CI box.
    assert m.cost_s / len(m.series.t) < 0.01
