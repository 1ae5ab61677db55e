"""Starting sizeup in a test as a terminal would: under `nohup` or `&` the test run inherits SIGHUP or SIGINT
ignored, and an ignored signal cannot test how sizeup stops (Python installs no KeyboardInterrupt where SIGINT
was ignored at its start)."""

from __future__ import annotations

import signal


def default_stop_signals() -> None:
    """A `preexec_fn`: the stop signals at their defaults in the process about to start."""
    for signum in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)
