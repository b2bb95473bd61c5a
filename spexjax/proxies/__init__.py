"""Proxy models for ProxySPEX: fit on (mask, value) samples, hand back a sparse Fourier spectrum.

A proxy is any object with ``fit(X: bool[m, n], y: float[m], *, max_degree, key) -> self`` and
``fourier(n, max_degree) -> (padded supports int[K, d], coeffs float[K])``; ``info`` (a dict) is optional.

* :class:`~spexjax.proxies.lgbm.LightGBMProxy`: boosted trees, exact spectrum (:mod:`spexjax.kernels.trees`).
* :class:`~spexjax.proxies.neural.NeuralProxy`: a JAX MLP trained with optax, spectrum read by SPEX.

Submodules import their heavy dependencies (LightGBM, optax) only when used.
"""

from __future__ import annotations

__all__ = ["LightGBMProxy", "NeuralProxy"]


def __getattr__(name: str):
    if name == "LightGBMProxy":
        from spexjax.proxies.lgbm import LightGBMProxy

        return LightGBMProxy
    if name == "NeuralProxy":
        from spexjax.proxies.neural import NeuralProxy

        return NeuralProxy
    raise AttributeError(f"module 'spexjax.proxies' has no attribute {name!r}")
