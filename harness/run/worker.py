"""Runs one case in a fresh process: ``python -m harness.run.worker CASE_JSON EVENTS_JSONL``.

The runner starts this module with the case's thread settings already in the
environment (so BLAS and OpenMP see them before they load). It writes one JSON
line per event, flushed at once, so that a worker killed mid-way still leaves
every phase it finished. It knows nothing about timeouts or memory caps: the
runner enforces those from outside. If the harness dies, the worker takes the
case's processes down with it (harness.run.lifeline).

Each phase is bracketed by CPU readings (see harness.run.cputime), taken outside
the timed window: the phase's own CPU seconds and the CPU other processes took
meanwhile, which decides whether a repeat was disturbed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from harness import signals
from harness.run import lifeline

if __name__ == "__main__":  # before the slow imports below: a harness killed meanwhile is seen at once
    signals.unblock()  # the harness keeps its stop signals blocked (harness.signals); a case starts with none
    lifeline.hold(Path(sys.argv[1]).parent if len(sys.argv) > 1 else None)

import contextlib  # noqa: E402
import gc  # noqa: E402
import hashlib  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import signal  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import IO, Any  # noqa: E402

from harness.records import Case  # noqa: E402
from harness.records import events as ev  # noqa: E402
from harness.run import contention, cputime, energy  # noqa: E402
from harness.run.backends import BACKENDS, Availability, Backend  # noqa: E402
from harness.run.machine import THREAD_VARIABLES  # noqa: E402
from workloads import catalogue  # noqa: E402
from workloads.base import Model, ModelContext, Split, Workload  # noqa: E402

HASH_CHUNK_BYTES = 8 * 2**20  # a non-contiguous array is hashed through copies of at most this much
QUIET_WAIT_S = 10.0  # how long a re-run waits for the machine to calm down
STACK_FRAME = re.compile(r"\s*(\[bt\] |Stack trace:|at [\w$.<>]+\(|\.\.\. \d+ more$)")  # C++, Java
MESSAGE_CHARS = 2000  # an error message or traceback is cut to its first and last this many characters


class Events:
    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.lock = threading.Lock()  # the deadline's thread may write too: one line at a time

    def emit(self, event: ev.Event) -> None:
        with self.lock:
            self.stream.write(ev.encode(event) + "\n")
            self.stream.flush()


def keep_deadline(seconds: float, events: Events) -> None:
    """The worker's own limit, past the harness's timeout: the harness enforces the timeout, but while it is
    stopped (Ctrl-Z, a debugger) nobody would. Then the case records a timeout and its process group ends."""
    def end() -> None:
        events.emit(ev.Failed("timeout", f"passed its {seconds:g} s deadline while the harness did not stop it "
                                         "(the harness was stopped?): the worker ended itself"))
        os.killpg(os.getpgrp(), signal.SIGKILL)

    timer = threading.Timer(seconds, end)
    timer.daemon = True
    timer.start()


@dataclass
class Repeat:
    """One pass over the phases: what the contention rule needs from it."""

    index: int
    windows: list[tuple[float, float]]  # (seconds, other CPU seconds) per timed phase


class Meter:
    """Times phases and judges each repeat for contention; one per case."""

    def __init__(self, events: Events, backend: Backend) -> None:
        self.events = events
        self.backend = backend
        self.cpus = len(os.sched_getaffinity(0))
        self.energy: energy.Counter | None = None  # the case's GPU, once its backend has started

    def timed(self, repeat: Repeat, phase: str, fn: Callable[[], Any], sync: bool = True) -> Any:
        """`fn()`, timed; with `sync`, the device's queued work is waited for on both sides of the window."""
        self.events.emit(ev.Begin(repeat.index, phase))  # so a killed case says where it was
        # Libraries first imported inside a timed cold phase are start-up cost that landed there: name them.
        modules = set(sys.modules) if repeat.index == 0 and phase != "startup" else None
        if sync:
            self.backend.synchronize()
        joules_before = self.energy.read() if self.energy else None  # after the synchronize: the exact edge
        before = cputime.start()
        t0 = time.perf_counter()
        value = fn()
        if sync:
            self.backend.synchronize()
        seconds = time.perf_counter() - t0
        use = cputime.stop(before).since(before)
        joules = _spent(joules_before, self.energy.read()) if self.energy else None
        self.events.emit(ev.PhaseTiming(repeat.index, phase, seconds, before.t, before.t + use.seconds, use.tree_s,
                                        use.other_s, use.percore,
                                        _new_packages(modules) if modules is not None else None, joules))
        repeat.windows.append((seconds, use.other_s))
        return value

    def judge(self, repeat: Repeat, extra: bool) -> bool:
        """Emit the repeat's verdict; True if it was disturbed."""
        other = contention.other_cores(repeat.windows)
        seconds = sum(s for s, _ in repeat.windows)
        disturbed = other is not None and contention.is_disturbed(other, seconds, self.cpus)
        self.events.emit(ev.Verdict(repeat.index, other, disturbed, extra))
        return disturbed

    def wait_for_quiet(self, limit_s: float = QUIET_WAIT_S) -> None:
        """Before re-running a disturbed repeat, give other work up to `limit_s` to finish."""
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            before = cputime.start()
            time.sleep(0.25)
            use = cputime.stop(before).since(before)
            if not contention.is_disturbed(use.other_s / use.seconds, use.seconds, self.cpus):
                return


