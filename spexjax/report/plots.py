"""Matplotlib plots of a result: the text coloured by effect, a bar chart of the top interactions, a network.

Figures are built with :class:`matplotlib.figure.Figure` (no pyplot state), so they work headless, in
notebooks (the returned figure displays) and in threads; ``path=`` saves a PNG (or any format matplotlib
infers from the suffix).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from spexjax.report.content import INDEX_TITLES, explain
from spexjax.report.lenses import grid_view, lens_of, with_grid
from spexjax.report.palette import INK, LOWERS, RAISES
from spexjax.report.palette import LOWERS_RGB as NEG_RGB
from spexjax.report.palette import RAISES_RGB as POS_RGB

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from spexjax.interactions import Interactions

POSITIVE = RAISES  # raises the output (the palette's mark colours)
NEGATIVE = LOWERS  # lowers it


def _figure(ax: Axes | None, size: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    try:
        from matplotlib.figure import Figure
    except ImportError as e:  # pragma: no cover
        raise ImportError("plots need matplotlib: pip install 'spexjax[plot]'") from e
    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.subplots()


def _finish(fig: Figure, path: str | os.PathLike | None, dpi: int) -> Figure:
    if path is not None:
        fig.savefig(os.fspath(path), dpi=dpi)
    return fig


def plot_bar(
    result: Interactions,
    *,
    k: int = 10,
    index: str = "Moebius",
    order: int | None = None,
    min_order: int = 1,
    ax: Axes | None = None,
    path: str | os.PathLike | None = None,
    title: str | None = None,
    dpi: int = 150,
) -> Figure:
    """Horizontal bars of the ``k`` largest-|value| interactions of ``index``, labelled by feature names."""
    items = result.top(k, index=index, order=order, min_order=min_order, names=True)
    fig, ax = _figure(ax, (7.0, 0.45 * max(len(items), 1) + 1.2))
    labels = [" × ".join(s) if s else "∅" for s, _ in items][::-1]
    vals = np.array([v for _, v in items][::-1], dtype=np.float64)
    ax.barh(np.arange(len(vals)), vals, color=[POSITIVE if v >= 0 else NEGATIVE for v in vals])
    ax.set_yticks(np.arange(len(vals)), labels)
    ax.axvline(0.0, color="0.3", lw=0.8)
    order_txt = "" if order is None else f", order {order}"
    ax.set_xlabel(f"{index} value")
    ax.set_title(title if title is not None else f"Top {len(items)} {index} interactions{order_txt}")
    if not items:
        ax.text(0.5, 0.5, "no interactions", ha="center", va="center", transform=ax.transAxes)
    return _finish(fig, path, dpi)


def plot_network(
    result: Interactions,
    *,
    k: int = 20,
    index: str = "k-SII",
    order: int = 2,
    ax: Axes | None = None,
    path: str | os.PathLike | None = None,
    title: str | None = None,
    dpi: int = 150,
) -> Figure:
    """Graph of the ``k`` strongest pairwise interactions of ``index`` at ``order`` (default k-SII, 2).

    Nodes are the features those pairs touch, on a circle, sized by |first-order value| and coloured by its
    sign; edges are pairs, width by |value|, colour by sign (red raises the output, blue lowers it).
    """
    vals = result.index(index, order, min_order=1)
    pairs = sorted(((s, v) for s, v in vals.items() if len(s) == 2), key=lambda kv: (-abs(kv[1]), kv[0]))[:k]
    nodes = sorted({i for s, _ in pairs for i in s})
    if not nodes:  # no pairs: show the strongest single features instead
        singles = sorted(((s, v) for s, v in vals.items() if len(s) == 1), key=lambda kv: (-abs(kv[1]), kv[0]))
        nodes = [s[0] for s, _ in singles[:k]]
    fig, ax = _figure(ax, (6.5, 6.5))
    ang = 2 * np.pi * np.arange(len(nodes)) / max(len(nodes), 1) + np.pi / 2
    pos = {i: (np.cos(a), np.sin(a)) for i, a in zip(nodes, ang, strict=True)}
    vmax = max((abs(v) for _, v in pairs), default=1.0) or 1.0
    for (i, j), v in pairs:
        (x0, y0), (x1, y1) = pos[i], pos[j]
        ax.plot(
            [x0, x1], [y0, y1], color=POSITIVE if v >= 0 else NEGATIVE, lw=0.5 + 5.5 * abs(v) / vmax,
            alpha=0.75, zorder=1, solid_capstyle="round",
        )
    first = np.array([vals.get((i,), 0.0) for i in nodes], dtype=np.float64)
    fmax = float(np.abs(first).max()) if len(first) and np.abs(first).max() > 0 else 1.0
    if nodes:
        xy = np.array([pos[i] for i in nodes])
        ax.scatter(
            xy[:, 0], xy[:, 1], s=120 + 900 * np.abs(first) / fmax,
            c=[POSITIVE if v >= 0 else NEGATIVE for v in first], edgecolors="k", linewidths=0.6, zorder=2,
        )
        for i, (x, y) in pos.items():
            ax.annotate(
                result.name((i,))[0], (x, y), xytext=(1.18 * x, 1.18 * y), textcoords="data",
                ha="center", va="center", fontsize=9, zorder=3,
            )
    else:
        ax.text(0.5, 0.5, "no interactions", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlim(-1.45, 1.45)
    ax.set_ylim(-1.45, 1.45)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title if title is not None else f"Pairwise {index} interactions (order {order}), top {len(pairs)}")
    return _finish(fig, path, dpi)


def plot_text(
    result: Interactions,
    *,
    index: str = "Moebius",
    text: str | None = None,
    width: float = 9.0,
    fontsize: float = 15.0,
    path: str | os.PathLike | None = None,
    title: str | None = None,
    dpi: int = 150,
) -> Figure:
    """The prompt with each unit's box coloured by its order-1 ``index`` value (red raises, blue lowers).

    Units are placed as in ``text`` (default: the prompt saved in ``result.meta["provenance"]``), wrapped
    to ``width`` inches; a colour bar gives the scale.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import LinearSegmentedColormap, Normalize

    exp = explain(result, text=text, indices=(index,) if index in INDEX_TITLES else ("Moebius",))
    index = next(iter(exp.first))
    first = exp.first[index]
    vmax = float(np.abs(first).max()) or 1.0
    cmap = LinearSegmentedColormap.from_list(
        "spexjax", [tuple(c / 255 for c in NEG_RGB), (1, 1, 1), tuple(c / 255 for c in POS_RGB)]
    )
    norm = Normalize(-vmax, vmax)

    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, 2.0))
    FigureCanvasAgg(fig)
    renderer = fig.canvas.get_renderer()
    # lay out in pixels on a canvas of the final width, then size the figure to the lines used
    px_w = width * fig.dpi
    margin, line_h = 0.2 * fig.dpi, fontsize * 2.3 * fig.dpi / 72
    pieces: list[tuple[float, int, str, int | None]] = []  # (x, line, text, unit)
    x, line = margin, 0
    probe = fig.text(0, 0, "", fontsize=fontsize)
    for seg in exp.segments:
        for k, chunk in enumerate(seg.text.split("\n")):
            if k:
                x, line = margin, line + 1
            if not chunk:
                continue
            probe.set_text(chunk.replace(" ", "\u00a0"))
            w = probe.get_window_extent(renderer).width + (8 if seg.unit is not None else 0)
            if x + w > px_w - margin and x > margin and seg.unit is not None:
                x, line = margin, line + 1
            if seg.unit is None and x == margin and not chunk.strip():
                continue
            pieces.append((x, line, chunk, seg.unit))
            x += w
    probe.remove()
    lines = line + 1
    height_px = 2 * margin + lines * line_h + 1.2 * fig.dpi
    fig.set_size_inches(width, height_px / fig.dpi)
    for x, ln, chunk, unit in pieces:
        y = height_px - margin - (ln + 0.6) * line_h - 0.35 * fig.dpi
        kw: dict[str, Any] = {}
        if unit is not None:
            v = float(first[unit])
            kw["bbox"] = {"boxstyle": "round,pad=0.25", "facecolor": cmap(norm(v)), "edgecolor": "none"}
            kw["color"] = "white" if abs(v) / vmax > 0.6 else INK
        fig.text(x / px_w + 0.004, y / height_px, chunk, fontsize=fontsize, va="center", ha="left", **kw)
    cax = fig.add_axes((0.3, 0.5 * fig.dpi / height_px, 0.4, 0.12 * fig.dpi / height_px))
    from matplotlib.cm import ScalarMappable

    cb = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=cax, orientation="horizontal")
    cb.set_label(f"order-1 {INDEX_TITLES[index]} value (red raises, blue lowers)", fontsize=9)
    cb.ax.tick_params(labelsize=8)
    fig.suptitle(title if title is not None else exp.title, fontsize=12, y=1 - 0.08 * fig.dpi / height_px)
    return _finish(fig, path, dpi)


