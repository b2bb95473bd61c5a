"""QueryRunner: batching, cache accounting, retries, validation, non-finite policies, structured batches."""

from __future__ import annotations

import io

import numpy as np
import pytest
from runs_helpers import COEFFS, SUPPORTS, N, parity_sum, random_masks

from spexjax.errors import ValueFunctionError
from spexjax.runs import QueryCache, QueryRunner, make_executor
from spexjax.runs import runner as runner_mod
from spexjax.runs.progress import Progress
from spexjax.testing import SparseFourier
from spexjax.value_functions import AffineQueries


class Counting:
    def __init__(self, fn=parity_sum):
        self.fn = fn
        self.sizes: list[int] = []

    def __call__(self, masks):
        self.sizes.append(len(masks))
        return self.fn(masks)


class Delays:
    """Random delay bits (a DelaySource) for structured-batch tests."""

    def __init__(self, n: int, num_delays: int, seed: int = 0):
        self.num_delays = num_delays
        self.d = np.random.default_rng(seed).random((n, num_delays)) < 0.5
        self.d[:, 0] = False

    def bits(self, idx):
        return self.d[np.asarray(idx)]


def affine_queries(n=N, b=3, C=2, P=4, seed=0) -> AffineQueries:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 1 << b, size=(C, n), dtype=np.uint32)
    groups = np.stack(np.meshgrid(np.arange(C), np.arange(P), indexing="ij"), -1).reshape(-1, 2).astype(np.int32)
    return AffineQueries(hash_codes=codes, delays=Delays(n, P, seed), groups=groups, b=b)


def test_batching_respects_batch_size():
    f = Counting()
    r = QueryRunner(f, N, batch_size=16)
    X = random_masks(100)
    y = r.evaluate(X)
    assert f.sizes == [16] * 6 + [4]
    np.testing.assert_allclose(y, parity_sum(X))
    assert y.dtype == np.float64 and y.shape == (100,)
    assert (r.queries, r.evaluated, r.calls, r.cache_hits) == (100, 100, 7, 0)
    assert r.last_valid.shape == (100,) and r.last_valid.all()


def test_no_batch_size_is_one_call_and_empty_is_no_call():
    f = Counting()
    r = QueryRunner(f, N)
    r.evaluate(random_masks(50))
    assert f.sizes == [50]
    assert r.evaluate(np.zeros((0, N), bool)).shape == (0,)
    assert f.sizes == [50]


def test_accepts_jax_and_int_masks_and_jax_outputs():
    import jax.numpy as jnp

    X = random_masks(10)
    r = QueryRunner(lambda m: jnp.asarray(parity_sum(np.asarray(m))), N)
    np.testing.assert_allclose(r.evaluate(jnp.asarray(X)), parity_sum(X))
    np.testing.assert_allclose(r.evaluate(X.astype(np.int8)), parity_sum(X))


def test_cache_hit_miss_accounting_and_duplicates(tmp_path):
    f = Counting()
    path = tmp_path / "q.db"
    r = QueryRunner(f, N, batch_size=8, cache=path, fingerprint="parity")
    X = random_masks(20)
    X = np.concatenate([X, X[:5]])  # 5 repeats inside one call are evaluated once
    y = r.evaluate(X)
    np.testing.assert_allclose(y, parity_sum(X))
    assert sum(f.sizes) == 20 and r.evaluated == 20 and r.queries == 25
    y2 = r.evaluate(X[10:])
    np.testing.assert_allclose(y2, parity_sum(X[10:]))
    assert sum(f.sizes) == 20 and r.cache_hits == 15 and r.queries == 40
    # half known, half new
    Z = np.concatenate([X[:4], random_masks(6, seed=9)])
    Z = Z[~(Z[:, None, :] == X[None, :4, :]).all(-1).any(-1) | (np.arange(10) < 4)]
    r.evaluate(Z)
    assert r.cache_hits == 19 and sum(f.sizes) == 20 + len(Z) - 4


