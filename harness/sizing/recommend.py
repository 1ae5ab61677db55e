"""`sizeup recommend`: from an Analysis (fitted measurements) to ranked VM choices for one training run.

Every figure comes from a fit of measured results and a rule stated in the output; nothing is
assumed where a measurement is missing, it is said instead. Rules:

- memory needed = predicted peak memory at the target size x 1.5 (headroom for data held in
  memory, Azure ML's guidance), or the top of its calibrated 95% interval where that is higher (far
  past the sizes measured); a VM qualifies only if it has that much, and a GPU only if it holds the
  top of its GPU memory's interval;
- a VM's vCPUs count as the measured machine's threads, one each (both are a cloud VM's
  vCPUs, hyperthreads of the host); time with another count comes from the thread fit
  (size-and-threads where measured, else Amdahl). Without one, more vCPUs are assumed no
  faster and fewer slower in proportion (no parallel loss: an upper bound). Per-thread speed
  is taken as the measured machine's;
- a GPU configuration's time is carried to a VM with another GPU model only by the ratio of
  their datasheet memory bandwidth or FP32 throughput, whichever favours the target less
  (harness/sizing/data/gpu_specs.csv), at low confidence; it is offered only where its predicted
  data fits that GPU's memory, never where it is slower than the fastest CPU option, dearer
  without being needed for a time budget, or of worse quality than its CPU twin (harness.sizing.rules);
- out-of-core training (`*_external` models) where no VM holds the data in memory, or where it
  is cheaper per run than the same model in memory (its memory is the fit's fixed part: a lower
  bound, as the harness held the generated data while it trained);
- a Spark cluster only where no single node can hold the data or meet the time budget, never
  for data that fits one machine: sized from the measured Spark cases' Ernest fit (time over
  size and cores) and memory fit, or named without a time or cost where Spark was not measured;
- ranking: options that meet the time budget first, then those with a time worth acting on (an
  interval within 10x), then by cost per run, then by time.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import pandas as pd

from harness.analysis.backtest import LEVEL_NAMES
from harness.analysis.compute import Analysis
from harness.analysis.fits import MIN_SIZES
from harness.analysis.scaling import WIDEST_INTERVAL
from harness.records import Case, CaseRecord
from harness.records.case import OWN_DATA
from harness.sizing import catalog
from harness.sizing import findings as f
from harness.sizing import rules as r
from harness.sizing.catalog import VM
from harness.sizing.clusters import Measured, clusters, measured_locally
from harness.sizing.findings import Finding
from harness.sizing.options import HEADROOM, Option, cpu_options, gpu_options, lead, quality, quality_gap

# The summary sizes for 2x the largest size measured: in the shipped backtests, times predicted up to 2.5x past
# the sizes fitted (past their fixed costs) came within 30% in 95% of 199 cases ("medium" holds there), 2.5-5x
# past in 89.9% of 139 (just short of it). `recommend --rows` answers for any size, at the level its distance earns.
SCALE = 2
QUALITY_TOLERANCE = 0.01  # the summary's pick: quality within this of the best measured, then the cheapest
SHOW_TIMES = "`sizeup show` has the times measured"  # for a table of your own with too few sizes: no suite measures it
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
class Recommendation:
    workload: str
    size: float
    unit: str
    budget_s: float | None
    options: list[Option]
    rules: list[Finding]  # rules that fired, and why configurations were left out
    platform: str
    shown: int | None = None  # the options listed (`top`; None: all); the pick is made from all of them

    def top(self, n: int) -> Recommendation:
        return replace(self, shown=n)

    @property
    def listed(self) -> list[Option]:
        return self.options[:self.shown] if self.shown is not None else self.options

    @property
    def pick(self) -> Option | None:
        """The best value (best_value: the summary's rule, here over every machine's options), whichever are
        listed."""
        return best_value(self.options)

    def to_dict(self) -> dict:
        pick = self.pick
        return {"workload": self.workload, "size": self.size, "unit": self.unit, "budget_s": self.budget_s,
                "options": [o.to_dict() for o in self.listed], "more_options": len(self.options) - len(self.listed),
                "pick": pick.to_dict() if pick else None, "rules": [x.to_dict() for x in self.rules],
                "platform": self.platform}


def recommend(analysis: Analysis, workload: str, size: float, vms: Sequence[VM],
              budget_s: float | None = None) -> Recommendation:
    machines = analysis.of(workload)
    if not machines:
        raise ValueError(f"no finished case of workload {workload!r} in these results")
    unit = str(machines[0][1].rows.loc[machines[0][1].rows["workload"] == workload, "size_unit"].iloc[0])
    catalogued, vms = vms, catalog.undominated(vms)
    rules = [Finding(f.HEADROOM, f"memory needed = predicted peak memory x {HEADROOM} headroom, or the top of its 95% "
                                 "interval where that is higher")]
    options: list[Option] = []
    measured_spark: list[Measured] = []
    task = None
    for tag, fitted in machines:
        measured = fitted.rows[fitted.rows["workload"] == workload]
        task = task or next(iter(measured["task"].dropna()), None)
        for fit in (s for s in fitted.spark if (measured["grid_key"] == s.key).any()):
            measured_spark.append(Measured(fit, tag, quality(measured[measured["grid_key"] == fit.key]),
                                           fitted.calibration))
        spark_fitted = {s.key for s in fitted.spark}
        for config, g in measured.groupby("config", sort=True):
            if g["distributed"].iloc[0]:  # a cluster option, never a single node's: below
                rules.append(measured_locally(config, g, measured, unit, tag, spark_fitted))
                continue
            model = fitted.size_model(config)
            if model is None:  # a table of your own (run --data) is no suite: its sweep's end said why it stopped
                more = SHOW_TIMES if OWN_DATA in g["case"].iloc[0].params else "`--suite sizing`"
                rules.append(Finding(f.TOO_FEW_SIZES, f"{config}{tag}: measured at fewer than three sizes, no fit to "
                                                      f"predict from ({more})", config))
                continue
            if model.memory is None:
                rules.append(Finding(f.NO_PEAK_MEMORY, f"{config}{tag}: no peak memory recorded, cannot check which "
                                                       "VMs hold it", config))
                continue
            if g["on_gpu"].iloc[0]:
                if gap := quality_gap(g):
                    rules.append(Finding(f.GPU_WORSE_QUALITY, f"{config}: {gap}: left out", config))
                    continue
                found = gpu_options(model, g, size, vms, fitted, rules, tag)
            else:
                found = cpu_options(model, g, size, vms, fitted, rules, tag)
            options += [replace(o, config=o.config + tag, machine=fitted.machine, **quality(g).fields())
                        for o in found]
    rules += _absent(analysis, workload)
    options = [replace(o, meets_budget=budget_s is None or o.within(budget_s)) for o in options]
    options, said = r.apply(r.DEVICE_RULES, options, r.Pool(options, budget_s))
    rules += said
    in_memory = [o for o in options if not o.external]
    outgrown = any(x.code == f.OUTGROWS_CATALOG for x in rules)
    if not in_memory and not outgrown:
        rules.append(Finding(f.NOTHING_PRICED, "no configuration could be priced: see the reasons above"))
    elif not in_memory:
        cpu = [vm for vm in catalogued if not vm.gpu_count] or catalogued  # CPU training runs on CPU VMs
        largest = max(cpu, key=lambda vm: vm.memory_gib)
        rules.append(Finding(f.NO_VM_HOLDS_DATA, f"no VM holds the data in memory (the largest CPU VM, {largest.name}, "
                                                 f"has {largest.memory_gib:,g} GiB): out-of-core training, or a Spark "
                                                 "cluster"))
        options += clusters(measured_spark, size, vms, budget_s, "the data outgrows every single VM in the catalog",
                            rules)
    else:
        external, said = r.apply(r.IN_MEMORY_RULES, [o for o in options if o.external], r.Pool(options, budget_s))
        rules += said
        options = in_memory + external
        if budget_s is not None and not any(o.meets_budget for o in options):
            rules.append(Finding(f.BUDGET_MISSED, f"no single-node option meets the {budget_s:g} s budget"))
            options += clusters(measured_spark, size, vms, budget_s, f"no single node meets the {budget_s:g} s "
                                                                     "budget", rules)
        elif measured_spark:
            met = " and it meets the budget" if budget_s is not None else ""
            rules.append(Finding(f.SPARK_FITS_ONE_NODE, f"Spark was measured, but the data fits one machine{met}: "
                                                        "no cluster"))
    if options and not any(o.timed for o in options):
        rules.append(Finding(f.NO_TIME_WORTH_ACTING, f"no option has a time worth acting on here (each has none, or "
                                                     f"an interval spanning more than {WIDEST_INTERVAL:g}x): see each "
                                                     "one's evidence"))
    return Recommendation(workload, size, unit, budget_s, _cheapest_per_configuration(options), rules,
                          PLATFORMS.get(str(task) if task is not None else workload, "Azure Machine Learning"))


def _absent(analysis: Analysis, workload: str) -> list[Finding]:
    """What of `workload` ran and left nothing to predict from, said rather than silently absent: each
    configuration that never finished a size (a sweep whose first step failed), then the backends skipped where
    these results were measured, one line per reason (without it, a CPU machine's recommendation leaves the GPU
    out without a word)."""
    rows = analysis.rows[analysis.rows["workload"] == workload] if not analysis.empty else analysis.rows
    finished, measured = set(rows.get("config", ())), set(rows.get("backend", ()))
    failed: dict[str, CaseRecord] = {}
    skipped: dict[str, set[str]] = {}
    for item in analysis.loaded:
        for record in item.run.cases:
            case = record.case
            if case.workload != workload:
                continue
            if record.status == "skipped" and case.backend not in measured:
                skipped.setdefault(record.reason or "", set()).add(case.backend)
            elif record.status not in ("ok", "skipped") and case.config not in finished:
                failed.setdefault(case.config, record)

    def unmeasured(backends: set[str], reason: str) -> str:
        it, its = ("it", "its") if len(backends) == 1 else ("them", "their")
        return (f"{', '.join(sorted(backends))}: not measured here, so no option ({reason[:160]}); the gpu suite's "
                f"results from a machine that has {it} add {its} options")

    return ([Finding(f.NONE_FINISHED, f"{config}: no size finished (n={rec.case.size:,} ended {rec.status}: "
                                      f"{(rec.reason or '')[:160]}): nothing to predict from", config)
             for config, rec in sorted(failed.items())]
            + [Finding(f.NOT_MEASURED, unmeasured(backends, reason)) for reason, backends in sorted(skipped.items())])


def rank(o: Option) -> tuple[bool, float, float, float]:
    """Those that meet the budget first, then those with a time worth acting on, then by cost and time. Those that
    miss it, after them, by the top of their time's interval: the one surest to come nearest (by cost, the slowest
    had come first, 482 s [163-1420] for a 60 s budget; by their point, 9.7 s [3.1-198] on 96 vCPUs carried from 2)."""
    cost, seconds = (x if x is not None else math.inf for x in (o.cost, o.seconds))
    if not o.meets_budget:
        return True, o.hi if o.hi is not None else seconds, cost, seconds
    return False, float(not o.timed), cost, seconds


def _cheapest_per_configuration(options: list[Option]) -> list[Option]:
    """One line per configuration (model, backend, threads): its best VM. The model is the user's choice,
    so a cheap model of lower quality must not hide the others."""
    best: dict[str, Option] = {}
    for o in sorted(options, key=rank):
        best.setdefault(o.config, o)
    return sorted(best.values(), key=rank)


@dataclass(frozen=True)
class Pick:
    """The summary's line for one workload: its recommendation and the option picked from it."""
    task: str
    workload: str
    found: Recommendation
    pick: Option | None
    note: str
    contended: int = 0  # sizes in its fits measured only under contention (too few clean ones to leave them out)
    code: str = ""  # without a pick, the finding's
    better: Case | None = None  # BETTER_UNFITTED: the configuration too few sizes kept from the answer
    better_quality: str = ""  # ... and its measured quality
    machine: str = ""  # the machine answering, where the results came from several
    own_data: bool = False  # the workload is a table of the user's (run --data): no suite measures it

    @property
    def on(self) -> str:
        """' on MACHINE' where several machines were analysed, else ''."""
        return f" on {self.machine}" if self.machine else ""

    def to_dict(self) -> dict:
        found = {k: v for k, v in self.found.to_dict().items() if k != "pick"}  # the summary's own pick says it
        return {"task": self.task, "workload": self.workload, "found": found,
                "pick": self.pick.to_dict() if self.pick else None, "note": self.note, "contended": self.contended,
                "code": self.code, "machine": self.machine or None}