def plot_grid(
    result: Interactions,
    *,
    index: str = "Moebius",
    layers: int | None = None,
    heads: int | None = None,
    k: int = 12,
    ax: Axes | None = None,
    path: str | os.PathLike | None = None,
    title: str | None = None,
    dpi: int = 150,
) -> Figure:
    """Attention heads as a layers x heads heatmap of order-1 ``index`` values, the ``k`` strongest sets on it.

    The PNG twin of the report's grid view: pairs within one layer are arcs above the row, pairs across layers
    dashed lines, larger sets a diamond hub with spokes; red raises the score, blue lowers it. The grid shape is
    ``result.meta["lens"]``'s (:func:`spexjax.report.with_grid`), else ``layers``/``heads``, else read from names
    ``L{l}H{h}``; a pruning run's first kept set is outlined.
    """
    from matplotlib.colors import LinearSegmentedColormap, Normalize
    from matplotlib.patches import FancyArrowPatch, Rectangle

    if index not in INDEX_TITLES:
        raise ValueError(f"index must be one of {tuple(INDEX_TITLES)}; got {index!r}")
    if lens_of(result) != "grid" or layers is not None or heads is not None:
        result = with_grid(result, layers, heads)
    g = grid_view(result, k_sets=k)
    first = g.exp.first[index].reshape(g.layers, g.heads)
    vmax = float(np.abs(first).max()) or 1.0
    cmap = LinearSegmentedColormap.from_list(
        "spexjax", [tuple(c / 255 for c in NEG_RGB), (1, 1, 1), tuple(c / 255 for c in POS_RGB)]
    )
    fig, ax = _figure(ax, (max(5.0, 0.5 * g.heads + 1.5), max(3.0, 0.5 * g.layers + 1.3)))
    im = ax.imshow(first, cmap=cmap, norm=Normalize(-vmax, vmax), aspect="equal")
    ax.set_xticks(np.arange(g.heads), [f"H{h}" for h in range(g.heads)], fontsize=7)
    ax.set_yticks(np.arange(g.layers), [f"L{layer}" for layer in range(g.layers)], fontsize=7)
    terms = g.sets.get(index, [])
    tmax = max((abs(t.value) for t in terms), default=1.0) or 1.0
    for t in sorted(terms, key=lambda t: abs(t.value)):
        col = POSITIVE if t.value > 0 else NEGATIVE
        w = 0.8 + 3.2 * abs(t.value) / tmax
        pts = [(i % g.heads, i // g.heads) for i in t.support]
        within = len({y for _, y in pts}) == 1
        style = "-" if within else "--"
        if t.order == 2:
            (x0, y0), (x1, y1) = pts
            rad = -0.45 if within else 0.0
            ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), connectionstyle=f"arc3,rad={rad}", arrowstyle="-",
                                         color=col, lw=w, ls=style, alpha=0.85, zorder=3))
        else:
            hx = sum(x for x, _ in pts) / len(pts)
            hy = sum(y for _, y in pts) / len(pts) - (0.45 if within else 0.0)
            for x, y in pts:
                ax.plot([hx, x], [hy, y], color=col, lw=max(w * 0.6, 0.8), ls=style, alpha=0.75, zorder=3)
            ax.scatter([hx], [hy], marker="D", s=30, color=col, zorder=4)
        ax.scatter([x for x, _ in pts], [y for _, y in pts], s=12, color=col, zorder=4)
    if g.prune:
        for i in g.prune[0]["kept"]:
            ax.add_patch(Rectangle((i % g.heads - 0.45, i // g.heads - 0.45), 0.9, 0.9, fill=False, ec="#111",
                                   lw=1.2, zorder=2))
    cb = fig.colorbar(im, ax=ax, shrink=0.8)
    cb.set_label(f"order-1 {INDEX_TITLES[index]} value", fontsize=8)
    ax.set_title(title if title is not None else f"Heads by layer: {INDEX_TITLES[index]} (solid: within a layer, "
                 "dashed: across)", fontsize=9)
    return _finish(fig, path, dpi)


_PLOTS = {"bar": plot_bar, "network": plot_network, "text": plot_text, "grid": plot_grid}


def plot(result: Interactions, kind: str = "bar", **kwargs: Any) -> Figure:
    """``plot_bar``, ``plot_network``, ``plot_text`` or ``plot_grid`` by ``kind`` (``"bar"``, ``"network"``,
    ``"text"``, ``"grid"``); also what :meth:`spexjax.Interactions.plot` draws with."""
    if kind not in _PLOTS:
        raise ValueError(f"kind must be 'bar', 'network', 'text' or 'grid'; got {kind!r}")
    return _PLOTS[kind](result, **kwargs)


__all__ = ["NEGATIVE", "POSITIVE", "plot", "plot_bar", "plot_grid", "plot_network", "plot_text"]
