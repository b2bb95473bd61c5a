"""One exception class per kind of mistake, the same from every entry point (spexjax/_checks.py)."""

from __future__ import annotations

import pytest

import spexjax
import spexjax.baselines as bl
from spexjax.errors import ArgumentError, ArgumentTypeError, BudgetError, SpexError
from spexjax.plans import make_plan
from spexjax.testing import SparseFourier

F = SparseFourier(6, [(0,)], [1.0])

DEGREE_ENTRIES = {
    "spex": lambda d: spexjax.spex(F, 6, budget=5000, max_degree=d),
    "proxyspex": lambda d: spexjax.proxyspex(F, 6, budget=100, max_degree=d),
    "make_plan": lambda d: make_plan(6, 5000, d),
    "explain": lambda d: spexjax.explain(F, 6, method="spex", budget=5000, max_degree=d),
}


@pytest.mark.parametrize("entry", list(DEGREE_ENTRIES))
def test_max_degree_mistakes_raise_the_same_class_everywhere(entry):
    with pytest.raises(ArgumentError, match="max_degree must be an int >= 1; got 0") as info:
        DEGREE_ENTRIES[entry](0)
    assert isinstance(info.value, SpexError) and isinstance(info.value, ValueError)
    with pytest.raises(ArgumentTypeError, match="max_degree must be an int >= 1; got '3'") as info:
        DEGREE_ENTRIES[entry]("3")
    assert isinstance(info.value, TypeError)


BUDGET_ENTRIES = {
    "spex": lambda b: spexjax.spex(F, 6, budget=b),
    "spex target_r2": lambda b: spexjax.spex(F, 6, budget=b, target_r2=0.9),
    "proxyspex": lambda b: spexjax.proxyspex(F, 6, budget=b),
    "lime": lambda b: bl.lime(F, 6, budget=b),
    "faith_shap": lambda b: bl.faith_shap(F, 6, budget=b),
    "explain": lambda b: spexjax.explain(F, 6, method="banzhaf", budget=b),
}


@pytest.mark.parametrize("entry", list(BUDGET_ENTRIES))
def test_budget_of_the_wrong_type_is_one_type_error(entry):
    with pytest.raises(ArgumentTypeError, match=r"budget must be an int \(number of value-function rows\); got str"):
        BUDGET_ENTRIES[entry]("lots")


def test_budget_below_the_minimum_is_a_budget_error():
    with pytest.raises(BudgetError, match="budget must be >= 0; got -1"):
        spexjax.proxyspex(F, 6, budget=-1)
    with pytest.raises(BudgetError, match="too small for lime: it needs at least 2"):
        bl.lime(F, 6, budget=1)


def test_choices_numbers_and_finite_arrays():
    with pytest.raises(ArgumentError, match=r"decoder must be one of \('soft', 'hard'\); got 'magic'"):
        spexjax.spex(F, 6, decoder="magic")
    with pytest.raises(ArgumentError, match="refine must be 'ridge', 'lasso', 'ols' or None"):
        spexjax.proxyspex(F, 6, budget=100, refine="magic")
    with pytest.raises(ArgumentTypeError, match="dense must be True or False; got int"):
        spexjax.spex(F, 6, dense=1)
    with pytest.raises(ArgumentError, match=r"target_r2 must be a number in \(0, 1\] or None; got 1.5"):
        spexjax.spex(F, 6, target_r2=1.5)
    with pytest.raises(ArgumentError, match="coeffs must be finite"):
        SparseFourier(6, [(0,)], [float("nan")])
    with pytest.raises(ArgumentError, match="feature_names must have n=6 entries; got 2"):
        spexjax.spex(F, 6, feature_names=["a", "b"])
    with pytest.raises(ArgumentError, match="faithfulness must be an int >= 0; got -1"):
        spexjax.explain(F, 6, budget=100, faithfulness=-1)
