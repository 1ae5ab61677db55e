"""`sizeup doctor`: what this machine can measure, checked in seconds before a long run.

Each check is one function returning a Finding: a stable code, whether it passed, what it found and, where it
did not pass, the fix. The backends' own probes decide what a run can use (the worker asks the same ones);
the other checks say how well it can measure (per-process GPU memory, the energy counter, limits, load).
Checks run in parallel, each in a forked process, so importing torch and pyspark costs one wait, not the sum.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import subprocess
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from harness.errors import described
from harness.run import contention, machine, plan
from harness.run.backends import BACKENDS, Availability, cuda_devices

OK, MISSING, LIMITED = "ok", "missing", "limited"  # limited: it runs, but measures less or less well
CHECK_TIMEOUT_S = 30.0
DRIVER_FIRST = "the driver first (nvidia-driver): no library helps without it"  # a GPU line's fix, with no device


@dataclass(frozen=True)
class Finding:
    code: str
    status: str  # OK, MISSING or LIMITED
    found: str
    fix: str = ""
    backends: tuple[str, ...] = ()  # the backends a MISSING finding leaves out
    skipped: dict[str, int] = field(default_factory=dict)  # suite -> its cases those backends would run


def driver() -> Finding:
    from harness.run.sources.nvml import guarded, session

    with session() as (nvml, why):
        if nvml is None:
            return Finding("nvidia-driver", MISSING, f"no NVIDIA driver answered ({why})",
                           "on a GPU VM: install the NVIDIA driver; `nvidia-smi` must list the GPU",
                           ("xgboost-cuda", "cupy", "torch-cuda", "sklearn-rapids"))
        count = guarded(nvml.nvmlDeviceGetCount) or 0
        version = guarded(nvml.nvmlSystemGetDriverVersion)
    return Finding("nvidia-driver", OK if count else MISSING, f"driver {version}, {count} GPU(s)",
                   "" if count else "the driver sees no GPU: check the VM's GPU and `nvidia-smi`")


def gpu_telemetry() -> Finding:
    """Per-process GPU memory and the energy counter, from a process holding memory on GPU 0."""
    from harness.run.sources import nvml

    if not (found := cuda_devices()).ok:
        return Finding("gpu-telemetry", MISSING, f"no GPU to read ({found.reason})", DRIVER_FIRST)
    try:
        import torch

        held = torch.ones(1 << 18, device="cuda")  # 1 MiB, so that this process is on the driver's list
    except Exception as exc:
        return Finding("gpu-telemetry", LIMITED, f"cannot hold memory on the GPU to check it: {described(exc)}",
                       "a CUDA build of torch lets doctor check it")
    source, why = nvml.open_source()
    reading = source.read([os.getpid()]) if source else {}
    energy = reading.get("gpu0.energy_j")
    per_process = reading.get("gpu0.case_memory_per_process")
    if source:
        source.close()
    del held
    missing = ([] if per_process == 1.0 else ["per-process GPU memory (the driver lists other PIDs: a container "
                                               "with its own PID namespace, or a vGPU): the device's change over a "
                                               "case stands in, other processes included"])
    missing += [] if energy is not None else ["the energy counter (energy per fit is not recorded)"]
    if missing:
        return Finding("gpu-telemetry", LIMITED, "; ".join(missing), "run on the host or with --pid=host for "
                       "per-process memory; energy needs a Volta or newer GPU")
    return Finding("gpu-telemetry", OK, "per-process GPU memory and the energy counter are readable")


def backend(name: str) -> Finding:
    """The backend's own probe (what the worker asks), then one small job on the device where it passed. Where
    the device itself is missing, the fix is the driver's (no install of a library helps)."""
    found = BACKENDS[name].probe()
    if found.ok and name in TRIALS:
        found = _trial(TRIALS[name])
    fix = "" if found.ok else FIXES.get(name, "") if BACKENDS[name].probe_hardware().ok else DRIVER_FIRST
    return Finding(name, OK if found.ok else MISSING, found.reason, fix, () if found.ok else (name,))


def _xgboost_on_device() -> Availability:
    import numpy as np
    import xgboost

    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    xgboost.train({"device": "cuda", "tree_method": "hist"}, xgboost.DMatrix(x, label=x[:, 0]), 1)
    return Availability(True, "trained 10 rows on the GPU")


