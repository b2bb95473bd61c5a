"""The report's colours live in one module (``spexjax/report/palette.py``), each named by what it means."""

from __future__ import annotations

import re
from pathlib import Path

from spexjax.report import html, palette, plots, views

ROOT = Path(__file__).resolve().parents[2]


def test_views_read_the_palette():
    assert html.POSITIVE == palette.RAISES_RGB and html.NEGATIVE == palette.LOWERS_RGB
    assert plots.POSITIVE == palette.RAISES and plots.NEGATIVE == palette.LOWERS
    assert f"--pos:{palette.css_rgb(palette.RAISES_RGB)};--neg:{palette.css_rgb(palette.LOWERS_RGB)}" in html._CSS
    assert f"border-color:{palette.TEST_CLASS}" in views._IMG_CSS and palette.OTHER_CLASS in views._IMG_CSS
    assert html.color(1.0, 1.0).startswith("rgb(") and html.color(0.0, 1.0) == "rgb(255,255,255)"


def test_no_meaningful_colour_is_written_twice():
    """None of the palette's colours appears as a literal in another report module (one place to change it)."""
    literals = {
        palette.RAISES.lower(), palette.LOWERS.lower(), palette.TEST_CLASS.lower(), palette.OTHER_CLASS.lower(),
        palette.css_rgb(palette.RAISES_RGB), palette.css_rgb(palette.LOWERS_RGB),
        ", ".join(map(str, palette.RAISES_RGB)), ", ".join(map(str, palette.LOWERS_RGB)),
    }
    offenders = []
    for path in sorted((ROOT / "spexjax" / "report").glob("*.py")):
        if path.name == "palette.py":
            continue
        text = path.read_text(encoding="utf-8").lower()
        offenders += [f"{path.name}: {lit}" for lit in literals if re.search(re.escape(lit), text)]
    assert not offenders, offenders
