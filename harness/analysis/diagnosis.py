"""What holds a profiled job back (`sizeup profile`), from its sampled series: rules as data, each a code,
its threshold in THRESHOLDS, and the figures that triggered it.

Each rule reads figures of the whole run; a rule whose figures were not measured (no GPU source, a run
shorter than a second) says nothing rather than guess. The figures come from the record alone, so a
profile diagnoses the same on any machine.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.records import CaseRecord

# Every threshold in one place; the rule that uses each is named by its key.
THRESHOLDS: Mapping[str, float] = {
    "cpu-single-thread": 0.6,  # share of the run with the job on one core (0.7-1.3 cores busy), on 2+ vCPUs
    "cpu-underused": 0.4,  # mean cores busy / vCPUs below this: a smaller VM of the same family
    "cpu-saturated": 0.9,  # mean cores busy / vCPUs at or above this: every vCPU busy, compute holds it back
    "memory-bound": 0.8,  # peak memory / this machine's memory above this (or swap grew)
    "gpu-idle": 5.0,  # mean GPU utilization (%) below this, with a GPU present
    "gpu-starved": 50.0,  # mean GPU utilization (%) below this while the job kept about one core busy
    "gpu-memory-headroom": 0.25,  # peak GPU memory / the card's below this: a smaller GPU would hold it
    "io-bound": 20e6,  # bytes per second read or written, with the job's CPU under half a core
    "spark-worth-it": 1.0,  # peak memory x MEMORY_HEADROOM / the largest CPU VM's memory above this: no one node holds it
}
MIN_WALL_S = 1.0  # a shorter run has too few samples to say what holds it back: no findings
MIN_SAMPLES = 5  # CPU samples a run needs to say what holds it back: at --sample-hz 0.5, a 1.6 s loop had none
ONE_CORE = (70.0, 130.0)  # tree CPU % that counts as one core busy
MEMORY_HEADROOM = 1.5  # a VM for the job holds its peak memory times this (as `recommend` sizes)
JITTER_CORES = 0.25  # busy cores a 10 Hz sample can overstate: 2.1 of 2 vCPUs is 2
KERNEL_SHARE = 0.5  # of the job's CPU in the kernel at or above this, with io-bound's I/O: its core served the I/O
IO_OWN_CORES = 0.5  # io-bound: the job's own code kept fewer cores than this busy
FEW_SAMPLES = 3  # a phase's busy cores and peak from fewer readings than this are said to rest on them


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    figures: Mapping[str, float]  # what triggered it, by name


@dataclass(frozen=True)
class Figures:
    """The run's figures the rules read (None: not measured)."""

    wall_s: float
    vcpus: int
    cores_mean: float | None  # tree CPU, in cores
    cores_p95: float | None
    one_core_share: float | None  # share of samples with about one core busy
    peak_memory: float | None
    memory_total: float | None
    io_bytes_per_s: float | None
    gpu_util_mean: float | None  # the busiest GPU's
    gpu_memory_peak: float | None
    gpu_memory_total: float | None
    gpu_own_memory: float | None = None  # the job's own processes' peak on the GPU, where NVML lists them by PID
    # of the job's CPU, the kernel's on its behalf (system time: writes, reads), from wait4: the job and the children
    # it waited for, where cores_mean is the whole tree sampled
    kernel_share: float | None = None
    samples: int | None = None  # of tree CPU, over the run

    @property
    def own_cores(self) -> float | None:
        """The cores the job's own code kept busy on average: the kernel's time for it left out, where known."""
        if self.cores_mean is None:
            return None
        return self.cores_mean * (1 - self.kernel_share) if self.kernel_share is not None else self.cores_mean

    @classmethod
    def of(cls, record: CaseRecord, gpus: Sequence[Mapping[str, Any]] = ()) -> Figures:
        t = record.telemetry
        series = t.get("series") or {}
        cpu = np.asarray([c for c in series.get("cpu_percent", []) if c is not None], dtype=float)
        io = [sum(x) for x in zip(series.get("read_bytes", []), series.get("write_bytes", []))]
        span = series["slow_t"][-1] - series.get("start", series["slow_t"][0]) if io else 0.0
        io_rate = io[-1] / span if io and span > 0 else None  # bytes since the job started, over that time
        util, used, own = _gpu(series.get("sources") or {})
        totals = [g.get("memory_bytes") for g in gpus if g.get("memory_bytes")]
        cpu_s, system_s = t.get("worker_cpu_s"), t.get("worker_system_s")
        kernel = system_s / cpu_s if cpu_s and system_s is not None else None
        return cls(record.wall_s, record.case.threads,
                   float(cpu.mean()) / 100 if len(cpu) else None,
                   float(np.percentile(cpu, 95)) / 100 if len(cpu) else None,
                   float(np.mean((cpu >= ONE_CORE[0]) & (cpu <= ONE_CORE[1]))) if len(cpu) else None,
                   t.get("peak_memory_bytes"), t.get("memory_total_bytes"), io_rate, util, used,
                   float(max(totals)) if totals else None, own, kernel,
                   len(cpu) if "cpu_percent" in series else None)


