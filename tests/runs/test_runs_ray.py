"""Ray executor on a local Ray instance: same results as in-process, failures retried and reported."""

from __future__ import annotations

import os

import numpy as np
import pytest
from runs_helpers import COEFFS, SUPPORTS, N, parity_sum, random_masks

from spexjax.errors import ValueFunctionError
from spexjax.runs import QueryRunner, RayExecutor
from spexjax.runs import runner as runner_mod
from spexjax.testing import SparseFourier

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.ray

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


@pytest.fixture(scope="module")
def local_ray():
    started = not ray.is_initialized()
    if started:
        # Workers import spexjax and the test helpers by module path, so give them the same sys.path.
        path = os.pathsep.join([ROOT, HERE, os.environ.get("PYTHONPATH", "")])
        ray.init(
            num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": {"PYTHONPATH": path}}
        )
    yield ray
    if started:
        ray.shutdown()


def test_ray_matches_inline(local_ray, tmp_path):
    X = random_masks(300)
    ref = QueryRunner(parity_sum, N, batch_size=32).evaluate(X)
    r = QueryRunner(parity_sum, N, batch_size=32, executor="ray")
    np.testing.assert_array_equal(r.evaluate(X), ref)
    assert r.calls == 10 and r.evaluated == 300
    # with a cache, and a closure (Ray pickles by value, unlike the process pool)
    offset = 0.5
    rc = QueryRunner(
        lambda m: parity_sum(m) + offset,
        N,
        batch_size=50,
        executor=RayExecutor(),
        cache=tmp_path / "q.db",
        fingerprint="ray",
    )
    np.testing.assert_array_equal(rc.evaluate(X), ref + offset)
    again = QueryRunner(lambda m: pytest.fail("cached"), N, cache=tmp_path / "q.db", fingerprint="ray")
    np.testing.assert_array_equal(again.evaluate(X), ref + offset)


def test_ray_structured_batches(local_ray):
    vf = SparseFourier(N, SUPPORTS, COEFFS)
    from test_runs_runner import affine_queries

    q = affine_queries()
    ref = QueryRunner(vf, N).evaluate_affine(q)
    r = QueryRunner(vf, N, batch_size=16, executor="ray")
    np.testing.assert_allclose(r.evaluate_affine(q), ref, atol=1e-12)
    assert r.calls == 4


def test_ray_failure_is_retried_then_reported(local_ray, monkeypatch):
    monkeypatch.setattr(runner_mod.time, "sleep", lambda s: None)

    def broken(m):
        raise KeyError("no such token")

    r = QueryRunner(broken, N, batch_size=8, executor="ray", max_retries=1)
    with pytest.raises(ValueFunctionError, match=r"raised KeyError on batch rows 0\.\.7 .*no such token"):
        r.evaluate(random_masks(20))
    assert r.retries == 1


def test_ray_workers_keep_the_value_function_loaded(local_ray, tmp_path):
    from runs_helpers import LazyModel

    log = tmp_path / "loads"
    X = random_masks(200)
    r = QueryRunner(LazyModel(str(log)), N, batch_size=10, executor="ray")
    np.testing.assert_array_equal(r.evaluate(X), parity_sum(X))
    np.testing.assert_array_equal(r.evaluate(X), parity_sum(X))
    loads = log.read_text().split()
    assert len(loads) == len(set(loads))  # at most once per worker process, not once per batch
