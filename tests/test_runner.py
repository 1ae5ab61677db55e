"""The runner with real worker processes: every way a case can end."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from harness.records import Case
from harness.run.runner import Limits, run_case
from harness.run.watch import Watch, next_tick

LIMITS = Limits(repeats=2, timeout_s=60, memory_cap_bytes=4 * 2**30, sample_hz=20)


def case(model: str, **params: object) -> Case:
    return Case("faulty", model, "numpy", 200, 1, params)


def test_ok_case_records_every_phase_of_every_repeat() -> None:
    record = run_case(case("ok"), LIMITS)
    assert record.status == "ok", record.reason
    assert [r.repeat for r in record.runs] == [0, 1, 2]
    assert [r.cold for r in record.runs] == [True, False, False]
    phases = {"fit", "predict", "score"}
    # Imports are the cold run's own phase; the data is generated there once, and every repeat reuses it.
    assert set(record.runs[0].phases) == phases | {"startup", "generate"}
    for run in record.runs:
        assert set(run.phases) >= phases and set(run.spans) == set(run.cpu_s) == set(run.phases)
        assert run.quality == {"accuracy": 1.0}
        start, end = run.spans["fit"]
        assert end - start == pytest.approx(run.phases["fit"], abs=0.002)
    assert all(r.disturbed is not None for r in record.runs)
    assert len(record.data_sha256) == 64
    assert record.threads["env"]["OMP_NUM_THREADS"] == "1"
    telemetry = record.telemetry
    assert telemetry["peak_memory_bytes"] > 10 * 2**20  # a Python process with NumPy loaded
    assert telemetry["peak_memory_bytes"] == max(telemetry["sampled_peak_bytes"], telemetry["worker_hwm_bytes"])
    assert telemetry["tree_memory"] == "rss"
    assert 0 < telemetry["spawn_s"] < 10 and len(telemetry["load_average"]["after"]) == 3
    assert record.workload_info["metric"] == "accuracy"


def test_a_case_that_raises_is_an_error_with_the_exception_text() -> None:
    record = run_case(case("raise"), LIMITS)
    assert record.status == "error"
    assert record.reason == "ValueError: this model always fails"
    assert "Traceback" in record.log_tail and "_raise" in record.log_tail
    assert list(record.runs[0].phases) == ["startup", "generate"]  # fit never finished
    assert not record.runs[0].complete


def test_a_case_that_deletes_its_temp_folder_is_still_recorded_whole() -> None:
    record = run_case(case("remove_own_folder"), Limits(2, 60.0, 4 * 2**30, 10))
    assert record.status == "ok", record.reason  # was crashed with no runs: its events were read by path
    assert len(record.runs) == 3 and all("fit" in r.phases for r in record.runs)


def test_a_failure_is_one_line_for_people_and_whole_in_the_log() -> None:
    message = ("Check failed: labels\nStack trace:\n  [bt] (0) /lib/libxgboost.so(+0x2a) [0x7f]\n"
               "  at org.apache.spark.rdd.RDD.iterator(RDD.scala:329)\n  ... 12 more\nCaused by: bad labels")
    record = run_case(case("raise", tag=message), Limits(0, 60.0, 4 * 2**30, 10))
    assert record.status == "error" and record.reason == "ValueError: Check failed: labels / Caused by: bad labels"
    assert "[bt] (0) /lib/libxgboost.so" in record.log_tail


def test_a_worker_that_found_its_disk_full_says_so() -> None:
    from types import SimpleNamespace

    from harness.run.assemble import Said, classify

    log = "  File worker.py, line 310, in main\nOSError: [Errno 28] No space left on device\n"
    exited_1 = 1 << 8  # a wait status: exit code 1
    status, reason = classify(Said([]), SimpleNamespace(killed_for=None, sent=[]), exited_1, Limits(0, 9, 2**30, 10), log)
    assert status == "crashed" and "No space left on device" in reason and "TMPDIR is" in reason
    assert classify(Said([]), SimpleNamespace(killed_for=None, sent=[]), exited_1, Limits(0, 9, 2**30, 10), "")[1] == (
        "worker exited with code 1")


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
    assert record.telemetry["peak_memory_bytes"] > 400 * 2**20
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


def test_a_failing_import_inside_a_model_is_an_error_not_a_skip() -> None:
    record = run_case(case("missing"), LIMITS)
    assert record.status == "error"
    assert record.reason == "ModuleNotFoundError: No module named 'a_module_that_is_not_installed'"


def test_an_unavailable_backend_is_skipped_without_running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A package that fails to import, first on the path: the worker sees "torch" as broken.
    blocked = tmp_path / "torch"
    blocked.mkdir()
    (blocked / "__init__.py").write_text("raise ImportError('torch blocked by the test')\n")
    import os

    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}{os.pathsep}{os.environ['PYTHONPATH']}")
    record = run_case(Case("digits", "cnn", "torch", 100, 1), LIMITS)
    assert record.status == "skipped"
    assert "torch" in record.reason and "blocked by the test" in record.reason
    assert [list(r.phases) for r in record.runs] == [["startup"]]  # the probe, and no workload phase


@pytest.mark.quiet
def test_phase_telemetry_is_summarized_from_samples() -> None:
    record = run_case(case("sleep", seconds=0.6), Limits(1, 60, 4 * 2**30, 20))
    fit = record.telemetry["phases"]["fit"]
    assert fit["samples"] >= 5
    assert fit["cpu_percent"]["mean"] < 50  # sleeping, not computing
    assert fit["memory_bytes"]["max"] > 0
    assert record.telemetry["phases"]["cold"]["fit"]["samples"] >= 5


@pytest.mark.quiet
def test_cpu_is_attributed_to_the_phase_that_used_it() -> None:
    """fit: 0.4 s of CPU in the worker and 0.4 s in a child it reaps; predict: 0.4 s asleep."""
    record = run_case(case("known_phases", seconds=0.4), Limits(2, 60, 4 * 2**30, 10))
    assert record.status == "ok", record.reason
    for run in record.runs:
        # The child's interpreter start-up adds its own tens of milliseconds; predict's sleep adds nothing.
        assert 0.8 <= run.cpu_s["fit"] < 1.1, run.cpu_s
        assert run.cpu_s["predict"] < 0.01
        assert run.phases["predict"] >= 0.4
    assert record.telemetry["worker_cpu_s"] >= sum(sum(r.cpu_s.values()) for r in record.runs) - 0.01


def test_forked_children_sharing_memory_are_counted_once() -> None:
    """Three forks share a 200 MiB array: summed RSS says 800 MiB, the machine holds about 200."""
    limits = Limits(0, 60, 700 * 2**20, 20)
    record = run_case(case("fork_share", mib=200, seconds=1.5), limits)
    assert record.status == "ok", record.reason  # under the 700 MiB cap: summing RSS would have killed it
    assert record.telemetry["tree_memory"] == "pss"
    # The same forks with a 1 MiB array: the interpreters' own memory (more with pyarrow installed, which
    # pandas 3 imports), so that what is left is the array, counted once and not four times.
    baseline = run_case(case("fork_share", mib=1, seconds=1.5), limits).telemetry["sampled_peak_bytes"]
    assert 150 * 2**20 < record.telemetry["sampled_peak_bytes"] - baseline < 300 * 2**20


@pytest.mark.quiet
def test_wall_time_is_not_rounded_up_to_the_sampling_interval() -> None:
    t0 = time.monotonic()
    proc = subprocess.Popen(["sleep", "0.3"])
    watch = Watch(proc, Limits(0, 60, 4 * 2**30, sample_hz=1))
    watch.until_exit(t0)
    assert 0.3 <= watch.exited_at - t0 < 0.7  # polling at 1 Hz would say 1 s


def test_a_worker_that_ended_while_the_harness_was_stopped_is_not_killed_for_its_timeout() -> None:
    """Stopped between two checks (Ctrl-Z), the harness wakes past the timeout of a worker that has since ended
    itself (its own deadline): its own account stands, not a kill the harness never made."""
    proc = subprocess.Popen(["true"])
    while psutil.Process(proc.pid).status() != psutil.STATUS_ZOMBIE:  # ended, not yet reaped
        time.sleep(0.01)
    watch = Watch(proc, Limits(0, 1, 4 * 2**30, sample_hz=0))
    watch.check_limits(time.monotonic() - 10, sample=False)
    assert watch.killed_for is None
    status, _ = watch.until_exit(time.monotonic())
    assert os.waitstatus_to_exitcode(status) == 0 and watch.killed_for is None


def test_missed_sampling_ticks_are_skipped_not_caught_up() -> None:
    assert next_tick(0.0, 0.05, 0.1) == pytest.approx(0.1)
    assert next_tick(0.0, 0.35, 0.1) == pytest.approx(0.4)  # a slow sample: no burst of three
    assert next_tick(1.0, 1.0, 0.5) == pytest.approx(1.5)


def test_a_large_harness_does_not_lend_its_memory_to_a_small_case() -> None:
    """Linux starts a forked child's ru_maxrss at its parent's RSS: a 1 GiB harness must not make a
    small worker's peak read 1 GiB."""
    import numpy as np

    ballast = np.ones(2**27)  # 1 GiB held by this (the harness's) process
    record = run_case(case("ok"), LIMITS)
    assert record.telemetry["worker_maxrss_bytes"] >= ballast.nbytes  # the kernel's figure: inherited
    assert record.telemetry["peak_memory_bytes"] < 500 * 2**20


