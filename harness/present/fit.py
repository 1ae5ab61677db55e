"""`sizeup fit` in the terminal: the fits of an Analysis, what they predict at a target, and how
they did against larger measured sizes. Formats what harness.analysis computed; computes nothing."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from harness.analysis import backtest, scaling
from harness.analysis.compute import Analysis, MachineFits
from harness.analysis.fits import SparkFit, size_dependent
from harness.analysis.predict import AtTarget, Check, Estimate
from harness.present import calibration
from harness.present.table import Ident, compact
from harness.records.figures import seconds
from harness.sizing.options import gib


def _table(title: str, columns: Sequence[str], wraps: Sequence[str] = ()) -> Table:
    """Readable in a 100-column terminal: the configuration's id, the longest cell, folds (table.compact)."""
    return compact(title, columns, folds=("configuration",), wraps=wraps)


def render(analysis: Analysis, at: dict[str, AtTarget], found: dict[str, list[Check]]) -> RenderableType:
    """Every machine's fits, each under its own titles where there are several (fits never mix machines);
    `at` and `found` are by machine id."""
    several = len(analysis.machines) > 1
    parts = [part for m in analysis.machines
             for part in _machine(m, at[m.machine], found.get(m.machine, []), f" on {m.machine}" if several else "")]
    if not parts:
        parts.append(Text("Nothing to fit: a size fit needs one configuration at three or more sizes "
                          "(`--suite sizing`), a thread fit two or more thread counts at one size."))
    return Group(*parts)


