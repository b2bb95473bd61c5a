"""A differentiable proxy whose Fourier spectrum is sparse, low-degree and read out exactly.

An MLP's spectrum is dense and has to be *estimated* (the neural proxy runs SPEX against it). Here every
hidden unit is a product of ``d`` factors ``c + w . z`` of the +-1 inputs ``z = 1 - 2x``:

    f(z) = b + sum_u a_u prod_{k<d} (c_uk + sum_j W_ukj z_j)

trained end to end with optax (Adam, L1 on ``W`` so each factor leans on few features). The factors are
then *hardened* to one feature each (``c_uk + w_uk z_{j_uk}``, or the constant ``c_uk`` when no weight
stands out) and the hardened network is fine-tuned with its selection fixed; it is the model that predicts.
Its spectrum is exact and enumerable: a unit expands into the ``2^d`` subsets ``T`` of its factors,
coefficient ``a_u prod_{k not in T} c_uk prod_{k in T} w_uk`` on the parity of the features ``{j_uk : k in
T}`` (a feature met twice cancels: ``z^2 = 1``). A unanimity game ``prod_{j in S} x_j = prod_j (1 - z_j)/2``
is one such unit, and so is a parity, so ProxySPEX's hierarchical functions are in the model class; each
unit also proposes every subset of its feature set, which the ridge refit and hierarchy step then weigh.

Cost is ``rows x features x units x d`` per step, so for wide inputs the product network only sees the
``screen`` features with the largest main effects: under hierarchy (ProxySPEX's premise) every feature of
an important interaction has one. A pure parity on more than ``screen`` features is out of reach (so it is
for trees; SPEX finds those).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from spexjax._rng import FOURIER_NET_SPLIT, key_to_seed, numpy_rng
from spexjax.indices import pad_supports

__all__ = ["FourierNetProxy", "expand_units"]


def _soft_forward(p: dict[str, jax.Array], z: jax.Array) -> jax.Array:
    """Training network: ``z: float[m, K]`` (+-1) -> ``float[m]``."""
    U, d, K = p["W"].shape
    fac = (z @ p["W"].reshape(U * d, K).T).reshape(-1, U, d) + p["c"]
    return jnp.prod(fac, axis=-1) @ p["a"] + p["b"]


def _hard_forward(p: dict[str, jax.Array], idx: jax.Array, z: jax.Array) -> jax.Array:
    """Hardened network: factor ``(u, k)`` is ``c_uk + w_uk z[:, idx_uk]`` (``w_uk = 0`` for a constant one)."""
    fac = p["c"] + p["w"] * z[:, idx]  # [m, U, d]
    return jnp.prod(fac, axis=-1) @ p["a"] + p["b"]


def expand_units(a: np.ndarray, c: np.ndarray, w: np.ndarray, idx: np.ndarray, bias: float,
                 max_degree: int | None = None) -> dict[tuple[int, ...], float]:
    """The exact Fourier spectrum of the hardened network, ``{sorted support: coefficient}``.

    Unit ``u`` is ``a_u prod_k (c_uk + w_uk z_{idx_uk})``; expanding the product over the subsets ``T`` of
    its factors gives parities of the multiset ``{idx_uk : k in T}`` reduced mod 2. Terms of degree above
    ``max_degree`` are dropped (never, when ``max_degree >= d``).
    """
    a, c, w = (np.asarray(v, dtype=np.float64) for v in (a, c, w))
    idx = np.asarray(idx, dtype=np.int64)
    U, d = c.shape
    out: dict[tuple[int, ...], float] = {(): float(bias)}
    subsets = [[k for k in range(d) if (t >> k) & 1] for t in range(1 << d)]
    for u in range(U):
        if a[u] == 0.0:
            continue
        live = [k for k in range(d) if w[u, k] != 0.0]
        const = float(a[u] * np.prod(c[u, [k for k in range(d) if k not in live]]))
        if const == 0.0:
            continue
        for T in subsets[: 1 << len(live)]:
            ks = [live[t] for t in T]
            coef = const * float(np.prod(w[u, ks])) * float(np.prod(c[u, [k for k in live if k not in ks]]))
            feats: set[int] = set()
            for k in ks:
                feats ^= {int(idx[u, k])}
            if max_degree is not None and len(feats) > max_degree:
                continue
            s = tuple(sorted(feats))
            out[s] = out.get(s, 0.0) + coef
    return out


def _loss(kind: str, p: dict[str, jax.Array], reg: jax.Array, z: jax.Array, y: jax.Array, *aux: jax.Array):
    if kind == "soft":  # L1 on the factor weights: each factor should lean on one feature
        return jnp.mean((_soft_forward(p, z) - y) ** 2) + reg * jnp.sum(jnp.abs(p["W"]))
    idx, live = aux  # hardened: dropped factors stay constant
    return jnp.mean((_hard_forward(p | {"w": p["w"] * live}, idx, z) - y) ** 2)


@partial(jax.jit, static_argnames=("kind", "steps"))
def _train(kind: str, params: Any, data: tuple, batches: jax.Array | None, lr: jax.Array, reg: jax.Array,
           steps: int) -> Any:
    """``steps`` Adam steps (cosine-decayed rate) in one ``lax.scan``. Minibatches are row indices
    ``int[steps, B]`` drawn up front by the caller (deterministic), or ``None`` for full batch. Module level
    and keyed on shapes only, so repeated fits reuse the compiled loop."""
    import optax

    opt = optax.adam(optax.cosine_decay_schedule(1.0, steps, alpha=0.05))
    z, y, *aux = data

    def step(carry, rows):
        p, s = carry
        zb, yb = (z, y) if rows is None else (z[rows], y[rows])
        g = jax.grad(lambda q: _loss(kind, q, reg, zb, yb, *aux))(p)
        upd, s = opt.update(g, s, p)
        return (optax.apply_updates(p, jax.tree_util.tree_map(lambda u: lr * u, upd)), s), None

    (params, _), _ = jax.lax.scan(step, (params, opt.init(params)), batches, length=steps)
    return params


@dataclass
class FourierNetProxy:
    """Sum of products of ``d`` (default ``max_degree``) learned single-feature factors; exact spectrum.

    Args:
      units: product units (each proposes the ``2^d`` subsets of its feature set).
      degree: factors per unit (default ``min(max_degree, 6)``); the spectrum has degree ``<= degree``.
      screen: the product network sees at most this many features, those with the largest main effects
        (``None``: all features; the cost grows with ``features x units x d``).
      steps, finetune_steps: Adam steps of the soft network and of the hardened one.
      batch_size: minibatch rows of the soft network (the fine-tune is full batch).
      learning_rate: Adam's initial rate (cosine-decayed).
      l1: L1 weight on the factor weights ``W`` (pushes each factor to one feature).
      valid_fraction: share of samples held out to report ``info["valid_r2"]``.
    """

    units: int = 48
    degree: int | None = None
    screen: int | None = 48
    steps: int = 1500
    finetune_steps: int = 300
    batch_size: int = 256
    learning_rate: float = 1e-2
    l1: float = 3e-3
    init_scale: float = 0.5
    valid_fraction: float = 0.15
    info: dict[str, Any] = field(default_factory=dict, init=False)

    def _screen(self, z: np.ndarray, yt: np.ndarray) -> np.ndarray:
        """The ``screen`` features with the largest main effects ``|mean(y z_j)|`` (on uniform masks, the
        least-squares singleton coefficients). Hierarchy, ProxySPEX's premise, gives every feature of an
        important interaction a main effect; a pure parity on wide inputs is lost here (use SPEX for those)."""
        n = z.shape[1]
        if self.screen is None or n <= self.screen:
            return np.arange(n)
        score = np.abs((yt - yt.mean()) @ z)
        return np.sort(np.argsort(-score, kind="stable")[: int(self.screen)])

    def fit(self, X: np.ndarray, y: np.ndarray, *, max_degree: int, key: Any = 0) -> FourierNetProxy:
        X = np.asarray(X, dtype=bool)
        y = np.asarray(y, dtype=np.float64)
        m, n = X.shape
        d = int(self.degree or min(int(max_degree), 6))
        seed = key_to_seed(key) % (2**31)
        rng = numpy_rng(key, FOURIER_NET_SPLIT)
        perm = rng.permutation(m)
        n_val = max(1, int(round(self.valid_fraction * m)))
        val, tr = perm[:n_val], perm[n_val:]
        y_mean, y_scale = float(y[tr].mean()), float(y[tr].std()) or 1.0
        yt = ((y - y_mean) / y_scale).astype(np.float32)
        z_all = (1.0 - 2.0 * X).astype(np.float32)
        feats = self._screen(z_all[tr], yt[tr])
        z = z_all[:, feats]
        K, U = len(feats), int(self.units)

        k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
        p = {"W": self.init_scale * jax.random.normal(k1, (U, d, K)) / np.sqrt(K),
             "c": jnp.ones((U, d)), "a": jax.random.normal(k2, (U,)) / np.sqrt(U), "b": jnp.zeros(())}
        bs = int(min(self.batch_size, len(tr)))
        batches = tr[rng.integers(0, len(tr), size=(int(self.steps), bs))]
        zj, yj = jnp.asarray(z), jnp.asarray(yt)
        p = _train("soft", p, (zj, yj), jnp.asarray(batches), jnp.float32(self.learning_rate),
                   jnp.float32(self.l1), int(self.steps))

        # harden: each factor keeps its largest weight if it stands out, else becomes constant
        W = np.asarray(p["W"])
        idx = np.argmax(np.abs(W), axis=2)
        wmax = np.take_along_axis(W, idx[..., None], axis=2)[..., 0]
        keep = np.abs(wmax) > 0.1 * np.abs(wmax).max() if np.abs(wmax).max() > 0 else np.zeros_like(wmax, bool)
        h = {"w": jnp.asarray(np.where(keep, wmax, 0.0), jnp.float32), "c": p["c"], "a": p["a"], "b": p["b"]}
        data = (jnp.asarray(z[tr]), jnp.asarray(yt[tr]), jnp.asarray(idx), jnp.asarray(keep, jnp.float32))
        h = _train("hard", h, data, None, jnp.float32(self.learning_rate / 3), jnp.float32(0.0),
                   int(self.finetune_steps))
        h = {k: np.asarray(v, np.float64) for k, v in h.items()}
        h["w"] = h["w"] * keep
        self._h, self._idx, self._feats, self._d = h, idx, feats, d
        self._y_mean, self._y_scale = y_mean, y_scale
        pv = self.predict(X[val])
        self.info = {"proxy": "fourier", "units": U, "degree": d, "features": int(K), "screened": K < n,
                     "live_factors": int(keep.sum()),
                     "valid_r2": 1.0 - float(np.mean((pv - y[val]) ** 2)) / max(float(np.var(y[val])), 1e-30)}
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        z = (1.0 - 2.0 * np.asarray(X, dtype=bool)[:, self._feats]).astype(np.float64)
        h = self._h
        fac = h["c"] + h["w"] * z[:, self._idx]
        return (np.prod(fac, axis=-1) @ h["a"] + h["b"]) * self._y_scale + self._y_mean

    def fourier(self, n: int, max_degree: int) -> tuple[np.ndarray, np.ndarray]:
        """The hardened network's exact spectrum up to ``max_degree`` as ``(padded supports, coeffs)``."""
        h = self._h
        spec = expand_units(h["a"], h["c"], h["w"], self._feats[self._idx], h["b"], max_degree)
        sup = [s for s, v in spec.items() if v != 0.0 or s == ()]
        coef = np.array([spec[s] for s in sup]) * self._y_scale
        coef[sup.index(())] += self._y_mean
        self.info["readout_terms"] = len(sup)
        return pad_supports(sup), coef
