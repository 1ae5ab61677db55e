"""Result files: one versioned JSON document per run, a journal while it runs.

Layout: ``results/<machine-id>/<run-id>.json``. While a run is going, each
finished case is appended (and flushed) to ``<run-id>.journal.jsonl`` beside it
(harness.records.journal). The JSON file is written once, atomically, when the
run ends. The schema is documented in docs/results.md; bump SCHEMA_VERSION on
any incompatible change and teach harness.records.upgrade to read the old one.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.errors import SizeupError
from harness.records.jsonio import check_file, dumps, write_atomic
from harness.records.types import SCHEMA, RunResult
from harness.records.upgrade import schema_error, upgrade

JOURNAL_SUFFIX = ".journal.jsonl"


def save(path: Path, run: RunResult) -> None:
    write_atomic(path, dumps(run.to_dict(), indent=1) + "\n")


class NotAResult(SizeupError):
    """JSON, but not sizeup's (no schema): in a folder of results, some other tool's file (an export, say)."""


def load(path: str | Path) -> RunResult:
    """A result file or a journal of an unfinished run -> RunResult. Bad files raise SizeupError."""
    path = Path(path)
    check_file(path, "result file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SizeupError(f"cannot read result file {path}: {exc.strerror or exc}") from None
    text = decode(data, path)
    if path.name.endswith(JOURNAL_SUFFIX):
        return from_journal(path, text)
    return _from_dict(_parse(text, path), path)


def decode(data: bytes, path: Path) -> str:
    try:
        return data.decode()
    except UnicodeDecodeError as exc:
        raise SizeupError(f"{path} is not a sizeup result: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _parse(text: str, path: Path, where: str = "") -> Any:
    """JSON, with NaN and Infinity (written by sizeup before 0.3) read as null."""
    try:
        return json.loads(text, parse_constant=lambda _: None)
    except json.JSONDecodeError as exc:
        raise SizeupError(f"{path}{where} is not valid JSON (truncated or corrupt?): {exc}") from None
    except RecursionError:
        raise SizeupError(f"{path}{where} is nested too deeply to be a sizeup result") from None


def from_journal(path: Path, text: str) -> RunResult:
    lines = list(_journal_lines(path, text))
    if not lines or lines[0].get("kind") != "header":
        raise SizeupError(f"{path} is not a sizeup journal: its first line is no header")
    header = {k: v for k, v in lines[0].items() if k != "kind"}
    cases = []
    for number, line in enumerate(lines[1:], start=2):
        if line.get("kind") != "case" or not isinstance(line.get("record"), dict):
            raise SizeupError(f"{path}, line {number}, is not a case record")
        cases.append(line["record"])
    return _from_dict({**header, "cases": cases}, path)


def _journal_lines(path: Path, text: str) -> Iterator[dict[str, Any]]:
    rows = text.splitlines()
    for i, row in enumerate(rows):
        if i == len(rows) - 1 and not text.endswith("\n"):  # cut by a kill mid-write: that case did not finish
            return
        line = _parse(row, path, f", line {i + 1},")
        if not isinstance(line, dict):
            raise SizeupError(f"{path}, line {i + 1}, is not a journal entry (a JSON object)")
        yield line


def _from_dict(doc: Any, path: Path) -> RunResult:
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise NotAResult(f"{path} is not a sizeup result (no schema {SCHEMA!r})")
    doc = upgrade(doc, path)
    error = schema_error(doc)
    if error is not None:
        where = "/".join(map(str, error.absolute_path)) or "the top level"
        raise SizeupError(f"{path} does not match the result schema at {where}: {error.message:.200}")
    try:
        run = RunResult.from_dict(doc)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:  # what the schema does not pin down
        raise SizeupError(f"{path} does not match the result schema: {type(exc).__name__}: {exc}"[:400]) from None
    if twice := [i for i, k in Counter(r.case.id for r in run.cases).items() if k > 1]:
        raise SizeupError(f"{path} holds case {twice[0][:200]} {'and others ' if len(twice) > 1 else ''}more than once: "
                          "a result holds each case once (files are combined by naming several)")
    return run
