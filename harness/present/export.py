"""A result in another tool's format: pytest-benchmark's JSON."""

from __future__ import annotations

from typing import Any

from harness.records import RunResult

CASE_COLUMNS = ("id", "workload", "model", "backend", "size", "threads", "seed")


def pytest_benchmark(run: RunResult) -> dict[str, Any]:
    """pytest-benchmark's storage format: one benchmark per case and phase, warm repeats as rounds.

    Its own Stats class computes the statistics, so `pytest-benchmark compare`
    reads the numbers exactly as it would its own.
    """
    from importlib.metadata import version

    from pytest_benchmark.stats import Stats

    identity = run.machine.get("identity", {})
    benchmarks = []
    for record in run.cases:
        runs = record.warm_runs() if record.status == "ok" else []
        phases = dict.fromkeys(p for r in runs for p in r.phases)
        for phase in phases:
            stats = Stats()
            for r in runs:
                stats.update(r.phases[phase])
            benchmarks.append({
                "group": phase,
                "name": record.id,
                "fullname": f"{record.id}::{phase}",
                "params": {k: getattr(record.case, k) for k in CASE_COLUMNS[1:]} | dict(record.case.params),
                "param": record.id,
                "extra_info": {"quality": runs[-1].quality, "data_sha256": record.data_sha256,
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
