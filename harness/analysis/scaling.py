"""Fits that turn measurements into predictions: time and memory against data size (against threads and
cores: harness.analysis.cores).

Pure functions of numbers (no result files, no I/O), so they are tested on curves with
known parameters (where a GPU's curve crosses a CPU's: harness.analysis.crossover). Times are fitted in log space
(relative error), since a 10 ms miss matters at 50 ms and not at 50 s, on each size's fastest repeat, and predicted
at a median run's level (`levels`).

Why not a power law: at small sizes fixed per-iteration costs dominate and time grows
sublinearly, so a power law fitted there under-predicts larger sizes. Past its fixed costs,
training time grows at least in proportion to the data (a fixed number of trees, epochs or
iterations over it), so the candidates are a fixed cost plus linear ``a + b n`` and a fixed
cost plus a power law ``a + b n^c`` with c from 1 to 2; the one with the smaller leave-one-out
error wins (a model is a candidate only with more points than parameters, and the power law only where the sizes
span POWER_SPAN: an exponent is a slope over the span, and 10% of noise on each of three sizes two doublings apart
moves it by about 0.1, 15% of time 4x past them).

A choice made on three to six small sizes is often wrong, so predictions blend the chosen model with
fixed cost plus linear (geometric mean, weights 1 / (LOO error^2 + 0.2^2): about even where both fit
as well). Backtests of a sizing sweep on a quiet 2-core machine (14 configurations, 54 predictions
2.5-5x past the sizes fitted): median error 11%, against 18% when a plain power law and sublinear
exponents were candidates too.

Both curves weigh each size's log error by (size / largest)^TOP_WEIGHT (its square by twice that power): what a
prediction past the sizes needs is how time grows at the top of them, and a training's cost per item still falls at
the smallest (XGBoost's per 1,000 rows fell from 0.015 s to 0.0075 s between 5,000 and 80,000 rows, then rose to
0.009 s at 640,000): fitted evenly, a fit of the smallest sizes over-predicted 4x past them by 10-77% on a quiet
machine, and one of more sizes under-predicted.
Backtests 2.5-5x past the sizes, each sweep alone, median error: 12.7% on that quiet machine's sweep (2026-12-02, 49
predictions) and 12.8% on the references' (190) evenly weighted; 11.1% and 11.3% at 0.25; 10.1% and 11.8% at 0.5;
9.5% and 12.6% at 1. Fitted on one run, checked on another of other sizes (the references' four such checks, median
error), 0.25 gave 13.1%, 8.9%, 10.9% and 13.8% against 14.5%, 9.2%, 10.2% and 13.9% evenly, and 0.5 17.3%, 10.3%,
12.0% and 13.6%: a run's own speed that day weighs more there than the shape of its curve.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

Z95 = 1.959964
EXTRAPOLATION_WARN = 10.0  # predicting more than this many times past the largest measured size
WIDEST_INTERVAL = 10.0  # an interval whose ends are further apart than this ratio is no prediction
BOOTSTRAP = 200  # refits per interval
MIN_FIT_SIZES = 3  # the fewest sizes a time fit takes
HELD_OUT = 32  # a leave-one-out error holds out at most this many sizes, spread evenly: linear cost in sizes
MIN_EXPONENT, MAX_EXPONENT = 1.0, 2.0  # past fixed costs, at least linear (see above) and rarely worse than quadratic
# The sizes a power law is fitted over span at least this ratio: three doublings, as the four sizes of an x2 sweep that
# it takes at the fewest. Pooled runs on grids 1.25x apart gave five sizes over 2.5x, each run at its own speed: the
# exponent came out at 2, and one such fit predicted 2.8x the time measured 3.2x past it. Backtests of the
# references 2.5-5x past the sizes: median error 11.6% with this, 11.8% with 4, 12.6% without (single x2 sweeps:
# unchanged); never a power law, 11.5%, but 9.7% within the sizes against 8.9%.
POWER_SPAN = 8.0
TOP_WEIGHT = 0.25  # a time fit weighs each size's error by (size / largest)^this (see the module's docstring)
REGIME = 3.0  # a step on which time grew faster than size^REGIME, and more than doubled, starts another regime


@dataclass(frozen=True)
class Curve:
    """A fitted time(size) model; sizes are scaled by `ref` (the largest measured) for conditioning."""

    kind: str  # "fixed+linear" or "fixed+power"
    fixed: float  # a, seconds
    scale: float  # b, seconds at size `ref` (without the fixed cost)
    exponent: float  # c
    ref: float

    def __call__(self, n: float | np.ndarray) -> np.ndarray:
        return self.fixed + self.scale * (np.asarray(n, dtype=float) / self.ref) ** self.exponent


def relative_nnls(columns: Sequence[np.ndarray], t: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Coefficients c >= 0 minimizing the relative error of sum(c_i * columns_i) against t (each point's error
    times its weight, where `weights` are given)."""
    from scipy.optimize import nnls  # SciPy loads in a third of a second: only where a fit is made

    w = np.ones_like(t) if weights is None else weights
    return nnls(np.column_stack([column / t * w for column in columns]), w)[0]


