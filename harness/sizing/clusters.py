"""Spark: what it measured on one machine against single-node training, and clusters priced from its
Ernest fit where no single node can hold the data or meet the budget."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from harness.analysis.backtest import Calibration
from harness.analysis.fits import SparkFit
from harness.records import figures
from harness.sizing import findings as f
from harness.sizing.catalog import VM
from harness.sizing.findings import Finding
from harness.sizing.options import HEADROOM, Option, Quality

MAX_WORKERS = 256  # a larger cluster is past what Spark is measured or sold for here


@dataclass(frozen=True)
class Measured:
    """A Spark configuration measured at two or more sizes and core counts, and the quality it reached."""

    fit: SparkFit
    tag: str  # " on <machine>" where several machines measured
    quality: Quality
    calibration: Calibration | None = None  # its machine's: how far the memory's 95% interval reaches

    def memory_factor(self, size: float) -> float:
        """What a node's predicted memory is multiplied by: HEADROOM, or the top of the memory's calibrated 95%
        interval where that is higher (as one VM must hold: harness.sizing.options.memory_needed)."""
        half = self.calibration.half_width("memory", size / self.fit.sizes[1], True) if self.calibration else None
        return max(HEADROOM, math.exp(half or 0.0))


def measured_locally(config: str, g: pd.DataFrame, measured: pd.DataFrame, unit: str, tag: str,
                     fitted: set[str]) -> Finding:
    """What local Spark (one machine) measured, against the same model on one node at that size (xgboost_spark
    against xgboost), or else the fastest single-node CPU configuration."""
    n = int(g["size"].max())
    fit_s = figures.seconds(g[g['size'] == n]['fit_s'].median())
    text = f"{config}{tag}: fit {fit_s} s at {n:,} {unit} in local Spark (one machine)"
    same = measured[(measured["size"] == n) & ~measured["distributed"] & ~measured["on_gpu"]
                    & measured["fit_s"].notna()]
    twin = same[same["model"] == str(g["model"].iloc[0]).removesuffix("_spark")]
    if not same.empty:
        medians = (twin if not twin.empty else same).groupby("config")["fit_s"].median()
        text += f", against {figures.seconds(medians.min())} s for {medians.idxmin()} on one node"
    if g["grid_key"].iloc[0] not in fitted:
        text += ("; a cluster is priced from a fit over two or more sizes and core counts (`--threads 1,2`), "
                 "which these results lack")
    return Finding(f.SPARK_MEASURED_LOCALLY, text, config)


def clusters(measured: Sequence[Measured], size: float, vms: Sequence[VM], budget_s: float | None, why: str,
             rules: list[Finding]) -> list[Option]:
    """Spark clusters priced from the measured Ernest fit: per measured Spark configuration, the cheapest
    CPU VM type and worker count (plus a driver node of the same type) whose memory holds the data
    (the fit's fixed part on every node, its per-item part spread over the workers, x 1.5 or the top of its
    calibrated 95% interval where higher), meeting
    the budget where one is given."""
    if not measured:
        unmeasured = Finding(f.SPARK_NOT_MEASURED, f"{why}; Spark was not measured (`sizeup run --suite spark`), so no "
                                                   "time or cost")
        # No time: it meets no budget, and misses none where none was given.
        return [Option("Spark cluster", 0, "spark (not measured)", None, None, None, None, None, None, None, None,
                       "low", budget_s is None, [unmeasured])]
    out = []
    for m in measured:
        fit, tag = m.fit, m.tag
        if fit.memory is None:
            rules.append(Finding(f.SPARK_NO_MEMORY, f"{fit.key}{tag}: no peak memory recorded, cannot size a cluster",
                                 fit.key))
            continue
        best = None
        factor = m.memory_factor(size)
        for vm in (vm for vm in vms if not vm.gpu_count):
            room = vm.memory_gib * 2**30 / factor - fit.memory.fixed
            if room <= 0:
                continue
            least = max(1, math.ceil(fit.memory.per_item * size / room))
            for workers in range(least, MAX_WORKERS + 1):  # none where even MAX_WORKERS workers cannot hold it
                seconds = fit.time(size, workers * vm.vcpus)
                cost = seconds / 3600 * (workers + 1) * vm.price_per_hour
                meets = budget_s is None or seconds <= budget_s
                key = (not meets, cost, seconds)
                if best is None or key < best[0]:
                    best = (key, vm, workers, seconds, cost, meets)
        if best is None:
            rules.append(Finding(f.SPARK_NO_VM, f"{fit.key}{tag}: no cluster of at most {MAX_WORKERS} workers of one "
                                                "CPU VM of the catalog holds the data (Spark's fixed memory on each "
                                                "node, its per-item memory spread over the workers)", fit.key))
            continue
        _, vm, workers, seconds, cost, meets = best
        need = (fit.memory.fixed + fit.memory.per_item * size / workers) * factor
        cores = workers * vm.vcpus
        span = f"{fit.time.cores[0]:g}-{fit.time.cores[1]:g}"
        evidence = [Finding(f.CLUSTER_WHY, why),
                    Finding(f.CLUSTER_TIME_FIT, f"time: Ernest fit over {fit.time.points} points ({fit.sizes[0]:,}-"
                                                f"{fit.sizes[1]:,}, {span} cores): {fit.time.fixed:.3g} s fixed + "
                                                f"{fit.time.parallel * 1e6:.3g} us per item per core + "
                                                f"{fit.time.tree:.3g} s log(cores) + {fit.time.all_to_all:.3g} s per "
                                                "core"),
                    Finding(f.CLUSTER_NODES, f"{workers} workers x {vm.vcpus} vCPUs = {cores} cores, plus a driver "
                                             "node of the same size in the cost"),
                    Finding(f.CLUSTER_MEMORY, f"memory per node: {fit.memory.fixed / 2**20:,.0f} MiB fixed + "
                                              f"{fit.memory.per_item:,.0f} B per item spread over the workers, x "
                                              f"{factor:.3g}" + ("" if factor == HEADROOM else
                                                                 " (the top of its 95% interval, "
                                                                 f"{size / fit.sizes[1]:,.0f}x past the sizes "
                                                                 "measured)")),
                    Finding(f.CLUSTER_EXTRAPOLATED, f"measured on {span} local cores: the cores and the network of a "
                                                    "cluster are extrapolated, not measured")]
        out.append(Option(vm.name, workers + 1, fit.key + tag, seconds, None, None, cost, need / 2**30,
                          need / (vm.memory_gib * 2**30), None, None, "low", meets, evidence, **m.quality.fields()))
    return out
