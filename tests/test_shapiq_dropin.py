"""SpexApproximator as a shapiq user swapping it in finds it (issue 22, point 6): each difference from
shapiq 1.8's SPEX / ProxySPEX either matched or documented (and then checked against ``ExactComputer``).

Runs where shapiq is installed (Python >= 3.12): ``python3.12 -m pytest tests/test_shapiq_dropin.py``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

shapiq = pytest.importorskip("shapiq")

from shapiq.game_theory.exact import ExactComputer  # noqa: E402

from spexjax import Interactions  # noqa: E402
from spexjax.errors import BudgetError  # noqa: E402
from spexjax.integrations import shapiq as adapter  # noqa: E402
from spexjax.integrations.shapiq import SpexApproximator  # noqa: E402
from spexjax.testing import SparseMobius  # noqa: E402

N = 8
F = SparseMobius(N, [(), (0, 1), (2,), (3, 4, 5), (1, 6), (0, 2, 7)], [-0.5, 1.0, -2.0, 0.7, 0.4, -0.9])


def game(coalitions):
    return F(np.asarray(coalitions, dtype=bool))


@pytest.fixture(scope="module")
def exact():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ExactComputer(game, n_players=N)


@pytest.fixture
def exact_engine(monkeypatch):
    """The engines replaced by one that returns the game's exact expansion (the adapter's own logic is tested;
    the engines are tested elsewhere), recording every call."""
    calls = []

    def make(name):
        def engine(value_fn, n, *, budget, max_degree=5, key=0, **options):
            calls.append({"algorithm": name, "budget": budget, "max_degree": max_degree, **options})
            return Interactions(n, F.supports, F.coeffs, queries=budget)  # SparseMobius keeps Fourier terms

        return engine

    monkeypatch.setattr(adapter, "spex", make("spex"))
    monkeypatch.setattr(adapter, "proxyspex", make("proxyspex"))
    return calls


def _same(mine, ref, tol=1e-9):
    keys = set(mine) | set(ref)
    bad = {k: (mine.get(k, 0.0), ref.get(k, 0.0)) for k in keys if abs(mine.get(k, 0.0) - ref.get(k, 0.0)) > tol}
    assert not bad, list(bad.items())[:3]


def test_decoder_type_any_case_checked_at_construction() -> None:
    assert SpexApproximator(N, decoder_type="Soft").decoder == "soft"
    assert SpexApproximator(N, decoder_type="HARD").decoder == "hard"
    assert SpexApproximator(N, decoder="Hard").decoder == "hard"
    with pytest.raises(ValueError, match="decoder_type"):
        SpexApproximator(N, decoder_type="bch")  # before any approximate() call, like shapiq
    assert SpexApproximator(N, degree_parameter=3).max_degree == 3


def test_max_order_none_means_n() -> None:
    assert SpexApproximator(N, max_order=None).max_order == N
    assert SpexApproximator(N, max_order=None, index="SV").max_order == 1


def test_small_budget_lowers_the_degree_with_a_warning(exact_engine) -> None:
    with pytest.warns(UserWarning, match="max_degree=2"):
        SpexApproximator(N, random_state=0).approximate(300, game)
    assert exact_engine[-1]["max_degree"] == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # enough budget: no warning, degree kept
        SpexApproximator(N, random_state=0).approximate(504, game)
    assert exact_engine[-1]["max_degree"] == 5


def test_small_budget_with_the_real_engine() -> None:
    """n = 8 at 300 queries: shapiq's SPEX works there (degree 2), and so does this one now."""
    with pytest.warns(UserWarning, match="max_degree"):
        iv = SpexApproximator(N, index="k-SII", random_state=0).approximate(300, game)
    assert 0 < iv.estimation_budget <= 300
    with pytest.raises(BudgetError):  # no degree fits: the engine's own message
        SpexApproximator(N, random_state=0).approximate(60, game)


