"""From measured rows (harness.analysis.frame) to fitted models: time and memory against size per
configuration, time against threads, time against size and threads, Spark's Ernest fit, where a
GPU overtakes its CPU twin, and out-of-core against in-memory training.

Configurations are grouped on the records' own keys (``config``, ``thread_key``, ``grid_key``)
and fields, never on an id parsed back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from harness.analysis import cores, crossover, scaling
from harness.analysis.significance import samples_by
from harness.records import Case


@dataclass(frozen=True)
class SizeModel:
    config: str
    case: Case  # the configuration's fields (its smallest size)
    unit: str
    time: scaling.SizeFit
    memory: scaling.MemoryFit | None
    contended: tuple[int, ...] = ()  # sizes measured only under contention, kept: too few clean ones
    left_out: tuple[int, ...] = ()  # sizes measured only under contention, left out: enough clean ones
    runs: tuple[str, ...] = ()  # the runs that measured it
    apart: tuple[tuple[str, float], ...] = ()  # runs left out (runs_apart), each with its time / the newest run's


MIN_SIZES = scaling.MIN_FIT_SIZES
SPEED_APART = 1.5  # a run this many times slower or faster than the newest, at the same sizes, is not pooled with it


def runs_apart(g: pd.DataFrame, column: str) -> tuple[pd.DataFrame, tuple[tuple[str, float], ...]]:
    """`g` without the runs that ran SPEED_APART times slower or faster than the newest run of its configuration
    (median over the sizes one measured within the other's range, the other's time there interpolated in log-log;
    a run with no such size is not judged, and stays; one of a single size, a check of a larger size run on another
    day, is judged on it), and those runs with that ratio; `g` as it is where the newest alone has too few sizes to
    fit. The newest decides even where it measured fewer sizes than the run it leaves out.

    One machine id is one kind of VM, not one speed: on a 2-vCPU VM of one id, the sizing sweeps of 2026-11-28 took
    1.6-2.6x the time of 2026-12-02's at the same sizes, configuration by configuration, where three runs of another
    VM over two days stayed within 0.78-1.28x of one another. Pooled, two such speeds make a curve of neither: the
    fit zigzags between the runs and its predictions follow neither (the newest says how the machine runs now)."""
    if g["run_id"].nunique() < 2:
        return g, ()
    newest = _newest(g)
    mine = g[g["run_id"] == newest].groupby("size")[column].median()
    if len(mine) < MIN_SIZES:
        return g, ()
    apart = []
    for run, other in g[g["run_id"] != newest].groupby("run_id"):
        theirs = other.groupby("size")[column].median()
        # log(their time / the newest's), at their sizes within the newest's range and the newest's within theirs
        logs = np.concatenate([_log_ratio(theirs, mine), -_log_ratio(mine, theirs)])
        ratio = float(np.exp(np.median(logs))) if len(logs) else 1.0  # no size in the other's range: not judged
        if max(ratio, 1 / ratio) >= SPEED_APART:
            apart.append((str(run), ratio))
    return g[~g["run_id"].isin([r for r, _ in apart])], tuple(apart)


def _log_ratio(a: pd.Series, b: pd.Series) -> np.ndarray:
    """log(a / b) at a's sizes within b's range, b interpolated in log-log between its sizes (none: b has one)."""
    inside = a[(a.index >= b.index.min()) & (a.index <= b.index.max())] if len(b) > 1 else a.iloc[:0]
    return np.log(inside.to_numpy(float)) - np.interp(np.log(inside.index.to_numpy(float)),
                                                      np.log(b.index.to_numpy(float)), np.log(b.to_numpy(float)))


def clean_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Undisturbed repeats wherever a size and thread count has any (the fit must not learn from
    contention); a thread count whose repeats were all disturbed keeps them rather than vanish."""
    point = pd.MultiIndex.from_frame(rows[["size", "threads"]])
    clean_points = set(point[~rows["disturbed"].to_numpy()])
    return rows[~rows["disturbed"].to_numpy() | ~point.isin(clean_points)]


def _newest(g: pd.DataFrame) -> str:
    return str(g.sort_values(["run_started", "run_id"])["run_id"].iloc[-1])  # a tie: decided by id, not load order


