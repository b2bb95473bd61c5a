"""shapiq interoperability: swap spexjax in wherever shapiq expects an ``Approximator``.

>>> from spexjax.integrations.shapiq import SpexApproximator
>>> approx = SpexApproximator(n=game.n_players, max_order=2, index="k-SII")
>>> iv = approx.approximate(budget=20_000, game=game)  # a shapiq.InteractionValues

The engine recovers a sparse Fourier expansion once; every shapiq index is then an exact function of it
(:mod:`spexjax.indices`), with the same definitions and empty-set conventions as ``shapiq.ExactComputer``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

try:
    import shapiq as _shapiq
    from shapiq.approximator.base import Approximator as _Approximator
except ImportError as e:  # pragma: no cover - exercised only without shapiq
    raise ImportError("spexjax.integrations.shapiq needs shapiq: pip install 'shapiq>=1.4'") from e

from spexjax.errors import BudgetError
from spexjax.indices import check_order
from spexjax.integrations import shapiq_values
from spexjax.interactions import Interactions
from spexjax.plans import make_plan
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


_PROXY_MODELS = ("lightgbm", "xgboost", "tree", "linear")  # shapiq's ProxyLiteral


class SpexApproximator(_Approximator):
    """A shapiq ``Approximator`` backed by :func:`spexjax.spex` (or :func:`spexjax.proxyspex`).

    Drop-in for ``shapiq.SPEX`` / ``shapiq.ProxySPEX``: ``approximate(budget, game)`` (or calling the
    object) returns ``shapiq.InteractionValues`` of ``index`` up to ``max_order``. The full spexjax result
    of the last call is kept in ``last_result`` (to convert it to other indices without new queries).

    Where it behaves as shapiq 1.8 does (a user swapping it in changes nothing):

    - ``max_order=None`` means ``n``; ``decoder_type`` (shapiq's name, any case) and ``degree_parameter`` are
      accepted and checked here, at construction, as shapiq does.
    - A budget too small for SPEX's design at ``max_degree`` lowers the degree until the design fits (shapiq:
      ``_set_transform_budget``), with a warning naming the degree used; at n = 8 that is 300 queries at
      degree 2 where degree 5 needs 504. If no degree fits, the engine's ``BudgetError`` says what is needed.
    - ``proxy_model="xgboost"``, ``"tree"`` or ``"linear"`` (``algorithm="proxyspex"``) fall back to the
      LightGBM proxy with a warning (spexjax reads exact spectra of LightGBM forests only; shapiq itself
      falls back from XGBoost to LightGBM when XGBoost is missing).
    - ``baseline_value`` is ``iv[()]``, the index's own empty-set value when it is reported and 0 otherwise
      (shapiq's SPEX); ``last_result.baseline`` keeps ``f(empty)``.

    Where spexjax deliberately differs (it follows shapiq's documentation and ``ExactComputer``):

    - ``top_order=True`` reports only interactions of size ``max_order``, as shapiq documents; shapiq 1.8's
      SPEX with k-SII returns orders 0..max_order with changed lower-order values (n = 8 SOUM: singleton
      0.276 with ``top_order`` vs 0.216 without, ExactComputer -0.061).
    - ``index="SV"`` / ``"BV"`` are order-1 indices: ``max_order`` is 1 whatever is passed; shapiq 1.8's
      SPEX labels the same order-1 values ``"SII"`` with ``max_order=2``.
    - Values equal ``shapiq.ExactComputer`` of the recovered function for every index and order, including
      k-SII singletons and the empty set, where shapiq's SPEX conversion differs (same SOUM: k-SII of (0,)
      0.216 vs exact -0.061).

    Args:
      n: number of players.
      max_order: explanation order (``None``: ``n``; ``SV``/``BV``: 1).
      index: one of :data:`SHAPIQ_INDICES`.
      top_order: report only interactions of size ``max_order``.
      random_state: seed; ``None`` draws a fresh one per call (as shapiq does).
      algorithm: ``"spex"`` or ``"proxyspex"``.
      max_degree: the engine's degree bound (shapiq's ``degree_parameter``, also accepted under that name).
      decoder: SPEX decoder, ``"soft"`` or ``"hard"``, any case (shapiq's ``decoder_type`` is the same
        argument; ignored by ProxySPEX).
      proxy_model: ProxySPEX's proxy (shapiq's argument): ``"lightgbm"`` (default), another of shapiq's names
        (LightGBM with a warning), or a spexjax proxy object (``LightGBMProxy``, ``NeuralProxy``, ...).
      hpo: shapiq's ProxySPEX switch for its hyper-parameter search: ``False`` fits one LightGBM setting
        (``search=False``); ``True`` / ``None`` keep ProxySPEX's default (``search="auto"``: a 4-setting search
        up to 2,000 samples, which is what shapiq's grid buys at a fraction of its cost).
      **options: passed to the engine (``batch_size``, ``cache``, ...).
    """

    valid_indices: tuple[str, ...] = SHAPIQ_INDICES

    def __init__(
        self,
        n: int,
        max_order: int | None = 2,
        index: str = "k-SII",
        *,
        top_order: bool = False,
        random_state: int | None = None,
        algorithm: str = "spex",
        max_degree: int = 5,
        decoder: str = "soft",
        decoder_type: str | None = None,
        degree_parameter: int | None = None,
        proxy_model: Any = None,
        hpo: bool | None = None,
        **options: Any,
    ):
        if algorithm not in ("spex", "proxyspex"):
            raise ValueError(f"algorithm must be 'spex' or 'proxyspex'; got {algorithm!r}")
        if index not in SHAPIQ_INDICES:
            raise ValueError(f"index must be one of {SHAPIQ_INDICES}; got {index!r}")
        if decoder_type is not None:
            decoder = decoder_type
        if not isinstance(decoder, str) or decoder.lower() not in ("soft", "hard"):
            raise ValueError(f"decoder_type must be 'soft' or 'hard' (any case); got {decoder!r}")
        if degree_parameter is not None:
            max_degree = degree_parameter
        if isinstance(max_degree, bool) or not isinstance(max_degree, (int, np.integer)) or int(max_degree) < 1:
            raise ValueError(f"max_degree (degree_parameter) must be an int >= 1; got {max_degree!r}")
        if max_order is None:
            max_order = n
        if index in ("SV", "BV"):
            max_order = 1
        check_order(max_order, index, name="max_order")
        self.algorithm = algorithm
        self.max_degree = int(max_degree)
        self.decoder = decoder.lower()
        self.proxy = self._check_proxy(proxy_model)
        if hpo is not None and not isinstance(hpo, bool):
            raise TypeError(f"hpo must be a bool; got {type(hpo).__name__}")
        self.hpo = hpo
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

    @staticmethod
    def _check_proxy(proxy_model: Any) -> Any:
        if proxy_model is None:
            return None
        if isinstance(proxy_model, str):
            name = proxy_model.lower()
            if name not in _PROXY_MODELS:
                raise ValueError(f"proxy_model must be one of {_PROXY_MODELS} or a spexjax proxy; got {proxy_model!r}")
            if name != "lightgbm":
                warnings.warn(f"proxy_model={proxy_model!r}: spexjax reads exact spectra of LightGBM forests only; "
                              "falling back to LightGBM", UserWarning, stacklevel=3)
            return None
        if not (hasattr(proxy_model, "fit") and hasattr(proxy_model, "fourier")):
            raise TypeError("proxy_model must be a name or a spexjax proxy (fit + fourier, e.g. "
                            f"spexjax.proxies.LightGBMProxy); got {type(proxy_model).__name__}")
        return proxy_model

    def _engine(self) -> Callable[..., Interactions]:
        return spex if self.algorithm == "spex" else proxyspex

    def _degree_for(self, budget: int, opts: dict) -> int:
        """shapiq's rule: lower the degree until SPEX's design fits ``budget`` (with a warning), if any does."""
        if self.algorithm != "spex" or any(k in opts for k in ("b", "groups", "target_r2")):
            return self.max_degree
        for t in range(self.max_degree, 0, -1):
            try:
                make_plan(self.n, int(budget), t)
            except (BudgetError, ValueError):
                continue
            if t != self.max_degree:
                warnings.warn(f"budget={int(budget)} is too small for SPEX's design at max_degree="
                              f"{self.max_degree} (n={self.n}); using max_degree={t} (as shapiq lowers "
                              "degree_parameter)", UserWarning, stacklevel=3)
            return t
        return self.max_degree  # nothing fits: the engine raises its BudgetError with the minimum

    def approximate(
        self, budget: int, game: Callable[[np.ndarray], Any], **kwargs: Any
    ) -> _shapiq.InteractionValues:
        """Run the engine with at most ``budget`` game evaluations and convert to ``self.index``."""
        key = self._random_state if self._random_state is not None else int(self._rng.integers(2**31 - 1))
        opts = {**self.options, **kwargs}
        if self.algorithm == "spex":
            opts.setdefault("decoder", self.decoder)
        else:
            if self.proxy is not None:
                opts.setdefault("proxy", self.proxy)
            if self.hpo is False:  # shapiq's hpo=False: one fit, no settings search
                opts.setdefault("search", False)
        n_players = getattr(game, "n_players", self.n)
        if n_players != self.n:
            raise ValueError(f"game has n_players={n_players}, this approximator was built for n={self.n}")
        engine = self._engine()
        degree = self._degree_for(budget, opts)
        result = engine(_GameFunction(game), self.n, budget=int(budget), max_degree=degree, key=key, **opts)
        lookup = getattr(game, "player_name_lookup", None)  # shapiq.Game keeps names as {name: index}
        names = sorted(lookup, key=lookup.get) if isinstance(lookup, dict) and lookup else None
        if names is not None and len(names) == self.n and result.feature_names is None:
            result = result.replace(feature_names=[str(v) for v in names])  # results are frozen: a new one
        self.last_result = result
        iv = to_interaction_values(result, self.index, self.max_order, min_order=self.min_order)
        # shapiq's approximators report the index's own empty-set value (0 when () is not reported)
        iv.baseline_value = float(dict(iv.interactions).get((), 0.0)) if self.min_order == 0 else 0.0
        return iv


__all__ = ["SHAPIQ_INDICES", "SpexApproximator", "from_interaction_values", "to_interaction_values"]
