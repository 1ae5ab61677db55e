"""NVML (nvidia-ml-py): the one place sizeup talks to the NVIDIA driver, and the GPU telemetry source.

`session()` initializes NVML and always shuts it down; the machine fingerprint and the
backends' device probes use it. As a telemetry source (see harness.run.sources), per GPU ``i``:
``gpu{i}.util_percent``, ``gpu{i}.memory_used_bytes`` (the whole device),
``gpu{i}.case_memory_bytes`` (the case's processes; see `case_memory`), ``gpu{i}.case_memory_per_process``
(1 where that figure is the case's processes' own, 0 where it is the device's change since the case began),
``gpu{i}.power_w``, ``gpu{i}.sm_clock_mhz``, ``gpu{i}.temperature_c``, ``gpu{i}.throttle_reasons`` (NVML's bit
mask of clock events) as gauges, and
``gpu{i}.energy_j`` (the board's total-energy counter) as a counter. Every call is guarded
alone: what a GPU does not support reads as None. Not yet run on GPU hardware.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from harness.records.figures import Figure

GAUGES = ("util_percent", "memory_used_bytes", "case_memory_bytes", "case_memory_per_process", "power_w",
          "sm_clock_mhz", "temperature_c", "throttle_reasons", "util_sampled", "power_sampled")
# nvmlDeviceGetSamples' kinds and value types (nvml.h), so that a pynvml without the names still reads them.
POWER_SAMPLES, UTILIZATION_SAMPLES = 0, 1
VALUE_FIELDS = {0: "dVal", 1: "uiVal", 2: "ulVal", 3: "ullVal", 4: "sllVal", 5: "siVal"}
COUNTERS = ("energy_j",)
FIGURES = (
    Figure("gpu_util", "fit GPU %", "util_percent", "fit", "mean", "max", "%", plot=True),  # of the busiest GPU
    Figure("gpu_memory", "peak GPU memory", "case_memory_bytes", "*", "max", "max", "bytes"),
)  # energy per fit: read by the worker at the phases' edges (harness.run.energy), not from these samples


@contextmanager
def session() -> Iterator[tuple[Any, str]]:
    """(pynvml, "") with NVML initialized, shut down on exit; (None, the error) without a library or driver."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception as exc:
        yield None, str(exc)
        return
    try:
        yield pynvml, ""
    finally:
        guarded(pynvml.nvmlShutdown)


