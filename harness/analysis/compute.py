"""One `Analysis` of loaded results, computed once: the rows, and per machine every fit, crossover,
GPU-against-CPU pair and out-of-core comparison. `fit`, `compare`, `recommend`, `report` and
`run --data` read it; the renderers (harness.present) format it and compute nothing.

Fits never mix machines: each machine's rows are fitted on their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import pandas as pd

from harness.analysis import backtest, comparison, fits, frame


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
    others: list[fits.SizeModel] = field(default_factory=list)  # of its other workloads, where these are of one
    memo: dict = field(default_factory=dict, compare=False, repr=False)  # harness.analysis.predict's, per fits

    @cached_property
    def backtests(self) -> list[backtest.Backtest]:
        """This machine's own (computed where a prediction or a backtest is asked for)."""
        return _backtests(self.sizes)

    @cached_property
    def calibration(self) -> backtest.Calibration:
        """Its backtests and those of its other workloads (`recommend --workload` calibrates as the summary does: a
        level set on a pool of a few tens of backtests turns on a few of them), and the shipped ones."""
        return backtest.calibration(self.backtests + _backtests(self.others))

    def size_model(self, config: str) -> fits.SizeModel | None:
        return next((m for m in self.sizes if m.config == config), None)

    def grid(self, key: str) -> fits.GridModel | None:
        return next((g for g in self.grids if g.key == key), None)


def _backtests(models: Sequence[fits.SizeModel]) -> list[backtest.Backtest]:
    return [b for m in models for b in backtest.of_fit("+".join(m.runs), m.config, m.time, m.memory)]


def fit_machine(machine: str, rows: pd.DataFrame, others: pd.DataFrame | None = None) -> MachineFits:
    """The fits of `rows`; `others`: the machine's rows of its other workloads, where `rows` are of one (their fits
    calibrate it, but those whose backtests are shipped already: refitting the references took seconds)."""
    sizes = fits.size_models(rows)
    twins = dict(zip(rows["backend"], rows["twin"]))
    if others is not None:
        shipped = backtest.shipped_runs()
        runs = others.groupby("config")["run_id"].agg(frozenset)
        others = others[~others["config"].isin([c for c, r in runs.items() if r in shipped.get(c, ())])]
    return MachineFits(machine, rows, sizes, fits.thread_models(rows), fits.grid_models(rows),
                       fits.spark_models(rows), fits.crossovers(sizes, twins), fits.out_of_core(rows),
                       comparison.device_pairs(rows), [] if others is None else fits.size_models(others))


@dataclass(frozen=True)
class Analysis:
    loaded: tuple[frame.Loaded, ...]
    rows: pd.DataFrame  # every machine's (frame.rows)
    machines: tuple[MachineFits, ...]  # sorted by machine id
    times_left_out: int = 0  # phase times no timer could have measured (frame.TIME_RANGE_S): in no figure

    @property
    def empty(self) -> bool:
        return self.rows.empty

    def of(self, workload: str) -> list[tuple[str, MachineFits]]:
        """(machine tag, fits) of the machines that measured `workload`; the tag names the machine only where
        several did, so that each configuration says which one measured it."""
        found = [m for m in self.machines if (m.rows["workload"] == workload).any()]
        return [(f" on {m.machine}" if len(found) > 1 else "", m) for m in found]

    def tag(self, machine: str) -> str:
        """' on MACHINE' where several machines were analysed, else '' (`of` names one only where several measured
        the workload asked)."""
        return f" on {machine}" if len(self.machines) > 1 else ""

    def workloads(self) -> list[str]:
        return sorted(set(self.rows["workload"])) if not self.empty else []

    def sizes(self) -> list[fits.SizeModel]:
        return [m for fitted in self.machines for m in fitted.sizes]

    def pairs(self) -> list[comparison.DevicePair]:
        return [p for fitted in self.machines for p in fitted.pairs]


def analyse(loaded: Sequence[frame.Loaded], workload: str | None = None, rows: pd.DataFrame | None = None) -> Analysis:
    """Everything the commands show of `loaded` (whose rows may be given); with `workload`, of its cases only."""
    rows = frame.rows(loaded) if rows is None else rows
    left_out = 0 if rows.empty else int(rows["times_left_out"].sum())
    if left_out:  # a repeat without a fit time says nothing about training
        rows = rows[rows["fit_s"].notna()]
    every = rows
    if workload is not None and not rows.empty:
        rows = rows[rows["workload"] == workload]
    machines = () if rows.empty else tuple(
        fit_machine(str(m), g, None if workload is None else every[(every["machine"] == m)
                                                                   & (every["workload"] != workload)])
        for m, g in rows.groupby("machine", sort=True))
    return Analysis(tuple(loaded), rows, machines, left_out)


