"""Jobs the run-management tests start as separate processes (``python runs_jobs.py JOB ...``).

``writer DB SEED M``: evaluate M masks (half shared by every writer) through a cache, in small batches.
``loop DB LOG OUT``: the kill-test job without the engine: a fixed sequence of ``runner.evaluate`` calls.
``spex DB LOG OUT``: the kill-test job as a real ``spexjax.spex`` run on a plain callable.
Every value-function call appends its row count to LOG (fsync'd) before returning.
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from runs_helpers import LoggedFn, N, parity_sum, random_masks  # noqa: E402

from spexjax.runs import QueryRunner  # noqa: E402

KILL_N = 24
KILL_BATCH = 32


def writer(db: str, seed: str, m: str) -> None:
    m = int(m)
    X = np.concatenate([random_masks(m // 2, seed=1000), random_masks(m - m // 2, seed=int(seed))])
    r = QueryRunner(parity_sum, N, batch_size=7, cache=db, fingerprint="parity", progress=False)
    y = r.evaluate(X)
    assert np.array_equal(y, parity_sum(X)), "wrong values"
    print(r.evaluated, r.cache_hits)


def loop(db: str, log: str, out: str) -> None:
    fn = LoggedFn(log, sleep=0.004)
    r = QueryRunner(fn, N, batch_size=KILL_BATCH, cache=db, fingerprint="loop-job", progress=False)
    ys = [r.evaluate(random_masks(100, seed=s)) for s in range(12)]
    np.save(out, np.concatenate(ys))


def kill_target_fn(log: str):
    """A plain callable (no fingerprint, no structured batches) around a small random sparse Fourier function."""
    from spexjax.testing import random_sparse_fourier

    vf = random_sparse_fourier(KILL_N, 8, 2, key=3)

    def f(masks):
        import time

        time.sleep(0.003)
        y = np.asarray(vf(masks))
        with open(log, "a") as fh:
            fh.write(f"{len(masks)}\n")
            fh.flush()
            os.fsync(fh.fileno())
        return y

    return f


def spex_job(db: str, log: str, out: str) -> None:
    import spexjax

    res = spexjax.spex(
        kill_target_fn(log),
        KILL_N,
        budget=3000,
        max_degree=2,
        key=0,
        cache=db,
        batch_size=KILL_BATCH,
        fingerprint="kill-spex",
        progress=False,
    )
    sup, coef = res.fourier()
    np.save(out, np.concatenate([np.asarray(coef, dtype=np.float64), [float(res.queries)]]))
    with open(out + ".supports", "w") as fh:
        fh.write(repr(sup))


if __name__ == "__main__":
    job, *args = sys.argv[1:]
    {"writer": writer, "loop": loop, "spex": spex_job}[job](*args)
