"""Machine fingerprint: identity fields apart from volatile ones.

Identity fields (CPU model, cores, memory, limits, GPUs, OS) say which machine
produced a result and feed a stable machine id, so results of one machine type
sit side by side. Volatile fields (load, frequency, free memory) describe the
moment of the run and never feed the id.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

LIBRARIES = ("numpy", "pandas", "scikit-learn", "xgboost", "torch", "psutil", "nvidia-ml-py",
             "cupy-cuda12x", "cupy-cuda13x", "cudf-cu12", "cuml-cu12", "pyspark", "threadpoolctl")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "TORCH_NUM_THREADS")
CGROUP = Path("/sys/fs/cgroup")
# Software identity that must match before runs are mixed (pyperf's checked metadata): the machine id
# covers the hardware; these cover what else changes timings.
CHECKED_FIELDS = ("python", "python_implementation", "os_release", "libraries", "thread_env")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cgroup_limits() -> dict[str, Any]:
    """CPU and memory limits of this container (cgroup v2, then v1); absent keys mean none."""
    limits: dict[str, Any] = {}
    cpu_max = _read(CGROUP / "cpu.max")
    if cpu_max and not cpu_max.startswith("max"):
        quota, period = cpu_max.split()[:2]
        limits["cpus"] = int(quota) / int(period)
    else:
        quota, period = _read(CGROUP / "cpu/cpu.cfs_quota_us"), _read(CGROUP / "cpu/cpu.cfs_period_us")
        if quota and period and int(quota) > 0:
            limits["cpus"] = int(quota) / int(period)
    memory = _read(CGROUP / "memory.max") or _read(CGROUP / "memory/memory.limit_in_bytes")
    # v1 reports "no limit" as a huge number; ignore anything beyond the RAM itself.
    if memory and memory.isdigit() and int(memory) < psutil.virtual_memory().total:
        limits["memory_bytes"] = int(memory)
    return limits


def physical_cores() -> int:
    """Cores the work may use: physical cores, capped by the container's CPU quota and affinity."""
    cores = psutil.cpu_count(logical=False) or psutil.cpu_count() or 1
    cores = min(cores, len(os.sched_getaffinity(0))) if hasattr(os, "sched_getaffinity") else cores
    quota = cgroup_limits().get("cpus")
    return max(1, min(cores, int(quota))) if quota else cores


def memory_limit() -> int:
    """Bytes the work may use: RAM, or the container's limit if lower."""
    return min(psutil.virtual_memory().total, cgroup_limits().get("memory_bytes", 1 << 62))


def gpus() -> list[dict[str, Any]]:
    """GPUs as NVML reports them; each call guarded alone so one unsupported call drops nothing else."""
    from harness.run.sources.nvml import session

    found = []
    with session() as (nvml, _):
        if nvml is None:
            return []
        driver = _nvml(nvml.nvmlSystemGetDriverVersion)
        cuda = _nvml(nvml.nvmlSystemGetCudaDriverVersion_v2)
        for i in range(_nvml(nvml.nvmlDeviceGetCount) or 0):
            handle = _nvml(nvml.nvmlDeviceGetHandleByIndex, i)
            if handle is None:
                continue
            memory = _nvml(nvml.nvmlDeviceGetMemoryInfo, handle)
            found.append({
                "index": i,
                "name": _nvml(nvml.nvmlDeviceGetName, handle),
                "uuid": _nvml(nvml.nvmlDeviceGetUUID, handle),
                "memory_bytes": getattr(memory, "total", None),
                "power_limit_w": _scaled(_nvml(nvml.nvmlDeviceGetPowerManagementLimit, handle), 1e-3),
                "driver": driver,
                "cuda_driver": cuda,
            })
    return found


def library_versions() -> dict[str, str]:
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def fingerprint() -> dict[str, Any]:
    identity = {
        "cpu_model": cpu_model(),
        "architecture": platform.machine(),
        "physical_cores": psutil.cpu_count(logical=False),
        "logical_cores": psutil.cpu_count(logical=True),
        "usable_cores": physical_cores(),
        "memory_bytes": psutil.virtual_memory().total,
        "cgroup": cgroup_limits(),
        "gpus": [{k: v for k, v in g.items() if k != "index"} for g in gpus()],
        "os": platform.system(),
        "os_release": platform.release(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "libraries": library_versions(),
        "thread_env": {k: os.environ[k] for k in THREAD_VARIABLES if k in os.environ},
    }
    return {"id": machine_id(identity), "identity": identity, "volatile": volatile()}


def identity_differences(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """'name recorded -> current' for each checked identity field that differs; mappings key by key."""
    found = []
    for key in CHECKED_FIELDS:
        a, b = recorded.get(key), current.get(key)
        if isinstance(a, dict) or isinstance(b, dict):
            a, b = a or {}, b or {}
            found += [f"{name} {a.get(name, 'absent')} -> {b.get(name, 'absent')}"
                      for name in sorted(a.keys() | b.keys()) if a.get(name) != b.get(name)]
        elif a != b:
            found.append(f"{key} {a if a is not None else 'unrecorded'} -> {b}")
    return found


def volatile() -> dict[str, Any]:
    freq = psutil.cpu_freq()
    return {
        "hostname": platform.node(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "cpu_freq_mhz": round(freq.current) if freq else None,
        "memory_available_bytes": psutil.virtual_memory().available,
    }


def machine_id(identity: dict[str, Any]) -> str:
    """Stable across runs, reboots and library upgrades of one machine type: hardware only."""
    hardware = {k: identity[k] for k in ("cpu_model", "architecture", "physical_cores", "logical_cores", "cgroup", "os")}
    hardware["memory_gib"] = round(identity["memory_bytes"] / 2**30)  # the kernel's total wobbles by a few MiB
    hardware["gpus"] = [(g.get("name"), g.get("memory_bytes")) for g in identity["gpus"]]
    digest = hashlib.sha256(json.dumps(hardware, sort_keys=True).encode()).hexdigest()[:8]
    gpu = f"-{len(hardware['gpus'])}gpu" if hardware["gpus"] else ""
    slug = re.sub(r"[^a-z0-9]+", "-", identity["architecture"].lower()).strip("-")
    return f"{slug}-{identity['usable_cores']}c-{hardware['memory_gib']}g{gpu}-{digest}"


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _nvml(call: Any, *args: Any) -> Any:
    from harness.run.sources.nvml import guarded

    value = guarded(call, *args)
    return value.decode() if isinstance(value, bytes) else value


def _scaled(value: Any, factor: float) -> float | None:
    return None if value is None else value * factor
