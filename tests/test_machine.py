from __future__ import annotations

import os

import psutil

from harness.run import machine


def test_fingerprint_separates_identity_from_volatile() -> None:
    fp = machine.fingerprint()
    identity = fp["identity"]
    assert identity["logical_cores"] == psutil.cpu_count()
    assert identity["memory_bytes"] == psutil.virtual_memory().total
    assert identity["cpu_model"] and identity["python"]
    assert "numpy" in identity["libraries"] and "psutil" in identity["libraries"]
    assert "load_average" in fp["volatile"] and "load_average" not in identity
    assert identity["gpus"] == [] or all("name" in g for g in identity["gpus"])


def test_machine_id_is_stable_and_ignores_volatile_and_library_fields() -> None:
    first = machine.fingerprint()
    second = machine.fingerprint()
    assert first["id"] == second["id"]
    identity = dict(first["identity"], libraries={"numpy": "0.0"}, python="3.99", thread_env={"OMP_NUM_THREADS": "7"})
    assert machine.machine_id(identity) == first["id"]
    assert machine.machine_id(dict(identity, cpu_model="Another CPU")) != first["id"]


def test_usable_cores_respect_affinity() -> None:
    assert 1 <= machine.physical_cores() <= len(os.sched_getaffinity(0))
    assert machine.memory_limit() <= psutil.virtual_memory().total


def test_thread_settings_are_recorded(monkeypatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert machine.fingerprint()["identity"]["thread_env"]["OMP_NUM_THREADS"] == "3"
