"""Samples a worker's process tree: CPU and memory; once a second per-core CPU, I/O, system memory.

The sampled series shows the shape of a case over time; exact CPU per phase,
the tree's and each core's, comes from the worker's own readings at phase
boundaries (harness.run.cputime). The sampler runs in the harness process, never
in the worker, and times its own cost so every record says what the
measurement cost. A sample costs about one cold /proc read per file (0.1-0.4 ms
on a VM), so it reads one file per process; what needs more files is read once
a second.

Memory of a tree: the RSS of a lone process; once the tree has several
processes, their PSS, so that pages they share (a fork's copy-on-write data,
libraries) count once instead of once per process. PSS is read at most once a
second, and less often where reading it is slow (it walks page tables); between
reads each process's RSS change is added to its last PSS. Before the runner
kills a case for memory on such an estimate, it reads PSS afresh.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psutil

from harness.records.events import PhaseTiming
from harness.run import procfs
from harness.run.sources import Source, SourceSeries
from harness.run.sources import summarize as summarize_source

TREE_REFRESH_S = 1.0  # how often descendants are looked up
SLOW_REFRESH_S = 1.0  # per-core CPU, disk I/O, system memory
PSS_REFRESH_S = 1.0  # at most this often; reading PSS walks page tables (1-2 ms per process of a few hundred MiB)
PSS_BUDGET = 0.001  # ... and less often where it is slower, to keep its share of wall time under this
PSS_CONFIRM_S = 0.25  # a fresh read asked for (before an oom kill) reuses one at most this old


class ProcessTree:
    """A root process and its descendants, with their psutil objects cached by PID."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self._procs: dict[int, psutil.Process] = {pid: self.root}
        self.found_at = -float("inf")  # when descendants were last looked up: a process new after it started later
        self._pss_offset: dict[int, int] = {}  # PSS - RSS per process, at the last PSS read
        self._pss_at = -float("inf")
        self._pss_due = -float("inf")
        self.shared_accounting = False  # has memory ever been counted with PSS?

    def processes(self, max_age_s: float = 0.0) -> list[psutil.Process]:
        """The tree, looked up again if the last look-up is older than `max_age_s`."""
        now = time.monotonic()
        if now - self.found_at < max_age_s:
            return list(self._procs.values())
        self.found_at = now
        alive = {self.root.pid: self.root}
        for child in self._descendants():
            alive[child] = self._procs.get(child) or _call(lambda pid: psutil.Process(pid), child, None)
        self._procs = {pid: p for pid, p in alive.items() if p is not None}
        return list(self._procs.values())

    def _descendants(self) -> list[int]:
        found = procfs.descendants(self.root.pid)
        if found is not None:
            return found
        try:  # psutil scans every process on the machine: the slow way
            return [p.pid for p in self.root.children(recursive=True)]
        except psutil.Error:
            return []

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes()]

    def memory(self, rss: Mapping[int, int], fresh: bool = False) -> int:
        """Bytes the tree holds, shared pages once, from each process's RSS (see the module doc)."""
        if len(rss) <= 1:
            return sum(rss.values())
        self.shared_accounting = True
        started = time.monotonic()
        unread = any(pid not in self._pss_offset for pid in rss if pid in self._procs)  # a new fork counts its
        # shared pages in full until its PSS is read: read it now, not up to a second later
        if started >= self._pss_due or unread or (fresh and started - self._pss_at > PSS_CONFIRM_S):
            self._pss_offset = {pid: _call(lambda p: p.memory_full_info().pss, self._procs[pid], r) - r
                                for pid, r in rss.items() if pid in self._procs}
            cost = time.monotonic() - started
            self._pss_at, self._pss_due = started, started + max(PSS_REFRESH_S, cost / PSS_BUDGET)
        return sum(r + self._pss_offset.get(pid, 0) for pid, r in rss.items())

    def memory_now(self, fresh: bool = False) -> int:
        stats = {p.pid: procfs.stat(p.pid) for p in self.processes(max_age_s=TREE_REFRESH_S)}
        return self.memory({pid: st.rss_bytes for pid, st in stats.items() if st}, fresh)


