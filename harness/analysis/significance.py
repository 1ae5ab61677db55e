"""Do two measurements differ? And is a GPU case faster than its CPU twin, by how much?

A verdict is given only when the difference is real: the 95% interval of the ratio of medians
excludes 1 *and* a Mann-Whitney rank test agrees at p < 0.002 (asv's threshold); "same" only when
the interval rules out a 10% difference either way (an interval that includes 1 and 0.65 shows
nothing). With few repeats the rank test cannot reach that (3 against 3 gives p >= 0.1), and the
verdict says so instead of guessing. Samples are warm repeats, or the medians of
each worker process where a case ran in several (`--processes`), since repeats inside one
process share caches and allocator and understate run-to-run noise.

The interval is a bootstrap of the medians from BOOTSTRAP_FROM samples a side. Below that, resampled medians take
too few values and the bootstrap's "95%" is too narrow: in 400 simulated pairs of equal timings (5% log-normal noise)
it held the true ratio in 90% at 3 against 3 and 92% at 4 (97% at 5). There, the interval is Welch's t on log times,
around the ratio of medians, each side's variance that of its median (`_MEDIAN_VARIANCE`): in 3,000 pairs, 97.8% at
3 against 3, 96.9% at 4, 94.6% at 3 against 20 (94-99% with outliers or skewed noise added).

Instability follows pyperf: a coefficient of variation >= 10%, a minimum or maximum >= 50%
from the mean, or a median under 1 ms.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pandas costs `sizeup run` a seventh of a second it does not need
    import pandas as pd

ALPHA = 0.002
SAME_WITHIN = 0.10  # "same": the interval excludes a difference this large either way, not merely includes 1
BOOTSTRAP = 2000
UNSTABLE_CV = 0.10
UNSTABLE_SPREAD = 0.50
SHORTEST_S = 1e-3
MIN_INTERVAL = 3  # samples a side needs for an interval: the bootstrap's "95%" held the true ratio (1) in 71% of 300
# simulated pairs of 2 against 2 (5% log-normal noise)
BOOTSTRAP_FROM = 5  # samples a side for a bootstrap interval; fewer: Welch's t on log times (the module's docstring)


@dataclass(frozen=True)
class Difference:
    ratio: float  # median(b) / median(a): above 1, b takes longer
    lo: float | None  # the 95% interval; None where a side has fewer than MIN_INTERVAL samples
    hi: float | None
    p: float | None  # two-sided Mann-Whitney; None where a side has too few samples to test
    verdict: str  # "slower", "faster", "same", "undecided"
    why: str

    def describe(self) -> str:
        if self.lo is None or self.hi is None:
            return f"{self.ratio:.3f}x [none]"
        return f"{self.ratio:.3f}x [{self.lo:.3f}-{self.hi:.3f}]"


def difference(a: Sequence[float], b: Sequence[float], alpha: float = ALPHA, seed: int = 0) -> Difference:
    """How `b` compares with `a` (times: lower is better)."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(x) == 0 or len(y) == 0:
        raise ValueError("both sides need at least one sample")
    ratio = float(np.median(y) / np.median(x))
    if len(x) < MIN_INTERVAL or len(y) < MIN_INTERVAL:  # one has no spread; two, too little (MIN_INTERVAL)
        return Difference(ratio, None, None, None, "undecided",
                          f"{len(x)} sample(s) against {len(y)}: too few for an interval (a side needs "
                          f"{MIN_INTERVAL}); measure again: {MIN_INTERVAL} repeats or more in one run, or "
                          f"{MIN_INTERVAL} result files or more pooled by a glob (each file is then one sample)")
    lo, hi = _interval(x, y, ratio, seed)
    from scipy.stats import mannwhitneyu

    p = float(mannwhitneyu(x, y, alternative="two-sided").pvalue)
    direction = "slower" if ratio > 1 else "faster"
    if lo <= 1.0 <= hi:
        if 1 / (1 + SAME_WITHIN) <= lo and hi <= 1 + SAME_WITHIN:
            return Difference(ratio, lo, hi, p, "same", f"the interval includes 1 and rules out {SAME_WITHIN:.0%} "
                                                        "either way")
        wide = max(1 / lo, hi) - 1
        return Difference(ratio, lo, hi, p, "undecided", f"the interval includes 1 but also a {wide:.0%} difference: "
                                                         "no change shown, none ruled out (more repeats)")
    if p < alpha:
        return Difference(ratio, lo, hi, p, direction, f"interval excludes 1 and p = {p:.2g} < {alpha:g}")
    smallest = 2.0 / math.comb(len(x) + len(y), len(x))  # the rank test's floor for these sample sizes
    why = (f"the interval excludes 1 but {len(x)} against {len(y)} samples cannot reach p < {alpha:g} "
           f"(p >= {smallest:.2g}): more repeats or --processes" if smallest >= alpha else
           f"the interval excludes 1 but the rank test does not agree (p = {p:.2g})")
    return Difference(ratio, lo, hi, p, "undecided", why)


