"""`sizeup run --data PATH`: identify the machine-learning task in the user's data, the way a data
scientist would, and say why; then benchmark it on growing subsamples.

Rules (`--task` overrides them; where the evidence is ambiguous the output says so and names the flag):

- a folder of sub-folders of images -> vision (one class per sub-folder, resized to the median side, 8-64 px);
- a table with a date/time column and a numeric target -> forecasting (series keys: the other
  non-numeric columns that repeat per date; none: one series);
- a table with a long free-text column (mean over 50 characters, mostly unique) -> NLP, classifying the
  text into the target's classes;
- a categorical, boolean or low-cardinality integer target -> classification (binary or multiclass);
- any other numeric target -> regression.

The data is only read: nothing is written next to it or copied into the results, which keep its
path, size, schema and SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import SizeupError, described
from harness.run import sweep, tablecheck
from workloads import user, user_images

TASKS = ("classification", "regression", "forecasting", "vision", "nlp")
TABLES = {".csv": "csv", ".tsv": "csv", ".parquet": "parquet", ".pq": "parquet"}
TARGET_NAMES = ("target", "label", "y", "class")
CLASS_LEVELS = 20  # an integer target with at most this many values reads as classes
TEXT_CHARS = 50  # a column whose values average more characters than this is free text
MIN_ROWS = 30  # the smallest subsample: a 20% test split of 6 rows
MAX_HORIZON = 28
UNITS = {"vision": "images", "nlp": "documents", "forecasting": "steps per series"}
SIDES = (8, 64)  # images are resized to their median side, within these bounds
DECODED_IMAGES = 500  # decoded in full during identification (the rest: headers verified)
MAX_PIXELS = 50 * 10**6  # past this an image is a mistake or a decompression bomb, not a training example


@dataclass
class Identified:
    path: Path
    task: str
    detail: str  # "binary", "multiclass (3 classes)", ...
    target: str | None
    rows: int
    reasons: list[str] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)  # what could change the decision, and which flag does
    schema: dict[str, str] = field(default_factory=dict)
    features: int = 0
    categorical: int = 0
    sha256: str = ""
    date: str = ""  # forecasting: the time column, the series keys, steps per series and the horizon
    series: list[str] = field(default_factory=list)
    steps: int = 0
    horizon: int = 0
    text: str = ""  # nlp: the free-text column
    resolution: int = 0  # vision: the side images are resized to
    classes: int = 0  # vision: class sub-folders
    memory_bytes: int = 0  # tables: the whole table in memory, as pandas holds it
    ordered: str = ""  # regression: a numeric column that counts time (the split then keeps time order)
    no_target: int = 0  # tables: rows without a target value, left out of every subsample


def identify(path: str | Path, target: str | None = None, task: str | None = None,
             horizon: int | None = None, series: Sequence[str] | None = None) -> Identified:
    path = Path(path)
    if task is not None and task not in TASKS:
        raise SizeupError(f"--task must be one of {', '.join(TASKS)}, got {task!r}")
    if not path.exists():
        raise SizeupError(f"--data {path}: no such file or folder")
    if path.is_dir():
        if flags := [name for name, value in (("--target", target), ("--horizon", horizon), ("--series", series))
                     if value is not None]:
            raise SizeupError(f"--data {path}: {', '.join(flags)} {'is' if len(flags) == 1 else 'are'} for tables; "
                              "a folder of images takes its classes from its sub-folders")
        return _images(path, task)
    kind = TABLES.get(path.suffix.lower())
    if kind is None:
        raise SizeupError(f"--data {path}: unsupported format {path.suffix or '(no suffix)'!r}; give a CSV or Parquet "
                          f"table ({', '.join(TABLES)}) or a folder of images in one sub-folder per class")
    if path.stat().st_size == 0:
        raise SizeupError(f"--data {path}: the file is empty")
    tablecheck.header(path, kind)
    frame = _read(path, kind)
    found = _table(path, frame, target, task)
    if found.task == "forecasting":
        _series(found, frame, horizon, series)
    elif horizon is not None or series is not None:
        raise SizeupError(f"--data {path}: --horizon and --series are for forecasting, and this table is "
                          f"{found.task} (--task forecasting, with a date column, makes it one)")
    return found


def _read(path: Path, kind: str) -> Any:
    try:
        frame = user.read_table(str(path))
    except UnicodeDecodeError as exc:
        raise SizeupError(f"--data {path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start:,}): "
                          "save it as UTF-8, or it is not a table") from None
    except Exception as exc:  # pandas raises a zoo of parser, encoding and Arrow errors
        raise SizeupError(f"--data {path}: cannot read it as {kind}: {described(exc)}") from None
    if frame.empty or len(frame.columns) < 2:
        raise SizeupError(f"--data {path}: no rows, or fewer than two columns (a target and a feature)")
    return frame


def _table(path: Path, frame: Any, target: str | None, task: str | None) -> Identified:
    import pandas as pd

    if task == "vision":  # the mirror of _images refusing a table task for a folder
        raise SizeupError(f"--data {path}: a table is not a vision task: vision takes a folder of images in one "
                          "sub-folder per class")
    reasons, ambiguous = [], []
    if target is None:
        named = [c for c in frame.columns if str(c).lower() in TARGET_NAMES]
        target = named[0] if named else str(frame.columns[-1])
        reasons.append(f"no --target: took {'the column named' if named else 'the last column,'} {target!r}")
        ambiguous.append("the target column was guessed: --target COLUMN decides")
    if target not in frame.columns:
        raise SizeupError(f"--data {path}: no column {target!r}; columns: {', '.join(map(str, frame.columns))[:300]}")
    tablecheck.values(path, frame, target)
    y = frame[target]
    if y.isna().all():
        raise SizeupError(f"--data {path}: the target {target!r} is empty (every value is missing)")
    if y.nunique(dropna=True) < 2:
        value = y.dropna().iloc[0]
        value = value.item() if hasattr(value, "item") else value  # 7.0, not np.float64(7.0)
        raise SizeupError(f"--data {path}: the target {target!r} is constant ({value!r}): nothing to learn")
    features = frame.drop(columns=[target])
    dates = [c for c in features.columns if user.is_date(features[c])]
    texts = [c for c in features.columns if _is_text(features[c])]
    numeric_target = pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y)
    levels = y.nunique(dropna=True)
    whole = numeric_target and bool((y.dropna() % 1 == 0).all())

    if task is None:
        if dates and numeric_target:
            task = "forecasting"
            reasons.append(f"date/time column {dates[0]!r} with a numeric target")
            ambiguous.append("a dated table can also be plain regression: --task regression")
        elif texts:
            task = "nlp"
            reasons.append(f"free-text column {texts[0]!r} (values average over {TEXT_CHARS} characters)")
        elif not numeric_target:
            task = "classification"
            reasons.append(f"target {target!r} is categorical ({y.dtype}) with {levels} classes")
        elif whole and levels <= CLASS_LEVELS:
            task = "classification"
            reasons.append(f"target {target!r} holds {levels} distinct whole numbers: classes")
            if levels > 2:
                ambiguous.append(f"{levels} whole-number levels could be counts or ratings: --task regression")
        else:
            task = "regression"
            reasons.append(f"target {target!r} is numeric with {levels} distinct values")
            if whole and y.value_counts().max() >= 2:  # values that each appear once name rows, not classes
                ambiguous.append(f"{levels} whole-number levels could be classes: --task classification")
    else:
        reasons.append(f"--task {task}")
    if task == "nlp" and numeric_target and not (whole and levels <= CLASS_LEVELS):
        raise SizeupError(f"--data {path}: the NLP benchmark classifies text, and the target {target!r} holds "
                          f"{levels} numeric values, not classes: --target a class column, or --task regression "
                          "to treat the text as a feature")
    if task in ("classification", "nlp"):
        counts = y.value_counts()
        if len(counts) < 2:
            raise SizeupError(f"--data {path}: the target {target!r} has one class: nothing to tell apart")
        if counts.max() < 2:  # nothing to both learn and test a class on
            raise SizeupError(f"--data {path}: the target {target!r} has {len(counts)} values, each once: they name "
                              "rows, not classes (--target a class column, or --task regression)")
        detail = "binary" if len(counts) == 2 else f"multiclass ({len(counts)} classes)"
    elif task in ("regression", "forecasting") and not numeric_target:
        raise SizeupError(f"--data {path}: --task {task} needs a numeric target; {target!r} is {y.dtype}")
    else:
        detail = ""
    if task == "nlp":
        words = texts or [c for c in features.columns if features[c].dtype == object
                          or pd.api.types.is_string_dtype(features[c])]
        if not words:
            raise SizeupError(f"--data {path}: an NLP task needs a text column; none of the features holds text")
        if features[words[0]].fillna("").astype(str).str.strip().eq("").all():
            raise SizeupError(f"--data {path}: the text column {words[0]!r} is empty")
        if len(features.columns) > 1:
            reasons.append(f"the model reads the text of {words[0]!r}; the other {len(features.columns) - 1} "
                           "column(s) are left out")
    ordered = next((str(c) for c in features.columns if task == "regression" and not dates
                    and _counts_time(features.loc[y.notna(), c])), "")
    if ordered:
        reasons.append(f"column {ordered!r} counts time (increasing in even steps): the rows keep their order, the "
                       "last fifth is tested, never shuffled into training")
        ambiguous.append(f"{ordered!r} could be a time index to forecast along: with a date column, --task forecasting")
    if missing := int(y.isna().sum()):
        reasons.append(f"{missing:,} of {len(y):,} rows have no {target!r} value: left out")
    _, categorical = user.column_kinds(features[y.notna()])
    return Identified(path, task, detail, target, int(y.notna().sum()), reasons, ambiguous,
                      {str(c): str(t) for c, t in frame.dtypes.items()}, features=len(features.columns),
                      categorical=len(categorical), sha256=_sha256([path]),
                      text=str(words[0]) if task == "nlp" else "",
                      memory_bytes=int(frame.memory_usage(deep=True).sum()), ordered=ordered, no_target=missing)


def _series(found: Identified, frame: Any, horizon: int | None, series: Sequence[str] | None) -> None:
    """The time column, the series keys (--series, else the text columns that repeat a date) and the horizon."""
    frame = frame[frame[found.target].notna()]
    dates = [c for c in frame.columns if c != found.target and user.is_date(frame[c])]
    if not dates:
        raise SizeupError(f"--data {found.path}: forecasting needs a date/time column; none reads as dates")
    found.date = str(dates[0])
    if series is not None:
        if missing := [c for c in series if c not in frame.columns or c in (found.target, found.date)]:
            raise SizeupError(f"--data {found.path}: --series {', '.join(missing)}: no such feature column")
        found.series = list(series)
    else:
        _, categorical = user.column_kinds(frame.drop(columns=[found.target, found.date]))
        found.series = [str(c) for c in categorical] if frame[found.date].duplicated().any() else []
    repeated = frame.duplicated([found.date, *found.series])
    if repeated.any():
        raise SizeupError(f"--data {found.path}: {int(repeated.sum()):,} rows repeat a date of their series "
                          f"(first at row {int(repeated.to_numpy().argmax()) + 1}): name the columns that tell series "
                          "apart with --series, or aggregate the table per date")
    keys = frame[found.series].astype(str).agg("|".join, axis=1) if found.series else 0
    found.steps = int(frame.assign(_k=keys).groupby("_k")[found.date].nunique().max())
    found.horizon = horizon or max(1, min(MAX_HORIZON, found.steps // 10))
    count = frame.assign(_k=keys)["_k"].nunique() if found.series else 1
    found.reasons.append(f"{count} series" + (f" keyed by {', '.join(found.series)}" if found.series else "")
                         + f", {found.steps} steps each at most; forecasting the last {found.horizon} "
                         + ("(--horizon)" if horizon else "(a tenth of the steps, at most 28: --horizon sets it)"))
    if found.steps < (least := user.min_steps(found.horizon)):
        raise SizeupError(f"--data {found.path}: {found.steps} steps per series are too few to learn a "
                          f"{found.horizon}-step horizon from (at least {least})")


def _counts_time(column: Any) -> bool:
    """Numbers that rise in one even step from row to row (years, periods, a step counter): a time index."""
    import pandas as pd

    if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column) or len(column) < MIN_ROWS:
        return False
    steps = np.diff(column.to_numpy(np.float64))
    return bool(np.isfinite(steps).all() and steps[0] > 0 and np.allclose(steps, steps[0], rtol=1e-9, atol=0))


def _is_text(column: Any) -> bool:
    import pandas as pd

    if column.dtype != object and not pd.api.types.is_string_dtype(column):
        return False
    values = column.dropna().astype(str)
    return bool(len(values) and values.str.len().mean() > TEXT_CHARS and values.nunique() > 0.5 * len(values))


def _images(path: Path, task: str | None) -> Identified:
    from PIL import Image

    if task not in (None, "vision"):
        raise SizeupError(f"--data {path}: a folder of images is a vision task, not {task}")
    files, labels, classes = user_images.listing(str(path.resolve()))
    if len(classes) < 2:
        empty = sorted(p.name for p in path.iterdir() if p.is_dir() and p.name not in classes)
        raise SizeupError(f"--data {path}: an image folder needs two or more sub-folders of images (one per class); "
                          f"found {len(classes)}"
                          + (f" ({', '.join(map(repr, empty[:5]))}{', ...' * (len(empty) > 5)} hold no "
                             f"{'/'.join(sorted(user_images.SUFFIXES))} file)" if empty else ""))
    sides = []
    decoded = set(files[:: max(1, len(files) // DECODED_IMAGES)])  # a bounded sample is decoded whole
    for f in files:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # MAX_PIXELS, below it, says so
                image = Image.open(f)
            with image:
                if image.width * image.height > MAX_PIXELS:
                    raise SizeupError(f"--data {path}: image {f} has {image.width} x {image.height} pixels, more "
                                      f"than the {MAX_PIXELS // 10**6} megapixels sizeup reads")
                image.load() if f in decoded else image.verify()
                sides.append(min(image.size))
        except SizeupError:
            raise
        except Image.DecompressionBombError:  # past twice Pillow's bound, it refuses to open the file at all
            raise SizeupError(f"--data {path}: image {f} has more than the {MAX_PIXELS // 10**6} megapixels sizeup "
                              "reads") from None
        except Exception as exc:
            raise SizeupError(f"--data {path}: unreadable image {f}: {type(exc).__name__}") from None
    side = int(min(max(sorted(sides)[len(sides) // 2], SIDES[0]), SIDES[1]))
    counts = np.bincount(labels)
    return Identified(path, "vision", f"{len(classes)} classes", None, len(files),
                      [f"a folder of {len(files):,} images in {len(classes)} class sub-folders "
                       f"({counts.min():,} to {counts.max():,} per class)",
                       f"images resized to {side} x {side} RGB: their median side, within {SIDES[0]}-{SIDES[1]} "
                       "pixels"], sha256=_sha256(files, root=path), resolution=side, classes=len(classes))


def _sha256(files: Sequence[Path], root: Path | None = None) -> str:
    """The bytes of `files`; for a folder, each file's path under `root` too, so a renamed class changes it."""
    h = hashlib.sha256()
    for path in files:
        if root is not None:
            h.update(str(path.relative_to(root.resolve())).encode() + b"\0")
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(2**20), b""):
                h.update(block)
    return h.hexdigest()


