"""CuPy on an NVIDIA GPU: CuPy array code, and XGBoost on CUDA fed CuPy arrays.

Both move a split's arrays to the device in a timed `transfer` phase and synchronize
before a phase's clock is read (PyTorch on CUDA is in pytorch.py). None of this has run
on a GPU machine yet; on a machine without one, the probes say why and the cases are skipped.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from harness.run.backends import Backend, on_device
from workloads.base import Split


class CuPyDevice(Backend):
    """Arrays as CuPy arrays (XGBoost takes them as they are, without host round trips)."""

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

    def to_host(self, predictions: Any) -> Any:
        import cupy

        return cupy.asnumpy(predictions) if isinstance(predictions, cupy.ndarray) else predictions


BACKENDS = (
    CuPyDevice("xgboost-cuda", "cuda", ("xgboost", "cupy"), "XGBoost on CUDA, data as CuPy arrays", moves_data=True,
               twin="xgboost"),
    CuPyDevice("cupy", "cuda", ("cupy",), "CuPy array code on CUDA (the GPU twin of numpy)", moves_data=True,
               twin="numpy"),
)
