"""PyTorch text classifiers for the NLP workloads: a fastText-like EmbeddingBag network and a small
transformer encoder, sharing one tokenizer and one seeded training loop. The device is a parameter
(ModelContext.device), so the CUDA path is the CPU path with tensors elsewhere."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import chain, repeat
from types import ModuleType
from typing import Any

import numpy as np

from workloads.base import ModelContext, Split
from workloads.compile import compiled, mode_of


class Tokenizer:
    """Whitespace tokens to ids; the vocabulary comes from the training documents.

    Ids are assigned by descending frequency from 1; 0 is the unknown word.
    """

    def __init__(self, docs: Sequence[str], min_count: int = 1) -> None:
        counts = Counter(chain.from_iterable(d.split() for d in docs))
        frequent = [w for w, c in counts.most_common() if c >= min_count]
        self.index = {w: i for i, w in enumerate(frequent, start=1)}

    def __len__(self) -> int:
        return len(self.index) + 1  # plus the unknown id

    def encode(self, docs: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(flat token ids, per-document lengths), the layout EmbeddingBag takes."""
        split = [d.split() for d in docs]
        lengths = np.fromiter(map(len, split), dtype=np.int64, count=len(split))
        flat = np.fromiter(
            map(self.index.get, chain.from_iterable(split), repeat(0)), dtype=np.int64, count=int(lengths.sum())
        )
        return flat, lengths


@dataclass(frozen=True)
class Tokens(Sequence[str]):
    """Documents with their token ids, made once in the `features` phase: read as text by what reads text
    (TF-IDF, the work count), as ids by the torch models, whose ids `transfer` moves to the device."""

    docs: Sequence[str]
    tokenizer: Tokenizer
    flat: np.ndarray  # token ids, document after document (host)
    lengths: np.ndarray  # tokens per document (host)
    device: tuple[Any, Any] | None = None  # (flat, lengths) where `transfer` moved them

    def __len__(self) -> int:
        return len(self.docs)

    def __getitem__(self, i: Any) -> Any:
        return self.docs[i]

    def __iter__(self) -> Iterator[str]:
        return iter(self.docs)

    def moved(self, move: Callable[[np.ndarray], Any]) -> Tokens:
        return replace(self, device=(move(self.flat), move(self.lengths)))


def tokenize(split: Split, params: Mapping[str, Any], xp: ModuleType) -> Split:
    """The `features` phase of the text workloads: one vocabulary from the training documents, every document
    as ids. Host work, the same on every device; timed apart from the fit."""
    tokenizer = Tokenizer(split.X_train)
    return Split(Tokens(split.X_train, tokenizer, *tokenizer.encode(split.X_train)), split.y_train,
                 Tokens(split.X_test, tokenizer, *tokenizer.encode(split.X_test)), split.y_test)


def ids(docs: Sequence[str], tokenizer: Tokenizer, device: str) -> tuple[Any, Any, np.ndarray]:
    """(flat ids, lengths) on `device` and the lengths on the host: as tokenized by `features` and moved by
    `transfer` where they were, else made here."""
    import torch

    if isinstance(docs, Tokens) and docs.tokenizer is tokenizer:
        flat, lengths = docs.device or (torch.from_numpy(docs.flat), torch.from_numpy(docs.lengths))
        return flat.to(device), lengths.to(device), docs.lengths
    flat, lengths = tokenizer.encode(docs)
    return torch.from_numpy(flat).to(device), torch.from_numpy(lengths).to(device), lengths


