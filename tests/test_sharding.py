"""Sharding over devices: the same key gives the same result on 1 and 8 (virtual CPU) devices.

The 8-device comparison runs in a subprocess because ``--xla_force_host_platform_device_count`` must be
set before JAX initialises its backend (this test process has already done so).
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest

from spexjax.sharding import bin_mesh, resolve_devices

ROOT = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent(
    """
    import json, sys
    import jax, numpy as np, spexjax
    from spexjax.plans import bch_dimensions
    from spexjax.testing import random_sparse_fourier

    assert len(jax.devices()) == 8, jax.devices()
    out = {}
    for name, n, terms, deg, b, decoder in [
        ("hard", 2000, 50, 4, 7, "hard"),  # Chien root finding (P + n <= 4096)
        ("soft", 6000, 40, 3, 7, "soft"),  # algebraic root finding, Chase decoding
        ("dense", 1024, 60, 4, 4, "soft"),  # more terms than bins: dominated multitons, cross-group projections
    ]:
        f = random_sparse_fourier(n, terms, deg, key=3)
        _, P = bch_dimensions(n, deg)
        budget = 3 * (P + 1) * 2**b
        for dev in (None, 8, 3):
            r = spexjax.spex(f, n, budget=budget, max_degree=deg, decoder=decoder, key=5, devices=dev)
            sup, coef = r.fourier()
            out[f"{name}/{dev}"] = {
                "supports": [list(s) for s in sup],
                "nonzero": sorted(list(s) for s, c in zip(sup, coef) if abs(c) > 1e-9),
                "coeffs": coef.tolist(),
                "truth": sorted(list(s) for s in f.supports),
                "rounds": r.meta["rounds"],
            }
    json.dump(out, sys.stdout)
    """
)


@pytest.mark.slow
def test_one_vs_eight_devices_identical():
    env = dict(os.environ)
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8").strip()
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=600, cwd=str(ROOT)
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = json.loads(proc.stdout)
    for name in ("hard", "soft", "dense"):
        ref = out[f"{name}/None"]
        assert ref["nonzero"] == ref["truth"], name  # the problem is recovered at all
        for dev in ("8", "3"):  # 3 devices -> 2 shards (largest power of two that divides the bins)
            got = out[f"{name}/{dev}"]
            assert got["supports"] == ref["supports"], (name, dev)
            np.testing.assert_allclose(got["coeffs"], ref["coeffs"], rtol=0, atol=1e-6)
            assert got["rounds"] == ref["rounds"]


def test_resolve_devices_and_mesh():
    assert resolve_devices(None) == []
    assert resolve_devices("all") == jax.devices()
    assert resolve_devices(1) == jax.devices()[:1]
    assert resolve_devices(jax.devices()[:1]) == jax.devices()[:1]
    assert bin_mesh(None, 256) is None
    assert bin_mesh(1, 256) is None  # one device: the unsharded kernels, no collectives
    with pytest.raises(ValueError, match="devices"):
        resolve_devices("some")
    with pytest.raises(ValueError, match="available"):
        resolve_devices(len(jax.devices()) + 1)
    with pytest.raises(TypeError, match="devices"):
        resolve_devices(2.5)


def test_spex_devices_one_equals_default():
    import spexjax
    from spexjax.testing import random_sparse_fourier

    f = random_sparse_fourier(64, 8, 2, key=1)
    a = spexjax.spex(f, 64, budget=3000, max_degree=2, decoder="hard", key=2)
    b = spexjax.spex(f, 64, budget=3000, max_degree=2, decoder="hard", key=2, devices=1)
    assert a.fourier()[0] == b.fourier()[0]
    np.testing.assert_array_equal(a.fourier()[1], b.fourier()[1])