def open_source() -> tuple[NvmlSource | None, str]:
    """The source, or None and why not (no library, no driver, no GPU). Kept open: the caller closes it."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception as exc:
        return None, f"NVML unavailable: {exc}"
    count = guarded(pynvml.nvmlDeviceGetCount) or 0
    handles = [h for i in range(count) if (h := guarded(pynvml.nvmlDeviceGetHandleByIndex, i)) is not None]
    if not handles:
        guarded(pynvml.nvmlShutdown)
        return None, "NVML found no GPU"
    return NvmlSource(pynvml, handles), f"{len(handles)} GPU(s)"


class NvmlSource:
    name = "nvml"
    figures = FIGURES

    def __init__(self, nvml: Any, handles: list[Any]) -> None:
        self.nvml, self.handles = nvml, handles
        self.gauges = tuple(f"gpu{i}.{g}" for i in range(len(handles)) for g in GAUGES)
        self.counters = tuple(f"gpu{i}.{c}" for i in range(len(handles)) for c in COUNTERS)
        # Before the case allocates anything: the fallback for memory the driver cannot give per process.
        self.baseline = [getattr(guarded(nvml.nvmlDeviceGetMemoryInfo, h), "used", None) for h in handles]
        # Utilization and power from the driver's own timestamped samples where it keeps them: each reading is then
        # the mean over the time since the last one. NVML's plain readings average over up to a second, which
        # biases a short phase low; `util_sampled`/`power_sampled` say per reading which method gave it (1/0).
        self.seen: dict[tuple[int, int], int] = {}  # (GPU, kind) -> the driver's timestamp of the last sample read
        self.last: dict[tuple[int, int], float] = {}
        for i, h in enumerate(handles):  # from now on: the driver keeps samples from before the case began
            for kind in (UTILIZATION_SAMPLES, POWER_SAMPLES):
                self.sampled(i, h, kind)
        self.last.clear()
        # The "throttle" name is deprecated (gone with CUDA 14); drivers before 535 have only it.
        self.clock_events = (getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None)
                             or getattr(nvml, "nvmlDeviceGetCurrentClocksThrottleReasons", None))

    def read(self, pids: Sequence[int]) -> dict[str, float | None]:
        n, ours = self.nvml, set(pids)
        out: dict[str, float | None] = {}
        for i, h in enumerate(self.handles):
            util = guarded(n.nvmlDeviceGetUtilizationRates, h)
            memory = guarded(n.nvmlDeviceGetMemoryInfo, h)
            processes = guarded(n.nvmlDeviceGetComputeRunningProcesses, h)
            used = getattr(memory, "used", None)
            case_memory, per_process = case_memory_of(processes, ours, used, self.baseline[i])
            util_sampled = self.sampled(i, h, UTILIZATION_SAMPLES)
            power_sampled = self.sampled(i, h, POWER_SAMPLES)
            out |= {
                f"gpu{i}.util_percent": util_sampled if util_sampled is not None else getattr(util, "gpu", None),
                f"gpu{i}.util_sampled": float(util_sampled is not None),
                f"gpu{i}.memory_used_bytes": used,
                f"gpu{i}.case_memory_bytes": case_memory,
                f"gpu{i}.case_memory_per_process": per_process,
                f"gpu{i}.power_w": _scaled(power_sampled if power_sampled is not None
                                           else guarded(n.nvmlDeviceGetPowerUsage, h), 1e-3),
                f"gpu{i}.power_sampled": float(power_sampled is not None),
                f"gpu{i}.sm_clock_mhz": guarded(n.nvmlDeviceGetClockInfo, h, n.NVML_CLOCK_SM),
                f"gpu{i}.temperature_c": guarded(n.nvmlDeviceGetTemperature, h, n.NVML_TEMPERATURE_GPU),
                f"gpu{i}.throttle_reasons": guarded(self.clock_events, h) if self.clock_events else None,
                f"gpu{i}.energy_j": _scaled(guarded(n.nvmlDeviceGetTotalEnergyConsumption, h), 1e-3),
            }
        return out

    def sampled(self, i: int, handle: Any, kind: int) -> float | None:
        """The mean of the driver's samples of `kind` since the last read (power in mW); the last mean where none
        is new (the driver samples about six times a second); None where the driver keeps no samples."""
        got = guarded(self.nvml.nvmlDeviceGetSamples, handle, kind, self.seen.get((i, kind), 0))
        if not got:
            return None
        value_type, samples = got
        if samples:
            field = VALUE_FIELDS.get(value_type, "uiVal")
            self.seen[(i, kind)] = max(s.timeStamp for s in samples)
            self.last[(i, kind)] = sum(float(getattr(s.sampleValue, field)) for s in samples) / len(samples)
        return self.last.get((i, kind))

    def close(self) -> None:
        guarded(self.nvml.nvmlShutdown)


def case_memory_of(processes: Sequence[Any] | None, ours: set[int], used: float | None,
                   baseline: float | None) -> tuple[float | None, float | None]:
    """(bytes the case holds on a GPU, 1.0 if from its processes / 0.0 if from the device's change / None).

    The driver lists processes by the host's PIDs: in a container with its own PID namespace none of them is
    ours, and where it cannot account per process (MIG, some virtualized GPUs) it gives None, not 0. Then the
    device's memory change since the case began stands in, said as such; 0 would read as "used none"."""
    own = [p.usedGpuMemory for p in processes or () if p.pid in ours and p.usedGpuMemory is not None]
    if own:
        return float(sum(own)), 1.0
    if used is not None and baseline is not None:
        return float(max(used - baseline, 0)), 0.0
    return None, None


def guarded(call: Any, *args: Any) -> Any:
    try:
        return call(*args)
    except Exception:  # NVMLError_NotSupported and friends: that value is missing, nothing else
        return None


def _scaled(value: Any, factor: float) -> float | None:
    return None if value is None else value * factor
