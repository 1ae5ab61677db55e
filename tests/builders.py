"""Typed records made by hand, for tests of everything that reads results (analysis, sizing, renderers).

They are built exactly as the runner builds them (backend facts from the backend itself, telemetry
figures as the NVML source declares them), so a hand-made result reads like a measured one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harness import records
from harness.records import Case, CaseRecord, Repeat, RunResult
from harness.records.figures import GPU_ENERGY, WORKER
from harness.run.backends import BACKENDS
from harness.run.sources import nvml

LIBRARIES = {"xgboost": "3.2.0"}
GiB = 2**30


def times(median: float, n: int, cv: float, seed: int) -> list[float]:
    """`n` timings around `median`, log-normal with coefficient of variation about `cv`."""
    return list(median * np.exp(np.random.default_rng(seed).normal(0, cv, n)))


def repeat(index: int, fit: float, quality: dict[str, float] | None = None, disturbed: bool = False,
           other_cores: float | None = None, process: int = 0, cpu_s: float | None = None,
           phases: dict[str, float] | None = None, complete: bool = True) -> Repeat:
    return Repeat(index, index == 0, complete, phases={"fit": fit, **(phases or {})},
                  cpu_s={"fit": cpu_s} if cpu_s is not None else {}, other_cores=other_cores, disturbed=disturbed,
                  quality=quality, process=process)


def gpu_telemetry(util: float | None = None, memory: float | None = None, energy: float | None = None) -> dict:
    """The per-phase summaries and figure declarations a GPU case's telemetry holds: NVML's samples, and the
    energy the worker read at the fit's edges."""
    fit = {}
    if util is not None:
        fit["gpu0.util_percent"] = {"mean": util, "p95": util, "max": util}
    if memory is not None:
        fit["gpu0.case_memory_bytes"] = {"mean": memory, "p95": memory, "max": memory}
    sources: dict[str, Any] = {"nvml": fit}
    figures = {"nvml": [f.to_dict() for f in nvml.FIGURES]}
    if energy is not None:
        sources[WORKER] = {"gpu.energy_j": {"per_window": energy, "windows": 2}}
        figures[WORKER] = [GPU_ENERGY.to_dict()]
    return {"phases": {"fit": {"sources": sources}, "cold": {}}, "figures": figures}


def record(case: Case, fits: Sequence[float], quality: float | None = 0.9, metric: str = "accuracy",
           peak: float | None = GiB, sha: str = "d0", params: dict | None = None,
           processes: Sequence[int] | None = None, fit_peak: float | None = GiB / 2, cpu_share: float | None = None,
           disturbed: Sequence[bool] | None = None, telemetry: dict[str, Any] | None = None, task: str | None = None,
           higher_is_better: bool = True, unit: str = "rows", status: str = "ok", wall: float = 1.0) -> CaseRecord:
    """A finished case: a cold run (twice the first time) then one warm repeat per entry of `fits`."""
    all_fits = [fits[0] * 2, *fits] if fits else []
    procs = [processes[0], *processes] if processes is not None else [0] * len(all_fits)
    bad = [False, *disturbed] if disturbed is not None else [False] * len(all_fits)
    runs = [repeat(i, t, {metric: quality} if quality is not None else {}, disturbed=d, process=p,
                   other_cores=0.5 if d else 0.0, cpu_s=t * case.threads * cpu_share if cpu_share else None)
            for i, (t, p, d) in enumerate(zip(all_fits, procs, bad))]
    base = {"peak_memory_bytes": peak, "phases": {"fit": {"memory_bytes": {"max": fit_peak}}}}
    if telemetry:
        base = {**base, **telemetry, "phases": {**base["phases"], **telemetry.get("phases", {})}}
        base["phases"]["fit"] = {"memory_bytes": {"max": fit_peak}, **telemetry.get("phases", {}).get("fit", {})}
    info = {"metric": metric, "higher_is_better": higher_is_better, "size_unit": unit}
    if task:
        info["family"] = task
    return CaseRecord(case, status, runs=runs if status == "ok" else [], data_sha256=sha,
                      params=params if params is not None else {"trees": 10}, telemetry=base, workload_info=info,
                      backend_facts=BACKENDS[case.backend].facts() if case.backend in BACKENDS else None,
                      wall_s=wall, reason=None if status == "ok" else "it failed")


def run_result(cases: Sequence[CaseRecord], cpu: str = "Xeon", libraries: dict | None = None,
               gpu: str | None = None, run_id: str = "r1", started: str = "2026-11-28T00:00:00+00:00") -> RunResult:
    identity = {"cpu_model": cpu, "physical_cores": 2, "logical_cores": 2, "memory_bytes": 16 * GiB,
                "gpus": [{"name": gpu}] if gpu else [], "libraries": libraries or LIBRARIES, "python": "3.11.7"}
    return RunResult(run_id=run_id, started=started, suite="t", settings={"repeats": 3},
                     plan=[r.case for r in cases], machine={"id": f"m-{cpu}", "identity": identity},
                     sizeup_version="0", cases=list(cases), complete=True)


def write(path: Path, cases: Sequence[CaseRecord], cpu: str = "Xeon", libraries: dict | None = None,
          gpu: str | None = None, started: str = "2026-11-28T00:00:00+00:00") -> str:
    """A result file of `cases`, as `sizeup run` writes it; returns its path."""
    records.save(path, run_result(cases, cpu, libraries, gpu, run_id=path.stem, started=started))
    return str(path)


def document(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def contended(path: Path, disturbed: Sequence[bool]) -> Path:
    """A result of one case whose warm repeats were disturbed as given (a disturbed one took twice as long)."""
    runs = [repeat(i, 2.0 if bad else 1.0, disturbed=bad, other_cores=1.4 if bad else 0.02, cpu_s=0.5)
            for i, bad in enumerate([False, *disturbed])]
    case = CaseRecord(Case("w", "m", "b", 10, 1), "ok", runs=runs)
    records.save(path, run_result([case]))
    return path
