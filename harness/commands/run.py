"""`sizeup run`: build the plan (a suite, the user's data, or a journal to resume), run it with a live
display, write the result, and for `--data` say what to train the whole data on."""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shlex
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.text import Text

from harness import __version__, records
from harness.commands import sizeup
from harness.errors import EXIT_CASES_FAILED, SizeupError, Stopped
from harness.run import bounded, contention, machine, plan, procfs, runner

if TYPE_CHECKING:
    from harness.present.tracking import Tracking

PLAN_FLAGS = ("workloads", "models", "backends", "sizes", "threads", "repeats", "timeout_s", "memory_cap", "sample_hz",
              "rerun_disturbed", "processes", "budget_s")


def command(args: argparse.Namespace, console: Console) -> int:
    if not procfs.AVAILABLE:
        raise SizeupError(f"sizeup measures on Linux: it reads /proc, which this {platform.system()} system lacks")
    fingerprint = machine.fingerprint()
    if args.resume is None:  # a resumed run writes beside its journal
        records.check_writable(records.machine_folder(args.results_dir, fingerprint["id"]))
    if args.spark_master:  # the workers inherit it; each record's backend info names the master it ran on
        from harness.run.backends.spark import check_master

        check_master(args.spark_master)
        os.environ["SIZEUP_SPARK_MASTER"] = args.spark_master
    if args.data is None and (args.target or args.task or args.horizon or args.series):
        raise SizeupError("--target, --task, --horizon and --series go with --data PATH")
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
    tracking = None
    try:
        if journal is not None:
            run = journal.read()
            check_resumable(journal.path, run, fingerprint)
        limits = runner.limits_for(run, machine.memory_limit())
        if args.mlflow is not None:  # opened now: a store that cannot take the result is said before any case runs
            from harness.present.tracking import Tracking

            tracking = Tracking(args.mlflow, run.run_id, {"sizeup.command": "run", "sizeup.suite": run.suite})
        if journal is None:
            journal = records.Journal.create(records.journal_path(args.results_dir, run), run)
        else:
            console.print(f"Resuming {run.run_id}: {done(run)} done.")
        return execute(run, journal, limits, fingerprint, console, tracking)
    except BaseException:
        if tracking is not None:  # the MLflow run must not stay "running" for ever
            tracking.abandon()
        raise
    finally:
        if journal is not None:
            journal.close()


def own_data(args: argparse.Namespace, console: Console) -> tuple[str, dict[str, Any]]:
    """`--data`: the task identified (said, with its reasons), as a one-benchmark suite."""
    from harness.run import userdata

    if args.suite != "quick":
        raise SizeupError("--data builds its own plan: drop --suite")
    cap = plan.parse_memory(args.memory_cap or plan.Settings().memory_cap, machine.memory_limit())
    try:  # the table is read whole, as each case will read it: under the same memory cap
        found = bounded.call(userdata.identify, cap, args.data, args.target, args.task, args.horizon, args.series)
    except bounded.OverCap as exc:
        raise SizeupError(f"--data {args.data}: reading it takes more than the memory cap of "
                          f"{bounded.size(exc.cap_bytes)} (--memory-cap); it was stopped at that") from None
    whole, _ = userdata.extent(found)
    if over := [n for n in args.sizes or () if n > whole]:  # it would train on the whole data under another size
        raise SizeupError(f"--sizes {over[0]:,}: {args.data} has {whole:,} {userdata.UNITS.get(found.task, 'rows')}; "
                          "a subsample of it cannot be larger")
    for line in userdata.describe(found):
        console.print(Text(line))
    requested = args.models or ()
    if left := userdata.spark_left_out(found, requested):
        console.print(Text(f"  Spark left out ({', '.join(left)}): the data is small enough for one machine, where "
                           f"Spark's start-up would be all it measured; --models {left[0]} adds it"))
    return userdata.plan(found, requested)