def test_the_data_is_generated_once_per_process_and_a_model_that_changes_it_fails_its_case() -> None:
    ok = run_case(case("ok"), LIMITS)
    assert [("generate" in r.phases) for r in ok.runs] == [True, False, False]
    changed = run_case(case("changes_its_data"), LIMITS)
    assert changed.status == "error" and "changed the generated data in place" in (changed.reason or "")


def test_each_case_compiles_its_own_gpu_kernels_cold(tmp_path: Path) -> None:
    """CuPy's on-disk kernel cache is the case's own: a cold run means the same on every machine."""
    from harness.run.runner import worker_env

    env = worker_env(2, "token", 5, tmp_path / "case")
    assert Path(env["CUPY_CACHE_DIR"]).parent == tmp_path / "case" == Path(env["TMPDIR"])


def test_the_progress_lists_a_skip_reason_once_and_counts_the_rest() -> None:
    import dataclasses
    import io

    from rich.console import Console

    from harness.present.progress import RichProgress
    from tests import builders

    def skipped(workload: str, backend: str, reason: str):
        return dataclasses.replace(builders.record(Case(workload, "m", backend, 100, 1), [], status="skipped"),
                                   reason=reason)

    out = io.StringIO()
    records = [skipped(w, "cuda", "no cupy") for w in ("a", "b", "c")] + [skipped("a", "rapids", "no cuml"),
                                                                         builders.record(case("ok"), [0.5])]
    with RichProgress(Console(file=out, width=200), len(records) + 1, [records[-1]]) as progress:
        for r in records:  # one more ok case was done before a resume
            progress.case_finished(r)
    lines = out.getvalue().splitlines()
    assert [line.split()[:2] for line in lines if "no cupy" in line or "no cuml" in line] == [
        ["skipped", "a/m@cuda/n=100/t=1"], ["skipped", "a/m@rapids/n=100/t=1"], ["skipped", "2"]]
    assert "2 more cases: no cupy" in lines[-2] and sum("ok" in line.split()[:1] for line in lines) == 1
    assert lines[-1] == "6 cases: 2 ok, 4 skipped"  # the totals, last, a resumed run's done cases among them


