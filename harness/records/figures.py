"""The figures a telemetry source asks to be shown, and their values read from a record.

A source (harness.run.sources) declares its figures; the runner stores the declarations in each
record's telemetry (``figures``: source -> list), next to the per-phase summaries of the source's
values (``phases``: phase -> ``sources``: source -> value -> statistics). `sizeup show`, the report
and the analysis read them through this one API, so a new source needs no edit anywhere else.
A value is named ``<device>.<value>`` (``gpu0.util_percent``) or plain ``<value>``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

STATS = ("mean", "p95", "max", "per_window")  # a gauge's summaries; a counter's increase per phase
ACROSS = ("max", "sum")


@dataclass(frozen=True)
class Figure:
    key: str  # what readers ask for: "gpu_util"
    label: str  # what people read: "fit GPU %"
    value: str  # the source's value, without a device prefix: "util_percent"
    phase: str  # the phase it is read over, or "*" for every warm phase
    stat: str  # one of STATS
    across: str = "max"  # how several devices (or phases) combine: "max" or "sum"
    unit: str = ""  # "%", "bytes", "J", ...
    plot: bool = False  # the report draws this value's series over time

    def __post_init__(self) -> None:
        if self.stat not in STATS or self.across not in ACROSS:
            raise ValueError(f"figure {self.key!r}: stat must be one of {STATS}, across one of {ACROSS}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Figure:
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


# Figures the worker measures itself, filed as the source "worker": a phase's energy on the case's own GPU, read
# at the phase's edges (harness.run.energy). Records before it have the sampled estimate under "nvml".
WORKER = "worker"
GPU_ENERGY = Figure("gpu_energy", "energy per fit", "energy_j", "fit", "per_window", "sum", "J")


def declared(telemetry: Mapping[str, Any]) -> list[tuple[str, Figure]]:
    """(source, figure) for every figure the record's sources declared, in their order."""
    return [(source, Figure.from_dict(f)) for source, figures in (telemetry.get("figures") or {}).items()
            for f in figures]


def value(telemetry: Mapping[str, Any], source: str, figure: Figure) -> float | None:
    """The figure's value for one case: its statistic over the phase (or every warm phase), devices combined."""
    phases = telemetry.get("phases") or {}
    over = [phases.get(figure.phase)] if figure.phase != "*" else [p for name, p in phases.items() if name != "cold"]
    found = [stats[figure.stat] for phase in over
             for name, stats in (((phase or {}).get("sources") or {}).get(source) or {}).items()
             if name.rsplit(".", 1)[-1] == figure.value and figure.stat in stats]
    if not found:
        return None
    return max(found) if figure.across == "max" else sum(found)


def read(telemetry: Mapping[str, Any], source: str, key: str) -> float | None:
    """The value of the figure `key` of `source`, or None where the record has no such figure or value."""
    figure = next((f for s, f in declared(telemetry) if s == source and f.key == key), None)
    return None if figure is None else value(telemetry, source, figure)


def series(telemetry: Mapping[str, Any], source: str, figure: Figure) -> dict[str, tuple[list[float], list]]:
    """Per device, the sampled times and readings of the figure's value: what the report draws."""
    stored = ((telemetry.get("series") or {}).get("sources") or {}).get(source) or {}
    times = stored.get("t") or []
    return {name.rsplit(".", 1)[0] if "." in name else source: (times, readings)
            for name, readings in (stored.get("values") or {}).items() if name.rsplit(".", 1)[-1] == figure.value}


def text(figure: Figure, number: float | None) -> str:
    """A figure's value as `sizeup show` prints it: '' for nothing measured (a percentage may be 0)."""
    if figure.unit == "%":
        return "" if number is None else f"{number:.0f}"
    if not number:
        return ""
    if figure.unit == "bytes":
        return f"{number / 2**20:,.0f} MiB"
    return f"{number:.3g} {figure.unit}".rstrip()


def seconds(x: float, digits: int = 3) -> str:
    """A time: `digits` significant digits, and never an exponent: from 1,000 up whole seconds with a thousands
    separator, under a millisecond in decimals: 0.0000794, 0.0365, 1.8, 228, 1,490, 2,140 (to four digits), 12,126."""
    shown = f"{x:.{digits}g}"
    if 0 < abs(x) < 0.001:
        return f"{x:.{digits - 1 - math.floor(math.log10(abs(x)))}f}"
    return f"{x:,.0f}" if float(shown) >= 1000 else shown
