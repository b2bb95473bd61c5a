"""`spexjax.explain`: the one pipeline (method -> held-out R² through the same runner -> provenance)."""

from __future__ import annotations

import numpy as np
import pytest

import spexjax
from spexjax.pipeline import faithfulness_masks
from spexjax.runs import QueryCache
from spexjax.testing import SparseMobius, random_sparse_fourier


class Counting:
    """A value function that counts the rows it is asked for (so we can see who paid what)."""

    def __init__(self, f):
        self.f, self.n, self.rows = f, f.n, 0

    def fingerprint(self) -> str:
        return "counting:" + self.f.fingerprint()

    def __call__(self, masks):
        self.rows += len(masks)
        return self.f(np.asarray(masks, dtype=bool))


def test_explain_spex_measures_faithfulness_on_held_out_masks():
    f = random_sparse_fourier(10, 6, 2, key=3)
    counted = Counting(f)
    r = spexjax.explain(counted, method="spex", budget=2000, max_degree=2, key=1, faithfulness=64)
    assert r.meta["faithfulness_r2"] == pytest.approx(1.0, abs=1e-9)
    assert r.meta["faithfulness_masks"] == 64 and r.meta["faithfulness_queries"] == 64
    assert r.queries <= 2000
    # the method's rows plus the held-out rows, nothing else
    assert counted.rows == r.queries + 64
    prov = r.meta["provenance"]
    assert prov["method"] == "spex" and prov["budget"] == 2000 and prov["queries"] == r.queries
    assert prov["fingerprint"] == counted.fingerprint()
    # the R² is the one a user would compute by hand on the same masks
    masks = faithfulness_masks(1, 64, 10)
    assert spexjax.faithfulness(r, f, masks) == pytest.approx(r.meta["faithfulness_r2"])


def test_explain_faithfulness_rows_go_through_the_cache(tmp_path):
    # n = 30: 2^30 masks, so the method's and the held-out draws do not coincide by chance
    f = SparseMobius(30, [(), (0,), (1, 2), (3, 4, 5)], [1.0, 2.0, -1.5, 0.7])
    path = tmp_path / "run.sqlite"
    counted = Counting(f)
    r1 = spexjax.explain(counted, method="banzhaf", budget=100, key=0, faithfulness=50, cache=str(path),
                         feature_names=[f"w{i}" for i in range(30)])
    assert r1.meta["faithfulness_cache_hits"] == 0
    first = counted.rows
    assert first == r1.queries + 50
    r2 = spexjax.explain(counted, method="banzhaf", budget=100, key=0, faithfulness=50, cache=str(path))
    assert counted.rows == first  # everything answered by the cache, held-out rows included
    assert r2.meta["faithfulness_cache_hits"] == 50
    assert r2.meta["faithfulness_r2"] == pytest.approx(r1.meta["faithfulness_r2"])
    assert r1.feature_names == [f"w{i}" for i in range(30)]
    with QueryCache(str(path)) as cache:
        assert len(cache) >= 50


def test_explain_uses_value_fn_n_and_names_and_skips_faithfulness_on_zero():
    f = SparseMobius(6, [(), (1,)], [0.5, 1.0])

    class Named:
        n = 6
        feature_names = list("abcdef")

        def __call__(self, masks):
            return f(masks)

    r = spexjax.explain(Named(), method="kernel_shap", budget=64, faithfulness=0)
    assert r.feature_names == list("abcdef")
    assert "faithfulness_r2" not in r.meta
    assert r.index("SV", 1)[(1,)] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("kwargs", "exc", "text"),
    [
        ({"method": "shap"}, ValueError, "method"),
        ({"method": "banzhaf", "max_degree": 2}, ValueError, "max_degree"),
        ({"faithfulness": -1}, ValueError, "faithfulness"),
        ({"faithfulness": 1.5}, TypeError, "faithfulness"),
        ({"bogus_option": 1}, TypeError, "bogus_option"),
    ],
)
def test_explain_bad_arguments_fail_before_any_query(kwargs, exc, text):
    f = SparseMobius(5, [()], [1.0])
    counted = Counting(f)
    args = {"method": "banzhaf", "budget": 64, **kwargs}
    with pytest.raises(exc, match=text):
        spexjax.explain(counted, **args)
    assert counted.rows == 0


def test_explain_needs_n_without_value_fn_n():
    with pytest.raises(TypeError, match="n is required"):
        spexjax.explain(lambda m: np.zeros(len(m)), method="banzhaf", budget=10)
