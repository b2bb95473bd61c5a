"""Which view a report draws, chosen from what the result carries: text, training images, or a head grid.

A result names its lens in ``meta["lens"]`` (a string, or a dict with ``"kind"`` and what that view needs);
without one it is the text view. Nothing here changes :class:`~spexjax.Interactions`: the helpers return a new
result built with :func:`~spexjax.report.content.with_meta`, and :func:`spexjax.report.save_html` reads the lens
from the metadata. A saved result (``Interactions.save``) keeps its lens, so ``spexjax report`` rebuilds the
same view.

- ``"text"``: units laid out in the prompt (``spexjax.llm``); today's report.
- ``"images"`` (data attribution): :func:`with_images` stores, for the points the report shows and no others,
  a small PNG (base64) and the labels of every point in a term. So the file size does not grow with the
  number of training points: a result over 50,000 points shows at most ``1 + 2 * K_POINTS + 2 * K_SETS *
  MAX_MEMBERS`` = 77 thumbnails of at most ``MAX_SIDE`` = 64 pixels a side, RGB or grey: at most
  77 * (64 * 64 * 3 + 64 + ~70) bytes of PNG, ~1.27 MB in base64 even for incompressible pixels, and the whole
  page stays under 2 MB (``SIZE_BOUND``) unless feature names or provenance strings run to kilobytes each.
- ``"grid"`` (attention heads): ``layers`` x ``heads`` (or read from names ``L{l}H{h}``), the task metric and,
  for a pruning run, the kept heads and their held-out scores (:func:`with_grid`).
"""

from __future__ import annotations

import base64
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spexjax.report.content import INDICES, Explanation, Term, _index_values, explain, label_of, with_meta
from spexjax.report.png import as_images, encode_png, thumbnail, to_uint8, valid_b64_png

__all__ = [
    "K_POINTS",
    "K_SETS",
    "LENSES",
    "MAX_MEMBERS",
    "MAX_SIDE",
    "SIZE_BOUND",
    "GridView",
    "ImagePoint",
    "ImageSet",
    "ImageView",
    "grid_view",
    "image_view",
    "lens_of",
    "lens_spec",
    "with_grid",
    "with_images",
]

LENSES = ("text", "images", "grid")
K_POINTS = 8
"""Training points shown per sign (raise / lower the margin) in the image view."""
K_SETS = 5
"""Synergistic and redundant sets (order >= 2) shown in the image view, each."""
MAX_MEMBERS = 6
"""Thumbnails drawn per set; larger sets say how many more points they have."""
MAX_SIDE = 64
"""Longest side of a thumbnail in pixels (bigger images are block-averaged down)."""
SIZE_BOUND = 2_000_000
"""Bytes an image report stays under at any number of training points (tested at n = 50,000)."""


def lens_spec(result: Any) -> dict[str, Any]:
    """``meta["lens"]`` as a dict with ``"kind"`` (``{"kind": "text"}`` when the result names none)."""
    spec = (result.meta or {}).get("lens")
    if spec is None:
        return {"kind": "text"}
    if isinstance(spec, str):
        spec = {"kind": spec}
    if not isinstance(spec, dict) or spec.get("kind") not in LENSES:
        got = spec.get("kind") if isinstance(spec, dict) else spec
        raise ValueError(f"meta['lens'] must name one of {LENSES} (a str or a dict with 'kind'); got {got!r}")
    return spec


def lens_of(result: Any) -> str:
    """``"text"``, ``"images"`` or ``"grid"``: the view :func:`spexjax.report.save_html` draws for ``result``."""
    return lens_spec(result)["kind"]


# -- images --------------------------------------------------------------------------------------------------
def _tol(coeffs: np.ndarray) -> float:
    return 1e-9 * float(np.abs(coeffs).max()) if len(coeffs) else 0.0