def _gpu(sources: Mapping[str, Any]) -> tuple[float | None, float | None, float | None]:
    """The busiest GPU's mean utilization, the largest device memory used, and the most the job's own processes
    held (readings where NVML listed them by PID: harness.run.sources.nvml), from the NVML series."""
    values = (sources.get("nvml") or {}).get("values") or {}
    utils = [np.mean([v for v in vs if v is not None]) for k, vs in values.items()
             if k.endswith(".util_percent") and any(v is not None for v in vs)]
    used = [max(v for v in vs if v is not None) for k, vs in values.items()
            if k.endswith(".memory_used_bytes") and any(v is not None for v in vs)]
    own = [m for k, vs in values.items() if k.endswith(".case_memory_bytes")
           for m, listed in zip(vs, values.get(k.replace("case_memory_bytes", "case_memory_per_process"), []))
           if m is not None and listed == 1]
    return (float(max(utils)) if utils else None), (float(max(used)) if used else None), (max(own) if own else None)


def too_short(f: Figures) -> str | None:
    """Why the run is too short to say what held it back (and what it should run on), or None."""
    if f.wall_s < MIN_WALL_S:
        return "the job ran under a second"
    if f.samples is not None and f.samples < MIN_SAMPLES:
        return f"{f.samples} CPU sample(s) in its {f.wall_s:.1f} s (raise --sample-hz)"
    return None


