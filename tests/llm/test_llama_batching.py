"""The JAX causal LM's batching never changes a value: packing, the shared-prefix cache, batched head masks and
rows split over devices, each against the plain path, on a tiny random Llama (tests/llm/tiny_llama.py).

In float64 (``dtype="float64"``) the paths agree to ~1e-14, so any disagreement above 1e-9 is a bug in the
packing, masks, positions or caches, not rounding; in float32 they agree to round-off (XLA blocks its GEMMs by
shape). The same checks on SmolLM2 itself are in test_llama_jax.py. The multi-device run is a subprocess with
``--xla_force_host_platform_device_count=2`` (the flag must be set before JAX starts).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tokenizers", reason="the JAX causal LM's tokenizer needs 'tokenizers'")
pytest.importorskip("jinja2", reason="the chat template is rendered with 'jinja2'")

from tiny_llama import PROMPTS, tiny_checkpoint  # noqa: E402

from spexjax.llm.llama import JaxCausalLM, drop_device_params  # noqa: E402
from spexjax.llm.llama_load import check_dtype  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CANDS = ["true", "false"]
RESPONSE = "false or true ."
#: float64: the paths differ by ~1e-14 (measured <= 1e-14); float32 by round-off (measured <= 4e-6)
ATOL = {"float64": 1e-9, "float32": 2e-5}


@pytest.fixture(scope="module")
def ck():
    c = tiny_checkpoint()
    yield c
    drop_device_params(c)


def _scores(lm: JaxCausalLM, prompts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    return lm.next_token_logprobs(prompts, CANDS), np.stack(lm.response_logprobs(prompts, RESPONSE))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_packed_and_prefix_cache_equal_alone(ck, dtype):
    atol = ATOL[dtype]
    lm = JaxCausalLM(ck, system="the people", dtype=dtype)
    alone = JaxCausalLM(ck, system="the people", dtype=dtype, pack=False, prefix_cache=False)
    no_prefix = JaxCausalLM(ck, system="the people", dtype=dtype, prefix_cache=False)
    nxt, resp = _scores(lm, PROMPTS)
    assert nxt.dtype == np.float64 and resp.shape == (len(PROMPTS), 4)
    assert [len(k) for k in lm._prefixes] == [5]  # the template's head: <s> <|system|> the people <|user|>
    assert lm.forwards < alone.forwards + len(PROMPTS)  # packed: fewer calls than rows
    for other in (alone, no_prefix):
        n2, r2 = _scores(other, PROMPTS)
        np.testing.assert_allclose(nxt, n2, rtol=0, atol=atol)
        np.testing.assert_allclose(resp, r2, rtol=0, atol=atol)
    one_by_one = np.concatenate([alone.next_token_logprobs([p], CANDS) for p in PROMPTS[:4]])
    np.testing.assert_allclose(nxt[:4], one_by_one, rtol=0, atol=atol)
    # a second call reuses the cached prefix (the LRU holds it) and gives the same values
    np.testing.assert_allclose(lm.next_token_logprobs(PROMPTS[::-1], CANDS), nxt[::-1], rtol=0, atol=atol)
    # greedy decoding from the key/value cache == re-running the whole sequence each step
    ids = lm.generate_ids(PROMPTS[1], max_new_tokens=6)
    seq = lm.prompt_ids(PROMPTS[1])
    for t in ids:
        lp = alone._tail_logprobs([seq], 1, np.arange(ck.config.vocab_size)[None, :])[0, 0]
        assert int(np.argmax(lp)) == t
        seq = [*seq, t]


def test_float64_is_float32_to_roundoff_and_named_in_identity(ck):
    import jax

    x64 = bool(jax.config.jax_enable_x64)
    a = JaxCausalLM(ck, system="the people")
    b = JaxCausalLM(ck, system="the people", dtype="float64")
    np.testing.assert_allclose(a.next_token_logprobs(PROMPTS, CANDS), b.next_token_logprobs(PROMPTS, CANDS),
                               rtol=0, atol=1e-4)
    assert a.identity() != b.identity()  # caches keep float32 and float64 values apart
    assert a.identity() == JaxCausalLM(ck, system="the people", dtype=np.float32).identity()
    assert "float64" in repr(b)
    assert bool(jax.config.jax_enable_x64) == x64  # the float64 model switches 64-bit JAX on around its calls only
    assert check_dtype("float64") == np.float64
    for bad in ("bfloat16", "int32", "float16", object()):
        with pytest.raises(ValueError, match="dtype must be one of"):
            JaxCausalLM(ck, dtype=bad)
    from spexjax.llm.llama_load import load_folder, load_gguf

    for load in (load_gguf, load_folder):  # the loaders check dtype= before reading anything
        with pytest.raises(ValueError, match="dtype must be one of"):
            load("no-such-file", dtype="int8")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_heads_batched_masks_equal_one_call_per_mask(ck, dtype):
    from spexjax.heads import head_scales
    from spexjax.heads.examples import Example
    from spexjax.llm.llama_heads import JaxLlamaHeads

    lm = JaxCausalLM(ck, dtype=dtype)
    examples = [Example("pull the lever ?", ("true", "false", "wrong"), 0),
                Example("the trolley is", ("one", "five", "side"), 1),
                Example("kill one save five : wrong ?", ("true", "false", "or"), 0)]
    masks = np.random.default_rng(1).random((5, 12)) < 0.6
    masks[0] = True
    scales = head_scales(masks, 3, 4)
    batched = JaxLlamaHeads(lm)
    per_mask = JaxLlamaHeads(lm, batch_masks=False)
    got = batched.choice_logprobs(examples, scales)
    want = per_mask.choice_logprobs(examples, scales)
    assert got.shape == (5, 3, 3)
    np.testing.assert_allclose(got, want, rtol=0, atol=ATOL[dtype])
    assert batched.lm.forwards == 1 and per_mask.lm.forwards == 5  # one compiled call for all five masks
    assert np.abs(got[1:] - got[0]).max() > 1e-3  # masks change the answer distribution
    # a mask's multipliers == those multipliers folded into the output projection's rows
    hd = ck.config.head_dim
    import dataclasses

    wo = ck.params["wo"] * np.repeat(scales[3], hd, axis=1)[..., None]  # rows of head h: h*hd .. (h+1)*hd
    edited = dataclasses.replace(ck, params={**ck.params, "wo": wo})
    try:
        ref = JaxLlamaHeads(JaxCausalLM(edited, dtype=dtype)).choice_logprobs(examples, np.ones((1, 3, 4)))
    finally:
        drop_device_params(edited)
    np.testing.assert_allclose(got[3], ref[0], rtol=0, atol=ATOL[dtype] + (1e-5 if dtype == "float32" else 0))


CHILD = r"""
import json, sys
import numpy as np
import jax
from tiny_llama import PROMPTS, tiny_checkpoint
from spexjax.heads import head_scales
from spexjax.heads.examples import Example
from spexjax.llm.llama import JaxCausalLM
from spexjax.llm.llama_heads import JaxLlamaHeads

