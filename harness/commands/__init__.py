"""The commands behind `sizeup`: each parses nothing (harness.cli does) and owns its orchestration."""

from __future__ import annotations

import os
import shlex
import shutil
import sys


def sizeup() -> str:
    """How to run sizeup again, for the commands it suggests: `sizeup` where that name finds this one, else the
    path it was started by (`make bench` runs .venv/bin/sizeup, which is seldom on PATH)."""
    started = sys.argv[0]
    if os.path.basename(started) != "sizeup":  # `python -m harness`, a test: whoever runs it so knows how
        return "sizeup"
    found = shutil.which("sizeup")
    return "sizeup" if found and os.path.realpath(found) == os.path.realpath(started) else shlex.quote(started)
