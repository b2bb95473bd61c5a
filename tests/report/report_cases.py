"""Shared case of the report tests: a hand-made double-negation result with names and provenance.

A helper module, not a conftest.py: test folders have no __init__.py, so every conftest would be imported as
the one module ``conftest`` and clash with the other folders' (tests/llm imports names from its own).
"""

from __future__ import annotations

import spexjax

WORDS = "The movie was not bad at all".split()


def double_negation(text_extra: str = "") -> spexjax.Interactions:
    """Möbius terms of a clean double negation: 'not' and 'bad' lower the score alone, raise it together."""
    supports = [(), (3,), (4,), (3, 4), (5, 6), (3, 5, 6), (1,)]
    coeffs = [-0.2, -0.3, -0.6, 1.1, 0.1, 0.25, 0.05]
    prov = {
        "text": "The movie was not bad at all" + text_extra,
        "model": "embedded:minilm-zero-shot",
        "target": "log-odds of 'positive'",
        "budget": 2000,
        "seconds": 3.25,
        "fingerprint": "0123abcd",
        "method": "spex",
    }
    return spexjax.Interactions.from_mobius(
        7, supports, coeffs, queries=1234, feature_names=WORDS,
        meta={"provenance": prov, "faithfulness_r2": 0.9731, "faithfulness_masks": 100},
    )
