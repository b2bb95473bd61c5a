"""Against shapiq's ExactComputer (shapiq >= 1.8 needs Python >= 3.12; skipped where it is missing)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from spexjax import baselines

shapiq = pytest.importorskip("shapiq", reason="shapiq is not installed (it needs Python >= 3.12)")

N = 6


def game(masks):
    masks = np.asarray(masks, bool)
    x = masks.astype(float)
    return (
        0.3
        + x @ np.linspace(-1, 1, N)
        + 2.0 * x[:, 0] * x[:, 1]
        - 1.5 * x[:, 2] * x[:, 3] * x[:, 4]
        + np.sin(3 * x[:, 5] * x[:, 0] + x[:, 4])
    )


@pytest.fixture(scope="module")
def exact():
    return shapiq.ExactComputer(n_players=N, game=game)


CASES = [
    ("kernel_shap", "SV", 1),
    ("banzhaf", "BV", 1),
    ("faith_banzhaf", "FBII", 1),
    ("faith_banzhaf", "FBII", 2),
    ("faith_banzhaf", "FBII", 3),
    ("faith_shap", "FSII", 1),
    ("faith_shap", "FSII", 2),
    ("faith_shap", "FSII", 3),
]


@pytest.mark.parametrize(("method", "index", "order"), CASES)
def test_matches_shapiq_exact(exact, method, index, order):
    kw = {"order": order} if method.startswith("faith") else {}
    r = getattr(baselines, method)(game, N, budget=1 << N, **kw)
    ours = r.index(index, order)
    ref = exact(index=index, order=order)
    sups = [S for k in range(0, order + 1) for S in itertools.combinations(range(N), k)]
    got = np.array([ours.get(S, 0.0) for S in sups])
    want = np.array([float(ref[S]) for S in sups])
    np.testing.assert_allclose(got[1:], want[1:], atol=1e-8)  # every non-empty interaction
    # the empty interaction: shapiq's convention (its baseline_value / value of ())
    assert got[0] == pytest.approx(want[0], abs=1e-8)
