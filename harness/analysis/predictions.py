"""`sizeup fit`: from result files to predictions: time and memory at a target size, time with
more threads, where the GPU overtakes the CPU, and how well the fits predict larger measured sizes."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from harness.analysis import scaling
from harness.run.backends import BACKENDS
from harness.analysis.significance import samples


@dataclass(frozen=True)
class SizeModel:
    family: str
    unit: str
    time: scaling.SizeFit
    memory: scaling.MemoryFit | None


def _clean(rows: pd.DataFrame) -> pd.DataFrame:
    """Undisturbed repeats wherever a size and thread count has any (the fit must not learn from
    contention); a thread count whose repeats were all disturbed keeps them rather than vanish."""
    point = pd.MultiIndex.from_frame(rows[["size", "threads"]])
    clean_points = set(point[~rows["disturbed"].to_numpy()])
    return rows[~rows["disturbed"].to_numpy() | ~point.isin(clean_points)]


def size_models(rows: pd.DataFrame, phase: str = "fit") -> list[SizeModel]:
    """A time and memory fit for every configuration measured at three or more sizes."""
    out = []
    column = f"{phase}_s"
    for name, g in rows.groupby("family", sort=True):
        g = _clean(g[g[column].notna()])
        sizes = sorted(g["size"].unique())
        if len(sizes) < 3:
            continue
        by_size = [samples(g[g["size"] == n], column) for n in sizes]
        time = scaling.fit_time(sizes, by_size)
        peaks = g.groupby("size")["peak_memory_bytes"].max().dropna()
        memory = scaling.fit_memory(list(peaks.index), list(peaks.values)) if len(peaks) >= 2 else None
        out.append(SizeModel(str(name), str(g["size_unit"].iloc[0]), time, memory))
    return out


@dataclass(frozen=True)
class Check:
    family: str
    size: int
    beyond: float  # measured size / largest fitted size
    predicted: scaling.Prediction
    measured: float
    memory_predicted: float | None
    memory_measured: float | None

    @property
    def error(self) -> float:
        return self.predicted.value / self.measured - 1

    @property
    def memory_error(self) -> float | None:
        if self.memory_predicted is None or not self.memory_measured:
            return None
        return self.memory_predicted / self.memory_measured - 1


def checks(models: Sequence[SizeModel], later: pd.DataFrame, phase: str = "fit") -> list[Check]:
    """Each model's prediction at sizes measured elsewhere (larger than it was fitted on) against the measurement."""
    out = []
    column = f"{phase}_s"
    for m in models:
        g = later[(later["family"] == m.family) & later[column].notna()]
        for size in sorted(set(g["size"]) - set(m.time.sizes)):
            at = _clean(g[g["size"] == size])
            peak = at["peak_memory_bytes"].max()
            out.append(Check(m.family, int(size), size / max(m.time.sizes), m.time.predict(size),
                             float(np.median(samples(at, column))),
                             m.memory(size) if m.memory else None, None if pd.isna(peak) else float(peak)))
    return out


def thread_models(rows: pd.DataFrame, phase: str = "fit") -> list[tuple[str, scaling.ThreadFit, int]]:
    """Amdahl fits for configurations measured at two or more thread counts (same size); with the
    machine's physical cores, so a sweep past them is reported as SMT."""
    column = f"{phase}_s"
    keyed = rows.assign(key=[re.sub(r"/t=\d+", "/t=*", c, count=1) for c in rows["case_id"]])
    out = []
    for key, g in keyed.groupby("key", sort=True):
        g = _clean(g[g[column].notna()])
        threads = sorted(g["threads"].unique())
        if len(threads) < 2:
            continue
        fit = scaling.fit_threads(threads, [samples(g[g["threads"] == t], column) for t in threads])
        out.append((str(key), fit, int(g["physical_cores"].min() or 0)))
    return out


def crossovers(models: Sequence[SizeModel]) -> list[tuple[str, str, scaling.Crossover, str]]:
    """Each GPU configuration against its CPU twin's, both fitted over sizes."""
    by_family = {m.family: m for m in models}
    out = []
    for m in models:
        workload_model, _, rest = m.family.partition("@")
        backend, _, tail = rest.partition("/")
        twin = BACKENDS.get(backend) and BACKENDS[backend].twin
        if not twin:
            continue
        prefix = f"{workload_model}@{twin}/"
        # The CPU twin of the same work: any thread count, the most threads first (all host cores).
        cpu = sorted((f for f in by_family if f.startswith(prefix) and _strip_threads(f) == _strip_threads(
            prefix + tail)), key=lambda f: -int(re.search(r"/t=(\d+)", f).group(1)))
        if cpu:
            out.append((cpu[0], m.family, scaling.crossover(by_family[cpu[0]].time, m.time), m.unit))
    return out


