"""The HTML of the image view (training points) and the grid view (attention heads).

Both follow the text view's rules (:mod:`spexjax.report.html`): one self-contained file, CSS/SVG/JS inline, a
CSP that forbids every fetch, every user- or model-supplied string escaped with :func:`html.escape`, panels
that work without scripts (``title`` attributes, CSS radio tabs) and a little JS for hover and click.
Images are ``<img src="data:image/png;base64,...">`` built from validated base64 only.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import numpy as np

from spexjax.report.content import INDEX_TITLES
from spexjax.report.html import (
    _CSS,
    _JS,
    _esc,
    _faith_panel,
    _num,
    _prov_panel,
    _table_panel,
    _unit_tip,
    _words,
    color,
    page,
)
from spexjax.report.lenses import GridView, ImagePoint, ImageSet, ImageView
from spexjax.report.palette import OTHER_CLASS, TEST_CLASS
from spexjax.report.png import data_uri

__all__ = ["render_grid", "render_images"]

_SHORT = 40  # longest name drawn under a thumbnail or in a grid label (the full name is in the tooltip)


def _short(name: str, limit: int = _SHORT) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _rid(kind: str, *parts: Any) -> str:
    return f"spx-{kind}-" + hashlib.sha256(repr(parts).encode()).hexdigest()[:10]


# -- images ----------------------------------------------------------------------------------------------------
_IMG_CSS = """
#ID .pts{display:flex;flex-wrap:wrap;gap:8px;align-items:flex-start}
#ID figure.pt{margin:0;padding:3px;border-radius:6px;text-align:center;width:70px;cursor:pointer}
#ID figure.pt figcaption{font-size:11px;line-height:1.25;color:#333;overflow-wrap:anywhere}
#ID img.th{width:56px;height:56px;image-rendering:pixelated;display:block;margin:0 auto;border-radius:3px;
border:3px solid #bbb;background:#000}
#ID .t img.th,#ID img.th.t{border-color:@TEST@}#ID .o img.th,#ID img.th.o{border-color:@OTHER@}
#ID .noimg{width:56px;height:56px;margin:0 auto;border:2px dashed #bbb;border-radius:3px;font-size:11px;
display:flex;align-items:center;justify-content:center;color:#777}
#ID .test{display:flex;gap:16px;align-items:center}
#ID .test img.big{width:132px;height:132px;image-rendering:pixelated;border-radius:4px;border:3px solid @TEST@;
background:#000}
#ID .facts td:first-child{color:#555;padding-right:12px}
#ID .set{border:1px solid #e5e5e5;border-radius:8px;padding:6px 8px;margin:0 0 8px;cursor:pointer}
#ID .set .head{display:flex;gap:8px;align-items:center;margin-bottom:4px;flex-wrap:wrap}
#ID .set .members{display:flex;gap:14px;flex-wrap:wrap}
#ID .grp{display:flex;gap:4px;align-items:flex-start;padding:2px 4px;border-radius:6px}
#ID .grp>span{font-size:11px;color:#555;writing-mode:vertical-rl;transform:rotate(180deg)}
#ID .grp.t{background:#eef7f1}#ID .grp.o{background:#fbf5e6}#ID .grp.u{background:#f1f1f1}
#ID .hl{background:#fff6cc!important;outline:2px solid #e0b400}
#ID .detail{display:none;border:1px solid #e0b400;background:#fffbe6;border-radius:8px;padding:8px 12px;
margin:0 0 12px;white-space:pre-line}
#ID .key{display:flex;gap:14px;flex-wrap:wrap;font-size:12px;color:#444;margin-top:6px}
#ID .sw{display:inline-block;width:12px;height:12px;border-radius:3px;vertical-align:-2px;margin-right:4px}
""".replace("@TEST@", TEST_CLASS).replace("@OTHER@", OTHER_CLASS)

_IMG_JS = """
(function(){var root=document.getElementById("ID");if(!root)return;var tip=root.querySelector(".tip"),
box=root.querySelector(".detail");function ids(e){return (e.getAttribute("data-s")||"").split(" ");}
function clear(){root.querySelectorAll(".hl").forEach(function(e){e.classList.remove("hl");});
tip.style.display="none";}
function move(ev){tip.style.left=(ev.clientX+14)+"px";tip.style.top=(ev.clientY+16)+"px";}
root.querySelectorAll("[data-tip]").forEach(function(el){
el.addEventListener("mouseenter",function(ev){clear();var s=ids(el);
root.querySelectorAll("[data-s]").forEach(function(e){var t=ids(e);
if(s.some(function(i){return t.indexOf(i)>=0;}))e.classList.add("hl");});
tip.textContent=el.getAttribute("data-tip");tip.style.display="block";move(ev);});
el.addEventListener("mousemove",move);el.addEventListener("mouseleave",clear);
el.addEventListener("click",function(){box.textContent=el.getAttribute("data-tip");box.style.display="block";});});
})();
"""


def _point_tip(v: ImageView, p: ImagePoint) -> str:
    lab = f", label {v.class_name(p.label)}" if p.label is not None else ""
    cls = "" if p.target is None else (" (the test image's class)" if p.target else " (another class)")
    name = "" if p.name == str(p.index) else f" {p.name}"
    return f"training point #{p.index}{name}{lab}{cls}\nalone: Möbius {_num(p.effect)} on the margin"


def _thumb(p: ImagePoint, v: ImageView) -> str:
    """One training image: thumbnail (frame: target class or not), index, label, its own effect."""
    cls = "" if p.target is None else (" t" if p.target else " o")
    alt = _esc(f"#{p.index} label {v.class_name(p.label)}")
    if p.thumb:
        pic = f'<img class="th{cls}" alt="{alt}" src="{data_uri(p.thumb)}">'
    else:
        pic = f'<div class="noimg">#{p.index}</div>'
    val = p.effect
    lab = f" · y={_esc(v.class_name(p.label))}" if p.label is not None else ""
    shown = (f"<br><span class=\"val {'pos' if val > 0 else 'neg'}\">{_esc(_num(val))}</span>" if val
             else "<br><span class=\"note\">alone: 0</span>")
    cap = f"<figcaption>#{p.index}{lab}{shown}</figcaption>"
    return (f'<figure class="pt" data-s="{p.index}" data-tip="{_esc(_point_tip(v, p))}" '
            f'title="{_esc(_point_tip(v, p))}">{pic}{cap}</figure>')


def _set_tip(v: ImageView, s: ImageSet) -> str:
    drawn = {p.index: p for p in (*s.target_members, *s.other_members, *s.unknown_members)}
    names = ", ".join(
        f"#{i}" + (f" y={v.class_name(drawn[i].label)}" if i in drawn and drawn[i].label is not None else "")
        for i in s.support
    )
    how = ("together they raise the margin by this much beyond their separate effects" if s.value > 0 else
           "together they add this much less than their separate effects (they overlap or replace each other)")
    grp = {"target": "all in the test image's class", "other": "none in the test image's class",
           "mixed": "some in the test image's class, some not", "unlabelled": "labels unknown"}[s.group]
    return f"set {{{names}}}: Möbius {_num(s.value)} ({s.label}, order {len(s.support)}; {grp})\n{how}"


_GROUP_TAGS = {"target": "all target class", "other": "all other classes", "mixed": "mixed classes",
               "unlabelled": "labels unknown"}


def _set_row(v: ImageView, s: ImageSet) -> str:
    tip = _set_tip(v, s)
    groups = []
    for cls, title, pts in (("t", "target class", s.target_members), ("o", "other classes", s.other_members),
                            ("u", "unlabelled", s.unknown_members)):
        if pts:
            thumbs = "".join(_thumb(p, v) for p in pts)
            groups.append(f'<div class="grp {cls}"><span>{title}</span>{thumbs}</div>')
    more = f'<span class="note">+{s.hidden} more points</span>' if s.hidden else ""
    return (
        f'<div class="set" data-s="{" ".join(map(str, s.support))}" data-tip="{_esc(tip)}" title="{_esc(tip)}">'
        f'<div class="head"><span class="val {"pos" if s.value > 0 else "neg"}">{_esc(_num(s.value))}</span>'
        f'<span class="tag {s.label}">{s.label}</span><span class="tag">order {len(s.support)}</span>'
        f'<span class="tag">{_esc(_GROUP_TAGS[s.group])}</span></div>'
        f'<div class="members">{"".join(groups)}{more}</div></div>'
    )


def _test_panel(v: ImageView) -> str:
    exp = v.exp
    pic = (f'<img class="big" alt="test image" src="{data_uri(v.test_thumb)}">' if v.test_thumb
           else '<div class="noimg" style="width:132px;height:132px">no test image</div>')
    rows = []
    if v.test_name:
        rows.append(("test point", v.test_name))
    if v.test_label is not None:
        rows.append(("label", v.class_name(v.test_label)))
    if v.margin is not None:
        rows.append(("margin (all points kept, measured)", f"{v.margin:+.4g}"))
    rows.append(("f(all kept), as modelled", f"{exp.full:+.4g}"))
    rows.append(("f(none kept), as modelled", f"{exp.baseline:+.4g}"))
    if v.store:
        st = v.store
        rows.append(("datamodels store", str(st.get("masks_path", ""))))
        if isinstance(st.get("M"), int) and isinstance(st.get("n"), int):
            rows.append(("store size", f"{st['M']:,} trainings x {st['n']:,} points"))
        if st.get("test_point") is not None:
            rows.append(("store test column", str(st["test_point"])))
        if st.get("holdout_r2") is not None:
            rows.append(("held-out R² on stored rows", f"{float(st['holdout_r2']):.3f}"))
        if st.get("screened"):
            rows.append(("points kept by screening", f"{int(st['screened']):,}"))
    if v.images_from and v.images_from != "array":
        rows.append(("images read from", v.images_from))
    table = "".join(f"<tr><td>{_esc(a)}</td><td>{_esc(b)}</td></tr>" for a, b in rows)
    return (f'<section class="card"><h2>The test image</h2><div class="test">{pic}'
            f'<table class="facts"><tbody>{table}</tbody></table></div>'
            f'<div class="key"><span><i class="sw" style="background:{TEST_CLASS}"></i>frame: the test image\'s class'
            f'</span><span><i class="sw" style="background:{OTHER_CLASS}"></i>another class</span>'
            '<span><i class="sw" style="background:var(--pos)"></i>raises the margin</span>'
            '<span><i class="sw" style="background:var(--neg)"></i>lowers it</span></div></section>')


def _points_panel(v: ImageView) -> str:
    def row(title: str, pts: list[ImagePoint]) -> str:
        body = "".join(_thumb(p, v) for p in pts) or '<p class="note">none among the terms</p>'
        return f'<h3 class="note">{_esc(title)}</h3><div class="pts">{body}</div>'

    return ('<section class="card"><h2>Training images that move the margin most, alone</h2>'
            + row("raise the margin (Möbius order 1 > 0)", v.raises)
            + row("lower the margin (Möbius order 1 < 0)", v.lowers)
            + '<p class="note">Each training image with its label and its order-1 Möbius value: the margin '
            "change from adding it to an empty training set, as modelled. Hover or click for details.</p>"
            "</section>")


def _sets_panel(v: ImageView) -> str:
    def col(title: str, note: str, sets: list[ImageSet]) -> str:
        rows = "".join(_set_row(v, s) for s in sets) or '<p class="note">no such set among the terms</p>'
        return f'<section class="card"><h2>{_esc(title)}</h2><p class="note">{_esc(note)}</p>{rows}</section>'

    return ('<div class="grid">'
            + col("Most synergistic sets", "Möbius > 0: together these training images raise the margin by more "
                  "than their separate effects add up to.", v.synergistic)
            + col("Most redundant sets", "Möbius < 0: together they do less than the sum of their effects: each "
                  "can stand in for the others.", v.redundant)
            + "</div>")


def render_images(v: ImageView, *, full_page: bool = True, title: str | None = None) -> str:
    """HTML of the image view (:func:`spexjax.report.lenses.image_view`)."""
    exp = v.exp
    title = title or exp.title
    rid = _rid("img", exp.names[:50], exp.provenance, exp.num_terms, exp.full, v.test_thumb)
    css = (_CSS + _IMG_CSS).replace("#ID", f"#{rid}") + f"#{rid} .v-Moebius{{display:block}}"
    notes = "".join(f'<p class="note">{_esc(n)}</p>' for n in v.notes)
    sub = [f"{exp.n:,} training points", f"{exp.num_terms} terms", f"{exp.queries:,} queries (trainings)"]
    prov = dict(exp.provenance)
    if "model" in prov:
        sub.insert(0, f"model {prov['model']}")
    body = (
        f'<div class="body">{notes}<div class="detail"></div>'
        f'<div class="grid">{_test_panel(v)}{_faith_panel(exp)}</div><div style="height:12px"></div>'
        f"{_points_panel(v)}{_sets_panel(v)}<div style=\"height:12px\"></div>"
        f'<div class="grid">{_prov_panel(exp)}<section class="card"><h2>How to read this</h2><p class="note">'
        "Values are Möbius coefficients of the test margin as a function of which training points are kept: "
        "order 1 is one image's own effect; a set's value is what its images do only together (synergy, "
        "> 0) or the overlap they share (redundancy, < 0). Sets are split into the test image's class and the "
        "other classes, as in the SPEX paper's data figure. Only the images of the terms shown are embedded, "
        "whatever the number of training points.</p></section></div><div style=\"height:12px\"></div>"
        f"{_table_panel(exp, ['Moebius'])}</div>"
    )
    fragment = (
        f'<div class="spx" id="{rid}"><style>{css}</style><h1>{_esc(title)}</h1>'
        f"<p class=\"sub\">{_esc(' · '.join(sub))}</p>{body}<div class=\"tip\"></div>"
        f"<script>{_IMG_JS.replace('ID', rid)}</script></div>"
    )
    return page(title, fragment) if full_page else fragment


# -- grid --------------------------------------------------------------------------------------------------------
_GRID_CSS = """
#ID svg.heads{max-width:100%}
#ID rect.cell{stroke:#fff;stroke-width:1;cursor:default}
#ID rect.cell.hl{stroke:#111;stroke-width:2.5}
#ID .kp{display:none;pointer-events:none}
#ID .sets li{margin:3px 0}
#ID .kt td{padding:3px 8px}
#ID .lgd{display:flex;gap:16px;flex-wrap:wrap;font-size:12px;color:#444;margin-top:6px;align-items:center}
"""


# the text view's hover script, reading the cells' lower-case tooltip attributes (checked in Chromium)
_GRID_JS = _JS.replace('"data-tip-"+ix', '"data-tip-"+ix.toLowerCase()')


def _cell_size(layers: int, heads: int) -> float:
    return float(min(52.0, max(9.0, 760.0 / max(heads, 1), 0.0)))


def _grid_svg(g: GridView, indices: list[str], kept: list[set[int]]) -> str:
    exp = g.exp
    cs = _cell_size(g.layers, g.heads)
    left, top = 46.0, 26.0
    width, height = left + g.heads * cs + 12, top + g.layers * cs + 12
    vmax = {ix: float(np.abs(exp.first[ix]).max()) if exp.n else 0.0 for ix in indices}
    out = [f'<svg class="heads" viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" role="img" '
           f'aria-label="layers by heads grid">']
    step = max(1, int(math.ceil(14.0 / cs)))
    for h in range(0, g.heads, step):
        out.append(f'<text x="{left + (h + 0.5) * cs:.1f}" y="{top - 8:.1f}" text-anchor="middle">H{h}</text>')
    for layer in range(0, g.layers, step):
        out.append(f'<text x="{left - 6:.1f}" y="{top + (layer + 0.5) * cs + 4:.1f}" text-anchor="end">'
                   f"L{layer}</text>")

    def centre(i: int) -> tuple[float, float]:
        return left + (i % g.heads + 0.5) * cs, top + (i // g.heads + 0.5) * cs

    for i in range(exp.n):
        x, y = left + (i % g.heads) * cs, top + (i // g.heads) * cs
        style = ";".join(f"--c-{ix}:{color(float(exp.first[ix][i]), vmax[ix])}" for ix in indices)
        # lower-case names: the HTML parser lower-cases attributes, and SVG's getAttribute is case-sensitive
        tips = " ".join(f'data-tip-{ix.lower()}="{_esc(_unit_tip(exp, ix, i))}"' for ix in indices)
        ks = "".join(f" k{j}" for j, s in enumerate(kept) if i in s)
        out.append(
            f'<rect class="cell u{ks}" data-i="{i}" data-s="{i}" x="{x:.1f}" y="{y:.1f}" width="{cs:.1f}" '
            f'height="{cs:.1f}" style="{style}" {tips}><title>{_esc(_unit_tip(exp, indices[0], i))}</title></rect>'
        )
    inset = min(1.5, cs * 0.1)
    for j, s in enumerate(kept):  # outlines of each pruning's kept heads, one layer shown at a time (CSS)
        boxes = "".join(
            f'<rect x="{left + (i % g.heads) * cs + inset:.1f}" y="{top + (i // g.heads) * cs + inset:.1f}" '
            f'width="{cs - 2 * inset:.1f}" height="{cs - 2 * inset:.1f}"/>' for i in sorted(s)
        )
        out.append(f'<g class="kp kp{j}" fill="none" stroke="#111" stroke-width="{max(1.2, cs * 0.045):.1f}">'
                   f"{boxes}</g>")
    for ix in indices:
        terms = g.sets.get(ix, [])
        tmax = max((abs(t.value) for t in terms), default=0.0) or 1.0
        grp = [f'<g class="v v-{ix}">']
        for t in sorted(terms, key=lambda t: abs(t.value)):
            col = "var(--pos)" if t.value > 0 else "var(--neg)"
            w = 1.2 + 5.0 * abs(t.value) / tmax
            within = len({g.layer(i) for i in t.support}) == 1
            dash = "" if within else ' stroke-dasharray="6 4"'
            tip = _esc(f"{' + '.join(t.words)}: {_num(t.value)} ({t.label}, {g.kind(t)})")
            ds = " ".join(map(str, t.support))
            pts = [centre(i) for i in t.support]
            if t.order == 2:
                (x0, y0), (x1, y1) = pts
                if within:  # an arc above the row, so it does not run over the heads in between
                    lift = 0.45 * cs + 0.18 * abs(x1 - x0)
                    d = f"M{x0:.1f},{y0:.1f} Q{(x0 + x1) / 2:.1f},{y0 - lift:.1f} {x1:.1f},{y1:.1f}"
                else:
                    d = f"M{x0:.1f},{y0:.1f} L{x1:.1f},{y1:.1f}"
                grp.append(f'<path data-s="{ds}" d="{d}" fill="none" stroke="{col}" stroke-width="{w:.2f}" '
                           f'stroke-opacity=".85" stroke-linecap="round"{dash}><title>{tip}</title></path>')
            else:
                hx = sum(p[0] for p in pts) / len(pts)
                hy = sum(p[1] for p in pts) / len(pts) - (0.45 * cs if within else 0.0)
                spokes = "".join(
                    f'<line x1="{hx:.1f}" y1="{hy:.1f}" x2="{x:.1f}" y2="{y:.1f}" stroke="{col}" '
                    f'stroke-width="{max(w * 0.6, 1):.2f}" stroke-opacity=".75"{dash}/>' for x, y in pts
                )
                grp.append(f'<g data-s="{ds}"><title>{tip}</title>{spokes}<rect x="{hx - 5:.1f}" y="{hy - 5:.1f}" '
                           f'width="10" height="10" fill="{col}" transform="rotate(45 {hx:.1f} {hy:.1f})"/></g>')
            for x, y in pts:
                grp.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{max(2.0, cs * 0.09):.1f}" fill="{col}" '
                           f'data-s="{ds}"/>')
        grp.append("</g>")
        out.append("".join(grp))
    out.append("</svg>")
    return "".join(out)


def _sets_list(g: GridView, indices: list[str]) -> str:
    views = []
    for ix in indices:
        terms = g.sets.get(ix, [])
        if terms:
            items = "".join(
                f'<li data-s="{" ".join(map(str, t.support))}">{_words(t)}: '
                f'<span class="val {"pos" if t.value > 0 else "neg"}">{_esc(_num(t.value))}</span> '
                f'<span class="tag {t.label}">{t.label}</span> <span class="tag">{_esc(g.kind(t))}</span></li>'
                for t in terms
            )
            body = f'<ol class="top sets">{items}</ol>'
        else:
            what = ("Shapley values have no interactions." if ix == "SV"
                    else "No interactions of order >= 2 among the strongest terms.")
            body = f'<p class="note">{_esc(what)}</p>'
        views.append(f'<div class="v v-{ix}">{body}</div>')
    return f'<section class="card"><h2>Heads that work together</h2>{"".join(views)}</section>'


def _energy_panel(g: GridView) -> str:
    order_rows = "".join(f"<tr><td>order {o}</td><td class=\"num\">{100 * s:.1f}%</td></tr>"
                         for o, s in g.energy_by_order) or '<tr><td colspan="2">no terms</td></tr>'
    depth = "".join(
        f"<tr><td>{_esc(label)}</td><td class=\"num\">{100 * g.depth[key]:.1f}%</td></tr>"
        for key, label in (("linear", "linear (one head)"), ("within_layer", "within one layer"),
                           ("across_layer", "across layers"))
    )
    groups = []
    for r in g.depth_rows:
        if r.get("group") in ("early", "late"):
            a, b = r["layers"]
            groups.append(
                f"<tr><td>{_esc(r['group'])} layers {a}-{b}</td><td class=\"num\">{r['terms']}</td>"
                f"<td class=\"num\">{100 * r['linear']:.1f}%</td><td class=\"num\">{100 * r['within_layer']:.1f}%"
                f"</td><td class=\"num\">{100 * r['across_layer']:.1f}%</td></tr>"
            )
        elif r.get("group") == "spanning":
            groups.append(f'<tr><td>spanning both halves</td><td colspan="4">{100 * r["share_of_total"]:.1f}% of '
                          "all energy</td></tr>")
    halves = (
        "<table class=\"kt\"><thead><tr><th>layers</th><th>terms</th><th>linear</th><th>within</th><th>across</th>"
        f"</tr></thead><tbody>{''.join(groups)}</tbody></table>" if groups else ""
    )
    return (
        '<section class="card"><h2>Where the energy is</h2><div class="grid">'
        f'<table class="kt"><thead><tr><th>by order</th><th>share</th></tr></thead><tbody>{order_rows}</tbody></table>'
        f'<table class="kt"><thead><tr><th>by depth</th><th>share</th></tr></thead><tbody>{depth}</tbody></table>'
        f"</div>{halves}<p class=\"note\">Shares of the non-constant Fourier energy (sum of squared coefficients) "
        "of the surrogate; 'within' terms have all heads in one layer, 'across' terms span layers; the halves "
        "table gives each half's own shares (spexjax.heads.energy_by_depth).</p></section>"
    )


def _prune_panel(g: GridView, rid: str) -> str:
    if not g.prune:
        return ""
    metric = g.metric or "score"
    rows = []
    for j, p in enumerate(g.prune):
        held = f"{p['heldout']:.4f}" if "heldout" in p else "n/a"
        full = f"{p['full']:.4f}" if "full" in p else "n/a"
        diff = f"{p['heldout'] - p['full']:+.4f}" if "heldout" in p and "full" in p else ""
        rows.append(f'<tr><td><label for="{rid}-p{j}">{100 * p["fraction"]:.0f}%</label></td>'
                    f'<td class="num">{len(p["kept"])}</td><td class="num">{held}</td><td class="num">{full}</td>'
                    f'<td class="num">{diff}</td></tr>')
    return (
        f'<section class="card"><h2>Pruning: the best heads to keep, scored on held-out examples</h2>'
        f"<table><thead><tr><th>kept</th><th>heads</th><th>held-out {_esc(metric)}</th><th>all heads</th>"
        f"<th>difference</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        '<p class="note">Kept heads: the exact maximiser of the surrogate at each size '
        "(Interactions.best_subset); pick a fraction above the grid to outline its heads.</p></section>"
    )


def render_grid(g: GridView, *, full_page: bool = True, title: str | None = None) -> str:
    """HTML of the grid view (:func:`spexjax.report.lenses.grid_view`)."""
    exp = g.exp
    title = title or exp.title
    indices = [ix for ix in INDEX_TITLES if ix in exp.first]
    rid = _rid("grid", exp.names, exp.provenance, exp.num_terms, exp.full, g.prune)
    css = (_CSS + _GRID_CSS).replace("#ID", f"#{rid}")
    for ix in indices:
        css += (
            f"#{rid} #{rid}-{ix}:checked~.body .v-{ix}{{display:block}}"
            f"#{rid} #{rid}-{ix}:checked~.body .legend.v-{ix}{{display:flex}}"
            f"#{rid} #{rid}-{ix}:checked~.body rect.cell{{fill:var(--c-{ix})}}"
            f"#{rid} #{rid}-{ix}:checked~nav label[for={rid}-{ix}]{{background:#1b1b1b;color:#fff;"
            "border-color:#1b1b1b}\n"
        )
    kept = [set(p["kept"]) for p in g.prune]
    for j in range(len(kept)):
        css += (f"#{rid} #{rid}-p{j}:checked~.body .kp{j}{{display:inline}}"
                f"#{rid} #{rid}-p{j}:checked~nav label[for={rid}-p{j}]{{background:#1b1b1b;color:#fff;"
                "border-color:#1b1b1b}\n")
    css += (f"#{rid} #{rid}-pnone:checked~nav label[for={rid}-pnone]{{background:#1b1b1b;color:#fff;"
            "border-color:#1b1b1b}\n")
    radios = "".join(
        f'<input class="r" type="radio" name="{rid}-ix" id="{rid}-{ix}" value="{ix}"{" checked" if j == 0 else ""}>'
        for j, ix in enumerate(indices)
    )
    tabs = "".join(f'<label for="{rid}-{ix}">{_esc(INDEX_TITLES[ix])}</label>' for ix in indices)
    prune_nav = ""
    if kept:
        radios += f'<input class="r" type="radio" name="{rid}-pk" id="{rid}-pnone" value="none">'
        radios += "".join(
            f'<input class="r" type="radio" name="{rid}-pk" id="{rid}-p{j}" value="{j}"{" checked" if j == 0 else ""}>'
            for j in range(len(kept))
        )
        prune_nav = ('<nav><span>outline the kept heads of:</span>'
                     + "".join(f'<label for="{rid}-p{j}">{100 * p["fraction"]:.0f}% ({len(p["kept"])} heads)</label>'
                               for j, p in enumerate(g.prune))
                     + f'<label for="{rid}-pnone">none</label></nav>')
    legends = "".join(
        f'<div class="v v-{ix} legend"><span>{_esc(_num(-float(np.abs(exp.first[ix]).max())))} lowers</span>'
        f'<span class="bar"></span><span>raises {_esc(_num(float(np.abs(exp.first[ix]).max())))}</span>'
        f"<span>· colour = each head's order-1 {_esc(INDEX_TITLES[ix])} value</span></div>"
        for ix in indices
    )
    key = ('<div class="lgd"><span>solid arcs / hubs: heads in one layer</span><span>dashed lines / hubs: heads in '
           "different layers</span><span>red raises the score, blue lowers it; width = |value|</span>"
           + ("<span>black outline: kept heads</span>" if kept else "") + "</div>")
    sub = [f"{g.layers} layers × {g.heads} heads", f"{exp.num_terms} terms", f"{exp.queries:,} queries"]
    if g.metric:
        sub.insert(0, f"score: {g.metric}")
    prov = dict(exp.provenance)
    if "model" in prov:
        sub.insert(0, f"model {prov['model']}")
    body = (
        f'<div class="body"><section class="card"><h2>Heads by layer, coloured by each head\'s effect</h2>'
        f"{_grid_svg(g, indices, kept)}{legends}{key}</section>"
        f'<div class="grid">{_sets_list(g, indices)}{_energy_panel(g)}</div><div style="height:12px"></div>'
        f"{_prune_panel(g, rid)}"
        f'<div class="grid">{_faith_panel(exp)}{_prov_panel(exp)}</div><div style="height:12px"></div>'
        f"{_table_panel(exp, indices)}</div>"
    )
    fragment = (
        f'<div class="spx" id="{rid}"><style>{css}</style><h1>{_esc(title)}</h1>'
        f"<p class=\"sub\">{_esc(' · '.join(sub))}</p>{radios}<nav><span>index:</span>{tabs}</nav>{prune_nav}"
        f'{body}<div class="tip"></div><script>{_GRID_JS.replace("ID", rid)}</script></div>'
    )
    return page(title, fragment) if full_page else fragment

