"""Fits of time against threads and cores: Amdahl's law at one size, size and threads together, and Ernest's
model of a distributed engine. Pure functions of numbers, as harness.analysis.scaling's fits of time against size."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from harness.analysis.scaling import BOOTSTRAP, clean_samples, relative_nnls


@dataclass(frozen=True)
class ThreadFit:
    """Amdahl's law, T(p) = T1 * (s + (1 - s) / p), fitted as a + b / p."""

    serial: float  # s
    serial_lo: float
    serial_hi: float
    t1: float  # the fitted one-thread time
    threads: tuple[int, ...]
    medians: tuple[float, ...]

    def __call__(self, p: float) -> float:
        return self.t1 * (self.serial + (1.0 - self.serial) / p)

    def efficiency(self) -> list[float]:
        """Measured parallel efficiency at each thread count, relative to the fewest threads measured."""
        p0, t0 = self.threads[0], self.medians[0]
        return [t0 * p0 / (t * p) for p, t in zip(self.threads, self.medians)]


def _amdahl(p: np.ndarray, t: np.ndarray) -> tuple[float, float]:
    a, b = relative_nnls([np.ones_like(t), 1.0 / p], t)
    total = a + b
    return (a / total if total > 0 else 1.0), total


def fit_threads(threads: Sequence[int], samples: Sequence[Sequence[float]], seed: int = 0) -> ThreadFit:
    """Serial fraction from two or more thread counts, with a bootstrap interval over repeats."""
    p, reps = clean_samples(threads, samples)
    if len(p) < 2:
        raise ValueError("a thread fit needs two or more distinct thread counts")
    t = np.array([np.median(s) for s in reps])
    serial, t1 = _amdahl(p, t)
    rng = np.random.default_rng(seed)
    boot = [_amdahl(p, np.array([np.median(rng.choice(s, size=len(s))) for s in reps]))[0] for _ in range(BOOTSTRAP)]
    return ThreadFit(serial, float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5)), t1,
                     tuple(int(x) for x in p), tuple(float(x) for x in t))


@dataclass(frozen=True)
class GridFit:
    """Time over size and threads, T(n, p) = a + b n + c n / p: a fixed cost, serial work and parallel
    work that both grow with the data (the Ernest model without its communication terms).

    Amdahl's serial fraction at one size does not carry to another: measured here, XGBoost's was
    0.05 at 20,000 rows and 0.38 at 80,000. Fitting size and threads together lets it move.
    """

    fixed: float  # a, seconds
    serial: float  # b, seconds per item
    parallel: float  # c, seconds per item on one thread
    points: int

    def __call__(self, n: float, p: float) -> float:
        return self.fixed + self.serial * n + self.parallel * n / p

    def serial_fraction(self, n: float) -> float:
        one = self(n, 1)
        return (self.fixed + self.serial * n) / one if one > 0 else 1.0


def fit_grid(sizes: Sequence[float], threads: Sequence[float], times: Sequence[float]) -> GridFit:
    """Non-negative relative least squares over (size, threads, median time) points: at least three,
    over two or more sizes and two or more thread counts."""
    n, p, t = (np.asarray(v, dtype=float) for v in (sizes, threads, times))
    if len(t) < 3 or len(set(n)) < 2 or len(set(p)) < 2:
        raise ValueError("a size-and-threads fit needs three or more points over two sizes and two thread counts")
    a, b, c = relative_nnls([np.ones_like(t), n, n / p], t)
    return GridFit(float(a), float(b), float(c), len(t))


@dataclass(frozen=True)
class ErnestFit:
    """Time of a distributed engine over data size and cores, T(n, p) = a + b n / p + c log p + d p
    (Venkataraman et al., Ernest, NSDI 2016): a fixed cost (job scheduling, the JVM), parallel work,
    and the cost of coordinating p cores as a tree (log p) and all to all (p)."""

    fixed: float  # a, seconds
    parallel: float  # b, seconds per item on one core
    tree: float  # c, seconds per log(core)
    all_to_all: float  # d, seconds per core
    points: int
    cores: tuple[float, float]  # the range of cores measured: past it the coordination terms are a guess

    def __call__(self, n: float, p: float) -> float:
        return self.fixed + self.parallel * n / p + self.tree * math.log(p) + self.all_to_all * p

    def efficiency(self, n: float, p: float) -> float:
        """Speed-up on p cores over one, divided by p."""
        return self(n, 1) / (p * self(n, p))


def fit_ernest(sizes: Sequence[float], cores: Sequence[float], times: Sequence[float]) -> ErnestFit:
    """Non-negative relative least squares over (size, cores, median time) points: at least four, over two
    or more sizes and two or more core counts. With two core counts the two coordination terms cannot be
    told apart; non-negativity keeps the fit from inventing a speed-up either way."""
    n, p, t = (np.asarray(v, dtype=float) for v in (sizes, cores, times))
    if len(t) < 4 or len(set(n)) < 2 or len(set(p)) < 2:
        raise ValueError("an Ernest fit needs four or more points over two sizes and two core counts")
    a, b, c, d = relative_nnls([np.ones_like(t), n / p, np.log(p), p], t)
    return ErnestFit(float(a), float(b), float(c), float(d), len(t), (float(p.min()), float(p.max())))
