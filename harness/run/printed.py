"""Phases from the lines a job prints, for `sizeup profile --mark REGEX` (a framework's epoch lines, say).

The job's stdout and stderr then come to sizeup: each chunk is written on to sizeup's own, byte for byte and at
once, and its lines (ended by a newline, or by a carriage return as a progress bar redraws) are searched, and so is
a line still being printed, as far as it has come. A line that matches starts a phase, named by the match's group
`phase`, else its first group, else the whole match; the phase runs until a line names another one, or the job
ends. Past phases.MAX_NAMES - 1 names, the rest are one phase, phases.MORE.

A line is timed when sizeup reads it, so a job that holds its output back marks late. Where sizeup's stdout is a
terminal, the job's is a terminal of its own (raw, as wide as sizeup's): it buffers and draws as it would there,
Python line by line. Elsewhere it is a pipe, and Python is run unbuffered (PYTHONUNBUFFERED), which costs a job
that prints a great deal: a system call per print.
"""

from __future__ import annotations

import errno
import fcntl
import os
import pty
import re
import select
import termios
import threading
import time
import tty
from collections.abc import Sequence

from harness.errors import SizeupError
from harness.run import marks

CHUNK = 1 << 16
LINE_BYTES = 1 << 16  # of one line, searched; a longer line passes through whole, its rest unsearched
MAX_HITS = 100_000  # changes of phase kept: a job alternating names on every line is not held in memory whole
JOIN_S = 5.0  # after the job and everything it started are gone, how long the last output may take to drain


def pattern(text: str) -> re.Pattern[bytes]:
    """`--mark`'s regular expression, compiled for the job's bytes; SizeupError (exit 2) where it cannot mark."""
    try:
        compiled = re.compile(os.fsencode(text), re.MULTILINE)  # as the shell gave it, undecodable bytes too
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


def job_streams() -> tuple[list[tuple[int, int]], tuple[int, int], bool]:
    """(read end, sizeup's descriptor it goes on to) for the job's stdout and stderr; the two ends the job writes
    to; and whether its stdout is a terminal (see the module's docstring). Its stderr is a pipe: Python writes
    each of its lines at once."""
    terminal = os.isatty(1)
    if terminal:
        read, write = pty.openpty()
        tty.setraw(write)  # bytes as written: no newline made CR-LF, nothing echoed
        try:
            fcntl.ioctl(write, termios.TIOCSWINSZ, fcntl.ioctl(1, termios.TIOCGWINSZ, b"\0" * 8))
        except OSError:
            pass
    else:
        read, write = os.pipe()
    err_read, err_write = os.pipe()
    return [(read, 1), (err_read, 2)], (write, err_write), terminal


def close(fds: Sequence[int | None]) -> None:
    for fd in fds:
        if fd is not None:
            os.close(fd)


class Tee:
    """Copies a job's output on to sizeup's, noting when a line matches."""

    def __init__(self, mark: re.Pattern[bytes], streams: Sequence[tuple[int, int]]) -> None:
        """`streams`: (a read end of the job's output, sizeup's descriptor it goes on to), each read to its end by
        a thread, which then closes it."""
        self.mark = mark
        self.hits: list[tuple[float, str]] = []  # (monotonic time the line was read, phase name)
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._pump, args=s, daemon=True, name="sizeup-tee") for s in streams]
        for t in self._threads:
            t.start()

    def _pump(self, source: int, sink: int) -> None:
        partial, done = b"", 0  # the line still being printed, and how much of it its marks so far took
        try:
            while chunk := _read(source):
                now = time.monotonic()
                _write_all(sink, chunk)
                text = partial + chunk
                cut = max(text.rfind(b"\n"), text.rfind(b"\r")) + 1
                if cut:  # searched from where the line's marks so far ended: each is recorded once
                    self._search(text[:cut].replace(b"\r", b"\n"), now, done)
                    text, done = text[cut:], 0
                partial, done = (text, done) if len(text) <= LINE_BYTES else (b"", 0)
                done = self._search(partial, now, done, unfinished=True)
            self._search(partial, time.monotonic(), done)
        finally:
            os.close(source)

    def _search(self, lines: bytes, now: float, start: int = 0, unfinished: bool = False) -> int:
        """Record the marks in `lines` from `start` (where '^' matches only after a line break); return where the
        last ended. With `unfinished`, `lines` is the start of a line still being printed ('Epoch 3 ...' before the
        epoch's work, its end after): a match that text follows is a mark now; one at its end may yet grow ('Epoch
        1' of 'Epoch 12'), and waits for the line."""
        for m in self.mark.finditer(lines, start):
            if b"\n" in m.group(0) or (unfinished and m.end() == len(lines)):
                continue
            start, name = m.end(), name_of(m)
            with self._lock:
                if (not self.hits or self.hits[-1][1] != name) and len(self.hits) < MAX_HITS:
                    self.hits.append((now, name))  # a phase named again (a progress line redrawn) goes on
        return start

    def windows(self, end: float) -> dict[str, list[tuple[float, float]]]:
        """Each phase's windows: from a line naming it to the next line naming another, or `end`."""
        for t in self._threads:
            t.join(JOIN_S)
        with self._lock:
            hits = sorted(self.hits, key=lambda hit: hit[0])  # stable: marks read at once keep their order
        hits = [h for i, h in enumerate(hits) if not i or hits[i - 1][1] != h[1]]
        out: dict[str, list[tuple[float, float]]] = {}
        for i, (start, name) in enumerate(hits):
            if start < end:
                stop = hits[i + 1][0] if i + 1 < len(hits) else end
                out.setdefault(marks.kept(name, out), []).append((start, min(stop, end)))
        return out


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, CHUNK)
    except OSError as exc:  # a terminal whose every writer has gone says EIO, where a pipe says end of file
        if exc.errno == errno.EIO:
            return b""
        raise


def _write_all(fd: int, data: bytes) -> None:
    """Everything, or nothing more once sizeup's own output cannot take it (its reader gone, a full disk): the
    job's output is drained either way, so the job never blocks on it or dies of it."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:  # sizeup's output was left non-blocking by whatever started it
            select.select([], [fd], [])
        except OSError:
            return