def test_the_progress_says_a_cases_disturbed_repeats_beneath_it_indented() -> None:
    """Wrapped into the lines after its case, the note had read as a message of its own (fourth trial)."""
    import io

    from rich.console import Console

    from harness.present.progress import RichProgress
    from tests import builders

    out = io.StringIO()
    noisy = builders.record(case("ok"), [0.1, 41.9, 0.1], disturbed=[False, True, False])
    with RichProgress(Console(file=out, width=60), 1, []) as progress:
        progress.case_finished(noisy)
    lines = out.getvalue().splitlines()
    first = next(i for i, line in enumerate(lines) if "1 of 3 warm repeats disturbed" in line)
    note = lines[first:lines.index(next(line for line in lines if line.startswith("1 case")))]
    assert len(note) > 1 and all(line.startswith(" " * 8) for line in note)


def test_the_progress_names_a_case_of_your_own_data_without_the_data_it_said_first() -> None:
    from harness.present.progress import label

    own = Case("user_regression", "xgboost", "xgboost", 79, 2, {"path": "/d/t.csv", "file_sha256": "ab" * 32,
                                                                 "target": "price", "rows": 5000})
    assert "data=t.csv#" in own.id and label(own) == "user_regression/xgboost@xgboost/n=79/t=2"
    suite = Case("nlp", "transformer", "torch", 64, 2, {"epochs": 2})
    assert label(suite) == suite.id
