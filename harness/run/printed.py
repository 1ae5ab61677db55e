"""Phases from the lines a job prints, for `sizeup profile --mark REGEX` (a framework's epoch lines, say).

The job's stdout and stderr then come through pipes: each chunk is written on to sizeup's own, byte for byte
and at once, and its complete lines are searched. A line that matches starts a phase, named by the match's
group `phase`, else its first group, else the whole match; the phase runs until a line names another one, or
the job ends. A line is timed when sizeup reads it, so a job that buffers its output marks late: Python is run
unbuffered (PYTHONUNBUFFERED), other programs are as they are.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Sequence
from typing import BinaryIO

from harness.errors import SizeupError

CHUNK = 1 << 16
LINE_BYTES = 1 << 16  # of one line, searched; a longer line passes through whole, its rest unsearched
MAX_NAMES = 100  # distinct phase names kept (as for the phases the job marks itself)
MAX_HITS = 100_000  # changes of phase kept: a job alternating names on every line is not held in memory whole
JOIN_S = 5.0  # after the job and everything it started are gone, how long the last output may take to drain


def pattern(text: str) -> re.Pattern[bytes]:
    """`--mark`'s regular expression, compiled for the job's bytes; SizeupError (exit 2) where it cannot mark."""
    try:
        compiled = re.compile(text.encode(), re.MULTILINE)
    except re.error as exc:
        raise SizeupError(f"--mark {text!r} is not a regular expression: {exc}") from None
    if compiled.search(b""):
        raise SizeupError(f"--mark {text!r} matches an empty line, so every line would start a phase")
    return compiled


def name_of(match: re.Match[bytes]) -> str:
    named = match.groupdict().get("phase")
    found = named if named is not None else match.group(1) if match.re.groups else match.group(0)
    name = " ".join((found or b"").decode("utf-8", "replace").split())[:64]
    return name or "marked"


class Tee:
    """Copies a job's output on to sizeup's, noting when a line matches."""

    def __init__(self, mark: re.Pattern[bytes], streams: Sequence[tuple[BinaryIO, int]]) -> None:
        """`streams`: (the job's pipe, sizeup's file descriptor it goes on to), each read to its end by a thread."""
        self.mark = mark
        self.hits: list[tuple[float, str]] = []  # (monotonic time the line was read, phase name)
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._pump, args=s, daemon=True, name="sizeup-tee") for s in streams]
        for t in self._threads:
            t.start()

    def _pump(self, source: BinaryIO, sink: int) -> None:
        partial = b""
        try:
            while chunk := os.read(source.fileno(), CHUNK):
                now = time.monotonic()
                _write_all(sink, chunk)
                text = partial + chunk
                cut = text.rfind(b"\n") + 1
                self._search(text[:cut], now)
                partial = text[cut:] if len(text) - cut <= LINE_BYTES else b""
            self._search(partial, time.monotonic())
        finally:
            source.close()

    def _search(self, lines: bytes, now: float) -> None:
        for m in self.mark.finditer(lines):
            if b"\n" in m.group(0):
                continue
            name = name_of(m)
            with self._lock:
                if (not self.hits or self.hits[-1][1] != name) and len(self.hits) < MAX_HITS:
                    self.hits.append((now, name))  # a phase named again (a progress line redrawn) goes on

    def windows(self, end: float) -> dict[str, list[tuple[float, float]]]:
        """Each phase's windows: from a line naming it to the next line naming another, or `end`."""
        for t in self._threads:
            t.join(JOIN_S)
        with self._lock:
            hits = sorted(self.hits)
        hits = [h for i, h in enumerate(hits) if not i or hits[i - 1][1] != h[1]]
        out: dict[str, list[tuple[float, float]]] = {}
        for i, (start, name) in enumerate(hits):
            if start < end and (name in out or len(out) < MAX_NAMES):
                stop = hits[i + 1][0] if i + 1 < len(hits) else end
                out.setdefault(name, []).append((start, min(stop, end)))
        return out


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BrokenPipeError:  # sizeup's own reader went away: the job's output has nowhere to go; keep draining
            return
