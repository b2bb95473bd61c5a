"""The JAX causal LM as a heads backend: which of SmolLM2's 30 x 9 = 270 attention heads a task needs.

:class:`JaxLlamaHeads` satisfies :class:`spexjax.heads.backends.HeadBackend` like ``HuggingFaceHeads`` does for
PyTorch: each row of per-head multipliers (:func:`spexjax.heads.head_scales`: zero + per-layer rescale) scales
each head's slice of the attention output before the output projection, which is the same as editing the rows
of ``o_proj`` that read that head (tested against edited weights). Questions are asked in the same MMLU format
and scored by the next-token log-probs of the answer letters, normalised over the choices.

All mask rows of a batch go through the same compiled calls: the multipliers are a call argument of shape
``[layers, packed rows, heads]``, each packed row holding the examples of one mask (rows of different masks
never share attention), so a batch of ``m`` masks costs ``ceil(rows / rows per call)`` calls of one program
instead of ``m`` calls (``batch_masks=False`` is the one-call-per-mask path, kept as the reference the
batched one is tested against). The shared-prefix cache is off here, because a prefix's keys and values
depend on the heads kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from spexjax.errors import SpexError
from spexjax.heads.backends import mmlu_prompt
from spexjax.heads.examples import LETTERS
from spexjax.llm.llama import JaxCausalLM, SmolLM2

__all__ = ["JaxLlamaHeads"]


class JaxLlamaHeads:
    """Head ablation on a :class:`~spexjax.llm.JaxCausalLM` (default: :class:`~spexjax.llm.SmolLM2`).

    Args:
      lm: the model whose weights are used (a private copy of its options is made: plain prompts, no prefix
        cache); ``None`` loads SmolLM2.
      prompt: ``Example -> str`` (default: the MMLU format of :func:`spexjax.heads.backends.mmlu_prompt`).
      batch_masks: score all mask rows of a call together (default True); False runs one call per mask row.
    """

    def __init__(self, lm: JaxCausalLM | None = None, *, prompt: Any = None, name: str | None = None,
                 batch_masks: bool = True):
        base = lm if lm is not None else SmolLM2()
        if not isinstance(base, JaxCausalLM):
            raise TypeError(f"lm must be a JaxCausalLM (or None for SmolLM2), got {type(base).__name__}")
        self.lm = JaxCausalLM(base.checkpoint, chat_template=False, prefix_cache=False, name=base.name,
                              call_tokens=base.call_tokens, dtype=base.dtype, devices=base.devices)
        self.batch_masks = bool(batch_masks)
        self.layers = self.lm.config.num_layers
        self.heads = self.lm.config.num_heads
        self.prompt = prompt or mmlu_prompt
        self.name = name or base.name
        self._letter_ids: dict[int, list[int]] = {}

    def identity(self) -> str:
        return f"JaxLlamaHeads({self.lm.identity()})"

    def _letters(self, k: int) -> list[int]:
        if k not in self._letter_ids:
            self._letter_ids[k] = [self.lm.response_ids(" " + LETTERS[j])[-1] for j in range(k)]
        return self._letter_ids[k]

    def choice_logprobs(self, examples: Sequence[Any], scales: Any) -> np.ndarray:
        """``float64[m, len(examples), choices]`` for ``scales: float32[m, layers, heads]``."""
        s = np.asarray(scales, dtype=np.float32)
        if s.ndim != 3 or s.shape[1:] != (self.layers, self.heads):
            raise SpexError(f"scales must have shape (m, {self.layers}, {self.heads}); got {s.shape}")
        examples = list(examples)
        if not examples:
            return np.zeros((s.shape[0], 0, 0))
        k = len(examples[0].choices)
        if any(len(e.choices) != k for e in examples):
            raise SpexError("examples must share their number of choices")
        seqs = [self.lm.prompt_ids(self.prompt(e)) for e in examples]
        letters = np.asarray(self._letters(k), dtype=np.int64)[None, :]
        m, E = s.shape[0], len(examples)
        if self.batch_masks:  # every (mask, example) pair in the same calls, one multiplier row per packed row
            lp = self.lm._tail_logprobs(seqs * m, 1, letters, scales=s, groups=np.repeat(np.arange(m), E))
            lp = lp[:, 0, :].reshape(m, E, k)  # log p over the vocabulary
        else:
            lp = np.stack([
                self.lm._tail_logprobs(seqs, 1, letters, scales=s[i : i + 1], groups=[0] * E)[:, 0, :]
                for i in range(m)
            ])
        z = lp - lp.max(axis=-1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))

    def __repr__(self) -> str:
        return f"JaxLlamaHeads({self.name!r}, layers={self.layers}, heads={self.heads}, batch_masks={self.batch_masks})"
