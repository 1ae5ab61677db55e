"""Pluggable telemetry sources: gauges and counters sampled next to the process tree, summarized per phase."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence

import pytest

from harness import cli, records
from harness.records import Case
from harness.records import figures as fig
from harness.run import monitor, sources
from harness.run.runner import Limits, run_case
from harness.run.sources import nvml
from tests import builders

HAS_GPU = shutil.which("nvidia-smi") is not None


class Clock:
    """A source with known values: a gauge that reads 50 (missing at every third reading) and a
    counter that grows by 10 per second of the monotonic clock."""

    name = "clock"
    gauges = ("level",)
    counters = ("ticks",)
    figures = ()

    def __init__(self) -> None:
        self.reads = 0
        self.pids: list[Sequence[int]] = []

    def read(self, pids: Sequence[int]) -> dict[str, float | None]:
        self.reads += 1
        self.pids.append(pids)
        return {"level": None if self.reads % 3 == 0 else 50.0, "ticks": 10.0 * time.monotonic()}

    def close(self) -> None: ...


@pytest.mark.quiet
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
    series = sources.SourceSeries(gauges=(), counters=("energy",))
    for t, joules in [(0.0, 100.0), (1.0, 110.0), (2.0, None), (3.0, 150.0), (4.0, 170.0)]:
        series.add(t, {"energy": joules})
    summary = sources.summarize(series, [(0.0, 1.0), (3.0, 4.0), (5.0, 6.0)])
    assert summary["energy"] == {"per_window": 15.0, "windows": 2}  # (10 + 20) / 2; no reading inside (5, 6]
    assert sources.summarize(series, [(-2.0, -1.0)]) == {}  # before any reading: unknown, not zero


@pytest.mark.skipif(HAS_GPU, reason="this machine has a GPU")
def test_without_nvml_the_gpu_source_says_why_and_the_case_records_no_gpu_series() -> None:
    source, why = nvml.open_source()
    assert source is None and why.startswith("NVML")
    record = run_case(Case("faulty", "ok", "numpy", 100, 1), Limits(1, 60, 2**31, 20))
    assert record.status == "ok" and record.telemetry["sources"] == {"nvml": why}
    assert record.telemetry["series"]["sources"] == {} and "figures" not in record.telemetry


@pytest.mark.gpu
def test_a_gpu_case_reports_utilization_memory_and_energy_per_phase() -> None:
    record = run_case(Case("vision", "cnn", "torch-cuda", 16000, 4), Limits(2, 300, 32 * 2**30, 10))
    assert record.status == "ok", record.reason
    fit = record.telemetry["phases"]["fit"]["sources"]["nvml"]
    assert fit["gpu0.util_percent"]["mean"] > 0 and fit["gpu0.energy_j"]["per_window"] > 0
    assert fit["gpu0.case_memory_bytes"]["max"] > 0


def test_a_new_source_is_one_module_and_shows_up_in_show_and_the_report(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv(sources.EXTRA_ENV, "tests.thread_source")
    record = run_case(Case("faulty", "sleep", "numpy", 100, 1, {"seconds": 0.3}), Limits(1, 60, 2**31, 20))
    assert record.status == "ok" and record.telemetry["sources"]["thread_source"].startswith("threads")
    threads = fig.read(record.telemetry, "threads", "fit_threads")
    assert threads is not None and threads >= 2  # the worker's main thread and its lifeline watcher
    path = tmp_path / "r.json"
    records.save(path, builders.run_result([record]))

    assert cli.main(["show", str(path)]) == 0
    out = capsys.readouterr().out
    assert "fit threads" in out and f"{threads:.3g} threads" in out
    assert cli.main(["report", str(path), "-o", str(tmp_path / "report")]) == 0
    assert f"fit threads: {threads:.3g} threads" in (tmp_path / "report.md").read_text()


def test_show_has_no_column_for_a_figure_nothing_measured(tmp_path, capsys) -> None:
    path = builders.contended(tmp_path / "r.json", [False, False])
    assert cli.main(["show", str(path)]) == 0
    assert "fit GPU %" not in capsys.readouterr().out


def test_figures_combine_devices_and_phases_as_their_source_declares() -> None:
    per_phase = {"fit": {"sources": {"meter": {"dev0.load": {"mean": 40.0, "max": 90.0},
                                               "dev1.load": {"mean": 60.0, "max": 70.0},
                                               "dev0.joules": {"per_window": 5.0},
                                               "dev1.joules": {"per_window": 7.0}}}},
                 "predict": {"sources": {"meter": {"dev0.load": {"max": 95.0}}}},
                 "cold": {"fit": {"sources": {"meter": {"dev0.load": {"max": 100.0}}}}}}
    declared = [fig.Figure("load", "fit load", "load", "fit", "mean", "max", "%"),
                fig.Figure("peak", "peak load", "load", "*", "max", "max", "%"),
                fig.Figure("energy", "energy per fit", "joules", "fit", "per_window", "sum", "J")]
    telemetry = {"phases": per_phase, "figures": {"meter": [f.to_dict() for f in declared]}}
    assert fig.read(telemetry, "meter", "load") == 60.0  # the busiest device
    assert fig.read(telemetry, "meter", "peak") == 95.0  # every warm phase, not the cold run
    assert fig.read(telemetry, "meter", "energy") == 12.0  # both devices' energy
    assert fig.read(telemetry, "meter", "absent") is None and fig.read(telemetry, "other", "load") is None
    assert [fig.text(f, v) for f, v in zip(declared, (60.0, None, 12.0))] == ["60", "", "12 J"]
    assert [f.key for _, f in fig.declared(telemetry)] == ["load", "peak", "energy"]


def test_a_source_that_fails_to_open_is_off_and_costs_the_case_nothing(tmp_path, monkeypatch) -> None:
    (tmp_path / "broken_source.py").write_text("def open_source():\n    raise RuntimeError('no such meter')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(sources.EXTRA_ENV, "broken_source,tests.missing_source")
    record = run_case(Case("faulty", "ok", "numpy", 100, 1), Limits(1, 60, 2**31, 20))
    assert record.status == "ok"
    said = record.telemetry["sources"]
    assert said["broken_source"] == "failed: RuntimeError: no such meter"
    assert said["missing_source"].startswith("failed: ModuleNotFoundError")


def test_gpu_memory_of_a_case_is_its_processes_or_the_devices_change_said_as_such_never_a_silent_zero() -> None:
    from tests.fake_nvml import FakeNvml, Gpu

    ours = os.getpid()
    gpus = [Gpu(used=1 << 30, processes=[(ours, 3 << 30)]),  # the driver sees our PID and its memory
            Gpu(used=1 << 30, processes=[(987_654, 5 << 30)]),  # a PID namespace: host PIDs, none ours
            Gpu(used=1 << 30, processes=[(ours, None)]),  # MIG or a vGPU: no per-process figure
            Gpu(used=1 << 30)]
    fake = FakeNvml(gpus)
    source = nvml.NvmlSource(fake, gpus)
    for gpu in gpus:
        gpu.used += 2 << 30  # the case allocates 2 GiB on each
    read = source.read([ours])
    assert (read["gpu0.case_memory_bytes"], read["gpu0.case_memory_per_process"]) == (3 << 30, 1.0)
    for i in (1, 2, 3):
        assert (read[f"gpu{i}.case_memory_bytes"], read[f"gpu{i}.case_memory_per_process"]) == (2 << 30, 0.0)
    fake.nvmlDeviceGetMemoryInfo = lambda h: (_ for _ in ()).throw(RuntimeError("Not Supported"))
    read = source.read([ours])
    assert read["gpu1.case_memory_bytes"] is None and read["gpu1.case_memory_per_process"] is None


def test_clock_events_are_read_with_the_current_name_and_the_deprecated_one_where_only_it_exists() -> None:
    from tests.fake_nvml import FakeNvml, Gpu

    for new in (True, False):
        fake = FakeNvml([Gpu()], clock_events=new)
        assert nvml.NvmlSource(fake, fake.gpus).read([])["gpu0.throttle_reasons"] == 4


def test_one_gpu_whose_handle_fails_leaves_the_others_identified(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.run import machine
    from tests.fake_nvml import FakeNvml, Gpu

    fake = FakeNvml([Gpu(broken=True), Gpu(total=141 << 30)])
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    found = machine.gpus()
    assert [(g["index"], g["memory_bytes"]) for g in found] == [(1, 141 << 30)] and fake.shutdowns == 1
    source, why = nvml.open_source()
    assert source is not None and source.handles == fake.gpus[1:] and why == "1 GPU(s)"


def test_the_energy_of_a_phase_is_read_from_the_cases_own_gpu_at_its_edges(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker on a two-GPU host (a fake NVML whose counter adds 1 J per read, a backend on the second GPU):
    every phase spends exactly 1 J, read on that GPU only, and the record files it per phase."""
    from harness.records import events as ev
    from harness.run import energy, worker
    from harness.run.backends import BACKENDS, Backend
    from tests.fake_nvml import FakeNvml, Gpu

    gpus = [Gpu(uuid="GPU-a", energy_step_mj=5_000), Gpu(uuid="GPU-b", energy_step_mj=1_000)]
    monkeypatch.setitem(sys.modules, "pynvml", FakeNvml(gpus))

    class SecondGpu(Backend):  # the device path's bookkeeping, computed on the host
        def device_id(self) -> tuple[str, str]:
            return "uuid", "GPU-b"

    monkeypatch.setitem(BACKENDS, "second-gpu", SecondGpu("second-gpu", "cuda", ("numpy",), "on GPU b"))
    log: list = []

    class Recorder:
        def write(self, line: str) -> None:
            log.append(ev.decode(line.strip()))

        def flush(self) -> None: ...

    worker.run_case(Case("classification", "linear", "second-gpu", 300, 1), 2, 0, worker.Events(Recorder()))
    timed = [e for e in log if isinstance(e, ev.PhaseTiming) and e.phase != "startup"]
    assert timed and all(e.energy_j == pytest.approx(1.0) for e in timed)
    assert gpus[0].reads == 0 and gpus[1].reads == 2 * len(timed) + 1  # +1: the check that it has a counter
    assert "edges" in next(e for e in log if isinstance(e, ev.BackendStarted)).energy
    fit = energy.summaries(timed)["fit"]["sources"][energy.SOURCE]["gpu.energy_j"]
    assert fit == {"per_window": pytest.approx(1.0), "windows": 2}


