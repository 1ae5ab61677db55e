"""Runs one case in a fresh process: ``python -m harness.worker CASE_JSON EVENTS_JSONL``.

The runner starts this module with the case's thread settings already in the
environment (so BLAS and OpenMP see them before they load). It writes one JSON
line per event, flushed at once, so that a worker killed mid-way still leaves
every phase it finished. It knows nothing about timeouts or memory caps: the
runner enforces those from outside.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from typing import IO, Any

from harness.backends import BACKENDS
from harness.machine import THREAD_VARIABLES
from workloads import catalogue
from workloads.base import Model, ModelContext, Split, Workload


class Events:
    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def emit(self, event: str, **fields: Any) -> None:
        self.stream.write(json.dumps({"event": event, **fields}) + "\n")
        self.stream.flush()


def timed(events: Events, repeat: int, phase: str, fn: Callable[[], Any]) -> Any:
    events.emit("begin", repeat=repeat, phase=phase)  # so a killed case says where it was
    start, t0 = time.monotonic(), time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - t0
    events.emit("phase", repeat=repeat, phase=phase, seconds=seconds, start=start, end=time.monotonic())
    return value


def run_case(case: dict[str, Any], repeats: int, events: Events) -> None:
    workload = catalogue()[case["workload"]]
    params = {**workload.params, **case["params"]}
    target = workload.target
    events.emit("start", params=params, family=workload.family, metric=workload.metric,
                higher_is_better=workload.higher_is_better, size_unit=workload.size_unit,
                target=None if target is None else {"metric": target.metric, "threshold": target.threshold,
                                                    "higher_is_better": target.higher_is_better})
    backend = BACKENDS[case["backend"]]
    available = backend.probe()
    if not available.ok:
        events.emit("skipped", reason=f"backend {backend.name} unavailable: {available.reason}")
        return
    events.emit("backend", info=available.reason)
    model = workload.model(case["model"])
    ctx = ModelContext(threads=case["threads"], seed=case["seed"], device=backend.device, params=params)
    for repeat in range(repeats + 1):  # repeat 0 is the cold run
        once(workload, model, ctx, case["size"], repeat, events)
    events.emit("threads", **thread_report())
    events.emit("done")


def once(workload: Workload, model: Model, ctx: ModelContext, size: int, repeat: int, events: Events) -> None:
    """One run of every phase. Its data and model are freed on return, so repeats never hold two copies."""
    data: Split = timed(events, repeat, "generate", lambda: workload.generate(size, ctx.seed, ctx.params))
    if repeat == 0:
        events.emit("data", sha256=data_hash(data))
    if workload.features is not None:
        data = timed(events, repeat, "features", lambda: workload.features(data, ctx.params))
    estimator = model.build(ctx)
    timed(events, repeat, "fit", lambda: estimator.fit(data.X_train, data.y_train))
    predicted = timed(events, repeat, "predict", lambda: estimator.predict(data.X_test))
    quality = timed(events, repeat, "score", lambda: workload.score(data.y_test, predicted))
    work = workload.work(data, model.name, ctx.params) if workload.work else None
    events.emit("quality", repeat=repeat, quality={k: float(v) for k, v in quality.items()}, work=work)


def data_hash(data: Split) -> str:
    """SHA-256 over every array of the split, so results record exactly which data they saw."""
    h = hashlib.sha256()
    for part in (data.X_train, data.y_train, data.X_test, data.y_test):
        _feed(h, part)
    return h.hexdigest()


def _feed(h: Any, obj: Any) -> None:
    import numpy as np

    if obj is None:
        h.update(b"\0none")
    elif isinstance(obj, np.ndarray) and obj.dtype.hasobject:  # tobytes() would hash pointers
        _feed(h, obj.tolist())
    elif isinstance(obj, np.ndarray):
        h.update(str((obj.dtype.str, obj.shape)).encode())
        h.update(np.ascontiguousarray(obj).tobytes())
    elif hasattr(obj, "to_numpy") and hasattr(obj, "columns"):  # a DataFrame
        h.update(str(list(obj.columns)).encode())
        for column in obj.columns:
            _feed(h, obj[column].to_numpy())
    elif hasattr(obj, "to_numpy"):  # a Series
        _feed(h, obj.to_numpy())
    elif isinstance(obj, (list, tuple)):
        h.update(f"\0seq{len(obj)}".encode())
        for item in obj:
            _feed(h, item)
    elif isinstance(obj, dict):
        for key in sorted(obj):
            h.update(str(key).encode())
            _feed(h, obj[key])
    elif isinstance(obj, str) or np.isscalar(obj):
        h.update(repr(obj).encode())
    else:
        _feed(h, np.asarray(obj))


def thread_report() -> dict[str, Any]:
    """What thread settings the libraries actually used, not only what we asked for."""
    report: dict[str, Any] = {"env": {k: os.environ[k] for k in THREAD_VARIABLES if k in os.environ}}
    try:
        from threadpoolctl import threadpool_info

        report["threadpools"] = [
            {k: info.get(k) for k in ("user_api", "internal_api", "num_threads", "version")} for info in threadpool_info()
        ]
    except ImportError:
        pass
    if "torch" in sys.modules:
        report["torch_threads"] = sys.modules["torch"].get_num_threads()
    return report


def die_with_parent() -> None:
    """Ask Linux to kill this worker if the harness dies, so no orphan keeps computing."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def main(argv: list[str]) -> int:
    die_with_parent()
    case_path, events_path = argv
    with open(case_path) as f:
        spec = json.load(f)
    with open(events_path, "a", buffering=1) as stream:
        events = Events(stream)
        try:
            run_case(spec["case"], int(spec["repeats"]), events)
        except ImportError as exc:  # an optional library missing: skip, never crash the run
            events.emit("skipped", reason=f"missing optional dependency: {exc}")
        except MemoryError as exc:
            events.emit("error", kind="oom", message=f"MemoryError: {exc}", traceback=traceback.format_exc())
        except Exception as exc:
            events.emit("error", kind="error", message=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
