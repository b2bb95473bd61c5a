"""Hugging Face head ablation (pre-hook on the attention output projection) against a manual reference, on tiny
GPT-2 and Llama models built from configs; and a tiny end-to-end pruning run (acceptance 3)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from spexjax.heads import (  # noqa: E402
    Example,
    HeadTask,
    HuggingFaceHeads,
    compare_strategies,
    head_scales,
    read_mcq,
)

VOCAB = [chr(c) for c in range(32, 127)] + ["\n", "<pad>"]


class CharTokenizer:
    """A character-level tokenizer (offline, no files): enough for the backend's ``encode``/``pad_token_id``."""

    pad_token_id = len(VOCAB) - 1

    def encode(self, text, add_special_tokens=True):
        return [VOCAB.index(c) if c in VOCAB else 0 for c in text]


SEEDS = {"gpt2": 0, "llama": 1}


@pytest.fixture(scope="module")
def build(tiny_causal_lm):
    """``build(arch)``: the tiny model of that architecture over the character vocabulary."""
    return lambda arch: tiny_causal_lm(arch, len(VOCAB), seed=SEEDS[arch], max_positions=256)
PROMPTS = ["The sky is blue.\nAnswer:", "Two plus two?\nA. 3\nB. 4\nAnswer:", "Hi"]


def _edited_reference(model, mask, layers, heads):
    """The same model with each attention output projection's weights scaled per head (no hooks)."""
    import copy

    ref = copy.deepcopy(model)
    s = head_scales(mask[None], layers, heads)[0]  # (layers, heads)
    from spexjax.heads.backends import attention_output_projections

    for layer, proj in enumerate(attention_output_projections(ref)):
        with torch.no_grad():
            w = proj.weight
            D = (w.shape[0] if isinstance(proj, transformers.pytorch_utils.Conv1D) else w.shape[1]) // heads
            col = torch.as_tensor(np.repeat(s[layer], D))
            if isinstance(proj, transformers.pytorch_utils.Conv1D):  # y = x @ W (in, out)
                w.mul_(col[:, None])
            else:  # nn.Linear: y = x @ W^T, W (out, in)
                w.mul_(col[None, :])
    return ref


@pytest.mark.parametrize("arch", sorted(SEEDS))
def test_all_kept_is_unablated_bit_for_bit(arch, build):
    model = build(arch)
    tok = CharTokenizer()
    plain = HuggingFaceHeads(model, tok, batch_size=2)
    plain.remove_hooks()
    want = plain.logits_last(PROMPTS, None)
    hooked = HuggingFaceHeads(model, tok, batch_size=2)
    assert (hooked.layers, hooked.heads) == (2, 4)
    ones = head_scales(np.ones((len(PROMPTS), 8), bool), 2, 4)
    got = hooked.logits_last(PROMPTS, ones)
    assert np.array_equal(got, want)


@pytest.mark.parametrize("arch", sorted(SEEDS))
@pytest.mark.parametrize("ablate", [[1], [0, 2, 3], [4, 5, 6, 7], [2, 5]])
def test_ablation_equals_edited_projection(arch, ablate, build):
    model = build(arch)
    tok = CharTokenizer()
    mask = np.ones(8, bool)
    mask[ablate] = False
    backend = HuggingFaceHeads(model, tok, batch_size=2)
    s = head_scales(np.repeat(mask[None], len(PROMPTS), 0), 2, 4)
    got = backend.logits_last(PROMPTS, s)
    ref = HuggingFaceHeads(_edited_reference(model, mask, 2, 4), tok, batch_size=1)
    ref.remove_hooks()
    want = ref.logits_last(PROMPTS, None)
    np.testing.assert_allclose(got, want, atol=1e-5)
    unablated = backend.logits_last(PROMPTS, None)
    assert np.abs(got - unablated).max() > 1e-4  # the ablation changes the output


def test_batching_does_not_change_values(build):
    backend = HuggingFaceHeads(build("llama"), CharTokenizer(), batch_size=3)
    one = HuggingFaceHeads(backend.model, CharTokenizer(), batch_size=1)
    rng = np.random.default_rng(0)
    s = head_scales(rng.random((len(PROMPTS), 8)) < 0.6, 2, 4)
    np.testing.assert_allclose(backend.logits_last(PROMPTS, s), one.logits_last(PROMPTS, s), atol=1e-5)


def _questions(tmp_path, count=12):
    rng = np.random.default_rng(0)
    lines = ["question,A,B,C,D,answer"]
    for q in range(count):
        a, b = int(rng.integers(1, 9)), int(rng.integers(1, 9))
        opts = [a + b, a + b + 1, a + b - 1, a * b]
        lines.append(f"What is {a} + {b}?,{opts[0]},{opts[1]},{opts[2]},{opts[3]},{'ABCD'[q % 4]}")
    path = tmp_path / "mini.csv"
    path.write_text("\n".join(lines) + "\n")
    return read_mcq(path)


def test_tiny_end_to_end_pruning(tmp_path, build):
    """Acceptance 3: MMLU-format file -> HeadTask on a tiny Llama -> ProxySPEX/LASSO/Best-of-N -> held-out rows."""
    examples = _questions(tmp_path)
    assert all(isinstance(e, Example) for e in examples)
    task = HeadTask(HuggingFaceHeads(build("llama"), CharTokenizer(), batch_size=32), examples, heldout=0.5)
    rows, result, info = compare_strategies(task, budget=48, fractions=(0.5, 0.75), max_degree=2, time_limit=10)
    assert {(r["kept_fraction"], r["strategy"]) for r in rows} == {
        (f, s) for f in (0.5, 0.75) for s in ("proxyspex", "lasso", "best_of_n")
    }
    for r in rows:
        assert len(r["subset"]) == r["kept"] == round(8 * r["kept_fraction"])
        assert np.isfinite(r["test_score"]) and r["test_score"] <= 0
        assert 0 <= r["test_accuracy"] <= 1
    assert result.n == 8 and info["unpruned"]["test"]["logprob"] <= 0
    assert all(v["exact"] for v in info["optimum"].values())
    # the chosen ProxySPEX subset is the surrogate's maximiser among subsets of its size
    r = next(r for r in rows if r["strategy"] == "proxyspex" and r["kept_fraction"] == 0.5)
    from itertools import combinations

    allm = np.zeros((70, 8), bool)
    for j, c in enumerate(combinations(range(8), 4)):
        allm[j, list(c)] = True
    pred = result.predict(allm)
    assert r["surrogate"] == pytest.approx(pred.max(), abs=1e-9)
