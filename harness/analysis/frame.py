"""Many result files as one table: one row per case and warm repeat.

The analysis (`compare`, `fit`) reads result files only, never runs a case, so it works on
results from machines the user no longer has. Rows carry the machine's identity and the
case's telemetry (fit CPU %, peak memory, the GPU's figures where recorded) next to each
repeat's phase times and quality, so that before runs of "the same" case are compared, what
differs between them (data, params, machine, library versions) can be said instead of mixed.
"""

from __future__ import annotations

import glob
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from harness import records
from harness.analysis import twins
from harness.analysis.cases import CPU_WINDOW_S
from harness.errors import SizeupError
from harness.records import PHASES, PROFILE, CaseRecord, Repeat, RunResult, quality_target
from harness.records import figures as fig


TIME_RANGE_S = (1e-9, 1e9)  # a nanosecond (below any timer's resolution) to about 30 years


@dataclass(frozen=True)
class Loaded:
    path: Path
    run: RunResult


def unfinished(folder: Path) -> str:
    """': the journal of an unfinished run, PATH, ...' for a folder holding one (its newest), else ''."""
    journals = sorted(folder.rglob(f"*{records.JOURNAL_SUFFIX}"), key=lambda p: p.stat().st_mtime) \
        if folder.is_dir() else []
    return (f": the journal of an unfinished run, {journals[-1]}, which `show` reads when named and `run --resume` "
            "continues") if journals else ""


