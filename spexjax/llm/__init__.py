"""Explain language models: which units of a prompt (words, sentences, documents), alone and together, move
a model's output.

Backends: :class:`HuggingFaceLM` (transformers causal LMs, PyTorch), :class:`OpenAICompatible` (any server
speaking the OpenAI HTTP protocol), the embedded MiniLM (pure JAX, offline). Task: :class:`PromptTask`.
Heavy dependencies (torch, transformers) are imported only when a backend is built.
"""

from __future__ import annotations

from spexjax.llm.protocols import LanguageModel, TextScorer, Tokenizing

__all__ = ["LanguageModel", "TextScorer", "Tokenizing"]