def grid_models(rows: pd.DataFrame, phase: str = "fit") -> list[tuple[str, scaling.GridFit, tuple[int, int]]]:
    """Size-and-threads fits for configurations measured at two or more sizes and thread counts;
    with the smallest and largest size measured."""
    column = f"{phase}_s"
    keyed = rows.assign(key=[re.sub(r"/n=\d+/t=\d+", "/n=*/t=*", c, count=1) for c in rows["case_id"]])
    out = []
    for key, g in keyed.groupby("key", sort=True):
        if "@spark/" in str(key):  # Spark's own fit: spark_models
            continue
        g = _clean(g[g[column].notna()])
        medians = g.groupby(["size", "threads"])[column].median()
        sizes, threads = medians.index.get_level_values(0), medians.index.get_level_values(1)
        if len(medians) < 3 or sizes.nunique() < 2 or threads.nunique() < 2:
            continue
        out.append((str(key), scaling.fit_grid(sizes, threads, medians.to_numpy()), (int(sizes.min()), int(sizes.max()))))
    return out


@dataclass(frozen=True)
class SparkFit:
    key: str  # workload/model@spark/n=*/t=*
    time: scaling.ErnestFit
    memory: scaling.MemoryFit | None  # the whole local Spark (JVM and Python workers), by size
    sizes: tuple[int, int]


def spark_models(rows: pd.DataFrame, phase: str = "fit") -> list[SparkFit]:
    """Ernest fits for Spark configurations measured at two or more sizes and core counts."""
    column = f"{phase}_s"
    rows = rows[rows["backend"] == "spark"]
    keyed = rows.assign(key=[re.sub(r"/n=\d+/t=\d+", "/n=*/t=*", c, count=1) for c in rows["case_id"]])
    out = []
    for key, g in keyed.groupby("key", sort=True):
        g = _clean(g[g[column].notna()])
        medians = g.groupby(["size", "threads"])[column].median()
        sizes, cores = medians.index.get_level_values(0), medians.index.get_level_values(1)
        if len(medians) < 4 or sizes.nunique() < 2 or cores.nunique() < 2:
            continue
        peaks = g.groupby("size")["peak_memory_bytes"].max().dropna()
        memory = scaling.fit_memory(list(peaks.index), list(peaks.values)) if len(peaks) >= 2 else None
        out.append(SparkFit(str(key), scaling.fit_ernest(sizes, cores, medians.to_numpy()), memory,
                            (int(sizes.min()), int(sizes.max()))))
    return out


@dataclass(frozen=True)
class OutOfCore:
    external: str  # families
    in_memory: str
    sizes: tuple[int, ...]  # measured by both
    ratios: tuple[float, ...]  # out-of-core fit time / in-memory fit time, per size
    memory: tuple[float | None, float | None]  # fit-phase GiB per million items: out of core, in memory


def out_of_core(rows: pd.DataFrame) -> list[OutOfCore]:
    """Each out-of-core model (`<model>_external`) against the in-memory model on the same sizes.

    Memory is the fit phase's sampled peak: the case's peak is often set by generating the data,
    which both share."""
    def slope(g: pd.DataFrame) -> float | None:
        peaks = g.groupby("size")["fit_peak_bytes"].max().dropna()
        return scaling.fit_memory(list(peaks.index), list(peaks)).per_item * 1e6 / 2**30 if len(peaks) >= 2 else None

    out = []
    for name in sorted(set(rows["family"])):
        workload_model, at, rest = name.partition("@")
        if not workload_model.endswith("_external"):
            continue
        twin = workload_model.removesuffix("_external") + at + rest
        ext, mem = rows[rows["family"] == name], rows[rows["family"] == twin]
        sizes = sorted(set(ext["size"]) & set(mem["size"]))
        if not sizes:
            continue
        ratios = tuple(float(ext[ext["size"] == n]["fit_s"].median() / mem[mem["size"] == n]["fit_s"].median())
                       for n in sizes)
        out.append(OutOfCore(name, twin, tuple(int(n) for n in sizes), ratios, (slope(ext), slope(mem))))
    return out


