"""The commands that read results and print: show, compare, fit, recommend, report, and the catalogs
(list, catalog) and export. Each loads, computes one Analysis where it needs fits, and renders."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

from harness import records
from harness.commands import sizeup
from harness.errors import EXIT_SLOWER, SizeupError, did_you_mean

CATALOG_ROWS = 200  # `catalog` shows these; a table of a million rows is read in the file, not the terminal

if TYPE_CHECKING:
    import pandas as pd

    from harness.analysis.compute import Analysis
    from harness.analysis.frame import Loaded


def load(patterns: list[str]) -> list[Loaded]:
    """frame.load, a file found in a folder or glob that cannot be read passed over and said on stderr."""
    from harness.analysis import frame

    passed: list[str] = []
    try:
        return frame.load(patterns, passed)
    finally:
        for reason in passed:
            sys.stderr.write(f"sizeup: passed over {reason}\n")


def newest(path: Path, say: bool = True) -> tuple[Path, records.RunResult]:
    """The result in `path`, or for a folder the newest result file below it (by modification time; JSON that is
    not sizeup's, or cannot be read, passed over), said on stderr (where `say`) so that `show --json` stays JSON."""
    if not path.is_dir():
        return path, records.load(path)
    from harness.analysis import frame

    found = sorted(frame.paths([str(path)]), key=lambda p: (p.stat().st_mtime, str(p)), reverse=True)
    for chosen in found:
        try:
            run = records.load(chosen)
        except records.NotAResult:
            continue
        except SizeupError as exc:
            sys.stderr.write(f"sizeup: passed over {exc}\n")
            continue
        if say:
            sys.stderr.write(f"{path}: the newest sizeup result of {len(found)} JSON file(s), {chosen}\n")
        return chosen, run
    raise SizeupError(f"no sizeup result in {path}{frame.unfinished(path)}")


def show(args: argparse.Namespace, console: Console) -> int:
    from rich.measure import Measurement

    from harness.present.table import WIDTH, render, to_json

    _, run = newest(args.result)
    profiled = bool(run.cases) and run.cases[0].case.workload == records.PROFILE
    if args.json:
        out = to_json(run)
        if profiled:  # what `profile` said of the job: its phases, findings and VM
            from harness.commands.profile import to_json as judged

            out["profile"] = judged(run)
        sys.stdout.write(records.dumps(out, indent=2) + "\n")
    elif args.wide:  # every column, as wide as it needs: a narrower terminal wraps the lines (or `less -S`)
        shown = render(run, wide=True)
        table = shown.renderables[0]
        console.width = max(console.width, Measurement.get(console, console.options.update(width=10**4), table).maximum)
        console.print(shown)
    else:
        console.width = min(console.width, WIDTH)
        console.print(render(run))
    if not args.json and profiled:
        from harness.commands.profile import judge

        judge(run, console)
    return 0


def compare(args: argparse.Namespace, console: Console) -> int:
    from harness.analysis import comparison, frame
    from harness.present.compare import render_comparison, render_devices
    from harness.present.recommend import SUMMARY_WIDTH

    console.width = min(console.width, SUMMARY_WIDTH)  # its notes wrap as a terminal of that width would

    sides = [load([pattern]) for pattern in args.results]
    tables = [frame.rows(side) for side in sides]
    if len(sides) == 1:
        if args.fail:
            raise SizeupError("--fail compares against a baseline: give the baseline, then the results to check")
        pairs = [] if tables[0].empty else [p for _, g in tables[0].groupby("machine", sort=True)
                                            for p in comparison.device_pairs(g)]  # a GPU against its own host
        console.print(render_devices(pairs))
        return 0
    base = tables[0]
    failed = []
    # Profiles time a job whole ('run'), where a benchmark's cases time each phase.
    profiles = all((t["workload"] == records.PROFILE).all() for t in tables if not t.empty)
    args.phase = args.phase or (records.WHOLE_RUN if profiles else "fit")
    for pattern, side, rows in zip(args.results[1:], sides[1:], tables[1:]):
        if base.empty or rows.empty:
            raise SizeupError(f"no finished case to compare in {args.results[0] if base.empty else pattern}")
        found = comparison.compare_sets(base, rows, args.phase, args.alpha)
        only = (len(set(base["case_id"]) - set(rows["case_id"])), len(set(rows["case_id"]) - set(base["case_id"])))
        if not found:
            common = set(base["case_id"]) & set(rows["case_id"])
            said = f"{args.results[0]} and {pattern} have no case in common"
            if common:  # a profile times its whole run, not a fit
                timed = [p for p in phases_timed(base, common) if p in phases_timed(rows, common) and p != args.phase]
                said = f"{args.results[0]} and {pattern}: their cases in common have no {args.phase} time" + (
                    "; compare another phase (" + " or ".join(f"--phase {p}" for p in timed) + ")" if timed else "")
            raise SizeupError(said)
        if {item.path.resolve() for item in side} == {item.path.resolve() for item in sides[0]}:
            console.print(Text(f"{args.results[0]} and {pattern} are the same result file(s): every case is compared "
                               "with itself, so the ratios are 1 by construction", style="yellow"))
        console.print(render_comparison(args.results[0], pattern, found, args.phase,
                                        comparison.machine_notes(sides[0], side), only))
        if args.fail:
            failed += comparison.failures(found, args.fail[1])
    if failed:
        console.print(Text(f"{len(failed)} case(s) slower than the baseline by more than {args.fail[1]:.0%}: "
                           + ", ".join(c.case_id for c in failed), style="red"))
        return EXIT_SLOWER
    return 0


def phases_timed(rows: pd.DataFrame, cases: set[str]) -> list[str]:
    """The phases the rows of `cases` timed: the benchmark's in their order, then a profiled job's own."""
    return records.phase_order(c.removesuffix("_s") for c in rows.columns if c.endswith("_s")
                               and rows.loc[rows["case_id"].isin(cases), c].notna().any())


def say_left_out(analysis: Analysis, console: Console) -> None:
    from harness.analysis.frame import TIME_RANGE_S

    if n := analysis.times_left_out:
        console.print(Text(f"{n} phase time(s) outside {TIME_RANGE_S[0]:g}-{TIME_RANGE_S[1]:g} s (no timer measures "
                           "them) were left out of every figure", style="yellow"))


def fit(args: argparse.Namespace, console: Console) -> int:
    from harness.analysis import backtest, frame
    from harness.analysis.compute import analyse
    from harness.analysis.predict import Check, at_target, checks
    from harness.present.fit import render, render_backtest
    from harness.present.table import WIDTH

    console.width = min(console.width, WIDTH)  # piped too: its tables fold their ids as in a terminal of that width
    if args.csv and not args.backtest:
        raise SizeupError("--csv writes backtests: give --backtest with it")
    if args.backtest and (args.target or args.cores or args.check):
        raise SizeupError("--backtest prints backtests only: leave out --target, --cores and --check")
    if args.csv and not args.csv.parent.is_dir():
        raise SizeupError(f"--csv: no folder {args.csv.parent}")
    loaded = load(args.results)
    rows = frame.rows(loaded)
    _has_workload(rows, args, args.results)
    analysis = analyse(loaded, args.workload, rows)
    if analysis.empty:
        timed = f" with a fit time a timer could measure ({analysis.times_left_out} left out)"
        raise SizeupError("no finished case" + (timed if analysis.times_left_out else "") + " in "
                          + ", ".join(args.results))
    units = sorted(set(analysis.rows["size_unit"].dropna()))
    if args.target and len(units) > 1:
        raise SizeupError(f"--target is a size in one unit, and these results count {', '.join(units)}: give "
                          f"--workload too (one of {', '.join(sorted(set(analysis.rows['workload'])))})")
    say_left_out(analysis, console)
    if args.backtest:
        own = [b for m in analysis.machines for b in m.backtests]
        if args.csv:
            backtest.write(own, args.csv)
        spread = backtest.scatter(m.time for m in analysis.sizes())
        console.print(render_backtest(backtest.judge(own, backtest.calibration(own)), spread))
        return 0
    found: dict[str, list[Check]] = {}
    if args.check:
        later = frame.rows(load(args.check))
        for m in analysis.machines:  # a prediction is checked against the machine that made it
            same = later[later["machine"] == m.machine] if not later.empty else later
            found[m.machine] = checks(m, same) if not same.empty else []
        if not any(found.values()):
            console.print(Text("--check: no configuration of the fits was measured at another size there",
                               style="yellow"))
    at = {m.machine: at_target(m, args.target, args.cores) for m in analysis.machines}
    console.print(render(analysis, at, found))
    return 0


RESULTS = Path("results")
REFERENCES = RESULTS / "reference"  # the committed references


def _reference(path: Path) -> bool:
    """A file of the committed references: in a folder `reference` of a folder `results`, wherever that is."""
    return any(a == RESULTS.name and b == REFERENCES.name for a, b in zip(path.parts, path.parts[1:]))


def own_runs(loaded: list[Loaded]) -> list[Loaded]:
    """`recommend`'s results where none are named: those under results/ except the committed references, said on
    stderr; the references where no other run was measured (a profile measures no size: it does not count).

    A reference VM shares this one's id where it is the CI's type, and pooled with a user's make bench run it
    changed that run's answers: fits of two days' speeds, 'low' for all 5 workloads where the run alone (and the
    summary make bench printed) said 'medium'."""
    own = [item for item in loaded if not _reference(item.path)]
    if not any(c.case.workload != records.PROFILE for item in own for c in item.run.cases):
        if len(own) < len(loaded):
            sys.stderr.write(f"{RESULTS}: no run of yours yet; answering from the committed references ({REFERENCES})"
                             "\n")
        return loaded
    if len(own) < len(loaded):
        sys.stderr.write(f"{RESULTS}: your runs, not the committed references ({REFERENCES}): name both to pool "
                         "them\n")
    return own


def say_pooled(loaded: list[Loaded]) -> None:
    """Say on stderr where results named pool runs with the committed references of the same machine id (`recommend
    results`): a machine's fits take all its runs."""
    machines: dict[bool, set[str]] = {True: set(), False: set()}
    for item in loaded:
        machines[_reference(item.path)].add(str(item.run.machine.get("id")))
    if shared := sorted(machines[True] & machines[False]):
        sys.stderr.write(f"pooled with the committed references ({REFERENCES}) of the same machine id "
                         f"({', '.join(shared)}): its fits take all its runs; name your runs alone to leave them out\n")


def _has_workload(rows: pd.DataFrame, args: argparse.Namespace, sources: list[str]) -> None:
    """Refuse a --workload that no finished case of the results ran, and `profile`: a profiled job has one size."""
    if args.workload == records.PROFILE:
        raise SizeupError("a profiled job is measured at one size, so nothing is fitted or predicted for it: `sizeup "
                          "show` of its result says what it should run on")
    if args.workload is not None and (rows.empty or not (rows["workload"] == args.workload).any()):
        have = sorted(set(rows["workload"]) - {records.PROFILE}) if not rows.empty else []
        raise SizeupError(f"no finished case of workload {args.workload!r}{did_you_mean(args.workload, have)} in these "
                          f"results ({', '.join(sources)})" + (f"; they have {', '.join(have)}" if have else ""))


def recommend(args: argparse.Namespace, console: Console) -> int:
    from harness.analysis import frame
    from harness.analysis.compute import analyse
    from harness.present.recommend import SUMMARY_WIDTH, print_summary, render
    from harness.sizing import catalog
    from harness.sizing import recommend as sizing

    if args.size is not None and args.workload is None:
        raise SizeupError("--size (--rows) is in a workload's unit: give --workload with it")
    vms = catalog.load(args.catalog)
    if args.results:
        loaded = load(args.results)
        say_pooled(loaded)
    elif RESULTS.is_dir():
        loaded = own_runs(load([str(RESULTS)]))
    else:
        raise SizeupError(f"no {RESULTS}/ folder here, so no result to recommend from: run `make bench` (or `sizeup "
                          "run`) first, or name result files")
    sources = args.results or [str(RESULTS)]  # what messages name; the command printed repeats what was typed
    rows = frame.rows(loaded)
    if rows.empty:
        raise SizeupError("no finished case in " + ", ".join(sources))
    _has_workload(rows, args, sources)
    analysis = analyse(loaded, args.workload, rows)
    if args.workload is None:
        picks = sizing.summary(analysis, vms)
        if args.json:
            sys.stdout.write(records.dumps([p.to_dict() for p in picks], indent=2) + "\n")
        else:
            console.width = min(console.width, SUMMARY_WIDTH)
            print_summary(console, picks, " ".join([f"{sizeup()} recommend", shlex.join(args.results)]).rstrip())
        return 0
    size = args.size
    if size is None:  # the summary's size for it
        size = sizing.summary_size(analysis, args.workload)[1]
        if size is None:
            raise SizeupError(f"no configuration of {args.workload} was measured at enough sizes to say a size: give "
                              "--size N")
        unit = analysis.rows.loc[analysis.rows["workload"] == args.workload, "size_unit"].iloc[0]
        sys.stderr.write(f"{args.workload} at {size:,.0f} {unit}, the size the summary answers it at; --size N for "
                         "another\n")
    try:
        found = sizing.recommend(analysis, args.workload, size, vms, args.budget).top(args.top)
    except ValueError as exc:  # a fit these results cannot support
        raise SizeupError(f"{exc} ({', '.join(sources)})") from None
    if args.json:
        sys.stdout.write(records.dumps(found.to_dict(), indent=2) + "\n")
    else:
        console.width = min(console.width, SUMMARY_WIDTH)  # its evidence wraps as a terminal of that width would
        console.print(render(found))
    return 0


def report(args: argparse.Namespace, console: Console) -> int:
    from harness.analysis.compute import analyse
    from harness.present import report
    from harness.present.recommend import SUMMARY_WIDTH, print_summary
    from harness.run import machine
    from harness.sizing import catalog
    from harness.sizing import recommend as sizing

    patterns = args.results
    if not patterns:
        machine_id = machine.fingerprint()["id"]
        try:
            patterns = [str(newest(args.results_dir / machine_id, say=False)[0])]  # its report is named by it
        except SizeupError:  # no folder, or none of its files a result (an interrupted run leaves a journal)
            from harness.analysis.frame import unfinished

            journal = unfinished(args.results_dir / machine_id)
            raise SizeupError(f"no result of machine {machine_id} under {args.results_dir}"
                              + (journal or ": run `sizeup run` first, or name result files")) from None
    analysis = analyse(load(patterns))
    say_left_out(analysis, console)
    vms = catalog.load(args.catalog)
    picks = sizing.summary(analysis, vms) if not analysis.empty else []
    name = records.check_name("run id", analysis.loaded[-1].run.run_id)
    out = Path(args.output) if args.output else args.results_dir / "report" / name
    if out.is_dir() or (args.output or "").endswith("/"):  # a folder named: the report goes in it, not beside it
        out /= name
    html_path, md_path = report.build(analysis, picks, out, args.case, vms)
    console.width = min(console.width, SUMMARY_WIDTH)
    if not report.profiles_only(analysis.loaded):
        print_summary(console, picks, f"{sizeup()} recommend {shlex.join(patterns)}")
    console.print(f"Report: {html_path}\nSummary: {md_path}")
    return 0


def list_all(args: argparse.Namespace, console: Console) -> int:
    from harness.present.table import WIDTH, compact
    from harness.run import plan
    from harness.run.backends import BACKENDS
    from workloads import catalogue

    console.width = min(console.width, WIDTH)  # piped too: as a terminal of that width shows it
    available = {name: b.probe() for name, b in BACKENDS.items()}
    workloads = compact("Workloads", ("workload", "family", "sizes", "models @ backends", "quality target"),
                        wraps=("sizes",))
    for w in catalogue().values():
        models = "\n".join(f"{m.name} @ {'/'.join(m.backends)}" for m in w.models)
        sizes = ", ".join(f"{s:,}" for s in w.sizes) + f" {w.size_unit}" if w.sizes else "your data"
        target = str(w.target or "")
        workloads.add_row(w.name, w.family, sizes, models, target)
    backends = compact("Backends", ("backend", "device", "available", "details"), wraps=("details",))
    for name, b in BACKENDS.items():
        a = available[name]
        backends.add_row(name, b.device, Text("yes", "green") if a.ok else Text("no", "red"), a.reason)
    suites = ", ".join(sorted(p.stem for p in plan.SUITES_DIR.glob("*.toml")))
    console.print(workloads, backends, f"Suites: {suites}")
    return 0


def catalog(args: argparse.Namespace, console: Console) -> int:
    from harness.present.table import WIDTH, compact
    from harness.sizing import catalog

    vms = catalog.load(args.file)
    console.width = min(console.width, WIDTH)  # piped too: a source, often long and shared, is said once below
    table = compact(f"VM catalog {args.file or catalog.DEFAULT}",
                    ("name", "kind", "vCPUs", "memory GiB", "GiB/vCPU", "GPUs", "$/hour", "region", "source"),
                    folds=("name", "region"), wraps=("GPUs",))
    sources: dict[str, int] = {}
    for vm in vms[:CATALOG_ROWS]:
        gpus = f"{vm.gpu_count}x {vm.gpu_model} {vm.gpu_memory_gib:g} GiB" if vm.gpu_count else ""
        note = sources.setdefault(vm.source, len(sources) + 1)
        table.add_row(Text(vm.name), vm.kind, str(vm.vcpus), f"{vm.memory_gib:g}", f"{vm.gib_per_vcpu:.1f}", gpus,
                      f"{vm.price_per_hour:.3f}", Text(vm.region), f"[{note}]")
    console.print(table)
    console.print(Text("\n".join(f"[{k}] {source}" for source, k in sources.items())))
    if len(vms) > CATALOG_ROWS:
        console.print(f"The first {CATALOG_ROWS} of {len(vms):,} VM sizes; every one is checked and priced against.")
    return 0


def export(args: argparse.Namespace, console: Console) -> int:
    from harness.present.export import pytest_benchmark

    _, run = newest(args.result)
    text = records.dumps(pytest_benchmark(run), indent=2) + "\n"
    if args.output:
        records.write_atomic(args.output, text)
    else:
        sys.stdout.write(text)
    if not run.complete:
        print(f"sizeup: warning: {args.result} is an unfinished run ({len(run.cases)} of {len(run.plan)} cases); "
              "the export is marked partial", file=sys.stderr)
    return 0