def _weights(x: np.ndarray) -> np.ndarray:
    """Each size's weight in a time fit: (size / largest)^TOP_WEIGHT (see the module's docstring)."""
    return (x / x.max()) ** TOP_WEIGHT


def _power(n: np.ndarray, t: np.ndarray, ref: float) -> Curve:
    """A plain power law: only the start of the fixed-cost-plus-power fit."""
    c, log_b = np.polyfit(np.log(n / ref), np.log(t), 1)
    return Curve("power", 0.0, float(math.exp(log_b)), float(np.clip(c, MIN_EXPONENT, MAX_EXPONENT)), ref)


def _fixed_linear(n: np.ndarray, t: np.ndarray, ref: float) -> Curve:
    a, b = relative_nnls([np.ones_like(t), n / ref], t, _weights(n))
    return Curve("fixed+linear", float(a), float(b), 1.0, ref)


def _fixed_power(n: np.ndarray, t: np.ndarray, ref: float, near: Curve | None = None) -> Curve:
    """`near`: a fit of nearly the same data to start from (a bootstrap's refits converge in fewer steps)."""
    from scipy.optimize import least_squares

    start = _power(n, t, ref)
    x, w = n / ref, _weights(n)

    def residuals(p: np.ndarray) -> np.ndarray:
        return (np.log(p[0] + np.exp(p[1]) * x ** p[2]) - np.log(t)) * w

    def jacobian(p: np.ndarray) -> np.ndarray:  # analytic: a third of the time of finite differences
        power = np.exp(p[1]) * x ** p[2]
        return np.column_stack([np.ones_like(x), power, power * np.log(x)]) / (p[0] + power)[:, None] * w[:, None]

    guess = [0.1 * float(t.min()), math.log(max(start.scale, 1e-12)), start.exponent]
    if near is not None:
        guess = [near.fixed, math.log(max(near.scale, 1e-12)), near.exponent]
    fit = least_squares(residuals, guess, jac=jacobian,
                        bounds=([0.0, -np.inf, MIN_EXPONENT], [np.inf, np.inf, MAX_EXPONENT]))
    a, log_b, c = fit.x
    return Curve("fixed+power", float(a), float(math.exp(log_b)), float(c), ref)


MODELS: dict[str, tuple[int, Callable[[np.ndarray, np.ndarray, float], Curve]]] = {
    "fixed+linear": (2, _fixed_linear), "fixed+power": (3, _fixed_power)}
BLEND = "fixed+linear"  # every prediction is blended with this model (see the module's docstring)
BLEND_FLOOR = 0.2  # LOO errors (log) closer than this do not tell two models apart on a few sizes


@dataclass(frozen=True)
class Blend:
    """The weighted geometric mean of a chosen curve and the fixed-plus-linear curve, both fitted on each size's
    fastest repeat, times `level`: how much slower the median repeat ran than the fastest (`levels`)."""

    chosen: Curve
    linear: Curve
    weight: float  # the chosen curve's
    level: float = 1.0

    def __call__(self, n: float | np.ndarray) -> np.ndarray:
        return self.chosen(n) ** self.weight * self.linear(n) ** (1 - self.weight) * self.level


def _weight(scores: dict[str, float], kind: str) -> float:
    chosen, linear = (1 / (scores[k] ** 2 + BLEND_FLOOR**2) for k in (kind, BLEND))
    return chosen / (chosen + linear)


