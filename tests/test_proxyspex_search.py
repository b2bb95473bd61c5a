"""The LightGBM proxy's settings search (issue 24): shallow trees at the slow rate for noisy, dense spectra."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("lightgbm", reason="lightgbm is the default proxy's optional dependency")

import spexjax.testing as sjt  # noqa: E402
from spexjax.metrics import faithfulness  # noqa: E402
from spexjax.proxies.lgbm import SEARCH_GRID  # noqa: E402
from spexjax.proxyspex import proxyspex, uniform_masks  # noqa: E402


def test_search_picks_slow_shallow_trees_on_a_noisy_function() -> None:
    """Degree-5 hierarchical function with 10 dB noise, 1,000 samples: the challenger (depth 4 = two below
    the default 6, rate 0.1) beats the best plain setting on the held-out rows clearly enough to be kept, and
    the result is more faithful than with the setting the search chose before (depth 4 at rate 0.3: R^2 0.925
    against 0.940 now). Still four fits."""
    assert len(SEARCH_GRID) == 4
    n = 128
    f = sjt.random_hierarchical_mobius(n, 8, 5, key=11)
    xt = uniform_masks(9, 2000, n)
    x = uniform_masks(3, 1000, n)
    y = f(x) + np.random.default_rng(1).normal(0.0, 0.316 * np.std(f(xt)), len(x))
    new = proxyspex(f, n, budget=0, samples=(x, y), max_degree=5, key=0)
    old = proxyspex(f, n, budget=0, samples=(x, y), max_degree=5, key=0, search=False,
                    proxy_params={"learning_rate": 0.3, "max_depth": 4})
    params = new.meta["proxy"]["params"]
    assert (params["learning_rate"], params["max_depth"]) == (0.1, 4)
    assert new.meta["proxy"]["valid_l2"] < old.meta["proxy"]["valid_l2"]
    assert faithfulness(new, f, xt) > faithfulness(old, f, xt) + 0.01