class TorchTextClassifier:
    """The training skeleton both networks share: a seeded tokenizer and network, the documents encoded on
    the device once, shuffled mini-batches of document indices, one optimizer step per batch."""

    seed: int
    device: str
    compile: str  # a torch.compile mode, or "off"
    epochs: int
    batch_size: int
    lr: float

    def fit(self, docs: Sequence[str], y: np.ndarray) -> TorchTextClassifier:
        import torch
        import torch.nn.functional as F

        torch.manual_seed(self.seed)
        self.tokenizer = docs.tokenizer if isinstance(docs, Tokens) else Tokenizer(docs)
        data = self._encode(docs)
        classes, codes = np.unique(np.asarray(y), return_inverse=True)
        self.classes_, labels = classes, torch.from_numpy(codes.astype(np.int64)).to(self.device)
        self.net = compiled(self._network(len(self.tokenizer), len(self.classes_)).to(self.device), self.compile)
        optimizer = self._optimizer(self.net.parameters())
        shuffle = torch.Generator().manual_seed(self.seed)
        self.net.train()
        for _ in range(self.epochs):
            order = torch.randperm(len(labels), generator=shuffle)  # on the host, then once to the device
            for host, batch in zip(order.split(self.batch_size), order.to(labels.device).split(self.batch_size)):
                with self._autocast():
                    loss = F.cross_entropy(self._logits(data, batch, host), labels[batch])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        return self

    def predict(self, docs: Sequence[str]) -> np.ndarray:
        import torch

        data = self._encode(docs)
        self.net.eval()
        with torch.inference_mode(), self._autocast():
            order = torch.arange(len(docs))
            codes = torch.cat([self._logits(data, batch, host).argmax(1) for host, batch in
                               zip(order.split(self._predict_batch), order.to(self.device).split(self._predict_batch))])
        return self.classes_[codes.cpu().numpy()]

    _predict_batch = 4096  # documents per forward pass when predicting

    def _autocast(self) -> Any:
        return contextlib.nullcontext()

    def _encode(self, docs: Sequence[str]) -> Any:
        """The documents as tensors on the device, in the layout `_logits` reads batches from."""
        raise NotImplementedError

    def _network(self, vocab_size: int, n_classes: int) -> Any:
        raise NotImplementedError

    def _optimizer(self, parameters: Any) -> Any:
        raise NotImplementedError

    def _logits(self, data: Any, batch: Any, host: Any) -> Any:
        """Class logits of the documents whose indices are `batch` (a tensor on the device) and `host` (the same
        indices on the host, for what must be known without waiting for the device)."""
        raise NotImplementedError


class EmbeddingBagClassifier(TorchTextClassifier):
    """Mean of word embeddings -> one hidden layer -> class logits (fastText-like), Adam."""

    def __init__(self, ctx: ModelContext) -> None:
        self.seed, self.device, self.compile = ctx.seed, ctx.device, mode_of(ctx.params)
        self.dim = int(ctx.params["embedding_dim"])
        self.hidden = int(ctx.params["hidden"])
        self.epochs = int(ctx.params["epochs"])
        self.batch_size = int(ctx.params["batch_size"])
        self.lr = float(ctx.params["lr"])

    def _network(self, vocab_size: int, n_classes: int) -> Any:
        from torch import nn

        return nn.ModuleDict(
            {
                "embed": nn.EmbeddingBag(vocab_size, self.dim, mode="mean"),
                "head": nn.Sequential(nn.Linear(self.dim, self.hidden), nn.ReLU(), nn.Linear(self.hidden, n_classes)),
            }
        )

    def _optimizer(self, parameters: Any) -> Any:
        import torch

        return torch.optim.Adam(parameters, lr=self.lr)

    def _encode(self, docs: Sequence[str]) -> tuple[Any, Any, Any, np.ndarray]:
        """(flat token ids, each document's start, its length) on the model's device once: batches are
        gathered there, never copied from the host; and the lengths on the host too."""
        import torch

        flat, lengths, host = ids(docs, self.tokenizer, self.device)
        starts = torch.cumsum(lengths, 0) - lengths
        return flat, starts, lengths, host

    def _logits(self, data: tuple[Any, Any, Any, np.ndarray], batch: Any, host: Any) -> Any:
        """The documents in ``batch`` as bags of their token ids. The batch's token count comes from the host's
        lengths: read from the device, it would wait for the device twice a step."""
        import torch

        flat, starts, lengths, host_lengths = data
        lens = lengths[batch]
        offsets = torch.cumsum(lens, 0) - lens
        total = int(host_lengths[host.numpy()].sum())
        # Position of every token of the batch in ``flat``, without a Python loop.
        index = (torch.repeat_interleave(starts[batch] - offsets, lens, output_size=total)
                 + torch.arange(total, device=flat.device))
        return self.net["head"](self.net["embed"](flat[index], offsets))


