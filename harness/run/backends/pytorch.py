"""PyTorch on the CPU and on CUDA: one class, the device a parameter, so the CUDA path's
lifecycle (transfer, synchronize, back to the host) also runs, and is tested, on the CPU."""

from __future__ import annotations

from typing import Any

from harness.run.backends import Availability, Backend, on_device
from workloads.base import Split


class Torch(Backend):
    def probe_device(self) -> Availability:
        if self.device == "cpu":
            return Availability(True)
        import torch

        if not torch.cuda.is_available():
            return Availability(False, f"torch {torch.__version__} cannot use CUDA here (a CPU build, or no GPU)")
        return Availability(True, torch.cuda.get_device_name(0))

    def prepare(self, threads: int) -> None:
        import torch

        torch.set_num_threads(threads)  # on CUDA too: the host runs the Python loop and the optimizer's bookkeeping
        # Outside the first timed phase: the device context and cuBLAS handles (a product), and cuDNN (or
        # oneDNN on the CPU), which a convolution loads; else the CNN's first fit pays for loading it.
        a = torch.ones(1, 1, 8, 8, device=self.device)
        (torch.nn.functional.conv2d(a, a[..., :3, :3]).sum() + (a[0, 0] @ a[0, 0]).sum()).item()

    def to_device(self, split: Split) -> Split:
        import torch

        return on_device(split, lambda a: torch.from_numpy(a).to(self.device))

    def synchronize(self) -> None:
        import torch

        if self.device != "cpu":
            torch.cuda.synchronize()

    def device_id(self) -> tuple[str, str] | None:
        import torch

        if self.device == "cpu":
            return None
        uuid = getattr(torch.cuda.get_device_properties(torch.cuda.current_device()), "uuid", None)
        return None if uuid is None else ("uuid", f"GPU-{uuid}")

    def to_host(self, predictions: Any) -> Any:
        return predictions.cpu().numpy() if hasattr(predictions, "cpu") else predictions


BACKENDS = (
    # The first optimizer step imports torch._dynamo (and SymPy with it): about 2 s here.
    Torch("torch", "cpu", ("torch",), "PyTorch on the CPU", lazy_modules=("torch._dynamo",)),
    Torch("torch-cuda", "cuda", ("torch",), "PyTorch on CUDA", lazy_modules=("torch._dynamo",), moves_data=True,
          twin="torch"),
)