def image_terms(result: Any, k_points: int = K_POINTS, k_sets: int = K_SETS) -> dict[str, list]:
    """The Möbius terms the image view draws: ``raises``/``lowers`` (single points, strongest first) and
    ``synergistic``/``redundant`` (sets of >= 2 points, largest positive / most negative first)."""
    supports, coeffs = result.mobius()
    coeffs = np.asarray(coeffs, dtype=np.float64)
    tol = _tol(coeffs)
    terms = [(s, float(v)) for s, v in zip(supports, coeffs, strict=True) if s and abs(v) > tol]
    single = [(s, v) for s, v in terms if len(s) == 1]
    multi = [(s, v) for s, v in terms if len(s) >= 2]
    return {
        "raises": sorted((t for t in single if t[1] > 0), key=lambda t: (-t[1], t[0]))[:k_points],
        "lowers": sorted((t for t in single if t[1] < 0), key=lambda t: (t[1], t[0]))[:k_points],
        "synergistic": sorted((t for t in multi if t[1] > 0), key=lambda t: (-t[1], t[0]))[:k_sets],
        "redundant": sorted((t for t in multi if t[1] < 0), key=lambda t: (t[1], t[0]))[:k_sets],
    }


def _shown_points(result: Any) -> list[int]:
    chosen = image_terms(result)
    pts: set[int] = set()
    for key in ("raises", "lowers"):
        pts.update(s[0] for s, _ in chosen[key])
    for key in ("synergistic", "redundant"):
        for s, _ in chosen[key]:
            pts.update(s[:MAX_MEMBERS])
    return sorted(pts)


def _load(obj: Any, what: str) -> Any:
    """An array, or a ``.npy`` path opened as a read-only memory map (only the rows used are read)."""
    if isinstance(obj, str | os.PathLike):
        path = os.fspath(obj)
        if not os.path.isfile(path):
            raise ValueError(f"{what}: no such file {path!r}")
        try:
            return np.load(path, mmap_mode="r", allow_pickle=False)
        except ValueError as err:
            raise ValueError(f"{what}: {path!r} is not a .npy array ({err})") from None
    return obj


def _label(value: Any, what: str) -> int:
    v = np.asarray(value).reshape(-1)
    if v.size != 1 or not (np.issubdtype(v.dtype, np.integer) or float(v[0]) == int(v[0])):
        raise TypeError(f"{what} must be integer class labels; got {value!r}")
    return int(v[0])


