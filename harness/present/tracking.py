"""Results logged to MLflow, where data scientists already look (Azure Machine Learning's tracking API is MLflow's).

One MLflow run per case, under a parent run for the sizeup run; a profile is one run of its own. Params say what
ran, metrics what it measured (phase medians, quality, throughput, peak memory, GPU figures), the sampled series
are step metrics under MLflow's own system-metric names, and the result file is an artifact.

The store is opened, and the run created, before any work starts: a bad URI costs nothing. MLflow's HTTP retries
are shortened for sizeup's own calls only; the environment is restored before the job or a worker starts.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.text import Text

from harness.errors import EXIT_USAGE, SizeupError, described
from harness.records import PROFILE, CaseRecord, RunResult, figures

INSTALL = "pip install -e '.[mlflow]'"
EXPERIMENT = "sizeup"  # unless MLFLOW_EXPERIMENT_NAME names another
# An unreachable server fails in seconds, not after MLflow's default of 7 retries with back-off (minutes).
QUICK = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "20"}
TEXT_CHARS = 5000  # MLflow keeps at most 6,000 characters of a param and 5,000 of a tag in some stores
FAILED = ("error", "timeout", "oom", "crashed")
MB = 1e6  # MLflow's system metrics count megabytes of 10^6 bytes


class TrackingError(Exception):
    """The store refused or could not be reached; the result on disk is unaffected."""


@contextmanager
def _calls(quick: bool = False) -> Iterator[None]:
    """MLflow's failures as one TrackingError naming their first cause, and its own log quiet (it prints a failed
    query's traceback before raising it). `quick`: HTTP retries kept short unless the user set them, for opening
    the store; logging a finished job's result keeps MLflow's retries, so one passing server error loses nothing."""
    saved = {k: os.environ.get(k) for k in QUICK}
    for k, v in QUICK.items() if quick else ():
        os.environ.setdefault(k, v)
    log = logging.getLogger("mlflow")
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    except SizeupError:
        raise
    except Exception as exc:  # MLflow, its HTTP client and its database each raise their own kinds
        raise TrackingError(described(_first_cause(exc))) from None
    finally:
        log.setLevel(level)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _first_cause(exc: BaseException) -> BaseException:
    """The exception at the bottom of a chain: 'attempt to write a readonly database', 'Connection refused'."""
    seen = {id(exc)}
    while (below := exc.__cause__ or exc.__context__) is not None and id(below) not in seen:
        seen.add(id(below))
        exc = below
    return exc


def check_uri(uri: str | None) -> None:
    """`--mlflow python train.py` takes `python` for the URI: said before the command is looked at."""
    if uri and ":" not in uri and shutil.which(uri):
        raise SizeupError(f"--mlflow took {uri!r}, a command, as its tracking URI: give the URI, or put -- between "
                          "sizeup's options and the command")


class Tracking:
    """An MLflow run created before the work and filled in after it."""

    def __init__(self, uri: str | None, name: str, tags: Mapping[str, str]) -> None:
        check_uri(uri)
        try:
            from mlflow import MlflowClient
        except ImportError:
            raise SizeupError(f"--mlflow needs MLflow, an optional extra: {INSTALL}") from None
        try:
            with _calls(quick=True):
                self.client = MlflowClient(tracking_uri=uri or None)
                self.uri = self.client.tracking_uri
                experiment = os.environ.get("MLFLOW_EXPERIMENT_NAME") or EXPERIMENT
                found = self.client.get_experiment_by_name(experiment)
                if found is not None and found.lifecycle_stage == "deleted":
                    raise SizeupError(f"cannot log to MLflow at {self.uri}: its experiment {experiment!r} was deleted; "
                                      "restore it (mlflow experiments restore), or name another in "
                                      "MLFLOW_EXPERIMENT_NAME")
                self.experiment = found.experiment_id if found else self.client.create_experiment(experiment)
                self.run_id = self.client.create_run(self.experiment, run_name=name, tags=dict(tags)).info.run_id
        except TrackingError as exc:
            raise SizeupError(f"cannot log to MLflow at {uri or 'its default store'}: {exc}") from None

    def log(self, result: RunResult, path: Path, status: str) -> None:
        """The result's cases and file, then the run ended with `status` (FINISHED, FAILED, KILLED)."""
        with _calls():
            client = self.client
            machine = result.machine
            if result.suite == PROFILE and len(result.cases) == 1:
                _log_case(client, self.run_id, result.cases[0], machine)
            else:
                client.log_batch(self.run_id, params=_params({"suite": result.suite, "sizeup_run": result.run_id,
                                                              "machine": machine.get("id"), "cases": len(result.cases)}))
                for record in result.cases:
                    child = client.create_run(self.experiment, start_time=_ms(record.started), run_name=record.id,
                                              tags={"mlflow.parentRunId": self.run_id}).info.run_id
                    status_ = "FAILED"  # unless it is all logged: no run is left "running"
                    try:
                        _log_case(client, child, record, machine)
                        status_ = _status(record)
                    finally:
                        client.set_terminated(child, status_, end_time=_ms(record.started, record.wall_s))
            client.log_artifact(self.run_id, str(path))
            client.set_terminated(self.run_id, status)

    def finish(self, result: RunResult, path: Path, status: str, code: int, console: Console) -> int:
        """`log`, said in one line; where the store fails now, the result stays on disk, and the exit code is 2
        unless the work already exits with a failure of its own (`code`)."""
        try:
            self.log(result, path, status)
        except TrackingError as exc:
            print(f"sizeup: error: could not log to MLflow at {self.uri}: {exc}; the result is kept in {path}",
                  file=sys.stderr)
            self.abandon("FAILED")
            return code or EXIT_USAGE
        console.print(Text(f"Logged to MLflow at {self.uri}: run {self.run_id}"))
        return code

    def discard(self) -> None:
        """Deletes the run (MLflow keeps it in its trash): the input was refused before anything was measured."""
        try:
            with _calls(quick=True):
                self.client.delete_run(self.run_id)
        except TrackingError:
            pass

    def abandon(self, status: str = "KILLED") -> None:
        """Ends the run when nothing will be logged to it (the work was stopped); a failure here changes nothing."""
        try:
            with _calls(quick=True):
                self.client.set_terminated(self.run_id, status)
        except TrackingError:
            pass


