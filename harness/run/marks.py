"""The phases a job marks for `sizeup profile`, in its code (harness.phases) or by the lines it prints (`--mark`,
harness.run.printed): read back, named apart from sizeup's own, and the time they leave out."""

from __future__ import annotations

import bisect
from collections.abc import Collection
from pathlib import Path

from harness import phases
from harness.records import WHOLE_RUN

PHASE = WHOLE_RUN  # sizeup's phase: the whole run
UNMARKED = "unmarked"  # the time in no phase the job marked
MARKS_BYTES = 16 * 2**20  # of the job's phase marks read back


def read(path: Path, end: float) -> dict[str, list[tuple[float, float]]]:
    """The job's own phases (harness.phases), as windows per name. The file is the job's writing: read at most
    MARKS_BYTES, at most phases.MAX_NAMES names of at most 64 characters (the last, phases.MORE, is every name past
    the others); a line that does not parse is skipped, a phase still open at the end ends with the job, an end
    without a begin is dropped."""
    try:
        with path.open("rb") as f:
            text = f.read(MARKS_BYTES).decode("utf-8", "replace")
    except OSError:
        return {}
    open_at: dict[str, list[float]] = {}
    windows: dict[str, list[tuple[float, float]]] = {}
    past: set[str] = set()  # names begun past the cap: phases.MORE's
    for line in text.splitlines():
        edge, _, rest = line.partition("\t")
        t, _, name = rest.partition("\t")
        try:
            at = float(t)
        except ValueError:
            continue
        name = name.strip()[:64] or "phase"
        name = own(name)
        if name in past or (edge == "begin" and kept(name, windows) != name):  # its end, too, is the rest's
            past.add(name)
            name = phases.MORE
        if edge == "begin":
            open_at.setdefault(name, []).append(at)
            windows.setdefault(name, [])
        elif edge == "end" and open_at.get(name):
            windows[name].append((open_at[name].pop(), at))
    for name, starts in open_at.items():
        windows[name] += [(start, end) for start in starts]
    return {name: merged(w) for name, w in windows.items() if w}


def kept(name: str, named: Collection[str]) -> str:
    """`name`, or phases.MORE once `named` holds all but one of the phases.MAX_NAMES names kept."""
    return name if name in named or len(named) < phases.MAX_NAMES - 1 else phases.MORE


def merged(windows: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Sorted, overlaps joined: phases nested under one name (phases.MORE's) count once."""
    out: list[tuple[float, float]] = []
    for a, b in sorted(windows):
        if out and a < out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def outside(marks: dict[str, list[tuple[float, float]]], start: float, end: float) -> list[tuple[float, float]]:
    """The windows of [start, end] in no marked phase (its start-up, before the first mark, most often)."""
    out, at = [], start
    for a, b in sorted(w for windows in marks.values() for w in windows):
        if a > at:
            out.append((at, a))
        at = max(at, b)
    return [(a, b) for a, b in out + ([(at, end)] if end > at else []) if b - a > 1e-3]


def within(marks: dict[str, list[tuple[float, float]]]) -> dict[str, str]:
    """Each marked phase that ran only inside another (`epoch` in `train`): the innermost such phase, the one of
    least marked time. Only what every window shows: a phase that also ran outside it is nobody's."""
    joined = {name: merged(w) for name, w in marks.items()}
    starts = {name: [a for a, _ in w] for name, w in joined.items()}

    def inside(inner: str, outer: str) -> bool:  # by bisection: a job may mark a phase per batch, 100,000 times
        return all((k := bisect.bisect_right(starts[outer], x) - 1) >= 0 and y <= joined[outer][k][1]
                   for x, y in joined[inner])

    total = {name: sum(b - a for a, b in w) for name, w in joined.items()}
    out = {}
    for name in joined:
        holders = [other for other in joined
                   if UNMARKED not in (name, other) and total[other] > total[name] and inside(name, other)]
        if holders:
            out[name] = min(holders, key=total.__getitem__)
    return out


def own(name: str) -> str:
    """A phase the job named: `run`, the whole run's phase, is sizeup's."""
    return f"{name} (marked)" if name == PHASE else name