def test_cache_persists_across_runners(tmp_path):
    path = str(tmp_path / "sub" / "q.db")  # folder is created
    X = random_masks(64)
    with QueryRunner(Counting(), N, batch_size=10, cache=path, fingerprint="parity") as r1:
        y1 = r1.evaluate(X)
    f2 = Counting()
    r2 = QueryRunner(f2, N, batch_size=10, cache=path, fingerprint="parity")
    np.testing.assert_array_equal(r2.evaluate(X), y1)
    assert f2.sizes == [] and r2.cache_hits == 64 and r2.evaluated == 0
    # another fingerprint or another n is another namespace
    f3 = Counting()
    QueryRunner(f3, N, cache=path, fingerprint="other").evaluate(X)
    assert sum(f3.sizes) == 64
    cache = QueryCache(path)
    assert cache.count("parity|n=12") == 64 and len(cache) == 128


def test_value_function_fingerprint_is_used(tmp_path):
    vf = SparseFourier(N, SUPPORTS, COEFFS)
    r = QueryRunner(vf, N, cache=tmp_path / "q.db")
    assert r.fingerprint == vf.fingerprint()
    # an explicit fingerprint= wins (lets users start a fresh namespace)
    assert QueryRunner(vf, N, cache=tmp_path / "q.db", fingerprint="mine").fingerprint == "mine"


def test_cached_nan_reads_back_as_nan(tmp_path):
    def f(m):
        y = parity_sum(m)
        y[::3] = np.nan
        y[1] = np.inf
        return y

    X = random_masks(9)
    r1 = QueryRunner(f, N, cache=tmp_path / "q.db", fingerprint="f", on_nonfinite="drop")
    y1 = r1.evaluate(X)
    r2 = QueryRunner(Counting(), N, cache=tmp_path / "q.db", fingerprint="f", on_nonfinite="drop")
    y2 = r2.evaluate(X)
    assert r2.evaluated == 0
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(r1.last_valid, r2.last_valid)
    with pytest.raises(ValueFunctionError, match=r"stored in the cache.*rows \[0, 1, 3, 6\]"):
        QueryRunner(Counting(), N, cache=tmp_path / "q.db", fingerprint="f").evaluate(X)


def test_retry_with_backoff_then_success(monkeypatch, caplog):
    sleeps: list[float] = []
    monkeypatch.setattr(runner_mod.time, "sleep", sleeps.append)
    state = {"fails": 2}

    def flaky(m):
        if state["fails"]:
            state["fails"] -= 1
            raise ConnectionError("model server hiccup")
        return parity_sum(m)

    r = QueryRunner(flaky, N, batch_size=5, max_retries=2, retry_backoff=0.25)
    X = random_masks(12)
    with caplog.at_level("WARNING", logger="spexjax.runs"):
        y = r.evaluate(X)
    np.testing.assert_allclose(y, parity_sum(X))
    assert sleeps == [0.25, 0.5]
    assert r.retries == 2 and len(r.failures) == 2 and r.failures[0]["rows"] == (0, 4)
    assert "ConnectionError on batch rows 0..4 (attempt 1 of 3)" in caplog.text


def test_error_after_retries_is_chained(monkeypatch):
    monkeypatch.setattr(runner_mod.time, "sleep", lambda s: None)
    calls = []

    def broken(m):
        calls.append(len(m))
        if len(calls) > 2:
            raise RuntimeError("CUDA out of memory")
        return parity_sum(m)

    r = QueryRunner(broken, N, batch_size=4, max_retries=3)
    with pytest.raises(ValueFunctionError) as info:
        r.evaluate(random_masks(10))
    msg = str(info.value)
    assert msg.startswith("value function raised RuntimeError on batch rows 8..9 (2 masks) after 4 attempts")
    assert msg.endswith("CUDA out of memory")
    assert isinstance(info.value.__cause__, RuntimeError)
    assert len(calls) == 2 + 4


def test_finished_batches_are_cached_before_a_failure(tmp_path, monkeypatch):
    monkeypatch.setattr(runner_mod.time, "sleep", lambda s: None)

    def dies_on_third(m, box={"k": 0}):  # noqa: B006 - call counter
        box["k"] += 1
        if box["k"] >= 3:
            raise RuntimeError("boom")
        return parity_sum(m)

    X = random_masks(12)
    with pytest.raises(ValueFunctionError):
        QueryRunner(dies_on_third, N, batch_size=4, cache=tmp_path / "q.db", fingerprint="p", max_retries=0).evaluate(X)
    f = Counting()
    QueryRunner(f, N, batch_size=4, cache=tmp_path / "q.db", fingerprint="p").evaluate(X)
    assert f.sizes == [4]


