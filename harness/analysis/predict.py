"""One answer per question: the time and memory of a configuration at a data size on a number of vCPUs,
with a calibrated interval (harness.analysis.backtest), a confidence level and the caveats that set
it. `fit --target`, `recommend`, `report` and `run --data` all ask `estimate`, so one option never
gets two times.

Which fits it uses, in order:

- the size fit of the configuration measured at the thread count nearest the vCPUs asked (the same
  count where measured: no thread model is then involved);
- carried to the vCPUs asked by the size-and-threads fit where the configuration has one (it lets
  the serial fraction move with size), else by Amdahl's fit at the nearest measured size, else
  not at all (more vCPUs assumed no faster; fewer, slower in proportion: an upper bound).

Past the most threads measured, the thread model is extrapolated: the interval then reaches toward
both perfect scaling and none, by the square root of the distance, and the level drops (one level up
to 2x the threads measured, to "low" beyond). Without a thread fit it reaches from the time assumed
to perfect scaling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.analysis import backtest, scaling
from harness.analysis.compute import MachineFits
from harness.analysis.fits import SizeModel, clean_rows
from harness.analysis.significance import samples
from harness.records import Case
from harness.records.case import OWN_DATA
from harness.records.figures import seconds

# Caveat codes (harness.sizing.findings repeats them for rules and evidence).
TOO_WIDE = "interval-too-wide"
CONTENDED = "measured-under-contention"
CONTENDED_LEFT_OUT = "contended-sizes-left-out"
RUNS_APART = "runs-apart"
FIXED_COSTS_DOMINATE = "fixed-costs-dominate"
UNCALIBRATED = "uncalibrated"
BEYOND_BACKTESTS = "beyond-backtests"
THREAD_FIT = "thread-fit"
NO_THREAD_FIT = "no-thread-fit"
VCPUS_FAR = "vcpus-far"
MISSES_OWN = "fit-misses-own-sizes"
OWN_BACKTESTS = "own-backtests-held"
KIND_SHORT = "backtests-short"
LEVELS = backtest.LEVEL_NAMES
BELOW_MEASURED = "below-measured"
BELOW_REGIME = "below-regime-change"
FAR_THREADS = 2.0  # more vCPUs than this many times the most threads measured: "low"


@dataclass(frozen=True)
class Caveat:
    code: str
    message: str


@dataclass(frozen=True)
class Estimate:
    model: SizeModel  # the size fit it starts from
    size: float
    vcpus: int
    time: scaling.Prediction  # calibrated, carried to `vcpus`
    memory: scaling.Prediction | None  # bytes, calibrated
    level: str
    ratio: float  # time on `vcpus` / time on the threads measured
    caveats: tuple[Caveat, ...]


def lower(level: str, steps: int = 1) -> str:
    return LEVELS[min(LEVELS.index(level) + steps, len(LEVELS) - 1)]


def measured_threads(fitted: MachineFits, case: Case) -> list[SizeModel]:
    """The size fits of `case`'s configuration at every thread count measured."""
    key = case.key(size=False, threads=False)
    return [m for m in fitted.sizes if m.case.key(size=False, threads=False) == key]


def choose(fitted: MachineFits, case: Case, vcpus: int) -> SizeModel | None:
    """The size fit at the thread count nearest `vcpus` (in ratio; the more threads on a tie)."""
    if vcpus < 1:
        raise ValueError(f"a VM has at least one vCPU, not {vcpus}")
    found = measured_threads(fitted, case)
    return min(found, key=lambda m: (abs(math.log(m.case.threads / vcpus)), -m.case.threads)) if found else None


def has_thread_fit(fitted: MachineFits, case: Case) -> bool:
    """A size-and-threads or Amdahl fit carries `case`'s configuration to other thread counts."""
    key = case.key(size=False, threads=False)
    return fitted.grid(key) is not None or any(t.grid_key == key for t in fitted.threads)