def _blended(kind: str, weight: float, n: np.ndarray, t: np.ndarray, ref: float, near: Curve | None = None,
             level: float = 1.0) -> Blend:
    chosen = _fixed_power(n, t, ref, near) if kind == "fixed+power" else MODELS[kind][1](n, t, ref)
    return Blend(chosen, chosen if kind == BLEND else MODELS[BLEND][1](n, t, ref), weight, level)


def levels(samples: Sequence[np.ndarray]) -> tuple[np.ndarray, float]:
    """What the curves are fitted on: each size's fastest repeat, and the median over sizes of how much slower
    its median repeat ran. Other processes only ever add time, so the fastest repeat is the least disturbed and
    the least noisy point; the level brings the prediction back to a median run. Backtests over the references
    (2.5-5x past the sizes fitted, 290 predictions): median error 12.7% fitted on medians, 11.3% so (better on
    the quiet machine's, 11.0% to 9.7%; worse on the older, noisier one's, 18.1% to 19.1%). A size of one repeat
    says 1: where most sizes have one, the level is 1."""
    fastest = np.array([s.min() for s in samples])
    return fastest, float(np.median([np.median(s) / s.min() for s in samples]))


@dataclass(frozen=True)
class SizeFit:
    curve: Curve  # the chosen model
    loo_error: float  # the chosen model's RMS leave-one-out error, in log space (0.1 is about 10%)
    candidates: dict[str, float]  # every candidate's LOO error (inf where it had too few points, or too short a span)
    sizes: tuple[float, ...]
    medians: tuple[float, ...]
    samples: tuple[tuple[float, ...], ...]  # per size, the repeats fitted
    linear: Curve | None = None  # fixed cost plus linear, blended into every prediction
    weight: float = 1.0  # the chosen curve's weight in the blend
    level: float = 1.0  # the median repeat's time over the fastest's, the curves being fitted on the fastest
    inner_loo: float = 0.0  # the chosen model's leave-one-out error over the inner sizes alone (interpolation)
    start: int = 0  # the curves are fitted on sizes[start:]; those below are another regime (regime_start)
    memo: dict = field(default_factory=dict, init=False, compare=False, repr=False)  # predict's, by its arguments

    @property
    def fitted_sizes(self) -> tuple[float, ...]:
        return self.sizes[self.start:]

    def regime_step(self) -> tuple[float, float, float] | None:
        """Where the fit starts past another regime: the size below, the first fitted, and the growth between them
        (size^x); None where it fits every size."""
        if not self.start:
            return None
        return self.sizes[self.start - 1], self.sizes[self.start], self.local_exponents()[self.start - 1]

    @property
    def blend(self) -> Blend:
        return Blend(self.curve, self.linear or self.curve, self.weight, self.level)

    def __call__(self, n: float | np.ndarray) -> np.ndarray:
        """The predicted time: the chosen curve blended with fixed cost plus linear."""
        return self.blend(n)

    def local_exponents(self) -> list[float]:
        """Between consecutive measured sizes: how fast time grew there."""
        return [math.log(t2 / t1) / math.log(n2 / n1) for (n1, t1), (n2, t2)
                in zip(zip(self.sizes, self.medians), zip(self.sizes[1:], self.medians[1:]))]

    def step_exponents(self, step: float = 2.0) -> list[float]:
        """How fast time grew over steps of at least `step` x in size, walking down from the largest size (smallest
        first, as local_exponents), where the fitted sizes span two such steps; else between consecutive ones. On one
        sweep's x2 grid they are its local exponents; where runs of other grids are pooled (sizes 1.5x or 1.33x
        apart, each run at its own speed), a short step between two runs measures their difference more than
        growth: 3.84 to 5.12 million rows went as ^2.5, 5.12 to 7.68 million as ^0.09."""
        ends = self._step_ends(step)
        return [self._growth(i, j) for i, j in zip(ends, ends[1:])]

    def span_exponent(self, steps: int = 2) -> float:
        """How fast time grew over the last `steps` steps of step_exponents together."""
        ends = self._step_ends()
        return self._growth(ends[max(len(ends) - 1 - steps, 0)], ends[-1])

    def _step_ends(self, step: float = 2.0) -> list[int]:
        """The indices of the sizes that step_exponents' steps run between, smallest first: the fitted sizes' alone
        (a step across a change of regime, regime_start, is no growth of the curve fitted)."""
        ends, i = [len(self.sizes) - 1], len(self.sizes) - 1
        while (j := next((k for k in range(i - 1, self.start - 1, -1)
                          if self.sizes[k] * step <= self.sizes[i] * (1 + 1e-9)), None)) is not None:
            ends.append(j)
            i = j
        return ends[::-1] if len(ends) >= 3 else list(range(self.start, len(self.sizes)))

    def _growth(self, i: int, j: int) -> float:
        return math.log(self.medians[j] / self.medians[i]) / math.log(self.sizes[j] / self.sizes[i])

    def predict(self, size: float, level_z: float = Z95, seed: int = 0) -> Prediction:
        """Time at `size`, with an interval from refits on resampled repeats, the model's LOO error and how far
        the blended curves part (before calibration: harness.analysis.backtest)."""
        key = (float(size), level_z, seed)
        if key not in self.memo:
            self.memo[key] = self._predict(size, level_z, seed)
        return self.memo[key]

    def _predict(self, size: float, level_z: float, seed: int) -> Prediction:
        point = float(self(size))
        rng = np.random.default_rng(seed)
        boot = [float(refit(self, rng)(size)) for _ in range(BOOTSTRAP if any(len(s) > 1 for s in self.samples) else 0)]
        spread = (np.log(np.percentile(boot, 97.5)) - np.log(np.percentile(boot, 2.5))) / 2 if boot else 0.0
        # The two blended curves' disagreement is model uncertainty: the interval reaches both.
        disagree = abs(math.log(float(self.curve(size)) / float(self.blend.linear(size))))
        half = math.hypot(spread, level_z * self.loo_error, disagree)
        return Prediction(point, point * math.exp(-half), point * math.exp(half), size / max(self.sizes))