def best_value(options: Sequence[Option]) -> Option | None:
    """The best quality per unit of cost: the cheapest option whose quality no other beats by more than
    QUALITY_TOLERANCE at the largest size both measured (a cheap model that learns less does not win, nor one
    that looks better for being measured on more data), one with a time worth acting on where there is one
    (`rank`); but where a more confident such option's cost interval reaches the cheapest one's, the evidence
    does not say the cheapest is cheaper, and the more confident one is the answer (`surer`)."""
    predicted = [o for o in options if o.seconds is not None]
    scored = [o for o in predicted if o.quality_by_size]
    good = [o for o in predicted if all((lead(p.quality_by_size, o.quality_by_size) or 0.0) <= QUALITY_TOLERANCE
                                        for p in scored)]
    if not predicted:
        return options[0] if options else None
    # Compared pairwise at different sizes, each option can be beaten by another (A by B at one size, B by C, C by
    # A at others): then none is clearly better, and the cheapest stands.
    candidates = good or predicted
    pick = min(candidates, key=rank)
    return min((o for o in candidates if surer(o, pick)), key=lambda o: (confidence(o), rank(o)), default=pick)


def confidence(o: Option) -> int:
    """0 for high, 1 for medium, 2 for low."""
    return LEVEL_NAMES.index(o.confidence) if o.confidence in LEVEL_NAMES else len(LEVEL_NAMES)


