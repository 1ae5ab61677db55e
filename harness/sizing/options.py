"""Each measured configuration priced on the catalog's VMs: its predicted time (carried to a VM's vCPUs
or GPU), the memory it needs, its cost per run, how confident the prediction is, and the evidence."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import pandas as pd

from harness.analysis import scaling
from harness.analysis.compute import MachineFits
from harness.analysis.fits import EXTERNAL, SizeModel, memory_fit
from harness.analysis.predict import NO_THREAD_FIT, THREAD_FIT, Caveat, Estimate, choose, estimate, has_thread_fit, lower
from harness.records import Case, quality_score
from harness.sizing import catalog
from harness.sizing import findings as f
from harness.sizing.catalog import VM
from harness.sizing.findings import Finding

HEADROOM = 1.5
LOW_CPU = 0.5  # fit used under half its threads' CPU: not core-bound
LOW_GPU = 50.0  # fit GPU utilization % under which the input pipeline starves the GPU


@dataclass(frozen=True)
class Option:
    vm: str
    nodes: int
    config: str  # the measured configuration (workload/model@backend/...), and the machine where several
    seconds: float | None
    lo: float | None
    hi: float | None
    cost: float | None  # dollars per training run
    memory_needed_gib: float | None
    memory_share: float | None  # of the VM's memory
    cpu_util: float | None  # measured fit CPU, share of the threads it had
    gpu_util: float | None
    confidence: str
    meets_budget: bool
    evidence: list[Finding] = field(default_factory=list)
    quality: str = ""  # the configuration's measured quality at its largest size
    quality_score: float | None = None  # that quality, higher is better: see quality()
    meets_quality_target: bool | None = None  # that quality reaches the workload's target (None: it has none)
    quality_by_size: tuple[tuple[float, float], ...] = ()  # (size, score) wherever measured: compared by `lead`
    case: Case | None = None  # the configuration's fields (None: Spark not measured)
    on_gpu: bool = False
    machine: str = ""  # which machine measured it
    memory_peak: tuple[float, float, float] | None = None  # predicted peak bytes and its 95% interval (in memory)

    @property
    def timed(self) -> bool:
        """A time worth acting on: predicted, and its interval not too wide (scaling.too_wide)."""
        return self.seconds is not None and not (self.lo is not None and scaling.too_wide(self.lo, self.hi))

    def within(self, budget_s: float) -> bool:
        """Its time is within the budget: its point, where the time is worth acting on, else the whole of its interval
        (ranked on its point alone, a time whose interval spanned more than 10x had put a 32-vCPU VM first)."""
        if self.seconds is None:
            return False
        return self.seconds <= budget_s if self.timed else (self.hi is not None and self.hi <= budget_s)

    @property
    def cost_interval(self) -> tuple[float, float] | None:
        """The cost per run at the ends of the time's interval: the price is known, so it is the time's uncertainty."""
        if self.cost is None or not self.seconds or self.lo is None or self.hi is None:
            return None
        return self.cost * self.lo / self.seconds, self.cost * self.hi / self.seconds

    @property
    def external(self) -> bool:
        """Trained out of core."""
        return self.case is not None and self.case.model.endswith(EXTERNAL)

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__
             if k not in ("case", "on_gpu", "machine", "quality_by_size")}
        lo, hi = self.cost_interval or (None, None)
        return d | {"cost_lo": lo, "cost_hi": hi, "evidence": [e.to_dict() for e in self.evidence]}


class Quality(NamedTuple):
    text: str  # "roc_auc 0.975 at 1,280,000", marked "✗ (target 0.8)" where it misses the workload's target
    score: float | None  # higher is better (harness.records.quality_score)
    met: bool | None  # the workload's target reached (None: it has none)
    by_size: tuple[tuple[float, float], ...] = ()  # (size, score) at every size measured, smallest first

    def fields(self) -> dict[str, object]:
        """As an Option's fields."""
        return {"quality": self.text, "quality_score": self.score, "meets_quality_target": self.met,
                "quality_by_size": self.by_size}


def quality(g: pd.DataFrame) -> Quality:
    """A configuration's measured quality at its largest size (and its score at every size: `lead`)."""
    g = g[g["quality"].notna()]
    if g.empty:
        return Quality("", None, None)
    higher = bool(g["higher_is_better"].iloc[0])
    by_size = tuple((float(n), quality_score(float(q), higher))
                    for n, q in g.groupby("size")["quality"].median().items())
    largest = g[g["size"] == g["size"].max()]
    value = float(largest["quality"].median())
    target = largest["quality_target"].iloc[0]
    met = None if target is None else target.met(value)
    missed = f" ✗ (target {target.bound})" if met is False else ""  # as show
    return Quality(f"{largest['metric'].iloc[0]} {value:.3g} at {int(largest['size'].iloc[0]):,}{missed}",
                   by_size[-1][1], met, by_size)