def _thread_ratio(fitted: MachineFits, case: Case, size: float, vcpus: int) -> tuple[float, Caveat | None]:
    measured = case.threads
    if vcpus == measured:
        return 1.0, None
    key = case.key(size=False, threads=False)
    if (grid := fitted.grid(key)) is not None:
        ratio, source = grid.fit(size, vcpus) / grid.fit(size, measured), "the size-and-threads fit"
    elif same := [(abs(math.log(t.size / size)), t.fit) for t in fitted.threads if t.grid_key == key]:
        fit = min(same, key=lambda pair: pair[0])[1]
        ratio, source = fit(vcpus) / fit(measured), f"Amdahl (serial fraction {fit.serial:.2f}, the nearest size)"
    elif vcpus > measured:
        return 1.0, Caveat(NO_THREAD_FIT, f"no thread fit: {vcpus} vCPUs assumed no faster than the {measured} "
                                          "threads measured (the interval reaches down to perfect scaling)")
    else:
        return measured / vcpus, Caveat(NO_THREAD_FIT, f"no thread fit: {vcpus} vCPUs against {measured} threads "
                                                       f"measured: time x{measured / vcpus:.2f}, as if no parallel "
                                                       "loss (an upper bound)")
    return ratio, Caveat(THREAD_FIT, f"{vcpus} vCPUs against {measured} threads measured: time x{ratio:.2f} from "
                                     f"{source}")


def estimate(fitted: MachineFits, model: SizeModel, size: float, vcpus: int | None = None) -> Estimate:
    """`model`'s configuration at `size` on `vcpus` (default: the threads it was measured with). The caller
    names the configuration; `choose` says which of its thread counts answers for `vcpus`."""
    vcpus = model.case.threads if vcpus is None else vcpus
    if vcpus < 1:
        raise ValueError(f"a VM has at least one vCPU, not {vcpus}")
    key = ("size", model.config, size)
    if key not in fitted.memo:  # a recommendation asks once per VM: the fit's part is the same for all
        fitted.memo[key] = _at_size(fitted, model, size)
    own, time, calibrated, level, memory, reach, said = fitted.memo[key]
    caveats = list(said)
    if (allowed := backtest.own_error_allows(level, model.time.inner_loo)) != level:
        level = allowed
        caveats.append(Caveat(MISSES_OWN, f"the fit misses its own inner sizes by "
                                          f"{math.expm1(model.time.inner_loo):.0%} (each left out in turn): confidence "
                                          f"at most {level}"))
    if calibrated and reach is not None and own.beyond > max(reach, 1):
        level = "low"
        caveats.append(Caveat(BEYOND_BACKTESTS, f"{own.beyond:,.0f}x past the largest size measured, farther than any "
                                                f"backtest reached ({reach:,.0f}x): the interval widened with the log "
                                                "of the distance, low confidence"))
    if not calibrated:
        level = "low"
        caveats.append(Caveat(UNCALIBRATED, "too few backtests this far past the sizes measured to calibrate "
                                            "the interval: the fit's own interval, low confidence"))
    if size < min(model.time.sizes):
        level = "low"
        caveats.append(Caveat(BELOW_MEASURED, f"{size:,.0f} is below the smallest size measured "
                                              f"({min(model.time.sizes):,.0f}): no backtest covers it"))
    elif (step := model.time.regime_step()) is not None and size < step[1]:
        level = "low"
        below, first, grew = step
        caveats.append(Caveat(BELOW_REGIME, f"{size:,.0f} is below {first:,.0f}, where the fit starts: time grew as "
                                            f"size^{grew:.1f} from {below:,.0f}, faster than any model takes, so the "
                                            "sizes below run another way and the fit says nothing of them"))
    ratio, thread = _thread_ratio(fitted, model.case, size, vcpus)
    most = max(m.case.threads for m in measured_threads(fitted, model.case))
    lo, hi = ratio, ratio
    if thread is not None:
        caveats.append(thread)
        perfect = model.case.threads / vcpus  # the ratio no thread count beats
        if vcpus > most and thread.code == THREAD_FIT:
            far = vcpus / most
            lo, hi = max(perfect, ratio / math.sqrt(far)), max(ratio, min(1.0, ratio * math.sqrt(far)))
            level = "low" if far > FAR_THREADS else lower(level)
            caveats.append(Caveat(VCPUS_FAR, f"{vcpus} vCPUs from at most {most} threads measured: the thread fit "
                                             f"extrapolated {far:.1f}x"))
        elif vcpus > most:  # no thread fit: assumed no faster, but it may scale up to perfectly
            lo = perfect
            level = "low" if vcpus / most > FAR_THREADS else lower(level)
        elif thread.code == NO_THREAD_FIT:  # fewer vCPUs, no fit: from the time measured to x threads/vCPUs
            lo = 1.0
    time = scaling.Prediction(time.value * ratio, time.lo * lo, time.hi * hi, time.beyond)
    if own.beyond > 1 and not backtest.past_fixed_costs(model.time):
        level = "low"
        last = ", then ^".join(f"{e:.2f}" for e in model.time.step_exponents()[-2:])
        span = model.time.span_exponent(2)
        short = (f"^{span:.2f} over both together, under ^{backtest.SETTLED:g}" if span < backtest.SETTLED
                 else f"under ^{backtest.SETTLED / 2:g} on one of them")
        caveats.append(Caveat(FIXED_COSTS_DOMINATE, f"time grew as size^{last} over the last two steps measured "
                                                    f"(of 2x or more where the sizes span two): {short}: fixed costs "
                                                    "(or noise) may still dominate, growth past them unknown "
                                                    f"({_measure_further(model.case)})"))
    if model.contended:
        level = "low"
        caveats.append(Caveat(CONTENDED, f"size(s) {', '.join(f'{n:,}' for n in model.contended)} measured only "
                                         "while other processes used the CPU, and too few clean sizes to leave "
                                         "them out: run again on a quiet machine"))
    if model.left_out:
        caveats.append(Caveat(CONTENDED_LEFT_OUT, f"size(s) {', '.join(f'{n:,}' for n in model.left_out)} left "
                                                  "out of the fit: measured only while other processes used the CPU"))
    if model.apart:
        caveats.append(Caveat(RUNS_APART, "left out of the fit: " + "; ".join(
            f"run {run}, {ratio:.2g}x the newest run's time at the same sizes" for run, ratio in model.apart)
            + " (the machine ran at another speed then: the newest says how it runs now)"))
    if time.too_wide:
        level = "low"
        caveats.append(Caveat(TOO_WIDE, f"interval {seconds(time.lo)}-{seconds(time.hi)} s spans more than "
                                        f"{scaling.WIDEST_INTERVAL:g}x: no time worth acting on "
                                        f"({_measure_further(model.case)})"))
    return Estimate(model, size, vcpus, time, memory, level, ratio, tuple(caveats))