def _strip_threads(family: str) -> str:
    return re.sub(r"/t=\d+", "", family, count=1)


def render(models: Sequence[SizeModel], target: float | None, found: Sequence[Check],
           threads: Sequence[tuple[str, scaling.ThreadFit, int]], cores: int | None,
           crossing: Sequence[tuple[str, str, scaling.Crossover, str]],
           outside: Sequence[OutOfCore] = (),
           grids: Sequence[tuple[str, scaling.GridFit, tuple[int, int]]] = (),
           spark: Sequence[SparkFit] = ()) -> RenderableType:
    parts: list[RenderableType] = []
    if models:
        table = Table(title=Text("time and memory against data size (fit phase)"), header_style="bold")
        columns = ["configuration", "sizes", "model", "exponent", "LOO error", "last local exp.",
                   "memory: fixed + per item", "GiB per million"]
        if target:
            columns += [f"time at {target:,.0f}", "95% interval", f"memory at {target:,.0f}"]
        for c in columns:
            table.add_column(c, no_wrap=c == "configuration")
        warnings = []
        for m in models:
            t = m.time
            memory = f"{m.memory.fixed / 2**20:,.0f} MiB + {m.memory.per_item:,.0f} B" if m.memory else ""
            per_million = f"{m.memory.per_item * 1e6 / 2**30:.3f}" if m.memory else ""
            cells = [Text(m.family), f"{min(t.sizes):,.0f}-{max(t.sizes):,.0f} ({len(t.sizes)})", t.curve.kind,
                     f"{t.curve.exponent:.2f}", f"{math.expm1(t.loo_error):.1%}", f"{t.local_exponents()[-1]:.2f}",
                     memory, per_million]
            if target:
                p = t.predict(target)
                cells += [f"{p.value:.4g} s", f"{p.lo:.4g}-{p.hi:.4g} s",
                          f"{m.memory(target) / 2**30:.2f} GiB" if m.memory else ""]
                if p.extrapolated_far:
                    warnings.append(f"{m.family}: {p.beyond:.0f}x past the largest measured size")
            table.add_row(*cells)
        parts.append(table)
        if warnings:
            parts.append(Text("Warning: extrapolating more than 10x: " + "; ".join(warnings), style="yellow"))
    if found:
        parts.append(_render_checks(found))
    if threads:
        table = Table(title=Text("time against threads (Amdahl)"), header_style="bold")
        for c in ("configuration", "threads", "serial fraction [95%]", "efficiency", "note",
                  *([f"predicted at {cores} threads"] if cores else [])):
            table.add_column(c, no_wrap=c == "configuration")
        for key, fit, physical in threads:
            note = (f"past the {physical} physical cores: SMT siblings" if physical and max(fit.threads) > physical
                    else "physical cores")
            cells = [Text(key), ",".join(map(str, fit.threads)),
                     f"{fit.serial:.3f} [{fit.serial_lo:.3f}-{fit.serial_hi:.3f}]",
                     " ".join(f"{e:.0%}" for e in fit.efficiency()), note]
            if cores:
                cells.append(f"{fit(cores):.4g} s")
            table.add_row(*cells)
        parts.append(table)
        if drifting := _size_dependent(threads):
            parts.append(Text("Warning: the serial fraction depends on the data size for " + "; ".join(drifting)
                              + ": use the size-and-threads fit, or the thread fit nearest the size you size for.",
                              style="yellow"))
    if grids:
        table = Table(title=Text("time against size and threads: fixed + serial*n + parallel*n/p"),
                      header_style="bold")
        columns = ["configuration", "points", "serial fraction at smallest / largest size"]
        if target or cores:
            columns.append(f"predicted at {f'{target:,.0f}' if target else 'the largest size'}"
                           f"{f' and {cores} threads' if cores else ''}")
        for c in columns:
            table.add_column(c, no_wrap=c == "configuration")
        for key, grid, (smallest, largest) in grids:
            cells = [Text(key), str(grid.points), f"{grid.serial_fraction(smallest):.2f} at {smallest:,} / "
                     f"{grid.serial_fraction(largest):.2f} at {largest:,}"]
            if target or cores:
                cells.append(f"{grid(target or largest, cores or 1):.4g} s")
            table.add_row(*cells)
        parts.append(table)
    if spark:
        parts.append(_render_spark(spark, target, cores))
    for o in outside:
        gib = " ".join(f"{x:.3f}" if x is not None else "?" for x in o.memory)
        parts.append(Text(f"{o.external} against {o.in_memory}: out-of-core fit takes "
                          f"{np.median(o.ratios):.2f}x the in-memory time (range {min(o.ratios):.2f}-"
                          f"{max(o.ratios):.2f}x over {len(o.sizes)} sizes up to {max(o.sizes):,}); fit-phase peak in GiB per "
                          f"million rows, out of core then in memory (the generated data the harness holds "
                          f"included): {gib}"))
    for cpu, gpu, cross, unit in crossing:
        parts.append(Text(f"{gpu} against {cpu}: {cross.describe(unit)}"))
    if not parts:
        parts.append(Text("Nothing to fit: a size fit needs one configuration at three or more sizes "
                          "(`--suite sizing`), a thread fit two or more thread counts at one size."))
    return Group(*parts)