def run_case(case: Case, repeats: int, rerun_disturbed: int, events: Events) -> None:
    meter = Meter(events, BACKENDS[case.backend])
    cold = Repeat(0, [])
    # No synchronize around start-up: it is what makes the device usable.
    available, started = meter.timed(cold, "startup", lambda: start_up(case), sync=False)
    if started is None:
        events.emit(ev.Skipped(f"backend {case.backend} unavailable: {available.reason}"))
        return
    workload, model, ctx = started
    target = workload.target
    events.emit(ev.Started(dict(ctx.params), workload.family, workload.metric, workload.higher_is_better,
                           workload.size_unit, None if target is None else {
                               "metric": target.metric, "threshold": target.threshold,
                               "higher_is_better": target.higher_is_better}, list(workload.how)))
    found = ""
    if meter.backend.device != "cpu":
        meter.energy, found = energy.Counter.open(_device_id(meter.backend))
        found = found or "the GPU the backend opened, read at each phase's edges"
    events.emit(ev.BackendStarted(available.reason, found))
    held = Data()
    once(workload, model, ctx, case.size, meter, cold, held)
    meter.judge(cold, extra=False)
    clean = 0
    for index in range(1, repeats + 1):
        clean += not run_repeat(workload, model, ctx, case.size, meter, index, held, extra=False)
    index, reruns = repeats, 0
    while clean < repeats and reruns < rerun_disturbed:  # replace disturbed repeats, as far as allowed
        meter.wait_for_quiet()
        index, reruns = index + 1, reruns + 1
        clean += not run_repeat(workload, model, ctx, case.size, meter, index, held, extra=True)
    if index > 0 and held.split is not None and data_hash(held.split) != held.sha256:
        events.emit(ev.Failed("error", "a repeat changed the generated data in place, so the repeats did not all "
                                       "train on the same data (data_sha256 differs after the last)"))
    events.emit(ev.Threads(**thread_report()))
    events.emit(ev.Done(own_peak_bytes()))


def start_up(case: Case) -> tuple[Availability, tuple[Workload, Model, ModelContext] | None]:
    """The cold run's first phase: import the backend's libraries and what the workload and model need.

    The workload and model come back as None when the backend is unavailable (the case is skipped).
    """
    backend = BACKENDS[case.backend]
    available = backend.start_up(case.threads)
    if not available.ok:
        return available, None
    workload = catalogue()[case.workload]
    for module in workload.imports:
        importlib.import_module(module)
    model = workload.model(case.model)
    ctx = ModelContext(threads=case.threads, seed=case.seed, device=backend.device,
                       params={**workload.params, **case.params})
    model.build(ctx)  # builders import their libraries; building is cheap and the estimator is dropped
    return available, (workload, model, ctx)


