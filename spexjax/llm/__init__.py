"""Explain language models: which units of a prompt (words, sentences, documents), alone and together, move
a model's output.

Backends: :class:`HuggingFaceLM` and :class:`HuggingFaceClassifier` (transformers, PyTorch),
:class:`OpenAICompatible` (any server speaking the OpenAI HTTP protocol), the embedded MiniLM (pure JAX,
offline: :class:`MiniLMZeroShot`, :class:`MiniLMSimilarity`, :func:`default_backend`), the embedded causal LM
(:class:`SmolLM2`, :class:`JaxCausalLM`: Llama-family GGUF/safetensors in pure JAX). Task: :class:`PromptTask`.
The torch/HTTP backends are loaded on first access (module ``__getattr__``), so ``import spexjax.llm`` never
imports torch; the embedded backends import JAX only.
"""

from __future__ import annotations

import importlib
from typing import Any

from spexjax.llm.embedded import MiniLMSimilarity, MiniLMZeroShot, default_backend
from spexjax.llm.protocols import LanguageModel, TextScorer, Tokenizing
from spexjax.llm.targets import ClassLogOdds, EmbeddingCosine, NextTokenContrast, ResponseLogProb, Score
from spexjax.llm.task import PromptTask, ResponseSpanTask
from spexjax.llm.units import Units, ablate, split_units

_LAZY = {
    "HuggingFaceLM": "spexjax.llm.hf",
    "HuggingFaceClassifier": "spexjax.llm.hf",
    "OpenAICompatible": "spexjax.llm.openai",
    "JaxCausalLM": "spexjax.llm.llama",
    "SmolLM2": "spexjax.llm.llama",
    "JaxLlamaHeads": "spexjax.llm.llama_heads",
}

__all__ = [
    "ClassLogOdds",
    "EmbeddingCosine",
    "HuggingFaceClassifier",
    "HuggingFaceLM",
    "JaxCausalLM",
    "JaxLlamaHeads",
    "LanguageModel",
    "MiniLMSimilarity",
    "MiniLMZeroShot",
    "NextTokenContrast",
    "OpenAICompatible",
    "PromptTask",
    "ResponseLogProb",
    "ResponseSpanTask",
    "Score",
    "SmolLM2",
    "TextScorer",
    "Tokenizing",
    "Units",
    "ablate",
    "default_backend",
    "split_units",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'spexjax.llm' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
