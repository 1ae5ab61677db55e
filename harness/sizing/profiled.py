"""What is said of a profiled job, computed once for `profile`, `show` (and its --json) and `report`: its figures,
what held it back, and the VMs it should run on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness import records
from harness.analysis.diagnosis import Figures, Finding, diagnose, too_short
from harness.sizing import catalog
from harness.sizing.catalog import VM
from harness.sizing.rightsize import GPUOption, Sized, gpu_options, rightsize, used_gpu


@dataclass(frozen=True)
class Judged:
    """What is said of a profile: by `profile` and `show` (judge), `show --json` (to_json) and `report`."""

    record: records.CaseRecord
    figures: Figures
    findings: list[Finding] | None  # None: it ran too short (`short`) to say what held it back (and no VM is sized)
    whole: bool  # its run seen from start to end (not attached to with --pid): a cost per run can be given
    sized: Sized | None  # a CPU VM: for a job that finished without keeping a GPU busy
    gpu: tuple[list[GPUOption], str] | None  # GPU VMs and what they assumed: for a finished job that kept one busy
    short: str | None = None  # why it ran too short to judge (diagnosis.too_short)


def judged(run: records.RunResult, vms: Sequence[VM] | None = None) -> Judged:
    """Of a profile's result (its one case), against `vms` (default: the catalog)."""
    record = run.cases[0]
    identity = run.machine.get("identity", {})
    gpus = identity.get("gpus") or []
    figures = Figures.of(record, gpus)
    vms = catalog.load() if vms is None else vms
    short = too_short(figures)  # too short to judge: what held it back, and what it should run on
    found = None if short else diagnose(figures, catalog.largest_node_bytes(vms))
    whole = not record.telemetry.get("attached")
    ok, on_gpu = record.status == "ok" and not short, used_gpu(figures)
    gpu_here = str(gpus[0].get("name") or "an unnamed GPU") if gpus else "its GPU"
    return Judged(record, figures, found, whole,
                  rightsize(figures, vms, (identity.get("memory_bytes") or 0) / 2**30, whole) if ok and not on_gpu
                  else None,
                  gpu_options(figures, vms, gpu_here) if ok and on_gpu else None, short)
