"""Views of a result for other tools: a pandas DataFrame, pytest-benchmark's JSON."""

from __future__ import annotations

from typing import Any

import pandas as pd

from harness.records import RunResult

CASE_COLUMNS = ("id", "workload", "model", "backend", "size", "threads", "seed")


def to_frame(run: RunResult) -> pd.DataFrame:
    """One row per case and repeat; a case without runs (skipped, crashed early) keeps one row.

    Columns: the case fields, status, reason, repeat, cold, complete, disturbed, other_cores,
    ``time_<phase>`` and ``cpu_<phase>`` (seconds), ``quality_<metric>``, throughput, and the
    case's peak memory.
    """
    rows = []
    for record in run.cases:
        base = {k: record.case.get(k) for k in CASE_COLUMNS}
        base |= {
            "status": record.status,
            "reason": record.reason,
            "peak_memory_bytes": record.telemetry.get("peak_memory_bytes"),
            "worker_maxrss_bytes": record.telemetry.get("worker_maxrss_bytes"),
            "data_sha256": record.data_sha256,
        }
        if not record.runs:
            rows.append(base | {"repeat": None})
        for r in record.runs:
            row = base | {"repeat": r["repeat"], "cold": r["cold"], "complete": r["complete"],
                          "disturbed": r.get("disturbed"), "other_cores": r.get("other_cores")}
            row |= {f"time_{phase}": seconds for phase, seconds in r["phases"].items()}
            row |= {f"cpu_{phase}": seconds for phase, seconds in r.get("cpu_s", {}).items()}
            row |= {f"quality_{metric}": value for metric, value in (r["quality"] or {}).items()}
            if r.get("throughput"):
                row |= {"throughput_per_s": r["throughput"]["per_s"], "throughput_unit": r["throughput"]["unit"]}
            rows.append(row)
    frame = pd.DataFrame(rows)
    if "repeat" in frame:
        frame["repeat"] = frame["repeat"].astype("Int64")
    return frame


def pytest_benchmark(run: RunResult) -> dict[str, Any]:
    """pytest-benchmark's storage format: one benchmark per case and phase, warm repeats as rounds.

    Its own Stats class computes the statistics, so `pytest-benchmark compare`
    reads the numbers exactly as it would its own.
    """
    from pytest_benchmark.stats import Stats

    from importlib.metadata import version

    identity = run.machine.get("identity", {})
    benchmarks = []
    for record in run.cases:
        runs = record.warm_runs() if record.status == "ok" else []
        phases = dict.fromkeys(p for r in runs for p in r["phases"])
        for phase in phases:
            stats = Stats()
            for r in runs:
                stats.update(r["phases"][phase])
            benchmarks.append({
                "group": phase,
                "name": record.id,
                "fullname": f"{record.id}::{phase}",
                "params": {k: record.case[k] for k in CASE_COLUMNS[1:]} | record.case.get("params", {}),
                "param": record.id,
                "extra_info": {"quality": runs[-1]["quality"], "data_sha256": record.data_sha256,
                               "peak_memory_bytes": record.telemetry.get("peak_memory_bytes")},
                "options": {"disable_gc": False, "timer": "perf_counter", "min_rounds": len(runs),
                            "max_time": None, "min_time": None, "warmup": True},
                "stats": {**stats.as_dict(), "data": list(stats.data), "iterations": 1},
            })
    # Only what the result records: fields it does not know are left out, not guessed.
    machine_info = {
        "node": run.machine.get("volatile", {}).get("hostname"),
        "processor": identity.get("cpu_model"),
        "machine": identity.get("architecture"),
        "python_implementation": identity.get("python_implementation"),
        "python_version": identity.get("python"),
        "release": identity.get("os_release"),
        "system": identity.get("os"),
        "cpu": {"brand_raw": identity.get("cpu_model"), "count": identity.get("logical_cores")},
        "sizeup_machine_id": run.machine.get("id"),
    }
    return {
        "machine_info": {k: v for k, v in machine_info.items() if v is not None},
        # A run, not a commit: no branch, no dirty flag; a journal's cases are only part of the run.
        "commit_info": {"id": run.run_id, "project": "sizeup", "partial": not run.complete},
        "benchmarks": benchmarks,
        "datetime": run.finished or run.started,
        "version": version("pytest-benchmark"),  # the format written is that of the installed pytest-benchmark
    }
