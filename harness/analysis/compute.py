"""One `Analysis` of loaded results, computed once: the rows, and per machine every fit, crossover,
GPU-against-CPU pair and out-of-core comparison. `fit`, `compare`, `recommend`, `report` and
`run --data` read it; the renderers (harness.present) format it and compute nothing.

Fits never mix machines: each machine's rows are fitted on their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from harness.analysis import comparison, fits, frame, scaling


@dataclass(frozen=True)
class MachineFits:
    machine: str
    rows: pd.DataFrame
    sizes: list[fits.SizeModel]
    threads: list[fits.ThreadModel]
    grids: list[fits.GridModel]
    spark: list[fits.SparkFit]
    crossings: list[fits.Crossing]
    out_of_core: list[fits.OutOfCore]
    pairs: list[comparison.DevicePair]

    def size_model(self, config: str) -> fits.SizeModel | None:
        return next((m for m in self.sizes if m.config == config), None)

    def grid(self, key: str) -> fits.GridModel | None:
        return next((g for g in self.grids if g.key == key), None)


def fit_machine(machine: str, rows: pd.DataFrame) -> MachineFits:
    sizes = fits.size_models(rows)
    twins = dict(zip(rows["backend"], rows["twin"]))
    return MachineFits(machine, rows, sizes, fits.thread_models(rows), fits.grid_models(rows),
                       fits.spark_models(rows), fits.crossovers(sizes, twins), fits.out_of_core(rows),
                       comparison.device_pairs(rows))


@dataclass(frozen=True)
class Analysis:
    loaded: tuple[frame.Loaded, ...]
    rows: pd.DataFrame  # every machine's (frame.rows)
    machines: tuple[MachineFits, ...]  # sorted by machine id

    @property
    def empty(self) -> bool:
        return self.rows.empty

    def of(self, workload: str) -> list[tuple[str, MachineFits]]:
        """(machine tag, fits) of the machines that measured `workload`; the tag names the machine only where
        several did, so that each configuration says which one measured it."""
        found = [m for m in self.machines if (m.rows["workload"] == workload).any()]
        return [(f" on {m.machine}" if len(found) > 1 else "", m) for m in found]

    def workloads(self) -> list[str]:
        return sorted(set(self.rows["workload"])) if not self.empty else []

    def sizes(self) -> list[fits.SizeModel]:
        return [m for fitted in self.machines for m in fitted.sizes]

    def pairs(self) -> list[comparison.DevicePair]:
        return [p for fitted in self.machines for p in fitted.pairs]


def analyse(loaded: Sequence[frame.Loaded], workload: str | None = None, rows: pd.DataFrame | None = None) -> Analysis:
    """Everything the commands show of `loaded` (whose rows may be given); with `workload`, of its cases only."""
    rows = frame.rows(loaded) if rows is None else rows
    if workload is not None and not rows.empty:
        rows = rows[rows["workload"] == workload]
    machines = () if rows.empty else tuple(fit_machine(str(m), g) for m, g in rows.groupby("machine", sort=True))
    return Analysis(tuple(loaded), rows, machines)


def case_medians(rows: pd.DataFrame) -> pd.DataFrame:
    """Per case: the median fit time and quality over the counted repeats, the metric, how many repeats."""
    return rows.groupby(["case_id"]).agg(fit_s=("fit_s", "median"), quality=("quality", "median"),
                                         metric=("metric", "first"), repeats=("fit_s", "size"))


def spark_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """For the workloads measured on a distributed engine: each configuration's rows at its most threads,
    labelled 'model@backend, N threads'."""
    rows = rows[rows["workload"].isin(rows.loc[rows["distributed"], "workload"])]
    rows = rows[rows["threads"] == rows.groupby(["workload", "model", "backend"])["threads"].transform("max")]
    return rows.assign(label=rows["model"] + "@" + rows["backend"] + ", " + rows["threads"].astype(str) + " threads")


def spark_medians(rows: pd.DataFrame) -> pd.DataFrame:
    """Median fit time per workload and size (rows) and configuration (columns), from spark_rows."""
    return spark_rows(rows).pivot_table(index=["workload", "size"], columns="label", values="fit_s", aggfunc="median")


@dataclass(frozen=True)
class AtTarget:
    """What `sizeup fit --target N --cores C` asks of one machine's fits, by the fit's configuration key."""

    target: float | None
    cores: int | None
    sizes: dict[str, tuple[scaling.Prediction, float | None]]  # config -> time, memory in bytes
    threads: dict[str, float]  # thread_key -> time at `cores`
    grids: dict[str, float]  # grid_key -> time at the target (else the largest size) and `cores` (else 1)
    spark: dict[str, float]  # grid_key -> time at the target (else the largest size) and `cores` (else 2)


def at_target(fitted: MachineFits, target: float | None, cores: int | None) -> AtTarget:
    sizes = {m.config: (m.time.predict(target), m.memory(target) if m.memory else None)
             for m in fitted.sizes} if target else {}
    threads = {t.key: t.fit(cores) for t in fitted.threads} if cores else {}
    asked = bool(target or cores)
    grids = {g.key: g.fit(target or g.sizes[1], cores or 1) for g in fitted.grids} if asked else {}
    spark = {s.key: s.time(target or s.sizes[1], cores or 2) for s in fitted.spark} if asked else {}
    return AtTarget(target, cores, sizes, threads, grids, spark)