@dataclass(frozen=True)
class Prediction:
    value: float
    lo: float
    hi: float
    beyond: float  # target size / largest measured size

    @property
    def extrapolated_far(self) -> bool:
        return self.beyond > EXTRAPOLATION_WARN

    @property
    def too_wide(self) -> bool:
        return too_wide(self.lo, self.hi)


def too_wide(lo: float, hi: float) -> bool:
    """An interval that spans more than WIDEST_INTERVAL: no time worth acting on."""
    return hi > WIDEST_INTERVAL * lo


def clean_samples(sizes: Sequence[float], samples: Sequence[Sequence[float]]) -> tuple[np.ndarray, list[np.ndarray]]:
    pairs = sorted((float(n), np.asarray([x for x in s if x is not None and x > 0], dtype=float))
                   for n, s in zip(sizes, samples))
    pairs = [(n, s) for n, s in pairs if len(s) and n > 0]
    return np.array([n for n, _ in pairs]), [s for _, s in pairs]


def fit_time(sizes: Sequence[float], samples: Sequence[Sequence[float]]) -> SizeFit:
    """Fit time(size) from per-size repeat samples (at least three distinct sizes)."""
    n, reps = clean_samples(sizes, samples)
    if len(set(n)) != len(n) or len(n) < MIN_FIT_SIZES:
        raise ValueError(f"a size fit needs three or more distinct sizes with positive times, got {len(n)}")
    return _fit_time(tuple(n), tuple(tuple(s) for s in reps))


@functools.lru_cache(maxsize=4096)  # the same results are often fitted again (report then recommend; backtests)
def _fit_time(sizes: tuple[float, ...], samples: tuple[tuple[float, ...], ...]) -> SizeFit:
    """fit_time of clean samples; the fit returned is shared, and its predictions with it (SizeFit.memo)."""
    n, reps = np.array(sizes), [np.array(s) for s in samples]
    t = np.array([np.median(s) for s in reps])
    start = regime_start(n, t)
    m, (u, level) = n[start:], levels(reps[start:])
    ref = float(n.max())
    both = {kind: _loo(fitter, m, u, ref) if len(m) > k and (kind != "fixed+power" or m[-1] >= POWER_SPAN * m[0])
            else (math.inf, math.inf) for kind, (k, fitter) in MODELS.items()}
    scores = {kind: loo for kind, (loo, _) in both.items()}
    kind = min(scores, key=lambda k: scores[k])
    blend = _blended(kind, _weight(scores, kind), m, u, ref, level=level)
    return SizeFit(blend.chosen, scores[kind], scores, tuple(n), tuple(t), tuple(tuple(s) for s in reps),
                   blend.linear, blend.weight, level, both[kind][1], start)


