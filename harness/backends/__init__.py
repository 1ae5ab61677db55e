"""Compute backends: what each needs, and whether this machine has it.

A probe answers with a reason, never an exception, so that `sizeup list` can
show every backend and the worker can turn an unavailable one into a `skipped`
case instead of an ImportError.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Availability:
    ok: bool
    reason: str = ""  # why not, or what was found


@dataclass(frozen=True)
class Backend:
    name: str
    device: str  # "cpu" or "cuda"
    modules: tuple[str, ...]  # must import
    description: str
    # Imported by start_up after the probe: what the libraries would otherwise import lazily on
    # first use, in the middle of a timed phase.
    lazy_modules: tuple[str, ...] = ()

    def start_up(self) -> Availability:
        """The probe, then the lazy imports: everything a fresh process pays before its first fit."""
        available = self.probe()
        if available.ok:
            for module in self.lazy_modules:
                importlib.import_module(module)
        return available

    def probe(self) -> Availability:
        versions = []
        for module in self.modules:
            try:
                imported = importlib.import_module(module)
            except Exception as exc:  # a broken install raises more than ImportError
                return Availability(False, f"cannot import {module}: {exc}")
            versions.append(f"{module} {getattr(imported, '__version__', '?')}")
        if self.device == "cuda":
            found = cuda_devices()
            if not found.ok:
                return found
        return Availability(True, ", ".join(versions))


def cuda_devices() -> Availability:
    """Is there a CUDA device this process may use? NVML answers without a CUDA context."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return Availability(False, "CUDA_VISIBLE_DEVICES hides every GPU")
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            count = pynvml.nvmlDeviceGetCount()
        finally:
            pynvml.nvmlShutdown()
    except Exception as exc:
        return Availability(False, f"no NVIDIA driver answered: {exc}")
    if count == 0:
        return Availability(False, "NVML found no GPU")
    return Availability(True, f"{count} GPU(s)")


BACKENDS: dict[str, Backend] = {
    b.name: b
    for b in (
        Backend("sklearn", "cpu", ("sklearn",), "scikit-learn and NumPy on the CPU"),
        Backend("xgboost", "cpu", ("xgboost",), "XGBoost on the CPU"),
        # The first optimizer step imports torch._dynamo (and SymPy with it): about 2 s here.
        Backend("torch", "cpu", ("torch",), "PyTorch on the CPU", lazy_modules=("torch._dynamo",)),
    )
}