def test_proxy_model_names_fall_back_to_lightgbm(exact_engine) -> None:
    for name in ("tree", "xgboost", "linear"):
        with pytest.warns(UserWarning, match="LightGBM"):
            approx = SpexApproximator(N, algorithm="proxyspex", proxy_model=name, random_state=0)
        approx.approximate(300, game)
        assert "proxy" not in exact_engine[-1]  # the default LightGBM proxy
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SpexApproximator(N, algorithm="proxyspex", proxy_model="LightGBM")
    with pytest.raises(ValueError, match="proxy_model"):
        SpexApproximator(N, algorithm="proxyspex", proxy_model="forest")
    from spexjax.proxies.lgbm import LightGBMProxy

    mine = LightGBMProxy(num_threads=1)
    SpexApproximator(N, algorithm="proxyspex", proxy_model=mine, random_state=0).approximate(300, game)
    assert exact_engine[-1]["proxy"] is mine
    with pytest.raises(TypeError, match="proxy_model"):
        SpexApproximator(N, algorithm="proxyspex", proxy_model=object())


def test_hpo_false_is_one_fit(exact_engine) -> None:
    SpexApproximator(N, algorithm="proxyspex", hpo=False, random_state=0).approximate(300, game)
    assert exact_engine[-1]["search"] is False
    SpexApproximator(N, algorithm="proxyspex", hpo=True, random_state=0).approximate(300, game)
    assert "search" not in exact_engine[-1]  # ProxySPEX's own default
    with pytest.raises(TypeError, match="hpo"):
        SpexApproximator(N, algorithm="proxyspex", hpo="yes")


def test_baseline_value_is_the_reported_empty_set_value(exact_engine, exact) -> None:
    iv = SpexApproximator(N, index="k-SII", random_state=0).approximate(600, game)
    assert iv.baseline_value == pytest.approx(exact("k-SII", 2)[()])
    assert iv.baseline_value == pytest.approx(float(game(np.zeros((1, N), bool))[0]))  # k-SII: iv[()] = v(empty)
    sii = SpexApproximator(N, index="SII", random_state=0).approximate(600, game)
    assert sii.baseline_value == pytest.approx(exact("SII", 2)[()])
    assert sii.baseline_value != pytest.approx(float(game(np.zeros((1, N), bool))[0]))  # iv[()], not v(empty)
    top = SpexApproximator(N, index="k-SII", top_order=True, random_state=0).approximate(600, game)
    assert top.baseline_value == 0.0  # () is not reported, as in shapiq


def test_top_order_k_sii_reports_only_the_top_order_exactly(exact_engine, exact) -> None:
    """Documented difference: shapiq documents top_order as 'only interactions of order max_order' and so do
    we; shapiq 1.8's SPEX returns orders 0..2 for k-SII with changed lower-order values."""
    iv = SpexApproximator(N, max_order=2, index="k-SII", top_order=True, random_state=0).approximate(600, game)
    got = dict(iv.interactions)
    assert got and all(len(k) == 2 for k in got)
    _same(got, {k: v for k, v in exact("k-SII", 2).interactions.items() if len(k) == 2})


def test_sv_with_max_order_2_is_the_shapley_value(exact_engine, exact) -> None:
    """Documented difference: SV is order 1; shapiq 1.8 labels the same values 'SII' with max_order=2."""
    iv = SpexApproximator(N, max_order=2, index="SV", random_state=0).approximate(600, game)
    assert iv.index == "SV" and iv.max_order == 1
    _same({k: v for k, v in iv.interactions.items() if k}, {k: v for k, v in exact("SV", 1).interactions.items() if k})


def test_k_sii_singletons_match_exact_computer(exact_engine, exact) -> None:
    iv = SpexApproximator(N, max_order=2, index="k-SII", random_state=0).approximate(600, game)
    _same(dict(iv.interactions), dict(exact("k-SII", 2).interactions))
