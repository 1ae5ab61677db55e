"""The text classification workload: corpus generator, both models, score and work."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from workloads import nlp, text_models
from workloads.base import ModelContext

WORKLOAD = nlp.WORKLOADS[0]
PARAMS = dict(WORKLOAD.params)
SMALL = 1500  # documents: enough for both models to learn, quick on 2 cores


@pytest.fixture(scope="module")
def small_split():
    return WORKLOAD.generate(SMALL, 7, PARAMS)


def majority_macro_f1(split) -> float:
    majority = np.bincount(split.y_train).argmax()
    return WORKLOAD.score(split.y_test, np.full_like(split.y_test, majority))["macro_f1"]


def test_same_seed_same_corpus_and_different_seed_different():
    a = WORKLOAD.generate(300, 1, PARAMS)
    b = WORKLOAD.generate(300, 1, PARAMS)
    c = WORKLOAD.generate(300, 2, PARAMS)
    assert a.X_train == b.X_train and a.X_test == b.X_test
    np.testing.assert_array_equal(a.y_train, b.y_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert a.X_train != c.X_train


def test_split_layout(small_split):
    s = small_split
    assert len(s.X_train) == len(s.y_train) == SMALL - SMALL // 5
    assert len(s.X_test) == len(s.y_test) == SMALL // 5
    assert isinstance(s.X_train, list) and all(isinstance(d, str) and d for d in s.X_train[:50])
    assert s.y_train.dtype.kind == "i"
    assert set(np.unique(s.y_train)) == set(range(PARAMS["topics"]))  # every topic appears


def test_topics_param_sets_the_number_of_classes():
    split = WORKLOAD.generate(400, 0, {**PARAMS, "topics": 3})
    assert set(np.unique(np.concatenate([split.y_train, split.y_test]))) == {0, 1, 2}


@pytest.mark.parametrize("mean_length", [20, 60, 150])
def test_document_lengths_centre_on_mean_length(mean_length):
    split = WORKLOAD.generate(3000, 0, {**PARAMS, "mean_length": mean_length})
    lengths = np.array([len(d.split()) for d in split.X_train + split.X_test])
    assert lengths.min() >= nlp.MIN_LENGTH
    assert abs(lengths.mean() - mean_length) < 0.08 * mean_length
    assert lengths.std() > 0.3 * mean_length  # variable, not a constant length


def test_vocabulary_is_fixed_distinct_and_starts_with_english():
    vocab = nlp.vocabulary(PARAMS["vocab_size"])
    assert len(vocab) == len(set(vocab)) == PARAMS["vocab_size"]
    assert vocab[: len(nlp.ENGLISH)] == nlp.ENGLISH
    assert nlp.vocabulary.__wrapped__(PARAMS["vocab_size"]) == vocab  # not seed- or call-dependent


def test_word_frequencies_are_zipf_like(small_split):
    counts = np.sort(np.unique(" ".join(small_split.X_train).split(), return_counts=True)[1])[::-1]
    assert counts[0] > 20 * counts[99]  # a few very frequent words, a long tail
    assert len(counts) > 0.5 * PARAMS["vocab_size"]


def test_score_perfect_and_wrong():
    y = np.array([0, 1, 2, 2])
    assert WORKLOAD.score(y, y) == {"macro_f1": 1.0, "accuracy": 1.0}
    assert WORKLOAD.score(y, (y + 1) % 3)["accuracy"] == 0.0


def test_work_counts_training_tokens(small_split):
    tokens = sum(len(d.split()) for d in small_split.X_train)
    assert WORKLOAD.work(small_split, "tfidf_linear", PARAMS) == ("tokens", float(tokens))
    params = {**PARAMS, "epochs": 3}
    assert WORKLOAD.work(small_split, "embedding_bag", params) == ("tokens", float(3 * tokens))


def fit_predict(model_name: str, split, params=PARAMS, seed: int = 0) -> np.ndarray:
    est = WORKLOAD.model(model_name).build(ModelContext(threads=2, seed=seed, device="cpu", params=params))
    est.fit(split.X_train, split.y_train)
    return np.asarray(est.predict(split.X_test))


def test_tfidf_linear_learns(small_split):
    pred = fit_predict("tfidf_linear", small_split)
    f1 = WORKLOAD.score(small_split.y_test, pred)["macro_f1"]
    assert f1 > 0.6 and f1 > majority_macro_f1(small_split) + 0.4


def test_embedding_bag_learns_and_is_deterministic(small_split):
    pytest.importorskip("torch")
    pred = fit_predict("embedding_bag", small_split)
    assert pred.shape == small_split.y_test.shape and pred.dtype.kind == "i"
    f1 = WORKLOAD.score(small_split.y_test, pred)["macro_f1"]
    assert f1 > 0.5 and f1 > majority_macro_f1(small_split) + 0.3
    np.testing.assert_array_equal(fit_predict("embedding_bag", small_split), pred)  # seeded


def test_a_training_step_of_the_embedding_bag_reads_nothing_back_from_the_device(small_split, monkeypatch):
    """On CUDA, `int(tensor)`, `.item()` or a repeat without its output size wait for the GPU to finish; a step's
    logits need none of them. Refused here on the CPU (device discipline, no timing)."""
    torch = pytest.importorskip("torch")

    def refuse(*args, **kwargs):
        raise AssertionError("a device tensor was read back on the host inside a step")

    est = nlp.embedding_bag(ModelContext(1, 0, "cpu", {**PARAMS, "epochs": 1}))
    logits, steps = est._logits, []

    def strict(*args):
        with monkeypatch.context() as m:
            for name in ("__int__", "__index__", "__float__", "__bool__", "item", "tolist"):
                m.setattr(torch.Tensor, name, refuse)
            steps.append(logits(*args))
            return steps[-1]

    est._logits = strict
    est.fit(small_split.X_train[:300], small_split.y_train[:300])
    assert len(steps) == -(-300 // PARAMS["batch_size"]) and steps[0].shape[1] == PARAMS["topics"]


@pytest.mark.parametrize("model", ["tfidf_linear", "embedding_bag", "transformer"])
def test_documents_tokenized_in_the_features_phase_train_the_same_model(small_split, model):
    """Tokenizing is the `features` phase (host work, timed apart from the fit); every model gives the same
    predictions from its output as from the raw documents."""
    pytest.importorskip("torch")
    params = {**PARAMS, "epochs": 1, "transformer_epochs": 1}
    split = WORKLOAD.generate(400, 3, PARAMS)
    tokenized = WORKLOAD.features(split, params, np)
    assert isinstance(tokenized.X_train, text_models.Tokens) and list(tokenized.X_test) == list(split.X_test)
    assert tokenized.X_train.lengths.sum() == len(tokenized.X_train.flat) == nlp.count_tokens(split.X_train)
    np.testing.assert_array_equal(fit_predict(model, tokenized, params), fit_predict(model, split, params))


def test_embedding_bag_maps_unknown_words_to_zero():
    pytest.importorskip("torch")
    tok = text_models.Tokenizer(["a b b", "c"])
    flat, lengths = tok.encode(["b zzz a", "", "c"])
    assert flat.tolist() == [1, 0, 2, 3] and lengths.tolist() == [3, 0, 1]
    est = nlp.embedding_bag(ModelContext(1, 0, "cpu", {**PARAMS, "epochs": 1}))
    est.fit(["a b", "c d", "a a", "d c"], np.array([5, 9, 5, 9]))
    assert set(est.predict(["a", "unseen words only", ""]).tolist()) <= {5, 9}  # original labels back


def test_catalogue_entry():
    assert WORKLOAD.name == "nlp" and WORKLOAD.family == "nlp" and WORKLOAD.size_unit == "documents"
    assert WORKLOAD.metric == WORKLOAD.target.metric == "macro_f1"
    assert {m.name: m.backends for m in WORKLOAD.models} == {
        "tfidf_linear": ("sklearn", "sklearn-rapids"),
        "embedding_bag": ("torch", "torch-cuda"),
        "transformer": ("torch", "torch-cuda"),
    }
    sizes = WORKLOAD.sizes
    assert len(sizes) >= 3 and all(2 <= b / a <= 4 for a, b in pairwise(sizes))


TINY = {**PARAMS, "transformer_width": 32, "transformer_layers": 1, "heads": 2, "max_tokens": 32,
        "transformer_epochs": 3, "transformer_batch_size": 32, "transformer_lr": 0.003}


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_the_transformer_learns_in_both_precisions_and_is_deterministic(small_split, precision):
    pytest.importorskip("torch")
    params = {**TINY, "precision": precision}
    pred = fit_predict("transformer", small_split, params)
    f1 = WORKLOAD.score(small_split.y_test, pred)["macro_f1"]
    assert f1 > majority_macro_f1(small_split) + 0.2, f1
    np.testing.assert_array_equal(fit_predict("transformer", small_split, params), pred)  # seeded


def test_the_transformer_truncates_pads_and_handles_empty_documents():
    pytest.importorskip("torch")
    est = nlp.transformer(ModelContext(1, 0, "cpu", {**TINY, "max_tokens": 3, "transformer_epochs": 1}))
    est.fit(["a b c d e", "c d", "a a", "d c b a"], np.array([5, 9, 5, 9]))
    ids = est._encode(["a b c d e", "", "zzz b"]).tolist()
    index = est.tokenizer.index
    assert ids == [[index["a"], index["b"], index["c"]], [-1, -1, -1], [0, index["b"], -1]]
    assert set(est.predict(["a", "", "unseen"]).tolist()) <= {5, 9}
    with pytest.raises(ValueError, match="precision must be 'fp32' or 'bf16'"):
        nlp.transformer(ModelContext(1, 0, "cpu", {**TINY, "precision": "fp8"}))


def test_transformer_work_counts_the_tokens_it_reads(small_split):
    seen = sum(min(len(d.split()), 32) for d in small_split.X_train)
    assert WORKLOAD.work(small_split, "transformer", TINY) == ("tokens", float(3 * seen))
