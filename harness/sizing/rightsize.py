"""Right-sizing a profiled job (`sizeup profile`): the cheapest catalog VM that holds its measured peak memory
x 1.5 and the cores it kept busy, against the cheapest VM like the one it ran on.

Assumed, and said: the job takes as long on the VM chosen as it did here (it used no more cores than that VM
has, and per-core speed is taken as this machine's). Only one run was measured, so the confidence is low.
A job that kept a GPU busy gets GPU VMs instead, as `recommend` offers them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from harness.analysis.diagnosis import MEMORY_HEADROOM, THRESHOLDS, Figures, cores_needed
from harness.sizing import catalog
from harness.sizing.catalog import VM
from harness.sizing.options import gpu_factor

CONFIDENCE = "low"  # one run, on one machine: the time elsewhere is assumed, not measured


@dataclass(frozen=True)
class Sized:
    vm: VM | None  # the cheapest that fits (None: none in the catalog does)
    cost: float | None  # per run, at the measured wall time
    like_here: VM | None  # the cheapest CPU VM with this machine's vCPUs and at least its memory
    cost_here: float | None
    cores: int  # the vCPUs asked for: the job's 95th percentile of busy cores, rounded up
    memory_gib: float  # peak x MEMORY_HEADROOM
    assumption: str
    saturated: bool = False  # the job kept every vCPU busy: whether more would speed it up was not measured

    @property
    def change(self) -> float | None:
        """Cost per run on the VM chosen / on the VM like this one, minus 1."""
        return None if self.cost is None or not self.cost_here else self.cost / self.cost_here - 1


FULL = 0.9  # busy cores at the 95th percentile / vCPUs from which the job used them all


def rightsize(f: Figures, vms: Sequence[VM], memory_gib_here: float, whole: bool = True) -> Sized:
    """The cheapest CPU VM for the job's peak memory and busy cores; `whole`: its run was seen from start to end (not
    attached to with --pid), so its time there can be assumed."""
    cpu_vms = [v for v in vms if v.gpu_count == 0]
    memory = MEMORY_HEADROOM * (f.peak_memory or 0) / 2**30
    cores = cores_needed(f)
    fits = [v for v in cpu_vms if v.vcpus >= cores and v.memory_gib >= memory]
    pick = min(fits, key=lambda v: (v.price_per_hour, v.vcpus, v.name), default=None)
    like = [v for v in cpu_vms if v.vcpus == f.vcpus and v.memory_gib >= memory_gib_here * 0.95]
    here = min(like, key=lambda v: (v.price_per_hour, v.name), default=None)

    def per_run(vm: VM | None) -> float | None:
        return None if vm is None else vm.price_per_hour * f.wall_s / 3600

    assumption = ((f"as long as here ({f.wall_s:.1f} s) " if whole else "") + f"on any VM with at least {cores} "
                  f"vCPU(s): the job kept {f.cores_p95 or 0:.1f} cores busy at its 95th percentile; per-core speed as "
                  "this machine's")
    saturated = (f.cores_p95 or 0) >= FULL * f.vcpus
    if saturated:
        assumption += f"; it kept all {f.vcpus} vCPUs busy, so whether more would speed it up was not measured"
    elif pick is not None and pick.vcpus > cores:
        assumption += f"; the catalog has no cheaper VM that holds its memory with fewer vCPUs than {pick.vcpus}"
    # up to the next 0.01 GiB: to 0.1, a peak of 211 MiB had needed 0.4 GiB, not the 0.31 its 1.5x makes
    return Sized(pick, per_run(pick), here, per_run(here), cores, math.ceil(round(memory * 100, 6)) / 100, assumption,
                 saturated)


@dataclass(frozen=True)
class GPUOption:
    vm: VM
    seconds: float  # the wall here, times `factor`
    cost: float  # per run
    factor: float  # time there / time here, from the GPUs' datasheets (1: the same GPU)


def used_gpu(f: Figures) -> bool:
    """The job kept a GPU busy: its time on a CPU VM would be another job's, not this one's. Utilization is the
    device's, so where NVML lists the job's processes and they held no GPU memory, the busy GPU was another's."""
    return (f.gpu_util_mean is not None and f.gpu_util_mean >= THRESHOLDS["gpu-idle"]
            and (f.gpu_own_memory is None or f.gpu_own_memory > 0))


def gpu_options(f: Figures, vms: Sequence[VM], gpu_here: str) -> tuple[list[GPUOption], str]:
    """For a job that used a GPU, `recommend`'s GPU options: each catalog GPU VM that holds its peak memory and its
    peak GPU memory x 1.5 and the cores it kept busy, its time carried from the GPU here by the datasheets'
    ratio (the less favourable of memory bandwidth and FP32), cheapest per run first; and what that assumed."""
    here = catalog.gpu_spec(gpu_here)
    memory = MEMORY_HEADROOM * (f.peak_memory or 0) / 2**30
    device = MEMORY_HEADROOM * (f.gpu_memory_peak or 0) / 2**30
    cores = cores_needed(f)
    out, unknown = [], set()
    for vm in vms:
        if not vm.gpu_count or vm.memory_gib < memory or vm.gpu_memory_gib < device or vm.vcpus < cores:
            continue
        there = catalog.gpu_spec(vm.gpu_model)
        if here is None or there is None:
            if f" {vm.gpu_model.lower()} " not in f" {gpu_here.lower().replace('-', ' ')} ":  # A10 is not A100
                unknown.add(vm.gpu_model)
                continue
            factor = 1.0
        else:
            factor = 1.0 if there == here else gpu_factor(here, there)
        seconds = f.wall_s * factor
        out.append(GPUOption(vm, seconds, vm.price_per_hour * seconds / 3600, factor))
    said = (f"the whole run ({f.wall_s:.1f} s here, on {gpu_here}) scales with the GPU by its datasheet ratio, host "
            f"work included; one GPU used; {device:g} GiB of GPU memory needed (peak x {MEMORY_HEADROOM:g})")
    if unknown:
        said += f"; no datasheet carries its time to {', '.join(sorted(unknown))}, so those VMs are not offered"
    return sorted(out, key=lambda o: (o.cost, o.vm.name)), said