def test_an_energy_counter_is_found_by_uuid_or_bus_or_as_the_only_gpu_and_never_guessed() -> None:
    from harness.run import energy
    from tests.fake_nvml import FakeNvml, Gpu

    two = FakeNvml([Gpu(uuid="GPU-a", pci="0000:3B:00.0"), Gpu(uuid="GPU-b", pci="0000:86:00.0")])
    assert energy.Counter.open(("uuid", "GPU-b"), two)[0].handle is two.gpus[1]
    assert energy.Counter.open(("pci", "0000:86:00.0"), two)[0].handle is two.gpus[1]
    counter, why = energy.Counter.open(None, two)
    assert counter is None and "which of 2 GPUs" in why
    assert energy.Counter.open(None, FakeNvml([Gpu()]))[0] is not None
    counter, why = energy.Counter.open(None, FakeNvml([Gpu(energy_mj=-1)]))
    assert counter is None and "no energy counter" in why


def test_gpu_utilization_and_power_come_from_the_drivers_samples_since_the_last_reading_where_it_keeps_them() -> None:
    from tests.fake_nvml import FakeNvml, Gpu

    sampled = Gpu(util=40, power_mw=50_000, samples={1: [(100, 99)], 0: [(100, 300_000)]})  # before the case
    plain = Gpu(util=40, power_mw=50_000)
    source = nvml.NvmlSource(FakeNvml([sampled, plain]), [sampled, plain])
    sampled.samples[1] += [(200, 10), (300, 30)]  # the phase: a short burst the 1 s average would blur
    sampled.samples[0] += [(250, 200_000)]
    first = source.read([])
    assert (first["gpu0.util_percent"], first["gpu0.util_sampled"]) == (20.0, 1.0)  # mean of the new samples only
    assert (first["gpu0.power_w"], first["gpu0.power_sampled"]) == (200.0, 1.0)
    assert (first["gpu1.util_percent"], first["gpu1.util_sampled"], first["gpu1.power_w"]) == (40, 0.0, 50.0)
    second = source.read([])  # nothing new since: the last samples' mean stands
    assert second["gpu0.util_percent"] == 20.0
    sampled.samples[1].append((400, 90))
    assert source.read([])["gpu0.util_percent"] == 90.0