class NotOnDevice(Exception):
    """A device backend that ran the case on the CPU after all: the case is skipped, not measured."""


@dataclass
class Data:
    """The case's raw data: generated once, in the cold run, and reused by every repeat, whose derived data
    (features, device copies) and model are freed when it returns."""

    split: Split | None = None
    sha256: str = ""


def run_repeat(workload: Workload, model: Model, ctx: ModelContext, size: int, meter: Meter, index: int,
               held: Data, extra: bool) -> bool:
    repeat = Repeat(index, [])
    once(workload, model, ctx, size, meter, repeat, held)
    return meter.judge(repeat, extra)


def once(workload: Workload, model: Model, ctx: ModelContext, size: int, meter: Meter, repeat: Repeat,
         held: Data) -> None:
    """One run of every phase; `generate` only where `held` has no split yet (the cold run).

    Data is generated and hashed on the host (a CPU case and its GPU twin show one data_sha256),
    moved to the device in its own phase, and predictions come back to the host for scoring.
    Feature engineering runs with the backend's array module, so on CuPy it reads the raw
    columns onto the GPU itself and what `transfer` then moves is already there.
    """
    events, backend = meter.events, meter.backend
    if held.split is None:
        held.split = meter.timed(repeat, "generate", lambda: workload.generate(size, ctx.seed, ctx.params))
        held.sha256 = data_hash(held.split)
        events.emit(ev.DataHash(held.sha256))
    split = held.split
    if workload.features is not None:
        split = meter.timed(repeat, "features", lambda: workload.features(split, ctx.params, backend.array_module()))
    data = meter.timed(repeat, "transfer", lambda: backend.to_device(split)) if backend.moves_data else split
    estimator = model.build(ctx)
    with backend.dispatch() if repeat.index == 0 else contextlib.nullcontext() as seen:
        meter.timed(repeat, "fit", lambda: estimator.fit(data.X_train, data.y_train))
    for where in seen or ():
        events.emit(where)
        if not where.gpu:
            raise NotOnDevice(f"{backend.name} ran none of this model's calls on the GPU (all fell back to the CPU"
                              f"{': ' + '; '.join(where.reasons) if where.reasons else ''}): not a GPU result")
    predicted = meter.timed(repeat, "predict", lambda: backend.to_host(estimator.predict(data.X_test)))
    quality = meter.timed(repeat, "score", lambda: workload.score(split.y_test, predicted))
    work = workload.work(split, model.name, ctx.params) if workload.work else None
    values = {str(k): _metric(v) for k, v in quality.items()}
    missing = {k: why for k, (_, why) in values.items() if why}
    events.emit(ev.Quality(repeat.index, {k: v for k, (v, _) in values.items()}, missing, work))


def _device_id(backend: Backend) -> tuple[str, str] | None:
    try:
        return backend.device_id()
    except Exception:  # a library that cannot say: the energy counter of the only GPU, or none
        return None