def memory_fit(g: pd.DataFrame, column: str = "peak_memory_bytes") -> scaling.MemoryFit | None:
    """Peak memory by size: each size's largest peak, each run's peaks first moved to the newest run's fixed part.

    What an install loads differs: on one machine a CNN's fixed part took 440 MiB in one venv and 555 MiB in another.
    Each size's largest peak over such runs, the small sizes from one and the large from the other, had made its
    growth 0 bytes per image, and sized a VM of a tenth of the memory. So the peaks of all runs are fitted together,
    each run with its own fixed part and one growth per item, and each run's peaks moved by its fixed part's
    difference from the newest's (where some run measured two sizes or more: the growth comes from within runs).

    The fit keeps the peaks measured (`MemoryFit.peaks`), which floor its predictions (an older install's heavier
    peaks too: a floor errs high) and which its backtests refit: the fixed parts are estimated from every size, and
    would show the backtests the sizes they predict. Fitted so on their smaller sizes only and judged against the
    newest run's peaks, the references' predictions missed by as much either way (median 2.0% against 1.9% up to 2.5x
    past the sizes fitted, 5.9% against 5.7% at 2.5-5x, 18.3% against 19.3% over 10x)."""
    per_run = g.groupby(["run_id", "size"])[column].max().dropna()
    measured = per_run.groupby(level="size").max()
    if len(measured) < 2:
        return None
    runs = per_run.index.get_level_values("run_id")
    # A growth per item needs a run of two sizes: from runs of one size each, every fixed part fits its own peak
    if runs.nunique() > 1 and runs.value_counts().max() > 1:
        sizes = per_run.index.get_level_values("size").to_numpy(float)
        order = sorted(set(runs))
        fixed = dict(zip(order, scaling.relative_nnls(
            [np.asarray(runs == r, float) for r in order] + [sizes / sizes.max()], per_run.to_numpy(float))))
        newest = _newest(g[g["run_id"].isin(order)])
        per_run = np.maximum(per_run + [fixed[newest] - fixed[r] for r in runs], 1.0)
    peaks = per_run.groupby(level="size").max()
    return replace(scaling.fit_memory(list(peaks.index), list(peaks.values)), peaks=tuple(measured.to_numpy(float)))


def size_models(rows: pd.DataFrame, phase: str = "fit") -> list[SizeModel]:
    """A time and memory fit for every configuration measured at three or more sizes."""
    out = []
    column = f"{phase}_s"
    for config, g in rows.groupby("config", sort=True):
        whole = clean_rows(g[g[column].notna()])
        g, apart = runs_apart(whole, column)
        # A size whose repeats were all disturbed never enters a fit silently: left out where enough clean sizes
        # remain, else kept and said (the prediction is then unreliable).
        contended = sorted(int(n) for n, d in g.groupby("size")["disturbed"] if d.all())
        clean = g[~g["size"].isin(contended)]
        left_out = contended if clean["size"].nunique() >= MIN_SIZES else []
        g = clean if left_out else g
        sizes = sorted(g["size"].unique())
        if len(sizes) < MIN_SIZES:
            continue
        by_size = samples_by(g, "size", column)
        time = scaling.fit_time(sizes, [by_size[n] for n in sizes])
        # Memory is no speed: the peaks of runs left out of the time fit (runs_apart) still count.
        out.append(SizeModel(str(config), g.loc[g["size"].idxmin(), "case"], str(g["size_unit"].iloc[0]), time,
                             memory_fit(whole if apart else g), () if left_out else tuple(contended), tuple(left_out),
                             tuple(sorted(set(g["run_id"]))), apart))
    return out


@dataclass(frozen=True)
class ThreadModel:
    key: str  # the configuration at one size, threads open
    grid_key: str  # the same with the size open too
    size: int
    fit: cores.ThreadFit
    physical_cores: int  # of the machine that measured it: past them, SMT siblings


def thread_models(rows: pd.DataFrame, phase: str = "fit") -> list[ThreadModel]:
    """Amdahl fits for configurations measured at two or more thread counts (same size)."""
    column = f"{phase}_s"
    out = []
    for key, g in rows.groupby("thread_key", sort=True):
        if g["threads"].nunique() < 2:  # one thread count: nothing to fit (most groups of a size sweep)
            continue
        g = clean_rows(g[g[column].notna()])
        threads = sorted(g["threads"].unique())
        if len(threads) < 2:
            continue
        by_threads = samples_by(g, "threads", column)
        fit = cores.fit_threads(threads, [by_threads[t] for t in threads])
        physical = g["physical_cores"].min()  # NaN where the machine did not record it
        out.append(ThreadModel(str(key), str(g["grid_key"].iloc[0]), int(g["size"].iloc[0]), fit,
                               0 if pd.isna(physical) else int(physical)))
    return out


def size_dependent(threads: Sequence[ThreadModel]) -> dict[str, list[ThreadModel]]:
    """Configurations whose serial fractions at two sizes have disjoint intervals, with the fits, by size."""
    by_config: dict[str, list[ThreadModel]] = {}
    for t in threads:
        by_config.setdefault(t.grid_key, []).append(t)
    out = {}
    for config, fits in sorted(by_config.items()):
        fits.sort(key=lambda t: t.size)
        if any(a.fit.serial_hi < b.fit.serial_lo or b.fit.serial_hi < a.fit.serial_lo
               for a, b in zip(fits, fits[1:])):
            out[config] = fits
    return out


