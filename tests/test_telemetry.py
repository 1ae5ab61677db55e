"""Pluggable telemetry sources: gauges and counters sampled next to the process tree, summarized per phase."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Sequence

import pytest

from harness.run import monitor, telemetry
from harness.run.nvml import NvmlSource
from harness.run.plan import Case
from harness.run.runner import Limits, run_case

HAS_GPU = shutil.which("nvidia-smi") is not None


class Clock:
    """A source with known values: a gauge that reads 50 (missing at every third reading) and a
    counter that grows by 10 per second of the monotonic clock."""

    name = "clock"
    gauges = ("level",)
    counters = ("ticks",)

    def __init__(self) -> None:
        self.reads = 0
        self.pids: list[Sequence[int]] = []

    def read(self, pids: Sequence[int]) -> dict[str, float | None]:
        self.reads += 1
        self.pids.append(pids)
        return {"level": None if self.reads % 3 == 0 else 50.0, "ticks": 10.0 * time.monotonic()}

    def close(self) -> None: ...


def test_a_source_is_sampled_with_the_tree_and_summarized_per_phase() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1.5)"])
    try:
        source = Clock()
        m = monitor.Monitor(monitor.ProcessTree(child.pid), 20, [source])
        start = time.monotonic()
        while child.poll() is None:
            m.sample()
            time.sleep(m.interval)
        end = time.monotonic()
    finally:
        child.kill()
        child.wait()
    assert source.reads >= 10 and all(child.pid in pids for pids in source.pids[:5])
    window = (start + 0.2, end - 0.2)
    summary = monitor.summarize(m.series, [window])["sources"]["clock"]
    assert summary["level"] == {"mean": 50.0, "p95": 50.0, "max": 50.0}  # missing readings are left out
    # The counter's increase over the window, from the readings at or before its ends: within a sample.
    assert summary["ticks"]["per_window"] == pytest.approx(10 * (window[1] - window[0]), abs=10 * 0.15)
    stored = m.series.to_dict()["sources"]["clock"]
    assert stored["gauges"] == ["level"] and len(stored["values"]["ticks"]) == len(stored["t"]) == source.reads


def test_counters_over_several_windows_report_the_mean_increase_per_window() -> None:
    series = telemetry.SourceSeries(gauges=(), counters=("energy",))
    for t, joules in [(0.0, 100.0), (1.0, 110.0), (2.0, None), (3.0, 150.0), (4.0, 170.0)]:
        series.add(t, {"energy": joules})
    summary = telemetry.summarize(series, [(0.0, 1.0), (3.0, 4.0), (5.0, 6.0)])
    assert summary["energy"] == {"per_window": 15.0, "windows": 2}  # (10 + 20) / 2; no reading inside (5, 6]
    assert telemetry.summarize(series, [(-2.0, -1.0)]) == {}  # before any reading: unknown, not zero


@pytest.mark.skipif(HAS_GPU, reason="this machine has a GPU")
def test_without_nvml_the_gpu_source_says_why_and_the_case_records_no_gpu_series() -> None:
    source, why = NvmlSource.open()
    assert source is None and why.startswith("NVML")
    record = run_case(Case("faulty", "ok", "sklearn", 100, 1).to_dict(), Limits(1, 60, 2**31, 20))
    assert record.status == "ok" and record.telemetry["sources"] == {"nvml": why}
    assert record.telemetry["series"]["sources"] == {}


@pytest.mark.gpu
def test_a_gpu_case_reports_utilization_memory_and_energy_per_phase() -> None:
    record = run_case(Case("vision", "cnn", "torch-cuda", 16000, 4).to_dict(), Limits(2, 300, 32 * 2**30, 10))
    assert record.status == "ok", record.reason
    fit = record.telemetry["phases"]["fit"]["sources"]["nvml"]
    assert fit["gpu0.util_percent"]["mean"] > 0 and fit["gpu0.energy_j"]["per_window"] > 0
    assert fit["gpu0.case_memory_bytes"]["max"] > 0


def test_show_gets_gpu_columns_only_when_a_run_has_gpu_telemetry(tmp_path, capsys) -> None:
    from harness import cli, records
    from harness.records import store
    from tests.test_cli import disturbed_result

    path = disturbed_result(tmp_path, [False, False])
    assert cli.main(["show", str(path)]) == 0
    assert "fit GPU %" not in capsys.readouterr().out

    doc = records.load(path).to_dict()
    nvml = {"gpu0.util_percent": {"mean": 87.4, "p95": 99.0, "max": 100.0},
            "gpu0.case_memory_bytes": {"mean": 1.0 * 2**30, "p95": 2.0 * 2**30, "max": 3.0 * 2**30},
            "gpu0.energy_j": {"per_window": 412.5, "windows": 2}}
    doc["cases"][0]["telemetry"]["phases"] = {"fit": {"samples": 20, "sources": {"nvml": nvml}}, "cold": {}}
    records.save(path, store._from_dict(doc, path))
    assert cli.main(["show", str(path)]) == 0
    out = capsys.readouterr().out
    assert "fit GPU %" in out and "energy per fit" in out
    assert " 87 " in out and "3,072 MiB" in out and "412 J" in out
