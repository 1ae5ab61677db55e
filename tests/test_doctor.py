"""`sizeup doctor` on this machine: every check answers with a code, a status and, where it fails, a reason."""

from __future__ import annotations

import time
from functools import partial

import pytest

from harness import cli
from harness.commands import doctor as doctor_command
from harness.run import doctor
from harness.run.backends import BACKENDS, cuda_devices


def test_doctor_names_every_check_and_what_a_missing_one_costs_the_suites(capsys: pytest.CaptureFixture[str]) -> None:
    findings = {f.code: f for f in doctor.examine()}
    assert set(findings) == {"nvidia-driver", "gpu-telemetry", "xgboost-cuda", "cupy", "torch-cuda",
                             "sklearn-rapids", "spark", "java", "limits", "load"}
    assert all(f.status in (doctor.OK, doctor.MISSING, doctor.LIMITED) and f.found for f in findings.values())
    for name in ("xgboost-cuda", "cupy", "torch-cuda", "sklearn-rapids", "spark"):  # the worker's own probes
        assert (findings[name].status == doctor.OK) == BACKENDS[name].probe().ok
    cases = doctor.suite_cases()
    assert cases["gpu"]["torch-cuda"] == 3 and cases["gpu"]["cupy"] == 1
    if not cuda_devices().ok:  # this machine: every GPU line missing, with its reason and its cost
        for code in ("nvidia-driver", "gpu-telemetry", "xgboost-cuda", "cupy", "torch-cuda"):
            assert findings[code].status == doctor.MISSING and findings[code].found
        # The driver's line says what to install; the others point to it: no library would help without it.
        gpu_lines = ("gpu-telemetry", "xgboost-cuda", "cupy", "torch-cuda", "sklearn-rapids")
        assert findings["nvidia-driver"].fix and all(findings[code].fix == doctor.DRIVER_FIRST for code in gpu_lines)
        assert findings["torch-cuda"].skipped["gpu"] == 3
        assert cli.main(["doctor"]) == doctor_command.EXIT_MISSING
        out = capsys.readouterr().out
        assert "torch-cuda" in out and max(map(len, out.splitlines())) <= 100  # piped too: had been 187 columns


def _nap(code: str) -> doctor.Finding:
    time.sleep(1.0)
    return doctor.Finding(code, doctor.OK, "slept 1 s")


def test_the_checks_run_at_once_so_the_slowest_sets_the_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """Importing torch, XGBoost and pyspark took 2-9 s per check here, beside one another: in turn they would add
    up. Checks that each wait a second, not on the CPU (however busy the machine), show it."""
    naps = [(f"nap-{i}", partial(_nap, f"nap-{i}")) for i in range(8)]
    monkeypatch.setattr(doctor, "checks", lambda: naps)  # the forked checks inherit it
    started = time.monotonic()
    found = doctor.examine()
    elapsed = time.monotonic() - started
    assert [f.code for f in found if f.code.startswith("nap-")] == [code for code, _ in naps]
    assert elapsed < 6.0  # in turn: over 8 s


def test_a_check_that_fails_is_a_finding_under_its_own_code(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> doctor.Finding:
        raise OSError("java went away")

    monkeypatch.setattr(doctor, "java", broken)  # the forked checks inherit it
    found = {f.code: f for f in doctor.examine()}["java"]
    assert found.status == doctor.MISSING and "OSError: java went away" in found.found