def nan_rows(rows):
    def f(m):
        y = parity_sum(m)
        y[[r for r in rows if r < len(y)]] = np.nan
        return y

    return f


def test_nonfinite_raise_names_rows():
    calls = []

    def f(m):
        calls.append(1)
        y = parity_sum(m)
        if len(calls) == 2:  # only the second batch is bad
            y[2] = np.nan
            y[5] = -np.inf
        return y

    with pytest.raises(
        ValueFunctionError, match=r"non-finite values \(NaN or inf\) for 2 of 30 masks at rows \[12, 15\]"
    ):
        QueryRunner(f, N, batch_size=10).evaluate(random_masks(30))
    assert len(calls) == 2  # fails fast: the third batch is never sent


def test_nonfinite_drop_and_zero():
    X = random_masks(10)
    r = QueryRunner(nan_rows([1, 7]), N, on_nonfinite="drop", batch_size=3)
    y = r.evaluate(X)
    expected_valid = np.ones(10, bool)
    expected_valid[[1, 4, 7]] = False  # batch-local rows 1 of each batch of 3, and 7 -> global 1, 4, 7
    np.testing.assert_array_equal(r.last_valid, expected_valid)
    assert np.isnan(y[~expected_valid]).all()
    np.testing.assert_allclose(y[expected_valid], parity_sum(X)[expected_valid])
    assert r.nonfinite == 3
    rz = QueryRunner(nan_rows([1]), N, on_nonfinite="zero")
    yz = rz.evaluate(X)
    assert yz[1] == 0.0 and np.isfinite(yz).all() and not rz.last_valid[1]


@pytest.mark.parametrize(
    "ret, ok",
    [
        (lambda y: y[:, None], True),
        (lambda y: y.astype(np.float32), True),
        (lambda y: y > 0, True),
        (lambda y: list(y), True),
        (lambda y: np.stack([y, y], 1), False),
        (lambda y: y[:-1], False),
        (lambda y: y[None, :], False),
        (lambda y: float(y[0]), False),
    ],
)
def test_return_shapes(ret, ok):
    X = random_masks(6)
    r = QueryRunner(lambda m: ret(parity_sum(m)), N)
    if ok:
        y = r.evaluate(X)
        assert y.shape == (6,) and y.dtype == np.float64
    else:
        with pytest.raises(ValueFunctionError, match=r"value function returned shape .* for a batch of 6 masks"):
            r.evaluate(X)


def test_non_numeric_return():
    with pytest.raises(ValueFunctionError, match="must return real numbers"):
        QueryRunner(lambda m: np.array(["a"] * len(m)), N).evaluate(random_masks(3))
    with pytest.raises(ValueFunctionError, match="must return real numbers"):
        QueryRunner(lambda m: parity_sum(m) + 1j, N).evaluate(random_masks(3))


@pytest.mark.parametrize("kind", ["thread", "process"])
def test_pool_executors_agree_with_inline(kind):
    X = random_masks(200)
    ref = QueryRunner(parity_sum, N, batch_size=16).evaluate(X)
    with QueryRunner(parity_sum, N, batch_size=16, executor=make_executor(kind, max_workers=2)) as r:
        y = r.evaluate(X)
        assert r.calls == 13
    np.testing.assert_array_equal(y, ref)


def test_process_workers_keep_the_value_function_loaded(tmp_path):
    from runs_helpers import LazyModel

    log = tmp_path / "loads"
    X = random_masks(120)
    with QueryRunner(LazyModel(str(log)), N, batch_size=10, executor=make_executor("process", max_workers=2)) as r:
        np.testing.assert_array_equal(r.evaluate(X), parity_sum(X))
        np.testing.assert_array_equal(r.evaluate(X[::-1]), parity_sum(X[::-1]))
    loads = log.read_text().split()
    assert 1 <= len(loads) <= 2 and len(set(loads)) == len(loads)  # once per worker, not per batch


def test_process_executor_retries_in_workers(tmp_path, monkeypatch):
    from runs_helpers import fail_first_in_file

    monkeypatch.setattr(runner_mod.time, "sleep", lambda s: None)
    counter = tmp_path / "fails"
    counter.write_text("1")
    X = random_masks(40)
    with QueryRunner(fail_first_in_file(str(counter)), N, batch_size=10, executor="process") as r:
        np.testing.assert_array_equal(r.evaluate(X), parity_sum(X))
        assert r.retries == 1


