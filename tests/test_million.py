"""Million-feature acceptance: n = 10^6, 1000 terms of degree <= 5, noise-free.

Takes about a minute on a quiet 2-core machine (several under load), so it is opt-in:
``SPEXJAX_SLOW=1 python3 -m pytest tests/test_million.py``. It runs in a fresh subprocess so that the peak
RSS is that of the SPEX run alone. ``benchmarks/scaling.py`` records the same case with cold/warm timings.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent(
    """
    import json, resource, time
    import numpy as np
    import spexjax
    from spexjax.metrics import r2_score
    from spexjax.testing import random_sparse_fourier

    n, terms, degree = 1_000_000, 1000, 5
    f = random_sparse_fourier(n, terms, degree, key=1)
    t = time.perf_counter()
    res = spexjax.spex(f, n, budget=3 * 101 * 2048, max_degree=degree, decoder="hard", key=7)
    wall = time.perf_counter() - t
    rss_spex = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # R^2 on 2000 uniform random dense masks, 125 rows (125 MB of bools) at a time
    rng = np.random.default_rng(2024)
    y, yhat = [], []
    for _ in range(16):
        masks = np.unpackbits(rng.integers(0, 256, size=(125, n // 8), dtype=np.uint8), axis=1).view(bool)
        y.append(f(masks))
        yhat.append(res.predict(masks))
    sup, coef = res.fourier()
    got = {s: c for s, c in zip(sup, coef) if s or abs(c) > 1e-9}  # the constant term is always refit
    want = dict(zip(f.supports, f.coeffs))
    print(json.dumps({
        "wall_s": wall,
        "r2": r2_score(np.concatenate(y), np.concatenate(yhat)),
        "exact": set(got) == set(want),
        "max_err": max(abs(got.get(k, 0.0) - v) for k, v in want.items()),
        "rss_spex_mb": rss_spex,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "queries": res.queries,
    }))
    """
)


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("SPEXJAX_SLOW") != "1", reason="minutes under load; set SPEXJAX_SLOW=1")
def test_million_features_1000_terms():
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=1200, cwd=str(ROOT)
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    load = os.getloadavg()[0]
    assert out["exact"] and out["max_err"] < 1e-6, out
    assert out["r2"] >= 0.999, out
    assert out["queries"] <= 3 * 101 * 2048
    assert out["rss_mb"] <= 8 * 1024, out  # 8 GB, R^2 evaluation included
    # 120 s on this 2-core machine; scaled by how oversubscribed it is right now (timings are shared-CPU)
    assert out["wall_s"] <= 120.0 * max(1.0, load / 2.0), (out, load)
