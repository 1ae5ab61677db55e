"""`sizeup profile -- CMD`: run the user's job under sizeup's sampling, keep its profile as a result, and say
what holds it back and what it should run on. The job's exit code is this command's."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from typing import NamedTuple

from rich.console import Console
from rich.text import Text

from harness import records
from harness.analysis.diagnosis import FEW_SAMPLES
from harness.commands import sizeup
from harness.errors import SizeupError
from harness.present import terminal
from harness.present.profiled import should_run_on
from harness.run import machine, printed, profile
from harness.sizing import catalog
from harness.sizing.profiled import judged
from harness.sizing.rightsize import CONFIDENCE


def command(args: argparse.Namespace, console: Console) -> int:
    # sizeup's own lines go to stderr, as time(1)'s do: the job's stdout (a training log sent to a file) is the job's
    console, stdout = terminal.make(stderr=True), console
    console.on_broken_pipe = stdout.on_broken_pipe  # `2>&1 | head`: as a closed stdout ends any command
    job = args.job[1:] if args.job[:1] == ["--"] else args.job
    if args.pid is not None and job:
        raise SizeupError("give --pid or a command after --, not both")
    if args.duration is not None and args.pid is None:
        raise SizeupError("--duration goes with --pid (a command runs to its end)")
    if args.mark is not None and args.pid is not None:
        raise SizeupError("--mark reads what the job prints, which sizeup sees only of a command it runs, not of --pid")
    mark = printed.pattern(args.mark) if args.mark is not None else None
    if args.mlflow is not None:
        from harness.present.tracking import check_uri

        check_uri(args.mlflow)
    if args.pid is None:
        profile.executable(job)  # a command that cannot run is refused before anything is created
    fingerprint = machine.fingerprint()
    # before the job runs: a profile that cannot be kept is not worth the job's time
    records.check_writable(records.machine_folder(args.results_dir, fingerprint["id"]))
    tracking = None
    if args.mlflow is not None:  # opened now: a store that cannot take the profile is said before the job runs
        from harness.present.tracking import Tracking

        tracking = Tracking(args.mlflow, f"pid {args.pid}" if args.pid is not None else profile.job_name(job),
                            {"sizeup.command": "profile"})
    done = None
    try:
        done = profile.attach(args.pid, args.duration, args.sample_hz, fingerprint) if args.pid is not None \
            else profile.profile(job, args.sample_hz, fingerprint, mark, notice=_notice)
        path = records.final_path(records.journal_path(args.results_dir, done.run))
        records.save(path, done.run)
        say(done.run, path, console)
    except BaseException:
        if tracking is not None and done is None:  # refused before anything was measured: no run to keep
            tracking.discard()
        elif tracking is not None:  # the MLflow run must not stay "running"
            tracking.abandon("FAILED")
        raise
    code = done.interrupted or done.exit_code
    if tracking is not None:
        code = tracking.finish(done.run, path, "KILLED" if done.interrupted else "FAILED" if done.exit_code
                               else "FINISHED", code, console)
    return code


def _notice(message: str) -> None:
    print(f"sizeup: {message}", file=sys.stderr, flush=True)


def say(run: records.RunResult, path: os.PathLike[str], console: Console) -> None:
    """The profile's outcome, its phases, what held it back, and what it should run on."""
    record = run.cases[0]
    attached = record.telemetry.get("attached")
    if attached:
        console.print(Text(f"\nsizeup profile: pid {attached['pid']} ({record.case.model}) sampled "
                           f"{record.wall_s:.1f} s, until {attached['ended']}"))
        if attached["unseen"]:
            console.print(Text(f"Not readable by this user, so not measured: {', '.join(attached['unseen'])}",
                               style="yellow"))
    else:
        code = record.exit["returncode"]  # a signal's is -N: said as a shell says it, 128 + N
        said = record.reason if record.reason != profile.exited(code) else None  # the exit code, not said twice
        console.print(Text(f"\nsizeup profile: {record.case.model} ran {record.wall_s:.1f} s, exit code "
                           f"{128 - code if code < 0 else code}" + (f" ({said})" if said else "")))
    # Whole lines, left to the terminal to wrap: a command folded by sizeup cannot be copied.
    console.print(Text(f"Profile written to {path}\nShow it with: {sizeup()} show {shlex.quote(str(path))}"),
                  soft_wrap=True)
    judge(run, console)


