"""What a profiled job should run on (harness.sizing.profiled), in lines for the terminal (`profile`, `show`) and
the report alike."""

from __future__ import annotations

from dataclasses import dataclass

from harness.analysis.diagnosis import Figures
from harness.present.recommend import dollars
from harness.records.figures import seconds
from harness.sizing.catalog import VM
from harness.sizing.profiled import Judged
from harness.sizing.rightsize import CONFIDENCE, GPUOption, Sized


@dataclass(frozen=True)
class Line:
    text: str
    warn: bool = False  # no VM to suggest, and why


def should_run_on(j: Judged, shown: int = 5) -> list[Line]:
    """The CPU VM to right-size to, or for a job that kept a GPU busy, GPU VMs; none for a job that did not finish."""
    if j.record.status != "ok":  # what it should run on is for a job that did its work
        return [Line(f"The job did not finish ({j.record.reason}): no VM is suggested for it.", True)]
    if j.gpu is not None:
        return _gpu_options(j.figures, *j.gpu, shown, j.whole)
    return _rightsize(j.sized, j.whole) if j.sized is not None else []


def _price(vm: VM, cost: float, whole: bool) -> str:
    """'$0.00022 per run', or where the run was not seen whole, '$0.096 per hour'."""
    if whole:
        return f"${dollars(cost)} per run"
    return f"${dollars(vm.price_per_hour)} per hour (its run was not seen whole: attached with --pid)"


def _rightsize(sized: Sized, whole: bool) -> list[Line]:
    if sized.vm is None:
        return [Line(f"No CPU VM in the catalog has {sized.cores} vCPUs and {sized.memory_gib:g} GiB.", True)]
    change = f", {sized.change:+.0%} against {sized.like_here.name} (like this machine)" \
        if sized.change is not None and sized.like_here else ""
    return [Line(f"Right-size ({CONFIDENCE} confidence): {sized.vm.name} ({sized.vm.vcpus} vCPUs, "
                 f"{sized.vm.memory_gib:g} GiB) at {_price(sized.vm, sized.cost, whole)}{change}; needs "
                 f"{sized.memory_gib:g} GiB (peak x 1.5). Assumed: {sized.assumption}.")]


def _gpu_options(figures: Figures, options: list[GPUOption], assumed: str, shown: int, whole: bool) -> list[Line]:
    """A job that kept a GPU busy: GPU VMs, as `recommend` offers them; its time on a CPU was not measured."""
    out = [Line(f"The job kept a GPU {figures.gpu_util_mean:.0f}% busy: its time on a CPU VM was not measured, "
                f"so GPU VMs are offered ({CONFIDENCE} confidence). Assumed: {assumed}.")]
    for o in options[:shown]:
        carried = "" if o.factor == 1 else f" (x{o.factor:.2f} from datasheets)"
        time = f"about {seconds(o.seconds)} s{carried}, " if whole else ""
        out.append(Line(f"  {o.vm.name} ({o.vm.gpu_count} x {o.vm.gpu_model}, {o.vm.vcpus} vCPUs): "
                        f"{time}{_price(o.vm, o.cost, whole)}"))
    if not options:
        out.append(Line("No GPU VM in the catalog holds its memory and GPU memory.", True))
    return out
