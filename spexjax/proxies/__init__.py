"""Proxy models for ProxySPEX: fit on (mask, value) samples, hand back a sparse Fourier spectrum.

A proxy is any object with ``fit(X: bool[m, n], y: float[m], *, max_degree, key) -> self`` and
``fourier(n, max_degree) -> (padded supports int[K, d], coeffs float[K])``; ``info`` (a dict) is optional.

* :class:`~spexjax.proxies.lgbm.LightGBMProxy`: boosted trees, exact spectrum (:mod:`spexjax.kernels.trees`).
* :class:`~spexjax.proxies.neural.NeuralProxy`: a JAX MLP trained with optax, spectrum read by SPEX.
* :class:`~spexjax.proxies.fourier_net.FourierNetProxy`: sums of products of single-feature factors trained
  with optax; its sparse, low-degree spectrum is read out exactly (``proxy="fourier"``; not a default: see
  ``benchmarks/results/proxy_compare.md``).

Submodules import their heavy dependencies (LightGBM, optax) only when used.
"""

from __future__ import annotations

from spexjax.proxies.fourier_net import FourierNetProxy
from spexjax.proxies.lgbm import LightGBMProxy
from spexjax.proxies.neural import NeuralProxy

__all__ = ["FourierNetProxy", "LightGBMProxy", "NeuralProxy"]