def describe(found: Identified) -> list[str]:
    task = f"{found.task}{f' ({found.detail})' if found.detail else ''}"
    unit = "rows" if found.task == "forecasting" else UNITS.get(found.task, "rows")  # a forecast's rows, then steps
    lines = [f"{found.path}: {found.rows:,} {unit} -> {task}"] + [f"  because {r}" for r in found.reasons]
    lines += [f"  ambiguous: {a}" for a in found.ambiguous]
    return lines


REPEATS = 3  # warm repeats per subsample
TIMEOUT_S = 600.0  # per case
# Spark joins only a table one machine could plausibly not hold or train in time: below this, its
# session and job start (37-46 s a step here, on 178 rows as on 30,000) measure nothing of the data.
SPARK_ROWS = 10_000_000
SPARK_BYTES = 8 * 2**30


def plan(found: Identified, requested: Sequence[str] = ()) -> tuple[str, dict[str, Any]]:
    """The suite `sizeup run --data` runs: its name and its one benchmark (see suite)."""
    return "data", {"benchmark": [suite(found, requested=requested)], "repeats": REPEATS, "timeout_s": TIMEOUT_S}


def distributed_models(found: Identified) -> list[str]:
    """The task's models that run only on a cluster engine (Spark)."""
    from harness.run.backends import BACKENDS
    from workloads import catalogue

    return [m.name for m in catalogue()[f"user_{found.task}"].models
            if all(BACKENDS[b].distributed for b in m.backends if b in BACKENDS)]