def with_images(
    result: Any,
    images: Any,
    labels: Any = None,
    *,
    test_image: Any = None,
    test_label: int | None = None,
    margin: float | None = None,
    class_names: Sequence[str] | None = None,
    test_name: str | None = None,
) -> Any:
    """A new result whose report is the image view: the training images of its strongest terms.

    Args:
      result: a data-attribution :class:`~spexjax.Interactions` over ``n`` training points (``RetrainTask``,
        ``DatamodelsStore.explain``).
      images: the ``n`` training images (``[n, h, w]``, ``[n, h, w, c]``, ``[n, c, h, w]`` or flat square rows),
        or the path of a ``.npy`` file holding them (memory-mapped: only the shown rows are read, so the
        images of a 50,000-point store beside its masks need not fit in memory).
      labels: the ``n`` training labels (array or ``.npy`` path); sets are split into the test label's class
        and the other classes.
      test_image, test_label: the explained test point (its image is shown large).
      margin: the margin of the model trained on every point (measured); the report also shows the
        surrogate's ``f(all kept)``.
      class_names: names of the classes, indexed by label.
      test_name: a caption for the test point (e.g. ``"digits test image 0"``).

    Only the thumbnails the report draws are stored (PNG, base64, in ``meta["lens"]["thumbs"]``) with the
    labels of the points that appear in any term, so the metadata and the report stay small at any ``n``.
    """
    n = result.n
    imgs = as_images(_load(images, "images"), n)
    if imgs.shape[3] == 4:  # alpha adds bytes, not information, to a thumbnail: the size bound assumes RGB
        imgs = imgs[..., :3]
    shown = _shown_points(result)
    lab = None
    if labels is not None:
        lab = np.asarray(_load(labels, "labels")).reshape(-1)
        if lab.shape[0] != n:
            raise ValueError(f"labels must hold one label per training point ({n}); got {lab.shape[0]}")
        if not (np.issubdtype(lab.dtype, np.integer) or np.all(lab == np.round(lab))):
            raise TypeError(f"labels must be integer class labels; got dtype {lab.dtype}")
    test = None
    if test_image is not None:
        t = np.asarray(test_image)
        test = as_images(t.reshape(1, *t.shape))[0]
        test = test[..., :3] if test.shape[-1] == 4 else test
        if test.shape != imgs.shape[1:]:
            raise ValueError(f"test_image must have the training images' shape {imgs.shape[1:]}; got {t.shape}")
    # one contrast for every thumbnail of the report: the shown images and the test image together
    rows = [thumbnail(np.asarray(imgs[i]), MAX_SIDE) for i in shown]
    if test is not None:
        rows.append(thumbnail(test, MAX_SIDE))
    stack = to_uint8(np.stack(rows)) if rows else np.zeros((0, 1, 1, 1), np.uint8)
    b64 = [base64.b64encode(encode_png(a)).decode("ascii") for a in stack]
    members = sorted({i for s in result.fourier()[0] for i in s} | set(shown))
    spec: dict[str, Any] = {
        "kind": "images",
        "thumbs": {str(i): b64[j] for j, i in enumerate(shown)},
        "labels": {str(i): int(lab[i]) for i in members} if lab is not None else None,
        "target_class": _label(test_label, "test_label") if test_label is not None else None,
        "image_shape": [int(s) for s in imgs.shape[1:]],
        "images_from": os.fspath(images) if isinstance(images, str | os.PathLike) else "array",
        "test": {
            "png": b64[-1] if test is not None else None,
            "margin": None if margin is None else float(margin),
            "name": None if test_name is None else str(test_name),
        },
        "class_names": None if class_names is None else [str(c) for c in class_names],
    }
    return with_meta(result, lens=spec)


@dataclass(frozen=True)
class ImagePoint:
    """One training point as the image view draws it."""

    index: int
    name: str
    label: int | None
    thumb: str | None  # base64 PNG
    effect: float  # its order-1 Möbius value
    target: bool | None  # in the test point's class?


@dataclass(frozen=True)
class ImageSet:
    """A set of >= 2 training points: its Möbius value, split into target-class and other-class members."""

    support: tuple[int, ...]
    value: float
    label: str  # "synergy" / "redundancy"
    group: str  # "target", "other", "mixed" or "unlabelled"
    target_members: list[ImagePoint]
    other_members: list[ImagePoint]
    unknown_members: list[ImagePoint]
    hidden: int  # members beyond MAX_MEMBERS, not drawn


@dataclass
class ImageView:
    """Everything the image view draws (built by :func:`image_view`)."""

    exp: Explanation
    raises: list[ImagePoint]
    lowers: list[ImagePoint]
    synergistic: list[ImageSet]
    redundant: list[ImageSet]
    test_thumb: str | None
    test_label: int | None
    test_name: str | None
    margin: float | None
    class_names: list[str] | None
    store: dict[str, Any] | None
    images_from: str | None
    notes: list[str] = field(default_factory=list)

    def class_name(self, label: int | None) -> str:
        if label is None:
            return "?"
        if self.class_names and 0 <= label < len(self.class_names):
            return self.class_names[label]
        return str(label)


