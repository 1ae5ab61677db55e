"""The worker's bookkeeping must not disturb what it measures: hashing, and imports in the start-up phase."""

from __future__ import annotations

import hashlib
import tracemalloc
from typing import Any

import numpy as np
import pandas as pd
import pytest

from harness.records import Case
from harness.run.runner import Limits, run_case
from harness.run.worker import data_hash
from workloads.base import Split


def copying_hash(data: Split) -> str:
    """The hash as it was computed before it learnt to read arrays in place (a copy of each)."""
    h = hashlib.sha256()

    def feed(obj: Any) -> None:
        if isinstance(obj, np.ndarray) and obj.dtype.hasobject:
            feed(obj.tolist())
        elif isinstance(obj, np.ndarray):
            h.update(str((obj.dtype.str, obj.shape)).encode())
            h.update(np.ascontiguousarray(obj).tobytes())
        elif isinstance(obj, pd.DataFrame):
            h.update(str(list(obj.columns)).encode())
            for column in obj.columns:
                feed(obj[column].to_numpy())
        elif isinstance(obj, (list, tuple)):
            h.update(f"\0seq{len(obj)}".encode())
            for item in obj:
                feed(item)
        else:
            h.update(repr(obj).encode())

    for part in (data.X_train, data.y_train, data.X_test, data.y_test):
        feed(part)
    return h.hexdigest()


def test_the_hash_is_unchanged_by_hashing_in_place() -> None:
    rng = np.random.default_rng(0)
    matrix = rng.standard_normal((1000, 7)).astype(np.float32)
    frame = pd.DataFrame({"a": np.arange(50, dtype=np.int32), "d": pd.date_range("2026-01-01", periods=50)})
    texts = np.array(["a b", "c", "d e f"], dtype=object)
    split = Split(matrix[:, ::2], rng.integers(0, 2, 1000), frame, [texts, ["x", "y"]])
    assert data_hash(split) == copying_hash(split)


def test_hashing_copies_no_array() -> None:
    big = np.ones((4096, 2048), dtype=np.float64)  # 64 MiB
    split = Split(big, big[:, 0], big[::2, ::2], big[:, 1])  # contiguous, strided column, strided block
    tracemalloc.start()
    try:
        data_hash(split)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2**20  # strided parts are hashed through slices of at most 8 MiB


@pytest.mark.e2e
@pytest.mark.parametrize("case", [Case("nlp", "tfidf_linear", "sklearn", 400, 1),
                                  Case("digits", "cnn", "torch", 200, 1, {"epochs": 1})], ids=lambda c: c.id)
def test_library_imports_land_in_startup_not_in_a_timed_phase(case: Case) -> None:
    record = run_case(case, Limits(0, 300, 8 * 2**30, 0))
    assert record.status == "ok", record.reason
    cold = record.runs[0]
    assert list(cold.phases)[0] == "startup" and cold.phases["startup"] > 0.1
    # Before: NLP's cold score imported sklearn.metrics (0.8 s), torch's first fit torch._dynamo (2 s).
    late = {name for phase in ("fit", "predict", "score") for name in cold.imports.get(phase, [])}
    assert late == set()
