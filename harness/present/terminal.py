"""What reaches the terminal: text that came from a case or a file (an exception's message, a name in a result)
may hold escape sequences; printed raw, `\x1b]0;title\x07` retitles the window and `\x1b[2J` clears it. Every
console sizeup prints with neutralizes control characters in content, while keeping rich's own styling."""

from __future__ import annotations

import os
import re
import sys
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType, RenderHook, RenderResult
from rich.segment import Segment

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all but tab and newline (C0, DEL and C1)


def visible(text: str) -> str:
    """`text` with each control character written out (`\\x1b`), so that it shows instead of acting."""
    return CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


class _Visible:
    def __init__(self, inner: RenderableType) -> None:
        self.inner = inner

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for segment in console.render(self.inner, options):
            yield segment if segment.control else Segment(visible(segment.text), segment.style)


class _Hook(RenderHook):
    def process_renderables(self, renderables: list[Any]) -> list[Any]:
        return [_Visible(r) for r in renderables]


def safe(console: Console) -> Console:
    """`console`, printing content's control characters written out (see the module's docstring)."""
    console.push_render_hook(_Hook())
    return console


def make(stderr: bool = False) -> Console:
    """A console on stdout (or stderr). Piped or logged output keeps whole table rows (and headers) instead of
    wrapping at 80 columns, unless COLUMNS says the width (rich reads it). No markup: case ids, reasons and file
    contents print as they are; styles come from Text objects."""
    told = (sys.stderr if stderr else sys.stdout).isatty() or os.environ.get("COLUMNS", "").isdigit()
    return safe(Console(stderr=stderr, highlight=False, markup=False, width=None if told else 240))
