"""PromptTask on fake backends whose outputs are plain functions of the prompt text (the slow reference)."""

from __future__ import annotations

import numpy as np
import pytest

import spexjax
from spexjax.errors import MaskError
from spexjax.llm import LanguageModel, PromptTask, ResponseSpanTask, TextScorer

PROMPT = "the cat sat on the mat"


def _token_lp(prompt: str, response: str) -> np.ndarray:
    """A made-up per-token log-prob: response token j depends on which words the prompt still has."""
    words = prompt.split()
    out = []
    for j, tok in enumerate(response.split()):
        lp = -1.0 - 0.1 * j - 0.05 * len(prompt)
        if "cat" in words and "mat" in words:
            lp += 1.5  # a planted pair interaction
        if tok in words:
            lp += 0.5
        out.append(lp)
    return np.asarray(out)


class FakeLM:
    """Implements LanguageModel; records every call so tests can count model work."""

    def __init__(self, ident: str = "fake-lm@1"):
        self.ident = ident
        self.calls: list[list[str]] = []
        self.generated: list[str] = []

    def identity(self) -> str:
        return self.ident

    def response_logprobs(self, prompts, response):
        self.calls.append(list(prompts))
        return [_token_lp(p, response) for p in prompts]

    def next_token_logprobs(self, prompts, candidates):
        self.calls.append(list(prompts))
        return np.asarray([[-0.1 * len(p) * (i + 1) for i in range(len(candidates))] for p in prompts])

    def generate(self, prompt, *, max_new_tokens=32):
        self.generated.append(prompt)
        return "cat sat mat"


class FakeScorer:
    default_placeholder = "<unk>"

    def __init__(self):
        self.calls: list[list[str]] = []

    def identity(self) -> str:
        return "fake-scorer"

    def score(self, texts):
        self.calls.append(list(texts))
        return np.asarray([len(t) + 10.0 * ("not" in t and "bad" in t) for t in texts], dtype=float)


def _masks(n: int, m: int, seed: int = 0) -> np.ndarray:
    masks = np.random.default_rng(seed).random((m, n)) < 0.5
    masks[0] = True
    masks[1] = False
    return masks


def test_protocols_and_value_function():
    lm = FakeLM()
    assert isinstance(lm, LanguageModel) and isinstance(FakeScorer(), TextScorer)
    task = PromptTask(lm, PROMPT, response="cat mat")
    assert isinstance(task, spexjax.ValueFunction)
    assert task.n == 6 and task.feature_names == PROMPT.split()
    assert not task.generated and task.response == "cat mat" and lm.generated == []


def test_response_value_is_the_reference_on_the_ablated_prompt():
    lm = FakeLM()
    task = PromptTask(lm, PROMPT, response="cat on mat")
    masks = _masks(task.n, 24)
    v = task(masks)
    assert v.shape == (24,) and v.dtype == np.float64
    for row, val in zip(masks, v, strict=True):
        shorter = " ".join(w for w, k in zip(PROMPT.split(), row, strict=True) if k)
        assert task.ablated_prompt(row) == shorter
        assert val == pytest.approx(_token_lp(shorter, "cat on mat").sum(), abs=1e-12)


def test_batching_never_changes_a_value_and_dedupes():
    lm = FakeLM()
    task = PromptTask(lm, PROMPT, response="cat")
    masks = _masks(task.n, 16)
    masks = np.concatenate([masks, masks[:5]])  # repeated rows in one batch
    batch = task(masks)
    assert len(lm.calls[-1]) == len(set(map(tuple, masks.tolist())))  # each distinct prompt sent once
    single = np.concatenate([task(m[None]) for m in masks])
    np.testing.assert_array_equal(batch, single)
    # "very very": removing either copy leaves the same text, which is sent once
    twice = PromptTask(lm, "very very good", response="cat")
    lm.calls.clear()
    b = twice(np.array([[False, True, True], [True, False, True]]))
    assert lm.calls == [["very good"]] and b[0] == b[1]


def test_generated_response_once_and_in_fingerprint():
    lm = FakeLM()
    task = PromptTask(lm, PROMPT)
    assert task.generated and task.response == "cat sat mat" and lm.generated == [PROMPT]
    task(_masks(task.n, 4))
    assert lm.generated == [PROMPT]
    given = PromptTask(FakeLM(), PROMPT, response="cat sat mat")
    assert given.fingerprint() != task.fingerprint()  # generated vs given is recorded
    np.testing.assert_array_equal(given(_masks(6, 4)), task(_masks(6, 4)))


def test_spans_come_from_the_store_without_model_calls():
    lm = FakeLM()
    task = PromptTask(lm, PROMPT, response="cat sat on mat")
    masks = _masks(task.n, 12)
    total = task(masks)
    rows = task.model_rows
    calls = len(lm.calls)
    lp = task.token_logprobs(masks)
    assert all(x.shape == (4,) for x in lp)
    np.testing.assert_allclose([x.sum() for x in lp], total)
    span = task.with_span(1, 3)
    assert isinstance(span, ResponseSpanTask) and span.n == task.n and span.feature_names == task.feature_names
    got = span(masks)
    shorter = [" ".join(w for w, k in zip(PROMPT.split(), r, strict=True) if k) for r in masks]
    want = [_token_lp(p, "cat sat on mat")[1:3].sum() for p in shorter]
    np.testing.assert_allclose(got, want, atol=1e-12)
    np.testing.assert_allclose(task.span_values(masks, 0), total)
    assert len(lm.calls) == calls and task.model_rows == rows
    # a mask never seen is computed (and counted), then stored
    seen = {tuple(r) for r in masks.tolist()}
    new = next(r for r in _masks(task.n, 64, seed=9) if tuple(r.tolist()) not in seen)[None]
    span(new)
    assert task.model_rows == rows + 1
    span(new)
    assert task.model_rows == rows + 1
    assert span.fingerprint() != task.fingerprint() != task.with_span(0, 3).fingerprint()
    assert span.fingerprint() == task.with_span(1, 3).fingerprint()