def lead(a: Sequence[tuple[float, float]], b: Sequence[tuple[float, float]]) -> float | None:
    """How much better a's quality score is than b's, compared at the largest size both measured (else each at its
    largest up to the smaller of their largest sizes): quality grows with the data, so a model measured to a larger
    size must not look better for it (None: either has none there)."""
    shared = {n for n, _ in a} & {n for n, _ in b}
    at = max(shared) if shared else min(a[-1][0], b[-1][0]) if a and b else None
    scores = [next((s for n, s in reversed(x) if n <= at), None) if at is not None else None for x in (a, b)]
    return None if None in scores else scores[0] - scores[1]


def utilization(g: pd.DataFrame) -> tuple[float | None, float | None]:
    cpu = g["fit_cpu_pct"].dropna()
    threads = g["threads"].iloc[0]
    gpu = g["fit_gpu_util_pct"].dropna()
    return (float(cpu.median()) / (100 * threads) if len(cpu) else None,
            float(gpu.median()) if len(gpu) else None)


def _finding(c: Caveat) -> Finding:
    return Finding(c.code, c.message)


def _peak(p: scaling.Prediction) -> tuple[float, float, float]:
    return float(p.value), float(p.lo), float(p.hi)


def memory_needed(peak: scaling.Prediction) -> float:
    """Bytes a VM must hold: the predicted peak x HEADROOM, or the top of its 95% interval where that is higher
    (far past the sizes measured, the interval outgrows the headroom: its top was 4.6x the peak over 10x past, from
    the shipped backtests)."""
    return max(peak.value * HEADROOM, peak.hi)


def _fits(e: Estimate, external: bool = False) -> list[Finding]:
    """The time and memory fits behind an estimate, said."""
    m, t = e.model, e.model.time
    blend = "" if t.curve.kind == scaling.BLEND else f" (blended with {scaling.BLEND})"
    below = f", the {t.start} below another regime" if t.start else ""
    said = [Finding(f.TIME_FIT, f"time: {t.curve.kind} fit{blend} over {len(t.fitted_sizes)} sizes "
                                f"({t.fitted_sizes[0]:,.0f}-{max(t.sizes):,.0f}{below}), "
                                f"exponent {t.curve.exponent:.2f}, "
                                f"LOO error {math.expm1(t.loo_error):.0%}, "
                                + (f"{e.time.beyond:,.{1 if e.time.beyond < 10 else 0}f}x past the largest measured "
                                   "size" if e.time.beyond > 1 else "below the sizes measured" if e.size < min(t.sizes)
                                   else "within the sizes measured"))]
    if m.memory is not None and e.memory is not None:
        peak = e.memory
        said.append(Finding(f.MEMORY_FIT, f"memory: {m.memory.fixed / 2**20:,.0f} MiB + {m.memory.per_item:,.0f} B "
                                          "per item"
                            + (" (out of core: only the fixed part counted, a lower bound)" if external else
                               f", peak {gib(peak.value)} GiB [{gib(peak.lo)}-{gib(peak.hi)}]")))
    return said


def cpu_options(model: SizeModel, g: pd.DataFrame, size: float, vms: Sequence[VM], fitted: MachineFits,
                rules: list[Finding], tag: str = "") -> list[Option]:
    """`model`'s configuration on each CPU VM that holds it and for whose vCPUs it is the measured thread count
    nearest (predict.choose): one option, one time, per VM and configuration."""
    case = model.case
    cpu_util, _ = utilization(g)
    external = case.model.endswith(EXTERNAL)
    at_own = estimate(fitted, model, size)
    # Streamed from disk: only the fixed part must be held (an upper bound: the harness held the data).
    need = model.memory.fixed * HEADROOM if external else memory_needed(at_own.memory)
    measured = case.threads
    out = []
    for vm in vms:
        if vm.gpu_count or vm.memory_gib * 2**30 < need or choose(fitted, case, vm.vcpus) is not model:
            continue
        e = estimate(fitted, model, size, vm.vcpus)
        evidence = [*_fits(e, external), *map(_finding, e.caveats)]
        if vm.vcpus == measured and not has_thread_fit(fitted, case):
            evidence.append(Finding(f.NO_THREAD_FIT, "no thread fit: more vCPUs not shown to pay (--threads 1,2)"))
        if cpu_util is not None and cpu_util < LOW_CPU:
            evidence.append(Finding(f.NOT_CORE_BOUND, f"fit used {cpu_util:.0%} of its {measured} threads' CPU: not "
                                                      "core-bound, a smaller VM loses little"))
        seconds = e.time.value
        out.append(Option(vm.name, 1, model.config, seconds, e.time.lo, e.time.hi,
                          seconds / 3600 * vm.price_per_hour, need / 2**30, need / (vm.memory_gib * 2**30), cpu_util,
                          None, "low" if external else e.level, True, evidence, case=case,
                          memory_peak=None if external else _peak(at_own.memory)))
    if not out and not external and not any(vm.memory_gib * 2**30 >= need for vm in vms if not vm.gpu_count):
        rules.append(Finding(f.OUTGROWS_CATALOG, f"{model.config}{tag}: needs {need / 2**30:,.1f} GiB, more than any "
                                                 "CPU VM in the catalog", model.config))
    return out


