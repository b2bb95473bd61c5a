"""MiniLM head ablation against a manual reference (the output projection's weights edited), and HeadTask."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from spexjax.errors import SpexError
from spexjax.heads import HeadTask, MiniLMHeads, head_scales, topic_examples

pytest.importorskip("tokenizers")


@pytest.fixture(scope="module")
def model():
    from spexjax.llm.minilm import load_minilm

    return load_minilm()


TEXTS = ["Heavy rain is expected this afternoon.", "She fixed a bug in the login code."]


def test_all_kept_is_the_unablated_model_bit_for_bit(model):
    ids = model.tokenize(TEXTS)
    ones = head_scales(np.ones((len(ids), 72), bool), 6, 12)
    assert np.array_equal(model.embed_token_ids(ids, ones), model.embed_token_ids(ids))


def test_ablation_equals_edited_output_projection(model):
    """Zeroing/rescaling heads via head_mask == scaling the rows of W_o that read each head's context."""
    mask = np.ones(72, bool)
    mask[[3, 7]] = False  # layer 0: two heads out (kept ones x 12/10)
    mask[24:36] = False  # layer 2: every head out
    mask[60] = False  # layer 5: one head out
    ids = model.tokenize(TEXTS)
    s = head_scales(mask[None], 6, 12)[0]
    got = model.embed_token_ids(ids, np.repeat(s[None], len(ids), axis=0))
    ref_model = copy.copy(model)
    params = dict(model.params)
    layers = dict(params["layers"])
    D = model.config.head_dim
    wo = np.array(layers["wo"], dtype=np.float32)  # (layers, H*D, hidden): ctx @ wo
    assert wo.shape[1] == 12 * D
    wo = wo * np.repeat(s, D, axis=1)[:, :, None]
    layers["wo"] = wo
    params["layers"] = layers
    ref_model.params = params
    want = ref_model.embed_token_ids(ids)
    np.testing.assert_allclose(got, want, atol=2e-5)
    assert np.abs(got - model.embed_token_ids(ids)).max() > 1e-3  # the ablation does something


def test_head_task_minilm_splits_scores_and_fingerprint(model):
    backend = MiniLMHeads(model)
    task = HeadTask(backend, topic_examples()[::4], heldout=0.5, key=1)  # 16 examples: 8 fit, 8 held out
    held = task.heldout()
    assert task.n == 72 and task.feature_names[13] == "L1H1"
    assert {e.prompt for e in task.examples}.isdisjoint({e.prompt for e in held.examples})
    assert len(task.examples) + len(held.examples) == 16
    assert task.fingerprint() != held.fingerprint()
    assert task.fingerprint() != task.split("fit", metric="accuracy").fingerprint()
    masks = np.ones((3, 72), bool)
    masks[1, :36] = False
    masks[2] = False
    sc = task.scores(masks)
    assert sc["logprob"].shape == (3,) and np.all(sc["logprob"] <= 0)
    assert np.all((0 <= sc["accuracy"]) & (sc["accuracy"] <= 1))
    np.testing.assert_array_equal(task(masks), sc["logprob"])
    full = task.full_score()
    assert full["logprob"] == pytest.approx(sc["logprob"][0])
    # every head removed: the encoder no longer reads its input; the score must fall
    assert sc["logprob"][2] < full["logprob"] - 0.3
    with pytest.raises(SpexError, match="metric"):
        HeadTask(backend, topic_examples(), metric="f1")
    with pytest.raises(TypeError, match="examples"):
        HeadTask(backend, ["not an example"])


@pytest.mark.slow
def test_minilm_topic_task_well_above_chance(model):
    """The documented unablated score of the built-in task (chance = 0.25)."""
    task = HeadTask(MiniLMHeads(model), topic_examples(), heldout=0)
    full = task.full_score()
    assert full["accuracy"] >= 0.9 and full["logprob"] > -0.3


def test_make_task_defaults_and_errors(model, tmp_path):
    from spexjax.heads import make_task

    task = make_task()
    assert isinstance(task.backend, MiniLMHeads) and len(task.examples) == 32 and task.metric == "logprob"
    with pytest.raises(SpexError, match="questions="):
        make_task(model="some/model")
    with pytest.raises(SpexError, match="model="):
        make_task(questions=str(tmp_path / "q.csv"))
