"""Text classification: TF-IDF + a linear model, a small torch EmbeddingBag network, and a
small transformer encoder.

Synthetic corpus, nothing downloaded: a fixed vocabulary of common English
words followed by generated pseudo-words (syllable combinations), in Zipf rank
order. Every document has one topic (its label). Its tokens are drawn from a
mixture of the Zipf background, its topic's word distribution and a secondary,
random other topic, with a per-document topic share; neighbouring topics share
part of their words. Short documents with a low topic share are genuinely
ambiguous, so the task is learnable but not trivially solved. The torch models are in text_models.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import numpy as np

from workloads.base import Model, ModelContext, Split, Target, Workload
from workloads.text_models import embedding_bag, tokenize, transformer

TEST_FRACTION = 0.2
MIN_LENGTH = 3  # tokens; keeps every document non-empty
LENGTH_SIGMA = 0.6  # lognormal spread of document lengths
ZIPF_EXPONENT = 1.05
TOPIC_CONCENTRATION = 8.0  # Beta concentration of the per-document topic share
CLASS_CONCENTRATION = 6.0  # Dirichlet concentration of the (mildly unequal) class sizes

# Most frequent first: function words, then common content words. Topic words
# are never drawn from the first FUNCTION_WORDS entries, as in real text.
_ENGLISH_TEXT = """
the of and to a in is it you that he was for on are with as i his they be at one
have this from or had by not word but what some we can out other were all there
when up use your how said an each she which do their time if will way about many
then them write would like so these her long make thing see him two has look more
day could go come did number sound no most people my over know water than call
first who may down side been now find any new work part take get place made live
where after back little only round man year came show every good me give our under
name very through just form sentence great think say help low line differ turn
cause much mean before move right boy old too same tell does set three want air
well also play small end put home read hand port large spell add even land here
must big high such follow act why ask men change went light kind off need house
picture try us again animal point mother world near build self earth father head
stand own page should country found answer school grow study still learn plant
cover food sun four between state keep eye never last let thought city tree cross
farm hard start might story saw far sea draw left late run while press close night
real life few north open seem together next white children begin got walk example
ease paper group always music those both mark often letter until mile river car
feet care second book carry took science eat room friend began idea fish mountain
stop once base hear horse cut sure watch color face wood main enough plain girl
usual young ready above ever red list though feel talk bird soon body dog family
direct pose leave song measure door product black short numeral class wind question
happen complete ship area half rock order fire south problem piece told knew pass
since top whole king space heard best hour better true during hundred five remember
step early hold west ground interest reach fast verb sing listen six table travel
less morning ten simple several vowel toward war lay against pattern slow center
love person money serve appear road map rain rule govern pull cold notice voice
unit power town fine certain fly fall lead cry dark machine note wait plan figure
star box noun field rest correct able pound done beauty drive stood contain front
teach week final gave green quick develop ocean warm free minute strong special
mind behind clear tail produce fact street inch multiply nothing course stay wheel
full force blue object decide surface deep moon island foot system busy test record
boat common gold possible plane stead dry wonder laugh thousand ago ran check game
shape equate hot miss brought heat snow tire bring yes distant fill east paint
language among market price trade bank energy health doctor court law team season
"""
ENGLISH = tuple(dict.fromkeys(_ENGLISH_TEXT.split()))
FUNCTION_WORDS = 60

_ONSETS = ["b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z"]
_ONSETS += ["br", "cr", "dr", "fl", "gr", "pl", "pr", "sh", "st", "th", "tr", "ch"]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "io", "ee"]
_CODAS = ["", "", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ck"]


@cache
def vocabulary(size: int) -> tuple[str, ...]:
    """``size`` distinct words in Zipf rank order: English first, then pseudo-words.

    Fixed for a given size (its own constant seed), so every corpus seed uses
    the same words and only the word statistics vary.
    """
    if size < len(ENGLISH) + 100:
        raise ValueError(f"vocab_size must be at least {len(ENGLISH) + 100}, got {size}")
    words = list(ENGLISH)
    seen = set(words)
    rng = np.random.default_rng(12345)
    while len(words) < size:
        n_syllables = int(rng.integers(2, 4))
        onsets, vowels, codas = (rng.integers(len(part), size=n_syllables) for part in (_ONSETS, _VOWELS, _CODAS))
        word = "".join(_ONSETS[o] + _VOWELS[v] + _CODAS[c] for o, v, c in zip(onsets, vowels, codas, strict=True))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return tuple(words)


def zipf(n: int, exponent: float = ZIPF_EXPONENT, offset: float = 2.7) -> np.ndarray:
    """Zipf-Mandelbrot probabilities for ranks 0..n-1."""
    p = 1.0 / (np.arange(n) + offset) ** exponent
    return p / p.sum()


def topic_distributions(rng: np.random.Generator, params: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(words, probabilities), each (topics, topic_words): the words each topic boosts.

    Topic k's words are its own ones plus the first ``overlap`` share of topic
    k+1's own words (a ring), so every topic is confusable with two others.
    """
    n_topics, vocab_size = int(params["topics"]), int(params["vocab_size"])
    n_words = int(params["topic_words"])
    n_shared = round(float(params["overlap"]) * n_words)
    own_count = n_words - n_shared
    if own_count * n_topics > vocab_size - FUNCTION_WORDS:
        raise ValueError("vocab_size too small for topics * topic_words")
    own = rng.permutation(np.arange(FUNCTION_WORDS, vocab_size))[: own_count * n_topics].reshape(n_topics, own_count)
    words = np.concatenate([own, np.roll(own, -1, axis=0)[:, :n_shared]], axis=1)
    weights = zipf(n_words, exponent=0.8, offset=1.0)  # a few signature words, a long tail
    probs = np.stack([rng.permutation(weights) for _ in range(n_topics)])
    return words, probs


