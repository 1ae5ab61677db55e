"""Each measured configuration priced on the catalog's VMs: its predicted time (carried to a VM's vCPUs
or GPU), the memory it needs, its cost per run, how confident the prediction is, and the evidence."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from harness.analysis import scaling
from harness.analysis.compute import MachineFits
from harness.analysis.fits import EXTERNAL, SizeModel
from harness.records import Case
from harness.sizing import catalog
from harness.sizing import findings as f
from harness.sizing.catalog import VM
from harness.sizing.findings import Finding

HEADROOM = 1.5
LOW_CPU = 0.5  # fit used under half its threads' CPU: not core-bound
LOW_GPU = 50.0  # fit GPU utilization % under which the input pipeline starves the GPU
FIXED_COSTS = 0.5  # a last local exponent under this: the measured sizes are still in the fixed-cost region
CONFIDENCE = ("high", "medium", "low")


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
    case: Case | None = None  # the configuration's fields (None: Spark not measured)
    on_gpu: bool = False
    machine: str = ""  # which machine measured it

    @property
    def external(self) -> bool:
        """Trained out of core."""
        return self.case is not None and self.case.model.endswith(EXTERNAL)

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("case", "on_gpu", "machine")}
        return d | {"evidence": [e.to_dict() for e in self.evidence]}


def quality(g: pd.DataFrame) -> tuple[str, float | None]:
    """A configuration's measured quality at its largest size, as text and as a score where higher is better:
    a score (accuracy, ROC AUC, R2) as it is, an error (WAPE) as -log(error). A tolerance on the score is
    then a share of a score, or a ratio of an error, whatever the error's scale: a forecast's WAPE of 0.003
    is not "within 0.01" of one of 0.007."""
    g = g[g["quality"].notna()]
    if g.empty:
        return "", None
    largest = g[g["size"] == g["size"].max()]
    value = float(largest["quality"].median())
    score = value if largest["higher_is_better"].iloc[0] else -math.log(max(value, 1e-12))
    return f"{largest['metric'].iloc[0]} {value:.3g} at {int(largest['size'].iloc[0]):,}", score


def utilization(g: pd.DataFrame) -> tuple[float | None, float | None]:
    cpu = g["fit_cpu_pct"].dropna()
    threads = g["threads"].iloc[0]
    gpu = g["fit_gpu_util_pct"].dropna()
    return (float(cpu.median()) / (100 * threads) if len(cpu) else None,
            float(gpu.median()) if len(gpu) else None)


def confidence(pred: scaling.Prediction, model: SizeModel) -> tuple[str, list[Finding]]:
    """How far a prediction can be trusted, and the caveats that lowered it."""
    fit = model.time
    level = 0 if pred.beyond <= 4 else 1 if pred.beyond <= scaling.EXTRAPOLATION_WARN else 2
    notes = []
    if pred.too_wide:
        level = 2
        notes.append(Finding(f.TOO_WIDE, f"interval {pred.lo:.3g}-{pred.hi:.3g} s spans more than "
                                         f"{scaling.WIDEST_INTERVAL:g}x: no time worth acting on (--suite sizing)"))
    if model.contended:
        level = 2
        notes.append(Finding(f.CONTENDED, f"size(s) {', '.join(f'{n:,}' for n in model.contended)} measured only "
                                          "while other processes used the CPU, and too few clean sizes to leave "
                                          "them out: run again on a quiet machine"))
    if model.left_out:
        notes.append(Finding(f.CONTENDED_LEFT_OUT, f"size(s) {', '.join(f'{n:,}' for n in model.left_out)} left out "
                                                   "of the fit: measured only while other processes used the CPU"))
    if fit.loo_error > 0.25:
        level += 1
    last = fit.local_exponents()[-1]
    if pred.beyond > 1 and last < FIXED_COSTS:
        level = 2
        notes.append(Finding(f.FIXED_COSTS_DOMINATE, f"time grew as size^{last:.2f} at the largest sizes measured: "
                                                     "fixed costs still dominate, growth past them unknown "
                                                     "(--suite sizing)"))
    return CONFIDENCE[min(level, 2)], notes


def lower(level: str) -> str:
    return CONFIDENCE[min(CONFIDENCE.index(level) + 1, 2)]


def core_ratio(case: Case, size: float, vcpus: int, fitted: MachineFits) -> tuple[float, str | None]:
    """Time with `vcpus` threads over time with the measured count, and the fit it comes from (None: no fit)."""
    measured = case.threads
    key = case.key(size=False, threads=False)
    if (grid := fitted.grid(key)) is not None:
        return grid.fit(size, vcpus) / grid.fit(size, measured), "the size-and-threads fit"
    same = [(abs(math.log(t.size / size)), t.fit) for t in fitted.threads if t.grid_key == key]
    if same:
        fit = min(same, key=lambda pair: pair[0])[1]
        return fit(vcpus) / fit(measured), f"Amdahl (serial fraction {fit.serial:.2f}, the nearest size)"
    return 1.0, None


def _time_evidence(model: SizeModel, pred: scaling.Prediction) -> Finding:
    t = model.time
    return Finding(f.TIME_FIT, f"time: {t.curve.kind} fit over {len(t.sizes)} sizes ({min(t.sizes):,.0f}-"
                               f"{max(t.sizes):,.0f}), exponent {t.curve.exponent:.2f}, LOO error "
                               f"{math.expm1(t.loo_error):.0%}, {pred.beyond:.1f}x past the largest measured size")


def cpu_options(model: SizeModel, g: pd.DataFrame, size: float, vms: Sequence[VM], fitted: MachineFits,
                rules: list[Finding]) -> list[Option]:
    case = model.case
    pred = model.time.predict(size)
    need = model.memory(size) * HEADROOM
    cpu_util, _ = utilization(g)
    external = case.model.endswith(EXTERNAL)
    if external:  # streamed from disk: only the fixed part must be held (an upper bound: the harness held the data)
        need = model.memory.fixed * HEADROOM
    measured = case.threads
    out = []
    for vm in vms:
        if vm.gpu_count or vm.memory_gib * 2**30 < need:
            continue
        ratio, source = core_ratio(case, size, vm.vcpus, fitted)
        level, caveats = confidence(pred, model)
        evidence = [_time_evidence(model, pred),
                    Finding(f.MEMORY_FIT, f"memory: {model.memory.fixed / 2**20:,.0f} MiB + "
                                          f"{model.memory.per_item:,.0f} B per item"
                            + (" (out of core: only the fixed part counted, a lower bound)" if external else "")),
                    *caveats]
        if vm.vcpus == measured:
            if not source:
                evidence.append(Finding(f.NO_THREAD_FIT, "no thread fit: more vCPUs not shown to pay (--threads 1,2)"))
        elif source:
            evidence.append(Finding(f.THREAD_FIT, f"{vm.vcpus} vCPUs against {measured} threads measured: time "
                                                  f"x{ratio:.2f} from {source}"))
            if vm.vcpus > measured:
                level = lower(level)
        elif vm.vcpus > measured:
            evidence.append(Finding(f.NO_THREAD_FIT, f"no thread fit: {vm.vcpus} vCPUs assumed no faster than the "
                                                     f"{measured} threads measured"))
            level = lower(level)
        else:
            ratio = measured / vm.vcpus
            evidence.append(Finding(f.NO_THREAD_FIT, f"no thread fit: {vm.vcpus} vCPUs against {measured} threads "
                                                     f"measured: time x{ratio:.2f}, as if no parallel loss (an upper "
                                                     "bound)"))
        if cpu_util is not None and cpu_util < LOW_CPU:
            evidence.append(Finding(f.NOT_CORE_BOUND, f"fit used {cpu_util:.0%} of its {measured} threads' CPU: not "
                                                      "core-bound, a smaller VM loses little"))
        if external:
            level = "low"
        seconds = pred.value * ratio
        out.append(Option(vm.name, 1, model.config, seconds, pred.lo * ratio, pred.hi * ratio,
                          seconds / 3600 * vm.price_per_hour, need / 2**30, need / (vm.memory_gib * 2**30), cpu_util,
                          None, level, True, evidence, case=case))
    if not out and not external:
        rules.append(Finding(f.OUTGROWS_CATALOG, f"{model.config}: needs {need / 2**30:,.1f} GiB, more than any CPU "
                                                 "VM in the catalog", model.config))
    return out


def gpu_options(model: SizeModel, g: pd.DataFrame, size: float, vms: Sequence[VM],
                rules: list[Finding]) -> list[Option]:
    config = model.config
    pred = model.time.predict(size)
    need = model.memory(size) * HEADROOM
    peaks = g.groupby("size")["gpu_memory_bytes"].max().dropna()
    device_need = scaling.fit_memory(list(peaks.index), list(peaks))(size) if len(peaks) >= 2 else None
    measured_gpu = str(next(iter(g["gpu"].dropna()), "an unnamed GPU"))  # the machine recorded no GPU name
    measured_spec = catalog.gpu_spec(measured_gpu)
    _, gpu_util = utilization(g)
    out, unknown = [], set()
    for vm in vms:
        if not vm.gpu_count or vm.memory_gib * 2**30 < need:
            continue
        if device_need is not None and device_need > vm.gpu_memory_gib * 2**30:
            continue
        level, caveats = confidence(pred, model)
        evidence = [Finding(f.TIME_FIT, f"time: {model.time.curve.kind} fit over {len(model.time.sizes)} sizes "
                                        f"measured on {measured_gpu}"),
                    Finding(f.ONE_GPU_USED, "one GPU used: the others of a multi-GPU VM are not counted"), *caveats]
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
                          gpu_util, level, True, evidence, case=model.case, on_gpu=True))
    if unknown:
        rules.append(Finding(f.GPU_NO_DATASHEET, f"{config}: measured on {measured_gpu}; no datasheet entry carries "
                                                 f"its time to {', '.join(sorted(unknown))} "
                                                 "(harness/sizing/data/gpu_specs.csv), so their VMs are not offered",
                             config))
    if not out:
        rules.append(Finding(f.GPU_OUTGROWS_CATALOG, f"{config}: no GPU VM in the catalog holds its data", config))
    return out


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
