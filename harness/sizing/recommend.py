"""`sizeup recommend`: from fitted measurements to ranked VM choices for one training run.

Every figure comes from a fit of measured results (harness.predictions) and a rule stated in
the output; nothing is assumed where a measurement is missing, it is said instead. Rules:

- memory needed = predicted peak memory at the target size x 1.5 (headroom for data held in
  memory, Azure ML's guidance); a VM qualifies only if it has that much;
- a VM's vCPUs count as the measured machine's threads, one each (both are a cloud VM's
  vCPUs, hyperthreads of the host); time with another count comes from the thread fit
  (size-and-threads where measured, else Amdahl). Without one, more vCPUs are assumed no
  faster and fewer slower in proportion (no parallel loss: an upper bound). Per-thread speed
  is taken as the measured machine's;
- a GPU configuration's time is carried to a VM with another GPU model only by the ratio of
  their datasheet memory bandwidth or FP32 throughput, whichever favours the target less
  (harness/data/gpu_specs.csv), at low confidence; it is offered only where its predicted data
  fits that GPU's memory, never where it is slower than the fastest CPU option, dearer without
  being needed for a time budget, or of worse quality than its CPU twin;
- out-of-core training (`*_external` models) where no VM holds the data in memory, or where it
  is cheaper per run than the same model in memory (its memory is the fit's fixed part: a lower
  bound, as the harness held the generated data while it trained);
- a Spark cluster only where no single node can hold the data or meet the time budget, never
  for data that fits one machine: sized from the measured Spark cases' Ernest fit (time over
  size and cores) and memory fit, or named without a time or cost where Spark was not measured;
- ranking: options that meet the time budget first, then by cost per run, then by time.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

import pandas as pd
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from harness.analysis import predictions, scaling
from harness.sizing import catalog
from harness.sizing.catalog import VM

HEADROOM = 1.5
LOW_CPU = 0.5  # fit used under half its threads' CPU: not core-bound
LOW_GPU = 50.0  # fit GPU utilization % under which the input pipeline starves the GPU
SCALE = 4  # the summary sizes for 4x the largest measured size: as far as predictions were checked
FIXED_COSTS = 0.5  # a last local exponent under this: the measured sizes are still in the fixed-cost region
QUALITY_TOLERANCE = 0.01  # the summary's pick: quality within this of the best measured, then the cheapest
CONFIDENCE = ("high", "medium", "low")
PLATFORMS = {
    "classification": "Azure Machine Learning (Python-first training, automated ML over configurations); "
                      "Azure Databricks where the data is engineered in Spark",
    "regression": "Azure Machine Learning (Python-first training, automated ML over configurations); "
                  "Azure Databricks where the data is engineered in Spark",
    "forecasting": "Azure Machine Learning (automated ML has forecasting); Azure Databricks or Synapse Spark "
                   "pools where the series already live there",
    "vision": "Azure AI Services (prebuilt vision) for a standard task; Azure Machine Learning GPU compute for "
              "a custom model",
    "nlp": "Azure AI Services (prebuilt language) for a standard task; Azure Machine Learning for a custom model",
}


@dataclass(frozen=True)
class Option:
    vm: str
    nodes: int
    config: str  # the measured configuration (workload/model@backend/...)
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
    evidence: list[str] = field(default_factory=list)
    quality: str = ""  # the configuration's measured quality at its largest size
    quality_score: float | None = None  # that quality, higher is better: see _quality

    def time_text(self) -> str:
        if self.seconds is None:
            return "not measured"
        return f"{self.seconds:.3g} s" + (f" [{self.lo:.3g}-{self.hi:.3g}]" if self.lo is not None else " [no interval]")


@dataclass(frozen=True)
class Recommendation:
    workload: str
    size: float
    unit: str
    budget_s: float | None
    options: list[Option]
    rules: list[str]  # rules that fired, and why configurations were left out
    platform: str

    def to_dict(self) -> dict:
        return asdict(self)


def recommend(rows: pd.DataFrame, workload: str, size: float, vms: Sequence[VM],
              budget_s: float | None = None) -> Recommendation:
    rows = rows[rows["workload"] == workload]
    if rows.empty:
        raise ValueError(f"no finished case of workload {workload!r} in these results")
    unit = str(rows["size_unit"].iloc[0])
    rules = [f"memory needed = predicted peak memory x {HEADROOM} headroom"]
    options: list[Option] = []
    clusters: list[tuple[predictions.SparkFit, str, str, float | None]] = []  # fit, machine tag, quality
    machines = rows.groupby("machine", sort=True)
    for machine, measured in machines:
        # Fits never mix machines; with several, each configuration says which one measured it.
        tag = f" on {machine}" if machines.ngroups > 1 else ""
        models = {m.family: m for m in predictions.size_models(measured)}
        grids = {key: grid for key, grid, _ in predictions.grid_models(measured)}
        threads = predictions.thread_models(measured)
        spark = predictions.spark_models(measured)
        for fit in spark:
            clusters.append((fit, tag, *_quality(measured[measured["family"].str.startswith(fit.key.split("/n=")[0])])))
        spark_fitted = {fit.key for fit in spark}
        for family, g in measured.groupby("family", sort=True):
            if _on_spark(family):  # a cluster option, never a single node's: below
                rules.append(_spark_locally(family, g, measured, unit, tag, spark_fitted))
                continue
            if family not in models:
                rules.append(f"{family}{tag}: measured at fewer than three sizes, no fit to predict from "
                             "(`--suite sizing`)")
                continue
            model = models[family]
            if model.memory is None:
                rules.append(f"{family}{tag}: no peak memory recorded, cannot check which VMs hold it")
                continue
            found = (_gpu_options if _on_gpu(family) else _cpu_options)(family, g, model, size, vms, grids, threads,
                                                                         rules)
            quality, score = _quality(g)
            options += [replace(o, config=o.config + tag, quality=quality, quality_score=score) for o in found]
    options = [replace(o, meets_budget=budget_s is None or o.seconds <= budget_s) for o in options]
    cpu = [o for o in options if "_external" not in o.config and not _on_gpu(o.config)]
    fastest = min((o.seconds for o in cpu), default=None)
    cheapest = min((o.cost for o in cpu), default=None)
    cpu_meets = any(o.meets_budget for o in cpu)
    kept = []
    for o in options:
        if _on_gpu(o.config) and fastest is not None and o.seconds >= fastest:
            rules.append(f"{o.config} on {o.vm}: predicted {o.seconds:.3g} s, not faster than the fastest CPU option "
                         f"({fastest:.3g} s): left out")
        elif _on_gpu(o.config) and cheapest is not None and o.cost >= cheapest and (cpu_meets or not o.meets_budget):
            rules.append(f"{o.config} on {o.vm}: faster, but ${o.cost:.3g} per run against ${cheapest:.3g} on the CPU, "
                         "and not needed to meet a budget: left out")
        else:
            kept.append(o)
    options = kept
    in_memory = [o for o in options if "_external" not in o.config]
    outgrown = any("more than any CPU VM in the catalog" in rule for rule in rules)
    if not in_memory and not outgrown:
        rules.append("no configuration could be priced: see the reasons above")
    elif not in_memory:
        largest = max(vms, key=lambda vm: vm.memory_gib)
        rules.append(f"no VM holds the data in memory (the largest, {largest.name}, has {largest.memory_gib:g} GiB): "
                     "out-of-core training, or a Spark cluster")
        options += _clusters(clusters, size, vms, budget_s, "the data outgrows every single VM in the catalog", rules)
    else:
        options = in_memory + _cheaper_out_of_core(options, rules)
        if budget_s is not None and not any(o.meets_budget for o in options):
            rules.append(f"no single-node option meets the {budget_s:g} s budget")
            options += _clusters(clusters, size, vms, budget_s, f"no single node meets the {budget_s:g} s budget",
                                 rules)
        elif clusters:
            rules.append("Spark was measured, but the data fits one machine and it meets the budget: no cluster")
    options = _cheapest_per_configuration(options)
    task = rows["task"].dropna()
    return Recommendation(workload, size, unit, budget_s, options, rules,
                          PLATFORMS.get(str(task.iloc[0]) if len(task) else workload, "Azure Machine Learning"))


def _cheaper_out_of_core(options: list[Option], rules: list[str]) -> list[Option]:
    """Out-of-core options kept where the data fits in memory too: only those cheaper per run than
    the same model trained in memory."""
    kept = []
    for o in options:
        if "_external" not in o.config:
            continue
        model = o.config.replace("_external@", "@")
        in_memory = [x.cost for x in options if x.config == model and x.cost is not None]
        if in_memory and o.cost < min(in_memory):
            kept.append(o)
        elif in_memory:
            rules.append(f"{o.config}: out of core ${o.cost:.3g} per run against ${min(in_memory):.3g} in memory: "
                         "left out")
    return kept


def _rank(o: Option) -> tuple[bool, float, float]:
    return (not o.meets_budget, o.cost if o.cost is not None else math.inf,
            o.seconds if o.seconds is not None else math.inf)


def _cheapest_per_configuration(options: list[Option]) -> list[Option]:
    """One line per configuration (model, backend, threads): its best VM. The model is the user's choice,
    so a cheap model of lower quality must not hide the others."""
    best: dict[str, Option] = {}
    for o in sorted(options, key=_rank):
        best.setdefault(o.config, o)
    return sorted(best.values(), key=_rank)


def _quality(g: pd.DataFrame) -> tuple[str, float | None]:
    """A configuration's measured quality at its largest size, as text and as a score where higher is better:
    a score (accuracy, ROC AUC, R2) as it is, an error (WAPE) as -log(error). QUALITY_TOLERANCE is then
    0.01 of a score, or 1% of an error, whatever the error's scale: a forecast's WAPE of 0.003 is not
    "within 0.01" of one of 0.007."""
    g = g[g["quality"].notna()]
    if g.empty:
        return "", None
    largest = g[g["size"] == g["size"].max()]
    value = float(largest["quality"].median())
    score = value if largest["higher_is_better"].iloc[0] else -math.log(max(value, 1e-12))
    return f"{largest['metric'].iloc[0]} {value:.3g} at {int(largest['size'].iloc[0]):,}", score


def _on_gpu(family: str) -> bool:
    from harness.run.backends import BACKENDS

    backend = family.partition("@")[2].partition("/")[0]
    return backend in BACKENDS and BACKENDS[backend].device == "cuda"


def _measured_threads(family: str) -> int:
    return int(re.search(r"/t=(\d+)", family).group(1))


def _utilization(g: pd.DataFrame) -> tuple[float | None, float | None]:
    cpu = g["fit_cpu_pct"].dropna()
    threads = g["threads"].iloc[0]
    gpu = g["fit_gpu_util_pct"].dropna()
    return (float(cpu.median()) / (100 * threads) if len(cpu) else None,
            float(gpu.median()) if len(gpu) else None)


def _core_ratio(family: str, size: float, vcpus: int, grids: dict, threads: Sequence) -> tuple[float, str | None]:
    """Time with `vcpus` threads over time with the measured count, and the fit it comes from (None: no fit)."""
    measured = _measured_threads(family)
    key = re.sub(r"/n=\*/t=\d+", "/n=*/t=*", family, count=1)
    if key in grids:
        grid = grids[key]
        return grid(size, vcpus) / grid(size, measured), "the size-and-threads fit"
    same = [(abs(math.log(int(re.search(r"/n=(\d+)/", k).group(1)) / size)), fit) for k, fit, _ in threads
            if re.sub(r"/n=\d+/t=\*", "/n=*/t=*", k, count=1) == key]
    if same:
        fit = min(same, key=lambda pair: pair[0])[1]
        return fit(vcpus) / fit(measured), f"Amdahl (serial fraction {fit.serial:.2f}, the nearest size)"
    return 1.0, None


def _cpu_options(family: str, g: pd.DataFrame, model: predictions.SizeModel, size: float, vms: Sequence[VM],
                 grids: dict, threads: Sequence, rules: list[str]) -> list[Option]:
    pred = model.time.predict(size)
    need = model.memory(size) * HEADROOM
    cpu_util, _ = _utilization(g)
    external = "_external" in family
    if external:  # streamed from disk: only the fixed part must be held (an upper bound: the harness held the data)
        need = model.memory.fixed * HEADROOM
    measured = _measured_threads(family)
    out = []
    for vm in vms:
        if vm.gpu_count or vm.memory_gib * 2**30 < need:
            continue
        ratio, source = _core_ratio(family, size, vm.vcpus, grids, threads)
        confidence, caveats = _confidence(pred, model.time)
        evidence = [f"time: {model.time.curve.kind} fit over {len(model.time.sizes)} sizes "
                    f"({min(model.time.sizes):,.0f}-{max(model.time.sizes):,.0f}), exponent "
                    f"{model.time.curve.exponent:.2f}, LOO error {math.expm1(model.time.loo_error):.0%}, "
                    f"{pred.beyond:.1f}x past the largest measured size",
                    f"memory: {model.memory.fixed / 2**20:,.0f} MiB + {model.memory.per_item:,.0f} B per item"
                    + (" (out of core: only the fixed part counted, a lower bound)" if external else ""), *caveats]
        if vm.vcpus == measured:
            if not source:
                evidence.append("no thread fit: more vCPUs not shown to pay (--threads 1,2)")
        elif source:
            evidence.append(f"{vm.vcpus} vCPUs against {measured} threads measured: time x{ratio:.2f} from {source}")
            if vm.vcpus > measured:
                confidence = _lower(confidence)
        elif vm.vcpus > measured:
            evidence.append(f"no thread fit: {vm.vcpus} vCPUs assumed no faster than the {measured} threads measured")
            confidence = _lower(confidence)
        else:
            ratio = measured / vm.vcpus
            evidence.append(f"no thread fit: {vm.vcpus} vCPUs against {measured} threads measured: time x{ratio:.2f}, "
                            "as if no parallel loss (an upper bound)")
        if cpu_util is not None and cpu_util < LOW_CPU:
            evidence.append(f"fit used {cpu_util:.0%} of its {measured} threads' CPU: not core-bound, a smaller VM "
                            "loses little")
        if external:
            confidence = "low"
        seconds = pred.value * ratio
        out.append(Option(vm.name, 1, family, seconds, pred.lo * ratio, pred.hi * ratio,
                          seconds / 3600 * vm.price_per_hour, need / 2**30, need / (vm.memory_gib * 2**30), cpu_util,
                          None, confidence, True, evidence))
    if not out and not external:
        rules.append(f"{family}: needs {need / 2**30:,.1f} GiB, more than any CPU VM in the catalog")
    return out


def _gpu_options(family: str, g: pd.DataFrame, model: predictions.SizeModel, size: float, vms: Sequence[VM],
                 grids: dict, threads: Sequence, rules: list[str]) -> list[Option]:
    gap = _quality_gap(g)
    if gap:
        rules.append(f"{family}: {gap}: left out")
        return []
    pred = model.time.predict(size)
    need = model.memory(size) * HEADROOM
    peaks = g.groupby("size")["gpu_memory_bytes"].max().dropna()
    device_need = scaling.fit_memory(list(peaks.index), list(peaks))(size) if len(peaks) >= 2 else None
    measured_gpu = str(g["gpu"].dropna().iloc[0])
    measured_spec = catalog.gpu_spec(measured_gpu)
    _, gpu_util = _utilization(g)
    out, unknown = [], set()
    for vm in vms:
        if not vm.gpu_count or vm.memory_gib * 2**30 < need:
            continue
        if device_need is not None and device_need > vm.gpu_memory_gib * 2**30:
            continue
        confidence, caveats = _confidence(pred, model.time)
        evidence = [f"time: {model.time.curve.kind} fit over {len(model.time.sizes)} sizes measured on {measured_gpu}",
                    "one GPU used: the others of a multi-GPU VM are not counted", *caveats]
        target_spec = catalog.gpu_spec(vm.gpu_model)
        factor = 1.0
        if measured_spec is None or target_spec is None:
            if vm.gpu_model.lower() not in measured_gpu.lower():
                unknown.add(vm.gpu_model)
                continue
        elif target_spec != measured_spec:
            factor = _gpu_factor(measured_spec, target_spec)
            confidence = "low"
            evidence.append(f"carried from {measured_spec.model} to {target_spec.model}: time x{factor:.2f}, the "
                            "smaller of its memory-bandwidth and FP32 advantages (or the larger of its deficits), "
                            "from datasheets, not measured")
        if device_need is None:
            confidence = _lower(confidence)
            evidence.append("GPU memory not fitted: whether the data fits the GPU was not checked")
        if gpu_util is not None and gpu_util < LOW_GPU:
            evidence.append(f"fit GPU utilization {gpu_util:.0f}%: the input pipeline starves the GPU")
        seconds = pred.value * factor
        out.append(Option(vm.name, 1, family, seconds, pred.lo * factor, pred.hi * factor,
                          seconds / 3600 * vm.price_per_hour, need / 2**30, need / (vm.memory_gib * 2**30), None,
                          gpu_util, confidence, True, evidence))
    if unknown:
        rules.append(f"{family}: measured on {measured_gpu}; no datasheet entry carries its time to "
                     f"{', '.join(sorted(unknown))} (harness/data/gpu_specs.csv), so their VMs are not offered")
    if not out:
        rules.append(f"{family}: no GPU VM in the catalog holds its data")
    return out


def _gpu_factor(measured: catalog.GPUSpec, target: catalog.GPUSpec) -> float:
    """Time on `target` / time on `measured`: training is bound by memory bandwidth or by arithmetic, and
    which one is not known here, so the target gets the less favourable of the two datasheet ratios."""
    return max(measured.memory_bandwidth_gbs / target.memory_bandwidth_gbs, measured.fp32_tflops / target.fp32_tflops)


def _quality_gap(g: pd.DataFrame) -> str | None:
    """Why a GPU configuration's quality cannot stand in for its CPU twin's, if it cannot."""
    worse = g[g["twin_beyond"]]
    if len(worse):
        return (f"quality departs from its CPU twin by {float(worse['twin_difference'].iloc[0]):+.3g} at "
                f"{int(worse['size'].iloc[0]):,} (beyond the tolerance)")
    return None


def _confidence(pred: scaling.Prediction, fit: scaling.SizeFit) -> tuple[str, list[str]]:
    """How far a prediction can be trusted, and the caveats that lowered it."""
    level = 0 if pred.beyond <= 4 else 1 if pred.beyond <= scaling.EXTRAPOLATION_WARN else 2
    notes = []
    if fit.loo_error > 0.25:
        level += 1
    last = fit.local_exponents()[-1]
    if pred.beyond > 1 and last < FIXED_COSTS:
        level = 2
        notes.append(f"time grew as size^{last:.2f} at the largest sizes measured: fixed costs still dominate, "
                     "growth past them unknown (--suite sizing)")
    return CONFIDENCE[min(level, 2)], notes


def _lower(confidence: str) -> str:
    return CONFIDENCE[min(CONFIDENCE.index(confidence) + 1, 2)]


def _on_spark(family: str) -> bool:
    return "@spark/" in family


def _spark_locally(family: str, g: pd.DataFrame, measured: pd.DataFrame, unit: str, tag: str,
                   fitted: set[str]) -> str:
    """What Spark on this one machine measured, against the same model on one node at that size (xgboost_spark
    against xgboost), or else the fastest single-node CPU configuration."""
    n = int(g["size"].max())
    text = f"{family}{tag}: fit {g[g['size'] == n]['fit_s'].median():.3g} s at {n:,} {unit} in Spark on this machine"
    same = measured[(measured["size"] == n) & ~measured["family"].map(_on_spark)
                    & ~measured["family"].map(_on_gpu) & measured["fit_s"].notna()]
    twin = same[same["model"] == str(g["model"].iloc[0]).removesuffix("_spark")]
    if not same.empty:
        medians = (twin if not twin.empty else same).groupby("family")["fit_s"].median()
        text += f", against {medians.min():.3g} s for {medians.idxmin()} on one node"
    if re.sub(r"/n=\*/t=\d+", "/n=*/t=*", family, count=1) not in fitted:
        text += ("; a cluster is priced from a fit over two or more sizes and core counts (`--threads 1,2`), "
                 "which these results lack")
    return text


MAX_NODES = 256


def _clusters(clusters: Sequence[tuple[predictions.SparkFit, str, str, float | None]], size: float,
              vms: Sequence[VM], budget_s: float | None, why: str, rules: list[str]) -> list[Option]:
    """Spark clusters priced from the measured Ernest fit: per measured Spark configuration, the cheapest
    CPU VM type and worker count (plus a driver node of the same type) whose memory holds the data
    (the fit's fixed part on every node, its per-item part spread over the workers, x 1.5), meeting
    the budget where one is given."""
    if not clusters:
        return [Option("Spark cluster", 0, "spark (not measured)", None, None, None, None, None, None, None, None,
                       "low", False, [f"{why}; Spark was not measured (`sizeup run --suite spark`), so no time or "
                                      "cost"])]
    out = []
    for fit, tag, quality, score in clusters:
        if fit.memory is None:
            rules.append(f"{fit.key}{tag}: no peak memory recorded, cannot size a cluster")
            continue
        best = None
        for vm in (vm for vm in vms if not vm.gpu_count):
            room = vm.memory_gib * 2**30 / HEADROOM - fit.memory.fixed
            if room <= 0:
                continue
            least = max(1, math.ceil(fit.memory.per_item * size / room))
            for workers in range(least, max(least, MAX_NODES) + 1):
                seconds = fit.time(size, workers * vm.vcpus)
                cost = seconds / 3600 * (workers + 1) * vm.price_per_hour
                meets = budget_s is None or seconds <= budget_s
                key = (not meets, cost, seconds)
                if best is None or key < best[0]:
                    best = (key, vm, workers, seconds, cost, meets)
        if best is None:
            rules.append(f"{fit.key}{tag}: no CPU VM in the catalog can hold Spark's fixed memory")
            continue
        _, vm, workers, seconds, cost, meets = best
        need = (fit.memory.fixed + fit.memory.per_item * size / workers) * HEADROOM
        cores = workers * vm.vcpus
        measured_cores = f"{fit.time.cores[0]:g}-{fit.time.cores[1]:g}"
        evidence = [f"{why}",
                    f"time: Ernest fit over {fit.time.points} points ({fit.sizes[0]:,}-{fit.sizes[1]:,}, "
                    f"{measured_cores} cores): {fit.time.fixed:.3g} s fixed + {fit.time.parallel * 1e6:.3g} us per item "
                    f"per core + {fit.time.tree:.3g} s log(cores) + {fit.time.all_to_all:.3g} s per core",
                    f"{workers} workers x {vm.vcpus} vCPUs = {cores} cores, plus a driver node of the same size in "
                    "the cost",
                    f"memory per node: {fit.memory.fixed / 2**20:,.0f} MiB fixed + {fit.memory.per_item:,.0f} B per "
                    f"item spread over the workers, x {HEADROOM}",
                    f"measured on {measured_cores} local cores: the cores and the network of a cluster are "
                    "extrapolated, not measured"]
        out.append(Option(vm.name, workers + 1, fit.key + tag, seconds, None, None, cost, need / 2**30,
                          need / (vm.memory_gib * 2**30), None, None, "low", meets, evidence, quality, score))
    return out


@dataclass(frozen=True)
class Pick:
    """The summary's line for one workload: its recommendation and the option picked from it."""
    task: str
    workload: str
    found: Recommendation
    pick: Option | None
    note: str


def best_value(options: Sequence[Option]) -> Option | None:
    """The best quality per unit of cost: the cheapest option whose quality is within QUALITY_TOLERANCE of
    the best measured (a cheap model that learns less does not win)."""
    timed = [o for o in options if o.seconds is not None]
    scored = [o.quality_score for o in timed if o.quality_score is not None]
    good = [o for o in timed if not scored or o.quality_score is None
            or o.quality_score >= max(scored) - QUALITY_TOLERANCE]
    return min(good, key=_rank) if good else (options[0] if options else None)


def quality_frontier(options: Sequence[Option]) -> list[Option]:
    """The options that no other beats on both cost and quality, cheapest first: each one costs more than
    the one before and reaches a better quality."""
    priced = sorted((o for o in options if o.cost is not None and o.quality_score is not None),
                    key=lambda o: (o.cost, -o.quality_score))
    out: list[Option] = []
    for o in priced:
        if not out or o.quality_score > out[-1].quality_score:
            out.append(o)
    return out


def frontier_lines(options: Sequence[Option]) -> list[str]:
    """Quality against cost, one line per option on the frontier, for the terminal and the report."""
    best = best_value(options)
    return [f"${o.cost:.3g} per run: {_short(o.config)} on {o.vm}, {o.quality}"
            + (" <- best quality per unit of cost" if o is best else "") for o in quality_frontier(options)]


def summary(rows: pd.DataFrame, vms: Sequence[VM], scale: float = SCALE) -> list[Pick]:
    """Per workload with a size fit: the recommendation at `scale` x the largest size that all its fitted
    configurations reached (for `run --data`, at the whole data), and from it the best quality per unit of
    cost (`best_value`)."""
    out = []
    models = predictions.size_models(rows)
    for workload, g in rows.groupby("workload", sort=True):
        task = str(g["task"].dropna().iloc[0]) if g["task"].notna().any() else str(workload)
        reached = [max(m.time.sizes) for m in models if m.family.startswith(f"{workload}/")]
        if not reached:
            continue
        params = json.loads(g["params"].iloc[0])
        size = int(params["rows"]) if "file_sha256" in params else scale * min(reached)
        found = recommend(rows, str(workload), size, vms)
        pick = best_value(found.options)
        out.append(Pick(task, str(workload), found, pick, "" if pick else found.rules[-1]))
    return sorted(out, key=lambda p: (p.task, p.workload))


def render_summary(picks: Sequence[Pick]) -> RenderableType:
    if not picks:
        return Text("No workload was measured at three sizes, so there is nothing to size from: "
                    "`sizeup run --suite sizing`, or `sizeup recommend results/reference`.", style="yellow")
    table = Table(title=Text(f"What to train on, per task family: at {SCALE:g}x the largest size every configuration "
                             f"reached (your own data: all of it), the cheapest near the best quality (within "
                             f"{QUALITY_TOLERANCE}, or {QUALITY_TOLERANCE:.0%} of an error)"),
                  header_style="bold")
    for column in ("task", "size", "VM", "configuration", "quality", "time per run [95%]", "$ per run",
                   "confidence", "why"):
        table.add_column(column, no_wrap=column in ("VM", "time per run [95%]"))
    for p in picks:
        size = f"{p.found.size:,.0f} {p.found.unit}"
        if p.pick is None:
            table.add_row(p.task, size, "", Text(p.workload), "", "", "", "", Text(p.note))
            continue
        o = p.pick
        time = o.time_text()
        why = [e for e in o.evidence if not e.startswith(("time:", "memory:"))][:2]
        if o.memory_needed_gib:
            why.insert(0, f"needs {o.memory_needed_gib:,.1f} GiB")
        table.add_row(p.task, size, Text(o.vm), Text(_short(o.config)), o.quality, time,
                      f"{o.cost:.3g}" if o.cost is not None else "", o.confidence, Text("; ".join(why)))
    return Group(table, Text("All options and their evidence: sizeup recommend --workload W --rows N"))


def _short(config: str) -> str:
    """classification/xgboost@xgboost/n=*/t=2,... -> xgboost@xgboost, 2 threads"""
    match = re.match(r"[^/]+/([^/]+)/n=\*/t=(\d+)", config)
    return f"{match.group(1)}, {match.group(2)} threads" if match else config


def render(found: Recommendation) -> RenderableType:
    budget = f", budget {found.budget_s:g} s per run" if found.budget_s else ""
    table = Table(title=Text(f"{found.workload} at {found.size:,.0f} {found.unit}{budget}: each configuration's "
                             "cheapest VM, ranked by cost per run"), header_style="bold")
    for column in ("#", "VM", "nodes", "configuration", "quality", "time per run [95%]", "$ per run",
                   "memory needed", "CPU / GPU use", "confidence", "evidence"):
        table.add_column(column, no_wrap=column in ("VM", "time per run [95%]"))
    for rank, o in enumerate(found.options, start=1):
        time = o.time_text()
        use = " / ".join(f"{u:.0%}" if i == 0 else f"{u:.0f}%" for i, u in enumerate((o.cpu_util, o.gpu_util))
                         if u is not None)
        memory = f"{o.memory_needed_gib:,.1f} GiB ({o.memory_share:.0%})" if o.memory_needed_gib else ""
        table.add_row(str(rank), Text(o.vm), str(o.nodes or ""), Text(o.config), o.quality, time,
                      f"{o.cost:.3g}" if o.cost is not None else "", memory, use,
                      Text(o.confidence + ("" if o.meets_budget else ", misses budget")), Text("; ".join(o.evidence)))
    parts: list[RenderableType] = [table if found.options else Text("No option: see the rules below.")]
    if frontier := frontier_lines(found.options):
        parts += [Text("Quality against cost (no other option is both cheaper and better):")]
        parts += [Text(f"- {line}") for line in frontier]
    parts += [Text("Rules and exclusions:")] + [Text(f"- {rule}") for rule in found.rules]
    parts.append(Text(f"Platform: {found.platform}"))
    return Group(*parts)
