"""The Ray executor checks, run as their own process: ``python ray_session.py OUT.json TMPDIR``.

Why a separate process: ``ray.init`` makes the calling process a Ray driver. It replaces that process's
SIGTERM handler with ``sys.exit``, starts its head processes by ``fork`` + a Python ``preexec_fn`` (run in
the forked child: unsafe once JAX's thread pools exist in the parent, as they do in a pytest-xdist worker
that ran other tests first) and runs Ray's core-worker threads inside it. In a full ``pytest -n 2`` run the
xdist worker that hosted the driver died once with no traceback ("node down: Not properly terminated").
Here the driver is a fresh process that starts Ray before it imports JAX, and anything that goes wrong is
reported as this process's exit status and stderr instead of taking a test worker down.
"""

from __future__ import annotations

import json
import os
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [HERE, ROOT]


def main(out: str, tmp: str) -> None:
    import ray

    path = os.pathsep.join([ROOT, HERE, os.environ.get("PYTHONPATH", "")])
    # Ray first, while this process has no JAX threads; workers import the helpers by module path.
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": {"PYTHONPATH": path}})
    results: dict[str, object] = {}
    try:
        for name, check in CHECKS.items():
            try:
                check(tmp)
                results[name] = "ok"
            except BaseException:  # noqa: BLE001 - report every failure to the test, with its traceback
                results[name] = traceback.format_exc()
    finally:
        ray.shutdown()
    with open(out, "w") as fh:
        json.dump(results, fh)


def matches_inline(tmp: str) -> None:
    import numpy as np
    from runs_helpers import N, parity_sum, random_masks

    from spexjax.runs import QueryRunner, RayExecutor

    X = random_masks(300)
    ref = QueryRunner(parity_sum, N, batch_size=32).evaluate(X)
    r = QueryRunner(parity_sum, N, batch_size=32, executor="ray")
    np.testing.assert_array_equal(r.evaluate(X), ref)
    assert r.calls == 10 and r.evaluated == 300
    # with a cache, and a closure (Ray pickles by value, unlike the process pool)
    offset = 0.5
    db = os.path.join(tmp, "q.db")
    rc = QueryRunner(
        lambda m: parity_sum(m) + offset, N, batch_size=50, executor=RayExecutor(), cache=db, fingerprint="ray"
    )
    np.testing.assert_array_equal(rc.evaluate(X), ref + offset)

    def never(m):
        raise AssertionError("cached rows were evaluated again")

    again = QueryRunner(never, N, cache=db, fingerprint="ray")
    np.testing.assert_array_equal(again.evaluate(X), ref + offset)


def structured_batches(tmp: str) -> None:
    import numpy as np
    from runs_helpers import COEFFS, SUPPORTS, N
    from test_runs_runner import affine_queries

    from spexjax.runs import QueryRunner
    from spexjax.testing import SparseFourier

    vf = SparseFourier(N, SUPPORTS, COEFFS)
    q = affine_queries()
    ref = QueryRunner(vf, N).evaluate_affine(q)
    r = QueryRunner(vf, N, batch_size=16, executor="ray")
    np.testing.assert_allclose(r.evaluate_affine(q), ref, atol=1e-12)
    assert r.calls == 4


def _broken(m):
    raise KeyError("no such token")


def failure_is_retried_then_reported(tmp: str) -> None:
    import re

    from runs_helpers import N, random_masks

    from spexjax.errors import ValueFunctionError
    from spexjax.runs import QueryRunner

    r = QueryRunner(_broken, N, batch_size=8, executor="ray", max_retries=1, retry_backoff=0.0)
    try:
        r.evaluate(random_masks(20))
    except ValueFunctionError as err:
        assert re.search(r"raised KeyError on batch rows 0\.\.7 .*no such token", str(err)), str(err)
    else:
        raise AssertionError("no ValueFunctionError")
    assert r.retries == 1


def workers_keep_the_value_function_loaded(tmp: str) -> None:
    import numpy as np
    from runs_helpers import LazyModel, N, parity_sum, random_masks

    from spexjax.runs import QueryRunner

    log = os.path.join(tmp, "loads")
    X = random_masks(200)
    r = QueryRunner(LazyModel(log), N, batch_size=10, executor="ray")
    np.testing.assert_array_equal(r.evaluate(X), parity_sum(X))
    np.testing.assert_array_equal(r.evaluate(X), parity_sum(X))
    with open(log) as fh:
        loads = fh.read().split()
    assert len(loads) == len(set(loads)), loads  # at most once per worker process, not once per batch


CHECKS = {
    "matches_inline": matches_inline,
    "structured_batches": structured_batches,
    "failure_is_retried_then_reported": failure_is_retried_then_reported,
    "workers_keep_the_value_function_loaded": workers_keep_the_value_function_loaded,
}

if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
