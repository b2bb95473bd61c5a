"""The result of an explanation: a sparse Fourier expansion and everything users derive from it."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from spexjax._checks import check_feature_names, is_int
from spexjax._version import __version__
from spexjax.errors import ArgumentError, ArgumentTypeError
from spexjax.indices import (
    check_index,
    check_order,
    convert_padded,
    fourier_to_mobius,
    mobius_to_fourier,
    pad_supports,
    weight_table,
)
from spexjax.integrations import shapiq_values
from spexjax.kernels.characters import eval_fourier
from spexjax.optimize import best_subset as _best_subset
from spexjax.runs.info import RunInfo
from spexjax.value_functions import check_masks

Support = tuple[int, ...]

FORMAT_NAME = "spexjax.Interactions"
FORMAT_VERSION = 2
"""Version of the file format :meth:`Interactions.save` writes.

History (all still readable by :meth:`Interactions.load`):

- 0: ``{"n", "supports", "coeffs"}`` (Fourier), no header; early prototypes.
- 1: header ``{"format", "version": 1}``, ``"n"``, ``"queries"``, ``"fourier": {"supports", "coeffs"}``.
- 2: flat ``"supports"``/``"coeffs"`` with ``"basis": "fourier"``, plus ``"feature_names"``, ``"meta"`` and
  ``"spexjax_version"``. Since 2026-12-07 also ``"run"`` (:meth:`RunInfo.to_dict`, or ``null``): an optional
  field, so files stay version 2 and older readers, which ignore it, still read them.
"""

PRESENTATION: dict[str, Callable[..., Any]] = {}
"""The renderers behind :meth:`Interactions.plot` (``"plot"``) and ``_repr_html_`` (``"html"``).

