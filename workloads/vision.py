"""Image classification: a small convolutional network in PyTorch.

Synthetic data: each image shows one shape or texture (disc, square, triangle,
ring, cross, horizontal stripes, vertical stripes, checkerboard) at a random
position, size and slight rotation, in a random colour on a random background
with a gradient and Gaussian pixel noise. Images are float32 in [0, 1], NCHW,
drawn with numpy only, a chunk of images at a time. Sanity case:
scikit-learn's 8x8 handwritten digits, which the same network must classify
with at least 95% accuracy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from workloads.base import Model, ModelContext, Split, Target, Workload
from workloads.compile import compiled, mode_of

TEST_FRACTION = 0.2
CHUNK = 2048  # images drawn per step: bounds the float32 scratch arrays to a few MB

# Signed distance (in units of the shape's radius) to each shape's edge, from
# the shape's own coordinates (u right, v down). Negative is inside. The
# textures are a square patch cut by a pattern; their period is in pixels.
Shape = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _disc(u: np.ndarray, v: np.ndarray, period: np.ndarray) -> np.ndarray:
    return np.sqrt(u * u + v * v) - 1.0


def _square(u: np.ndarray, v: np.ndarray, period: np.ndarray) -> np.ndarray:
    return np.maximum(np.abs(u), np.abs(v)) - 0.8


def _triangle(u: np.ndarray, v: np.ndarray, period: np.ndarray) -> np.ndarray:
    # Equilateral, pointing up: the base edge and the two slanted edges.
    return np.maximum(v - 0.55, np.abs(u) * 0.866 - v * 0.5 - 0.45)


def _ring(u: np.ndarray, v: np.ndarray, period: np.ndarray) -> np.ndarray:
    return np.abs(np.sqrt(u * u + v * v) - 0.72) - 0.26


def _cross(u: np.ndarray, v: np.ndarray, period: np.ndarray) -> np.ndarray:
    au, av = np.abs(u), np.abs(v)
    return np.minimum(np.maximum(au - 0.3, av - 0.95), np.maximum(av - 0.3, au - 0.95))


def _patch(u: np.ndarray, v: np.ndarray, pattern: np.ndarray) -> np.ndarray:
    # Inside the patch where the pattern is positive; outside otherwise.
    return np.where(pattern > 0, np.maximum(np.abs(u), np.abs(v)) - 0.9, 1.0)


def _h_stripes(u: np.ndarray, v: np.ndarray, period: np.ndarray) -> np.ndarray:
    return _patch(u, v, np.sin(v * period))


def _v_stripes(u: np.ndarray, v: np.ndarray, period: np.ndarray) -> np.ndarray:
    return _patch(u, v, np.sin(u * period))


def _checkerboard(u: np.ndarray, v: np.ndarray, period: np.ndarray) -> np.ndarray:
    return _patch(u, v, np.sin(u * period) * np.sin(v * period))


SHAPES: tuple[tuple[str, Shape], ...] = (
    ("disc", _disc),
    ("square", _square),
    ("triangle", _triangle),
    ("ring", _ring),
    ("cross", _cross),
    ("h_stripes", _h_stripes),
    ("v_stripes", _v_stripes),
    ("checkerboard", _checkerboard),
)
CLASS_NAMES = tuple(name for name, _ in SHAPES)


def make_images(size: int, seed: int, params: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """``size`` images (N, 3, R, R) float32 in [0, 1] and their int64 labels, balanced."""
    n_classes, res = int(params["classes"]), int(params["resolution"])
    if not 2 <= n_classes <= len(SHAPES):
        raise ValueError(f"classes must be in [2, {len(SHAPES)}], got {n_classes}")
    if res < 8:
        raise ValueError(f"resolution must be at least 8 pixels, got {res}")
    if size < 2 * n_classes:
        raise ValueError(f"size must be at least {2 * n_classes} images, got {size}")
    rng = np.random.default_rng(seed)
    # Every per-image draw happens up front and the noise is one stream drawn
    # chunk after chunk, so the bytes do not depend on CHUNK (a test checks this).
    y = rng.permutation(np.arange(size) % n_classes)
    # float32 throughout: float64 temporaries would double the generation time.
    radius = _uniform(rng, 0.2, 0.4, size) * res
    centre = _uniform(rng, 0.3, 0.7, (size, 2)) * res
    angle = _uniform(rng, -0.25, 0.25, size)  # radians; small, so stripes keep their direction
    period = 2 * np.pi / _uniform(rng, 3.0, 5.0, size)  # texture period of 3-5 pixels
    background = _uniform(rng, 0.0, 1.0, (size, 3))
    # Foreground differs from the background by 0.3-0.7 in every channel (mod 1),
    # so every shape is visible whatever the colours.
    foreground = (background + _uniform(rng, 0.3, 0.7, (size, 3))) % 1.0
    gradient = _uniform(rng, -0.15, 0.15, (size, 2))  # background brightness slope, per axis
    noise = float(params["noise"])

    X = np.empty((size, 3, res, res), dtype=np.float32)
    grid = np.arange(res, dtype=np.float32) + 0.5
    gy, gx = grid[None, :, None], grid[None, None, :]
    for start in range(0, size, CHUNK):
        rows = slice(start, min(start + CHUNK, size))
        n = rows.stop - rows.start
        alpha = _alpha(gx, gy, y[rows], radius[rows], centre[rows], angle[rows], period[rows], res)
        ramp = gradient[rows, 0, None, None] * (gx - res / 2) + gradient[rows, 1, None, None] * (gy - res / 2)
        bg = background[rows, :, None, None] + ramp[:, None] / res
        # image = bg + alpha * (fg - bg) + noise, in place to spare temporaries.
        image = X[rows]
        np.subtract(foreground[rows, :, None, None], bg, out=image)
        image *= alpha[:, None]
        image += bg
        grain = rng.standard_normal((n, 3, res, res), dtype=np.float32)
        grain *= noise
        image += grain
        np.clip(image, 0.0, 1.0, out=image)
    return X, y.astype(np.int64)


def _uniform(rng: np.random.Generator, low: float, high: float, shape: int | tuple[int, ...]) -> np.ndarray:
    return rng.uniform(low, high, shape).astype(np.float32)


def _alpha(
    gx: np.ndarray,
    gy: np.ndarray,
    y: np.ndarray,
    radius: np.ndarray,
    centre: np.ndarray,
    angle: np.ndarray,
    period: np.ndarray,
    res: int,
) -> np.ndarray:
    """Coverage in [0, 1] of each image's shape per pixel, (n, R, R), anti-aliased."""
    alpha = np.empty((len(y), res, res), dtype=np.float32)
    for label in np.unique(y):
        idx = np.flatnonzero(y == label)
        r = radius[idx, None, None]
        dx, dy = gx - centre[idx, 0, None, None], gy - centre[idx, 1, None, None]
        cos, sin = np.cos(angle[idx])[:, None, None], np.sin(angle[idx])[:, None, None]
        u, v = (cos * dx + sin * dy) / r, (cos * dy - sin * dx) / r
        distance = SHAPES[label][1](u, v, period[idx, None, None] * r)
        # A one-pixel soft edge keeps small shapes from aliasing into noise.
        alpha[idx] = np.clip(0.5 - distance * r, 0.0, 1.0)
    return alpha