def gpu_options(model: SizeModel, g: pd.DataFrame, size: float, vms: Sequence[VM], fitted: MachineFits,
                rules: list[Finding], tag: str = "") -> list[Option]:
    config = model.config
    e = estimate(fitted, model, size)
    pred = e.time
    need = memory_needed(e.memory)
    # The data must fit the GPU at the top of the peak's interval (calibrated as host memory is); runs pooled as host
    # memory's are (a CUDA context's size differs between installs too).
    device = memory_fit(g, "gpu_memory_bytes")
    device_need = fitted.calibration.interval("memory", device.predict(size), True)[0].hi if device else None
    measured_gpu = str(next(iter(g["gpu"].dropna()), "an unnamed GPU"))  # the machine recorded no GPU name
    measured_spec = catalog.gpu_spec(measured_gpu)
    _, gpu_util = utilization(g)
    out, unknown = [], set()
    for vm in vms:
        if not vm.gpu_count or vm.memory_gib * 2**30 < need:
            continue
        if device_need is not None and device_need > vm.gpu_memory_gib * 2**30:
            continue
        level = e.level
        evidence = [Finding(f.TIME_FIT, f"time: {model.time.curve.kind} fit over {len(model.time.fitted_sizes)} sizes "
                                        f"measured on {measured_gpu}"),
                    Finding(f.ONE_GPU_USED, "one GPU used: the others of a multi-GPU VM are not counted"),
                    *(_finding(c) for c in e.caveats if c.code not in (THREAD_FIT, NO_THREAD_FIT))]
        target_spec = catalog.gpu_spec(vm.gpu_model)
        factor = 1.0
        if measured_spec is None or target_spec is None:
            if vm.gpu_model.lower() not in measured_gpu.lower():
                unknown.add(vm.gpu_model)
                continue
        elif target_spec != measured_spec:
            factor = gpu_factor(measured_spec, target_spec)
            level = "low"
            evidence.append(Finding(f.GPU_CARRIED, f"carried from {measured_spec.model} to {target_spec.model}: time "
                                                   f"x{factor:.2f}, the smaller of its memory-bandwidth and FP32 "
                                                   "advantages (or the larger of its deficits), from datasheets, "
                                                   "not measured"))
        if device_need is None:
            level = lower(level)
            evidence.append(Finding(f.GPU_MEMORY_UNFITTED, "GPU memory not fitted: whether the data fits the GPU was "
                                                           "not checked"))
        if gpu_util is not None and gpu_util < LOW_GPU:
            evidence.append(Finding(f.GPU_STARVED, f"fit GPU utilization {gpu_util:.0f}%: the input pipeline starves "
                                                   "the GPU"))
        seconds = pred.value * factor
        out.append(Option(vm.name, 1, config, seconds, pred.lo * factor, pred.hi * factor,
                          seconds / 3600 * vm.price_per_hour, need / 2**30, need / (vm.memory_gib * 2**30), None,
                          gpu_util, level, True, evidence, case=model.case, on_gpu=True,
                          memory_peak=_peak(e.memory)))
    if unknown:
        rules.append(Finding(f.GPU_NO_DATASHEET, f"{config}{tag}: measured on {measured_gpu}; no datasheet entry "
                                                 f"carries its time to {', '.join(sorted(unknown))} "
                                                 "(harness/sizing/data/gpu_specs.csv), so their VMs are not offered",
                             config))
    if not out:
        rules.append(Finding(f.GPU_OUTGROWS_CATALOG, f"{config}{tag}: no GPU VM in the catalog holds its data", config))
    return out


def gib(n: float) -> str:
    """Bytes in GiB: 0.60, 12.25, 350."""
    return f"{n / 2**30:,.0f}" if n >= 100 * 2**30 else f"{n / 2**30:.2f}"


def gpu_factor(measured: catalog.GPUSpec, target: catalog.GPUSpec) -> float:
    """Time on `target` / time on `measured`: training is bound by memory bandwidth or by arithmetic, and
    which one is not known here, so the target gets the less favourable of the two datasheet ratios."""
    return max(measured.memory_bandwidth_gbs / target.memory_bandwidth_gbs, measured.fp32_tflops / target.fp32_tflops)


def quality_gap(g: pd.DataFrame) -> str | None:
    """Why a GPU configuration's quality cannot stand in for its CPU twin's, if it cannot."""
    worse = g[g["twin_beyond"]]
    if len(worse):
        return (f"quality departs from its CPU twin by {float(worse['twin_difference'].iloc[0]):+.3g} at "
                f"{int(worse['size'].iloc[0]):,} (beyond the tolerance)")
    return None