def surer(o: Option, pick: Option) -> bool:
    """`o` is more confident than `pick`, as good on the budget, has a time worth acting on, and its cost
    interval reaches down to `pick`'s: the two costs are not told apart."""
    ours, theirs = o.cost_interval, pick.cost_interval
    return (confidence(o) < confidence(pick) and o.meets_budget >= pick.meets_budget and o.timed
            and ours is not None and theirs is not None and ours[0] <= theirs[1])


def better_unfitted(rows: pd.DataFrame, found: Recommendation, pick: Option | None) -> Finding | None:
    """A configuration of the workload measured at too few sizes to fit whose quality is more than
    QUALITY_TOLERANCE better than the pick's, so that the pick would not be chosen had it been fitted: a run
    whose budget ended the boosted trees' sweeps at two sizes must not answer with the linear model 0.2 of
    ROC AUC behind them."""
    if pick is None or not pick.quality_by_size:
        return None
    for config in sorted({x.config for x in found.rules if x.code == f.TOO_FEW_SIZES}):
        q = quality(rows[rows["config"] == config])
        if (lead(q.by_size, pick.quality_by_size) or 0.0) > QUALITY_TOLERANCE:
            return Finding(f.BETTER_UNFITTED, f"{config}: {q.text}, better than the pick ({pick.quality}) by more "
                                              "than the summary's tolerance, but measured at fewer than three sizes: "
                                              "no time to predict (a larger --budget, or --suite sizing)", config)
    return None