def machine_tags(rows: pd.DataFrame) -> pd.Series:
    """Per row, ' on MACHINE' where the rows come from several machines (a case is never pooled across them),
    else '' (one machine needs no name)."""
    if rows["machine"].nunique(dropna=False) > 1:
        return " on " + rows["machine"].astype(str)
    return pd.Series("", index=rows.index, dtype=object)


def case_medians(rows: pd.DataFrame) -> pd.DataFrame:
    """Per case and machine, by machine, configuration and then size (a case id sorted as text puts n=1264 before
    n=158), indexed by the case id (and the machine where several measured): the median fit time and quality over
    the counted repeats, the metric, how many repeats, whether every one of them was disturbed by other processes
    (its figures were taken under contention), and whether it ran on a GPU."""
    rows = rows.assign(label=rows["case_id"] + machine_tags(rows))
    return rows.groupby(["machine", "config", "size", "label"], dropna=False).agg(
        fit_s=("fit_s", "median"), quality=("quality", "median"), metric=("metric", "first"),
        repeats=("fit_s", "size"), contended=("disturbed", "all"), on_gpu=("on_gpu", "first")).droplevel(
        ["machine", "config", "size"])


def configuration_times(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per configuration (and machine), by workload, machine and then time: its median fit time at the
    largest of the sizes most configurations of its workload measured on that machine (one that did not measure it:
    at its own largest), labelled 'workload: model@backend, N thr.' (and what else tells two apart: 'cap=512MiB'),
    with that size, its unit, whether it ran on a GPU and whether every repeat counted there was disturbed (as
    case_medians: `contended`). A sweep's cases compared at one size, not one bar each: 80 cases of 7 sizes had made
    80 bars. The rows are the repeats counted (records.select_warm)."""
    rows = rows[rows["fit_s"].notna()]
    rows = rows.assign(tag=machine_tags(rows))
    out = []
    for (machine, workload), g in rows.groupby(["machine", "workload"], sort=True):
        configs = {config: c for config, c in g.groupby("config")}
        counts = pd.Series([n for c in configs.values() for n in set(c["size"])]).value_counts()
        shared = max(n for n, k in counts.items() if k == counts.max())
        for c in configs.values():
            at = c[c["size"] == (shared if shared in set(c["size"]) else c["size"].max())]
            first = at.iloc[0]
            out.append({"label": f"{workload}: {first['model']}@{first['backend']}, {first['threads']} thr.",
                        "rest": ",".join(first["case"].said()), "tag": first["tag"],
                        "machine": machine, "workload": workload, "size": int(first["size"]),
                        "unit": first["size_unit"], "fit_s": float(at["fit_s"].median()),
                        "on_gpu": bool(first["on_gpu"]), "contended": bool(at["disturbed"].all())})
    columns = ["label", "workload", "size", "unit", "fit_s", "on_gpu", "contended"]
    if not out:
        return pd.DataFrame(columns=columns)
    table = pd.DataFrame(out)
    twice = table.duplicated(["label", "tag"], keep=False) & (table["rest"] != "")
    rest = table["rest"].where(twice, "").map(lambda r: f" ({r})" if r else "")
    table["label"] = table["label"] + rest + table["tag"]
    return table.sort_values(["workload", "machine", "fit_s"], kind="stable")[columns].reset_index(drop=True)


def spark_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """For the workloads measured on a distributed engine: each configuration's rows at the most threads its machine
    measured, labelled 'model@backend, N threads' (and ' on MACHINE' where several measured)."""
    rows = rows[rows["workload"].isin(rows.loc[rows["distributed"], "workload"])]
    most = rows.groupby(["machine", "workload", "model", "backend"])["threads"].transform("max")
    rows = rows[rows["threads"] == most]
    return rows.assign(label=rows["model"] + "@" + rows["backend"] + ", " + rows["threads"].astype(str) + " threads"
                       + machine_tags(rows))


def spark_medians(rows: pd.DataFrame) -> pd.DataFrame:
    """Median fit time per workload and size (rows) and configuration (columns), from spark_rows."""
    return spark_rows(rows).pivot_table(index=["workload", "size"], columns="label", values="fit_s", aggfunc="median")