@dataclass
class Series:
    """Raw samples on the time.monotonic() clock, comparable with the worker's phase stamps.

    Every sample: sample i covers (t[i-1], t[i]] (t[-1] being `start`); CPU is the mean over
    that interval, memory a reading at t[i]. Once a second, at `slow_t`: what moves slowly or
    costs a file per reading.
    """

    start: float = 0.0
    t: list[float] = field(default_factory=list)
    cpu_percent: list[float] = field(default_factory=list)  # tree, 100 = one core busy
    memory_bytes: list[int] = field(default_factory=list)  # tree: RSS, or PSS with several processes
    slow_t: list[float] = field(default_factory=list)
    percore: list[list[float]] = field(default_factory=list)  # whole machine, per logical core, since the last
    system_used_bytes: list[int] = field(default_factory=list)
    read_bytes: list[int] = field(default_factory=list)  # tree, since the first reading
    write_bytes: list[int] = field(default_factory=list)
    sources: dict[str, SourceSeries] = field(default_factory=dict)  # pluggable sources (GPU), by name

    def to_dict(self) -> dict[str, Any]:
        out = {k: list(v) if isinstance(v, list) else v for k, v in self.__dict__.items() if k != "sources"}
        return out | {"sources": {name: s.to_dict() for name, s in self.sources.items()}}

    def midpoints(self) -> np.ndarray:
        t = np.asarray(self.t, dtype=float)
        return (t + np.concatenate([[self.start], t[:-1]])) / 2


class Monitor:
    def __init__(self, tree: ProcessTree, hz: float, sources: Sequence[Source] = ()) -> None:
        self.tree = tree
        self.interval = 1.0 / hz
        self.sources = list(sources)
        self.series = Series(sources={s.name: SourceSeries(s.gauges, s.counters) for s in self.sources})
        # Wall seconds spent sampling: an upper bound of its CPU cost. (thread_time() is a
        # syscall that, in some sandboxes, costs more than the sample it would measure.)
        self.cost_s = 0.0
        self._last: dict[int, procfs.Stat] = {}
        self._last_t: float | None = None
        self._look = -float("inf")  # the tree look-up in force at the last sample
        self._slow_at = -float("inf")
        self._io0: tuple[int, int] | None = None
        psutil.cpu_percent(percpu=True)  # prime the per-core deltas

    def sample(self) -> int:
        """Take one sample; returns the tree's memory, which the runner checks against the cap."""
        started = time.perf_counter()
        now = time.monotonic()
        procs = self.tree.processes(max_age_s=TREE_REFRESH_S)
        stats = {p.pid: st for p in procs if (st := procfs.stat(p.pid)) is not None}
        memory = self.tree.memory({pid: st.rss_bytes for pid, st in stats.items()})
        if now - self._slow_at >= SLOW_REFRESH_S:
            self._sample_slow(procs, now)
        if self._last_t is None:
            self.series.start = now
        elif now > self._last_t:
            used = self._cpu_used(stats, now, self._last_t)
            s = self.series
            s.t.append(now)
            s.cpu_percent.append(max(0.0, 100.0 * used / (now - self._last_t)))
            s.memory_bytes.append(memory)
        for source in self.sources:
            self.series.sources[source.name].add(now, source.read(list(stats)))
        self._last, self._last_t, self._look = stats, now, self.tree.found_at
        self.cost_s += time.perf_counter() - started
        return memory

    def _sample_slow(self, procs: list[psutil.Process], now: float) -> None:
        counters = [_call(lambda p: p.io_counters(), p, None) for p in procs]
        io = (sum(c.read_bytes for c in counters if c), sum(c.write_bytes for c in counters if c))
        percore = psutil.cpu_percent(percpu=True)
        if self._io0 is None:  # the first reading is the baseline
            self._io0 = io
        else:
            s = self.series
            s.slow_t.append(now)
            s.percore.append(percore)
            s.system_used_bytes.append(psutil.virtual_memory().used)
            s.read_bytes.append(max(0, io[0] - self._io0[0]))
            s.write_bytes.append(max(0, io[1] - self._io0[1]))
        self._slow_at = now

    def _cpu_used(self, stats: Mapping[int, procfs.Stat], now: float, last_t: float) -> float:
        """CPU seconds the tree used in (last_t, now].

        CPU that belongs to earlier intervals is spread over them instead of landing here: a
        process first seen now brings all it used since it started, and a reaper's children
        counter jumps by the whole life of a child that came and went between look-ups.
        """
        last = self._last
        used = sum(st.cpu_s - last[pid].cpu_s for pid, st in stats.items() if pid in last)
        reaped = sum(st.reaped_s - last[pid].reaped_s for pid, st in stats.items() if pid in last)
        reaped -= sum(last[pid].cpu_s + last[pid].reaped_s for pid in last.keys() - stats.keys())  # seen, now gone
        # Children never seen alive started after the look-up in force at the last sample.
        used += self._spread(max(0.0, reaped), self._look, now, last_t)
        for pid in stats.keys() - last.keys():
            st = stats[pid]
            used += self._spread(st.cpu_s + st.reaped_s, max(self._look, st.started), now, last_t)
        return used

    def _spread(self, cpu_s: float, since: float, now: float, last_t: float) -> float:
        """Add `cpu_s`, used evenly over (since, now], to the past samples it overlaps.

        Returns the share of (last_t, now], the interval being sampled; CPU from before the first
        sample is dropped.
        """
        span = now - since
        if span <= 0 or cpu_s == 0:
            return cpu_s
        s = self.series
        for i in range(len(s.t) - 1, -1, -1):
            begin = s.t[i - 1] if i else s.start
            overlap = s.t[i] - max(begin, since)
            if overlap <= 0:
                break
            s.cpu_percent[i] += 100.0 * cpu_s * overlap / span / (s.t[i] - begin)
        return cpu_s * min(span, now - last_t) / span