def judge(run: records.RunResult, console: Console) -> None:
    """A profile's phases, what held the job back, and what it should run on (`profile`, and `show` of one)."""
    j = judged(run)
    record = j.record
    if left := record.telemetry.get("leftover_processes"):
        console.print(Text(f"Left running by the job when it ended, and killed: {', '.join(left)}", style="yellow"))
    for p in _phases(record):
        console.print(Text(f"{'  ' * (p.depth + 1)}phase {p.name}{f' (in {p.within})' if p.within else ''}: "
                           f"{p.seconds:.2f} s"
                           + (f" ({p.times:,} times, {p.seconds / p.times:.3g} s each on average)"
                              if p.times and p.times > 1 else "")
                           + (f", {p.cores:.1f} cores busy on average" if p.cores is not None
                                                   else "")
                           + (f", peak {p.peak / 2**20:,.0f} MiB" if p.peak else "") + _sampled(p.samples)))
    if record.status != "ok" and j.findings is not None:
        console.print(Text("The job did not end well: what follows is of a run that may not have done all its work.",
                           style="yellow"))
    if j.findings is None:
        console.print(Text(f"{j.short[0].upper()}{j.short[1:]}: too short to say what holds it back or what it should "
                           "run on.", style="yellow"))
    for f in j.findings or []:
        console.print(Text(f"{f.code}: {f.message}"))
    if j.findings == []:
        console.print("Nothing held it back that sizeup looks for (one core, idle or saturated vCPUs, memory, GPU, "
                      "disk).")
    for line in should_run_on(j):
        console.print(Text(line.text, style="yellow" if line.warn else ""))


def _sampled(samples: int | None) -> str:
    """What a phase's busy cores and peak rest on, where that is too little to go by."""
    if samples is None or samples >= FEW_SAMPLES:
        return ""
    return f" (from {samples} sample{'s' * (samples > 1)})" if samples else " (no sample fell in it)"


class Phase(NamedTuple):
    name: str
    seconds: float
    cores: float | None  # mean busy cores
    peak: float | None  # peak memory bytes
    within: str | None  # the phase it ran inside (telemetry's phases_within)
    depth: int  # how many phases it ran inside
    times: int | None  # how many times it ran (separate windows), where the record counts them
    samples: int | None = None  # the sampler's readings within it


def _phases(record: records.CaseRecord) -> list[Phase]:
    """The phases the job marked (harness.phase, --mark) and the time in none of them, in the order they began,
    each phase that ran inside another just after it (its seconds are part of that one's)."""
    summaries, timed = record.telemetry.get("phases") or {}, record.runs[0]
    began = sorted((n for n in timed.phases if n != records.WHOLE_RUN),
                   key=lambda n: timed.spans.get(n, [float("inf")])[0])
    parent = {k: v for k, v in record.phase_parents().items() if v in began}
    out: list[Phase] = []

    def add(name: str, depth: int) -> None:
        summary = summaries.get(name) or {}
        cpu = summary.get("cpu_percent") or {}
        peak = (summary.get("memory_bytes") or {}).get("max")
        out.append(Phase(name, timed.phases[name], None if cpu.get("mean") is None else cpu["mean"] / 100, peak,
                         parent.get(name), depth, summary.get("times"), summary.get("samples")))
        for child in (n for n in began if parent.get(n) == name):
            add(child, depth + 1)

    for name in (n for n in began if n not in parent):
        add(name, 0)
    return out


def to_json(run: records.RunResult) -> dict[str, object]:
    """What `judge` says, as codes and numbers (`show --json` of a profile)."""
    j = judged(run)
    whole = j.whole

    def vm(v: catalog.VM, cost: float | None) -> dict[str, object]:
        return {"name": v.name, "vcpus": v.vcpus, "memory_gib": v.memory_gib, "gpu_model": v.gpu_model or None,
                "gpu_count": v.gpu_count, "price_per_hour": v.price_per_hour, "cost_per_run": cost if whole else None}

    sized = j.sized
    return {
        "phases": [{"name": p.name, "seconds": p.seconds, "cores_mean": p.cores, "peak_memory_bytes": p.peak,
                    "within": p.within, "times": p.times, "samples": p.samples} for p in _phases(j.record)],
        "findings": None if j.findings is None else [{"code": f.code, "message": f.message,
                                                      "figures": dict(f.figures)} for f in j.findings],
        "leftover_processes": j.record.telemetry.get("leftover_processes") or [], "whole_run": whole,
        "confidence": CONFIDENCE,
        "cpu_vm": None if sized is None or sized.vm is None else vm(sized.vm, sized.cost) | {
            "cores_needed": sized.cores, "memory_gib_needed": sized.memory_gib, "saturated": sized.saturated,
            "assumption": sized.assumption},
        "gpu_vms": [vm(o.vm, o.cost) | {"seconds": o.seconds if whole else None, "factor": o.factor}
                    for o in (j.gpu[0] if j.gpu else [])]}
