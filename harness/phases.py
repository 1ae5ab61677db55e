"""Phases from the job itself, for `sizeup profile`:

    from harness import phase

    with phase("load"):
        data = read()
    with phase("train"):
        model.fit(data)

Under `sizeup profile` each phase's start and end go to the file it names in SIZEUP_PHASES, and the
profile gives its time and utilization per phase. Anywhere else it does nothing, at a cost a test
holds under a microsecond. Nothing but os and time is imported: a job pays nothing for it.
"""

from __future__ import annotations

import os
import time

ENV = "SIZEUP_PHASES"
MAX_NAMES = 100  # distinct phase names sizeup keeps of a job, marked here or by --mark
# The last of them takes every name past the others, so that their time stays marked (not `unmarked`).
MORE = f"the rest (past {MAX_NAMES - 1} names)"
_path = os.environ.get(ENV)
_fd: int | None = None


class phase:  # noqa: N801 - used as a function: `with phase("train"):`
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> phase:
        if _path is not None:
            _mark("begin", self.name)
        return self

    def __exit__(self, *exc: object) -> bool:
        if _path is not None:
            _mark("end", self.name)
        return False


def _mark(edge: str, name: str) -> None:
    global _fd
    try:
        if _fd is None:
            _fd = os.open(_path, os.O_WRONLY | os.O_APPEND)
        # One write per line, on the clock sizeup samples on (CLOCK_MONOTONIC is the machine's).
        os.write(_fd, f"{edge}\t{time.monotonic()!r}\t{' '.join(str(name).split())}\n".encode())
    except OSError:  # sizeup gone or its file removed: the job runs on, unmarked
        pass