def _spent(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


def _metric(value: Any) -> tuple[float | None, str | None]:
    """A metric as a finite float, else None and why (a one-row test split gives r2 = nan)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None, f"not a number: {value!r:.80}"
    return (number, None) if math.isfinite(number) else (None, str(number))


def _new_packages(before: set[str]) -> list[str]:
    """Public modules imported for the first time since `before`, each subtree named by its root."""
    new = set(sys.modules) - before
    roots = {name for name in new if not any(name.rsplit(".", k)[0] in new for k in range(1, name.count(".") + 1))}
    return sorted(name for name in roots if not any(part.startswith("_") for part in name.split(".")))


def data_hash(data: Split) -> str:
    """SHA-256 over every array of the split, so results record exactly which data they saw.

    Arrays are hashed in place (no copy of the dataset, so the case's peak memory is its own).
    """
    h = hashlib.sha256()
    for part in (data.X_train, data.y_train, data.X_test, data.y_test):
        _feed(h, part)
    return h.hexdigest()


def _feed(h: Any, obj: Any) -> None:
    import numpy as np

    if obj is None:
        h.update(b"\0none")
    elif isinstance(obj, np.ndarray) and obj.dtype.hasobject:  # the bytes would be pointers: hash the items
        h.update(f"\0seq{len(obj)}".encode())
        for item in obj:
            _feed(h, item)
    elif isinstance(obj, np.ndarray):
        h.update(str((obj.dtype.str, obj.shape)).encode())
        _feed_array(h, obj)
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


def _feed_array(h: Any, a: Any) -> None:
    """The array's C-order bytes: a view where it is contiguous, bounded copies of slices where not."""
    import numpy as np

    if a.flags.c_contiguous:
        h.update(a.reshape(-1).view(np.uint8))
        return
    rows = max(1, HASH_CHUNK_BYTES // max(1, a[:1].nbytes))
    for start in range(0, len(a), rows):
        h.update(np.ascontiguousarray(a[start:start + rows]).reshape(-1).view(np.uint8))


def own_peak_bytes() -> int | None:
    """This process's peak RSS since it started (VmHWM). Not getrusage's ru_maxrss: on Linux that starts
    from the RSS of the process that forked it (1 GiB for a worker started by a 1 GiB harness)."""
    with contextlib.suppress(OSError), open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return None


def thread_report() -> dict[str, Any]:  # the fields of events.Threads
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


def out_of_memory(exc: BaseException) -> bool:
    """Host or device memory ran out: MemoryError, torch's and CuPy's OutOfMemoryError, or a library's
    own "out of memory" error (XGBoost's on CUDA). Their messages say how much was asked for."""
    return (isinstance(exc, MemoryError) or type(exc).__name__.endswith("OutOfMemoryError")
            or "out of memory" in str(exc).lower())


def _reason(exc: BaseException) -> str:
    """The exception as one line for people: its message without the stack frames some libraries put in it
    (XGBoost's C++ `[bt]` lines, a Java trace from Spark); the whole of it stays in the case's log."""
    lines = [line.strip() for line in f"{type(exc).__name__}: {exc}".splitlines()
             if line.strip() and not STACK_FRAME.match(line)]
    return _clip(" / ".join(lines))


def _clip(text: str) -> str:
    if len(text) <= 2 * MESSAGE_CHARS:
        return text
    return f"{text[:MESSAGE_CHARS]}\n[... {len(text) - 2 * MESSAGE_CHARS:,} characters cut ...]\n{text[-MESSAGE_CHARS:]}"


def main(argv: list[str]) -> int:
    case_path, events_path = argv
    with open(case_path) as f:
        spec = json.load(f)
    with open(events_path, "a", buffering=1) as stream:
        events = Events(stream)
        events.emit(ev.Ready(time.monotonic()))
        if spec.get("deadline_s"):
            keep_deadline(float(spec["deadline_s"]), events)
        try:
            run_case(Case.from_dict(spec["case"]), int(spec["repeats"]), int(spec.get("rerun_disturbed", 0)), events)
        except NotOnDevice as exc:
            events.emit(ev.Skipped(str(exc)))
        except Exception as exc:  # ImportError included: only an unavailable backend makes a case `skipped`
            events.emit(ev.Failed("oom" if out_of_memory(exc) else "error", _reason(exc), _clip(traceback.format_exc())))
    # Every event is written. At exit the interpreter would collect the libraries' objects (0.25 s a case with
    # scikit-learn or XGBoost loaded, after the last phase): frozen, they are left to the process's end.
    gc.freeze()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
