"""Backends own the steps that differ between devices; the worker drives them.

The CUDA backends' lifecycle runs here on the CPU: PyTorch's with device="cpu", the array
code on NumPy. Tests that need a real GPU are marked `gpu`.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import types
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.records import Case
from harness.records import events as ev
from harness.run import worker
from harness.run.backends import BACKENDS, Backend, on_device
from harness.run.backends.pytorch import Torch
from harness.run.runner import Limits, run_case
from tests import builders
from workloads import catalogue
from workloads.arrays import NormalEquationRidge, module_of
from workloads.base import Split

GPU_BACKENDS = ("xgboost-cuda", "cupy", "torch-cuda", "sklearn-rapids")


def test_backends_are_found_by_convention_each_with_its_device() -> None:
    assert {name: b.device for name, b in BACKENDS.items()} == {
        "sklearn": "cpu", "numpy": "cpu", "xgboost": "cpu", "torch": "cpu",
        "xgboost-cuda": "cuda", "cupy": "cuda", "torch-cuda": "cuda", "sklearn-rapids": "cuda", "spark": "cpu"}
    assert all(BACKENDS[name].moves_data for name in ("xgboost-cuda", "cupy", "torch-cuda"))
    assert {name: b.twin for name, b in BACKENDS.items() if b.twin} == {
        "xgboost-cuda": "xgboost", "cupy": "numpy", "torch-cuda": "torch", "sklearn-rapids": "sklearn"}
    # On the CPU only Spark moves data: its load (Parquet into a cached DataFrame) is the `transfer` phase.
    assert [name for name, b in BACKENDS.items() if b.device == "cpu" and b.moves_data] == ["spark"]


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this machine has a GPU")
def test_without_a_gpu_the_gpu_cases_are_skipped_for_want_of_one_before_any_library_is_imported() -> None:
    from harness.run.backends import cuda_devices

    missing = cuda_devices()
    assert not missing.ok and all(BACKENDS[name].probe() == missing for name in GPU_BACKENDS)
    # In a fresh process: importing XGBoost or torch to learn it took 1.5 s a backend here.
    code = ("import sys; from harness.run.backends import BACKENDS; "
            f"[BACKENDS[name].probe() for name in {GPU_BACKENDS!r}]; "
            "print(sorted(m for m in ('xgboost', 'torch', 'cupy', 'cuml', 'cudf') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).parents[1])
    assert done.stdout.split() == ["[]"]
    record = run_case(Case("classification", "xgboost", "xgboost-cuda", 200, 1), Limits(0, 60, 2**31, 0))
    assert record.status == "skipped" and record.reason.startswith("backend xgboost-cuda unavailable: ")


def test_an_install_that_imports_but_cannot_run_on_the_gpu_is_named_before_any_case() -> None:
    """The probes' library checks, on real NumPy and XGBoost and on stand-ins for broken installs."""
    import xgboost

    from harness.run.backends import cuda

    assert cuda.xgboost_cuda().ok == bool(xgboost.build_info().get("USE_CUDA"))
    cpu_only = types.SimpleNamespace(__version__="3.1.0", build_info=lambda: {"USE_CUDA": False})
    assert "built without CUDA" in cuda.xgboost_cuda(cpu_only).reason and not cuda.xgboost_cuda(cpu_only).ok
    assert cuda.runs_a_kernel(np).ok

    def no_nvrtc(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("CuPy failed to load libnvrtc.so.12: OSError: cannot open shared object file")

    broken = types.SimpleNamespace(int32=np.int32, arange=no_nvrtc)
    assert not cuda.runs_a_kernel(broken).ok and "libnvrtc" in cuda.runs_a_kernel(broken).reason


def test_only_numeric_arrays_move_to_the_device() -> None:
    docs = np.array(["a b", "c"], dtype=object)
    split = Split(np.ones((2, 3), np.float32), np.array([0, 1]), docs, ["x", "y"])
    moved = on_device(split, lambda a: ("moved", a.shape))
    assert moved.X_train == ("moved", (2, 3)) and moved.X_test is docs  # documents stay on the host
    assert moved.y_train is split.y_train and moved.y_test is split.y_test  # labels are encoded on the host

    import pandas as pd

    numeric = pd.DataFrame({"a": np.ones(3, np.float32), "b": np.zeros(3, np.float32)})
    mixed = pd.DataFrame({"a": [1.0, 2.0], "name": ["x", "y"]})
    moved = on_device(Split(numeric, None, mixed, None), lambda a: (a.dtype, a.shape))
    assert moved.X_train == (np.dtype(np.float32), (3, 2)) and moved.X_test is mixed


class Recorder(io.StringIO):
    """The worker's event stream, kept as a list next to the backend calls it interleaves with."""

    def __init__(self, log: list[Any]) -> None:
        super().__init__()
        self.log = log

    def write(self, text: str) -> int:
        self.log.extend(ev.decode(line) for line in text.splitlines())
        return len(text)


def run_in_process(case: Case, backend: Backend, monkeypatch: pytest.MonkeyPatch, log: list[Any]) -> list[Any]:
    """The worker's run_case in this process, `backend` registered under the case's backend name; events in `log`."""
    import torch

    monkeypatch.setitem(BACKENDS, case.backend, backend)
    threads = torch.get_num_threads()
    try:
        worker.run_case(case, 1, 0, worker.Events(Recorder(log)))
    finally:
        torch.set_num_threads(threads)
    return log


class Spy(Torch):
    """PyTorch on the CPU through the device path (transfer, synchronize, back to the host),
    noting each synchronize in the event log."""

    def __init__(self, log: list[Any]) -> None:
        super().__init__("moved", "cpu", ("torch",), "torch through the device path", moves_data=True)
        object.__setattr__(self, "log", log)

    def synchronize(self) -> None:
        super().synchronize()
        self.log.append("synchronize")


def test_the_device_lifecycle_runs_on_the_cpu_and_sees_the_same_data(monkeypatch: pytest.MonkeyPatch) -> None:
    case = dict(workload="digits", model="cnn", size=300, threads=1, params={"epochs": 1})
    log: list[Any] = []
    run_in_process(Case(backend="moved", **case), Spy(log), monkeypatch, log)
    plain = run_in_process(Case(backend="torch", **case), BACKENDS["torch"], monkeypatch, [])

    phases = [e.phase for e in log if isinstance(e, ev.PhaseTiming) and e.repeat == 1]
    assert phases == ["transfer", "fit", "predict", "score"]  # the data generated in the cold run, reused
    # Every timed phase but start-up is bracketed by synchronize calls, inside its begin and phase events.
    for i, entry in enumerate(log):
        if isinstance(entry, ev.Begin) and entry.phase != "startup":
            assert log[i + 1] == "synchronize" and log[i + 2] == "synchronize", log[i:i + 4]
            assert isinstance(log[i + 3], ev.PhaseTiming) and log[i + 3].phase == entry.phase

    def outcome(events: list[Any]) -> tuple[Any, Any]:
        return (next(e.sha256 for e in events if isinstance(e, ev.DataHash)),
                [e.quality for e in events if isinstance(e, ev.Quality)])

    assert outcome(log) == outcome(plain)  # same bytes, and on the CPU the same model to the last digit
    assert "transfer" not in {e.phase for e in plain if isinstance(e, ev.PhaseTiming)}


def test_tokens_move_to_the_device_in_transfer_and_train_the_model_they_train_on_the_host(
        monkeypatch: pytest.MonkeyPatch) -> None:
    case = dict(workload="nlp", model="embedding_bag", size=400, threads=1, params={"epochs": 1})
    log: list[Any] = []
    run_in_process(Case(backend="moved", **case), Spy(log), monkeypatch, log)
    plain = run_in_process(Case(backend="torch", **case), BACKENDS["torch"], monkeypatch, [])
    phases = [e.phase for e in log if isinstance(e, ev.PhaseTiming) and e.repeat == 1]
    assert phases == ["features", "transfer", "fit", "predict", "score"]
    assert [e.quality for e in log if isinstance(e, ev.Quality)] == [e.quality for e in plain
                                                                     if isinstance(e, ev.Quality)]


class StandIn(Backend):
    """The CuPy backends' path (features built with a non-NumPy array module, a transfer), on the host."""

    def array_module(self) -> Any:
        stand_in = types.ModuleType("numpy_stand_in")
        stand_in.__dict__.update(vars(np))
        return stand_in

    def to_device(self, split: Split) -> Split:
        return on_device(split, np.array)


def test_features_built_with_the_backends_array_module_feed_the_same_model(monkeypatch: pytest.MonkeyPatch) -> None:
    case = dict(workload="forecasting", model="xgboost", size=20, threads=1, params={"trees": 20})
    moved = run_in_process(Case(backend="stand-in", **case),
                           StandIn("stand-in", "cpu", ("xgboost",), "xgboost via matrices", moves_data=True),
                           monkeypatch, [])
    plain = run_in_process(Case(backend="xgboost", **case), BACKENDS["xgboost"], monkeypatch, [])
    phases = [e.phase for e in moved if isinstance(e, ev.PhaseTiming) and e.repeat == 1]
    assert phases == ["features", "transfer", "fit", "predict", "score"]
    quality = [[e.quality for e in log if isinstance(e, ev.Quality)] for log in (moved, plain)]
    assert quality[0] == quality[1]  # unnamed float32 matrices, the same trees


def test_array_code_written_for_cupy_runs_on_numpy_and_matches_scikit_learn() -> None:
    from sklearn.linear_model import Ridge
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    X = rng.standard_normal((500, 8)).astype(np.float32)
    X[:, 7] = 3.0  # a constant column
    y = X[:, :3] @ np.array([1.0, -2.0, 0.5]) + rng.normal(0, 0.1, 500)
    ours = NormalEquationRidge(alpha=1.0).fit(X, y)
    assert module_of(X) is np and type(ours.coef_) is np.ndarray
    theirs = Ridge(alpha=1.0).fit(StandardScaler().fit_transform(X.astype(np.float64)), y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-8)
    np.testing.assert_allclose(ours.predict(X[:5]), theirs.predict(StandardScaler().fit(X).transform(X[:5])),
                               rtol=1e-6)


def test_the_numpy_twin_of_the_cupy_case_runs_as_a_case() -> None:
    record = run_case(Case("regression", "ridge_solve", "numpy", 5000, 1), Limits(1, 120, 2**31, 0))
    assert record.status == "ok", record.reason
    assert record.runs[1].quality["r2"] > 0.15 and "transfer" not in record.runs[1].phases


def test_a_device_out_of_memory_error_is_an_oom_record_saying_what_was_asked_for() -> None:
    record = run_case(Case("faulty", "device_oom", "numpy", 100, 1), Limits(0, 60, 2**31, 0))
    assert record.status == "oom"
    assert record.reason == ("OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB "
                             "(GPU 0; 79.1 GiB total)")
    assert worker.out_of_memory(MemoryError()) and not worker.out_of_memory(ValueError("bad value"))


@pytest.mark.gpu
@pytest.mark.parametrize("cpu, gpu", [(Case("classification", "xgboost", "xgboost", 20000, 4),
                                       Case("classification", "xgboost", "xgboost-cuda", 20000, 4)),
                                      (Case("forecasting", "xgboost", "xgboost", 300, 4),
                                       Case("forecasting", "xgboost", "xgboost-cuda", 300, 4)),
                                      (Case("regression", "ridge_solve", "numpy", 20000, 4),
                                       Case("regression", "ridge_solve", "cupy", 20000, 4)),
                                      (Case("digits", "cnn", "torch", 1797, 4, {"epochs": 2}),
                                       Case("digits", "cnn", "torch-cuda", 1797, 4, {"epochs": 2}))],
                         ids=lambda c: f"{c.workload}-{c.backend}")
def test_a_gpu_case_and_its_cpu_twin_see_the_same_data_and_reach_the_same_quality(cpu: Case, gpu: Case) -> None:
    limits = Limits(2, 300, 16 * 2**30, 10)
    host, device = run_case(cpu, limits), run_case(gpu, limits)
    assert host.status == device.status == "ok", (host.reason, device.reason)
    assert host.data_sha256 == device.data_sha256
    assert "transfer" in device.runs[1].phases
    metric = device.workload_info["metric"]
    assert device.runs[1].quality[metric] == pytest.approx(host.runs[1].quality[metric], abs=0.02)


def twin_records(cpu_quality: list[float], gpu_quality: list[float], metric: str = "accuracy",
                 higher_is_better: bool = True) -> list[Any]:
    from harness.records import CaseRecord

    def record(backend: str, values: list[float]) -> CaseRecord:
        made = builders.record(Case("classification", "xgboost", backend, 1000, 2), [1.0] * len(values),
                               metric=metric, higher_is_better=higher_is_better)
        return replace(made, runs=[replace(r, quality={metric: v}) for r, v in zip(made.runs, [values[0], *values])])

    return [record("xgboost", cpu_quality), record("xgboost-cuda", gpu_quality)]


def test_a_device_case_is_checked_against_its_cpu_twin() -> None:
    from harness.analysis import twins

    cpu, gpu = twin_records([0.90, 0.91, 0.90], [0.905, 0.90, 0.91])
    assert twins.twin_of(gpu, [cpu, gpu]) is cpu and twins.twin_of(cpu, [cpu, gpu]) is None
    assert twins.check(gpu, [cpu, gpu]).beyond is False  # half a point apart: the same result
    cpu, gpu = twin_records([0.90, 0.90, 0.90], [0.88, 0.88, 0.89])
    gap = twins.check(gpu, [cpu, gpu])
    assert gap.beyond and gap.difference == pytest.approx(-0.02) and gap.tolerance == 0.01
    cpu, gpu = twin_records([10.0] * 3, [10.3] * 3, metric="rmse", higher_is_better=False)
    assert twins.check(gpu, [cpu, gpu]).beyond and twins.check(gpu, [cpu, gpu]).tolerance == pytest.approx(0.2)


def test_show_names_a_device_case_whose_quality_departs_from_its_twin(tmp_path, capsys) -> None:
    from harness import cli, records

    cases = twin_records([0.90, 0.90, 0.90], [0.85, 0.86, 0.85])
    run = records.RunResult("r", "2026-01-01T00:00:00+00:00", "t", {"repeats": 3}, [c.case for c in cases],
                            {"id": "m"}, "0", cases=cases)
    path = tmp_path / "r.json"
    records.save(path, run)
    assert cli.main(["show", str(path)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert ("quality classification/xgboost@xgboost-cuda/n=1000/t=2: accuracy 0.85 against 0.9 on its CPU twin "
            "classification/xgboost@xgboost/n=1000/t=2, beyond the tolerance of 0.01") in out


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this machine has a GPU")
def test_an_unavailable_backend_is_probed_once_per_run(tmp_path) -> None:
    from harness import cli, records

    assert cli.main(["run", "--workloads", "regression", "--models", "ridge_solve", "--backends", "cupy",
                     "--sizes", "100,200,400", "--repeats", "1", "--results-dir", str(tmp_path)]) == 0
    run = records.load(next(tmp_path.rglob("*.json")))
    assert [r.status for r in run.cases] == ["skipped"] * 3
    assert len({r.reason for r in run.cases}) == 1 and run.cases[0].reason.startswith("backend cupy unavailable")
    assert run.cases[0].wall_s > 0 and [r.wall_s for r in run.cases[1:]] == [0.0, 0.0]  # no worker after the first


class SilentFallback(Backend):
    """An accelerator's dispatch report, as cuml.accel's profiler gives it (stand-in statistics; what the worker
    does with them is under test, not a GPU)."""

    def __init__(self, name: str, gpu_calls: int) -> None:
        super().__init__(name, "cuda", ("sklearn",), "a silent-fallback accelerator")
        object.__setattr__(self, "gpu_calls", gpu_calls)

    def probe_hardware(self) -> Any:
        from harness.run.backends import Availability

        return Availability(True)

    probe_device = probe_hardware

    def dispatch(self) -> Any:
        from contextlib import contextmanager

        from harness.run.backends.rapids import dispatched

        @contextmanager
        def watching():
            seen: list[Any] = []
            yield seen
            stats = types.SimpleNamespace(gpu_calls=self.gpu_calls, cpu_calls=1 - min(self.gpu_calls, 1),
                                          fallback_reasons={"HistGradientBoosting is not accelerated"}
                                          if not self.gpu_calls else set())
            seen.append(dispatched({"Model.fit": stats}))
        return watching()


@pytest.mark.parametrize("gpu_calls", [0, 1])
def test_an_accelerator_that_ran_nothing_on_the_gpu_is_skipped_and_one_that_did_says_what(
        gpu_calls: int, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    name = f"fallback-{gpu_calls}"
    monkeypatch.setitem(BACKENDS, name, SilentFallback(name, gpu_calls))
    spec, events = tmp_path / "case.json", tmp_path / "events.jsonl"
    spec.write_text(json.dumps({"case": Case("classification", "linear", name, 300, 1).to_dict(), "repeats": 1}))
    assert worker.main([str(spec), str(events)]) == 0
    log = [ev.decode(line) for line in events.read_text().splitlines()]
    where = next(e for e in log if isinstance(e, ev.Dispatched))
    skipped = [e for e in log if isinstance(e, ev.Skipped)]
    if gpu_calls:
        assert where.gpu == {"Model.fit": 1} and not skipped and any(isinstance(e, ev.Done) for e in log)
    else:
        assert where.gpu == {} and where.cpu == {"Model.fit": 1}
        assert len(skipped) == 1 and "none of this model's calls on the GPU" in skipped[0].reason
        assert "HistGradientBoosting is not accelerated" in skipped[0].reason


class StrictDevice(Backend):
    """The CuPy backends' path on the host, through the strict stand-in: features built with its module, a
    transfer that copies in, predictions copied back explicitly; anything implicit is refused."""

    def probe_hardware(self) -> Any:
        from harness.run.backends import Availability

        return Availability(True, "strict stand-in (tests only)")

    def array_module(self) -> Any:
        from tests.strict_arrays import strict

        return strict

    def to_device(self, split: Split) -> Split:
        from tests.strict_arrays import strict

        return on_device(split, strict.asarray)

    def to_host(self, predictions: Any) -> Any:
        from tests.strict_arrays import asnumpy

        return asnumpy(predictions)


@pytest.mark.parametrize("workload, model, twin", [("regression", "ridge_solve", "numpy"),
                                                   ("forecasting", "xgboost", None)])
def test_the_cupy_code_paths_keep_device_discipline_under_a_strict_stand_in(
        workload: str, model: str, twin: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """No implicit conversion, no host array mixed in, no value read back inside a fit: the CuPy ridge through the
    worker, and the forecasting features that a CuPy backend builds on the device."""
    from tests.strict_arrays import DeviceArray, asnumpy, strict

    if twin is None:  # XGBoost itself takes CuPy arrays through their own interface: only the features here
        w = catalogue()[workload]
        split = w.generate(20, 0, {**w.params, "trees": 5})
        on_device, on_host = w.features(split, w.params, strict), w.features(split, w.params, np)
        assert isinstance(on_device.X_train, DeviceArray)
        np.testing.assert_allclose(asnumpy(on_device.X_train), np.asarray(on_host.X_train), equal_nan=True)
        return
    monkeypatch.setitem(BACKENDS, "strict", StrictDevice("strict", "cuda", ("numpy",), "strict", moves_data=True))
    case = dict(workload=workload, model=model, size=2000, threads=1, params={"features": 6, "categorical": 0})
    log = run_in_process(Case(backend="strict", **case), BACKENDS["strict"], monkeypatch, [])
    plain = run_in_process(Case(backend=twin, **case), BACKENDS[twin], monkeypatch, [])
    failed = [e for e in log if isinstance(e, (ev.Failed, ev.Skipped))]
    assert not failed, failed
    strict_quality, host_quality = ([e.quality for e in events if isinstance(e, ev.Quality)] for events in (log, plain))
    assert len(strict_quality) == 2 and all(a == pytest.approx(b) for a, b in zip(strict_quality, host_quality))
