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


# -- lenses: training images (data attribution) and a layers x heads grid (attention heads) -------------
import numpy as np  # noqa: E402

EVIL = '<script>alert("x")</script> & <b onmouseover="y">'


def digit_images(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` synthetic 8x8 grey 'digits' in [0, 1] (a bar at a label-dependent place plus noise) and labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    imgs = 0.15 * rng.random((n, 8, 8))
    for i, y in enumerate(labels):
        imgs[i, :, y % 8] = 0.9
        imgs[i, y // 2 % 8, :] = 0.6
    return imgs.astype(np.float32), labels.astype(np.int64)


def data_result(n: int = 60, names: list[str] | None = None) -> spexjax.Interactions:
    """A data-attribution result over ``n`` training points: main effects of both signs, synergies, redundancies."""
    supports = [(), (3,), (7,), (11,), (20,), (5,), (3, 7), (11, 20), (5, 9), (2, 30, 41), (1, 4), (8, 12, 13, 14)]
    coeffs = [0.4, 1.2, 0.8, -0.6, -0.3, 0.05, -0.7, 0.5, 0.35, -0.25, 0.2, 0.15]
    return spexjax.Interactions.from_mobius(
        n, supports, coeffs, queries=900,
        feature_names=names or [f"train[{i}]" for i in range(n)],
        meta={"provenance": {"model": "logistic retrained per mask", "title": "Attributing a test image",
                             "budget": 1000}, "faithfulness_r2": 0.91, "faithfulness_masks": 100},
    )


def heads_result(layers: int = 4, heads: int = 6, names: list[str] | None = None) -> spexjax.Interactions:
    """A head-attribution result: every head has a main effect, pairs within and across layers, one triple."""
    n = layers * heads
    rng = np.random.default_rng(3)
    supports = [()] + [(i,) for i in range(n)] + [(0, 2), (1, heads + 1), (heads, heads + 3, heads + 4)]
    coeffs = [0.2, *(0.1 * rng.standard_normal(n)), 0.3, -0.25, 0.12]
    if names is None:
        names = [f"L{a}H{b}" for a in range(layers) for b in range(heads)]
    return spexjax.Interactions.from_mobius(
        n, supports, coeffs, queries=600, feature_names=names,
        meta={"provenance": {"model": "embedded MiniLM-L6 (JAX)", "target": "logprob on the fit split"}},
    )
