"""shapiq interoperability: swap spexjax in wherever shapiq expects an ``Approximator``.

>>> from spexjax.integrations.shapiq import SpexApproximator
>>> approx = SpexApproximator(n=game.n_players, max_order=2, index="k-SII")
>>> iv = approx.approximate(budget=20_000, game=game)  # a shapiq.InteractionValues

The engine recovers a sparse Fourier expansion once; every shapiq index is then an exact function of it
(:mod:`spexjax.indices`), with the same definitions and empty-set conventions as ``shapiq.ExactComputer``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

try:
    import shapiq as _shapiq
    from shapiq.approximator.base import Approximator as _Approximator
except ImportError as e:  # pragma: no cover - exercised only without shapiq
    raise ImportError("spexjax.integrations.shapiq needs shapiq: pip install 'shapiq>=1.4'") from e

from spexjax.indices import check_order
from spexjax.integrations import shapiq_values
from spexjax.interactions import Interactions
from spexjax.proxyspex import proxyspex
from spexjax.spex import spex

SHAPIQ_INDICES: tuple[str, ...] = ("SV", "BV", "SII", "BII", "k-SII", "STII", "FSII", "FBII")
"""Indices :class:`SpexApproximator` can return (those of shapiq's ``MoebiusConverter``)."""


def to_interaction_values(
    result: Interactions, index: str = "k-SII", order: int | None = None, *, min_order: int = 0
) -> _shapiq.InteractionValues:
    """``shapiq.InteractionValues`` of ``index`` up to ``order`` from a spexjax result (see
    :func:`spexjax.integrations.shapiq_values.to_interaction_values`)."""
    if not isinstance(result, Interactions):
        raise TypeError(f"result must be a spexjax.Interactions; got {type(result).__name__}")
    return shapiq_values.to_interaction_values(result, index, order, min_order=min_order)


def from_interaction_values(
    values: _shapiq.InteractionValues, *, feature_names: Sequence[str] | None = None
) -> Interactions:
    """A spexjax result from a complete ``"Moebius"`` or ``"Fourier"`` ``InteractionValues`` (see
    :func:`spexjax.integrations.shapiq_values.from_interaction_values`)."""
    return shapiq_values.from_interaction_values(values, Interactions, feature_names=feature_names)


class _GameFunction:
    """A shapiq game (or any callable on coalition matrices) as a spexjax value function."""

    def __init__(self, game: Callable[[np.ndarray], Any]):
        self.game = game

    def __call__(self, masks: Any) -> np.ndarray:
        return np.asarray(self.game(np.asarray(masks, dtype=bool)), dtype=np.float64).reshape(-1)


class SpexApproximator(_Approximator):
    """A shapiq ``Approximator`` backed by :func:`spexjax.spex` (or :func:`spexjax.proxyspex`).

    Drop-in for ``shapiq.SPEX`` / ``shapiq.ProxySPEX``: ``approximate(budget, game)`` (or calling the
    object) returns ``shapiq.InteractionValues`` of ``index`` up to ``max_order``. The full spexjax result
    of the last call is kept in ``last_result`` (to convert it to other indices without new queries).

    Args:
      n: number of players.
      max_order: explanation order (``SV``/``BV``: 1).
      index: one of :data:`SHAPIQ_INDICES`.
      top_order: report only interactions of size ``max_order``.
      random_state: seed; ``None`` draws a fresh one per call (as shapiq does).
      algorithm: ``"spex"`` or ``"proxyspex"``.
      max_degree: the engine's degree bound (shapiq's ``degree_parameter``).
      decoder: SPEX decoder, ``"soft"`` or ``"hard"`` (ignored by ProxySPEX).
      **options: passed to the engine (``batch_size``, ``cache``, ...).
    """

    valid_indices: tuple[str, ...] = SHAPIQ_INDICES

    def __init__(
        self,
        n: int,
        max_order: int = 2,
        index: str = "k-SII",
        *,
        top_order: bool = False,
        random_state: int | None = None,
        algorithm: str = "spex",
        max_degree: int = 5,
        decoder: str = "soft",
        **options: Any,
    ):
        if algorithm not in ("spex", "proxyspex"):
            raise ValueError(f"algorithm must be 'spex' or 'proxyspex'; got {algorithm!r}")
        if index not in SHAPIQ_INDICES:
            raise ValueError(f"index must be one of {SHAPIQ_INDICES}; got {index!r}")
        if index in ("SV", "BV"):
            max_order = 1
        check_order(max_order, index, name="max_order")
        self.algorithm = algorithm
        self.max_degree = int(max_degree)
        self.decoder = decoder
        self.options = dict(options)
        self.last_result: Interactions | None = None
        super().__init__(
            n=n,
            max_order=max_order,
            index=index,
            top_order=top_order,
            random_state=random_state,
            initialize_dict=False,  # the result is sparse; never enumerate all interactions
            sampling_weights=np.ones(n + 1),  # unused; skips shapiq's per-size weight loop
        )

    def _engine(self) -> Callable[..., Interactions]:
        return spex if self.algorithm == "spex" else proxyspex

    def approximate(
        self, budget: int, game: Callable[[np.ndarray], Any], **kwargs: Any
    ) -> _shapiq.InteractionValues:
        """Run the engine with at most ``budget`` game evaluations and convert to ``self.index``."""
        key = self._random_state if self._random_state is not None else int(self._rng.integers(2**31 - 1))
        opts = {**self.options, **kwargs}
        if self.algorithm == "spex":
            opts.setdefault("decoder", self.decoder)
        n_players = getattr(game, "n_players", self.n)
        if n_players != self.n:
            raise ValueError(f"game has n_players={n_players}, this approximator was built for n={self.n}")
        engine = self._engine()
        result = engine(_GameFunction(game), self.n, budget=int(budget), max_degree=self.max_degree, key=key, **opts)
        lookup = getattr(game, "player_name_lookup", None)  # shapiq.Game keeps names as {name: index}
        names = sorted(lookup, key=lookup.get) if isinstance(lookup, dict) and lookup else None
        if names is not None and len(names) == self.n and result.feature_names is None:
            result = result.replace(feature_names=[str(v) for v in names])  # results are frozen: a new one
        self.last_result = result
        return to_interaction_values(result, self.index, self.max_order, min_order=self.min_order)


__all__ = ["SHAPIQ_INDICES", "SpexApproximator", "from_interaction_values", "to_interaction_values"]
