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
