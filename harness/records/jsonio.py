"""JSON as sizeup writes it, and files written safely: strict JSON (no NaN), names that may
become one path component, atomic writes that readers see whole or not at all."""

from __future__ import annotations

import errno
import json
import math
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Any

from harness.errors import SizeupError

SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")  # a name that becomes one path component


def plain(obj: Any) -> Any:
    """`obj` with every non-finite float replaced by None: strict JSON readers reject NaN and Infinity."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    return obj


def dumps(obj: Any, **kwargs: Any) -> str:
    """Standard JSON: a missing value is null, never NaN."""
    return json.dumps(plain(obj), allow_nan=False, **kwargs)


def check_name(what: str, name: Any) -> str:
    """`name` if it is safe as one path component (no separators, no '..'), else SizeupError."""
    if not isinstance(name, str) or not SAFE_NAME.fullmatch(name):
        raise SizeupError(f"{what} {name!r} cannot name a file: use letters, digits, '.', '_' and '-' "
                          "(starting with a letter or digit), at most 128 characters")
    return name


def check_file(path: Path, what: str) -> None:
    """SizeupError unless `path` is an existing regular file, saying what it is instead."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise SizeupError(f"{what} {path} does not exist") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte, or a character no file name can hold
        raise SizeupError(f"cannot read {what} {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
        raise SizeupError(f"{what} {path} is {kind}")


def check_writable(root: Path) -> None:
    """Refuse a results folder that cannot be written, before any work (a run, a profiled job, reading --data can
    take minutes); write_atomic creates it, and the folders above it, when there is something to keep."""
    existing = next(p for p in (root, *root.parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise SizeupError(f"cannot write results to {root}: {existing} is "
                          + ("not a folder" if not existing.is_dir() else "not writable"))


def write_atomic(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, then rename: readers see all or nothing.

    Only for a regular file or a missing one; a symlink's target is written, and anything
    else (a device, a FIFO) is written through, not replaced. Failures are SizeupError.
    """
    try:
        _write_output(Path(os.path.realpath(path)), text)
    except (OSError, ValueError) as exc:
        raise SizeupError(f"cannot write {path}: {getattr(exc, 'strerror', None) or exc}") from None


def _write_output(path: Path, text: str) -> None:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "it is a directory")
    if mode is not None and not stat.S_ISREG(mode):
        if not (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
            raise OSError(errno.EINVAL, "it is neither a regular file, a character device nor a FIFO")
        with open(path, "w") as f:  # /dev/null, /dev/stdout, a named pipe: write through, never replace
            f.write(text)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes 0600; results are meant to be shared
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