class TransformerClassifier(TorchTextClassifier):
    """A small transformer encoder: token and position embeddings, pre-norm encoder layers,
    mean pooling over the document's tokens, a linear head; AdamW.

    The model whose training profile differs most between CPU and GPU: dense matrix products
    and attention over up to ``max_tokens`` tokens. Documents are tokenized once and the whole
    id matrix is put on the device before the loop, so batches are sliced there, never copied
    from the host. ``precision = "bf16"`` runs the forward pass under bfloat16 autocast.
    """

    def __init__(self, ctx: ModelContext) -> None:
        p = ctx.params
        self.seed, self.device, self.compile = ctx.seed, ctx.device, mode_of(ctx.params)
        self.width, self.layers, self.heads = int(p["transformer_width"]), int(p["transformer_layers"]), int(p["heads"])
        self.max_tokens, self.epochs = int(p["max_tokens"]), int(p["transformer_epochs"])
        self.batch_size, self.lr = int(p["transformer_batch_size"]), float(p["transformer_lr"])
        if p["precision"] not in ("fp32", "bf16"):
            raise ValueError(f"precision must be 'fp32' or 'bf16', got {p['precision']!r}")
        self.bf16 = p["precision"] == "bf16"
        self._predict_batch = 4 * self.batch_size

    def _encode(self, docs: Sequence[str]) -> Any:
        """Token ids, truncated to max_tokens and padded with -1 to the longest document, on the device."""
        import torch

        if isinstance(docs, Tokens) and docs.tokenizer is self.tokenizer:
            flat, full = docs.flat, docs.lengths  # its own padded layout is built on the host, below
        else:
            flat, full = self.tokenizer.encode(docs)
        lengths = np.minimum(full, self.max_tokens)
        width = max(1, int(lengths.max(initial=0)))
        ids = np.full((len(lengths), width), -1, dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(full)[:-1]]).astype(np.int64)
        rows = np.repeat(np.arange(len(lengths)), lengths)
        cols = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        ids[rows, cols] = flat[np.repeat(starts, lengths) + cols]
        return torch.from_numpy(ids).to(self.device)

    def _network(self, vocab_size: int, n_classes: int) -> Any:
        from torch import nn

        layer = nn.TransformerEncoderLayer(self.width, self.heads, dim_feedforward=2 * self.width, dropout=0.1,
                                           batch_first=True, norm_first=True)
        return nn.ModuleDict({
            "tokens": nn.Embedding(vocab_size + 1, self.width, padding_idx=vocab_size),  # the last id pads
            "positions": nn.Embedding(self.max_tokens, self.width),
            "encoder": nn.TransformerEncoder(layer, self.layers, enable_nested_tensor=False),
            "head": nn.Linear(self.width, n_classes),
        })

    def _optimizer(self, parameters: Any) -> Any:
        import torch

        return torch.optim.AdamW(parameters, lr=self.lr)

    def _logits(self, ids: Any, batch: Any, host: Any) -> Any:
        import torch

        ids = ids[batch]
        pad = ids < 0
        pad[:, 0] = False  # an empty document attends to its (zero) padding vector rather than to nothing
        tokens = torch.where(ids < 0, self.net["tokens"].padding_idx, ids)
        x = self.net["tokens"](tokens) + self.net["positions"].weight[: ids.shape[1]]
        x = self.net["encoder"](x, src_key_padding_mask=pad)
        keep = (~pad).unsqueeze(-1).to(x.dtype)
        return self.net["head"]((x * keep).sum(1) / keep.sum(1).clamp(min=1.0))

    def _autocast(self) -> Any:
        import torch

        return torch.autocast(device_type=torch.device(self.device).type, dtype=torch.bfloat16, enabled=self.bf16)


def embedding_bag(ctx: ModelContext) -> EmbeddingBagClassifier:
    return EmbeddingBagClassifier(ctx)


def transformer(ctx: ModelContext) -> TransformerClassifier:
    return TransformerClassifier(ctx)
