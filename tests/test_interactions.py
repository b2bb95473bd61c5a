"""The Interactions object: indices, top, names, repr, save/load (all format versions), plots."""

from __future__ import annotations

import gzip
import json
import os

import numpy as np
import pytest

from spexjax import Interactions
from spexjax.indices import fourier_to_index, mobius_to_fourier
from spexjax.interactions import FORMAT_VERSION, padded_to_supports, supports_to_padded

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
NAMES = ["this", "movie", "is", "not", "bad", "at", "all"]


@pytest.fixture
def result() -> Interactions:
    mob = {(): 0.5, (4,): -1.0, (3, 4): 2.0, (0,): 0.25, (1, 5, 6): -0.4, (2,): 0.05}
    return Interactions.from_mobius(
        7, list(mob), list(mob.values()), queries=321, feature_names=NAMES, meta={"algorithm": "test"}
    )


def test_mobius_roundtrip_and_baseline(result):
    sup, coef = result.mobius()
    mob = dict(zip(sup, coef, strict=True))
    assert mob[(3, 4)] == pytest.approx(2.0) and mob[(1, 5, 6)] == pytest.approx(-0.4)
    assert result.baseline == pytest.approx(0.5)
    assert result.moebius()[0] == sup
    assert result.max_degree == 3
    x = np.zeros((1, 7), dtype=bool)
    assert result.predict(x)[0] == pytest.approx(result.baseline)
    x = np.ones((1, 7), dtype=bool)
    assert result.predict(x)[0] == pytest.approx(sum(mob.values()))


def test_index_matches_module_functions(result):
    fs, fc = result.fourier()
    for name, k in [("SII", 2), ("k-SII", 2), ("STII", 3), ("FSII", 1), ("FBII", 2), ("SV", None), ("BV", 4)]:
        got = result.index(name, k)
        s, v = fourier_to_index(fs, fc, name, k if k is not None else result.n)
        assert got == pytest.approx(dict(zip(s, v, strict=True)), abs=1e-12)
    # the caller owns the dict it gets
    d = result.index("SV")
    d[(0,)] = 99.0
    assert result.index("SV")[(0,)] != 99.0


def test_index_semantics(result):
    sv = result.index("SV")
    assert sv[()] == pytest.approx(result.baseline)  # SV's empty value is the baseline, as in shapiq
    full = result.predict(np.ones((1, 7), dtype=bool))[0]
    assert sum(v for k, v in sv.items() if k) == pytest.approx(full - result.baseline)
    assert set(result.index("k-SII", 2, min_order=2)) <= {k for k in result.index("k-SII", 2) if len(k) == 2}
    with pytest.raises(ValueError, match="index must be one of"):
        result.index("Shapley", 2)
    with pytest.raises(ValueError, match="order must be >= 0"):
        result.index("SII", -2)
    with pytest.raises(ValueError, match="min_order must be >= 0"):
        result.index("SII", 2, min_order=-1)


def test_top_and_names(result):
    top = result.top(3)
    assert [s for s, _ in top] == [(3, 4), (4,), (1, 5, 6)]
    assert top[0][1] == pytest.approx(2.0)
    named = result.top(2, names=True)
    assert named[0][0] == ("not", "bad") and named[1][0] == ("bad",)
    assert result.name((3, 4)) == ("not", "bad")
    assert all(len(s) == 2 for s, _ in result.top(5, index="k-SII", order=2, min_order=2))
    assert result.top(0) == []
    assert result.top(3, min_order=0)[0][0] == (3, 4)
    with pytest.raises(ValueError, match="k must be >= 0"):
        result.top(-1)
    with pytest.raises(TypeError, match="k must be an int"):
        result.top(2.5)
    anon = Interactions(3, [(0, 2)], [1.0])
    assert anon.name((0, 2)) == ("0", "2")


def test_repr_shows_named_top_terms(result):
    text = repr(result)
    assert text.startswith("Interactions(n=7, terms=")
    assert "queries=321" in text
    assert "(not, bad)" in text and "+2" in text
    assert repr(Interactions(4, [], [])).startswith("Interactions(n=4, terms=0")


def test_constructor_validation():
    with pytest.raises(ValueError, match="feature_names must have n=3"):
        Interactions(3, [(0,)], [1.0], feature_names=["a"])
    with pytest.raises(TypeError, match="feature_names"):
        Interactions(3, [(0,)], [1.0], feature_names="abc")
    with pytest.raises(ValueError, match="outside"):
        Interactions(3, [(0, 3)], [1.0])
    with pytest.raises(ValueError, match="same length"):
        Interactions(3, [(0,)], [1.0, 2.0])
    with pytest.raises(ValueError, match="n must be >= 1"):
        Interactions(0, [], [])
    r = Interactions(3, [(1, 0), (0, 1)], [1.0, 2.0])  # duplicates merge, supports get sorted
    assert r.fourier()[0] == [(0, 1)] and r.fourier()[1].tolist() == [3.0]


def test_padded_helpers():
    sup = [(), (3,), (5, 1, 2)]
    padded = supports_to_padded(sup)
    assert padded.tolist() == [[-1, -1, -1], [3, -1, -1], [1, 2, 5]]
    assert padded_to_supports(padded) == [(), (3,), (1, 2, 5)]