def summarize(series: Series, windows: Sequence[tuple[float, float]]) -> dict[str, Any]:
    """Mean, p95 and max of CPU and memory over the samples that belong to any of `windows`.

    A CPU sample describes the interval before it, so it belongs to the window holding that
    interval's midpoint; a memory sample is a reading at its own time.
    """
    t = np.asarray(series.t, dtype=float)
    mid = series.midpoints()
    at_point = np.zeros(len(t), dtype=bool)
    over_interval = np.zeros(len(t), dtype=bool)
    for start, end in windows:
        at_point |= (t >= start) & (t <= end)
        over_interval |= (mid >= start) & (mid <= end)
    out: dict[str, Any] = {"samples": int(over_interval.sum())}
    if over_interval.any():
        out["cpu_percent"] = _spread_of(np.asarray(series.cpu_percent, dtype=float)[over_interval])
    if at_point.any():
        out["memory_bytes"] = _spread_of(np.asarray(series.memory_bytes, dtype=float)[at_point])
    for name, source in series.sources.items():
        out.setdefault("sources", {})[name] = summarize_source(source, windows)
    return out


def _spread_of(values: np.ndarray) -> dict[str, float]:
    return {"mean": float(values.mean()), "p95": float(np.percentile(values, 95)), "max": float(values.max())}


def phase_summaries(series: Series, phases: Sequence[PhaseTiming]) -> dict[str, dict[str, Any]]:
    """Summaries per phase name: over the warm repeats, and over the cold run under 'cold'."""
    warm: dict[str, list[tuple[float, float]]] = {}
    cold: dict[str, list[tuple[float, float]]] = {}
    for p in phases:
        (cold if p.repeat == 0 else warm).setdefault(p.phase, []).append((p.start, p.end))
    out = {name: summarize(series, w) for name, w in warm.items()}
    out["cold"] = {name: summarize(series, w) for name, w in cold.items()}
    return out


def _call(fn: Any, proc: psutil.Process, default: Any) -> Any:
    try:
        return fn(proc)
    except (psutil.Error, OSError, AttributeError):
        return default
