"""Agreement with shapiq (ExactComputer, MoebiusConverter) and the shapiq Approximator adapter.

Runs only where shapiq is installed (``/opt/py312/bin/python -m pytest tests/test_shapiq_integration.py``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

shapiq = pytest.importorskip("shapiq")

from shapiq.approximator.base import Approximator  # noqa: E402
from shapiq.game_theory.exact import ExactComputer  # noqa: E402
from shapiq.game_theory.moebius_converter import MoebiusConverter  # noqa: E402

from spexjax import Interactions  # noqa: E402
from spexjax.indices import INDICES, mobius_to_index  # noqa: E402
from spexjax.integrations import shapiq as shapiq_adapter  # noqa: E402
from spexjax.integrations.shapiq import SpexApproximator, from_interaction_values  # noqa: E402
from spexjax.testing import SparseFourier, SparseMobius  # noqa: E402

TOL = 1e-8
CONVERTER_INDICES = ("SII", "BII", "k-SII", "STII", "FSII", "FBII", "SV", "BV")


def _random_supports(rng, n, terms):
    out = {()}
    while len(out) < terms + 1:
        d = int(rng.integers(1, n + 1))
        out.add(tuple(sorted(rng.choice(n, size=d, replace=False).tolist())))
    return sorted(out, key=lambda s: (len(s), s))


def _game(f):
    return lambda coalitions: np.asarray(f(np.asarray(coalitions, dtype=bool)), dtype=np.float64)


def _assert_same(mine: dict, ref: dict, skip_empty: bool = False, tol: float = TOL) -> None:
    keys = (set(mine) | set(ref)) - ({()} if skip_empty else set())
    bad = {k: (mine.get(k, 0.0), ref.get(k, 0.0)) for k in keys if abs(mine.get(k, 0.0) - ref.get(k, 0.0)) > tol}
    assert not bad, f"{len(bad)} mismatches, e.g. {list(bad.items())[:3]}"


def _tol(index: str, ref: dict) -> float:
    """1e-8, except against ExactComputer's FSII: a big-M weighted least squares, good to ~1e-8 relative
    only (our FSII matches the exact KKT solution to 1e-10 in test_indices and MoebiusConverter to 1e-8)."""
    if index != "FSII":
        return TOL
    return 1e-7 * max([1.0] + [abs(v) for v in ref.values()])


@pytest.fixture(scope="module", params=["mobius", "fourier"])
def game7(request):
    """A random n = 7 game given as an exact Möbius or Fourier expansion, with its ExactComputer."""
    rng = np.random.default_rng(8)
    n = 7
    sup = _random_supports(rng, n, 12)
    coef = rng.normal(size=len(sup))
    if request.param == "mobius":
        f = SparseMobius(n, sup, coef)
        result = Interactions.from_mobius(n, sup, coef)
    else:
        f = SparseFourier(n, sup, coef)
        result = Interactions(n, sup, coef)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exact = ExactComputer(_game(f), n_players=n)
    return n, result, exact


@pytest.mark.parametrize("index", INDICES)
def test_every_index_every_order_matches_exact_computer(game7, index):
    n, result, exact = game7
    for order in range(1, n + 1):
        if index in ("SV", "BV") and order > 1:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = dict(exact(index, order).interactions)
        if index in ("Moebius", "Fourier"):  # ExactComputer ignores the order for these; we truncate
            ref = {k: v for k, v in ref.items() if len(k) <= order}
        _assert_same(result.index(index, order), ref, tol=_tol(index, ref))


def test_n12_all_orders_match_moebius_converter():
    rng = np.random.default_rng(12)
    n = 12
    sup = _random_supports(rng, n, 40)
    coef = rng.normal(size=len(sup))
    mob = shapiq.InteractionValues(
        values={s: float(c) for s, c in zip(sup, coef, strict=True)},
        index="Moebius",
        max_order=n,
        min_order=0,
        n_players=n,
        baseline_value=float(coef[0]),
    )
    converter = MoebiusConverter(mob)
    result = Interactions.from_mobius(n, sup, coef)
    for index in CONVERTER_INDICES:
        for order in (1, 2, 3, 5, 8, 11, 12) if index not in ("SV", "BV") else [1]:
            ref = dict(converter(index, order).interactions)
            # the converter leaves out () for SII/BII/SV/BV; ExactComputer (our convention) defines it
            skip = index in ("SII", "BII", "SV", "BV")
            _assert_same(result.index(index, order), ref, skip_empty=skip)
            s, v = mobius_to_index(sup, coef, index, order)
            _assert_same(dict(zip(s, v, strict=True)), ref, skip_empty=skip)


def test_n12_low_orders_match_exact_computer():
    rng = np.random.default_rng(121)
    n = 12
    sup = _random_supports(rng, n, 25)
    coef = rng.normal(size=len(sup))
    f = SparseFourier(n, sup, coef)
    result = Interactions(n, sup, coef)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exact = ExactComputer(_game(f), n_players=n)
        # k-SII first: it leaves SII in ExactComputer's cache
        for index, order in [("k-SII", 2), ("SII", 2), ("STII", 2), ("FBII", 2), ("BV", 1), ("SV", 1)]:
            _assert_same(result.index(index, order), dict(exact(index, order).interactions))
        ref = dict(exact("FSII", 2).interactions)
        _assert_same(result.index("FSII", 2), ref, tol=_tol("FSII", ref))


def test_to_shapiq_matches_exact_computer_object(game7):
    n, result, exact = game7
    for index, order in [("k-SII", 2), ("SII", 3), ("STII", 2), ("FSII", 2), ("FBII", 2), ("SV", 1), ("BV", 1)]:
        iv = result.to_shapiq(index, order)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = exact(index, order)
        assert isinstance(iv, shapiq.InteractionValues)
        assert (iv.index, iv.max_order, iv.min_order, iv.n_players) == (ref.index, ref.max_order, 0, n)
        assert iv.baseline_value == pytest.approx(ref.baseline_value, abs=TOL)
        _assert_same(dict(iv.interactions), dict(ref.interactions), tol=_tol(index, ref.interactions))
        assert iv.estimated and iv.estimation_budget == result.queries
    top = result.to_shapiq("STII", 3, min_order=3)
    assert all(len(k) == 3 for k in top.interactions)


def test_from_shapiq_roundtrip(game7):
    n, result, exact = game7
    back = Interactions.from_shapiq(result.to_shapiq("Moebius"))
    assert back.n == n
    ref = dict(zip(*result.fourier(), strict=True))
    _assert_same(dict(zip(*back.fourier(), strict=True)), ref, tol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from_exact = from_interaction_values(exact("Moebius", n))
        fourier = Interactions.from_shapiq(exact("Fourier", n), feature_names=[f"f{i}" for i in range(n)])
    _assert_same(dict(zip(*from_exact.fourier(), strict=True)), ref, tol=TOL)
    _assert_same(dict(zip(*fourier.fourier(), strict=True)), ref, tol=TOL)
    assert fourier.name((0, 1)) == ("f0", "f1")
    with pytest.raises(ValueError, match="Moebius"):
        Interactions.from_shapiq(result.to_shapiq("k-SII", 2))
    with pytest.raises(TypeError, match="InteractionValues"):
        Interactions.from_shapiq({(): 1.0})


# -- the Approximator adapter ------------------------------------------------------------------------------


class _SparseGame(shapiq.Game):
    def __init__(self, f, names=None):
        self.f = f
        super().__init__(n_players=f.n, normalize=False, player_names=names)

    def value_function(self, coalitions):
        return np.asarray(self.f(np.asarray(coalitions, dtype=bool)), dtype=np.float64)


@pytest.fixture
def fake_engine(monkeypatch):
    """Stand-in for spexjax.spex/proxyspex: returns the exact expansion of the game it is given."""
    calls = []

    def make(algorithm):
        def engine(value_fn, n, *, budget, max_degree=5, key=0, **options):
            calls.append({"algorithm": algorithm, "n": n, "budget": budget, "max_degree": max_degree, "key": key,
                          **options})
            f = value_fn.game.f if hasattr(value_fn.game, "f") else None
            x = np.zeros((1, n), dtype=bool)
            assert np.asarray(value_fn(x)).shape == (1,)
            return Interactions(n, f.supports, f.coeffs, queries=budget // 2, meta={"algorithm": algorithm})

        return engine

    # the adapter binds the engines from their modules (it sits below the package root): patch them there
    monkeypatch.setattr(shapiq_adapter, "spex", make("spex"))
    monkeypatch.setattr(shapiq_adapter, "proxyspex", make("proxyspex"))
    return calls


def test_adapter_with_fake_engine(fake_engine):
    rng = np.random.default_rng(5)
    n = 8
    sup = _random_supports(rng, n, 10)
    f = SparseMobius(n, sup, rng.normal(size=len(sup)))
    game = _SparseGame(f, names=[f"p{i}" for i in range(n)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exact = ExactComputer(_game(f), n_players=n)

    approx = SpexApproximator(n, max_order=2, index="k-SII", random_state=3, max_degree=4, batch_size=64)
    assert isinstance(approx, Approximator)
    iv = approx(budget=1000, game=game)  # shapiq's __call__ -> approximate
    assert isinstance(iv, shapiq.InteractionValues)
    assert iv.index == "k-SII" and iv.max_order == 2 and iv.estimation_budget == 500
    _assert_same(dict(iv.interactions), dict(exact("k-SII", 2).interactions))
    call = fake_engine[-1]
    assert call == {"algorithm": "spex", "n": n, "budget": 1000, "max_degree": 4, "key": 3, "batch_size": 64,
                    "decoder": "soft"}
    assert approx.last_result.name((0, 2)) == ("p0", "p2")  # player names flow into the result

    top = SpexApproximator(n, max_order=3, index="STII", top_order=True, algorithm="proxyspex")
    iv = top.approximate(800, game)
    assert fake_engine[-1]["algorithm"] == "proxyspex" and "decoder" not in fake_engine[-1]
    assert iv.interactions and all(len(k) == 3 for k in iv.interactions)
    _assert_same(dict(iv.interactions), {k: v for k, v in exact("STII", 3).interactions.items() if len(k) == 3})

    sv = SpexApproximator(n, index="SV").approximate(100, game)
    assert sv.index == "SV" and sv.max_order == 1
    _assert_same(dict(sv.interactions), dict(exact("SV", 1).interactions))


def test_adapter_errors():
    with pytest.raises(ValueError, match="index must be one of"):
        SpexApproximator(4, index="Moebius")
    with pytest.raises(ValueError, match="algorithm"):
        SpexApproximator(4, algorithm="kernelshap")
    with pytest.raises(ValueError, match="max_order must be >= 1"):
        SpexApproximator(4, max_order=0)
    approx = SpexApproximator(4)
    with pytest.raises(ValueError, match="n_players"):
        approx.approximate(100, _SparseGame(SparseMobius(5, [(0,)], [1.0])))


def test_adapter_with_real_spex():
    """End to end with the real engine on a sparse game: the shapiq output is its result, converted."""
    pytest.importorskip("spexjax.spex")
    n = 12
    f = SparseMobius(n, [(0, 1), (2,), (3, 4, 5), (7, 9)], [1.0, -2.0, 0.5, 0.8])
    game = _SparseGame(f)
    approx = SpexApproximator(n, max_order=2, index="FSII", random_state=0, max_degree=3)
    iv = approx.approximate(3000, game)
    assert isinstance(iv, shapiq.InteractionValues) and iv.index == "FSII"
    res = approx.last_result
    assert 0 < res.queries <= 3000 and iv.estimation_budget == res.queries
    _assert_same(dict(iv.interactions), res.index("FSII", 2), tol=1e-12)
    # engine quality is tested elsewhere; here only that the planted interactions come through the adapter
    assert {s for s, _ in res.top(4)} == {(0, 1), (2,), (3, 4, 5), (7, 9)}