def quality_frontier(options: Sequence[Option]) -> list[Option]:
    """The options that no other beats on both cost and quality, cheapest first: each one costs more than
    the one before and reaches a better quality (at the largest size both measured: `lead`)."""
    priced = sorted((o for o in options if o.cost is not None and o.timed and o.quality_by_size),
                    key=lambda o: o.cost)
    out: list[Option] = []
    for o in priced:
        if all((lead(o.quality_by_size, k.quality_by_size) or 0.0) > 0 for k in out):
            out.append(o)
    return out


def _too_few_sizes(analysis: Analysis, workload: str, rows: pd.DataFrame) -> Recommendation | None:
    """Where a workload meant to be sized (a sweep of it ran, or a model of it was measured at several sizes)
    has no configuration with a size fit, a recommendation without options that says so, at the largest size
    measured: a run whose budget ended the sweeps early must not drop a task family from its summary unsaid."""
    swept = any(r.case.sweep for item in analysis.loaded for r in item.run.cases if r.case.workload == workload)
    most = int(rows.groupby(["machine", "config"])["size"].nunique().max())  # fits never mix machines
    if not swept and most < 2:
        return None  # one size by design (a real dataset's quality check): nothing was meant to be fitted
    sizes = sorted(set(rows["size"]))
    unit = str(rows["size_unit"].iloc[0])
    measured = ", ".join(f"{n:,}" for n in sizes[:-1]) + (" and " if len(sizes) > 1 else "") + f"{sizes[-1]:,}"
    said = Finding(f.TOO_FEW_SIZES, f"no model measured at {MIN_SIZES} sizes (at most {most}: {measured} {unit})")
    return Recommendation(workload, float(sizes[-1]), unit, None, [], [said], "")


