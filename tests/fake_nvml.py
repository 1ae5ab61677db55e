"""A stand-in for pynvml (nvidia-ml-py) with the driver's awkward answers, to test how sizeup reads NVML.

It tests the reading discipline only (PIDs that do not match, None where the driver cannot say, a GPU whose
handle fails, the deprecated clock-event API); nothing measured with it is a figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any


class NVMLError(Exception):
    pass


@dataclass
class Gpu:
    util: float = 0.0
    used: int = 1 << 30
    total: int = 80 << 30
    processes: list[tuple[int, int | None]] = field(default_factory=list)  # (pid as the driver sees it, bytes)
    energy_mj: int = 0
    energy_step_mj: int = 0  # added at every read of the counter: each phase then spends exactly this
    power_mw: int = 100_000
    broken: bool = False  # its handle cannot be had
    uuid: str = "GPU-00000000-0000-0000-0000-000000000000"
    pci: str = "00000000:3B:00.0"
    reads: int = 0  # of its energy counter
    samples: dict[int, list[tuple[int, int]]] | None = None  # kind -> (driver timestamp in us, value); None: none kept


class FakeNvml:
    NVML_CLOCK_SM = 1
    NVML_TEMPERATURE_GPU = 0

    def __init__(self, gpus: list[Gpu], clock_events: bool = True) -> None:
        self.gpus = gpus
        self.shutdowns = 0
        if clock_events:  # drivers from 535 have the new name; CUDA 14 drops the old one
            self.nvmlDeviceGetCurrentClocksEventReasons = lambda h: 4
        else:
            self.nvmlDeviceGetCurrentClocksThrottleReasons = lambda h: 4

    def nvmlInit(self) -> None: ...

    def nvmlShutdown(self) -> None:
        self.shutdowns += 1

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, i: int) -> Gpu:
        if self.gpus[i].broken:
            raise NVMLError("Unknown Error")
        return self.gpus[i]

    def nvmlSystemGetDriverVersion(self) -> str:
        return "550.54"

    def nvmlSystemGetCudaDriverVersion_v2(self) -> int:
        return 12040

    def nvmlDeviceGetName(self, h: Gpu) -> str:
        return "Fake H100"

    def nvmlDeviceGetUUID(self, h: Gpu) -> str:
        return h.uuid

    def nvmlDeviceGetPowerManagementLimit(self, h: Gpu) -> int:
        return 700_000

    def nvmlDeviceGetUtilizationRates(self, h: Gpu) -> Any:
        return SimpleNamespace(gpu=h.util, memory=0)

    def nvmlDeviceGetMemoryInfo(self, h: Gpu) -> Any:
        return SimpleNamespace(used=h.used, total=h.total, free=h.total - h.used)

    def nvmlDeviceGetComputeRunningProcesses(self, h: Gpu) -> list[Any]:
        return [SimpleNamespace(pid=pid, usedGpuMemory=used) for pid, used in h.processes]

    def nvmlDeviceGetPowerUsage(self, h: Gpu) -> int:
        return h.power_mw

    def nvmlDeviceGetClockInfo(self, h: Gpu, kind: int) -> int:
        return 1980

    def nvmlDeviceGetTemperature(self, h: Gpu, kind: int) -> int:
        return 40

    def nvmlDeviceGetTotalEnergyConsumption(self, h: Gpu) -> int:
        if h.energy_mj < 0:
            raise NVMLError("Not Supported")
        h.reads += 1
        h.energy_mj += h.energy_step_mj
        return h.energy_mj

    def nvmlDeviceGetSamples(self, h: Gpu, kind: int, since: int) -> tuple[int, list[Any]]:
        if h.samples is None:
            raise NVMLError("Not Supported")
        return 1, [SimpleNamespace(timeStamp=t, sampleValue=SimpleNamespace(uiVal=v))
                   for t, v in h.samples.get(kind, []) if t > since]

    def nvmlDeviceGetHandleByUUID(self, uuid: str) -> Gpu:
        return next(g for g in self.gpus if g.uuid == uuid)

    def nvmlDeviceGetHandleByPciBusId(self, bus: str) -> Gpu:
        return next(g for g in self.gpus if g.pci.lower() == bus.lower())