def _torch_on_device() -> Availability:
    import torch

    BACKENDS["torch-cuda"].prepare(1)  # a product and a convolution: cuBLAS and cuDNN
    return Availability(True, f"{torch.cuda.get_device_name(0)}, cuDNN {torch.backends.cudnn.version()}")


TRIALS: dict[str, Callable[[], Availability]] = {"xgboost-cuda": _xgboost_on_device, "torch-cuda": _torch_on_device}
FIXES = {"xgboost-cuda": "pip install cupy-cuda12x, and an xgboost built with CUDA (pip's xgboost is)",
         "cupy": "pip install cupy-cuda12x (matching the driver's CUDA major version)",
         "torch-cuda": "pip install torch from the CUDA index (this one is a CPU build, or sees no GPU)",
         "sklearn-rapids": "optional: RAPIDS (cuml, cudf) from NVIDIA's index, on a GPU machine",
         "spark": "pip install pyspark, and Java 17 on the PATH"}


def _trial(job: Callable[[], Availability]) -> Availability:
    try:
        return job()
    except Exception as exc:
        return Availability(False, f"the probe passed, but a small job failed: {described(exc)}")


def java() -> Finding:
    if shutil.which("java") is None:
        return Finding("java", MISSING, "no `java` on the PATH", FIXES["spark"], ("spark",))
    done = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=20)
    first = (done.stderr or done.stdout).strip().splitlines()[:1]
    return Finding("java", OK if done.returncode == 0 else MISSING, first[0] if first else "java -version failed",
                   "" if done.returncode == 0 else FIXES["spark"], () if done.returncode == 0 else ("spark",))


def limits() -> Finding:
    cgroup = machine.cgroup_limits()
    cores, logical = len(os.sched_getaffinity(0)), os.cpu_count() or 1
    memory_gib = machine.memory_limit() / 2**30
    said = f"{cores} of {logical} logical CPUs usable, {memory_gib:.1f} GiB of memory"
    if cgroup or cores < logical:
        return Finding("limits", LIMITED, f"{said} (container limits {cgroup or 'on the CPU set'})",
                       "sizes are chosen for these limits; a run outside the container may differ")
    return Finding("limits", OK, said)


def load() -> Finding:
    busy = contention.check_machine()
    if busy.busy:
        return Finding("load", LIMITED, busy.warning(), "wait for the machine to be quiet: timings would swing")
    return Finding("load", OK, f"quiet: other processes took {busy.other_cores:.2f} cores")


def checks() -> list[tuple[str, Callable[[], Finding]]]:
    """(code, check): each check's code, so that one that fails is still named by it."""
    backends = [(name, partial(backend, name)) for name in ("xgboost-cuda", "cupy", "torch-cuda", "sklearn-rapids",
                                                            "spark")]
    return [("nvidia-driver", driver), ("gpu-telemetry", gpu_telemetry), *backends, ("java", java),
            ("limits", limits)]


def examine() -> list[Finding]:
    """Every check, in parallel, with what each missing one costs the shipped suites; the load first, alone,
    before the checks load the machine themselves."""
    quiet = load()
    context = multiprocessing.get_context("fork")  # the checks import what the parent has not: no re-import
    with ProcessPoolExecutor(max_workers=len(checks()), mp_context=context) as pool:
        futures = [pool.submit(_guarded, i) for i in range(len(checks()))]
        found = [f.result(timeout=CHECK_TIMEOUT_S) for f in futures] + [quiet]
    cases = suite_cases()
    return [f if f.status != MISSING else
            Finding(f.code, f.status, f.found, f.fix, f.backends,
                    {s: n for s, c in cases.items() if (n := sum(c[b] for b in f.backends))}) for f in found]


def _guarded(index: int) -> Finding:
    code, check = checks()[index]
    try:
        return check()
    except Exception as exc:  # a check that fails is a finding, not a crash of the doctor
        return Finding(code, MISSING, f"the check failed: {described(exc)}")


def suite_cases() -> dict[str, Counter[str]]:
    """Cases per backend in each shipped suite."""
    out = {}
    for path in sorted(Path(plan.__file__).parent.joinpath("suites").glob("*.toml")):
        built = plan.build(plan.Choices(suite=path.stem), machine.physical_cores())
        out[path.stem] = Counter(c.backend for c in built.cases)
    return out
