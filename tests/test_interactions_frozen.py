"""An Interactions result is frozen after construction; names and provenance go in at construction.

Why: results are shared (index caches, reports, saved files), so one changed after return would silently
disagree with what was saved or shown; the shapiq adapter used to set ``feature_names`` after the engine returned.
"""

from __future__ import annotations

import numpy as np
import pytest

from spexjax import Interactions


@pytest.fixture
def result() -> Interactions:
    return Interactions(3, [(), (0,), (1, 2)], [0.5, 1.0, -2.0], queries=7, meta={"algorithm": "test"})


@pytest.mark.parametrize("name", ["feature_names", "n", "queries", "meta", "_supports", "_coeffs", "new_attr"])
def test_setting_any_attribute_raises(result, name):
    with pytest.raises(AttributeError, match="frozen"):
        setattr(result, name, None)


def test_deleting_an_attribute_raises(result):
    with pytest.raises(AttributeError, match="frozen"):
        del result.meta


def test_replace_builds_a_new_result_with_names(result):
    before = result.index("Moebius")
    named = result.replace(feature_names=["a", "b", "c"])
    assert named is not result and result.feature_names is None
    assert named.feature_names == ["a", "b", "c"] and named.name((1, 2)) == ("b", "c")
    assert (named.n, named.queries, named.meta) == (result.n, result.queries, result.meta)
    sup, coef = named.fourier()
    ref_sup, ref_coef = result.fourier()
    assert sup == ref_sup and np.array_equal(coef, ref_coef)
    assert named.index("Moebius") == before
    again = named.replace(meta={"algorithm": "other"})
    assert again.feature_names == ["a", "b", "c"] and again.meta == {"algorithm": "other"}
    with pytest.raises(ValueError, match="feature_names must have n=3"):
        result.replace(feature_names=["a"])


def test_lazy_caches_still_work_on_a_frozen_result(result):
    masks = np.array([[True, False, True], [False, True, True]])
    first = result.predict(masks)  # fills the padded-support cache
    assert np.array_equal(result.predict(masks), first)
    assert result.top(1) == result.top(1)