# -- persistence ---------------------------------------------------------------------------------------


def _assert_identical(a: Interactions, b: Interactions) -> None:
    fa, fb = a.fourier(), b.fourier()
    assert fa[0] == fb[0]
    assert fa[1].tobytes() == fb[1].tobytes()  # bit for bit
    assert (a.n, a.queries, a.feature_names, a.meta) == (b.n, b.queries, b.feature_names, b.meta)


@pytest.mark.parametrize("suffix", [".json", ".json.gz"])
def test_save_load_lossless(tmp_path, suffix):
    rng = np.random.default_rng(3)
    n = 50
    sup = [tuple(sorted(rng.choice(n, size=int(d), replace=False).tolist())) for d in rng.integers(0, 6, 200)]
    coef = rng.normal(size=len(sup)) * 10.0 ** rng.integers(-300, 300, len(sup))
    meta = {"algorithm": "spex", "plan": {"b": 8, "t": 5}, "seconds": 1.25, "flags": [True, None]}
    r = Interactions(n, sup, coef, queries=4242, feature_names=[f"w{i}" for i in range(n)], meta=meta)
    path = tmp_path / f"r{suffix}"
    r.save(path)
    back = Interactions.load(str(path))
    _assert_identical(r, back)
    opener = gzip.open if suffix.endswith(".gz") else open
    with opener(path, "rt") as fh:
        doc = json.load(fh)
    assert doc["format"] == "spexjax.Interactions" and doc["version"] == FORMAT_VERSION


def test_save_numpy_meta(tmp_path):
    r = Interactions(2, [(0,)], [1.0], meta={"arr": np.arange(3), "x": np.float32(0.5), "obj": object})
    r.save(tmp_path / "m.json")
    meta = Interactions.load(tmp_path / "m.json").meta
    assert meta["arr"] == [0, 1, 2] and meta["x"] == 0.5 and "object" in meta["obj"]


def test_load_format_v0_fixture():
    r = Interactions.load(os.path.join(FIXTURES, "interactions_v0.json"))
    assert r.n == 4 and r.queries == 0 and r.feature_names is None
    assert dict(zip(*r.fourier(), strict=True)) == {
        (): 0.25,
        (0,): -1.5,
        (1, 3): 0.3333333333333333,
        (0, 2, 3): 2.0000000000000004,
    }


def test_load_format_v1_fixture(tmp_path):
    r = Interactions.load(os.path.join(FIXTURES, "interactions_v1.json"))
    assert r.n == 5 and r.queries == 1234
    assert dict(zip(*r.fourier(), strict=True)) == {
        (): 1.0,
        (2,): 0.1,
        (0, 4): -0.7071067811865476,
        (1, 2, 3): 3.141592653589793,
    }
    # re-saving upgrades to the current version without loss
    r.save(tmp_path / "up.json")
    _assert_identical(r, Interactions.load(tmp_path / "up.json"))


def test_load_rejects_bad_files(tmp_path):
    (tmp_path / "new.json").write_text(json.dumps({"format": "spexjax.Interactions", "version": 99, "n": 1}))
    with pytest.raises(ValueError, match="newer"):
        Interactions.load(tmp_path / "new.json")
    (tmp_path / "other.json").write_text(json.dumps({"format": "something", "version": 1}))
    with pytest.raises(ValueError, match="not a spexjax.Interactions"):
        Interactions.load(tmp_path / "other.json")
    (tmp_path / "short.json").write_text(json.dumps({"format": "spexjax.Interactions", "version": 2, "n": 3}))
    with pytest.raises(ValueError, match="supports"):
        Interactions.load(tmp_path / "short.json")
    (tmp_path / "junk.json").write_text("not json")
    with pytest.raises(ValueError, match="not a spexjax JSON"):
        Interactions.load(tmp_path / "junk.json")


# -- plots ------------------------------------------------------------------------------------------------


def _is_png(path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(8) == b"\x89PNG\r\n\x1a\n"


def test_plots_write_png(tmp_path, result):
    pytest.importorskip("matplotlib")
    fig = result.plot("bar", k=4, path=tmp_path / "bar.png")
    assert _is_png(tmp_path / "bar.png")
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert "not × bad" in labels
    result.plot("network", path=tmp_path / "net.png")
    assert _is_png(tmp_path / "net.png")
    # no pairwise terms: the graph falls back to single features; ax= draws into a given axes
    from matplotlib.figure import Figure

    ax = Figure().subplots()
    single = Interactions(3, [(0,), (2,)], [1.0, -2.0])
    assert single.plot("network", ax=ax) is ax.figure
    with pytest.raises(ValueError, match="kind must be"):
        result.plot("pie")


def test_mobius_fourier_consistency_with_testing_functions():
    from spexjax.testing import SparseMobius

    f = SparseMobius(6, [(0, 1), (2,), (1, 3, 5)], [1.0, -2.0, 0.5])
    r = Interactions(6, f.supports, f.coeffs)
    x = np.random.default_rng(0).random((20, 6)) < 0.5
    assert np.allclose(r.predict(x), f(x))
    fs, fc = mobius_to_fourier(f.mobius_supports, f.mobius_coeffs)
    assert dict(zip(fs, fc, strict=True)) == pytest.approx(dict(zip(*r.fourier(), strict=True)))
