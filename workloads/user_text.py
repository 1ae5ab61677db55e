"""The user's own text table (`sizeup run --data PATH` with a free-text column): text classification.

A case takes a seeded subsample of the documents, lower-cased and cut into word tokens, and trains the
synthetic NLP workload's models on them: TF-IDF with logistic regression, an EmbeddingBag network and
a small transformer (CPU or GPU). The file is only read; `harness/run/userdata.py` fills `params`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any

import numpy as np

from workloads import nlp
from workloads.base import Split, Workload
from workloads.user import read_table

TRAINING = {k: v for k, v in nlp.WORKLOADS[0].params.items()
            if k in ("C", "epochs", "batch_size", "lr", "embedding_dim", "hidden", "transformer_layers",
                     "transformer_width", "heads", "max_tokens", "transformer_epochs", "transformer_batch_size",
                     "transformer_lr", "precision", "compile")}
PARAMS = {"path": "", "target": "", "text": "", "rows": 0, "file_sha256": "", "schema": "{}", **TRAINING}
WORD = re.compile(r"\w+")


@cache
def documents(path: str, target: str, text: str) -> tuple[list[str], np.ndarray]:
    """Every row with a target: its text as space-separated lower-case words (the models split on spaces),
    and its class index. Read once per worker process."""
    import pandas as pd

    frame = read_table(path)
    frame = frame[frame[target].notna()]
    docs = [" ".join(WORD.findall(t.lower())) for t in frame[text].fillna("").astype(str)]
    return docs, pd.factorize(frame[target], sort=True)[0].astype(np.int64)


def generate(size: int, seed: int, params: Mapping[str, Any]) -> Split:
    docs, labels = documents(str(params["path"]), str(params["target"]), str(params["text"]))
    take = np.random.default_rng(seed).permutation(len(labels))[:size]
    n_train = size - max(1, round(size * nlp.TEST_FRACTION))  # random order: a head/tail split is random
    picked = [docs[i] for i in take]
    return Split(picked[:n_train], labels[take[:n_train]], picked[n_train:], labels[take[n_train:]])


WORKLOADS = (
    Workload(name="user_nlp", family="nlp",
             description="your text table (sizeup run --data PATH --target COLUMN): text classification",
             generate=generate, models=nlp.MODELS, score=nlp.score, metric="macro_f1", params=PARAMS,
             size_unit="documents", sizes=(), features=nlp.tokenize, work=nlp.work, how=nlp.WORKLOADS[0].how,
             imports=("sklearn.metrics",)),
)