def _log_case(client: Any, run_id: str, record: CaseRecord, machine: Mapping[str, Any]) -> None:
    from mlflow.entities import Metric, RunTag

    case = record.case
    what = {"workload": case.workload, "model": case.model, "backend": case.backend, "size": case.size,
            "threads": case.threads, "seed": case.seed, "machine": machine.get("id"), **record.params}
    tags = {"sizeup.case": record.id, "sizeup.status": record.status, "sizeup.reason": record.reason,
            "sizeup.exit_code": (record.exit or {}).get("returncode")}
    start = _ms(record.started) or round(time.time() * 1000)
    metrics = [Metric(_name(name), float(v), start, 0) for name, v in _scalars(record).items()]
    total = (machine.get("identity") or {}).get("memory_bytes")  # the machine's, as MLflow divides by
    metrics += [Metric(name, float(v), start + round(1000 * dt), step)
                for name, points in _series(record.telemetry, total).items() for step, (dt, v) in enumerate(points)]
    client.log_batch(run_id, metrics=metrics, params=_params(what),
                     tags=[RunTag(k, str(v)[:TEXT_CHARS]) for k, v in tags.items() if v is not None])


def _params(values: Mapping[str, Any]) -> list[Any]:
    from mlflow.entities import Param

    return [Param(_name(k), str(v)[:TEXT_CHARS]) for k, v in values.items() if v is not None]


def _name(key: str) -> str:
    """A name MLflow takes (letters, digits, _ - . / : and spaces, at most 250): a phase the job named
    'run (marked)' or 'loss=0.1' must not cost the whole batch."""
    return re.sub(r"[^\w./\- :]", "_", key)[:250]


def _scalars(record: CaseRecord) -> dict[str, float]:
    """One value per figure: phase medians over the warm repeats, quality, throughput, peak memory, GPU figures."""
    warm = record.warm_runs()
    out = {f"{phase}_seconds": float(np.median(times)) for phase in record.phase_names()
           if (times := record.phase_samples(phase))}
    out["wall_seconds"] = record.wall_s
    if warm:
        out |= {f"quality_{k}": v for k, v in (warm[-1].quality or {}).items() if v is not None}
        if warm[-1].throughput:
            out[f"{warm[-1].throughput.unit}_per_second"] = warm[-1].throughput.per_s
    if peak := record.telemetry.get("peak_memory_bytes"):
        out["peak_memory_megabytes"] = peak / MB
    for source, figure in figures.declared(record.telemetry):
        if (v := figures.value(record.telemetry, source, figure)) is not None:
            out[figure.key] = v
    return {k: v for k, v in out.items() if v is not None and np.isfinite(v)}


def _series(telemetry: Mapping[str, Any], total: float | None) -> dict[str, list[tuple[float, float]]]:
    """The sampled series as (seconds since the start, value), under MLflow's system-metric names where MLflow has
    one (the whole machine, whose memory is `total`), and under `process/` for the job's own tree, which MLflow
    does not measure."""
    s = telemetry.get("series") or {}
    start = s.get("start") or 0.0
    out: dict[str, list[tuple[float, float]]] = {}

    def put(name: str, times: list[float], values: list[Any], scale: float = 1.0) -> None:
        points = [(t - start, v * scale) for t, v in zip(times, values) if v is not None]
        if points:
            out[name] = points

    put("process/cpu_percent", s.get("t") or [], s.get("cpu_percent") or [])  # 100 = one core busy
    put("process/memory_megabytes", s.get("t") or [], s.get("memory_bytes") or [], 1 / MB)
    slow = s.get("slow_t") or []
    put("system/cpu_utilization_percentage", slow, [float(np.mean(c)) if c else None for c in s.get("percore") or []])
    put("system/system_memory_usage_megabytes", slow, s.get("system_used_bytes") or [], 1 / MB)
    if total:
        put("system/system_memory_usage_percentage", slow, s.get("system_used_bytes") or [], 100 / total)
    names = {"util_percent": "utilization_percentage", "memory_used_bytes": "memory_usage_megabytes",
             "power_w": "power_usage_watts"}
    for source in (s.get("sources") or {}).values():
        for key, values in (source.get("values") or {}).items():
            device, _, value = key.rpartition(".")
            if device.startswith("gpu") and value in names:
                put(f"system/gpu_{device[3:]}_{names[value]}", source.get("t") or [], values,
                    1 / MB if value == "memory_used_bytes" else 1.0)
    return out


def _status(record: CaseRecord) -> str:
    return "FAILED" if record.status in FAILED else "FINISHED"


def _ms(iso: str, plus_s: float = 0.0) -> int | None:
    try:
        return round((datetime.fromisoformat(iso).timestamp() + plus_s) * 1000)
    except (TypeError, ValueError):
        return None
