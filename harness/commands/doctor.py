"""`sizeup doctor`: one line per check (what it found, and the fix), what the missing ones cost the shipped
suites, and exit 0 only when every shipped suite can run all its cases here (1 otherwise)."""

from __future__ import annotations

import argparse
import time

from rich.console import Console
from rich.table import Table
from rich.text import Text

from harness.present.table import WIDTH
from harness.run import doctor

STYLES = {doctor.OK: "green", doctor.MISSING: "red", doctor.LIMITED: "yellow"}
EXIT_MISSING = 1


def command(args: argparse.Namespace, console: Console) -> int:
    started = time.monotonic()
    findings = doctor.examine()
    console.width = min(console.width, WIDTH)  # piped too: its found and fix wrap as in a terminal of that width
    table = Table(title="what this machine can measure", title_justify="left")
    for column in ("check", "status", "found", "fix"):
        table.add_column(column, overflow="fold")
    for f in findings:
        table.add_row(f.code, Text(f.status, style=STYLES[f.status]), Text(f.found), Text(f.fix))
    console.print(table)
    costly = [f for f in findings if f.status == doctor.MISSING and f.skipped]
    for f in costly:
        costs = ", ".join(f"{n} of the {suite} suite" for suite, n in sorted(f.skipped.items()))
        console.print(Text(f"{f.code}: without {', '.join(f.backends)}, these cases will be skipped: {costs}"))
    console.print(f"Checked in {time.monotonic() - started:.1f} s: " + (
        f"{len(costly)} missing check(s) cost the shipped suites cases." if costly
        else "everything the shipped suites need is here."))
    return EXIT_MISSING if costly else 0