Plots and the HTML report live on the application floor (:mod:`spexjax.report`), which imports this module, so
this module must not import them back (``tests/test_layers.py`` checks the floors). The package root, which sits
above both floors, fills this table when ``spexjax`` is imported (dependency inversion): the result keeps its
two presentation methods without depending upward.
"""


def _presenter(name: str) -> Callable[..., Any]:
    try:
        return PRESENTATION[name]
    except KeyError:  # pragma: no cover - the package root always installs them
        raise RuntimeError(f"no {name!r} renderer installed; import spexjax (the package) first") from None


def supports_to_padded(supports: Sequence[Support]) -> np.ndarray:
    """``int64[K, d]`` with rows sorted ascending and ``-1`` padding (``d >= 1``)."""
    return pad_supports(supports)


def padded_to_supports(padded: np.ndarray) -> list[Support]:
    padded = np.asarray(padded)
    return [tuple(int(v) for v in row if v >= 0) for row in padded]


def _jsonable(obj: Any) -> Any:
    """JSON-ready copy of ``meta``: NumPy scalars/arrays become numbers/lists, unknown objects their repr."""
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return repr(obj)


class Interactions:
    """A sparse surrogate ``f(x) ~ sum_S F(S) (-1)^{|S & kept(x)|}`` with provenance.

    Stored as Fourier coefficients (what SPEX recovers); the Möbius transform and every Shapley/Banzhaf
    interaction index are exact functions of them (:mod:`spexjax.indices`).

    Args:
      n: number of features.
      supports: Fourier supports, sorted tuples (the empty tuple is the constant term).
      coeffs: Fourier coefficients, one per support.
      queries: value-function rows actually evaluated to get this result.
      feature_names: optional names, one per feature, used by ``repr``/``top``/plots.
      meta: free-form provenance (algorithm, plan, diagnostics) saved with the result.
      run: what the run cost (:class:`~spexjax.runs.RunInfo`: method, budget, queries, cache hits, retries,
        seconds by stage, rounds, key), filled by every method through :func:`spexjax.runs.run_info`;
        ``None`` for a result built by hand or loaded from an older file.

    A result is frozen after construction: setting or deleting an attribute raises ``AttributeError``. Names and
    provenance go in at construction; :meth:`replace` (or ``spexjax.report.with_meta``) builds a new result.
    Why: results are shared (cached index tables, reports, saved files); one mutated after return would
    silently disagree with what was saved or shown.
    """

    def __init__(
        self,
        n: int,
        supports: Sequence[Support],
        coeffs: Any,
        *,
        queries: int = 0,
        feature_names: Sequence[str] | None = None,
        meta: dict[str, Any] | None = None,
        run: RunInfo | None = None,
    ):
        self.n = int(n)
        if self.n < 1:
            raise ValueError(f"n must be >= 1; got {n}")
        sup = [tuple(sorted(int(i) for i in s)) for s in supports]
        coef = np.asarray(coeffs, dtype=np.float64).reshape(-1)
        if len(sup) != coef.shape[0]:
            raise ValueError(f"supports and coeffs must have the same length; got {len(sup)} and {coef.shape[0]}")
        for s in sup:
            if s and (s[0] < 0 or s[-1] >= self.n):
                raise ValueError(f"supports: {s} has a feature outside [0, {self.n})")
        # merge duplicates so each support appears once
        merged: dict[Support, float] = {}
        for s, c in zip(sup, coef, strict=True):
            merged[s] = merged.get(s, 0.0) + float(c)
        self._supports: list[Support] = list(merged.keys())
        self._coeffs = np.fromiter(merged.values(), dtype=np.float64, count=len(merged))
        self.queries = int(queries)
        self._feature_names = check_feature_names(feature_names, self.n)
        self.meta: dict[str, Any] = dict(meta or {})
        if run is not None and not isinstance(run, RunInfo):
            raise TypeError(f"run must be a spexjax.runs.RunInfo or None; got {type(run).__name__}")
        self.run: RunInfo | None = run
        self._padded: np.ndarray | None = None
        self._cache: dict[tuple[str, int, int], dict[Support, float]] = {}
        self._frozen = True

    def __setattr__(self, name: str, value: Any) -> None:
        if getattr(self, "_frozen", False):
            raise AttributeError(
                f"Interactions is frozen after construction: cannot set {name!r}; build a new result with "
                "Interactions.replace(...) (names and provenance go in at construction)"
            )
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Interactions is frozen after construction: cannot delete {name!r}")

    def replace(
        self,
        *,
        feature_names: Sequence[str] | None = None,
        meta: dict[str, Any] | None = None,
        run: RunInfo | None = None,
    ) -> Interactions:
        """A new result with the same expansion and ``queries``, and the given ``feature_names`` / ``meta`` /
        ``run`` (each kept from this one when not given)."""
        return type(self)(
            self.n,
            self._supports,
            self._coeffs,
            queries=self.queries,
            feature_names=self._feature_names if feature_names is None else feature_names,
            meta=self.meta if meta is None else meta,
            run=self.run if run is None else run,
        )

    @classmethod
    def from_mobius(cls, n: int, supports: Sequence[Support], coeffs: Any, **kwargs: Any) -> Interactions:
        """Build from Möbius coefficients ``f(x) = sum_{T subset kept(x)} a(T)`` (exact conversion)."""
        f_sup, f_coef = mobius_to_fourier(supports, coeffs)
        return cls(n, f_sup, f_coef, **kwargs)

    # -- feature names -------------------------------------------------------------------------
    @property
    def feature_names(self) -> list[str] | None:
        return self._feature_names

    def name(self, support: Sequence[int]) -> tuple[str, ...]:
        """Feature names of ``support``, e.g. ``("not", "bad")`` (the indices as str without names)."""
        if self._feature_names is None:
            return tuple(str(int(i)) for i in support)
        return tuple(self._feature_names[int(i)] for i in support)

    # -- expansions --------------------------------------------------------------------------
    def fourier(self) -> tuple[list[Support], np.ndarray]:
        return list(self._supports), self._coeffs.copy()

    def mobius(self) -> tuple[list[Support], np.ndarray]:
        return fourier_to_mobius(self._supports, self._coeffs)

    moebius = mobius

    @property
    def baseline(self) -> float:
        """f(empty mask) as modelled: with no feature kept every character is +1."""
        return float(self._coeffs.sum())

    @property
    def padded_supports(self) -> np.ndarray:
        if self._padded is None:  # a lazy cache of the frozen expansion, not a change of the result
            object.__setattr__(self, "_padded", supports_to_padded(self._supports))
        return self._padded

    @property
    def max_degree(self) -> int:
        """Largest Fourier (= Möbius) degree present."""
        return max((len(s) for s in self._supports), default=0)

    def predict(self, masks: Any) -> np.ndarray:
        """The surrogate evaluated on ``bool[m, n]`` masks."""
        x = check_masks(masks, self.n)
        if not self._supports:
            return np.zeros(x.shape[0])
        return np.asarray(eval_fourier(x, self.padded_supports, self._coeffs))

    def best_subset(self, size: int, *, maximize: bool = True, time_limit: float | None = None) -> tuple[int, ...]:
        """The ``size`` features whose keeping (all others ablated) maximises (or minimises) the surrogate.

        Exact: a mixed-integer program over the Möbius expansion solved by HiGHS (:mod:`spexjax.optimize`,
        which also gives the value and whether optimality was proven). With ``time_limit`` seconds reached it
        returns the best subset found and warns (``spexjax.optimize.ApproximateOptimumWarning``).
        """
        return _best_subset(self, size, maximize=maximize, time_limit=time_limit).subset

    # -- interaction indices -----------------------------------------------------------------
    def index(self, name: str, order: int | None = None, *, min_order: int = 0) -> dict[Support, float]:
        """``{support: value}`` of interaction index ``name`` for all interactions of size ``min_order..order``.

        Same definitions as shapiq (``ExactComputer`` / ``MoebiusConverter``; formulas in
        :mod:`spexjax.indices`). ``name`` is one of ``"Fourier", "Moebius", "SII", "BII", "k-SII", "STII",
        "FSII", "FBII", "SV", "BV"``. ``order`` is the explanation order ``k`` (``None``: ``n``, i.e. all
        orders; k-SII/STII/FSII/FBII then equal the Möbius transform); SV and BV always have order 1.
        For k-SII/STII/FSII/FBII the lower-order values depend on ``order`` (they absorb the higher-order
        Möbius mass), so ``index("STII", 3, min_order=3)`` is shapiq's ``top_order=True`` for order 3, not
        a truncation of a lower-order call. Interactions not listed are exactly zero; ``()`` is listed
        whenever ``min_order == 0`` (its value per index: see :mod:`spexjax.indices`).
        """
        name = check_index(name)
        order = check_order(order, name)
        min_order = check_order(min_order, "Moebius", name="min_order")
        k = 1 if name in ("SV", "BV") else (self.n if order is None else order)
        key = (name, k, min_order)
        if key not in self._cache:
            dmax = self.max_degree
            if not self._supports:
                table = np.zeros((1, 1))
                padded = np.zeros((0, 1), np.int64)
            else:
                table = weight_table(name, k, dmax, "Fourier")
                padded = self.padded_supports
            out: dict[Support, float] = {}
            for rows, vals in convert_padded(padded, self._coeffs, table, min_order=min_order):
                out.update(zip(map(tuple, rows.tolist()), vals.tolist(), strict=True))
            if len(self._cache) > 16:
                self._cache.clear()
            self._cache[key] = out
        return dict(self._cache[key])

    def top(
        self,
        k: int = 10,
        index: str = "Moebius",
        order: int | None = None,
        *,
        min_order: int = 1,
        names: bool = False,
    ) -> list[tuple[Any, float]]:
        """The ``k`` interactions with the largest ``|value|`` of ``index``, largest first.

        The constant ``()`` is left out (``min_order=1``); pass ``min_order=0`` to rank it too. Ties break
        by support (lexicographic), so the order is deterministic. With ``names=True`` supports come back
        as feature-name tuples, e.g. ``(("not", "bad"), 1.3)``.
        """
        if not is_int(k):
            raise ArgumentTypeError(f"k must be an int; got {type(k).__name__}")
        if k < 0:
            raise ArgumentError(f"k must be >= 0; got {k}")
        vals = self.index(index, order, min_order=min_order)
        items = sorted(vals.items(), key=lambda kv: (-abs(kv[1]), len(kv[0]), kv[0]))[: int(k)]
        if names:
            return [(self.name(s), v) for s, v in items]
        return items

    # -- interoperability --------------------------------------------------------------------
    def to_shapiq(self, index: str = "k-SII", order: int | None = None, *, min_order: int = 0):
        """``shapiq.InteractionValues`` of ``index`` (needs shapiq installed); see :meth:`index`."""
        return shapiq_values.to_interaction_values(self, index, order, min_order=min_order)

    @classmethod
    def from_shapiq(cls, values: Any, *, feature_names: Sequence[str] | None = None) -> Interactions:
        """From a ``shapiq.InteractionValues`` holding a complete ``"Moebius"`` or ``"Fourier"`` expansion."""
        return shapiq_values.from_interaction_values(values, cls, feature_names=feature_names)

    # -- persistence ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The JSON document :meth:`save` writes (format version :data:`FORMAT_VERSION`)."""
        return {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "spexjax_version": __version__,
            "n": self.n,
            "queries": self.queries,
            "basis": "fourier",
            "supports": [list(s) for s in self._supports],
            "coeffs": self._coeffs.tolist(),
            "feature_names": self._feature_names,
            "meta": _jsonable(self.meta),
            "run": None if self.run is None else _jsonable(self.run.to_dict()),
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Interactions:
        """Inverse of :meth:`to_dict`; also reads every older format version."""
        if not isinstance(doc, dict):
            raise TypeError(f"doc must be a dict (a parsed spexjax file); got {type(doc).__name__}")
        version = doc.get("version", 0)
        if "format" in doc and doc["format"] != FORMAT_NAME:
            raise ValueError(f"not a {FORMAT_NAME} file: format={doc['format']!r}")
        if not isinstance(version, int) or version < 0:
            raise ValueError(f"version must be a non-negative int; got {version!r}")
        if version > FORMAT_VERSION:
            raise ValueError(
                f"file has format version {version}, newer than this spexjax reads ({FORMAT_VERSION}); upgrade"
            )
        try:
            if version == 0:
                sup, coef, extra = doc["supports"], doc["coeffs"], {}
            elif version == 1:
                sup, coef = doc["fourier"]["supports"], doc["fourier"]["coeffs"]
                extra = {"queries": doc.get("queries", 0)}
            else:
                if doc.get("basis", "fourier") != "fourier":
                    raise ValueError(f"basis must be 'fourier'; got {doc.get('basis')!r}")
                sup, coef = doc["supports"], doc["coeffs"]
                extra = {
                    "queries": doc.get("queries", 0),
                    "feature_names": doc.get("feature_names"),
                    "meta": doc.get("meta") or {},
                }
                if doc.get("run") is not None:
                    extra["run"] = RunInfo.from_dict(doc["run"])
            n = doc["n"]
        except KeyError as e:
            raise ValueError(f"spexjax file (version {version}) lacks the field {e.args[0]!r}") from None
        coef = np.asarray(coef, dtype=np.float64).reshape(-1)
        return cls(n, [tuple(s) for s in sup], coef, **extra)

    def save(self, path: str | os.PathLike) -> None:
        """Write a portable JSON file (gzip-compressed when ``path`` ends in ``.gz``); lossless.

        Floats are written in their shortest round-tripping form, so :meth:`load` restores every
        coefficient bit for bit. ``meta`` round-trips for JSON types (tuples come back as lists).
        """
        text = json.dumps(self.to_dict(), separators=(",", ":"))
        path = os.fspath(path)
        if path.endswith(".gz"):
            with gzip.open(path, "wt", encoding="utf-8") as fh:
                fh.write(text)
        else:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Interactions:
        """Read a file written by :meth:`save` (any format version, ``.gz`` or plain)."""
        path = os.fspath(path)
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as fh:
            try:
                doc = json.load(fh)
            except json.JSONDecodeError as e:
                raise ValueError(f"path: {path!r} is not a spexjax JSON file ({e})") from None
        return cls.from_dict(doc)

    # -- plots -----------------------------------------------------------------------------------
    def plot(self, kind: str = "bar", **kwargs: Any):
        """A matplotlib figure: ``kind="bar"`` (top interactions) or ``"network"`` (pairwise graph).

        Keyword arguments go to :func:`spexjax.report.plot_bar` / :func:`spexjax.report.plot_network`
        (``k``, ``index``, ``order``, ``path`` to save a PNG, ``ax`` to draw into); the drawing is
        :func:`spexjax.report.plots.plot`'s (see :data:`PRESENTATION`).
        """
        if kind not in ("bar", "network"):
            raise ValueError(f"kind must be 'bar' or 'network'; got {kind!r}")
        return _presenter("plot")(self, kind, **kwargs)

    # -- dunder --------------------------------------------------------------------------------
    def _repr_html_(self) -> str:
        """Jupyter shows the same report as ``spexjax.report.to_html`` (a fragment, tabs work without JS)."""
        return _presenter("html")(self)

    def __len__(self) -> int:
        return len(self._supports)

    def __repr__(self) -> str:
        head = (
            f"Interactions(n={self.n}, terms={len(self)}, queries={self.queries}, baseline={self.baseline:.6g})"
        )
        if not self._supports:
            return head
        # the Möbius closure of a huge expansion is costly; fall back to Fourier there
        index = "Moebius" if len(self) <= 20_000 else "Fourier"
        items = self.top(5, index=index)
        if not items:
            return head
        labels = [", ".join(self.name(s)) for s, _ in items]
        width = min(max(len(lb) for lb in labels), 48)
        lines = [head, f"  top {index} terms:"]
        for lb, (_, v) in zip(labels, items, strict=True):
            lb = lb if len(lb) <= width else lb[: width - 3] + "..."
            lines.append(f"    ({lb}){' ' * (width - len(lb))}  {v:+.6g}")
        return "\n".join(lines)