def _machine(fitted: MachineFits, at: AtTarget, found: Sequence[Check], on: str) -> list[RenderableType]:
    target, cores = at.target, at.cores
    models, threads = fitted.sizes, fitted.threads
    parts: list[RenderableType] = []
    if models:
        table = _table(f"time and memory against data size (fit phase){on}",
                       ["configuration", "sizes", "model", "exp.", "LOO", "last", "memory", "per item"])
        for m in models:
            t = m.time
            table.add_row(Ident(m.config), f"{t.fitted_sizes[0]:,.0f}-{max(t.sizes):,.0f} ({len(t.fitted_sizes)})"
                          + (f" of {len(t.sizes)}" if t.start else ""), t.curve.kind,
                          f"{t.curve.exponent:.2f}", f"{math.expm1(t.loo_error):.1%}", f"{t.step_exponents()[-1]:.2f}",
                          f"{m.memory.fixed / 2**20:,.0f} MiB" if m.memory else "",
                          f"{m.memory.per_item:,.0f} B" if m.memory else "")
        parts.append(table)
        parts.append(Text("exp.: the fitted curve's exponent; LOO: its leave-one-out error; last: how fast time grew "
                          "over the last step of 2x or more measured (size^last; between the last two sizes where "
                          "they span fewer than two such steps), one of the two steps the fixed-cost rule reads; "
                          "memory: the fixed part, then bytes per item.",
                          style="dim"))
        warnings = []
        if target:
            table = _table(f"at {target:,.0f}, on the threads measured{on}",
                           ["configuration", "time", "95% interval", "memory [95%]", "confidence"])
            for m in models:
                e = at.sizes[m.config]
                table.add_row(Ident(m.config), *time_cells(e), memory_text(e), e.level)
                if e.time.extrapolated_far:
                    warnings.append(f"{m.config}: {e.time.beyond:.0f}x past the largest measured size")
            parts.append(table)
            if any(at.sizes[m.config].time.too_wide for m in models):
                parts.append(NO_TIME)
        if warnings:
            parts.append(Text("Warning: extrapolating more than 10x: " + "; ".join(warnings), style="yellow"))
        contended = [f"{m.config}: {', '.join(f'{n:,}' for n in m.contended)} kept (too few clean sizes), so its "
                     "predictions are unreliable" for m in models if m.contended]
        contended += [f"{m.config}: {', '.join(f'{n:,}' for n in m.left_out)} left out" for m in models if m.left_out]
        if contended:
            parts.append(Text("Sizes measured only while other processes used the CPU: " + "; ".join(contended),
                              style="yellow"))
        apart = [f"  {m.config}: " + ", ".join(f"{run} ({ratio:.2g}x)" for run, ratio in m.apart)
                 for m in models if m.apart]
        if apart:
            parts.append(Text("\n".join(["Runs left out of a time fit, with their time at the same sizes against the "
                                         "newest run's (the machine ran at another speed then):", *apart]),
                              style="yellow"))
        regimes = [(m.config, step) for m in models if (step := m.time.regime_step())]
        if regimes:
            where = "; ".join(f"{config}: from {first:,.0f} (time grew as size^{grew:.1f} from {below:,.0f})"
                              for config, (below, first, grew) in regimes)
            parts.append(Text("Fitted past a change of regime (a step faster than size^"
                              f"{scaling.REGIME:g} and over 2x: the sizes below run another way, left out of the "
                              f"curve, kept in the backtests): {where}", style="yellow"))
    if at.answers:
        parts.append(_answers(at, on))
    if found:
        parts.append(_checks(found, on))
    if threads:
        table = _table(f"time against threads (Amdahl){on}",
                       ("configuration", "threads", "serial fraction [95%]", "efficiency", "note",
                        *([f"at {cores} threads"] if cores else [])))
        for t in threads:
            fit, physical = t.fit, t.physical_cores
            note = (f"past the {physical} physical cores: SMT siblings" if physical and max(fit.threads) > physical
                    else "physical cores")
            cells = [Ident(t.key), ",".join(map(str, fit.threads)),
                     f"{fit.serial:.3f} [{fit.serial_lo:.3f}-{fit.serial_hi:.3f}]",
                     " ".join(f"{e:.0%}" for e in fit.efficiency()), note]
            if cores:
                cells.append(f"{seconds(at.threads[t.key], 4)} s")
            table.add_row(*cells)
        parts.append(table)
        parts.append(Text("efficiency: at each thread count, the speed-up over the fewest threads measured, divided by "
                          "how many times more threads it had: 100% is perfect scaling; from 1 to 2 threads, 50% is "
                          "no faster",
                          style="dim"))
        if drifting := size_dependent(threads):
            said = [f"{config} (" + ", ".join(f"{t.fit.serial:.2f} at {t.size:,}" for t in fits) + ")"
                    for config, fits in drifting.items()]
            parts.append(Text("Warning: the serial fraction depends on the data size for " + "; ".join(said)
                              + ": use the size-and-threads fit, or the thread fit nearest the size you size for.",
                              style="yellow"))
    if grids := fitted.grids:
        columns = ["configuration", "points", "serial fraction, smallest / largest size"]
        if target or cores:
            columns.append(alone_header(target, f"{cores or 1} thread{'s' if (cores or 1) > 1 else ''}"))
        table = _table(f"time against size and threads: fixed + serial*n + parallel*n/p{on}", columns)
        for g in grids:
            smallest, largest = g.sizes
            cells = [Ident(g.key), str(g.fit.points), f"{g.fit.serial_fraction(smallest):.2f} at {smallest:,} / "
                     f"{g.fit.serial_fraction(largest):.2f} at {largest:,}"]
            if target or cores:
                cells.append(f"{seconds(at.grids[g.key], 4)} s")
            table.add_row(*cells)
        parts.append(table)
        parts.append(Text("Its serial share is fitted over every size and thread count; Amdahl's above, at one size, "
                          "counts the fixed cost as serial too. Where both exist, predictions use this fit."
                          + (ALONE if target or cores else ""), style="dim"))
        sized = {m.case.key(size=False, threads=False) for m in models}
        if target and (alone := [g.key for g in grids if g.key not in sized]):
            parts.append(Text("No size fit (three or more sizes at one thread count) for " + ", ".join(alone)
                              + ": no calibrated prediction; the size-and-threads fit's time above is the model alone.",
                              style="yellow"))
    if fitted.spark:
        parts.append(_spark(fitted.spark, at, on))
    for o in fitted.out_of_core:
        gib = " ".join(f"{x:.3f}" if x is not None else "?" for x in o.memory)
        parts.append(Text(f"{o.external} against {o.in_memory}: out-of-core fit takes "
                          f"{np.median(o.ratios):.2f}x the in-memory time (range {min(o.ratios):.2f}-"
                          f"{max(o.ratios):.2f}x over {len(o.sizes)} sizes up to {max(o.sizes):,}); fit-phase peak "
                          f"in GiB per million rows, out of core then in memory (the generated data the harness holds "
                          f"included): {gib}"))
    for c in fitted.crossings:
        parts.append(Text(f"{c.gpu}{on} against {c.cpu}: {c.found.describe(c.unit)}"))
    return parts


NO_TIME = Text(f"none: the 95% interval spans more than {scaling.WIDEST_INTERVAL:g}x, no time worth acting on (measure "
              "larger sizes, or more thread counts)", style="dim")


def time_cells(e: Estimate) -> list[str]:
    """The time (none where the interval spans over 10x: no prediction) and its interval."""
    p = e.time
    return ["none" if p.too_wide else f"{seconds(p.value, 4)} s", f"{seconds(p.lo, 4)}-{seconds(p.hi, 4)} s"]


def memory_text(e: Estimate) -> str:
    m = e.memory
    return f"{gib(m.value)} GiB [{gib(m.lo)}-{gib(m.hi)}]" if m else ""