def test_store_is_bounded_lru():
    lm = FakeLM()
    task = PromptTask(lm, PROMPT, response="cat", store_size=2)
    masks = _masks(task.n, 5, seed=3)
    task(masks)
    assert len(task._store) == 2
    rows = task.model_rows
    task.span_values(masks[-2:], 0)
    assert task.model_rows == rows
    task.span_values(masks[:1], 0)
    assert task.model_rows == rows + 1
    nostore = PromptTask(FakeLM(), PROMPT, response="cat", store_size=0)
    np.testing.assert_array_equal(nostore.span_values(masks, 0), task(masks))


def test_contrast_and_placeholder():
    lm = FakeLM()
    task = PromptTask(lm, PROMPT, contrast=("yes", "no"), ablation="placeholder", placeholder="...")
    row = np.ones(task.n, bool)
    row[2] = False
    assert task.ablated_prompt(row) == "the cat ... on the mat"
    v = task(row[None])
    assert v[0] == pytest.approx(-0.1 * len("the cat ... on the mat") * (1 - 2))
    with pytest.raises(ValueError, match="response target"):
        task.token_logprobs(row[None])
    with pytest.raises(ValueError, match="response target"):
        task.with_span(0, 1)


def test_text_scorer_backend_and_documents():
    sc = FakeScorer()
    docs = ["It was not good. ", "Not bad, actually. ", "Fine. "]
    task = PromptTask(sc, docs, keep="Verdict?", ablation="placeholder")
    assert task.n == 3 and task.feature_names == ["It was not good.", "Not bad, actually.", "Fine."]
    assert task.placeholder == "<unk>"
    row = np.array([True, False, True])
    assert task.ablated_prompt(row) == "It was not good. <unk>Fine. Verdict?"
    assert task(row[None])[0] == len("It was not good. <unk>Fine. Verdict?")
    assert task(np.ones((1, 3), bool))[0] == len("".join(docs) + "Verdict?") + 10  # "not" and "bad" both present
    words = PromptTask(sc, "not really bad")
    m = np.array([[1, 0, 1], [1, 1, 0]], bool)
    np.testing.assert_array_equal(words(m), [len("not bad") + 10, len("not really")])


def test_spex_recovers_the_planted_pair():
    task = PromptTask(FakeLM(), PROMPT, response="dog")
    res = spexjax.spex(task, task.n, budget=600, max_degree=3)
    (support, coef), *_ = res.top(1)
    assert tuple(support) == (1, 5)  # {cat, mat}
    assert coef == pytest.approx(1.5, abs=0.05)


def test_fingerprint_covers_every_option():
    lm = FakeLM()
    base = PromptTask(lm, PROMPT, response="cat").fingerprint()
    assert isinstance(base, str) and len(base) == 64
    assert PromptTask(FakeLM(), PROMPT, response="cat").fingerprint() == base
    others = [
        PromptTask(FakeLM("fake-lm@2"), PROMPT, response="cat"),
        PromptTask(lm, PROMPT + ".", response="cat"),
        PromptTask(lm, PROMPT, response="cats"),
        PromptTask(lm, PROMPT, response="cat", unit="sentence"),
        PromptTask(lm, PROMPT, response="cat", ablation="placeholder"),
        PromptTask(lm, PROMPT, response="cat", ablation="placeholder", placeholder="?"),
        PromptTask(lm, PROMPT, response="cat", prefix="Q: "),
        PromptTask(lm, PROMPT, response="cat", suffix=" A:"),
        PromptTask(lm, PROMPT, contrast=("cat", "dog")),
        PromptTask(lm, PROMPT, contrast=("dog", "cat")),
    ]
    fps = {t.fingerprint() for t in others}
    assert base not in fps and len(fps) == len(others)


def test_errors():
    lm = FakeLM()
    with pytest.raises(TypeError, match="LanguageModel"):
        PromptTask(object(), PROMPT)
    with pytest.raises(ValueError, match="not both"):
        PromptTask(lm, PROMPT, response="a", contrast=("a", "b"))
    with pytest.raises(ValueError, match="LanguageModel backend"):
        PromptTask(FakeScorer(), PROMPT, response="a")
    with pytest.raises(ValueError, match="contrast"):
        PromptTask(lm, PROMPT, contrast=("a",))
    with pytest.raises(TypeError, match="response"):
        PromptTask(lm, PROMPT, response=3)
    with pytest.raises(ValueError, match="ablation"):
        PromptTask(lm, PROMPT, ablation="mask")
    with pytest.raises(TypeError, match="unexpected option"):
        PromptTask(lm, PROMPT, temprature=1)
    with pytest.raises(ValueError, match="keep= or suffix="):
        PromptTask(lm, PROMPT, keep="a", suffix="b")
    with pytest.raises(ValueError, match="token_units"):
        PromptTask(lm, PROMPT, unit="token")
    with pytest.raises(ValueError, match="max_new_tokens"):
        PromptTask(lm, PROMPT, max_new_tokens=0)
    task = PromptTask(lm, PROMPT, response="a")
    with pytest.raises(MaskError):
        task(np.ones((2, task.n + 1), bool))
    with pytest.raises(TypeError, match="lo"):
        task.with_span(0.5, 2)  # type: ignore[arg-type]
