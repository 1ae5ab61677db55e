"""Telemetry sources, sampled by the harness next to its own process-tree samples, found by convention.

A source reads named values: gauges (a reading at a time: utilization, memory, power) and
counters (cumulative: energy). The monitor calls each source at every sample and keeps
its series; per phase, gauges are summarized as mean/p95/max of the readings taken in the
phase, counters as their increase over it. A value a source cannot read is None, so one
unsupported call loses that value, never the series.

A new source is one module in this package (or one named in SIZEUP_EXTRA_SOURCES, comma
separated) with a function ``open_source() -> (source or None, what it found or why not)``. The
source's ``figures`` (harness.records.figures) say which of its values `sizeup show` and the
report print; they are stored with each record, so the renderers need no edit for a new source.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from harness.records.figures import Figure

EXTRA_ENV = "SIZEUP_EXTRA_SOURCES"


class Source(Protocol):
    name: str
    gauges: tuple[str, ...]
    counters: tuple[str, ...]
    figures: tuple[Figure, ...]

    def read(self, pids: Sequence[int]) -> dict[str, float | None]:
        """One reading of every gauge and counter; `pids` are the case's processes."""
        ...

    def close(self) -> None: ...


def modules() -> list[str]:
    found = [f"{__name__}.{m.name}" for m in pkgutil.iter_modules(__path__)]
    return found + [m.strip() for m in os.environ.get(EXTRA_ENV, "").split(",") if m.strip()]


def open_sources() -> tuple[list[Source], dict[str, str]]:
    """Every source that is available here, and for every one found what it found or why it is off. A source
    that fails to load or to open is off, with its error: telemetry must never cost a case."""
    opened, said = [], {}
    for name in modules():
        try:
            source, why = importlib.import_module(name).open_source()
        except Exception as exc:  # a user's module: any error is the source's, not the case's
            source, why = None, f"failed: {type(exc).__name__}: {exc}"
        said[name.rsplit(".", 1)[-1]] = why
        if source is not None:
            opened.append(source)
    return opened, said


@dataclass
class SourceSeries:
    """One source's readings on the time.monotonic() clock."""

    gauges: tuple[str, ...]
    counters: tuple[str, ...]
    t: list[float] = field(default_factory=list)
    values: dict[str, list[float | None]] = field(default_factory=dict)

    def add(self, t: float, reading: dict[str, float | None]) -> None:
        self.t.append(t)
        for name in (*self.gauges, *self.counters):
            self.values.setdefault(name, []).append(reading.get(name))

    def to_dict(self) -> dict[str, Any]:
        return {"gauges": list(self.gauges), "counters": list(self.counters), "t": list(self.t),
                "values": {k: list(v) for k, v in self.values.items()}}


def summarize(series: SourceSeries, windows: Sequence[tuple[float, float]]) -> dict[str, Any]:
    """Per gauge: mean/p95/max of the readings inside the windows. Per counter: its mean increase
    per window (for energy, joules per phase), from the last readings at or before each window's
    start and end; None where a window holds no reading."""
    t = np.asarray(series.t, dtype=float)
    out: dict[str, Any] = {}
    inside = np.zeros(len(t), dtype=bool)
    for start, end in windows:
        inside |= (t >= start) & (t <= end)
    for name in series.gauges:
        # Every reading holds every name (SourceSeries.add), so the values line up with `t`.
        values = np.asarray([v if v is not None else np.nan for v in series.values.get(name, [])], dtype=float)
        picked = values[inside]
        picked = picked[np.isfinite(picked)]
        if len(picked):
            out[name] = {"mean": float(picked.mean()), "p95": float(np.percentile(picked, 95)),
                         "max": float(picked.max())}
    for name in series.counters:
        increases = [_increase(t, series.values.get(name, []), start, end) for start, end in windows]
        known = [x for x in increases if x is not None]
        if known:
            out[name] = {"per_window": float(np.mean(known)), "windows": len(known)}
    return out


def _increase(t: np.ndarray, values: list[float | None], start: float, end: float) -> float | None:
    before = _last_at(t, values, start)
    after = _last_at(t, values, end)
    if before is None or after is None or after[0] <= before[0]:
        return None
    return after[1] - before[1]


def _last_at(t: np.ndarray, values: list[float | None], when: float) -> tuple[float, float] | None:
    """(time, value) of the last known reading at or before `when`."""
    for i in range(int(np.searchsorted(t, when, side="right")) - 1, -1, -1):
        if values[i] is not None:
            return float(t[i]), float(values[i])
    return None
