"""The runner with real worker processes: every way a case can end."""

from __future__ import annotations

import time
from pathlib import Path

import psutil
import pytest

from harness.plan import Case
from harness.runner import Limits, run_case

LIMITS = Limits(repeats=2, timeout_s=60, memory_cap_bytes=4 * 2**30, sample_hz=20)


def case(model: str, **params: object) -> dict:
    return Case("faulty", model, "sklearn", 200, 1, params).to_dict()


def test_ok_case_records_every_phase_of_every_repeat() -> None:
    record = run_case(case("ok"), LIMITS)
    assert record.status == "ok", record.reason
    assert [r["repeat"] for r in record.runs] == [0, 1, 2]
    assert [r["cold"] for r in record.runs] == [True, False, False]
    for run in record.runs:
        assert set(run["phases"]) == {"generate", "fit", "predict", "score"}
        assert run["quality"] == {"accuracy": 1.0}
    assert len(record.data_sha256) == 64
    assert record.threads["env"]["OMP_NUM_THREADS"] == "1"
    assert record.telemetry["peak_rss_bytes"] > 10 * 2**20  # a Python process with NumPy loaded
    assert record.workload_info["metric"] == "accuracy"


def test_a_case_that_raises_is_an_error_with_the_exception_text() -> None:
    record = run_case(case("raise"), LIMITS)
    assert record.status == "error"
    assert record.reason == "ValueError: this model always fails"
    assert "Traceback" in record.log_tail and "_raise" in record.log_tail
    assert list(record.runs[0]["phases"]) == ["generate"]  # fit never finished
    assert not record.runs[0]["complete"]


def test_a_case_past_its_timeout_is_killed_with_its_whole_tree(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    started = time.monotonic()
    record = run_case(case("sleep_with_child", pidfile=str(pidfile)), Limits(0, 8.0, 4 * 2**30, 10))
    assert record.status == "timeout"
    assert record.reason == "passed the 8 s timeout during fit of repeat 0"
    assert time.monotonic() - started < 20
    child = int(pidfile.read_text())
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE


def test_a_case_past_its_memory_cap_is_killed_as_oom() -> None:
    started = time.monotonic()
    record = run_case(case("hog"), Limits(0, 60, 400 * 2**20, 20))
    assert record.status == "oom"
    assert "memory cap 400 MiB during fit of repeat 0" in record.reason
    assert record.telemetry["peak_rss_bytes"] > 400 * 2**20
    assert time.monotonic() - started < 30


def test_sampling_off_still_enforces_the_memory_cap() -> None:
    record = run_case(case("hog"), Limits(0, 60, 400 * 2**20, 0))
    assert record.status == "oom"
    assert "series" not in record.telemetry


def test_a_worker_killed_by_a_signal_is_crashed() -> None:
    record = run_case(case("segfault"), LIMITS)
    assert record.status == "crashed"
    assert record.reason == "worker killed by SIGSEGV during fit of repeat 0"
    assert record.exit == {"returncode": -11, "signal": "SIGSEGV"}


def test_a_missing_optional_dependency_is_skipped_with_the_reason() -> None:
    record = run_case(case("missing"), LIMITS)
    assert record.status == "skipped"
    assert "a_module_that_is_not_installed" in record.reason


def test_an_unavailable_backend_is_skipped_without_running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A package that fails to import, first on the path: the worker sees "torch" as broken.
    blocked = tmp_path / "torch"
    blocked.mkdir()
    (blocked / "__init__.py").write_text("raise ImportError('torch blocked by the test')\n")
    import os

    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}{os.pathsep}{os.environ['PYTHONPATH']}")
    record = run_case(Case("digits", "cnn", "torch", 100, 1).to_dict(), LIMITS)
    assert record.status == "skipped"
    assert "torch" in record.reason and "blocked by the test" in record.reason
    assert record.runs == []


def test_phase_telemetry_is_summarized_from_samples() -> None:
    record = run_case(case("sleep", seconds=0.6), Limits(1, 60, 4 * 2**30, 20))
    fit = record.telemetry["phases"]["fit"]
    assert fit["samples"] >= 5
    assert fit["cpu_percent"]["mean"] < 50  # sleeping, not computing
    assert fit["rss_bytes"]["max"] > 0
    assert record.telemetry["phases"]["cold"]["fit"]["samples"] >= 5
