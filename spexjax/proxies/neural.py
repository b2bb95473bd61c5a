"""A differentiable JAX proxy: an MLP trained with optax, whose spectrum SPEX reads with free queries.

Trees see an interaction only through a greedy split path; a smooth model fits all features jointly. Its
spectrum is not available in closed form, but querying the trained proxy costs a jitted forward pass, so
ProxySPEX runs the engine's own :func:`spexjax.spex` against it with a budget far beyond what the real
model could pay (``readout_budget``); the real samples then refit the recovered terms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from spexjax._rng import NEURAL_SPLIT, key_to_seed, numpy_rng
from spexjax.interactions import supports_to_padded
from spexjax.plans import make_plan
from spexjax.spex import spex
from spexjax.value_functions import ValueFunction

__all__ = ["NeuralProxy", "MLPValueFunction"]


def _init(key: jax.Array, sizes: list[int]) -> list[dict[str, jax.Array]]:
    params = []
    for k, (a, b) in zip(jax.random.split(key, len(sizes) - 1), zip(sizes[:-1], sizes[1:], strict=True), strict=True):
        params.append({"w": jax.random.normal(k, (a, b), jnp.float32) * jnp.sqrt(2.0 / a), "b": jnp.zeros(b)})
    return params


def _forward(params: list[dict[str, jax.Array]], x: jax.Array) -> jax.Array:
    """``x: bool[m, n]`` -> ``float[m]``; inputs enter as +-1 (the Walsh characters of order one)."""
    h = 1.0 - 2.0 * x.astype(jnp.float32)
    for layer in params[:-1]:
        h = jax.nn.gelu(h @ layer["w"] + layer["b"])
    return (h @ params[-1]["w"] + params[-1]["b"])[:, 0]


_forward_jit = jax.jit(_forward)


class MLPValueFunction(ValueFunction):
    """The trained proxy as a value function (so SPEX and the query runner can use it)."""

    def __init__(self, params: Any, n: int, y_mean: float, y_scale: float, chunk: int = 1 << 14):
        self.params, self.n, self.y_mean, self.y_scale, self.chunk = params, int(n), y_mean, y_scale, chunk

    def evaluate(self, masks: np.ndarray) -> np.ndarray:
        x = np.asarray(masks, dtype=bool)
        out = np.empty(x.shape[0])
        for lo in range(0, x.shape[0], self.chunk):
            xb = x[lo : lo + self.chunk]
            if xb.shape[0] < self.chunk and x.shape[0] > self.chunk:  # one jit shape for the ragged tail
                xb = np.concatenate([xb, np.zeros((self.chunk - xb.shape[0], self.n), bool)])
            rows = min(self.chunk, x.shape[0] - lo)
            out[lo : lo + rows] = np.asarray(_forward_jit(self.params, jnp.asarray(xb)))[:rows]
        return out * self.y_scale + self.y_mean


@dataclass
class NeuralProxy:
    """MLP proxy (GELU, +-1 inputs) trained with AdamW on minibatches, early-stopped on a held-out split.

    Args:
      hidden: widths of the hidden layers.
      epochs: most passes over the training split.
      batch_size: minibatch rows.
      learning_rate, weight_decay: AdamW settings (cosine-decayed learning rate).
      patience: epochs without held-out improvement before stopping.
      valid_fraction: share of samples held out for early stopping.
      readout_budget: proxy queries SPEX may spend reading the spectrum (free: no real model call).
      readout_decoder: SPEX decoder for the readout.
    """

    hidden: tuple[int, ...] = (256, 256)
    epochs: int = 60
    batch_size: int = 256
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    patience: int = 8
    valid_fraction: float = 0.15
    readout_budget: int | None = None
    readout_decoder: str = "soft"
    info: dict[str, Any] = field(default_factory=dict, init=False)
    vf: MLPValueFunction | None = field(default=None, init=False)

    def fit(self, X: np.ndarray, y: np.ndarray, *, max_degree: int, key: Any = 0) -> NeuralProxy:
        import optax

        X = np.asarray(X, dtype=bool)
        y = np.asarray(y, dtype=np.float64)
        m, n = X.shape
        rng = numpy_rng(key, NEURAL_SPLIT)
        perm = rng.permutation(m)
        n_val = max(1, int(round(self.valid_fraction * m)))
        val, tr = perm[:n_val], perm[n_val:]
        y_mean, y_scale = float(y[tr].mean()), float(y[tr].std()) or 1.0
        yt = ((y - y_mean) / y_scale).astype(np.float32)
        bs = int(min(self.batch_size, len(tr)))
        steps_per_epoch = max(1, len(tr) // bs)
        sched = optax.cosine_decay_schedule(self.learning_rate, steps_per_epoch * self.epochs, alpha=0.05)
        opt = optax.adamw(sched, weight_decay=self.weight_decay)
        params = _init(jax.random.PRNGKey(key_to_seed(key) % (2**31)), [n, *self.hidden, 1])
        state = opt.init(params)

        @partial(jax.jit, donate_argnums=(0, 1))
        def epoch(params, state, xb, yb):
            def step(carry, batch):
                p, s = carry
                xs, ys = batch
                loss, g = jax.value_and_grad(lambda q: jnp.mean((_forward(q, xs) - ys) ** 2))(p)
                upd, s = opt.update(g, s, p)
                return (optax.apply_updates(p, upd), s), loss

            (params, state), losses = jax.lax.scan(step, (params, state), (xb, yb))
            return params, state, losses.mean()

        xv, yv = jnp.asarray(X[val]), jnp.asarray(yt[val])
        best = (np.inf, params, 0)
        bad = 0
        for ep in range(self.epochs):
            order = tr[rng.permutation(len(tr))][: steps_per_epoch * bs].reshape(steps_per_epoch, bs)
            params, state, _ = epoch(params, state, jnp.asarray(X[order]), jnp.asarray(yt[order]))
            v = float(jnp.mean((_forward_jit(params, xv) - yv) ** 2))
            if v < best[0] * (1 - 1e-4):
                best, bad = (v, jax.tree_util.tree_map(jnp.copy, params), ep + 1), 0
            else:
                bad += 1
                if bad >= self.patience:
                    break
        v, params, ep = best
        self.vf = MLPValueFunction(params, n, y_mean, y_scale)
        self.info = {"proxy": "neural", "hidden": list(self.hidden), "epochs": ep, "valid_r2": 1.0 - v / max(
            float(np.var(yt[val])), 1e-30)}
        self._key = key
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.vf.evaluate(X)

    def fourier(self, n: int, max_degree: int) -> tuple[np.ndarray, np.ndarray]:
        """Spectrum of the proxy as read by SPEX with ``readout_budget`` free proxy queries."""
        budget = self.readout_budget
        if budget is None:  # b = 10 bins (or the smallest feasible design) with 3 groups
            plan = make_plan(n, None, max_degree, default_b=10)
            budget = int(plan.structured_queries)
        res = spex(self.vf, n, budget=budget, max_degree=max_degree, decoder=self.readout_decoder, key=self._key)
        sup, coef = res.fourier()
        self.info["readout_queries"] = int(res.queries)
        self.info["readout_terms"] = len(sup)
        if not sup:
            return np.full((0, 1), -1, np.int64), np.zeros(0)
        return supports_to_padded(sup), coef
