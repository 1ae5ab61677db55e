"""Compute backends: what each needs, whether this machine has it, and the steps that differ
between devices, so that a workload never mentions one.

A backend owns its lifecycle, which the worker drives:

- ``start_up(threads)``: import its libraries, set threads, create the device context;
  timed as the cold run's ``startup`` phase;
- ``array_module()``: NumPy, or CuPy where feature engineering runs on the GPU;
- ``to_device(split)``: move a split's arrays onto the device, timed as ``transfer``
  (backends with ``moves_data`` only), so a fit is not charged with the copies;
- ``synchronize()``: called before every phase's clock is read, so no phase ends while
  device work is still queued;
- ``to_host(predictions)``: back to NumPy, so quality is scored on the host the same way
  for every backend.

Backends are found by convention, as workloads are: every module in this package that
defines ``BACKENDS`` (a tuple of Backend) contributes. A probe answers with a reason,
never an exception, so that `sizeup list` can show every backend and the worker can turn
an unavailable one into a `skipped` case.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pkgutil
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from harness.records import BackendFacts
from workloads.base import Split


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
    moves_data: bool = False  # whether cases get a timed `transfer` phase
    twin: str | None = None  # the CPU backend doing the same work, whose quality this one must match
    distributed: bool = False  # a cluster engine: sized as a cluster, not as one node

    def facts(self) -> BackendFacts:
        """What a record keeps of this backend, so analysis never needs this registry."""
        return BackendFacts(self.device, self.twin, self.distributed)

    def start_up(self, threads: int) -> Availability:
        """The probe, the lazy imports, then the device: everything a fresh process pays before its first fit."""
        available = self.probe()
        if available.ok:
            for module in self.lazy_modules:
                importlib.import_module(module)
            self.prepare(threads)
        return available

    def probe(self) -> Availability:
        """The device first, asked without importing a library (on a machine without a GPU, importing XGBoost or
        torch only to learn so took 1.5 s a backend, a worker each); then the imports; then probe_device."""
        hardware = self.probe_hardware()
        if not hardware.ok:
            return hardware
        versions = []
        for module in self.modules:
            try:
                imported = importlib.import_module(module)
            except Exception as exc:  # a broken install raises more than ImportError
                return Availability(False, f"cannot import {module}: {exc}")
            versions.append(f"{module} {getattr(imported, '__version__', '?')}")
        found = self.probe_device()
        return found if not found.ok else Availability(
            True, ", ".join(filter(None, [*versions, hardware.reason, found.reason])))

    def probe_hardware(self) -> Availability:
        """Whether the device is there at all: the CPU always; a GPU where NVML finds one."""
        return Availability(True) if self.device == "cpu" else cuda_devices()

    def probe_device(self) -> Availability:
        """Whether the imported libraries can use the device."""
        return Availability(True)

    def prepare(self, threads: int) -> None:
        """Thread settings and device context, once per process."""

    def array_module(self) -> ModuleType:
        """The array module a workload's feature engineering builds with on this backend."""
        import numpy

        return numpy

    def to_device(self, split: Split) -> Split:
        return split

    def synchronize(self) -> None:
        """Wait for queued device work; nothing to wait for on the CPU."""

    def dispatch(self) -> Any:
        """A context around the cold fit that yields where its calls ran (a Dispatched event), for an accelerator
        that may fall back to the CPU without a word; None (the calls ran where the backend says) otherwise."""
        return contextlib.nullcontext(None)

    def device_id(self) -> tuple[str, str] | None:
        """The GPU this process computes on, as NVML can find it: ("uuid", "GPU-...") or ("pci", bus id); None
        on the CPU, or where the library cannot say."""
        return None

    def to_host(self, predictions: Any) -> Any:
        return predictions


def on_device(split: Split, move: Any) -> Split:
    """`split` with its numeric arrays moved by `move`; anything else (documents, labels) stays on the host.

    A table whose columns are all numeric (forecasting's features) moves as one 2-D array; an object with a
    `moved(move)` method (tokenized documents) moves its own arrays.
    """
    import numpy as np

    def maybe(a: Any) -> Any:
        if callable(getattr(a, "moved", None)):
            return a.moved(move)
        if hasattr(a, "dtypes") and hasattr(a, "to_numpy") and all(d.kind in "fiub" for d in a.dtypes):
            a = a.to_numpy()
        return move(a) if isinstance(a, np.ndarray) and a.dtype.kind in "fiub" else a

    return Split(maybe(split.X_train), split.y_train, maybe(split.X_test), split.y_test)


def cuda_devices() -> Availability:
    """Is there a CUDA device this process may use? NVML answers without a CUDA context."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return Availability(False, "CUDA_VISIBLE_DEVICES hides every GPU")
    from harness.run.sources.nvml import guarded, session

    with session() as (nvml, why):
        if nvml is None:
            return Availability(False, f"no NVIDIA driver answered: {why}")
        count = guarded(nvml.nvmlDeviceGetCount) or 0
    if count == 0:
        return Availability(False, "NVML found no GPU")
    return Availability(True, f"{count} GPU(s)")


def _discover() -> dict[str, Backend]:
    found: dict[str, Backend] = {}
    for module in pkgutil.iter_modules(__path__):
        for backend in getattr(importlib.import_module(f"{__name__}.{module.name}"), "BACKENDS", ()):
            if backend.name in found:
                raise ValueError(f"two backends are named {backend.name!r}")
            found[backend.name] = backend
    return found


BACKENDS: dict[str, Backend] = _discover()
