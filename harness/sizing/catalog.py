"""The VM catalog the sizing decisions price against: a CSV a user can replace with their own
cloud, region or negotiated prices (`harness/data/vm_catalog.csv` is the default).

Columns: name, kind (general, memory, memory-large, gpu), vcpus, memory_gib, gpu_model,
gpu_count, gpu_memory_gib, price_per_hour, region, source, date (when the price was recorded).
The shipped rows are Azure
East US Linux pay-as-you-go prices from a public snapshot, or derived from them by the rule
their `source` states. A bad file is one clear error naming the row and column.
"""

from __future__ import annotations

import collections
import csv
import datetime
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.errors import SizeupError

DEFAULT = Path(__file__).parent / "data" / "vm_catalog.csv"
GPU_SPECS = Path(__file__).parent / "data" / "gpu_specs.csv"
COLUMNS = ("name", "kind", "vcpus", "memory_gib", "gpu_model", "gpu_count", "gpu_memory_gib", "price_per_hour",
           "region", "source", "date")
KINDS = ("general", "memory", "memory-large", "gpu")
MAX_VALUE = 1e6  # no VM has a million vCPUs, GiB, GPUs or dollars an hour: past it, a number is a mistake


@dataclass(frozen=True)
class VM:
    name: str
    kind: str
    vcpus: int
    memory_gib: float
    gpu_model: str
    gpu_count: int
    gpu_memory_gib: float
    price_per_hour: float
    region: str
    source: str
    date: str

    @property
    def gib_per_vcpu(self) -> float:
        return self.memory_gib / self.vcpus


def largest_node_bytes(vms: Sequence[VM]) -> float | None:
    """The memory of the largest CPU VM in `vms`: data past it fits no one node."""
    sizes = [v.memory_gib for v in vms if not v.gpu_count]
    return max(sizes) * 2**30 if sizes else None


def load(path: Path | None = None) -> list[VM]:
    path = path or DEFAULT
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise SizeupError(f"catalog {path} lacks column(s) {', '.join(missing)}; it needs {', '.join(COLUMNS)}")
            vms = [_row(path, number, row) for number, row in enumerate(reader, start=2)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SizeupError(f"cannot read catalog {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if not vms:
        raise SizeupError(f"catalog {path} has no VM sizes")
    if duplicated := sorted(n for n, k in collections.Counter(vm.name for vm in vms).items() if k > 1):
        more = f" and {len(duplicated) - 5:,} more" if len(duplicated) > 5 else ""
        raise SizeupError(f"catalog {path} names {', '.join(duplicated[:5])}{more} more than once")
    return vms


def undominated(vms: Sequence[VM]) -> list[VM]:
    """The VMs a recommendation could pick, in catalog order: of those alike in what a time depends on (kind,
    vCPUs, GPUs), each that no other beats on memory at no higher price (at one price, the most memory).
    No configuration's cheapest option is lost, and a catalog of a million rows prices in seconds."""
    groups: dict[tuple, list[int]] = collections.defaultdict(list)
    for i, vm in enumerate(vms):
        groups[(vm.kind, vm.vcpus, vm.gpu_model, vm.gpu_count, vm.gpu_memory_gib)].append(i)
    kept = []
    for members in groups.values():
        most = -math.inf
        for i in sorted(members, key=lambda i: (vms[i].price_per_hour, -vms[i].memory_gib, i)):
            if vms[i].memory_gib > most:
                kept.append(i)
                most = vms[i].memory_gib
    return [vms[i] for i in sorted(kept)]


def _row(path: Path, number: int, row: dict[str, str | None]) -> VM:
    where = f"catalog {path}, line {number}"

    def number_of(column: str, whole: bool = False, positive: bool = True) -> float:
        text = (row.get(column) or "").strip()
        try:
            value = int(text) if whole else float(text)
        except ValueError:
            raise SizeupError(f"{where}: {column} must be {'a whole number' if whole else 'a number'}, "
                              f"got {text[:40]!r}") from None
        if value > MAX_VALUE:  # compared before isfinite: an int of 400 digits is no float
            raise SizeupError(f"{where}: {column} must be at most {MAX_VALUE:g}, got {text[:40]!r}")
        if not math.isfinite(value) or value < 0 or (positive and value == 0):
            raise SizeupError(f"{where}: {column} must be {'> 0' if positive else '>= 0'}, got {text[:40]!r}")
        return value

    name, kind = (row.get("name") or "").strip(), (row.get("kind") or "").strip()
    if not name:
        raise SizeupError(f"{where}: name is empty")
    if kind not in KINDS:
        raise SizeupError(f"{where}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    vm = VM(name, kind, int(number_of("vcpus", whole=True)), number_of("memory_gib"),
            (row.get("gpu_model") or "").strip(), int(number_of("gpu_count", whole=True, positive=False)),
            number_of("gpu_memory_gib", positive=False), number_of("price_per_hour"),
            (row.get("region") or "").strip(), (row.get("source") or "").strip(), (row.get("date") or "").strip())
    if (vm.kind == "gpu") != (vm.gpu_count > 0) or (vm.gpu_count > 0) != bool(vm.gpu_model):
        raise SizeupError(f"{where}: a gpu VM needs gpu_count > 0 and a gpu_model, and only a gpu VM has them")
    if vm.gpu_count and not vm.gpu_memory_gib:  # it would hold no GPU case's memory, unsaid
        raise SizeupError(f"{where}: a gpu VM needs gpu_memory_gib > 0")
    if vm.date:  # when its price was read: a date, or left empty
        try:
            datetime.datetime.strptime(vm.date, "%Y-%m-%d")  # fromisoformat takes 20261128 and 2026-W48-1 too
        except ValueError:
            raise SizeupError(f"{where}: date must be YYYY-MM-DD (when the price was read), got {vm.date[:40]!r}") \
                from None
    return vm


@dataclass(frozen=True)
class GPUSpec:
    """Datasheet figures, used only to carry a GPU time measured on one model to another (stated as such)."""
    model: str
    memory_bandwidth_gbs: float
    fp32_tflops: float
    source: str


def gpu_spec(name: str) -> GPUSpec | None:
    """The datasheet entry for a GPU name as NVML or the catalog writes it ("NVIDIA H100 NVL", "H100"):
    the longest model name it contains, so "H100 NVL" is not read as "H100"."""
    words = f" {name.lower().replace('-', ' ')} "
    found = [s for s in _gpu_specs() if f" {s.model.lower()} " in words]
    return max(found, key=lambda s: len(s.model)) if found else None


@functools.cache
def _gpu_specs() -> tuple[GPUSpec, ...]:
    with open(GPU_SPECS, newline="") as f:
        return tuple(GPUSpec(r["model"], float(r["memory_bandwidth_gbs"]), float(r["fp32_tflops"]), r["source"])
                     for r in csv.DictReader(f))
