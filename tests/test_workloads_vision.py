"""The vision workloads: deterministic images, a CNN that learns, digits at its target."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from workloads import catalogue
from workloads.base import ModelContext
from workloads.vision import CLASS_NAMES, WORKLOADS, make_images, score, work

VISION, DIGITS = WORKLOADS
TINY = {**VISION.params, "resolution": 16}


def fit_and_score(workload, size: int, params, seed: int = 0) -> tuple[dict[str, float], float]:
    split = workload.generate(size, seed, params)
    est = workload.model("cnn").build(ModelContext(threads=2, seed=seed, device="cpu", params=params))
    est.fit(split.X_train, split.y_train)
    pred = est.predict(split.X_test)
    assert pred.shape == split.y_test.shape
    baseline = np.bincount(split.y_test).max() / len(split.y_test)  # majority class
    return workload.score(split.y_test, pred), float(baseline)


def test_in_catalogue():
    found = catalogue()
    assert found["vision"] is VISION and found["digits"] is DIGITS
    for w in WORKLOADS:
        assert w.family == "vision" and w.size_unit == "images" and w.metric == "accuracy"
        assert w.model("cnn").backends == ("torch", "torch-cuda")
        assert w.target is not None and w.target.metric == w.metric


def test_sizes_grow_geometrically():
    sizes = VISION.sizes
    assert len(sizes) >= 3
    assert all(2 <= b / a <= 4 for a, b in itertools.pairwise(sizes))
    assert DIGITS.sizes == (1797,) and DIGITS.max_size == 1797


def test_same_seed_same_bytes():
    a = VISION.generate(300, 7, TINY)
    b = VISION.generate(300, 7, TINY)
    for x, y in zip((a.X_train, a.y_train, a.X_test, a.y_test), (b.X_train, b.y_train, b.X_test, b.y_test)):
        assert x.tobytes() == y.tobytes()


def test_different_seed_different_bytes():
    a = VISION.generate(300, 7, TINY)
    b = VISION.generate(300, 8, TINY)
    assert a.X_train.tobytes() != b.X_train.tobytes()
    assert a.y_train.tobytes() != b.y_train.tobytes()


def test_bytes_do_not_depend_on_chunking(monkeypatch):
    # More images than one chunk: the chunk loop must not change what is drawn.
    from workloads import vision

    whole = make_images(200, 3, TINY)[0]
    monkeypatch.setattr(vision, "CHUNK", 64)
    assert make_images(200, 3, TINY)[0].tobytes() == whole.tobytes()


def test_images_shape_dtype_range_and_balance():
    params = {**VISION.params, "resolution": 24}
    split = VISION.generate(800, 0, params)
    assert split.X_train.shape == (640, 3, 24, 24) and split.X_test.shape == (160, 3, 24, 24)
    assert split.X_train.dtype == np.float32 and split.X_train.flags.c_contiguous
    assert 0.0 <= split.X_train.min() and split.X_train.max() <= 1.0
    assert split.X_train.std() > 0.1  # not blank
    y = np.concatenate([split.y_train, split.y_test])
    counts = np.bincount(y, minlength=len(CLASS_NAMES))
    assert len(counts) == params["classes"] == len(CLASS_NAMES)
    assert counts.min() == counts.max() == 100  # exactly balanced overall
    assert np.bincount(split.y_test, minlength=8).min() >= 8  # and roughly in the test part


def test_classes_param_and_bad_values():
    split = VISION.generate(100, 0, {**TINY, "classes": 4})
    assert set(np.unique(split.y_train)) == {0, 1, 2, 3}
    with pytest.raises(ValueError):
        VISION.generate(100, 0, {**TINY, "classes": 1})
    with pytest.raises(ValueError):
        VISION.generate(100, 0, {**TINY, "resolution": 4})


def test_every_image_shows_its_shape():
    # Foreground and background differ by at least 0.3 in each channel, so even
    # the smallest, thinnest shape leaves a clear spread of pixel values.
    X, y = make_images(400, 0, {**TINY, "noise": 0.0})
    spread = X.std(axis=(1, 2, 3))
    assert spread.min() > 0.05, [(c, spread[y == c].min()) for c in range(8)]


def test_score():
    s = score(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]))
    assert s["accuracy"] == pytest.approx(0.75)
    assert s["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)
    assert score(np.array([2, 3]), np.array([2, 3])) == {"accuracy": 1.0, "macro_f1": 1.0}


def test_work_counts_training_images_per_epoch():
    split = VISION.generate(100, 0, TINY)
    assert work(split, "cnn", {**TINY, "epochs": 3}) == ("images", 240.0)
    assert VISION.work is work and DIGITS.work is work


def test_cnn_learns_tiny_images():
    pytest.importorskip("torch")
    params = {**TINY, "epochs": 6, "batch_size": 32}
    scores, baseline = fit_and_score(VISION, 800, params)
    assert scores["accuracy"] >= baseline + 0.25, scores


def test_cnn_is_reproducible_and_predicts_original_labels():
    pytest.importorskip("torch")
    split = VISION.generate(200, 0, {**TINY, "classes": 3})
    params = {**TINY, "epochs": 1, "width": 4}
    ctx = ModelContext(threads=1, seed=5, device="cpu", params=params)
    y_train = split.y_train * 10 + 1  # labels need not be 0..k-1
    preds = [VISION.model("cnn").build(ctx).fit(split.X_train, y_train).predict(split.X_test) for _ in range(2)]
    assert np.array_equal(preds[0], preds[1])
    assert set(np.unique(preds[0])) <= {1, 11, 21}


def test_predict_before_fit_fails():
    with pytest.raises(RuntimeError):
        VISION.model("cnn").build(ModelContext(1, 0, "cpu", TINY)).predict(np.zeros((1, 3, 16, 16), np.float32))


def test_digits_subsample_is_seeded():
    a, b = DIGITS.generate(500, 1, DIGITS.params), DIGITS.generate(500, 1, DIGITS.params)
    assert a.X_train.shape == (400, 1, 8, 8) and a.X_train.dtype == np.float32
    assert a.X_train.tobytes() == b.X_train.tobytes()
    assert a.X_train.tobytes() != DIGITS.generate(500, 2, DIGITS.params).X_train.tobytes()
    assert 0.0 <= a.X_train.min() and a.X_train.max() <= 1.0


def test_digits_meets_its_target():
    pytest.importorskip("torch")
    scores, _ = fit_and_score(DIGITS, 1797, DIGITS.params)
    assert DIGITS.target.met(scores["accuracy"]), scores
