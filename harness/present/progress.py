"""A live display for `sizeup run`: current case, elapsed time, cases left, one line per result (a case skipped for
a reason already given is counted instead: without a GPU, 12 of a quick run's 48 cases were skipped for four
reasons)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from rich.console import Console
from rich.padding import Padding
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column
from rich.text import Text

from harness.analysis.cases import summarize
from harness.present.table import STATUS_STYLE, contention_note, quality
from harness.records import Case, CaseRecord
from harness.records.case import OWN_DATA


def label(case: Case) -> str:
    """The case's id, less the data's name, hash and columns for your own data (`run --data` says them once, first,
    and the result keeps the whole id)."""
    return case.key() if OWN_DATA not in case.params else replace(case, params={}).key()


class RichProgress:
    """What harness.run.runner.Progress hooks into, shown live with rich."""

    def __init__(self, console: Console, total: int, done: Sequence[CaseRecord] = ()) -> None:
        """`done`: the cases a resumed run had finished (counted in the totals, never printed again)."""
        self.console = console
        # The case being run, cut to a third of the width so the counts and the elapsed time always show; the bar
        # goes when the run ends (each case's line stays), and a log or a pipe gets no bar at all.
        self.bar = Progress(
            TextColumn("{task.description}", style="bold", markup=False,
                       table_column=Column(no_wrap=True, overflow="ellipsis", max_width=max(20, console.width // 3))),
            BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[left]} left"), TimeElapsedColumn(),
            console=console, transient=True, disable=not console.is_terminal,
        )
        self.task = self.bar.add_task("starting", total=total, completed=len(done), left=total - len(done))
        self.total = total
        self.skipped: dict[str, int] = {}  # reason -> cases skipped for it
        self.statuses: Counter[str] = Counter(r.status for r in done)  # status -> cases that ended so

    def __enter__(self) -> RichProgress:
        self.bar.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bar.stop()
        for reason, count in self.skipped.items():
            if count > 1:
                more = f" {count - 1} more case{'s' * (count > 2)}: {reason}"
                self.console.print(Text.assemble(("skipped", STATUS_STYLE["skipped"]), more), highlight=False)
        if self.statuses:  # the totals, ok first: the lines above fold skips and may have scrolled away
            counts = sorted(self.statuses.items(), key=lambda kv: (kv[0] != "ok", -kv[1], kv[0]))
            total = sum(self.statuses.values())
            self.console.print(f"{total} case{'s' * (total > 1)}: " + ", ".join(f"{n} {s}" for s, n in counts),
                               highlight=False)

    def case_started(self, case: Case, index: int, total: int) -> None:
        self.bar.update(self.task, description=label(case))

    def planned(self, added: int) -> None:
        if added:
            self.total += added
            self.bar.update(self.task, total=self.total, left=self.total - int(self.bar.tasks[0].completed))

    def case_finished(self, record: CaseRecord) -> None:
        self.bar.advance(self.task)
        left = self.total - int(self.bar.tasks[0].completed)
        self.bar.update(self.task, left=left)
        self.statuses[record.status] += 1
        if record.status == "skipped":
            reason = record.reason or ""
            self.skipped[reason] = self.skipped.get(reason, 0) + 1
            if self.skipped[reason] > 1:
                return
        status = (f"{record.status:>7}", STATUS_STYLE.get(record.status, "red"))
        line, note = Text.assemble(status, f" {label(record.case)}  "), None
        if record.status == "ok":
            summary = summarize(record)
            fit = summary.phases.get("fit")
            line.append(f"fit {fit.median:.3f} s  {quality(summary)[0]}" if fit else "")
            note = contention_note(summary)
        else:
            line.append(record.reason or "")
        line.append(f"  ({record.wall_s:.1f} s)")
        self.console.print(line, highlight=False)
        if note:  # beneath its case, indented as a whole: wrapped into the next lines, it read as a message of its own
            self.console.print(Padding(Text(note, "yellow"), (0, 0, 0, 8)))
