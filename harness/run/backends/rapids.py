"""RAPIDS' zero-code-change accelerators: the very same scikit-learn and pandas code, run on the
GPU by ``cuml.accel`` and ``cudf.pandas`` where they are installed. Detected, never required.

Untested on GPU hardware: RAPIDS cannot be installed on the machines sizeup is tested on.
The accelerators must be installed before scikit-learn and pandas are imported, which the
worker's start-up order guarantees (the backend starts before any workload code runs).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from harness.records import events as ev
from harness.run.backends import Backend


class Rapids(Backend):
    """cuml.accel runs only some estimators on the GPU (RandomForest among the ensembles, not
    HistGradientBoosting) and falls back to scikit-learn silently: its profiler says where each call ran, and a
    case none of whose calls ran on the GPU is skipped (harness.run.worker), never reported as a GPU result."""

    def prepare(self, threads: int) -> None:
        import cudf.pandas
        import cuml.accel

        cudf.pandas.install()
        # Not managed memory (cuml.accel's default): data past the GPU's memory would page to the host unseen,
        # and the case would time page migration rather than fail as too big for the device.
        cuml.accel.install(disable_uvm=True)

    @contextmanager
    def dispatch(self) -> Iterator[list[ev.Dispatched]]:
        import cuml.accel

        seen: list[ev.Dispatched] = []
        with cuml.accel.profile(quiet=True) as results:
            yield seen
        seen.append(dispatched(results.method_calls))


def dispatched(calls: dict[str, Any]) -> ev.Dispatched:
    """cuml.accel's per-method statistics (its ProfileResults.method_calls) as an event."""
    return ev.Dispatched({name: s.gpu_calls for name, s in sorted(calls.items()) if s.gpu_calls},
                         {name: s.cpu_calls for name, s in sorted(calls.items()) if s.cpu_calls},
                         sorted({r for s in calls.values() for r in s.fallback_reasons}))


BACKENDS = (
    Rapids("sklearn-rapids", "cuda", ("cuml", "cudf"),
           "scikit-learn and pandas code on the GPU via cuml.accel and cudf.pandas (untested on GPU hardware)",
           twin="sklearn"),
)
