"""Ready-made value functions for the examples: words of a prompt, attention heads, training points.

Each is a :class:`spexjax.ValueFunction` with ``n``, ``feature_names`` and a stable ``fingerprint()`` (so
``cache=`` can resume a run). The text and head tasks need the ``text`` extra; the data task needs
scikit-learn. Nothing here is imported by the engine.
"""

from __future__ import annotations

from spexjax.tasks.data import DataAttributionTask, load_breast_cancer_split
from spexjax.tasks.heads import DEFAULT_SENTENCES, HeadAttributionTask
from spexjax.tasks.text import TextExplanationTask, explain_text, split_units

__all__ = [
    "DEFAULT_SENTENCES",
    "DataAttributionTask",
    "HeadAttributionTask",
    "TextExplanationTask",
    "explain_text",
    "load_breast_cancer_split",
    "split_units",
]
