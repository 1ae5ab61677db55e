from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def faulty_workloads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the deliberately faulty workloads visible here and in spawned workers."""
    from workloads import catalogue

    monkeypatch.setenv("SIZEUP_EXTRA_WORKLOADS", "tests.faulty")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    monkeypatch.delenv("COLUMNS", raising=False)  # output as piped, whatever width the shell exported (tests set it)
    catalogue.cache_clear()
    yield
    catalogue.cache_clear()


# Under `pytest -n` (as `make test` runs it), a test marked `quiet` runs with no other test beside it: what it
# measures (timings, CPU shares, sampling) would carry the other's work. Every other test holds a shared lock
# from its set-up to its teardown, a quiet one an exclusive lock. The quiet tests are sorted first, so that one
# worker takes them in a row, keeping the lock from one to the next, while the other waits once. The gate, taken
# first, keeps the others' turns from starving a quiet test that waits.
_held: list = []


def _quiet(item: pytest.Item | None) -> bool:
    return item is not None and item.get_closest_marker("quiet") is not None


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    """Around set-up, call and teardown, so that a wait for the lock counts in no test's durations."""
    if "PYTEST_XDIST_WORKER" in os.environ and not _held:
        session = Path(item.config.option.basetemp).parent  # a worker's is one folder of the session's
        gate, tests = open(session / "gate.lock", "a"), open(session / "tests.lock", "a")
        mode = fcntl.LOCK_EX if _quiet(item) else fcntl.LOCK_SH
        fcntl.flock(gate, mode)
        fcntl.flock(tests, mode)
        if mode == fcntl.LOCK_SH:
            fcntl.flock(gate, fcntl.LOCK_UN)
        _held.extend([gate, tests])
    yield
    if not (_quiet(item) and _quiet(nextitem)):
        for lock in _held:
            lock.close()  # and so let go
        _held.clear()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "PYTEST_XDIST_WORKER" in os.environ:
        items.sort(key=lambda item: not _quiet(item))
    if shutil.which("nvidia-smi"):
        return
    skip = pytest.mark.skip(reason="needs an NVIDIA GPU (no nvidia-smi on this machine)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def needs_quiet(seconds: float = 1.0) -> None:
    """Skip the calling test, saying why, where other processes already take CPU: what it measures (CPU
    seconds, contention, timings) would carry their work, and a busy machine is not a bug."""
    from harness.run import contention

    busy = contention.check_machine(seconds)
    if busy.other_cores > contention.THRESHOLD_CORES:
        pytest.skip(f"the machine is busy: other processes used {busy.other_cores:.2f} of {busy.cpus} CPUs over "
                    f"{seconds:g} s, which this measurement would count")
