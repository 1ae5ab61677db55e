"""A telemetry source that lives outside the harness, as a user's would: the threads of the case's
processes, read from /proc. Tests add it with SIZEUP_EXTRA_SOURCES=tests.thread_source."""

from __future__ import annotations

from collections.abc import Sequence

from harness.records.figures import Figure


class ThreadSource:
    name = "threads"
    gauges = ("count",)
    counters = ()
    figures = (Figure("fit_threads", "fit threads", "count", "fit", "max", "max", "threads", plot=True),)

    def read(self, pids: Sequence[int]) -> dict[str, float | None]:
        total = 0
        for pid in pids:
            try:
                with open(f"/proc/{pid}/status") as f:
                    total += next(int(line.split()[1]) for line in f if line.startswith("Threads:"))
            except (OSError, StopIteration, ValueError):
                pass
        return {"count": float(total) if total else None}

    def close(self) -> None: ...


def open_source() -> tuple[ThreadSource | None, str]:
    return ThreadSource(), "threads of the case's processes, from /proc"