def execute(run: records.RunResult, journal: records.Journal, limits: runner.Limits, fingerprint: dict[str, Any],
            console: Console, tracking: Tracking | None = None) -> int:
    from harness.present.progress import RichProgress

    try:
        announce(run, limits, fingerprint, console)
        with RichProgress(console, len(run.plan), run.cases) as progress:
            path = runner.execute(run, journal, limits, progress)
    except (KeyboardInterrupt, Stopped, BrokenPipeError) as exc:
        # BrokenPipeError: whatever read the output closed it (`sizeup run | head`); what follows goes to stderr
        signum = exc.signum if isinstance(exc, Stopped) else (signal.SIGPIPE if isinstance(exc, BrokenPipeError)
                                                              else signal.SIGINT)
        said = Text.assemble(("Interrupted", "red"), f" ({signal.Signals(signum).name}). {done(run)} are kept in "
                             f"{journal.path}; continue with: {sizeup()} run --resume {journal.path}")
        if signum == signal.SIGPIPE:
            with contextlib.suppress(OSError):  # `2>&1 | head`: stderr is the closed pipe too; the exit code says it
                sys.stderr.write(f"sizeup: {said.plain}\n")
                sys.stderr.flush()
        else:
            console.print(said, soft_wrap=True)  # one line: the command is pasted
        if tracking is not None:
            tracking.abandon()
        return 128 + signum
    console.print(Text(f"Results written to {path}\nShow them with: {sizeup()} show {shlex.quote(str(path))}"),
                  soft_wrap=True)
    from harness.analysis.cases import short_sweep_note, short_sweeps

    for short in short_sweeps(run):
        console.print(Text(f"Sweep {short_sweep_note(*short)}", style="yellow"))
    if run.suite == "data":
        recommend_full_size(path, run, console)
    # A case with its own memory cap probes for the size that fails: its out-of-memory is the finding.
    failed = [c for c in run.cases if c.status not in ("ok", "skipped")
              and not (c.status == "oom" and c.case.memory_cap)]
    if failed:
        console.print(Text(f"{len(failed)} of {len(run.cases)} cases failed (see the reasons above).", style="red"))
    code = EXIT_CASES_FAILED if failed else 0
    if tracking is not None:
        code = tracking.finish(run, path, "FAILED" if failed else "FINISHED", code, console)  # the records just written
    return code


def announce(run: records.RunResult, limits: runner.Limits, fingerprint: dict[str, Any], console: Console) -> None:
    """What the run will measure, and what may spoil it (threads past the CPUs, a busy machine)."""
    sweeps = len({c.config for c in run.plan if c.sweep})
    grow = (f" to start with ({sweeps} sweep{'s add' if sweeps > 1 else ' adds'} a size at a time as "
            f"{'they grow' if sweeps > 1 else 'it grows'})" if sweeps else "")
    n, r = len(run.plan), limits.repeats
    console.print(f"Machine {fingerprint['id']}: {n} case{'s' * (n != 1)}{grow}, {r} warm repeat{'s' * (r != 1)} each, "
                  f"timeout {limits.timeout_s:g} s, memory cap {limits.memory_cap_bytes / 2**30:.1f} GiB.")
    cpus = os.cpu_count() or 1
    if over := sorted({c.threads for c in run.plan if c.threads > cpus}):
        console.print(Text(f"Warning: threads {', '.join(map(str, over))} exceed this machine's {cpus} logical "
                           "CPUs: those cases measure oversubscription.", style="yellow"))
    busy = contention.check_machine()
    if busy.busy:
        console.print(Text(f"Warning: {busy.warning()}", style="yellow"))


def done(run: records.RunResult) -> str:
    """'10 of 14 cases' finished; where sweeps grow the plan as they go, '10 cases' (of the plan to start with: 8)."""
    if any(c.sweep for c in run.plan):
        return f"{len(run.cases)} case{'s' * (len(run.cases) != 1)} (sweeps add sizes as they grow)"
    return f"{len(run.cases)} of {len(run.plan)} cases"


def recommend_full_size(path: Path, run: records.RunResult, console: Console) -> None:
    """After `run --data`: what to train the whole table on, from the subsamples' fits."""
    from harness.analysis import frame
    from harness.analysis.compute import analyse
    from harness.present.recommend import SUMMARY_WIDTH, render
    from harness.sizing import catalog, recommend

    analysis = analyse(frame.load([str(path)]))
    if analysis.empty:
        return
    rows = analysis.rows
    workload = str(rows["workload"].iloc[0])
    full = int(run.plan[0].params["rows"])  # rows, or steps per series for a forecast
    reached = rows.groupby("config")["size"].max()
    for config, why in sorted(run.sweeps.items()):  # the configurations the budget stopped short of the whole data
        if config in reached.index and reached[config] < full:
            console.print(Text(f"{config}: measured up to {reached[config]:,}, not all {full:,}: {why}"))
    console.width = min(console.width, SUMMARY_WIDTH)  # its evidence wraps as `recommend`'s (piped: 240 wide)
    console.print(render(recommend.recommend(analysis, workload, full, catalog.load())))
    console.print(f"For another size: {sizeup()} recommend {path} --workload {workload} --size N", soft_wrap=True)


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
