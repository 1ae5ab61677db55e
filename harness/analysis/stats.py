"""Statistics of repeated timings: a pure value computed from raw samples."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from harness.records import CaseRecord

NOISY_IQR_RATIO = 0.10  # IQR / median above this flags a noisy measurement


@dataclass(frozen=True)
class Stats:
    n: int
    median: float
    q1: float
    q3: float
    lo: float  # distribution-free interval for the median ...
    hi: float
    coverage: float  # ... and its actual confidence level (small n cannot reach 95%)
    min: float
    max: float
    mean: float
    stddev: float

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    @property
    def noisy(self) -> bool:
        return self.n >= 3 and self.median > 0 and self.iqr / self.median > NOISY_IQR_RATIO


def stats(samples: Sequence[float], level: float = 0.95) -> Stats | None:
    x = np.sort(np.asarray([s for s in samples if s is not None and math.isfinite(s)], dtype=float))
    if len(x) == 0:
        return None
    lo, hi, coverage = median_interval(len(x), level)
    return Stats(
        n=len(x), median=float(np.median(x)), q1=float(np.percentile(x, 25)), q3=float(np.percentile(x, 75)),
        lo=float(x[lo]), hi=float(x[hi]), coverage=coverage, min=float(x[0]), max=float(x[-1]),
        mean=float(x.mean()), stddev=float(x.std(ddof=1)) if len(x) > 1 else 0.0,
    )


def median_interval(n: int, level: float) -> tuple[int, int, float]:
    """Order-statistic indices (i, n-1-i) whose interval covers the median with >= level, if n allows.

    The coverage of [x_(i), x_(n-1-i)] is 1 - 2 * P(Binomial(n, 1/2) <= i). With n = 3
    the widest interval, [min, max], covers 75%: we report that honestly rather than
    pretend to 95%.
    """
    if n == 1:
        return 0, 0, 0.0
    best = (0, n - 1, _coverage(n, 0))
    for i in range(1, n // 2):
        cov = _coverage(n, i)
        if cov < level:
            break
        best = (i, n - 1 - i, cov)
    return best


def _coverage(n: int, i: int) -> float:
    tail = sum(math.comb(n, k) for k in range(i + 1)) / 2**n
    return 1.0 - 2.0 * tail


def quality_stats(record: CaseRecord, metric: str) -> Stats | None:
    """Statistics of `metric` over a case's warm repeats; None where no repeat has a finite value."""
    return stats([r.metric(metric) for r in record.warm_runs()])