def diagnose(f: Figures, largest_node_bytes: float | None = None) -> list[Finding]:
    """The findings, in the order of THRESHOLDS; `spark-worth-it` only where the memory of the largest CPU VM
    there is to buy (the catalog's) is given, and the measured peak would not fit it."""
    if too_short(f):
        return []
    out = []
    th = THRESHOLDS
    io = f.io_bytes_per_s is not None and f.io_bytes_per_s >= th["io-bound"]
    in_kernel = io and f.kernel_share is not None and f.kernel_share >= KERNEL_SHARE
    if f.one_core_share is not None and f.vcpus >= 2 and f.one_core_share >= th["cpu-single-thread"] and not in_kernel:
        idle = "the other vCPU" if f.vcpus == 2 else f"the other {f.vcpus - 1} vCPUs"
        out.append(Finding("cpu-single-thread", f"one core busy for {f.one_core_share:.0%} of the run, {idle} "
                                                "idle: the work runs on one thread (look for n_jobs, num_workers or "
                                                "nthread left at 1, or OMP_NUM_THREADS=1 in its environment)",
                           {"one_core_share": f.one_core_share, "vcpus": f.vcpus}))
    if f.cores_mean is not None and f.cores_mean / f.vcpus < th["cpu-underused"]:
        busy = f"{f.cores_mean:.2f}" if f.cores_mean < 1 else f"{f.cores_mean:.1f}"
        # With cpu-single-thread, the two are one choice: more threads here, or, as the job is, fewer vCPUs.
        single = any(x.code == "cpu-single-thread" for x in out)
        unless = " as the job is (else more threads: cpu-single-thread)" if single else ""
        out.append(Finding("cpu-underused", f"{busy} of {f.vcpus} vCPUs busy on average "
                                            f"({f.cores_mean / f.vcpus:.0%}): fewer vCPUs would do{unless}",
                           {"cores_mean": f.cores_mean, "vcpus": f.vcpus}))
    if f.cores_mean is not None and f.cores_mean / f.vcpus >= th["cpu-saturated"]:
        out.append(Finding("cpu-saturated", f"{f.cores_mean:.1f} of {f.vcpus} vCPUs busy on average "
                                            f"({f.cores_mean / f.vcpus:.0%}): compute holds it back; more vCPUs "
                                            "shorten it only as far as its work splits, which one run cannot tell "
                                            "(profile it on a larger VM, or with fewer threads here)",
                           {"cores_mean": f.cores_mean, "vcpus": f.vcpus}))
    if f.peak_memory and f.memory_total and f.peak_memory / f.memory_total > th["memory-bound"]:
        out.append(Finding("memory-bound", f"peak memory {f.peak_memory / 2**30:.1f} GiB, "
                                           f"{f.peak_memory / f.memory_total:.0%} of this machine's: a "
                                           f"memory-optimized VM with {MEMORY_HEADROOM * f.peak_memory / 2**30:.1f} GiB",
                           {"peak_memory_bytes": f.peak_memory, "memory_total_bytes": f.memory_total}))
    if f.gpu_util_mean is not None and f.gpu_util_mean < th["gpu-idle"]:
        out.append(Finding("gpu-idle", f"a GPU is present and was {f.gpu_util_mean:.0f}% busy on average: the job "
                                       "does not use it (a CPU VM costs less)", {"gpu_util_mean": f.gpu_util_mean}))
    elif (f.gpu_util_mean is not None and f.gpu_util_mean < th["gpu-starved"] and f.one_core_share is not None
          and f.one_core_share >= th["cpu-single-thread"]):
        out.append(Finding("gpu-starved", f"the GPU {f.gpu_util_mean:.0f}% busy while one host core was saturated "
                                          f"{f.one_core_share:.0%} of the run: the input pipeline holds it back "
                                          "(DataLoader num_workers, pin_memory, prefetching)",
                           {"gpu_util_mean": f.gpu_util_mean, "one_core_share": f.one_core_share}))
    if f.gpu_memory_peak and f.gpu_memory_total and f.gpu_memory_peak / f.gpu_memory_total < th["gpu-memory-headroom"]:
        out.append(Finding("gpu-memory-headroom", f"peak GPU memory {f.gpu_memory_peak / 2**30:.1f} of "
                                                  f"{f.gpu_memory_total / 2**30:.0f} GiB: a smaller GPU would hold it",
                           {"gpu_memory_peak_bytes": f.gpu_memory_peak, "gpu_memory_total_bytes": f.gpu_memory_total}))
    own_cores = f.own_cores
    if io and own_cores is not None and own_cores < IO_OWN_CORES:
        kernel = f" (and {f.cores_mean - own_cores:.2f} in the kernel, serving its I/O)" if f.kernel_share else ""
        out.append(Finding("io-bound", f"{f.io_bytes_per_s / 1e6:.0f} MB/s of disk I/O with {own_cores:.2f} cores "
                                       f"busy with the job's own work{kernel}: its time goes to reading and writing "
                                       "(faster storage, fewer and larger writes, or data kept in memory)",
                           {"io_bytes_per_s": f.io_bytes_per_s, "cores_mean": f.cores_mean, "own_cores": own_cores}))
    if f.peak_memory and largest_node_bytes and \
            MEMORY_HEADROOM * f.peak_memory / largest_node_bytes > th["spark-worth-it"]:
        out.append(Finding("spark-worth-it", f"peak memory {f.peak_memory / 2**30:.1f} GiB x {MEMORY_HEADROOM:g} is "
                                             f"more than the largest CPU VM there is holds ({largest_node_bytes / 2**30:,.0f}"
                                             " GiB): split the data across machines (Spark), or read it in parts",
                           {"peak_memory_bytes": f.peak_memory, "largest_node_bytes": largest_node_bytes}))
    return out


def cores_needed(f: Figures) -> int:
    """The vCPUs the job kept busy at its 95th percentile, rounded up past sampling jitter (a quarter of a core),
    at least one and at most the vCPUs it had (whether more would help was not measured)."""
    return max(1, min(f.vcpus, math.ceil((f.cores_p95 or 0.0) - JITTER_CORES)))