def document_lengths(rng: np.random.Generator, n: int, mean_length: float) -> np.ndarray:
    # Lognormal with the requested mean (mu = log(mean) - sigma^2 / 2).
    mu = np.log(mean_length) - LENGTH_SIGMA**2 / 2
    return np.maximum(MIN_LENGTH, np.rint(rng.lognormal(mu, LENGTH_SIGMA, size=n))).astype(np.int64)


def generate(size: int, seed: int, params: Mapping[str, Any]) -> Split:
    if size < 10:
        raise ValueError(f"size must be at least 10 documents, got {size}")
    n_topics = int(params["topics"])
    if n_topics < 2:
        raise ValueError(f"topics must be at least 2, got {n_topics}")
    rng = np.random.default_rng(seed)
    vocab = vocabulary(int(params["vocab_size"]))
    topic_words, topic_probs = topic_distributions(rng, params)
    class_p = rng.dirichlet(np.full(n_topics, CLASS_CONCENTRATION))
    labels = rng.choice(n_topics, size=size, p=class_p)
    secondary = (labels + rng.integers(1, n_topics, size=size)) % n_topics
    lengths = document_lengths(rng, size, float(params["mean_length"]))

    # Per-document shares of the primary topic (Beta around topic_share) and of the
    # secondary topic (up to secondary_share of the primary's); the rest is background.
    mean_share = float(params["topic_share"])
    primary_share = rng.beta(mean_share * TOPIC_CONCENTRATION, (1 - mean_share) * TOPIC_CONCENTRATION, size=size)
    secondary_share = primary_share * float(params["secondary_share"]) * rng.random(size)

    # Pick, per token, which distribution it comes from: 0 = background, 1 + k = topic k.
    doc = np.repeat(np.arange(size, dtype=np.int32), lengths)
    u = rng.random(len(doc), dtype=np.float32)
    p1 = primary_share.astype(np.float32)[doc]
    source = np.where(u < p1, labels.astype(np.int16)[doc] + 1, 0).astype(np.int16)
    in_secondary = (u >= p1) & (u < p1 + secondary_share.astype(np.float32)[doc])
    source[in_secondary] = secondary.astype(np.int16)[doc[in_secondary]] + 1
    del doc, u, p1, in_secondary

    # Inverse-CDF sampling, one distribution at a time (at most topics + 1 passes).
    topic_cdfs = np.cumsum(topic_probs, axis=1)
    background_cdf = np.cumsum(zipf(len(vocab)))
    ids = np.empty(len(source), dtype=np.int64)
    for j in range(n_topics + 1):
        where = np.flatnonzero(source == j)
        cdf = background_cdf if j == 0 else topic_cdfs[j - 1]
        picked = np.minimum(np.searchsorted(cdf, rng.random(len(where)) * cdf[-1], side="right"), len(cdf) - 1)
        ids[where] = picked if j == 0 else topic_words[j - 1][picked]

    docs = join_documents(ids, lengths, vocab)
    labels = labels.astype(np.int64)
    n_test = max(1, round(size * TEST_FRACTION))
    n_train = size - n_test  # documents are i.i.d., so a head/tail split is a random split
    return Split(docs[:n_train], labels[:n_train], docs[n_train:], labels[n_train:])


