"""Watching a worker from outside: the limits a case runs under, sampling its process tree at the
sampling rate, and killing the whole tree the moment it passes its timeout or memory cap."""

from __future__ import annotations

import math
import os
import select
import signal
import subprocess
import time
from dataclasses import dataclass
from typing import Any

import psutil

from harness import signals
from harness.run import monitor
from harness.run.sources import open_sources

POLL_S = 0.1  # how often limits are checked, whatever the sampling rate


@dataclass(frozen=True)
class Limits:
    repeats: int
    timeout_s: float
    memory_cap_bytes: int
    sample_hz: float
    rerun_disturbed: int = 0  # extra warm repeats allowed, to replace disturbed ones
    processes: int = 1  # worker processes per case


class Watch:
    """Samples the worker's tree until it exits, and kills it at a limit."""

    def __init__(self, proc: subprocess.Popen[bytes], limits: Limits) -> None:
        self.proc = proc
        self.limits = limits
        self.killed_for: str | None = None
        self.memory_at_kill = 0
        self.tree = monitor.ProcessTree(proc.pid)
        self.sources: dict[str, str] = {}  # telemetry source -> what it found, or why it is off
        self.monitor = None
        if limits.sample_hz > 0:
            sources, self.sources = open_sources()
            self.monitor = monitor.Monitor(self.tree, limits.sample_hz, sources)
        self.peak_memory = 0
        self.exited_at = 0.0
        self.sent: list[signals.Sent] = []  # stop signals the case sent the harness (filled by harness.signals)

    @property
    def sample_hz(self) -> float:
        return self.limits.sample_hz

    def close(self) -> None:
        for source in self.monitor.sources if self.monitor else ():
            source.close()

    def until_exit(self, t0: float) -> tuple[int, Any]:
        """Enforce limits every POLL_S and sample at the sampling rate; return (wait status, rusage)
        the moment the worker exits."""
        exit_signal = ExitSignal(self.proc.pid)
        check = sample = time.monotonic()
        try:
            while True:
                pid, status, rusage = os.wait4(self.proc.pid, os.WNOHANG)
                if pid:
                    self.exited_at = time.monotonic()
                    self.proc.returncode = os.waitstatus_to_exitcode(status)
                    return status, rusage
                now = time.monotonic()
                due = self.monitor is not None and now >= sample
                if self.killed_for is None and self.sent:
                    self.stop("signal")
                elif self.killed_for is None:
                    self.check_limits(t0, due)
                if due:
                    sample = next_tick(sample, now, self.monitor.interval)
                check = next_tick(check, now, POLL_S)
                exit_signal.wait(min(check, sample if self.monitor else check) - time.monotonic())
        finally:
            exit_signal.close()

    def check_limits(self, t0: float, sample: bool) -> None:
        memory = self.monitor.sample() if sample else self.tree.memory_now()
        if memory > self.limits.memory_cap_bytes and self.tree.shared_accounting:
            memory = self.tree.memory_now(fresh=True)  # PSS between reads is an estimate: confirm first
        self.peak_memory = max(self.peak_memory, memory)
        if memory > self.limits.memory_cap_bytes:
            self.memory_at_kill = memory
            self.stop("oom")
        elif time.monotonic() - t0 > self.limits.timeout_s:
            self.stop("timeout")

    def stop(self, why: str) -> None:
        # The harness may have been stopped (Ctrl-Z) between its last look and now, while the worker ended itself
        # at its own deadline: a worker that has exited is reaped by until_exit, on its own account.
        try:
            if os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return
        except ChildProcessError:  # already reaped: nothing left to stop
            return
        self.killed_for = why
        self.kill()

    def kill(self) -> None:
        procs = self.tree.processes()  # before the kill: orphans are reparented and lost to us
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for p in procs:  # descendants that left the process group
            try:
                p.kill()
            except psutil.Error:
                pass


def next_tick(tick: float, now: float, interval: float) -> float:
    """The next sampling time after `now` on the grid tick + k * interval: missed ticks are skipped, not caught up."""
    return tick + interval * max(1, math.floor((now - tick) / interval) + 1)


class ExitSignal:
    """Wakes a wait early when the process exits (a pidfd), so wall time is not rounded up to the interval."""

    def __init__(self, pid: int) -> None:
        try:
            self.fd: int | None = os.pidfd_open(pid)
        except (AttributeError, OSError):  # before Linux 5.3, or not Linux: plain sleeps
            self.fd = None

    def wait(self, seconds: float) -> None:
        if seconds <= 0:
            return
        if self.fd is None:
            time.sleep(seconds)
        else:
            select.select([self.fd], [], [], seconds)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
