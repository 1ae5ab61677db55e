"""The size from which a GPU's fitted time curve is below its CPU twin's, with an interval from refits on
resampled repeats. Pure functions of fits (harness.analysis.scaling)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from harness.analysis.scaling import BOOTSTRAP, EXTRAPOLATION_WARN, Blend, SizeFit, refit


@dataclass(frozen=True)
class Crossover:
    verdict: str  # "crosses", "gpu-faster", "cpu-faster"
    size: float | None = None  # where the GPU becomes faster
    lo: float | None = None
    hi: float | None = None
    measured: tuple[float, float] = (0.0, 0.0)  # the size range both were measured over
    extrapolated: bool = False  # the crossing lies outside that range

    def describe(self, unit: str = "rows") -> str:
        span = f"{self.measured[0]:,.0f}-{self.measured[1]:,.0f} {unit}"
        if self.verdict == "gpu-faster":
            return f"GPU faster at every measured size ({span})"
        if self.verdict == "cpu-faster":
            return f"GPU never faster within the measured range ({span}) or 10x past it"
        interval = f" (95% interval {self.lo:,.0f}-{self.hi:,.0f})" if self.lo is not None else ""
        where = ", extrapolated beyond the measured range" if self.extrapolated else ""
        return f"GPU faster from about {self.size:,.0f} {unit}{interval}{where}"


def crossover(cpu: SizeFit, gpu: SizeFit, seed: int = 0) -> Crossover:
    """The size from which the GPU fit is faster than the CPU fit, searched over the measured range
    and up to 10x past it; the interval comes from refits on resampled repeats."""
    lo, hi = max(min(cpu.sizes), min(gpu.sizes)), min(max(cpu.sizes), max(gpu.sizes))
    if lo > hi:
        lo, hi = min(min(cpu.sizes), min(gpu.sizes)), max(max(cpu.sizes), max(gpu.sizes))
    point = _crossing(cpu.blend, gpu.blend, lo, hi)
    if isinstance(point, str):
        return Crossover(point, measured=(lo, hi))
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(BOOTSTRAP):
        found = _crossing(refit(cpu, rng), refit(gpu, rng), lo, hi)
        boot.append(found if not isinstance(found, str) else (lo if found == "gpu-faster" else hi * EXTRAPOLATION_WARN))
    return Crossover("crosses", point, float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5)), (lo, hi),
                     not lo <= point <= hi)


def _crossing(cpu: Blend, gpu: Blend, lo: float, hi: float) -> float | str:
    grid = np.geomspace(lo, hi * EXTRAPOLATION_WARN, 400)
    gpu_wins = gpu(grid) < cpu(grid)
    measured = grid <= hi
    if gpu_wins[measured].all():
        return "gpu-faster"
    first_loss = int(np.argmin(gpu_wins))
    if not gpu_wins[first_loss:].any():
        return "cpu-faster"
    i = first_loss + int(np.argmax(gpu_wins[first_loss:]))  # where the GPU starts to win: bisect between i-1 and i
    a, b = math.log(grid[i - 1]), math.log(grid[i])
    for _ in range(50):
        mid = (a + b) / 2
        if gpu(math.exp(mid)) < cpu(math.exp(mid)):
            b = mid
        else:
            a = mid
    return math.exp(b)