def join_documents(ids: np.ndarray, lengths: np.ndarray, vocab: Sequence[str]) -> list[str]:
    tokens = list(map(vocab.__getitem__, ids.tolist()))
    ends = np.cumsum(lengths).tolist()
    starts = [0, *ends[:-1]]
    return [" ".join(tokens[a:b]) for a, b in zip(starts, ends, strict=True)]


def score(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import f1_score

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return {
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "accuracy": float(np.mean(y_true == y_pred)),
    }


def count_tokens(docs: Sequence[str]) -> int:
    return sum(len(d.split()) for d in docs)


def work(split: Split, model_name: str, params: Mapping[str, Any]) -> tuple[str, float]:
    if model_name == "transformer":  # it reads each document up to max_tokens, once per epoch
        limit = int(params["max_tokens"])
        seen = sum(min(len(d.split()), limit) for d in split.X_train)
        return "tokens", float(seen * int(params["transformer_epochs"]))
    tokens = count_tokens(split.X_train)
    # The torch model passes over the training tokens once per epoch; TF-IDF once.
    passes = int(params["epochs"]) if model_name == "embedding_bag" else 1
    return "tokens", float(tokens * passes)


def tfidf_linear(ctx: ModelContext) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(
        # Whitespace tokens (the corpus has no punctuation), sublinear tf as usual for topics.
        TfidfVectorizer(token_pattern=r"\S+", sublinear_tf=True, min_df=2),
        # saga: lbfgs needs ~20x longer on this sparse multinomial problem for the same F1.
        LogisticRegression(C=float(ctx.params["C"]), solver="saga", tol=1e-3, max_iter=200, random_state=ctx.seed),
    )


MODELS = (
    Model("tfidf_linear", ("sklearn", "sklearn-rapids"), tfidf_linear,
          "scikit-learn TF-IDF + multinomial logistic regression"),
    Model("embedding_bag", ("torch", "torch-cuda"), embedding_bag, "torch EmbeddingBag (mean) + MLP head, Adam"),
    Model("transformer", ("torch", "torch-cuda"), transformer,
          "small transformer encoder (2 layers, width 256, up to 128 tokens), AdamW; bf16 autocast as a param"),
)

WORKLOADS = (
    Workload(
        name="nlp",
        family="nlp",
        description="synthetic topic classification of generated documents (Zipf vocabulary, overlapping topics)",
        generate=generate,
        models=MODELS,
        score=score,
        metric="macro_f1",
        params={
            # corpus
            "topics": 8,  # classes
            "vocab_size": 5000,
            "topic_words": 150,  # words each topic boosts
            "overlap": 0.3,  # share of a topic's words it has in common with the next topic
            "mean_length": 60,  # tokens per document (lognormal)
            "topic_share": 0.2,  # mean share of a document's tokens drawn from its topic
            "secondary_share": 0.5,  # a second topic gets up to this fraction of that share
            # tfidf_linear
            "C": 1.0,
            # embedding_bag
            "epochs": 5,
            "batch_size": 256,
            "lr": 0.02,
            "embedding_dim": 64,
            "hidden": 64,
            # transformer
            "transformer_layers": 2,
            "transformer_width": 256,
            "heads": 4,
            "max_tokens": 128,
            "transformer_epochs": 2,
            "transformer_batch_size": 64,
            "transformer_lr": 0.0005,
            "precision": "fp32",  # or "bf16": autocast to bfloat16
            "compile": "off",  # torch models: or a torch.compile mode (workloads/compile.py)
        },
        size_unit="documents",
        sizes=(10_000, 40_000, 160_000, 640_000),
        target=Target("macro_f1", 0.75),
        features=tokenize,
        work=work,
        how=("batch_size", "transformer_batch_size", "precision", "compile"),
        imports=("sklearn.metrics",),
    ),
)
