"""What a sizing decision says: a stable code for control flow and tests, and a message for people.

Codes name the rule or the piece of evidence; messages may be reworded freely. Nothing decides on
a message's words.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.analysis.predict import (  # noqa: F401 (re-exported: one spelling of each code)
    BELOW_MEASURED, BELOW_REGIME, BEYOND_BACKTESTS, CONTENDED, CONTENDED_LEFT_OUT, FIXED_COSTS_DOMINATE, MISSES_OWN,
    KIND_SHORT, NO_THREAD_FIT, OWN_BACKTESTS, RUNS_APART, THREAD_FIT, TOO_WIDE, UNCALIBRATED, VCPUS_FAR)

# Rules that fired and what they left out (Recommendation.rules).
HEADROOM = "memory-headroom"
SPARK_MEASURED_LOCALLY = "spark-measured-locally"
TOO_FEW_SIZES = "too-few-sizes"
BETTER_UNFITTED = "better-unfitted"
NONE_FINISHED = "none-finished"
NOT_MEASURED = "not-measured-here"
NO_PEAK_MEMORY = "no-peak-memory"
OUTGROWS_CATALOG = "outgrows-catalog"
GPU_WORSE_QUALITY = "gpu-worse-quality"
GPU_NO_DATASHEET = "gpu-no-datasheet"
GPU_OUTGROWS_CATALOG = "gpu-outgrows-catalog"
GPU_SLOWER = "gpu-slower"
GPU_DEARER = "gpu-dearer"
OUT_OF_CORE_DEARER = "out-of-core-dearer"
NOTHING_PRICED = "nothing-priced"
NO_VM_HOLDS_DATA = "no-vm-holds-data"
NO_TIME_WORTH_ACTING = "no-time-worth-acting-on"
BUDGET_MISSED = "budget-missed"
SPARK_FITS_ONE_NODE = "spark-fits-one-node"
SPARK_NO_MEMORY = "spark-no-memory"
SPARK_NO_VM = "spark-no-vm"

# Evidence attached to an option (Option.evidence); a prediction's caveats (harness.analysis.predict)
# keep their own codes: BELOW_MEASURED, BELOW_REGIME, BEYOND_BACKTESTS, CONTENDED, CONTENDED_LEFT_OUT,
# FIXED_COSTS_DOMINATE, KIND_SHORT, MISSES_OWN, NO_THREAD_FIT, OWN_BACKTESTS, THREAD_FIT, TOO_WIDE, UNCALIBRATED,
# VCPUS_FAR.
TIME_FIT = "time-fit"
MEMORY_FIT = "memory-fit"
NOT_CORE_BOUND = "not-core-bound"
ONE_GPU_USED = "one-gpu-used"
GPU_CARRIED = "gpu-carried"
GPU_MEMORY_UNFITTED = "gpu-memory-unfitted"
GPU_STARVED = "gpu-starved"
CLUSTER_WHY = "cluster-why"
CLUSTER_TIME_FIT = "cluster-time-fit"
CLUSTER_NODES = "cluster-nodes"
CLUSTER_MEMORY = "cluster-memory"
CLUSTER_EXTRAPOLATED = "cluster-extrapolated"
SPARK_NOT_MEASURED = "spark-not-measured"

# The fits behind a time: long, kept for `recommend`, left out of one-line summaries.
FITS = (TIME_FIT, MEMORY_FIT, CLUSTER_TIME_FIT)


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    config: str = ""  # the configuration it is about, where it is about one

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, **({"config": self.config} if self.config else {})}
