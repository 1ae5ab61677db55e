from __future__ import annotations

import math

import pytest

from harness.analysis.stats import median_interval, stats


def test_stats_of_known_samples() -> None:
    s = stats([3.0, 1.0, 2.0, 4.0, 100.0])
    assert s.n == 5 and s.median == 3.0 and s.min == 1.0 and s.max == 100.0
    assert s.q1 == 2.0 and s.q3 == 4.0 and s.iqr == 2.0
    assert s.noisy  # IQR/median = 0.67


def test_quiet_samples_are_not_noisy() -> None:
    assert not stats([1.00, 1.01, 0.99, 1.02, 1.0]).noisy


def test_three_samples_give_min_max_at_75_percent() -> None:
    assert median_interval(3, 0.95) == (0, 2, 0.75)
    s = stats([2.0, 1.0, 3.0])
    assert (s.lo, s.hi, s.coverage) == (1.0, 3.0, 0.75)


@pytest.mark.parametrize("n", [6, 10, 20, 50])
def test_interval_reaches_the_asked_level_when_n_allows(n: int) -> None:
    lo, hi, coverage = median_interval(n, 0.95)
    assert coverage >= 0.95 and lo + hi == n - 1
    # and it is the narrowest such interval: one step in drops below 95%
    tail = sum(math.comb(n, k) for k in range(lo + 2)) / 2**n
    assert 1 - 2 * tail < 0.95


def test_empty_and_nonfinite_samples() -> None:
    assert stats([]) is None
    assert stats([float("nan"), 1.0]).n == 1
