"""Samples a worker's process tree: CPU, per-core CPU, memory, I/O.

One psutil.Process object is kept per PID across samples, because the first
reading of a new object has nothing to take a delta from. The sampler runs in
the harness process, never in the worker, and times its own CPU cost so every
record says what the measurement cost.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psutil

TREE_REFRESH_S = 1.0  # finding descendants scans all of /proc: the costliest part of a sample


class ProcessTree:
    """A root process and its descendants, with their psutil objects cached by PID."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self._procs: dict[int, psutil.Process] = {pid: self.root}
        self._found_at = -float("inf")

    def processes(self, max_age_s: float = 0.0) -> list[psutil.Process]:
        """The tree, looked up again if the last look-up is older than `max_age_s`."""
        now = time.monotonic()
        if now - self._found_at < max_age_s:
            return list(self._procs.values())
        self._found_at = now
        try:
            children = self.root.children(recursive=True)
        except psutil.Error:
            children = []
        alive = {self.root.pid: self.root}
        for child in children:
            alive[child.pid] = self._procs.get(child.pid, child)
        self._procs = alive
        return list(alive.values())

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes()]

    def rss(self) -> int:
        return sum(_call(lambda p: p.memory_info().rss, p, 0) for p in self.processes(max_age_s=TREE_REFRESH_S))


@dataclass
class Series:
    """Raw samples; t is time.monotonic() seconds, comparable with the worker's phase stamps."""

    t: list[float] = field(default_factory=list)
    cpu_percent: list[float] = field(default_factory=list)  # tree, 100 = one core busy
    percore: list[list[float]] = field(default_factory=list)  # whole machine, per logical core
    rss_bytes: list[int] = field(default_factory=list)  # tree
    system_used_bytes: list[int] = field(default_factory=list)
    read_bytes: list[int] = field(default_factory=list)  # tree, since the first sample
    write_bytes: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) for k, v in self.__dict__.items()}


class Monitor:
    def __init__(self, tree: ProcessTree, hz: float) -> None:
        self.tree = tree
        self.interval = 1.0 / hz
        self.series = Series()
        # Wall seconds spent sampling: an upper bound of its CPU cost. (thread_time() is a
        # syscall that, in some sandboxes, costs more than the sample it would measure.)
        self.cost_s = 0.0
        self._last_cpu: float | None = None
        self._last_t = 0.0
        self._io0: tuple[int, int] | None = None
        psutil.cpu_percent(percpu=True)  # prime the per-core deltas

    def sample(self) -> int:
        """Take one sample; returns the tree's RSS, which the runner checks against the cap."""
        started = time.perf_counter()
        now = time.monotonic()
        procs = self.tree.processes(max_age_s=TREE_REFRESH_S)
        cpu, rss, read, write = 0.0, 0, 0, 0
        for p in procs:
            c, m, (r, w) = _call(_readings, p, (0.0, 0, (0, 0)))
            cpu, rss, read, write = cpu + c, rss + m, read + r, write + w
        if self._io0 is None:
            self._io0 = (read, write)
        if self._last_cpu is not None and now > self._last_t:
            s = self.series
            s.t.append(now)
            s.cpu_percent.append(max(0.0, 100.0 * (cpu - self._last_cpu) / (now - self._last_t)))
            s.percore.append(psutil.cpu_percent(percpu=True))
            s.rss_bytes.append(rss)
            s.system_used_bytes.append(psutil.virtual_memory().used)
            s.read_bytes.append(max(0, read - self._io0[0]))
            s.write_bytes.append(max(0, write - self._io0[1]))
        self._last_cpu, self._last_t = cpu, now
        self.cost_s += time.perf_counter() - started
        return rss


def summarize(series: Series, windows: Sequence[tuple[float, float]]) -> dict[str, Any]:
    """Mean, p95 and max of CPU and RSS over the samples that fall in any of `windows`."""
    t = np.asarray(series.t)
    inside = np.zeros(len(t), dtype=bool)
    for start, end in windows:
        inside |= (t >= start) & (t <= end)
    out: dict[str, Any] = {"samples": int(inside.sum())}
    if not inside.any():
        return out
    for key in ("cpu_percent", "rss_bytes"):
        values = np.asarray(getattr(series, key), dtype=float)[inside]
        out[key] = {"mean": float(values.mean()), "p95": float(np.percentile(values, 95)), "max": float(values.max())}
    out["percore_mean"] = [round(float(v), 1) for v in np.asarray(series.percore, dtype=float)[inside].mean(axis=0)]
    return out


def phase_summaries(series: Series, phases: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Summaries per phase name: over the warm repeats, and over the cold run under 'cold'."""
    warm: dict[str, list[tuple[float, float]]] = {}
    cold: dict[str, list[tuple[float, float]]] = {}
    for p in phases:
        (cold if p["repeat"] == 0 else warm).setdefault(p["phase"], []).append((p["start"], p["end"]))
    out = {name: summarize(series, w) for name, w in warm.items()}
    out["cold"] = {name: summarize(series, w) for name, w in cold.items()}
    return out


def _readings(p: psutil.Process) -> tuple[float, int, tuple[int, int]]:
    """CPU seconds, RSS and disk bytes of one process, read in one pass over /proc."""
    with p.oneshot():
        c = p.cpu_times()
        # children_* holds reaped descendants, so work of short-lived children still counts.
        cpu = c.user + c.system + c.children_user + c.children_system
        rss = p.memory_info().rss
    try:
        io = p.io_counters()
        return cpu, rss, (io.read_bytes, io.write_bytes)
    except (psutil.Error, OSError, AttributeError):  # not readable everywhere; CPU and RSS still count
        return cpu, rss, (0, 0)


def _call(fn: Any, proc: psutil.Process, default: Any) -> Any:
    try:
        return fn(proc)
    except (psutil.Error, OSError, AttributeError):
        return default