def _size_dependent(threads: Sequence[tuple[str, scaling.ThreadFit, int]]) -> list[str]:
    """Configurations whose serial fractions at two sizes have disjoint intervals."""
    by_config: dict[str, list[tuple[int, scaling.ThreadFit]]] = {}
    for key, fit, _ in threads:
        match = re.search(r"/n=(\d+)/", key)
        if match:
            by_config.setdefault(key.replace(match.group(0), "/n=*/"), []).append((int(match.group(1)), fit))
    said = []
    for config, fits in sorted(by_config.items()):
        fits.sort(key=lambda pair: pair[0])
        if any(a.serial_hi < b.serial_lo or b.serial_hi < a.serial_lo for (_, a), (_, b) in zip(fits, fits[1:])):
            said.append(f"{config} (" + ", ".join(f"{f.serial:.2f} at {n:,}" for n, f in fits) + ")")
    return said


def _render_checks(found: Sequence[Check]) -> RenderableType:
    table = Table(title=Text("predicted against measured"), header_style="bold")
    for c in ("configuration", "size", "x largest fitted", "predicted", "95% interval", "measured", "error",
              "memory error"):
        table.add_column(c, no_wrap=c == "configuration")
    for c in found:
        inside = c.predicted.lo <= c.measured <= c.predicted.hi
        table.add_row(Text(c.family), f"{c.size:,}", f"{c.beyond:.1f}", f"{c.predicted.value:.4g} s",
                      f"{c.predicted.lo:.4g}-{c.predicted.hi:.4g} s", f"{c.measured:.4g} s",
                      Text(f"{c.error:+.1%}", style="" if inside else "yellow"),
                      "" if c.memory_error is None else f"{c.memory_error:+.1%}")
    errors = [abs(c.error) for c in found]
    memory = [abs(c.memory_error) for c in found if c.memory_error is not None]
    worst = max(found, key=lambda c: abs(c.error))
    summary = (f"time: median absolute error {np.median(errors):.1%}, worst {worst.error:+.1%} ({worst.family} "
               f"at {worst.size:,})")
    if memory:
        summary += f"; memory: median absolute error {np.median(memory):.1%}, worst {max(memory):.1%}"
    return Group(table, Text(summary))


def _render_spark(spark: Sequence[SparkFit], target: float | None, cores: int | None) -> RenderableType:
    table = Table(title=Text("Spark: time against size and cores, a + b*n/p + c*log(p) + d*p (Ernest)"),
                  header_style="bold")
    columns = ["configuration", "points", "fixed a", "b per item x core", "c", "d", "efficiency at the largest size",
               "memory: fixed + per item"]
    if target or cores:
        columns.append(f"predicted at {f'{target:,.0f}' if target else 'the largest size'}, {cores or 2} cores")
    for c in columns:
        table.add_column(c, no_wrap=c == "configuration")
    for s in spark:
        fit, (_, largest) = s.time, s.sizes
        top = fit.cores[1]
        cells = [Text(s.key), str(fit.points), f"{fit.fixed:.3g} s", f"{fit.parallel * 1e6:.3g} us",
                 f"{fit.tree:.3g} s", f"{fit.all_to_all:.3g} s",
                 f"{fit.efficiency(largest, top):.0%} on {top:g} cores at {largest:,}",
                 f"{s.memory.fixed / 2**20:,.0f} MiB + {s.memory.per_item:,.0f} B" if s.memory else ""]
        if target or cores:
            cells.append(f"{fit(target or largest, cores or 2):.4g} s")
        table.add_row(*cells)
    return table
