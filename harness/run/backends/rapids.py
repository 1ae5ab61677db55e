"""RAPIDS' zero-code-change accelerators: the very same scikit-learn and pandas code, run on the
GPU by ``cuml.accel`` and ``cudf.pandas`` where they are installed. Detected, never required.

Untested on GPU hardware: RAPIDS cannot be installed on the machines sizeup is tested on.
The accelerators must be installed before scikit-learn and pandas are imported, which the
worker's start-up order guarantees (the backend starts before any workload code runs).
"""

from __future__ import annotations

from harness.run.backends import Backend


class Rapids(Backend):
    def prepare(self, threads: int) -> None:
        import cudf.pandas
        import cuml.accel

        cudf.pandas.install()
        cuml.accel.install()


BACKENDS = (
    Rapids("sklearn-rapids", "cuda", ("cuml", "cudf"),
           "scikit-learn and pandas code on the GPU via cuml.accel and cudf.pandas (untested on GPU hardware)",
           twin="sklearn"),
)