# A sample median's variance over the mean's, for normal noise: 1.35 of 3, 1.19 of 4 (the middle two's mean), pi/2
# for many; 1 of 1 or 2 (the median is the mean). Welch's t, centred on the medians, needs it: without it, 3 samples
# against 20 held the true ratio in 92.4% of 3,000 simulated pairs; with it, 94.6%.
_MEDIAN_VARIANCE = {1: 1.0, 2: 1.0, 3: 1.35, 4: 1.19}


def _interval(x: np.ndarray, y: np.ndarray, ratio: float, seed: int) -> tuple[float, float]:
    """The 95% interval of median(y) / median(x) (the module's docstring)."""
    if min(len(x), len(y)) >= BOOTSTRAP_FROM:
        rng = np.random.default_rng(seed)
        boot = np.median(rng.choice(y, (BOOTSTRAP, len(y))), axis=1) / np.median(rng.choice(x, (BOOTSTRAP, len(x))),
                                                                                  axis=1)
        return float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))
    from scipy.stats import t

    vx, vy = (_MEDIAN_VARIANCE.get(len(v), math.pi / 2) * np.var(np.log(v), ddof=1) / len(v) for v in (x, y))
    if vx + vy == 0:  # no spread on either side: nothing to widen by
        return ratio, ratio
    df = (vx + vy) ** 2 / (vx**2 / (len(x) - 1) + vy**2 / (len(y) - 1))
    half = float(t.ppf(0.975, df)) * math.sqrt(vx + vy)
    return ratio * math.exp(-half), ratio * math.exp(half)


ADVICE = ("Unstable (pyperf's rules): for a high CV or a far min/max, add repeats, --processes or "
          "--rerun-disturbed on a quieter machine; for a phase under 1 ms, a bigger size.")


def instability(samples: Sequence[float]) -> list[str]:
    """pyperf's warnings for a set of timings, short; ADVICE says what to do about them."""
    x = np.asarray(samples, dtype=float)
    if len(x) == 0:
        return []
    said = []
    mean = float(x.mean())
    if float(np.median(x)) < SHORTEST_S:
        said.append(f"under 1 ms ({np.median(x) * 1e3:.2f} ms)")
    if len(x) > 1 and mean > 0:
        cv = float(x.std(ddof=1)) / mean
        if cv >= UNSTABLE_CV:
            said.append(f"CV {cv:.0%}")
        far = max(x.max() - mean, mean - x.min()) / mean
        if far >= UNSTABLE_SPREAD:
            said.append(f"min/max {far:.0%} from the mean")
    return said


def samples(rows: pd.DataFrame, column: str = "fit_s") -> list[float]:
    """One case's timings: its repeats, or the median of each worker process where it ran in several
    (several processes, or several result files pooled: each is its own sample of run-to-run noise)."""
    values = rows[["file", "process", column]].dropna()
    groups = values.groupby(["file", "process"])[column]
    if groups.ngroups > 1:
        return [float(v) for v in groups.median()]
    return [float(v) for v in values[column]]


def samples_by(rows: pd.DataFrame, by: str, column: str = "fit_s") -> dict[Any, list[float]]:
    """`samples` of every value of column `by` at once: a size sweep of thousands of sizes in linear time."""
    values = rows[[by, "file", "process", column]].dropna()
    medians = values.groupby([by, "file", "process"], sort=True)[column].median()
    processes = medians.groupby(level=0).size()
    raw = values.groupby(by, sort=True)[column].agg(list)
    return {key: [float(v) for v in (medians.loc[key] if processes[key] > 1 else raw[key])] for key in raw.index}


def parse_fail(text: str) -> tuple[str, float]:
    """'median:10%' -> ('median', 0.10): fail on a real slowdown of more than 10% in the median."""
    match = re.fullmatch(r"\s*(median)\s*:\s*([0-9]*\.?[0-9]+)\s*%\s*", text)
    if not match:
        raise ValueError(f"--fail takes a threshold like 'median:10%', got {text!r}")
    return match.group(1), float(match.group(2)) / 100