def regime_start(sizes: Sequence[float], medians: Sequence[float]) -> int:
    """Where a fit starts: past the last step on which time grew faster than size^REGIME and more than doubled,
    with MIN_FIT_SIZES sizes above it; else 0. No model here grows so fast: the workload changed how it runs, and
    the sizes below say nothing of those above. Measured here, a scikit-learn logistic regression took 0.016 s at
    10,000 rows and 0.15 s at 20,000, with the same 11 iterations (at 16,000 training rows, two threads took 3.7x
    the time of one; at 8,000, 1.2x); fitted across that step, it was predicted up to 4.6x the time measured 4x
    past its sizes."""
    jumps = [k for k in range(1, len(sizes) - MIN_FIT_SIZES + 1)
             if medians[k] > 2 * medians[k - 1] and medians[k] > medians[k - 1] * (sizes[k] / sizes[k - 1]) ** REGIME]
    return jumps[-1] if jumps else 0


def _loo(fitter: Callable[[np.ndarray, np.ndarray, float], Curve], n: np.ndarray, t: np.ndarray,
         ref: float) -> tuple[float, float]:
    """The RMS leave-one-out error (log) over the sizes held out, and over the inner ones alone (each between
    two others: interpolation, where holding out the smallest or the largest extrapolates)."""
    errors = {}
    for i in evenly(len(n), HELD_OUT):
        keep = np.arange(len(n)) != i
        errors[i] = math.log(float(fitter(n[keep], t[keep], ref)(n[i]))) - math.log(t[i])
    inner = [e for i, e in errors.items() if 0 < i < len(n) - 1] or list(errors.values())
    return float(np.sqrt(np.mean(np.square(list(errors.values()))))), float(np.sqrt(np.mean(np.square(inner))))


def evenly(count: int, most: int) -> list[int]:
    """All of range(count), or `most` of them spread evenly, the first and the last included."""
    if count <= most:
        return list(range(count))
    return sorted({round(k * (count - 1) / (most - 1)) for k in range(most)})


@dataclass(frozen=True)
class MemoryFit:
    """Peak memory = fixed + per_item * size (bytes)."""

    fixed: float
    per_item: float
    loo_error: float  # RMS leave-one-out relative error
    sizes: tuple[float, ...]
    peaks: tuple[float, ...] = ()  # measured, per size

    def __call__(self, n: float) -> float:
        return self.fixed + self.per_item * n

    def floor(self, size: float) -> float:
        """The largest peak measured at a size up to `size` (0 below them all): more data never needs less memory,
        so no prediction at `size` is lower (harness.analysis.predict, and its backtests)."""
        return max((peak for n, peak in zip(self.sizes, self.peaks) if n <= size), default=0.0)

    def predict(self, size: float) -> Prediction:
        point = self(size)
        half = Z95 * self.loo_error
        return Prediction(point, point * math.exp(-half), point * math.exp(half), size / max(self.sizes))


def fit_memory(sizes: Sequence[float], peaks: Sequence[float]) -> MemoryFit:
    """Least squares in relative terms, both coefficients >= 0 (two or more sizes)."""
    n, m = np.asarray(sizes, dtype=float), np.asarray(peaks, dtype=float)
    ok = (n > 0) & (m > 0)
    n, m = n[ok], m[ok]
    if len(set(n)) < 2:
        raise ValueError("a memory fit needs two or more distinct sizes")

    def solve(n: np.ndarray, m: np.ndarray) -> tuple[float, float]:
        a, b = relative_nnls([np.ones_like(m), n], m)
        return float(a), float(b)

    a, b = solve(n, m)
    errors = []
    if len(n) > 2:
        for i in evenly(len(n), HELD_OUT):
            keep = np.arange(len(n)) != i
            a_i, b_i = solve(n[keep], m[keep])
            errors.append(math.log(max(a_i + b_i * n[i], 1.0) / m[i]))
    return MemoryFit(a, b, float(np.sqrt(np.mean(np.square(errors)))) if errors else 0.0, tuple(n), tuple(m))


def refit(fit: SizeFit, rng: np.random.Generator) -> Blend:
    """The blend refitted on repeats resampled at every size."""
    t, level = levels([rng.choice(s, size=len(s)) for s in fit.samples[fit.start:]])
    return _blended(fit.curve.kind, fit.weight, np.asarray(fit.fitted_sizes), t, fit.curve.ref, fit.curve, level)