def _answers(at: AtTarget, on: str) -> RenderableType:
    """One answer per configuration at the target on `cores`: the one `recommend` and the report give."""
    table = _table(f"at {at.target:,.0f} on {at.cores} vCPUs: the prediction recommend uses{on}",
                   ("configuration", "from", "time", "95% interval", "memory [95%]", "confidence"),
                   wraps=("from",))  # how it was carried to the vCPUs: a sentence
    for e in at.answers:
        how = next((c.message for c in e.caveats if c.code in ("thread-fit", "no-thread-fit")), "")
        source = f"its size fit on {e.model.case.threads} threads" + (f"; {how}" if how else "")
        table.add_row(Ident(e.model.case.key(size=False, threads=False)), source, *time_cells(e), memory_text(e),
                      e.level)
    return Group(table, NO_TIME) if any(e.time.too_wide for e in at.answers) else table


def render_backtest(held: Sequence[backtest.Held], spread: float | None = None) -> RenderableType:
    """`sizeup fit --backtest`: the tables of harness.present.calibration."""
    if not held:
        return Text("Nothing to backtest: a backtest needs a configuration measured at four or more sizes.")
    band_rows, level_rows = calibration.rows(held)
    tables = []
    for title, header, body in (("backtests: fitted on the smallest sizes, predicting the larger ones measured",
                                 calibration.BAND_HEADER, band_rows),
                                ("confidence levels: the promise, and how often it held", calibration.LEVEL_HEADER,
                                 level_rows)):
        table = _table(title, header, wraps=header)  # short cells under long headers: the headers wrap
        for r in body:
            table.add_row(*r)
        tables.append(table)
    if not any(h.level for h in held):  # memory backtests only (as in the report): the levels' table has nothing
        tables[1] = Text("No time was backtested here (a time fit needs four or more sizes to backtest), so no level "
                         "was judged.")
    said = [Text(calibration.scatter(spread))] if spread is not None else []
    return Group(*tables, *said, Text(calibration.JUDGED, style="dim"))


def _checks(found: Sequence[Check], on: str) -> RenderableType:
    table = _table(f"predicted against measured{on}", ("configuration", "size", "x fitted", "predicted",
                                                        "95% interval", "measured", "error", "conf.", "memory error"))
    for c in found:
        inside = c.predicted.lo <= c.measured <= c.predicted.hi
        table.add_row(Ident(c.config), f"{c.size:,}", f"{c.beyond:.1f}", f"{seconds(c.predicted.value, 4)} s",
                      f"{seconds(c.predicted.lo, 4)}-{seconds(c.predicted.hi, 4)} s", f"{seconds(c.measured, 4)} s",
                      Text(f"{c.error:+.1%}", style="" if inside else "yellow"), c.level,
                      "" if c.memory_error is None else f"{c.memory_error:+.1%}")
    errors = [abs(c.error) for c in found]
    memory = [abs(c.memory_error) for c in found if c.memory_error is not None]
    worst = max(found, key=lambda c: abs(c.error))
    summary = (f"time: median absolute error {np.median(errors):.1%}, worst {worst.error:+.1%} ({worst.config} "
               f"at {worst.size:,})")
    if memory:
        summary += f"; memory: median absolute error {np.median(memory):.1%}, worst {max(memory):.1%}"
    return Group(table, Text(summary))


ALONE = (" 'model alone': the fit's own time, with no interval or level; the calibrated prediction recommend uses is "
         "fit --target N --cores C's table 'at N on C vCPUs'.")
SPARK_ALONE = ("'model alone': the Ernest fit's own time, with no interval or level; recommend prices a Spark cluster "
               "from it, at low confidence.")


def alone_header(target: float | None, on: str) -> str:
    return f"model alone at\n{f'{target:,.0f}' if target else 'the largest size'}, {on}"


def _spark(spark: Sequence[SparkFit], at: AtTarget, on: str) -> RenderableType:
    target, cores = at.target, at.cores
    columns = ["configuration", "points", "a", "b per item\nand core", "c", "d", "efficiency\nat the largest",
               "memory, fixed\n+ per item"]
    if target or cores:
        columns.append(alone_header(target, f"{cores or 2} cores"))
    table = _table(f"Spark: time against size and cores, a + b*n/p + c*log(p) + d*p (Ernest){on}", columns)
    for s in spark:
        fit, (_, largest) = s.time, s.sizes
        top = fit.cores[1]
        cells = [Ident(s.key), str(fit.points), f"{fit.fixed:.3g} s", f"{fit.parallel * 1e6:.3g} us",
                 f"{fit.tree:.3g} s", f"{fit.all_to_all:.3g} s",
                 f"{fit.efficiency(largest, top):.0%}, {top:g} cores\nat {largest:,}",
                 f"{s.memory.fixed / 2**20:,.0f} MiB\n+ {s.memory.per_item:,.0f} B" if s.memory else ""]
        if target or cores:
            cells.append(f"{seconds(at.spark[s.key], 4)} s")
        table.add_row(*cells)
    return Group(table, Text(SPARK_ALONE, style="dim")) if target or cores else table
