"""One cold ProxySPEX run in a fresh process, for ``benchmarks/proxyspex_time.py --cold``.

Kept free of spexjax imports at the top so it runs under any interpreter that has the library under test
(shapiq needs Python >= 3.12, where JAX may be missing): numpy builds the value function from a JSON spec,
the library is imported and run, and the recovered coefficients go back as JSON. The parent measures the
process's wall time (interpreter start, imports, compilation, fit) and scores R^2 itself.

    python _proxyspex_cold_child.py SPEC.json OUT.json
"""

from __future__ import annotations

import time

T_START = time.perf_counter()

import json  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402


def value_function(spec: dict):
    """The case's value function on ``bool[m, n]`` masks (numpy only; noise from one generator per process)."""
    n = int(spec["n"])
    if spec["kind"] == "mobius":
        sups = [np.asarray(s, dtype=np.int64) for s in spec["supports"]]
        coef = np.asarray(spec["coeffs"], dtype=np.float64)

        def f(x):
            x = np.asarray(x, dtype=bool)
            out = np.zeros(x.shape[0])
            for s, c in zip(sups, coef, strict=True):
                out += c * (np.all(x[:, s], axis=1) if len(s) else 1.0)
            return out

        return f
    if spec["kind"] == "dense_quadratic":
        a = np.asarray(spec["a"], dtype=np.float64)
        B = np.asarray(spec["B"], dtype=np.float64).reshape(n, n)
        noise = np.random.default_rng(int(spec["noise_seed"]))
        sd = float(spec["noise_sd"])

        def f(x):
            x = np.asarray(x, dtype=np.float64)
            return x @ a + np.einsum("mi,ij,mj->m", x, B, x) + sd * noise.normal(size=x.shape[0])

        return f
    raise ValueError(f"unknown kind {spec['kind']!r}")


def run_spexjax(spec: dict, f) -> dict:
    t0 = time.perf_counter()
    from spexjax.proxyspex import proxyspex

    kw = {}
    if spec.get("threads") is not None:
        from spexjax.proxies.lgbm import LightGBMProxy

        kw["proxy"] = LightGBMProxy(num_threads=int(spec["threads"]))
    t1 = time.perf_counter()
    r = proxyspex(f, int(spec["n"]), budget=int(spec["budget"]), max_degree=int(spec["max_degree"]), key=0, **kw)
    t2 = time.perf_counter()
    sup, coef = r.fourier()
    return {"import_s": t1 - t0, "run_s": t2 - t1, "stages": r.meta["seconds"], "basis": "fourier",
            "supports": [list(map(int, s)) for s in sup], "coeffs": [float(c) for c in coef],
            "threads": r.meta.get("proxy", {}).get("params", {}).get("num_threads")}


def run_shapiq(spec: dict, f) -> dict:
    t0 = time.perf_counter()
    import shapiq
    from shapiq.approximator import ProxySPEX

    class _Capture(ProxySPEX):  # keep the Möbius transform it computes before converting to an index
        def _process_moebius(self, moebius_transform):
            self.captured = dict(moebius_transform)
            return super()._process_moebius(moebius_transform)

    t1 = time.perf_counter()
    approx = _Capture(n=int(spec["n"]), max_order=int(spec["max_degree"]), index="FBII", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        approx.approximate(int(spec["budget"]), lambda c: f(np.asarray(c, bool)))
    t2 = time.perf_counter()
    return {"import_s": t1 - t0, "run_s": t2 - t1, "basis": "mobius", "version": shapiq.__version__,
            "supports": [list(map(int, k)) for k in approx.captured],
            "coeffs": [float(v) for v in approx.captured.values()]}


def main() -> None:
    spec = json.load(open(sys.argv[1]))
    f = value_function(spec)
    out = {"spexjax": run_spexjax, "shapiq": run_shapiq}[spec["library"]](spec, f)
    out["process_s"] = time.perf_counter() - T_START
    with open(sys.argv[2], "w") as fh:
        json.dump(out, fh)


if __name__ == "__main__":
    main()
