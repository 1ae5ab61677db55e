"""CuPy on an NVIDIA GPU: CuPy array code, and XGBoost on CUDA fed CuPy arrays.

Both move a split's arrays to the device in a timed `transfer` phase and synchronize
before a phase's clock is read (PyTorch on CUDA is in pytorch.py). None of this has run
on a GPU machine yet; on a machine without one, the probes say why and the cases are skipped.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from harness.errors import described
from harness.run.backends import Availability, Backend, on_device
from workloads.base import Split


class CuPyDevice(Backend):
    """Arrays as CuPy arrays (XGBoost takes them as they are, without host round trips)."""

    def probe_device(self) -> Availability:
        """Libraries that can use the GPU: an install that imports but cannot run is skipped here, with the
        reason, not failed mid-case."""
        if "xgboost" in self.modules and not (built := xgboost_cuda()).ok:
            return built
        import cupy

        return runs_a_kernel(cupy)

    def prepare(self, threads: int) -> None:
        import cupy

        cupy.cuda.Device(0).use()
        cupy.zeros(1).sum()  # creates the context and the memory pool now, not in the first fit
        self.synchronize()

    def array_module(self) -> ModuleType:
        import cupy

        return cupy

    def to_device(self, split: Split) -> Split:
        import cupy

        return on_device(split, cupy.asarray)

    def synchronize(self) -> None:
        import cupy

        cupy.cuda.Device().synchronize()

    def device_id(self) -> tuple[str, str] | None:
        import cupy

        return "pci", cupy.cuda.Device().pci_bus_id

    def to_host(self, predictions: Any) -> Any:
        import cupy

        return cupy.asnumpy(predictions) if isinstance(predictions, cupy.ndarray) else predictions


def xgboost_cuda(xgboost: ModuleType | None = None) -> Availability:
    """Whether the installed XGBoost was built with CUDA (the `xgboost-cpu` package and some builds are not)."""
    if xgboost is None:
        import xgboost
    try:
        built = bool(xgboost.build_info().get("USE_CUDA"))
    except Exception as exc:  # an old or broken build
        return Availability(False, f"xgboost {xgboost.__version__} cannot say how it was built: {exc}")
    return Availability(True) if built else Availability(
        False, f"xgboost {xgboost.__version__} was built without CUDA (the CPU-only package?): pip install xgboost")


def runs_a_kernel(xp: ModuleType) -> Availability:
    """One elementwise kernel compiled and run. CuPy compiles kernels with NVRTC at first use: a missing CUDA
    library fails here, before the case, rather than in its first timed phase."""
    try:
        value = int((xp.arange(4, dtype=xp.int32) * 3).sum().item())
    except Exception as exc:
        return Availability(False, f"CuPy cannot compile and run a kernel: {described(exc)}")
    return Availability(True) if value == 18 else Availability(False, f"CuPy computed {value} for 18")


BACKENDS = (
    CuPyDevice("xgboost-cuda", "cuda", ("xgboost", "cupy"), "XGBoost on CUDA, data as CuPy arrays", moves_data=True,
               twin="xgboost"),
    CuPyDevice("cupy", "cuda", ("cupy",), "CuPy array code on CUDA (the GPU twin of numpy)", moves_data=True,
               twin="numpy"),
)