@dataclass(frozen=True)
class Crossing:
    cpu: str  # configs
    gpu: str
    found: crossover.Crossover
    unit: str


def crossovers(models: Sequence[SizeModel], twins: dict[str, str | None]) -> list[Crossing]:
    """Each GPU configuration against its CPU twin's (`twins`: backend -> its CPU twin), both fitted over
    sizes; the CPU twin of the same work at any thread count, the most threads first (all host cores)."""
    def open_threads(case: Case) -> str:
        return replace(case, threads=0).config

    out = []
    for m in models:
        twin = twins.get(m.case.backend)
        if not twin:
            continue
        wanted = open_threads(replace(m.case, backend=twin))
        cpu = sorted((c for c in models if open_threads(c.case) == wanted), key=lambda c: -c.case.threads)
        if cpu:
            out.append(Crossing(cpu[0].config, m.config, crossover.crossover(cpu[0].time, m.time), m.unit))
    return out


@dataclass(frozen=True)
class GridModel:
    key: str  # grid_key: size and threads open
    fit: cores.GridFit
    sizes: tuple[int, int]  # the smallest and largest measured


def grid_models(rows: pd.DataFrame, phase: str = "fit") -> list[GridModel]:
    """Size-and-threads fits for configurations measured at two or more sizes and thread counts (not Spark's:
    spark_models)."""
    column = f"{phase}_s"
    out = []
    for key, g in rows[~rows["distributed"]].groupby("grid_key", sort=True):
        g = clean_rows(g[g[column].notna()])
        medians = g.groupby(["size", "threads"])[column].median()
        sizes, threads = medians.index.get_level_values(0), medians.index.get_level_values(1)
        if len(medians) < 3 or sizes.nunique() < 2 or threads.nunique() < 2:
            continue
        out.append(GridModel(str(key), cores.fit_grid(sizes, threads, medians.to_numpy()),
                             (int(sizes.min()), int(sizes.max()))))
    return out


@dataclass(frozen=True)
class SparkFit:
    key: str  # grid_key: the configuration with its size and core count open
    time: cores.ErnestFit
    memory: scaling.MemoryFit | None  # the whole local Spark (JVM and Python workers), by size
    sizes: tuple[int, int]


def spark_models(rows: pd.DataFrame, phase: str = "fit") -> list[SparkFit]:
    """Ernest fits for distributed configurations measured at two or more sizes and core counts."""
    column = f"{phase}_s"
    out = []
    for key, g in rows[rows["distributed"]].groupby("grid_key", sort=True):
        g = clean_rows(g[g[column].notna()])
        medians = g.groupby(["size", "threads"])[column].median()
        sizes, used = medians.index.get_level_values(0), medians.index.get_level_values(1)
        if len(medians) < 4 or sizes.nunique() < 2 or used.nunique() < 2:
            continue
        out.append(SparkFit(str(key), cores.fit_ernest(sizes, used, medians.to_numpy()), memory_fit(g),
                            (int(sizes.min()), int(sizes.max()))))
    return out


@dataclass(frozen=True)
class OutOfCore:
    external: str  # configs
    in_memory: str
    sizes: tuple[int, ...]  # measured by both
    ratios: tuple[float, ...]  # out-of-core fit time / in-memory fit time, per size
    memory: tuple[float | None, float | None]  # fit-phase GiB per million items: out of core, in memory


EXTERNAL = "_external"  # an out-of-core model is named after its in-memory twin with this suffix


def out_of_core(rows: pd.DataFrame) -> list[OutOfCore]:
    """Each out-of-core model against the in-memory model on the same sizes.

    Memory is the fit phase's sampled peak: the case's peak is often set by generating the data,
    which both share."""
    def slope(g: pd.DataFrame) -> float | None:
        fit = memory_fit(g, "fit_peak_bytes")
        return fit.per_item * 1e6 / 2**30 if fit else None

    out = []
    for config, g in sorted(rows.groupby("config"), key=lambda item: item[0]):
        case = g["case"].iloc[0]
        if not case.model.endswith(EXTERNAL):
            continue
        twin = replace(case, model=case.model.removesuffix(EXTERNAL)).config
        mem = rows[rows["config"] == twin]
        sizes = sorted(set(g["size"]) & set(mem["size"]))
        if not sizes:
            continue
        ratios = tuple(float(g[g["size"] == n]["fit_s"].median() / mem[mem["size"] == n]["fit_s"].median())
                       for n in sizes)
        out.append(OutOfCore(str(config), twin, tuple(int(n) for n in sizes), ratios, (slope(g), slope(mem))))
    return out
