"""Every colour the report and the plots use, in one place, named by what it means.

Why one module: the HTML report (``html.py``, ``views.py``) and the matplotlib plots (``plots.py``) each
defined their own red and blue for "raises the output" and "lowers it"; a change to one silently
disagreed with the other. Here each meaning has one name. The values are the ones each view already drew
with, so no saved report or figure changes:

- the **diverging scale** (a unit's background in the HTML text view and in :func:`~spexjax.report.plot_text`,
  the heads grid heatmap, network nodes in the HTML view): white at 0, towards :data:`RAISES_RGB` /
  :data:`LOWERS_RGB` at the largest ``|value|``;
- **marks** in matplotlib plots (bars, network edges and nodes, grid edges): matplotlib's ``tab:red`` /
  ``tab:blue`` (:data:`RAISES` / :data:`LOWERS`), a shade brighter than the scale's ends, which read well as
  thin lines and small markers.
"""

from __future__ import annotations

__all__ = [
    "INK",
    "INK_ON_DARK",
    "LOWERS",
    "LOWERS_RGB",
    "OTHER_CLASS",
    "RAISES",
    "RAISES_RGB",
    "TEST_CLASS",
    "css_rgb",
]

#: diverging scale, the positive end: a unit that raises the output (HTML text view, text plot, grid heatmap).
RAISES_RGB: tuple[int, int, int] = (202, 45, 48)
#: diverging scale, the negative end: a unit that lowers the output.
LOWERS_RGB: tuple[int, int, int] = (33, 102, 172)
#: matplotlib marks (bars, edges, nodes) of a term that raises the output (``tab:red``).
RAISES: str = "#d62728"
#: matplotlib marks of a term that lowers the output (``tab:blue``).
LOWERS: str = "#1f77b4"
#: text on a light background (and the scale's near-white end).
INK: str = "#1b1b1b"
#: text on a saturated background (more than 60 % of the scale); the HTML writes it ``#fff``.
INK_ON_DARK: str = "#fff"
#: data-attribution images: frame of a training image of the test image's class.
TEST_CLASS: str = "#2e8b57"
#: data-attribution images: frame of a training image of another class.
OTHER_CLASS: str = "#b8860b"


def css_rgb(rgb: tuple[int, int, int]) -> str:
    """``rgb(r,g,b)`` without spaces (the form the HTML report writes)."""
    return f"rgb({rgb[0]},{rgb[1]},{rgb[2]})"