def image_view(result: Any, *, k: int = 15) -> ImageView:
    """The image view's content: the test point, the strongest points and sets, with their thumbnails."""
    spec = lens_spec(result)
    exp = explain(result, k=k, indices=("Moebius",))
    thumbs = {str(i): v for i, v in (spec.get("thumbs") or {}).items() if valid_b64_png(v)}
    labels = {str(i): int(v) for i, v in (spec.get("labels") or {}).items()}
    target = spec.get("target_class")
    target = int(target) if target is not None else None
    first = exp.first["Moebius"]
    tol = 1e-9 * float(np.abs(first).max()) if exp.n else 0.0
    first = np.where(np.abs(first) > tol, first, 0.0)  # Möbius round-off of the Fourier conversion reads as 0
    notes = []
    if not thumbs:
        notes.append("No training images are attached to this result: pass images= (and labels=) to save_html, "
                     "or build it with spexjax.report.with_images.")

    def point(i: int) -> ImagePoint:
        lab = labels.get(str(i))
        return ImagePoint(i, exp.names[i], lab, thumbs.get(str(i)), float(first[i]),
                          None if lab is None or target is None else lab == target)

    chosen = image_terms(result)
    raises = [point(s[0]) for s, _ in chosen["raises"]]
    lowers = [point(s[0]) for s, _ in chosen["lowers"]]

    def make_set(s: tuple[int, ...], v: float) -> ImageSet:
        pts = [point(i) for i in s[:MAX_MEMBERS]]
        known = [p.target for p in (point(i) for i in s)]
        if any(t is None for t in known):
            group = "unlabelled"
        else:
            group = "target" if all(known) else ("other" if not any(known) else "mixed")
        return ImageSet(s, v, label_of(v, len(s)), group, [p for p in pts if p.target is True],
                        [p for p in pts if p.target is False], [p for p in pts if p.target is None],
                        max(0, len(s) - MAX_MEMBERS))

    test = spec.get("test") or {}
    test_png = test.get("png")
    store = (result.meta or {}).get("store")
    return ImageView(
        exp=exp,
        raises=raises,
        lowers=lowers,
        synergistic=[make_set(s, v) for s, v in chosen["synergistic"]],
        redundant=[make_set(s, v) for s, v in chosen["redundant"]],
        test_thumb=test_png if valid_b64_png(test_png) else None,
        test_label=target,
        test_name=test.get("name"),
        margin=None if test.get("margin") is None else float(test["margin"]),
        class_names=spec.get("class_names"),
        store=store if isinstance(store, dict) else None,
        images_from=spec.get("images_from"),
        notes=notes,
    )


# -- grid ------------------------------------------------------------------------------------------------------
_HEAD_NAME = re.compile(r"^L(\d+)H(\d+)$")