def _measure_further(case: Case) -> str:
    """What measures larger sizes: the sizing suite with a larger budget, or for your own data (run --data), a
    larger table of it."""
    return ("measure larger sizes: a larger table of your data" if OWN_DATA in case.params
            else "measure larger sizes: --suite sizing --budget S")


def _at_size(fitted: MachineFits, model: SizeModel, size: float) -> tuple[scaling.Prediction, scaling.Prediction,
                                                                         bool, str, scaling.Prediction | None,
                                                                         float | None, tuple[Caveat, ...]]:
    """The size fit's own prediction, calibrated (and whether it could be), its level, the calibrated memory, the
    farthest a backtest of its kind reached, and the caveats that say why the backtests set the level low or its own
    held it down."""
    cal = fitted.calibration
    settled = backtest.past_fixed_costs(model.time)
    own = model.time.predict(size)
    time, calibrated = cal.interval("time", own, settled)
    memory = _floored(cal.interval("memory", model.memory.predict(size), True)[0], model.memory, size) \
        if model.memory else None
    mine = [b for b in fitted.backtests if b.config == model.config and b.quantity == "time"]
    level, pooled = cal.level("time", own.beyond, settled, mine), cal.level("time", own.beyond, settled)
    said = []  # why the level is what it is, where the backtests set it below "medium" or held it down
    medium = backtest.promise("medium") or 0.0
    if pooled == "low" and (kind := cal.pool("time", own.beyond, settled, backtest.MIN_LEVEL)):
        kept = sum(abs(b.relative) <= medium for b in kind)
        past = ", past fixed costs" if settled else ""
        said.append(Caveat(KIND_SHORT, f"backtests of predictions of its kind (as far past their sizes{past}) came "
                                       f"within {medium:.0%} in {kept} of {len(kind)}, short of 9 in 10: low confidence"))
    elif level != pooled:  # its own backtests held it down: say how they did
        near, promised = backtest.own_near(own.beyond, settled, mine), backtest.promise(pooled) or 0.0
        kept = sum(abs(r) <= promised for r in near)
        said.append(Caveat(OWN_BACKTESTS, f"its own backtests this far past its sizes came within {promised:.0%} in "
                                          f"{kept} of {len(near)}, short of 9 in 10: confidence {level}, not {pooled}"))
    return own, time, calibrated, level, memory, cal.reach("time"), tuple(said)