assert len(jax.devices()) == 2, jax.devices()
ck = tiny_checkpoint()
out = {}
for dtype in ("float32", "float64"):
    for devices in ("all", 1):
        lm = JaxCausalLM(ck, system="the people", dtype=dtype, devices=devices)
        nxt = lm.next_token_logprobs(PROMPTS, ["true", "false"])
        resp = np.stack(lm.response_logprobs(PROMPTS, "false or true ."))
        examples = [Example("pull the lever ?", ("true", "false", "wrong"), 0),
                    Example("the trolley is", ("one", "five", "side"), 1)]
        scales = head_scales(np.random.default_rng(1).random((3, 12)) < 0.6, 3, 4)
        heads = JaxLlamaHeads(lm).choice_logprobs(examples, scales)
        out[f"{dtype}/{devices}"] = {
            "mesh": None if lm.mesh is None else int(lm.mesh.devices.size), "sharded": lm.sharded_forwards,
            "next": nxt.tolist(), "resp": resp.tolist(), "heads": heads.tolist(),
            "gen": lm.generate_ids(PROMPTS[1], max_new_tokens=5),
        }
print(json.dumps(out))
"""


def test_rows_split_over_two_devices_equal_one():
    env = dict(os.environ)
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2").strip()
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "tests" / "llm"), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=300,
                          cwd=str(ROOT))
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    for dtype in ("float32", "float64"):
        two, one = out[f"{dtype}/all"], out[f"{dtype}/1"]
        assert two["mesh"] == 2 and one["mesh"] is None
        assert two["sharded"] >= 2 and one["sharded"] == 0  # the scoring calls ran split over the two devices
        for key in ("next", "resp", "heads"):
            np.testing.assert_allclose(two[key], one[key], rtol=0, atol=ATOL[dtype], err_msg=f"{dtype} {key}")
        assert two["gen"] == one["gen"]
