"""The two scoring calls of a causal LM, written once over one primitive.

A causal LM backend (``HuggingFaceLM`` in PyTorch, ``JaxCausalLM`` in JAX) differs only in how it runs the model;
what it is asked is the same: teacher-forced log-probs of a response, or next-token log-probs of candidates. Both
reduce to "the log-probs of given token ids at the last ``k`` positions of each sequence", so a backend
implements that primitive (``_tail_logprobs(seqs, k, ids) -> float[len(seqs), k, ids.shape[1]]``, where ``ids``
broadcasts over the ``k`` positions) plus its tokenisation (``prompt_ids``, ``response_ids``, ``candidate_ids``),
and :class:`TailScoring` supplies the public calls, so the two backends cannot drift apart in what they score.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["TailScoring", "check_texts"]


def check_texts(texts: Any, name: str) -> list[str]:
    """``texts`` as a list of str; a single str (a common slip) or a non-str item is a ``TypeError`` naming
    ``name``."""
    if isinstance(texts, str):
        raise TypeError(f"{name} must be a sequence of str, got a single str (wrap it in a list)")
    out = list(texts)
    for t in out:
        if not isinstance(t, str):
            raise TypeError(f"{name} must hold str, got {type(t).__name__}")
    return out


class TailScoring:
    """Mixin: ``response_logprobs`` and ``next_token_logprobs`` from the backend's ``_tail_logprobs``."""

    def response_logprobs(self, prompts: Sequence[str], response: str) -> list[np.ndarray]:
        """Teacher-forced ``log p(response token j | prompt, response tokens < j)``, one array per prompt.

        All prompts share the response ids, so every array has the same length; the backend runs the whole batch
        in as few forwards as its token budget allows.
        """
        prompts = check_texts(prompts, "prompts")
        resp = self.response_ids(response)
        if not resp:
            return [np.zeros(0) for _ in prompts]
        seqs = [self.prompt_ids(p) + resp[:-1] for p in prompts]
        vals = self._tail_logprobs(seqs, len(resp), np.asarray(resp, dtype=np.int64)[:, None])
        return [row[:, 0].copy() for row in vals]

    def next_token_logprobs(self, prompts: Sequence[str], candidates: Sequence[str]) -> np.ndarray:
        """``float64[len(prompts), len(candidates)]``: log p(first token of each candidate | prompt)."""
        prompts = check_texts(prompts, "prompts")
        cand = self.candidate_ids(candidates)
        if not prompts:
            return np.zeros((0, len(cand)))
        seqs = [self.prompt_ids(p) for p in prompts]
        return self._tail_logprobs(seqs, 1, np.asarray(cand, dtype=np.int64)[None, :])[:, 0, :]
