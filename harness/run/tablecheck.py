"""Checks of a user's table before identification reads it and after: what every case would fail on is
refused here, once, in one line naming the row, column or bound (exit 2), never case by case.

- the header: at most MAX_HEADER_BYTES and MAX_COLUMNS (read alone, so a 200 MB header line is refused
  without reading it whole), and no name twice (pandas would rename the second `a` to `a.1` silently);
- the values: no nested ones (Parquet lists and structs), features that fit float32 (the models train in
  it: past its range a value is inf), a target finite and small enough to square.
"""

from __future__ import annotations

import collections
import csv
import io
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import SizeupError, described
from workloads import user

MAX_HEADER_BYTES = 4 * 2**20
MAX_COLUMNS = 10_000
FEATURE_LIMIT = float(np.finfo(np.float32).max)
TARGET_LIMIT = 1e150  # its square (scores, losses) stays finite in float64


def header(path: Path, kind: str) -> list[str]:
    """The column names, read without reading the table; SizeupError past a bound or on a repeated name."""
    if kind == "parquet":
        import pyarrow.parquet as pq

        try:
            names = list(pq.read_schema(path).names)
        except Exception as exc:  # Arrow's errors for a file that is no Parquet
            raise SizeupError(f"--data {path}: cannot read it as parquet: {described(exc)}") from None
    else:
        with open(path, "rb") as f:
            start = f.read(MAX_HEADER_BYTES + 1)
        ends = [i for i in (start.find(b"\n"), start.find(b"\r")) if i >= 0]  # a line may end in \r alone (old Macs)
        if not ends and len(start) > MAX_HEADER_BYTES:
            raise SizeupError(f"--data {path}: the header line is longer than {MAX_HEADER_BYTES // 2**20} MiB: "
                              "not a table sizeup reads")
        text = start[:min(ends, default=len(start))].decode("utf-8", errors="replace")
        try:
            names = next(csv.reader(io.StringIO(text, newline=""), delimiter=user.separator(str(path))), [])
        except csv.Error as exc:  # a NUL byte: a binary file named .csv
            raise SizeupError(f"--data {path}: cannot read its header as a table: {exc}") from None
    if len(names) > MAX_COLUMNS:
        raise SizeupError(f"--data {path}: {len(names):,} columns, more than the {MAX_COLUMNS:,} sizeup reads")
    if twice := sorted(n for n, k in collections.Counter(names).items() if k > 1):
        raise SizeupError(f"--data {path}: column name(s) {', '.join(map(repr, twice[:5]))[:200]} appear more than "
                          "once: rename them, so that each column means one thing")
    return names


def values(path: Path, frame: Any, target: str) -> None:
    """Refuse nested values anywhere, and numbers no model trains on (see the module's docstring)."""
    import pandas as pd

    for name in frame.columns:
        column = frame[name]
        if column.dtype == object:
            nested = column.map(lambda v: isinstance(v, (list, dict, tuple, set, np.ndarray)))
            if nested.any():
                raise SizeupError(f"--data {path}: column {str(name)!r} holds nested values (lists or structs), "
                                  f"first at row {_row(nested)}: flatten it or leave it out")
        if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            continue
        limit = TARGET_LIMIT if name == target else FEATURE_LIMIT
        numbers = column.to_numpy(np.float64, na_value=0.0)
        bad = ~(np.abs(numbers) <= limit)
        if bad.any():
            first = int(np.argmax(bad))
            what = "the target" if name == target else "feature"
            raise SizeupError(f"--data {path}: {what} {str(name)!r} holds {numbers[first]:g} at row {first + 1}: "
                              f"values must be finite and within ±{limit:.3g}")


def _row(mask: Any) -> int:
    """The first True's row, counted from 1 among the data rows."""
    return int(np.argmax(mask.to_numpy())) + 1
