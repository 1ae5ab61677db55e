"""The journal of a run that is going: a header, then one fsynced line per finished case, so a
killed run loses nothing finished and ``sizeup run --resume`` continues it; and the final file
written beside it when the run ends."""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path
from typing import Any

from harness import signals
from harness.errors import SizeupError
from harness.records.jsonio import check_file, check_name, dumps
from harness.records.store import JOURNAL_SUFFIX, decode, from_journal, save
from harness.records.types import CaseRecord, RunResult


def machine_folder(root: Path, machine_id: str) -> Path:
    """Where a machine's runs are kept under a results folder."""
    return root / check_name("machine id", machine_id)


def journal_path(root: Path, run: RunResult) -> Path:
    return machine_folder(root, run.machine["id"]) / f"{check_name('run id', run.run_id)}{JOURNAL_SUFFIX}"


def final_path(journal: Path) -> Path:
    """Where a journal's finished result goes: beside it, whatever it has been renamed to."""
    return journal.with_name(journal.name.removesuffix(JOURNAL_SUFFIX) + ".json")


class Journal:
    """Append-only JSON lines: a header, then one line per finished case.

    Locked (flock) for as long as it is open, so two processes never run one journal's cases.
    """

    def __init__(self, path: Path, fd: int) -> None:
        self.path, self.fd = path, fd

    @classmethod
    def create(cls, path: Path, run: RunResult) -> Journal:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o666)
        except (OSError, ValueError) as exc:
            raise SizeupError(f"cannot write results to {path}: {getattr(exc, 'strerror', None) or exc}") from None
        journal = cls(path, fd)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # new and ours: cannot be held elsewhere
        try:
            journal._write({"kind": "header", **run.header()})
        except OSError as exc:
            journal.close()
            path.unlink(missing_ok=True)  # a journal without its header is nothing: leave none
            raise SizeupError(f"cannot write results to {path}: {exc.strerror or exc}") from None
        return journal

    @classmethod
    def reopen(cls, path: Path) -> Journal:
        """An existing journal, to continue it; SizeupError if a live run holds it."""
        check_file(path, "journal")
        try:
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CLOEXEC)
        except OSError as exc:
            raise SizeupError(f"cannot open journal {path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise JournalBusy(f"{path} belongs to a run that is still going in another process") from None
        journal = cls(path, fd)
        journal._drop_cut_line()
        return journal

    def read(self) -> RunResult:
        with open(self.fd, "rb", closefd=False) as f:
            f.seek(0)
            text = decode(f.read(), self.path)
        return from_journal(self.path, text)

    def append(self, record: CaseRecord) -> None:
        try:
            self._write({"kind": "case", "record": record.to_dict()})
        except OSError as exc:
            raise SizeupError(f"case {record.id} ({record.status}) finished but could not be recorded in {self.path}: "
                              f"{exc.strerror or exc}. Every case before it is kept; make room, then continue with: "
                              f"sizeup run --resume {self.path}") from None

    def _write(self, obj: dict[str, Any]) -> None:
        """One write of one whole line, fsynced; a line that did not fit is cut off again (OSError raised)."""
        data = (dumps(obj) + "\n").encode()
        with signals.shielded():  # Ctrl-C must not cut a record in half
            size = os.fstat(self.fd).st_size
            try:
                written = os.write(self.fd, data)
                if written < len(data):
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                os.fsync(self.fd)
            except OSError:
                try:
                    os.ftruncate(self.fd, size)
                except OSError:
                    pass
                raise

    def _drop_cut_line(self) -> None:
        """A run killed mid-write can leave half a line; appending after it would corrupt the journal."""
        with open(self.fd, "rb", closefd=False) as f:
            data = f.read()
        if data and not data.endswith(b"\n"):
            os.ftruncate(self.fd, data.rfind(b"\n") + 1)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # releases the lock
            self.fd = -1


class JournalBusy(SizeupError):
    """The journal is locked by a live run."""


def unfinished(root: Path, machine_id: str) -> list[Path]:
    """Journals of this machine, newest first, for `run --resume` without a path."""
    def mtime(p: Path) -> float:
        try:
            return p.stat().st_mtime
        except OSError:
            return 0.0

    return sorted((root / machine_id).glob(f"*{JOURNAL_SUFFIX}"), key=mtime, reverse=True)


def finish(journal: Journal, run: RunResult, finished: str) -> Path:
    """Write the final document atomically beside the journal, then drop the journal it supersedes."""
    done = run.finished_as(finished)
    path = final_path(journal.path)
    try:
        save(path, done)
    except SizeupError as exc:
        raise SizeupError(f"{exc}. Every finished case is in {journal.path}; make room, then write the "
                          f"result with: sizeup run --resume {journal.path}") from None
    journal.path.unlink(missing_ok=True)
    return path