def _floored(memory: scaling.Prediction, fit: scaling.MemoryFit, size: float) -> scaling.Prediction:
    """A peak no lower than the largest measured at a size up to `size` (MemoryFit.floor): an interval below what a
    smaller size measured would size a VM that the smaller size had outgrown."""
    floor = fit.floor(size)
    return scaling.Prediction(max(memory.value, floor), max(memory.lo, floor), max(memory.hi, floor), memory.beyond)


@dataclass(frozen=True)
class Check:
    config: str
    size: int
    beyond: float  # measured size / largest fitted size
    predicted: scaling.Prediction
    measured: float
    memory_predicted: float | None
    memory_measured: float | None
    level: str

    @property
    def error(self) -> float:
        return self.predicted.value / self.measured - 1

    @property
    def memory_error(self) -> float | None:
        if self.memory_predicted is None or not self.memory_measured:
            return None
        return self.memory_predicted / self.memory_measured - 1


def checks(fitted: MachineFits, later: pd.DataFrame, phase: str = "fit") -> list[Check]:
    """Each size fit's prediction (`estimate`, on the threads measured) at sizes measured elsewhere against the
    measurement."""
    out = []
    column = f"{phase}_s"
    for m in fitted.sizes:
        g = later[(later["config"] == m.config) & later[column].notna()]
        for size in sorted(set(g["size"]) - set(m.time.sizes)):
            at = clean_rows(g[g["size"] == size])
            peak = at["peak_memory_bytes"].max()
            e = estimate(fitted, m, size)
            out.append(Check(m.config, int(size), size / max(m.time.sizes), e.time, float(np.median(samples(at, column))),
                             e.memory.value if e.memory else None, None if pd.isna(peak) else float(peak), e.level))
    return out


@dataclass(frozen=True)
class AtTarget:
    """What `sizeup fit --target N --cores C` asks of one machine's fits."""

    target: float | None
    cores: int | None
    sizes: dict[str, Estimate]  # config -> at the target, on the threads it was measured with
    answers: list[Estimate]  # per configuration with its threads open: at the target on `cores`
    threads: dict[str, float]  # thread_key -> time at `cores` (the Amdahl fit alone)
    grids: dict[str, float]  # grid_key -> time at the target (else the largest size) and `cores` (else 1)
    spark: dict[str, float]  # grid_key -> time at the target (else the largest size) and `cores` (else 2)


def at_target(fitted: MachineFits, target: float | None, cores: int | None) -> AtTarget:
    sizes = {m.config: estimate(fitted, m, target) for m in fitted.sizes} if target else {}
    answers = []
    if target and cores:
        open_threads = {m.case.key(size=False, threads=False): m.case for m in fitted.sizes}
        answers = [estimate(fitted, chosen, target, cores) for _, case in sorted(open_threads.items())
                   if (chosen := choose(fitted, case, cores)) is not None]
    threads = {t.key: t.fit(cores) for t in fitted.threads} if cores else {}
    asked = bool(target or cores)
    grids = {g.key: g.fit(target or g.sizes[1], cores or 1) for g in fitted.grids} if asked else {}
    spark = {s.key: s.time(target or s.sizes[1], cores or 2) for s in fitted.spark} if asked else {}
    return AtTarget(target, cores, sizes, answers, threads, grids, spark)


