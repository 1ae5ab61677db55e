"""`sizeup compare` in the terminal: B against A per case, and GPU cases against their CPU twins."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.text import Text

from harness.analysis.comparison import CaseComparison, DevicePair
from harness.analysis.significance import ADVICE
from harness.present.progress import label
from harness.present.table import Ident, compact
from harness.records.case import OWN_DATA

VERDICT_STYLE = {"slower": "red", "faster": "green", "same": "", "undecided": "yellow", "not comparable": "yellow"}


def render_comparison(name_a: str, name_b: str, comparisons: Sequence[CaseComparison], phase: str,
                      machine_notes: Sequence[str], only: tuple[int, int]) -> RenderableType:
    """One row per case; the notes (why undecided, which side is unstable) below, by the row's number."""
    # The notes go below by number, and only the case id folds: within 100 columns (the command caps the console
    # there), no number is cut.
    table = compact(f"{phase} time, B against A", ("#", "case", "A median", "B median", "B/A [95%]", "p", "verdict"),
                    folds=("case",))
    # Your own data's cases are named without it (its name and hash would fold every row), said once above; where
    # several data sets are compared, each row keeps its own.
    data = sorted({", ".join(c.case.params_said()) for c in comparisons if OWN_DATA in c.case.params})
    notes: dict[str, list[int]] = {}  # each note once, with the rows it is of (12 rows had said one 12 times)
    for number, c in enumerate(comparisons, start=1):
        d = c.difference
        table.add_row(str(number), Ident(label(c.case) if len(data) == 1 else c.case_id), f"{c.a_median:.4g} s",
                      f"{c.b_median:.4g} s", d.describe() if d else "", f"{d.p:.2g}" if d and d.p is not None else "",
                      Text(c.verdict, style=VERDICT_STYLE[c.verdict]))
        for said in ([d.why] if d and d.verdict == "undecided" else []) + c.notes:
            notes.setdefault(said, []).append(number)
    parts: list[RenderableType] = [Text(f"A = {name_a}\nB = {name_b}"),
                                   *[Text(f"Your data: {d}") for d in data if len(data) == 1], table,
                                   *[Text(f"{_numbers(rows)}. {note}") for note, rows in notes.items()]]
    if any(c.unstable for c in comparisons):
        parts.append(Text(ADVICE))
    if only[0] or only[1]:
        parts.append(Text(f"Not in both: {only[0]} case(s) only in A, {only[1]} only in B."))
    if machine_notes:
        parts.append(Text("Warning: the machines or libraries differ, so differences may come from them: "
                          + "; ".join(machine_notes), style="yellow"))
    return Group(*parts)


def _numbers(rows: Sequence[int]) -> str:
    """'1-12', '3', '1-3, 7': rows in runs of consecutive numbers."""
    runs: list[list[int]] = []
    for n in rows:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else f"{r[0]}" for r in runs)


def render_devices(pairs: Sequence[DevicePair]) -> RenderableType:
    """One row per GPU case; the two cases of each, whole, below by the row's number."""
    if not pairs:
        return Text("No GPU case with a CPU twin in these results: run the `gpu` suite on a GPU machine, which "
                    "measures each GPU case next to its CPU twin on the same host (a GPU is never set against "
                    "another machine's CPU).")
    table = compact("GPU against its CPU twin (fit)", ("#", "by", "speed-up [95%]", "verdict", "quality CPU -> GPU",
                                                       "GPU util %", "energy per fit"))
    cases = []
    for number, p in enumerate(pairs, start=1):
        q = (f"{p.quality_cpu:.4g} -> {p.quality_gpu:.4g}" if p.quality_cpu is not None
             and p.quality_gpu is not None else "")
        verdict = {"slower": "GPU faster", "faster": "CPU faster"}.get(p.speedup.verdict, p.speedup.verdict)
        table.add_row(str(number), p.measure, p.speedup.describe(), verdict, q,
                      "" if p.gpu_util is None else f"{p.gpu_util:.0f}",
                      "" if p.energy_j is None else f"{p.energy_j:.3g} J")
        cases.append(Text(f"{number}. {p.gpu} against {p.cpu}"))
    return Group(table, *cases)
