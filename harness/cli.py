"""The `sizeup` command: list, doctor, run, show, compare, fit, recommend, report, catalog, export.

User mistakes raise SizeupError anywhere below; here they become one line on
stderr and exit code 2. Anything else is a bug and keeps its traceback.

Exit codes: 0 done; 2 bad input or an I/O error (nothing half-written); 3 `run`
finished but some cases failed (error, timeout, oom, crashed); 4 `compare --fail`
found a real slowdown past its threshold; 128 + N the run
was stopped by signal N (130 for Ctrl-C), its finished cases kept in the journal.
"""

from __future__ import annotations

import argparse
import errno
import math
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness import __version__
from harness.analysis.significance import ALPHA, parse_fail
from harness.commands import doctor, profile, read, run
from harness.present import terminal
from harness.errors import EXIT_CASES_FAILED, EXIT_SLOWER, EXIT_USAGE, SizeupError, Stopped  # noqa: F401
from harness.records import PHASES, TASKS
from harness.run.plan import shipped_suites

OUTPUT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO}  # writing stdout failed: one line, exit 2
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)  # end a run like Ctrl-C does: clean up, keep the journal


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    console = terminal.make()
    console.on_broken_pipe = _broken_pipe  # rich's own exits with 1, unsaid
    previous = {s: signal.signal(s, _stop) for s in STOP_SIGNALS}
    try:
        code = args.command(args, console)
        sys.stdout.flush()  # here, not at exit: a full disk under `> file` is this command's failure
        return code
    except SizeupError as exc:
        print(f"sizeup: error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    except Stopped as exc:
        return 128 + exc.signum
    except BrokenPipeError:  # `sizeup show ... | head`: the reader has what it wanted
        _quiet_stdout()
        return 0
    except OSError as exc:
        if exc.errno not in OUTPUT_ERRNOS:
            raise
        _quiet_stdout()  # output redirected to a full disk (`> /dev/full`): files are written atomically elsewhere
        print(f"sizeup: error: cannot write the output: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _broken_pipe() -> None:
    """What reads sizeup's output closed it: a BrokenPipeError, which main and `run` answer (rich's own handler
    exits with 1, and stopped a run unsaid)."""
    _quiet_stdout()
    raise BrokenPipeError(errno.EPIPE, "the output was closed")


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush of what could not be written is quiet."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _stop(signum: int, frame: Any) -> None:
    raise Stopped(signum)


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        """One line and exit code 2, like every other bad input (argparse adds the usage block)."""
        self.exit(EXIT_USAGE, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


class CommandParser(Parser):
    """A command's parser: an unknown option is named before a missing argument (`show --bogus` is a typo, not a
    forgotten file; argparse checks the required arguments first and never gets to it)."""

    given: Sequence[str] = ()

    def parse_known_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> Any:
        self.given = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> Any:
        if message.startswith("the following arguments are required"):  # argparse's words: it gives no code
            given = self.given[:self.given.index("--")] if "--" in self.given else self.given
            if unknown := [a for a in given if a.startswith("-") and not self._known(a)]:
                message = f"unrecognized arguments: {' '.join(unknown)}"
        return super().error(message)

    def _known(self, arg: str) -> bool:
        """An option of this command, abbreviated (--work), with its value attached (--size=5, -ofile), or no option
        at all (a value such as -5 or '-{3} epoch')."""
        name = arg.split("=")[0]
        return (" " in arg or bool(self._negative_number_matcher.match(arg)) or arg[:2] in self._option_string_actions
                or any(option.startswith(name) for option in self._option_string_actions if name.startswith("--")))


def one_line(text: str) -> str:
    """`text` with newlines and other unprintable characters (from a path or a file) escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="sizeup", description="Measure ML training on this machine.")
    parser.add_argument("--version", action="version", version=f"sizeup {__version__}")
    sub = parser.add_subparsers(required=True, metavar="COMMAND", parser_class=CommandParser)

    p = sub.add_parser("list", help="workloads, backends, and whether each backend is available here")
    p.set_defaults(command=read.list_all)

    p = sub.add_parser("doctor", help="what this machine can measure (GPU, drivers, Spark, limits, load), in seconds")
    p.set_defaults(command=doctor.command)

    p = sub.add_parser("profile", help="run your own job (-- CMD ARGS) sampled as cases are: what holds it back, "
                                       "what it should run on")
    p.add_argument("--sample-hz", type=finite, default=10.0, help="samples per second (0.1 to 100) [10]")
    p.add_argument("--results-dir", type=Path, default=Path("results"), help="where the profile goes [results]")
    p.add_argument("--pid", type=positive_int("pid"), help="a job already running: sample it and its tree, changing "
                                                          "nothing in it, until it exits or --duration passes")
    p.add_argument("--duration", type=finite, metavar="S", help="with --pid: stop sampling after S seconds")
    p.add_argument("--mark", metavar="REGEX",
                   help="a line the job prints that matches starts a phase, named by the match's group 'phase', "
                        "else its first group, else the whole match (for example --mark 'Epoch \\d+'); the job's "
                        "output then passes through sizeup, byte for byte (on a terminal of its own where sizeup's is "
                        "one; else Python runs unbuffered)")
    mlflow_flag(p)
    p.add_argument("job", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS...]", help="the command to profile")
    p.set_defaults(command=profile.command)

    p = sub.add_parser("run", help="run a suite of cases, or benchmark your own data (--data), and write a result file")
    p.add_argument("--suite", default="quick",
                   help=f"suite name ({', '.join(shipped_suites())}) or a TOML file [quick]")
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
    p.add_argument("--budget", type=finite, dest="budget_s", metavar="SECONDS",
                   help="the run's cases' wall time, all together: sweeps take no step past it [suite's, else none]")
    p.add_argument("--processes", type=positive_int("processes"), metavar="P",
                   help="run each case in P fresh worker processes; intervals then come from per-process medians [1]")
    p.add_argument("--data", type=Path, metavar="PATH",
                   help="benchmark your own data: a CSV, TSV or Parquet table, or a folder of images per class; the "
                        "task is identified and said, then its models run on growing subsamples")
    p.add_argument("--target", type=nonempty, metavar="COLUMN", help="with --data: the column to predict")
    p.add_argument("--task", choices=TASKS,
                   help="with --data: the task, instead of identifying it")
    p.add_argument("--horizon", type=positive_int("horizon"), metavar="STEPS",
                   help="with --data, forecasting: how many steps to forecast [a tenth of the steps, at most 28]")
    p.add_argument("--series", type=names, metavar="COLUMNS",
                   help="with --data, forecasting: the columns that tell series apart [the text columns that repeat "
                        "a date]")
    p.add_argument("--spark-master", type=nonempty, metavar="URL",
                   help="run the spark backend's cases on this cluster (spark://host:7077, or Spark Connect sc://...) "
                        "[SIZEUP_SPARK_MASTER or MASTER from the environment, else an embedded local[threads]]")
    p.add_argument("--results-dir", type=Path, default=Path("results"), help="where results go [results]")
    mlflow_flag(p)
    p.add_argument("--resume", nargs="?", const="latest", type=nonempty, metavar="JOURNAL",
                   help="continue an interrupted run (its journal; default the newest of this machine)")
    p.set_defaults(command=run.command)

    p = sub.add_parser("show", help="a table of a result file")
    p.add_argument("result", type=Path, help="a result file (results/<machine-id>/<run-id>.json), or a folder: its "
                                             "newest")
    p.add_argument("--wide", action="store_true",
                   help="every phase, throughput and fit CPU, and skipped cases, each column as wide as it needs")
    p.add_argument("--json", action="store_true", help="every column as numbers")
    p.set_defaults(command=read.show)

    p = sub.add_parser("compare", help="runs against a baseline (B/A per case), or one run's GPU cases against "
                                       "their CPU twins")
    p.add_argument("results", nargs="+", metavar="RESULTS",
                   help="result files, globs or folders; the first is the baseline A, each further one is compared "
                        "with it (put a glob in quotes to pool its files as one side)")
    p.add_argument("--phase", type=nonempty,
                   help=f"which phase's time to compare: {', '.join(PHASES)}, or a profiled job's own (train) [fit; "
                        "run where both sides are profiles, timed whole]")
    p.add_argument("--fail", type=fail_threshold, metavar="median:PCT",
                   help="exit 4 when a case is really slower than the baseline by more than PCT, e.g. median:10%%")
    p.add_argument("--alpha", type=probability, default=ALPHA,
                   help=f"the rank test's p-value a verdict needs [{ALPHA:g}, as asv]")
    p.set_defaults(command=read.compare)

    p = sub.add_parser("fit", help="fit time and memory against size and threads; predict, and check predictions")
    p.add_argument("results", nargs="+", metavar="RESULTS", help="result files, globs or folders to fit")
    p.add_argument("--workload", help="fit this workload's cases only (`sizeup list`)")
    p.add_argument("--target", type=size_number,
                   help="predict time and memory at this size, in the workload's unit (rows, series, images, "
                        "documents: give --workload where the results hold several)")
    p.add_argument("--cores", type=positive_int("cores"), help="predict thread-fitted time at this many cores")
    p.add_argument("--check", nargs="+", metavar="RESULTS",
                   help="results at other (larger) sizes: compare each prediction with the measurement")
    p.add_argument("--backtest", action="store_true",
                   help="check every fit as it is used: fitted on its smallest sizes, predicting its larger ones; "
                        "print the errors, the intervals' coverage and how often each confidence level held")
    p.add_argument("--csv", type=Path, metavar="FILE", help="with --backtest: write the backtests to FILE as CSV")
    p.set_defaults(command=read.fit)

    p = sub.add_parser("recommend", help="ranked VM choices for one training run at a target size, with evidence")
    p.add_argument("results", nargs="*", metavar="RESULTS",
                   help="result files, globs or folders [your runs under results/; the committed references "
                        "(results/reference) where you have none]")
    p.add_argument("--workload", help="the workload to size for (`sizeup list`) [without it: one line per workload, "
                                      "at 2x the largest size all its configurations reached]")
    p.add_argument("--size", "--rows", dest="size", type=size_number,
                   help="the target data size, in the workload's unit (rows, series, images, documents) [default with "
                        "--workload: the size the summary answers it at]")
    p.add_argument("--budget", type=positive_number, metavar="SECONDS", help="time budget per training run")
    p.add_argument("--catalog", type=Path, help="VM catalog CSV [harness/sizing/data/vm_catalog.csv]")
    p.add_argument("--top", type=positive_int("top"), default=8, help="options shown [8]")
    p.add_argument("--json", action="store_true", help="the same as JSON")
    p.set_defaults(command=read.recommend)

    p = sub.add_parser("report", help="an HTML report (plots embedded) and a Markdown summary of results")
    p.add_argument("results", nargs="*", metavar="RESULTS",
                   help="result files, globs or folders [this machine's newest result under --results-dir]")
    p.add_argument("--results-dir", type=Path, default=Path("results"), help="where results are [results]")
    p.add_argument("-o", "--output", type=str,  # a str: a trailing '/' names a folder, which Path would drop
                   help="report path without suffix, or a folder to write it in (one that exists, or ends in '/') "
                        "[<results-dir>/report/<run id of the newest result>]")
    p.add_argument("--catalog", type=Path,
                   help="VM catalog CSV for the recommendations [harness/sizing/data/vm_catalog.csv]")
    p.add_argument("--case", help="the case whose utilization over time is drawn [the longest]")
    p.set_defaults(command=read.report)

    p = sub.add_parser("catalog", help="the VM sizes and prices sizing decisions use (check your own file)")
    p.add_argument("file", nargs="?", type=Path, help="a catalog CSV [harness/sizing/data/vm_catalog.csv]")
    p.set_defaults(command=read.catalog)

    p = sub.add_parser("export", help="write a result in another tool's format")
    p.add_argument("--format", required=True, choices=["pytest-benchmark"])
    p.add_argument("result", type=Path, help="a result file (results/<machine-id>/<run-id>.json), or a folder: its "
                                             "newest")
    p.add_argument("-o", "--output", type=Path, help="output file [stdout]")
    p.set_defaults(command=read.export)
    return parser


def mlflow_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mlflow", nargs="?", const="", metavar="TRACKING_URI",
                   help="also log to MLflow: a run per case (or profile), its series as system metrics, the result as "
                        "an artifact [MLFLOW_TRACKING_URI, else MLflow's default]; needs pip install -e '.[mlflow]'")


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


def probability(text: str) -> float:
    value = finite(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}")
    return value


def positive_number(text: str) -> float:
    value = finite(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def size_number(text: str) -> float:
    """A data size: a whole number of rows, series, images or documents, at least 1 (1e8 is one)."""
    try:
        float(text)
    except ValueError:  # '1M' or '1GB': say what a size is here
        raise argparse.ArgumentTypeError(f"expected a count of items (rows, series, images or documents), such as "
                                         f"1000000 or 1e6, got {text!r}") from None
    value = positive_number(text)
    if value != int(value):
        raise argparse.ArgumentTypeError(f"expected a whole number of items (rows, series, ...), got {text!r}")
    return value


def whole_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def fail_threshold(text: str) -> tuple[str, float]:
    try:
        return parse_fail(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


if __name__ == "__main__":
    sys.exit(main())
