"""Splitting a SPEX run over several accelerators (``spex(..., devices=...)``).

What is split, and why this way:

* **FWHT** over the ``C * (P+1)`` rows of ``float[C, P+1, 2^b]``: rows are independent, so each device
  transforms a contiguous block of rows (``shard_map``, no communication); the result is then resharded
  (one all-to-all, done by XLA from the out-sharding) to the layout the peel wants.
* **Peel** over the ``B = 2^b`` bins: each device owns a contiguous slice of the bins of every group
  (``U`` sharded ``P(None, None, "bins")``). Decoding (BCH syndromes, Berlekamp-Massey, root finding) and
  verification are per bin, hence local: this is where the time goes. Peeling a term, however, writes into
  its bin in *every* group, which may be owned by another device. We use ``shard_map`` with one explicit
  collective per group visit: the candidates of all bins (hash codes ``uint32[C, B]``, delay signs, coefficient,
  accept flag, support; ``O(B * (C + P + t))`` numbers, tiny next to the decode) are ``all_gather``-ed in
  global bin order, and every device applies that same update list to the bins it owns (others are dropped)
  and appends it to its replicated output buffers. So every device performs exactly the single-device
  computation on its bins, in the same order: supports are identical for any device count, and
  coefficients agree to round-off (the reshard of the FWHT output never changes values).
  We did not leave the peel to GSPMD (``jit`` with in/out shardings only): how it would partition the
  data-dependent scatter (and so the order of the floating additions) is not under our control, and the
  explicit collective makes both the communication volume and the device-count independence evident.
* **Tables by feature** (hash codes ``uint32[C, n]``, packed delays ``uint32[n, W]``) are replicated: the
  verify step gathers the columns of each candidate's support, which can be any feature. They cost
  ``4 (C + W)`` bytes per feature per device (280 MB at ``n = 10^7``), small next to accelerator memory; an
  ``n``-sharded variant would need a second collective per visit and pays off only at ``n >> 10^8``.

The number of shards is the largest power of two that is at most the number of devices and at most ``B``
(bins split evenly). Devices beyond that are left idle.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from spexjax.kernels.fwht import fwht
from spexjax.kernels.peeling import PeelResult, peel_local

AXIS = "bins"

__all__ = ["AXIS", "resolve_devices", "bin_mesh", "sharded_fwht", "sharded_peel"]


def resolve_devices(devices: Any) -> list[jax.Device]:
    """``None`` -> ``[]`` (no sharding); ``"all"`` -> every device of the default backend; ``int k`` -> the
    first ``k``; a sequence of ``jax.Device`` is used as given."""
    if devices is None:
        return []
    if isinstance(devices, str):
        if devices != "all":
            raise ValueError(f'devices must be None, "all", an int or a sequence of jax devices; got {devices!r}')
        return list(jax.devices())
    if isinstance(devices, (int, np.integer)) and not isinstance(devices, bool):
        avail = jax.devices()
        if not 1 <= int(devices) <= len(avail):
            raise ValueError(f"devices={int(devices)} but only {len(avail)} devices are available")
        return list(avail[: int(devices)])
    if isinstance(devices, Sequence) and all(isinstance(d, jax.Device) for d in devices):
        if len(set(devices)) != len(devices) or not devices:
            raise ValueError("devices must be a non-empty sequence of distinct jax devices")
        return list(devices)
    raise TypeError(f'devices must be None, "all", an int or a sequence of jax devices; got {type(devices).__name__}')


def bin_mesh(devices: Any, num_bins: int) -> Mesh | None:
    """A 1-D mesh over the largest power-of-two number of devices that divides ``num_bins``, or ``None``
    when that is one device (the unsharded path is then used: no collectives at all)."""
    devs = resolve_devices(devices)
    k = 1
    while 2 * k <= min(len(devs), num_bins):
        k *= 2
    if k == 1:
        return None
    return Mesh(np.asarray(devs[:k]), (AXIS,))


@partial(jax.jit, static_argnames=("mesh",))
def _fwht_rows(rows: jax.Array, mesh: Mesh) -> jax.Array:
    f = jax.shard_map(
        partial(fwht, axis=-1, normalize=True), mesh=mesh, in_specs=P(AXIS, None), out_specs=P(AXIS, None)
    )
    return f(rows)


def sharded_fwht(values: Any, mesh: Mesh) -> jax.Array:
    """``float[C, P+1, B] -> U`` (normalised FWHT over the bins), returned sharded over the bins."""
    values = jnp.asarray(values) if not isinstance(values, np.ndarray) else values
    C, P1, B = values.shape
    k = mesh.devices.size
    R = C * P1
    rows = np.asarray(values).reshape(R, B)
    pad = (-R) % k
    if pad:  # pad rows to a multiple of the shard count; zero rows transform to zero rows
        rows = np.concatenate([rows, np.zeros((pad, B), rows.dtype)], axis=0)
    rows = jax.device_put(rows, NamedSharding(mesh, P(AXIS, None)))
    U = _fwht_rows(rows, mesh)[:R].reshape(C, P1, B)
    return jax.device_put(U, NamedSharding(mesh, P(None, None, AXIS)))


@partial(
    jax.jit,
    static_argnames=(
        "mesh", "decode", "soft", "max_terms", "max_rounds", "gamma", "dominant", "chunk_bins"
    ),
)
def _peel_sharded(
    U, hash_codes, delay_packed, noise_var, decode_args, *, mesh, decode, soft, max_terms, max_rounds, gamma,
    dominant, chunk_bins,
):
    body = partial(
        peel_local, decode=decode, soft=soft, max_terms=max_terms, max_rounds=max_rounds, gamma=gamma,
        dominant=dominant, chunk_bins=chunk_bins, axis_name=AXIS,
    )
    f = jax.shard_map(
        body,
        mesh=mesh,
        in_specs=(P(None, None, AXIS), P(), P(), P(), P()),
        # buffers, count, rounds and overflow are computed from all-gathered values: identical everywhere
        out_specs=PeelResult(P(), P(), P(), P(), P(None, None, AXIS), P()),
        check_vma=False,
    )
    return f(U, hash_codes, delay_packed, noise_var, decode_args)


def sharded_peel(
    U: Any,
    hash_codes: Any,
    delay_packed: Any,
    noise_var: Any,
    decode_args: Any = None,
    *,
    mesh: Mesh,
    decode: Any,
    soft: bool,
    max_terms: int,
    max_rounds: int = 32,
    gamma: float = 1.0,
    dominant: bool = True,
    chunk_bins: int = 1 << 30,
) -> PeelResult:
    """:func:`spexjax.kernels.peeling.peel` with the bins split over ``mesh`` (see the module docstring)."""
    rep = NamedSharding(mesh, P())
    U = jax.device_put(U, NamedSharding(mesh, P(None, None, AXIS)))
    hash_codes = jax.device_put(hash_codes, rep)
    delay_packed = jax.device_put(delay_packed, rep)
    noise_var = jax.device_put(noise_var, rep)
    decode_args = jax.device_put(decode_args, rep)
    return _peel_sharded(
        U, hash_codes, delay_packed, noise_var, decode_args, mesh=mesh, decode=decode, soft=soft, max_terms=max_terms,
        max_rounds=max_rounds, gamma=float(gamma), dominant=bool(dominant),
        chunk_bins=int(chunk_bins),
    )
