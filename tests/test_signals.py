"""Placing a stop signal's sender: inside the running case's tree, or not (the user's)."""

from __future__ import annotations

import os
import subprocess
import sys

from harness import signals


def test_a_sender_is_the_case_s_when_it_is_the_worker_or_below_it_or_an_orphan_of_it() -> None:
    worker = subprocess.Popen([sys.executable, "-c", "import subprocess, sys; subprocess.run(['sleep', '30'])"])
    try:
        while not (grandchildren := _children(worker.pid)):
            pass
        assert signals.from_case(worker.pid, worker.pid)
        assert signals.from_case(grandchildren[0], worker.pid)
        orphan = worker.pid  # a process the harness started while the case ran, its worker or not
        assert signals.from_case(orphan, worker=1 << 30)
        assert not signals.from_case(os.getpid(), worker.pid)  # the harness itself
        assert not signals.from_case(os.getppid(), worker.pid)  # above the harness: the user's shell, a test
        assert not signals.from_case(0, worker.pid)  # the kernel: Ctrl-C at the terminal
    finally:
        for pid in _children(worker.pid):
            os.kill(pid, 9)
        worker.kill()
        worker.wait()


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []
