"""The `sizeup` command: list, run, show, compare, fit, recommend, report, catalog, export.

User mistakes raise SizeupError anywhere below; here they become one line on
stderr and exit code 2. Anything else is a bug and keeps its traceback.

Exit codes: 0 done; 2 bad input or an I/O error (nothing half-written); 3 `run`
finished but some cases failed (error, timeout, oom, crashed); 4 `compare --fail`
found a real slowdown past its threshold; 128 + N the run
was stopped by signal N (130 for Ctrl-C), its finished cases kept in the journal.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, replace
import math
import os
import platform
import signal
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from harness import __version__, records
from harness.run import contention, machine, plan, procfs, runner
from harness.run.backends import BACKENDS
from harness.errors import SizeupError
from harness.analysis.significance import ALPHA, parse_fail
from harness.present.table import PHASES

EXIT_USAGE = 2
EXIT_CASES_FAILED = 3
EXIT_SLOWER = 4
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)  # end a run like Ctrl-C does: clean up, keep the journal
PLAN_FLAGS = ("workloads", "models", "backends", "sizes", "threads", "repeats", "timeout_s", "memory_cap", "sample_hz",
              "rerun_disturbed", "processes")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Piped or logged output keeps whole table rows (and headers) instead of wrapping at 80 columns.
    # No markup: case ids, reasons and file contents print as they are; styles come from Text objects.
    console = Console(highlight=False, markup=False, width=None if sys.stdout.isatty() else 240)
    previous = {s: signal.signal(s, _stop) for s in STOP_SIGNALS}
    try:
        return args.command(args, console)
    except SizeupError as exc:
        print(f"sizeup: error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    except Stopped as exc:
        return 128 + exc.signum
    except BrokenPipeError:  # `sizeup show ... | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the interpreter's final flush is quiet
        return 0
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


class Stopped(BaseException):
    """SIGTERM or SIGHUP, raised where the run is, so that it cleans up as for Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _stop(signum: int, frame: Any) -> None:
    raise Stopped(signum)


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        """One line and exit code 2, like every other bad input (argparse adds the usage block)."""
        self.exit(EXIT_USAGE, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def one_line(text: str) -> str:
    """`text` with newlines and other unprintable characters (from a path or a file) escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="sizeup", description="Measure ML training on this machine.")
    sub = parser.add_subparsers(required=True, metavar="COMMAND", parser_class=Parser)

    p = sub.add_parser("list", help="workloads, backends, and whether each backend is available here")
    p.set_defaults(command=cmd_list)

    p = sub.add_parser("run", help="run a suite of cases and write a result file")
    p.add_argument("--suite", default="quick", help="suite name (quick, full) or a TOML file [quick]")
    p.add_argument("--workloads", type=names, help="comma-separated workload names")
    p.add_argument("--models", type=names, help="comma-separated model names")
    p.add_argument("--backends", type=names, help="comma-separated backend names")
    p.add_argument("--sizes", type=positive_ints("size"), help="comma-separated sizes, replacing the suite's")
    p.add_argument("--threads", type=positive_ints("threads"), help="comma-separated thread counts [physical cores]")
    p.add_argument("--repeats", type=whole_number, help="warm repeats after the cold run [suite's, else 3]")
    p.add_argument("--timeout", type=finite, dest="timeout_s", help="seconds per case [suite's, else 600]")
    p.add_argument("--memory-cap", help="per case: bytes, '8GiB' or '80%%' of memory [suite's, else 80%%]")
    p.add_argument("--sample-hz", type=finite, help="telemetry samples per second (0.1 to 100), 0 to turn off [10]")
    p.add_argument("--rerun-disturbed", type=whole_number, metavar="N",
                   help="per case, up to N extra warm repeats to replace repeats disturbed by other processes [0]")
    p.add_argument("--processes", type=positive_int("processes"), metavar="P",
                   help="run each case in P fresh worker processes; intervals then come from per-process medians [1]")
    p.add_argument("--data", type=Path, metavar="PATH",
                   help="benchmark your own data: a CSV or Parquet table, or a folder of images per class; the task is "
                        "identified and said, then its models run on growing subsamples")
    p.add_argument("--target", type=nonempty, metavar="COLUMN", help="with --data: the column to predict")
    p.add_argument("--task", choices=("classification", "regression", "forecasting", "vision", "nlp"),
                   help="with --data: the task, instead of identifying it")
    p.add_argument("--horizon", type=positive_int("horizon"), metavar="STEPS",
                   help="with --data, forecasting: how many steps to forecast [a tenth of the steps, at most 28]")
    p.add_argument("--spark-master", type=nonempty, metavar="URL",
                   help="run the spark backend's cases on this cluster (spark://host:7077, or Spark Connect sc://...) "
                        "[SIZEUP_SPARK_MASTER or MASTER from the environment, else an embedded local[threads]]")
    p.add_argument("--results-dir", type=Path, default=Path("results"), help="where results go [results]")
    p.add_argument("--resume", nargs="?", const="latest", type=nonempty, metavar="JOURNAL",
                   help="continue an interrupted run (its journal; default the newest of this machine)")
    p.set_defaults(command=cmd_run)

    p = sub.add_parser("show", help="a table of a result file")
    p.add_argument("result", type=Path)
    p.set_defaults(command=cmd_show)

    p = sub.add_parser("compare", help="runs against a baseline (B/A per case), or one run's GPU cases against "
                                       "their CPU twins")
    p.add_argument("results", nargs="+", metavar="RESULTS",
                   help="result files, globs or folders; the first is the baseline A, each further one is compared "
                        "with it (put a glob in quotes to pool its files as one side)")
    p.add_argument("--phase", default="fit", choices=PHASES, help="which phase's time to compare [fit]")
    p.add_argument("--fail", type=fail_threshold, metavar="median:PCT",
                   help="exit 4 when a case is really slower than the baseline by more than PCT, e.g. median:10%%")
    p.add_argument("--alpha", type=finite, default=ALPHA,
                   help=f"the rank test's p-value a verdict needs [{ALPHA:g}, as asv]")
    p.set_defaults(command=cmd_compare)

    p = sub.add_parser("fit", help="fit time and memory against size and threads; predict, and check predictions")
    p.add_argument("results", nargs="+", metavar="RESULTS", help="result files, globs or folders to fit")
    p.add_argument("--target", type=positive_number, help="predict time and memory at this size")
    p.add_argument("--cores", type=positive_int("cores"), help="predict thread-fitted time at this many cores")
    p.add_argument("--check", nargs="+", metavar="RESULTS",
                   help="results at other (larger) sizes: compare each prediction with the measurement")
    p.set_defaults(command=cmd_fit)

    p = sub.add_parser("recommend", help="ranked VM choices for one training run at a target size, with evidence")
    p.add_argument("results", nargs="*", default=["results"], metavar="RESULTS",
                   help="result files, globs or folders [results: this machine's runs and the committed references]")
    p.add_argument("--workload", help="the workload to size for (`sizeup list`) [without it: one line per task "
                                      "family, at 4x the sizes measured]")
    p.add_argument("--size", "--rows", dest="size", type=positive_number,
                   help="the target data size, in the workload's unit (rows, series, images, documents)")
    p.add_argument("--budget", type=positive_number, metavar="SECONDS", help="time budget per training run")
    p.add_argument("--catalog", type=Path, help="VM catalog CSV [harness/data/vm_catalog.csv]")
    p.add_argument("--top", type=positive_int("top"), default=8, help="options shown [8]")
    p.add_argument("--json", action="store_true", help="the same as JSON")
    p.set_defaults(command=cmd_recommend)

    p = sub.add_parser("report", help="an HTML report (plots embedded) and a Markdown summary of results")
    p.add_argument("results", nargs="*", metavar="RESULTS",
                   help="result files, globs or folders [this machine's newest result under --results-dir]")
    p.add_argument("--results-dir", type=Path, default=Path("results"), help="where results are [results]")
    p.add_argument("-o", "--output", type=Path,
                   help="report path without suffix [<results-dir>/report/<run id of the newest result>]")
    p.add_argument("--catalog", type=Path, help="VM catalog CSV for the recommendations [harness/data/vm_catalog.csv]")
    p.add_argument("--case", help="the case whose utilization over time is drawn [the longest]")
    p.set_defaults(command=cmd_report)

    p = sub.add_parser("catalog", help="the VM sizes and prices sizing decisions use (check your own file)")
    p.add_argument("file", nargs="?", type=Path, help="a catalog CSV [harness/data/vm_catalog.csv]")
    p.set_defaults(command=cmd_catalog)

    p = sub.add_parser("export", help="write a result in another tool's format")
    p.add_argument("--format", required=True, choices=["pytest-benchmark"])
    p.add_argument("result", type=Path)
    p.add_argument("-o", "--output", type=Path, help="output file [stdout]")
    p.set_defaults(command=cmd_export)
    return parser


def names(text: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list of names")
    return items


def nonempty(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a journal path (or no value: this machine's newest journal)")
    return text


def positive_ints(what: str) -> Any:
    def parse(text: str) -> list[int]:
        values = []
        for item in text.split(","):
            try:
                value = int(item)
            except ValueError:
                value = 0
            if value <= 0:
                raise argparse.ArgumentTypeError(f"{what} must be a positive integer, got {item.strip()!r}")
            values.append(value)
        return values

    return parse


def positive_int(what: str) -> Any:
    def parse(text: str) -> int:
        (value,) = positive_ints(what)(text) if "," not in text else (0,)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{what} must be one positive integer, got {text!r}")
        return value

    return parse


def finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_number(text: str) -> float:
    value = finite(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def whole_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def cmd_list(args: argparse.Namespace, console: Console) -> int:
    from workloads import catalogue

    available = {name: b.probe() for name, b in BACKENDS.items()}
    workloads = Table(title="Workloads", header_style="bold")
    for col in ("workload", "family", "sizes", "models @ backends", "quality target"):
        workloads.add_column(col)
    for w in catalogue().values():
        models = "\n".join(f"{m.name} @ {'/'.join(m.backends)}" for m in w.models)
        sizes = ", ".join(f"{s:,}" for s in w.sizes) + f" {w.size_unit}"
        target = f"{w.target.metric} {'>=' if w.target.higher_is_better else '<='} {w.target.threshold}" if w.target else ""
        workloads.add_row(w.name, w.family, sizes, models, target)
    backends = Table(title="Backends", header_style="bold")
    for col in ("backend", "device", "available", "details"):
        backends.add_column(col)
    for name, b in BACKENDS.items():
        a = available[name]
        backends.add_row(name, b.device, Text("yes", "green") if a.ok else Text("no", "red"), a.reason)
    suites = ", ".join(sorted(p.stem for p in plan.SUITES_DIR.glob("*.toml")))
    console.print(workloads, backends, f"Suites: {suites}")
    return 0


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    if not procfs.AVAILABLE:
        raise SizeupError(f"sizeup measures on Linux: it reads /proc, which this {platform.system()} system lacks")
    fingerprint = machine.fingerprint()
    if args.spark_master:  # the workers inherit it; each record's backend info names the master it ran on
        os.environ["SIZEUP_SPARK_MASTER"] = args.spark_master
    if args.data is None and (args.target or args.task or args.horizon):
        raise SizeupError("--target, --task and --horizon go with --data PATH")
    if args.resume is not None:
        chosen = [flag for flag in PLAN_FLAGS if getattr(args, flag) is not None]
        if chosen or args.suite != "quick":
            raise SizeupError("--resume continues a run with its own plan and settings; drop "
                              + ", ".join(f"--{f.replace('_', '-')}" for f in chosen or ["suite"]))
        journal = resume_target(args, fingerprint)
    else:
        parsed = own_data(args, console) if args.data is not None else None
        choices = plan.Choices(suite=args.suite, parsed=parsed, **{flag: getattr(args, flag) for flag in PLAN_FLAGS})
        run = runner.new_run(plan.build(choices, machine.physical_cores()), fingerprint)
        journal = None
    try:
        if journal is not None:
            run = journal.read()
            check_resumable(journal.path, run, fingerprint)
        limits = runner.limits_for(run, machine.memory_limit())
        if journal is None:
            journal = records.Journal.create(records.journal_path(args.results_dir, run), run)
        else:
            console.print(f"Resuming {run.run_id}: {len(run.cases)} of {len(run.plan)} cases done.")
        return execute(run, journal, limits, fingerprint, console)
    finally:
        if journal is not None:
            journal.close()


def own_data(args: argparse.Namespace, console: Console) -> tuple[str, dict[str, Any]]:
    """`--data`: the task identified (said, with its reasons), as a one-benchmark suite."""
    from harness.run import userdata

    if args.suite != "quick":
        raise SizeupError("--data builds its own plan: drop --suite")
    found = userdata.identify(args.data, args.target, args.task, args.horizon)
    for line in userdata.describe(found):
        console.print(Text(line))
    return "data", {"benchmark": [userdata.suite(found)], "repeats": 3, "timeout_s": 600}


def execute(run: records.RunResult, journal: records.Journal, limits: runner.Limits, fingerprint: dict[str, Any],
            console: Console) -> int:
    console.print(f"Machine {fingerprint['id']}: {len(run.plan)} cases, {limits.repeats} warm repeats each, "
                  f"timeout {limits.timeout_s:g} s, memory cap {limits.memory_cap_bytes / 2**30:.1f} GiB.")
    cpus = os.cpu_count() or 1
    if over := sorted({c["threads"] for c in run.plan if c["threads"] > cpus}):
        console.print(Text(f"Warning: threads {', '.join(map(str, over))} exceed this machine's {cpus} logical "
                           "CPUs: those cases measure oversubscription.", style="yellow"))
    busy = contention.check_machine()
    if busy.busy:
        console.print(Text(f"Warning: {busy.warning()}", style="yellow"))
    from harness.present.progress import RichProgress

    try:
        with RichProgress(console, len(run.plan), len(run.cases)) as progress:
            path = runner.execute(run, journal, limits, progress)
    except (KeyboardInterrupt, Stopped) as exc:
        signum = exc.signum if isinstance(exc, Stopped) else signal.SIGINT
        console.print(Text.assemble(("Interrupted", "red"), f" ({signal.Signals(signum).name}). {len(run.cases)} of "
                                    f"{len(run.plan)} cases are kept in {journal.path}; continue with: "
                                    f"sizeup run --resume {journal.path}"))
        return 128 + signum
    console.print(f"Results written to {path}\nShow them with: sizeup show {path}")
    if run.suite == "data":
        recommend_full_size(path, run, console)
    # A case with its own memory cap probes for the size that fails: its out-of-memory is the finding.
    failed = [c for c in run.cases if c.status not in ("ok", "skipped")
              and not (c.status == "oom" and c.case.get("memory_cap"))]
    if failed:
        console.print(Text(f"{len(failed)} of {len(run.cases)} cases failed (see the reasons above).", style="red"))
        return EXIT_CASES_FAILED
    return 0


def recommend_full_size(path: Path, run: records.RunResult, console: Console) -> None:
    """After `run --data`: what to train the whole table on, from the subsamples' fits."""
    from harness.analysis import frame
    from harness.sizing import catalog, recommend

    rows = frame.rows(frame.load([str(path)]))
    if rows.empty:
        return
    workload = str(rows["workload"].iloc[0])
    full = int(run.plan[0]["params"]["rows"])  # rows, or steps per series for a forecast
    reached = rows.groupby("family")["size"].max()
    for family, why in sorted(run.sweeps.items()):  # the configurations the budget stopped short of the whole data
        if family in reached.index and reached[family] < full:
            console.print(Text(f"{family}: measured up to {reached[family]:,}, not all {full:,}: {why}"))
    console.print(recommend.render(recommend.recommend(rows, workload, full, catalog.load())))
    console.print(f"For another size: sizeup recommend {path} --workload {workload} --rows N")


def resume_target(args: argparse.Namespace, fingerprint: dict[str, Any]) -> records.Journal:
    """The journal to continue, opened and locked: the one given, or this machine's newest one not in use."""
    if args.resume != "latest":
        path = Path(args.resume)
        if not path.name.endswith(records.JOURNAL_SUFFIX):
            raise SizeupError(f"--resume takes a journal (*{records.JOURNAL_SUFFIX}), got {args.resume!r}")
        return records.Journal.reopen(path)
    candidates = records.unfinished(args.results_dir, fingerprint["id"])
    for path in candidates:
        try:
            return records.Journal.reopen(path)
        except records.JournalBusy:
            continue
    live = f" ({len(candidates)} in use by runs still going)" if candidates else ""
    raise SizeupError(f"no unfinished run of machine {fingerprint['id']} under {args.results_dir}{live}")


def check_resumable(path: Path, run: records.RunResult, fingerprint: dict[str, Any]) -> None:
    """Refused when the machine, Python, a library or sizeup itself differs from when the run started."""
    if run.machine.get("id") != fingerprint["id"]:
        raise SizeupError(f"{path} was recorded on machine {run.machine.get('id')}; this is {fingerprint['id']}")
    changed = machine.identity_differences(run.machine.get("identity", {}), fingerprint["identity"])
    if run.sizeup_version != __version__:
        changed.insert(0, f"sizeup {run.sizeup_version} -> {__version__}")
    if changed:
        raise SizeupError(f"cannot resume {path}: the software changed since it started ({'; '.join(changed)}), "
                          "and mixing both in one result would hide it. Restore it, or start a new run.")


def cmd_show(args: argparse.Namespace, console: Console) -> int:
    from harness.present.table import render

    console.print(render(records.load(args.result)))
    return 0


def cmd_compare(args: argparse.Namespace, console: Console) -> int:
    from harness.analysis import comparison, frame

    sides = [frame.load([pattern]) for pattern in args.results]
    tables = [frame.rows(side) for side in sides]
    if len(sides) == 1:
        if args.fail:
            raise SizeupError("--fail compares against a baseline: give the baseline, then the results to check")
        pairs = comparison.device_pairs(tables[0]) if not tables[0].empty else []
        console.print(comparison.render_devices(pairs))
        return 0
    base = tables[0]
    failed = []
    for pattern, side, rows in zip(args.results[1:], sides[1:], tables[1:]):
        if base.empty or rows.empty:
            raise SizeupError(f"no finished case to compare in {args.results[0] if base.empty else pattern}")
        found = comparison.compare_sets(base, rows, args.phase, args.alpha)
        only = (len(set(base["case_id"]) - set(rows["case_id"])), len(set(rows["case_id"]) - set(base["case_id"])))
        if not found:
            raise SizeupError(f"{args.results[0]} and {pattern} have no case in common")
        console.print(comparison.render_comparison(args.results[0], pattern, found, args.phase,
                                                   comparison.machine_notes(sides[0], side), only))
        if args.fail:
            failed += comparison.failures(found, args.fail[1])
    if failed:
        console.print(Text(f"{len(failed)} case(s) slower than the baseline by more than {args.fail[1]:.0%}: "
                           + ", ".join(c.case_id for c in failed), style="red"))
        return EXIT_SLOWER
    return 0


def cmd_fit(args: argparse.Namespace, console: Console) -> int:
    from harness.analysis import frame, predictions

    rows = frame.rows(frame.load(args.results))
    if rows.empty:
        raise SizeupError("no finished case in " + ", ".join(args.results))
    models = predictions.size_models(rows)
    found = []
    if args.check:
        later = frame.rows(frame.load(args.check))
        found = predictions.checks(models, later) if not later.empty else []
        if not found:
            console.print(Text("--check: no configuration of the fits was measured at another size there",
                               style="yellow"))
    console.print(predictions.render(models, args.target, found, predictions.thread_models(rows), args.cores,
                                     predictions.crossovers(models), predictions.out_of_core(rows),
                                     predictions.grid_models(rows), predictions.spark_models(rows)))
    return 0


def cmd_recommend(args: argparse.Namespace, console: Console) -> int:
    from harness.analysis import frame
    from harness.sizing import catalog, recommend

    if (args.workload is None) != (args.size is None):
        raise SizeupError("--workload and --size (--rows) go together; give neither for one line per task family")
    vms = catalog.load(args.catalog)
    rows = frame.rows(frame.load(args.results))
    if rows.empty:
        raise SizeupError("no finished case in " + ", ".join(args.results))
    if args.workload is None:
        picks = recommend.summary(rows, vms)
        if args.json:
            sys.stdout.write(records.dumps([asdict(p) for p in picks], indent=2) + "\n")
        else:
            console.print(recommend.render_summary(picks))
        return 0
    try:
        found = recommend.recommend(rows, args.workload, args.size, vms, args.budget)
    except ValueError as exc:
        raise SizeupError(f"{exc} ({', '.join(args.results)})") from None
    found = replace(found, options=found.options[:args.top])
    if args.json:
        sys.stdout.write(records.dumps(found.to_dict(), indent=2) + "\n")
    else:
        console.print(recommend.render(found))
    return 0


def cmd_report(args: argparse.Namespace, console: Console) -> int:
    from harness.analysis import frame
    from harness.present import report
    from harness.sizing import catalog, recommend

    patterns = args.results
    if not patterns:
        machine_id = machine.fingerprint()["id"]
        newest = sorted((args.results_dir / machine_id).glob("*.json"), key=lambda p: p.stat().st_mtime)
        if not newest:
            raise SizeupError(f"no result of machine {machine_id} under {args.results_dir}: run `sizeup run` first, "
                              "or name result files")
        patterns = [str(newest[-1])]
    loaded = frame.load(patterns)
    out = args.output or args.results_dir / "report" / loaded[-1].run.run_id
    html_path, md_path, picks = report.build(loaded, out, catalog.load(args.catalog), args.case)
    console.print(recommend.render_summary(picks))
    console.print(f"Report: {html_path}\nSummary: {md_path}")
    return 0


def cmd_catalog(args: argparse.Namespace, console: Console) -> int:
    from harness.sizing import catalog

    vms = catalog.load(args.file)
    table = Table(title=Text(f"VM catalog {args.file or catalog.DEFAULT}"), header_style="bold")
    for column in ("name", "kind", "vCPUs", "memory GiB", "GiB/vCPU", "GPUs", "$/hour", "region", "source"):
        table.add_column(column)
    for vm in vms:
        gpus = f"{vm.gpu_count}x {vm.gpu_model} {vm.gpu_memory_gib:g} GiB" if vm.gpu_count else ""
        table.add_row(Text(vm.name), vm.kind, str(vm.vcpus), f"{vm.memory_gib:g}", f"{vm.gib_per_vcpu:.1f}", gpus,
                      f"{vm.price_per_hour:.3f}", Text(vm.region), Text(vm.source))
    console.print(table)
    return 0


def fail_threshold(text: str) -> tuple[str, float]:
    try:
        return parse_fail(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_export(args: argparse.Namespace, console: Console) -> int:
    from harness.present.export import pytest_benchmark

    run = records.load(args.result)
    text = records.dumps(pytest_benchmark(run), indent=2) + "\n"
    if args.output:
        records.write_atomic(args.output, text)
    else:
        sys.stdout.write(text)
    if not run.complete:
        print(f"sizeup: warning: {args.result} is an unfinished run ({len(run.cases)} of {len(run.plan)} cases); "
              "the export is marked partial", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