def newest_run(analysis: Analysis, workload: str) -> tuple[Analysis, list[float]]:
    """The analysis the summary answers `workload` from: its newest run meant to size it (a sweep of it, or a
    configuration measured at MIN_SIZES sizes; else its newest run), that run's machine alone, and of the workload
    only the configurations that run measured (their fits pool every run of the machine; the other configurations'
    still calibrate, as for `recommend --workload`); and the largest size that run reached with each of them that
    has a size fit. A later check at one size is no sizing run: it neither sets the size nor the answer."""
    g = analysis.rows[analysis.rows["workload"] == workload]
    sizes = g.groupby(["run_id", "config"])["size"].nunique().groupby("run_id").max()
    swept = {item.run.run_id for item in analysis.loaded
             if any(r.case.sweep for r in item.run.cases if r.case.workload == workload)}
    meant = sorted(set(sizes[sizes >= MIN_SIZES].index) | (swept & set(sizes.index))) or sorted(sizes.index)
    run = g[g["run_id"] == meant[-1]]  # run ids begin with their start
    machine, configs = run["machine"].iloc[0], set(run["config"])
    fits = [m for m in analysis.machines if m.machine == machine]
    kept = [replace(m, sizes=[s for s in m.sizes if s.case.workload != workload or s.config in configs],
                    others=m.others + [s for s in m.sizes if s.case.workload == workload and s.config not in configs])
            for m in fits]
    rows = analysis.rows[(analysis.rows["machine"] == machine)
                         & ((analysis.rows["workload"] != workload) | analysis.rows["config"].isin(configs))]
    here = replace(analysis, loaded=tuple(item for item in analysis.loaded if item.run.machine.get("id") == machine),
                   rows=rows, machines=tuple(kept))
    fitted = {m.config for m in here.sizes() if m.case.workload == workload}
    return here, [float(n) for n in run[run["config"].isin(fitted)].groupby("config")["size"].max()]


def summary_size(analysis: Analysis, workload: str, scale: float = SCALE) -> tuple[Analysis, float | None]:
    """What the summary answers `workload` from (`newest_run`) and at what size: `scale` x the largest size that run
    reached with every configuration it fitted (after `run --data`: the whole data); None where it fitted none."""
    here, reached = newest_run(analysis, workload)
    if not reached:
        return here, None
    params = json.loads(here.rows.loc[here.rows["workload"] == workload, "params"].iloc[0])
    return here, float(params["rows"]) if "file_sha256" in params else scale * min(reached)


def summary(analysis: Analysis, vms: Sequence[VM], scale: float = SCALE) -> list[Pick]:
    """Per workload with a size fit, the answer for the configurations of its newest run meant to size it, on that
    run's machine (`newest_run`): the recommendation at `scale` x the largest size that run reached with every one of
    them fitted (for `run --data`, at the whole data), and from it the best quality per unit of cost (`best_value`);
    per workload meant to be sized without one, why (`_too_few_sizes`). Their fits pool every run of that machine.
    With the references in results/, a transformer they measured to 512 documents had set the nlp answer at 1,024
    after a make bench that measured its models to 10,000, and picks came from another machine. `recommend
    --workload` lists every machine's options."""
    out = []
    several = len(analysis.machines) > 1
    for workload in analysis.workloads():
        g = analysis.rows[analysis.rows["workload"] == workload]
        task = str(g["task"].dropna().iloc[0]) if g["task"].notna().any() else str(workload)
        here, size = summary_size(analysis, str(workload), scale)
        g = here.rows[here.rows["workload"] == workload]
        machine, own = str(g["machine"].iloc[0]) if several else "", OWN_DATA in g["case"].iloc[0].params
        if size is None:
            if unfitted := _too_few_sizes(here, str(workload), g):
                out.append(Pick(task, str(workload), unfitted, None, unfitted.rules[0].message, code=f.TOO_FEW_SIZES,
                                machine=machine, own_data=own))
            continue
        found = recommend(here, str(workload), size, vms)
        pick = found.pick
        if better := better_unfitted(g, found, pick):  # the pick would be a model clearly worse: no answer
            found, pick = replace(found, rules=[*found.rules, better]), None
        priced = {o.case.config for o in found.options if o.case is not None}
        contended = sum(len(m.contended) for m in here.sizes() if m.config in priced)
        note, code = ("", "") if pick else (found.rules[-1].message, found.rules[-1].code)
        best = g[g["config"] == found.rules[-1].config] if code == f.BETTER_UNFITTED else g.iloc[:0]
        out.append(Pick(task, str(workload), found, pick, note, contended, code,
                        best["case"].iloc[0] if len(best) else None, quality(best).text if len(best) else "",
                        machine, own))
    return sorted(out, key=lambda p: (p.task, p.workload))