def generate(size: int, seed: int, params: Mapping[str, Any]) -> Split:
    X, y = make_images(size, seed, params)
    return split(X, y)


def digits(size: int, seed: int, params: Mapping[str, Any]) -> Split:
    from sklearn.datasets import load_digits

    data = load_digits()
    take = np.random.default_rng(seed).permutation(len(data.target))[:size]
    X = (data.images[take] / 16.0).astype(np.float32)[:, None]  # (N, 1, 8, 8) in [0, 1]
    return split(X, data.target[take].astype(np.int64))


def split(X: np.ndarray, y: np.ndarray) -> Split:
    # The images are already in random order, so contiguous slices are a random
    # split and cost no copy of what may be gigabytes.
    n_test = max(1, round(len(y) * TEST_FRACTION))
    n_train = len(y) - n_test
    return Split(X[:n_train], y[:n_train], X[n_train:], y[n_train:])


def score(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    f1 = []
    for label in np.union1d(y_true, y_pred):
        tp = np.sum((y_pred == label) & (y_true == label))
        denominator = np.sum(y_pred == label) + np.sum(y_true == label)
        f1.append(2.0 * tp / denominator)
    return {"accuracy": float(np.mean(y_true == y_pred)), "macro_f1": float(np.mean(f1))}


def work(split: Split, model: str, params: Mapping[str, Any]) -> tuple[str, float]:
    return "images", float(len(split.y_train) * int(params["epochs"]))


class ConvNet:
    """Conv-BN-ReLU-pool blocks, global average pooling and a linear head.

    Built in ``fit``, because the channels, resolution and classes come from the
    data: 3x32x32 synthetic images and 1x8x8 digits use the same class.
    """

    def __init__(self, ctx: ModelContext) -> None:
        self.ctx = ctx
        mode_of(ctx.params)  # a bad mode is refused when the model is built, before any phase runs
        self.net: Any = None
        self.classes_: np.ndarray | None = None

    def fit(self, X: np.ndarray, y: np.ndarray) -> ConvNet:
        import torch

        device = torch.device(self.ctx.device)
        torch.manual_seed(self.ctx.seed)
        p = self.ctx.params
        epochs, batch_size = int(p["epochs"]), int(p["batch_size"])
        self.classes_, codes = np.unique(np.asarray(y), return_inverse=True)
        net = build_network(X.shape[1:], len(self.classes_), int(p["width"]), int(p["blocks"]))
        # Channels-last convolutions are faster on the CPU (oneDNN: 1.2-2.5x here) and on recent GPUs.
        self.net = compiled(net.to(device, memory_format=torch.channels_last), mode_of(p))
        # The whole training set is on the device before the loop (the backend's transfer phase put it
        # there), so the loop measures compute rather than host copies. On the CPU this shares the
        # NumPy array's memory.
        inputs = _tensor(X, device)
        targets = torch.from_numpy(codes.astype(np.int64)).to(device)
        steps = epochs * -(-len(targets) // batch_size)
        optimizer = torch.optim.Adam(self.net.parameters(), lr=float(p["learning_rate"]))
        # Cosine decay to zero: converges in a handful of epochs without tuning.
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(steps, 1))
        loss_fn = torch.nn.CrossEntropyLoss()
        shuffle = torch.Generator().manual_seed(self.ctx.seed)
        self.net.train()
        for _ in range(epochs):
            order = torch.randperm(len(targets), generator=shuffle).to(device)
            for batch in order.split(batch_size):
                optimizer.zero_grad(set_to_none=True)
                loss = loss_fn(self.net(_channels_last(inputs[batch])), targets[batch])
                loss.backward()
                optimizer.step()
                schedule.step()
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        import torch

        if self.net is None or self.classes_ is None:
            raise RuntimeError("predict called before fit")
        inputs = _tensor(X, torch.device(self.ctx.device))
        self.net.eval()
        codes = []
        with torch.inference_mode():
            for batch in inputs.split(4 * int(self.ctx.params["batch_size"])):
                codes.append(self.net(_channels_last(batch)).argmax(dim=1).cpu())
        return self.classes_[torch.cat(codes).numpy()]


def _tensor(X: Any, device: Any) -> Any:
    """Images as a float32 tensor on `device`: a NumPy array (CPU backend) or a tensor already moved there."""
    import torch

    if not torch.is_tensor(X):
        X = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
    return X.to(device, torch.float32)


def _channels_last(batch: Any) -> Any:
    # Per batch, so the whole data set is never held twice in two layouts.
    import torch

    return batch.contiguous(memory_format=torch.channels_last)


def build_network(shape: tuple[int, ...], n_classes: int, width: int, blocks: int) -> Any:
    """Channels double per block; pooling halves the side while it is at least 4."""
    from torch import nn

    channels, side = shape[0], min(shape[1:])
    layers: list[nn.Module] = []
    for i in range(blocks):
        out = width * 2**i
        layers += [nn.Conv2d(channels, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
        if side >= 4:
            layers.append(nn.MaxPool2d(2))
            side //= 2
        channels = out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, n_classes)]
    return nn.Sequential(*layers)


def cnn(ctx: ModelContext) -> ConvNet:
    return ConvNet(ctx)


MODELS = (Model("cnn", ("torch", "torch-cuda"), cnn, "small conv-bn-relu-pool network, Adam with cosine decay"),)

WORKLOADS = (
    Workload(
        name="vision",
        family="vision",
        description="synthetic 8-class images of shapes and textures, random colour, position and noise",
        generate=generate,
        models=MODELS,
        score=score,
        metric="accuracy",
        params={
            "classes": 8,
            "resolution": 32,
            "noise": 0.1,
            "width": 16,
            "blocks": 3,
            "epochs": 5,
            "batch_size": 64,
            "learning_rate": 0.003,
            "compile": "off",  # or a torch.compile mode (workloads/compile.py)
        },
        size_unit="images",
        sizes=(4_000, 16_000, 64_000, 256_000),
        target=Target("accuracy", 0.6),
        work=work,
        how=("batch_size", "compile"),
    ),
    Workload(
        name="digits",
        family="vision",
        description="scikit-learn's 8x8 handwritten digits (1797 images), a real sanity case",
        generate=digits,
        models=MODELS,
        score=score,
        metric="accuracy",
        params={"width": 16, "blocks": 3, "epochs": 10, "batch_size": 32, "learning_rate": 0.003, "compile": "off"},
        size_unit="images",
        sizes=(1797,),
        max_size=1797,
        target=Target("accuracy", 0.95),
        work=work,
        how=("batch_size", "compile"),
        imports=("sklearn.datasets",),
    ),
)
