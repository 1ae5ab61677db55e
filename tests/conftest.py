from __future__ import annotations

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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
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
