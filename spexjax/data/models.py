"""Small classifiers for retraining: each is an ``(init, apply)`` pair of pure JAX functions.

``init(key) -> params`` (a pytree) and ``apply(params, x: float[N, ...]) -> logits float[N, C]``. Pure
functions of one model's parameters, so :mod:`spexjax.data.retrain` can ``vmap`` the whole training over
masks: the batched forward pass of a linear layer becomes one GEMM over all models at once, which is where
the speed of training many models together comes from.

The flat built-ins (logistic, mlp) also give ``apply_many``: the same function for a stack of models on the
shared inputs, written features-major (inputs ``xT: float[d, N]``, logits ``float[B, C, N]``). Its forward and
backward first-layer products are then plain row-major GEMMs over (models x points); the ``vmap`` of
``apply`` leaves the backward product ``X^T @ dZ`` with a transposed operand, which XLA CPU ran ~2.5x slower
(and the softmax over a minor axis of 10 classes vectorises badly; over a major axis it runs along N).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

__all__ = ["Model", "logistic", "mlp", "cnn", "make_model", "MODELS"]


class Model(NamedTuple):
    """A classifier as two pure functions; ``input_shape`` is the per-example shape ``apply`` expects.

    ``apply_many`` (optional) must equal ``vmap(apply)`` up to layout: ``apply_many(stacked, xT)`` with
    ``stacked`` the params of ``B`` models stacked on a leading axis and ``xT = x.reshape(N, -1).T`` returns
    the logits ``float[B, C, N]`` (class axis before the points). The trainer uses it when present.
    """

    init: Callable[[jax.Array], Any]
    apply: Callable[[Any, jax.Array], jax.Array]
    input_shape: tuple[int, ...]
    apply_many: Callable[[Any, jax.Array], jax.Array] | None = None


def _dense_init(key: jax.Array, d_in: int, d_out: int) -> dict[str, jax.Array]:
    """Glorot-uniform weights, zero bias (the usual default; fixed by the key, so retraining is deterministic)."""
    lim = jnp.sqrt(6.0 / (d_in + d_out))
    return {"w": jax.random.uniform(key, (d_in, d_out), jnp.float32, -lim, lim), "b": jnp.zeros(d_out, jnp.float32)}


def _shared_dense(w: jax.Array, xT: jax.Array) -> jax.Array:
    """``w: float[B, d, k]`` (B models), ``xT: float[d, N]`` (inputs shared by all models) ->
    ``float[B, k, N]``: one GEMM ``(B*k, d) @ (d, N)``, and its gradient in ``w`` one GEMM
    ``(B*k, N) @ (N, d)`` (see the module docstring for why this layout)."""
    return jnp.einsum("bdk,dn->bkn", w, xT)


def _conv3x3(x: jax.Array, w: jax.Array, stride: int) -> jax.Array:
    """3x3 convolution with zero padding 1 on each side (PyTorch's ``padding=1``), as nine shifted views
    times the kernel (im2col by slicing).

    Written as a contraction rather than ``lax.conv``: under ``vmap`` over the kernel XLA turns a convolution
    into a grouped one, which on CPU ran ~50x slower per model than one model at a time; a contraction
    batches into GEMMs.
    """
    H, W = x.shape[1], x.shape[2]
    xp = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    cols = [xp[:, i : i + H : stride, j : j + W : stride, :] for i in range(3) for j in range(3)]
    patches = jnp.concatenate(cols, axis=-1)  # (N, H', W', 9 * C_in), (kernel row, kernel col, channel) order
    return patches @ w.reshape(-1, w.shape[-1])


def logistic(input_shape: tuple[int, ...], num_classes: int) -> Model:
    """Multiclass softmax regression on the flattened input, initialised at zero (the convex problem's
    natural start: the empty training set then gives a margin of exactly 0)."""
    d = math.prod(int(s) for s in input_shape)

    def init(key: jax.Array) -> dict[str, jax.Array]:
        del key
        return {"w": jnp.zeros((d, num_classes), jnp.float32), "b": jnp.zeros(num_classes, jnp.float32)}

    def apply(params: dict[str, jax.Array], x: jax.Array) -> jax.Array:
        return x.reshape(x.shape[0], -1) @ params["w"] + params["b"]

    def apply_many(params: dict[str, jax.Array], xT: jax.Array) -> jax.Array:
        return _shared_dense(params["w"], xT) + params["b"][:, :, None]

    return Model(init, apply, tuple(input_shape), apply_many)


def logistic_bias_row(d: int, num_classes: int) -> Model:
    """:func:`logistic` on ``d`` features with its bias stored as the last row of one ``(d + 1, C)`` weight
    matrix: it takes inputs ``float[N, d + 1]`` whose last feature is the constant 1.

    The same model and, under an elementwise optimizer (Adam, SGD, ...) and an L2 penalty on all parameters,
    the same training as ``logistic`` (each parameter gets the same gradient and the same update); it saves the
    bias's separate broadcast, reduction and optimizer ops in every step: +23% models/s at n = 200 on a 2-core
    CPU, no change at n = 1297 where the GEMMs dominate (:class:`~spexjax.data.RetrainTask` uses it with its
    default optimizer).
    """

    def init(key: jax.Array) -> dict[str, jax.Array]:
        del key
        return {"wb": jnp.zeros((d + 1, num_classes), jnp.float32)}

    def apply(params: dict[str, jax.Array], x: jax.Array) -> jax.Array:
        return x.reshape(x.shape[0], -1) @ params["wb"]

    def apply_many(params: dict[str, jax.Array], xT: jax.Array) -> jax.Array:
        return _shared_dense(params["wb"], xT)

    return Model(init, apply, (d + 1,), apply_many)


def mlp(input_shape: tuple[int, ...], num_classes: int, *, hidden: int = 32) -> Model:
    """One hidden ReLU layer on the flattened input."""
    d = math.prod(int(s) for s in input_shape)

    def init(key: jax.Array) -> dict[str, Any]:
        k1, k2 = jax.random.split(key)
        return {"h": _dense_init(k1, d, hidden), "o": _dense_init(k2, hidden, num_classes)}

    def apply(params: dict[str, Any], x: jax.Array) -> jax.Array:
        h = jax.nn.relu(x.reshape(x.shape[0], -1) @ params["h"]["w"] + params["h"]["b"])
        return h @ params["o"]["w"] + params["o"]["b"]

    def apply_many(params: dict[str, Any], xT: jax.Array) -> jax.Array:
        h = jax.nn.relu(_shared_dense(params["h"]["w"], xT) + params["h"]["b"][:, :, None])  # (B, hidden, N)
        return jnp.einsum("bhc,bhn->bcn", params["o"]["w"], h) + params["o"]["b"][:, :, None]

    return Model(init, apply, tuple(input_shape), apply_many)


def cnn(input_shape: tuple[int, ...], num_classes: int, *, channels: int = 8) -> Model:
    """A small conv net for images ``(H, W, C)``: 3x3 conv + ReLU, 3x3 stride-2 conv + ReLU, global
    average pool, dense. Enough for 8x8 digits; a few thousand parameters so many fit on a device at once."""
    if len(input_shape) != 3:
        raise ValueError(f"model='cnn' needs images (H, W) or (H, W, C); got per-example shape {input_shape}")
    cin = int(input_shape[2])

    def init(key: jax.Array) -> dict[str, Any]:
        k1, k2, k3 = jax.random.split(key, 3)

        def conv(k: jax.Array, ci: int, co: int) -> dict[str, jax.Array]:
            lim = jnp.sqrt(6.0 / (9 * ci + 9 * co))
            return {"w": jax.random.uniform(k, (3, 3, ci, co), jnp.float32, -lim, lim), "b": jnp.zeros(co, jnp.float32)}

        return {"c1": conv(k1, cin, channels), "c2": conv(k2, channels, 2 * channels),
                "o": _dense_init(k3, 2 * channels, num_classes)}

    def apply(params: dict[str, Any], x: jax.Array) -> jax.Array:
        h = jax.nn.relu(_conv3x3(x, params["c1"]["w"], 1) + params["c1"]["b"])
        h = jax.nn.relu(_conv3x3(h, params["c2"]["w"], 2) + params["c2"]["b"])
        return h.mean(axis=(1, 2)) @ params["o"]["w"] + params["o"]["b"]

    return Model(init, apply, tuple(input_shape))


MODELS: dict[str, Callable[..., Model]] = {"logistic": logistic, "mlp": mlp, "cnn": cnn}


def make_model(model: Any, input_shape: tuple[int, ...], num_classes: int, **kwargs: Any) -> Model:
    """A :class:`Model` from a name in :data:`MODELS` or a user's ``(init, apply)`` pair."""
    if isinstance(model, str):
        if model not in MODELS:
            raise ValueError(f"model must be one of {sorted(MODELS)} or an (init, apply) pair; got {model!r}")
        return MODELS[model](tuple(input_shape), int(num_classes), **kwargs)
    if isinstance(model, Model):
        return model
    if isinstance(model, tuple | list) and len(model) == 2 and all(callable(f) for f in model):
        if kwargs:
            raise TypeError(f"model options {sorted(kwargs)} only apply to the built-in models")
        return Model(model[0], model[1], tuple(input_shape))
    raise TypeError(f"model must be a name in {sorted(MODELS)} or an (init, apply) pair of callables; "
                    f"got {type(model).__name__}")
