"""The user's own images (`sizeup run --data FOLDER`): one sub-folder per class.

A case reads only the images its seeded subsample picks, as RGB resized to `resolution` pixels square,
and trains the synthetic vision workload's network on them (CPU or GPU). The folder is only read;
`harness/run/userdata.py` checks it and fills `params`.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from workloads import vision
from workloads.base import Split, Workload

SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
TRAINING = {k: vision.WORKLOADS[0].params[k] for k in ("width", "blocks", "epochs", "batch_size", "learning_rate",
                                                        "compile")}
PARAMS = {"path": "", "rows": 0, "file_sha256": "", "classes": 2, "resolution": 32, **TRAINING}


def listing(folder: str) -> tuple[tuple[Path, ...], np.ndarray, tuple[str, ...]]:
    """(image files, their class index, class names): every sub-folder holding images is a class, in name order."""
    classes, files, labels = [], [], []
    for sub in sorted(p for p in Path(folder).iterdir() if p.is_dir()):
        found = sorted(f for f in sub.iterdir() if f.suffix.lower() in SUFFIXES and f.is_file())
        if found:
            files += found
            labels += [len(classes)] * len(found)
            classes.append(sub.name)
    return tuple(files), np.asarray(labels, dtype=np.int64), tuple(classes)


_listed = cache(listing)  # a worker lists the folder once for all its cases


def pixels(path: Path, side: int) -> np.ndarray:
    """One image as float32 (3, side, side) in [0, 1]."""
    from PIL import Image

    with Image.open(path) as image:
        square = image.convert("RGB").resize((side, side), Image.Resampling.BILINEAR)
    return np.asarray(square, dtype=np.float32).transpose(2, 0, 1) / 255.0


def generate(size: int, seed: int, params: Mapping[str, Any]) -> Split:
    files, labels, _ = _listed(str(params["path"]))
    take = np.random.default_rng(seed).permutation(len(files))[:size]  # random order: a head/tail split is random
    side = int(params["resolution"])
    X = np.stack([pixels(files[i], side) for i in take])
    return vision.split(X, labels[take])


WORKLOADS = (
    Workload(name="user_vision", family="vision",
             description="your images (sizeup run --data FOLDER, one sub-folder per class): the vision network",
             generate=generate, models=vision.MODELS, score=vision.score, metric="accuracy", params=PARAMS,
             size_unit="images", sizes=(), work=vision.work, how=vision.WORKLOADS[0].how, imports=("PIL.Image",)),
)