def _grid_shape(result: Any, layers: Any, heads: Any) -> tuple[int, int]:
    n = result.n
    if layers is None or heads is None:
        names = result.feature_names
        parsed = [_HEAD_NAME.match(s) for s in names] if names else []
        if not parsed or not all(parsed):
            raise ValueError("meta['lens']: a grid needs 'layers' and 'heads' (or feature names 'L{l}H{h}')")
        lh = [(int(m.group(1)), int(m.group(2))) for m in parsed]
        layers = max(a for a, _ in lh) + 1 if layers is None else layers
        heads = max(b for _, b in lh) + 1 if heads is None else heads
    for what, v in (("layers", layers), ("heads", heads)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
            raise ValueError(f"meta['lens']['{what}'] must be an int >= 1; got {v!r}")
    if int(layers) * int(heads) != n:
        raise ValueError(f"meta['lens']: layers x heads = {int(layers)} x {int(heads)} must equal n = {n} "
                         "(features are heads, layer-major)")
    return int(layers), int(heads)


def _check_prune(prune: Any, n: int) -> list[dict[str, Any]]:
    out = []
    for j, p in enumerate(prune or ()):
        if not isinstance(p, dict) or "kept" not in p:
            raise ValueError(f"prune[{j}] must be a dict with 'kept' (head indices) and optional 'fraction', "
                             "'heldout', 'full', 'fit'")
        kept = sorted({int(i) for i in p["kept"]})
        if kept and (kept[0] < 0 or kept[-1] >= n):
            raise ValueError(f"prune[{j}]['kept'] must be head indices in [0, {n}); got {kept}")
        row: dict[str, Any] = {"kept": kept, "fraction": float(p.get("fraction", len(kept) / n))}
        for key in ("heldout", "full", "fit"):
            if p.get(key) is not None:
                row[key] = float(p[key])
        out.append(row)
    return out


def with_grid(
    result: Any,
    layers: int | None = None,
    heads: int | None = None,
    *,
    prune: Sequence[dict[str, Any]] | None = None,
    metric: str | None = None,
) -> Any:
    """A new result whose report is the head grid (``layers`` x ``heads``, default from names ``L{l}H{h}``).

    ``prune``: one dict per kept fraction of a pruning run, ``{"fraction", "kept": [head indices],
    "heldout": score of the pruned model on the held-out split, "full": score with every head}``; the report
    outlines the kept heads and tabulates the scores. ``metric`` names the score (e.g. ``"logprob"``).
    """
    layers, heads = _grid_shape(result, layers, heads)
    spec = {"kind": "grid", "layers": layers, "heads": heads, "prune": _check_prune(prune, result.n),
            "metric": None if metric is None else str(metric)}
    return with_meta(result, lens=spec)


@dataclass
class GridView:
    """Everything the grid view draws (built by :func:`grid_view`)."""

    exp: Explanation
    layers: int
    heads: int
    sets: dict[str, list[Term]]  # index -> strongest terms of order >= 2
    energy_by_order: list[tuple[int, float]]
    depth: dict[str, float]  # linear / within_layer / across_layer shares of all non-constant energy
    depth_rows: list[dict[str, Any]]  # energy_by_depth's rows (early / late / all / spanning)
    prune: list[dict[str, Any]]
    metric: str | None

    def layer(self, i: int) -> int:
        return i // self.heads

    def kind(self, term: Term) -> str:
        """``"within layer l"`` or ``"across layers a-b"`` (the layers the heads sit in)."""
        ls = sorted({self.layer(i) for i in term.support})
        return f"within layer {ls[0]}" if len(ls) == 1 else "across layers " + ", ".join(map(str, ls))


def grid_view(result: Any, *, k: int = 15, k_sets: int = 12) -> GridView:
    """The grid view's content: per-head order-1 values, strongest sets, energy by order and by depth."""
    from spexjax.heads.prune import energy_by_depth  # heads/ (its model backends) loads for the grid lens only

    spec = lens_spec(result)
    layers, heads = _grid_shape(result, spec.get("layers"), spec.get("heads"))
    exp = explain(result, k=k, indices=INDICES)
    sets = {}
    for ix in exp.terms:  # the strongest sets of each index, whatever the main effects' sizes
        vals = _index_values(result, ix, exp.order)
        tol = 1e-9 * max((abs(v) for v in vals.values()), default=0.0)
        items = sorted(((s, v) for s, v in vals.items() if len(s) >= 2 and abs(v) > tol),
                       key=lambda kv: (-abs(kv[1]), kv[0]))[:k_sets]
        sets[ix] = [Term(s, tuple(exp.names[i] for i in s), float(v), len(s), label_of(v, len(s))) for s, v in items]
    supports, coeffs = result.fourier()
    energy: dict[int, float] = {}
    for s, c in zip(supports, coeffs, strict=True):
        if s:
            energy[len(s)] = energy.get(len(s), 0.0) + float(c) ** 2
    total = sum(energy.values())
    by_order = [(o, energy[o] / total if total > 0 else 0.0) for o in sorted(energy)]
    rows = energy_by_depth(result, layers, heads)
    all_row = next((r for r in rows if r.get("group") == "all"), {})
    depth = {key: float(all_row.get(key, 0.0)) for key in ("linear", "within_layer", "across_layer")}
    prune = _check_prune(spec.get("prune"), result.n)
    metric = spec.get("metric")
    return GridView(exp, layers, heads, sets, by_order, depth, rows, prune, None if metric is None else str(metric))


def finite(v: Any) -> bool:
    return v is not None and math.isfinite(float(v))
