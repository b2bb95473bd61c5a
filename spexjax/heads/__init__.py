"""Attention-head attribution and pruning: which heads, alone and together, a model's task score depends on.

Features are the ``layers * heads`` heads (layer-major, ``"L{l}H{h}"``). A mask keeps some heads; the others are
zeroed before the attention output projection and each layer's kept heads are rescaled by ``|H_l| / |S ∩ H_l|``
(:func:`head_scales`). :class:`HeadTask` values a mask by the ablated model's score on labelled examples (fit and
held-out splits); ``spexjax.proxyspex`` finds the interactions, :meth:`spexjax.Interactions.best_subset` the best
heads to keep (:mod:`spexjax.heads.prune` has the LASSO and Best-of-N baselines and the energy-by-depth table).

Backends: :class:`MiniLMHeads` (embedded MiniLM, JAX, offline; task :func:`topic_examples`) and
:class:`HuggingFaceHeads` (transformers causal LMs via a pre-hook on each attention output projection; questions
from :func:`read_mcq`). torch/transformers are imported only when a Hugging Face backend is built.
"""

from __future__ import annotations

from spexjax.heads.ablation import head_names, head_scales
from spexjax.heads.backends import HeadBackend, HuggingFaceHeads, MiniLMHeads, mmlu_prompt
from spexjax.heads.examples import TOPICS, Example, read_mcq, split_examples, topic_examples
from spexjax.heads.prune import STRATEGIES, compare_strategies, energy_by_depth, kept_size, prune_best_of_n, prune_lasso
from spexjax.heads.task import METRICS, HeadTask, make_task

__all__ = [
    "METRICS",
    "STRATEGIES",
    "TOPICS",
    "compare_strategies",
    "Example",
    "HeadBackend",
    "HeadTask",
    "HuggingFaceHeads",
    "MiniLMHeads",
    "energy_by_depth",
    "head_names",
    "head_scales",
    "kept_size",
    "make_task",
    "mmlu_prompt",
    "prune_best_of_n",
    "prune_lasso",
    "read_mcq",
    "split_examples",
    "topic_examples",
]