def paths(patterns: Iterable[str]) -> list[Path]:
    """Result files named by path, glob or folder (a folder: every result file below it, recursively).

    Journals of unfinished runs are read only when named.
    """
    found: list[Path] = []
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir():
            matches = sorted(p for p in path.rglob("*.json") if not p.name.startswith("."))
        elif any(ch in pattern for ch in "*?["):
            matches = sorted(Path(p) for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
        else:
            matches = [path]  # records.load names the problem if it is missing or no result
        if not matches:
            raise SizeupError(f"no result files match {pattern!r}{unfinished(path)}")
        found += [p for p in matches if p not in found]
    return found


def load(patterns: Iterable[str], passed: list[str] | None = None) -> list[Loaded]:
    """The results named, and those found in folders and globs; a JSON file found there that is not sizeup's (an
    export written beside the results, say) is passed over, one named is refused. With `passed`, a file found there
    that cannot be read (truncated, corrupt) is passed over too, and why appended to it: one bad file in a folder
    of results does not take every command on them down."""
    patterns = list(patterns)
    named = {Path(p) for p in patterns}
    out = []
    for p in paths(patterns):
        try:
            out.append(Loaded(p, records.load(p)))
        except records.NotAResult:
            if p in named:
                raise
        except SizeupError as exc:
            if p in named or passed is None:
                raise
            passed.append(str(exc))
    if not out:
        raise SizeupError(f"no sizeup result in {', '.join(patterns)}")
    return out


def rows(loaded: Sequence[Loaded]) -> pd.DataFrame:
    """One row per ok case and counted warm repeat (see records.select_warm), with identity and telemetry."""
    out: list[dict[str, Any]] = []
    for item in loaded:
        identity = item.run.machine.get("identity", {})
        gpus = identity.get("gpus") or []
        machine = {"file": str(item.path), "run_id": item.run.run_id, "run_started": item.run.started,
                   "machine": item.run.machine.get("id"),
                   "cpu_model": identity.get("cpu_model"), "physical_cores": identity.get("physical_cores"),
                   "logical_cores": identity.get("logical_cores"), "memory_bytes": identity.get("memory_bytes"),
                   "gpu": gpus[0].get("name") if gpus else None}
        for record in item.run.cases:
            if record.status != "ok":
                continue
            case = _case_columns(record, item.run.cases)
            for run in record.warm_runs():
                out.append({**machine, **case, **_run_columns(record, run)})
    return pd.DataFrame(out)


def _case_columns(record: CaseRecord, run: list[CaseRecord]) -> dict[str, Any]:
    c, t = record.case, record.telemetry
    facts = record.backend_facts
    fit = t.get("phases", {}).get("fit", {})
    gap = twins.check(record, run)
    return {"case": c, "case_id": c.id, "config": c.config, "thread_key": c.key(threads=False),
            "grid_key": c.key(size=False, threads=False), "task": record.workload_info.get("family"),
            "workload": c.workload, "model": c.model, "backend": c.backend, "size": c.size, "threads": c.threads,
            "device": facts.device if facts else None, "twin": facts.twin if facts else None,
            "distributed": bool(facts and facts.distributed), "on_gpu": bool(facts and facts.on_gpu),
            "params": json.dumps(record.params, sort_keys=True), "data_sha256": record.data_sha256,
            "work": json.dumps(record.work_params(), sort_keys=True),
            "metric": record.workload_info.get("metric"),
            "quality_target": quality_target(record.workload_info),  # a workloads.base.Target, or None
            "higher_is_better": record.workload_info.get("higher_is_better", True),
            "size_unit": record.workload_info.get("size_unit", "rows"),
            "peak_memory_bytes": t.get("peak_memory_bytes"),
            "fit_peak_bytes": fit.get("memory_bytes", {}).get("max"),  # sampled: what training itself held
            "fit_cpu_pct_sampled": fit.get("cpu_percent", {}).get("mean"),
            "fit_gpu_util_pct": fig.read(t, "nvml", "gpu_util"), "gpu_memory_bytes": fig.read(t, "nvml", "gpu_memory"),
            "fit_energy_j": fig.read(t, fig.WORKER, "gpu_energy") or fig.read(t, "nvml", "gpu_energy") or None,
            "twin_difference": gap.difference if gap else None, "twin_beyond": bool(gap and gap.beyond)}


def _run_columns(record: CaseRecord, run: Repeat) -> dict[str, Any]:
    times = {p: _timed(run.phases.get(p)) for p in PHASES}
    fit_cpu, fit = run.cpu_s.get("fit"), times["fit"]
    # A profiled job's own phases ("train") too: `compare --phase train` of two profiles.
    own = {p: _timed(t) for p, t in run.phases.items() if p not in PHASES} if record.case.workload == PROFILE else {}
    return {"process": run.process, "repeat": run.repeat, "disturbed": bool(run.disturbed),
            **{f"{p}_s": t for p, t in times.items()}, **{f"{p}_s": t for p, t in own.items()},
            "times_left_out": sum(run.phases.get(p) is not None and t is None for p, t in times.items()),
            "fit_cpu_pct": 100 * fit_cpu / fit if fit_cpu is not None and fit and fit >= CPU_WINDOW_S else None,
            "quality": run.metric(record.workload_info.get("metric"))}


def _timed(seconds: float | None) -> float | None:
    """A phase time a timer could have measured, else None: 0, 5e-324 or 1e308 (the schema allows them) would
    break every fit in log space, so no analysis sees them (`fit` and `report` count them)."""
    return seconds if seconds is not None and TIME_RANGE_S[0] <= seconds <= TIME_RANGE_S[1] else None


MEMORY_SAME = 0.01  # two machines' memory within 1% is one size: what the kernel keeps varies from boot to boot


def machine_differences(run_a: RunResult, run_b: RunResult) -> list[str]:
    """Machine identity and library versions that differ between two runs (pyperf and pytest-benchmark warn too)."""
    ia, ib = run_a.machine.get("identity", {}), run_b.machine.get("identity", {})
    said = []
    for key in ("cpu_model", "physical_cores", "logical_cores", "python"):
        if ia.get(key) != ib.get(key):
            said.append(f"{key}: {ia.get(key)} vs {ib.get(key)}")
    ma, mb = ia.get("memory_bytes"), ib.get("memory_bytes")
    if ma != mb and not (ma and mb and abs(ma - mb) <= MEMORY_SAME * max(ma, mb)):  # the kernel's share moves a little
        said.append(f"memory: {ma / 2**30:.2f} vs {mb / 2**30:.2f} GiB" if ma and mb else f"memory_bytes: {ma} vs {mb}")
    if [g.get("name") for g in ia.get("gpus") or []] != [g.get("name") for g in ib.get("gpus") or []]:
        said.append("GPUs differ")
    la, lb = ia.get("libraries", {}), ib.get("libraries", {})
    said += [f"{lib} {la.get(lib)} vs {lb.get(lib)}" for lib in sorted(set(la) | set(lb)) if la.get(lib) != lb.get(lib)]
    return said
