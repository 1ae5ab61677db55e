"""The energy a phase used on the case's own GPU, read by the worker at the phase's edges.

NVML's total-energy counter (millijoules since the driver loaded, Volta and newer) is read right after the
synchronize that closes the phase, so the boundary is exact, and only for the GPU the backend opened (found by
its UUID or PCI bus id): on a host of eight GPUs, the seven others are not the case's. The harness's sampled
series of every GPU stays as it was, for the report's plots.
"""

from __future__ import annotations

from typing import Any

from harness.records.figures import WORKER as SOURCE

VALUE = "gpu.energy_j"


class Counter:
    """The energy counter of one GPU; `read()` in joules, None where it cannot be read."""

    def __init__(self, nvml: Any, handle: Any) -> None:
        self.nvml, self.handle = nvml, handle

    @classmethod
    def open(cls, device: tuple[str, str] | None, nvml: Any = None) -> tuple[Counter | None, str]:
        """The counter of the GPU `device` names (("uuid", "GPU-...") or ("pci", "0000:3b:00.0")), or of the only
        GPU where it names none; else None and why."""
        from harness.run.sources.nvml import guarded

        if nvml is None:
            try:
                import pynvml as nvml

                nvml.nvmlInit()
            except Exception as exc:
                return None, f"NVML unavailable: {exc}"
        if device is not None:
            kind, name = device
            find = nvml.nvmlDeviceGetHandleByUUID if kind == "uuid" else nvml.nvmlDeviceGetHandleByPciBusId
            handle = guarded(find, name)
            why = f"no GPU {name} in NVML"
        else:
            count = guarded(nvml.nvmlDeviceGetCount) or 0
            handle = guarded(nvml.nvmlDeviceGetHandleByIndex, 0) if count == 1 else None
            why = f"the backend did not say which of {count} GPUs it uses"
        if handle is None:
            return None, why
        counter = cls(nvml, handle)
        if counter.read() is None:
            return None, "this GPU has no energy counter (before Volta, or not supported)"
        return counter, ""

    def read(self) -> float | None:
        from harness.run.sources.nvml import guarded

        millijoules = guarded(self.nvml.nvmlDeviceGetTotalEnergyConsumption, self.handle)
        return None if millijoules is None else millijoules / 1000.0


def summaries(phases: list[Any]) -> dict[str, dict[str, Any]]:
    """Per phase, the mean energy over the warm repeats among `phases` (those the statistics use), and over the
    cold run under 'cold', as a record's telemetry files a source's figures (phase -> sources -> worker -> value ->
    statistics)."""
    warm: dict[str, list[float]] = {}
    cold: dict[str, list[float]] = {}
    for p in phases:
        if p.energy_j is not None:
            (cold if p.repeat == 0 else warm).setdefault(p.phase, []).append(p.energy_j)

    def filed(values: list[float]) -> dict[str, Any]:
        return {"sources": {SOURCE: {VALUE: {"per_window": sum(values) / len(values), "windows": len(values)}}}}

    out: dict[str, dict[str, Any]] = {name: filed(v) for name, v in warm.items()}
    if cold:
        out["cold"] = {name: filed(v) for name, v in cold.items()}
    return out