def test_structured_direct_never_builds_masks():
    vf = SparseFourier(N, SUPPORTS, COEFFS)
    q = affine_queries()

    class NoDense(SparseFourier):
        def evaluate(self, masks):  # pragma: no cover - must not be reached
            raise AssertionError("dense path used")

    nd = NoDense(N, SUPPORTS, COEFFS)
    r = QueryRunner(nd, N)
    y = r.evaluate_affine(q)
    assert y.shape == (8, 8) and r.queries == 64 and r.calls == 1
    np.testing.assert_allclose(y.reshape(-1), vf(q.dense()), atol=1e-12)
    # batch_size splits by whole blocks
    r2 = QueryRunner(nd, N, batch_size=20)
    np.testing.assert_allclose(r2.evaluate_affine(q), y)
    assert r2.calls == 4  # 2 blocks of 8 rows per call


def test_structured_blocks_are_cached(tmp_path):
    q = affine_queries()
    calls = []

    class Logged(SparseFourier):
        def evaluate_affine(self, queries):
            calls.append(queries.groups.shape[0])
            return super().evaluate_affine(queries)

    vf = Logged(N, SUPPORTS, COEFFS)
    y1 = QueryRunner(vf, N, cache=tmp_path / "q.db", batch_size=16).evaluate_affine(q)
    assert sum(calls) == 8
    r = QueryRunner(vf, N, cache=tmp_path / "q.db", batch_size=16)
    np.testing.assert_array_equal(r.evaluate_affine(q), y1)
    assert sum(calls) == 8 and r.cache_hits == 64 and r.evaluated == 0
    # other delays (same index p, different bits) must not hit
    q2 = AffineQueries(q.hash_codes, Delays(N, 4, seed=5), q.groups, q.b)
    r.evaluate_affine(q2)
    assert sum(calls) > 8


def test_structured_with_plain_callable_goes_through_dense_cache(tmp_path):
    vf = SparseFourier(N, SUPPORTS, COEFFS)
    q = affine_queries(b=4)
    f = Counting(lambda m: vf(m))
    r = QueryRunner(f, N, batch_size=5, cache=tmp_path / "q.db", fingerprint="sf")
    y = r.evaluate_affine(q)
    np.testing.assert_allclose(y.reshape(-1), vf(q.dense()), atol=1e-12)
    assert max(f.sizes) <= 5
    # every dense row is now cached: a fresh runner evaluates nothing
    r2 = QueryRunner(f, N, batch_size=5, cache=tmp_path / "q.db", fingerprint="sf")
    r2.evaluate_affine(q)
    assert r2.evaluated == 0 and r2.queries == q.num_rows


def test_structured_nonfinite_names_global_rows():
    class Bad(SparseFourier):
        def evaluate_affine(self, queries):
            y = super().evaluate_affine(queries)
            y[-1, 3] = np.nan
            return y

    q = affine_queries()
    with pytest.raises(ValueFunctionError, match=r"for 1 of 64 masks at rows \[19\]"):
        QueryRunner(Bad(N, SUPPORTS, COEFFS), N, batch_size=24).evaluate_affine(q)  # 3 blocks per call
    r = QueryRunner(Bad(N, SUPPORTS, COEFFS), N, on_nonfinite="drop", batch_size=24)
    y = r.evaluate_affine(q)
    assert r.last_valid.shape == (8, 8) and (~r.last_valid).sum() == 3 and np.isnan(y[2, 3])


def test_progress_line():
    buf = io.StringIO()
    p = Progress(100, "queries", True, stream=buf)
    p.update(40, cached=True)
    p.update(60)
    p.close()
    assert "queries: 100/100 rows (100%, 40 cached)" in buf.getvalue()
    quiet = io.StringIO()
    p = Progress(100, "queries", False, stream=quiet)
    p.update(100)
    p.close()
    assert quiet.getvalue() == ""


def test_progress_true_writes_stderr(capsys):
    QueryRunner(parity_sum, N, progress=True, desc="demo").evaluate(random_masks(5))
    assert "demo: 5/5 rows" in capsys.readouterr().err
    QueryRunner(parity_sum, N, progress=False).evaluate(random_masks(5))
    assert capsys.readouterr().err == ""