def spark_left_out(found: Identified, requested: Sequence[str] = ()) -> list[str]:
    """The Spark models left out of a table this small (unless asked for by --models)."""
    if found.rows >= SPARK_ROWS or found.memory_bytes >= SPARK_BYTES:
        return []
    return [m for m in distributed_models(found) if m not in requested]


def extent(found: Identified) -> tuple[int, int]:
    """The largest subsample (the whole data: rows, images, documents, or steps per series) and the smallest."""
    return (found.steps, user.min_steps(found.horizon)) if found.task == "forecasting" else (found.rows, MIN_ROWS)


def suite(found: Identified, budget_s: float = 60.0, requested: Sequence[str] = ()) -> dict[str, Any]:
    """The benchmark for the user's table: its task's models on geometric subsamples (from 1/64 of the rows,
    doubling; a table of fewer than four doublings of its smallest subsample in two steps of under 2x, where the
    whole table is a step of its own past the second), up to the whole table unless the time or memory budget stops
    it; Spark only for a table large enough to need it, or where `requested`."""
    whole, least = extent(found)
    if whole < least:
        raise SizeupError(f"{found.path}: {whole} {UNITS.get(found.task, 'rows')} to learn from; at least {least} "
                          "are needed")
    halvings = min(6, int(math.log2(whole / least)))  # 1/64 of the data at most, `least` at least
    start = math.ceil(whole / 2**halvings)  # so that doubling lands on the whole data
    factor = 2.0
    if halvings < 2:  # three sizes are the fewest a time fit takes
        steps = math.sqrt(whole / least) * 1.01  # the last step overshoots, and is the whole data...
        if whole >= sweep.grown(least, steps) * sweep.LAST_STEP:  # ... where it is a step of its own (sweep)
            start, factor = least, steps
    params: dict[str, Any] = {"path": str(found.path.resolve()), "rows": whole, "file_sha256": found.sha256}
    if found.task == "vision":
        params |= {"classes": found.classes, "resolution": found.resolution}
    else:
        params |= {"target": found.target, "schema": json.dumps(found.schema)}
    if found.task == "forecasting":  # sizes are steps of history per series, the most recent kept
        params |= {"date": found.date, "series": ",".join(found.series), "horizon": found.horizon}
    elif found.task == "nlp":
        params |= {"text": found.text}
    elif found.task != "vision":
        params |= {"features": found.features, "categorical": found.categorical}
        params |= {"ordered": found.ordered} if found.ordered else {}
    from workloads import catalogue

    left_out = spark_left_out(found, requested)
    models = [m.name for m in catalogue()[f"user_{found.task}"].models if m.name not in left_out]
    return {"workload": f"user_{found.task}", "models": models,
            "sweep": {"start": start, "factor": factor, "budget_s": budget_s, "max_size": whole, "settle": 0},
            "params": params}
