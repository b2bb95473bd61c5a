"""One self-contained HTML file for an explanation: CSS, SVG and a little JS inline, nothing fetched.

Layout: the prompt with each unit coloured by its order-1 value (diverging scale with a legend), the top
interactions spelled out in words, an interaction network (SVG), the table of the strongest terms, the
faithfulness R² on held-out masks and the provenance. Tabs switch every panel between Shapley (SV), Möbius,
STII, FSII and Fourier; they are radio buttons styled by CSS, so the report also switches where scripts do
not run (a notebook's untrusted output). Hovering a unit highlights the interactions it is part of (JS) and
its ``title`` lists them (works everywhere).

This is the text view; a result whose ``meta["lens"]`` names another view (training images for data
attribution, a layers x heads grid for attention heads) is drawn by :mod:`spexjax.report.views` with the same
panels for faithfulness, provenance and the table of terms (:func:`spexjax.report.document.to_html` chooses).

Every piece of text that came from a user or a model (prompt units, provenance) is escaped with
:func:`html.escape`; the report is built by string assembly of escaped pieces only.
"""

from __future__ import annotations

import hashlib
import html
import math
from typing import Any

import numpy as np

from spexjax.report.content import INDEX_TITLES, Explanation, Term
from spexjax.report.palette import INK, INK_ON_DARK, LOWERS_RGB, RAISES_RGB, css_rgb

__all__ = ["page", "render"]

POSITIVE = RAISES_RGB  # raises the output (the palette's diverging scale)
NEGATIVE = LOWERS_RGB  # lowers it


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def color(value: float, vmax: float) -> str:
    """Diverging colour: white at 0, red for positive, blue for negative, saturating at ``|value| = vmax``."""
    if not vmax or not math.isfinite(value):
        return "rgb(255,255,255)"
    t = min(abs(value) / vmax, 1.0) ** 0.8 * 0.85
    r, g, b = POSITIVE if value > 0 else NEGATIVE
    mix = [round(255 + (c - 255) * t) for c in (r, g, b)]
    return f"rgb({mix[0]},{mix[1]},{mix[2]})"


def _ink(value: float, vmax: float) -> str:
    """Text colour that stays readable on :func:`color`."""
    return INK_ON_DARK if vmax and abs(value) / vmax > 0.6 else INK


def _words(term: Term) -> str:
    return " + ".join(f"<q>{_esc(w)}</q>" for w in term.words)


def _num(v: float) -> str:
    return f"{v:+.4g}"


_CSS = f"\n#ID{{--pos:{css_rgb(RAISES_RGB)};--neg:{css_rgb(LOWERS_RGB)};" + """\
font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,
"DejaVu Sans",sans-serif;color:#1b1b1b;background:#fff;max-width:1100px;margin:0 auto;padding:18px 22px}
#ID *{box-sizing:border-box}
#ID h1{font-size:21px;margin:0 0 2px}#ID h2{font-size:13px;text-transform:uppercase;letter-spacing:.06em;
color:#555;margin:0 0 8px}
#ID .sub{color:#555;margin:0 0 12px}
#ID input.r{position:absolute;opacity:0;pointer-events:none}
#ID nav{display:flex;gap:4px;flex-wrap:wrap;margin:6px 0 12px;align-items:center}
#ID nav span{color:#555;margin-right:6px}
#ID nav label{padding:3px 11px;border:1px solid #c9c9c9;border-radius:14px;cursor:pointer;user-select:none}
#ID .card{border:1px solid #e2e2e2;border-radius:8px;padding:12px 14px;margin:0 0 12px;background:#fff}
#ID .grid{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:12px}
#ID .grid .card{margin:0}
#ID .v{display:none}
#ID .text{font-size:20px;line-height:2.1;white-space:pre-wrap;word-wrap:break-word}
#ID .u{padding:3px 3px;border-radius:4px;cursor:default;transition:outline .1s}
#ID .u:hover,#ID .u.hl{outline:2px solid #111}
#ID .legend{align-items:center;gap:8px;font-size:12px;color:#444;margin-top:8px}
#ID .bar{height:10px;width:220px;border-radius:5px;border:1px solid #ddd;
background:linear-gradient(90deg,var(--neg),#fff,var(--pos))}
#ID .note{font-size:12px;color:#666;margin:6px 0 0}
#ID ol.top{margin:0;padding-left:22px}#ID ol.top li{margin:3px 0}
#ID q{quotes:"\\201C" "\\201D";font-weight:600}
#ID .val{font-variant-numeric:tabular-nums;font-weight:600}
#ID .pos{color:var(--pos)}#ID .neg{color:var(--neg)}
#ID .tag{font-size:11px;padding:1px 7px;border-radius:9px;background:#eee;color:#333;white-space:nowrap}
#ID .tag.synergy{background:#fde3e1;color:#8a1c1c}#ID .tag.redundancy{background:#e0ebf7;color:#1a4c80}
#ID table{border-collapse:collapse;width:100%;font-size:13px}
#ID th,#ID td{text-align:left;padding:4px 8px;border-bottom:1px solid #eee}
#ID th{color:#555;font-weight:600}
#ID td.num{text-align:right;font-variant-numeric:tabular-nums}
#ID tr.hl td,#ID li.hl{background:#fff6cc}
#ID .dim{opacity:.18}
#ID svg{width:100%;height:auto;display:block}
#ID svg text{font:12px system-ui,"DejaVu Sans",sans-serif;fill:#222}
#ID .r2{font-size:30px;font-weight:700}
#ID .meter{height:8px;background:#eee;border-radius:4px;overflow:hidden;margin:6px 0}
#ID .meter i{display:block;height:100%;background:#3a9d5d}
#ID .prov td:first-child{color:#555;width:34%}
#ID .prov td{overflow-wrap:anywhere}
#ID .tip{position:fixed;pointer-events:none;background:#222;color:#fff;font-size:12px;padding:6px 9px;
border-radius:6px;max-width:360px;display:none;z-index:10;white-space:pre-line}
@media (max-width:760px){#ID .grid{grid-template-columns:1fr}}
"""

_JS = """
(function(){var root=document.getElementById("ID");if(!root)return;var tip=root.querySelector(".tip");
function cur(){var r=root.querySelector("input.r:checked");return r?r.value:"Moebius";}
function clear(){root.querySelectorAll(".hl,.dim").forEach(function(e){e.classList.remove("hl","dim");});
tip.style.display="none";}
root.querySelectorAll(".u[data-i]").forEach(function(u){
u.addEventListener("mouseenter",function(ev){var i=u.getAttribute("data-i"),ix=cur();clear();
root.querySelectorAll(".v-"+ix+" [data-s]").forEach(function(e){
var s=e.getAttribute("data-s").split(" ");if(s.indexOf(i)>=0){e.classList.add("hl");}
else if(e.tagName!=="TR"&&e.tagName!=="LI"){e.classList.add("dim");}});
root.querySelectorAll('.u[data-i="'+i+'"]').forEach(function(e){e.classList.add("hl");});
var t=u.getAttribute("data-tip-"+ix);if(t){tip.textContent=t;tip.style.display="block";
tip.style.left=(ev.clientX+14)+"px";tip.style.top=(ev.clientY+16)+"px";}});
u.addEventListener("mousemove",function(ev){tip.style.left=(ev.clientX+14)+"px";tip.style.top=(ev.clientY+16)+"px";});
u.addEventListener("mouseleave",clear);});})();
"""


def _unit_tip(exp: Explanation, index: str, i: int, limit: int = 6) -> str:
    lines = [f"{exp.names[i]}: {INDEX_TITLES[index]} {_num(float(exp.first[index][i]))}"]
    inter = [t for t in exp.unit_terms(index, i) if t.order >= 2][:limit]
    for t in inter:
        lines.append(f"with {' + '.join(w for w in t.words if w != exp.names[i]) or '-'}: {_num(t.value)} ({t.label})")
    if not inter and index != "SV":
        lines.append("no interaction among the strongest terms")
    return "\n".join(lines)


def _text_panel(exp: Explanation, indices: list[str]) -> str:
    parts = []
    for seg in exp.segments:
        if seg.unit is None:
            parts.append(_esc(seg.text))
            continue
        i = seg.unit
        style = []
        attrs = []
        for ix in indices:
            vmax = float(np.abs(exp.first[ix]).max()) if exp.n else 0.0
            v = float(exp.first[ix][i])
            style.append(f"--c-{ix}:{color(v, vmax)};--k-{ix}:{_ink(v, vmax)}")
            attrs.append(f'data-tip-{ix}="{_esc(_unit_tip(exp, ix, i))}"')
        title = _esc(_unit_tip(exp, indices[0], i))
        parts.append(
            f'<span class="u" data-i="{i}" style="{";".join(style)}" title="{title}" {" ".join(attrs)}>'
            f"{_esc(seg.text)}</span>"
        )
    legends = []
    for ix in indices:
        vmax = float(np.abs(exp.first[ix]).max()) if exp.n else 0.0
        legends.append(
            f'<div class="v v-{ix} legend"><span>{_esc(_num(-vmax))} lowers</span><span class="bar"></span>'
            f"<span>raises {_esc(_num(vmax))}</span><span>· colour = each unit's order-1 "
            f"{_esc(INDEX_TITLES[ix])} value</span></div>"
        )
    return (
        '<section class="card"><h2>The text, coloured by each unit\'s effect</h2>'
        f'<div class="text">{"".join(parts)}</div>{"".join(legends)}</section>'
    )


def _top_panel(exp: Explanation, indices: list[str], k: int) -> str:
    views = []
    for ix in indices:
        terms = exp.top_interactions(ix, k)
        if terms:
            items = "".join(
                f'<li data-s="{" ".join(map(str, t.support))}">{_words(t)} together: '
                f'<span class="val {"pos" if t.value > 0 else "neg"}">{_esc(_num(t.value))}</span> '
                f'<span class="tag">order {t.order}</span> <span class="tag {t.label}">{t.label}</span></li>'
                for t in terms
            )
            body = f'<ol class="top">{items}</ol>'
        else:
            singles = exp.terms[ix][:k]
            items = "".join(
                f'<li data-s="{" ".join(map(str, t.support))}">{_words(t)} alone: '
                f'<span class="val {"pos" if t.value > 0 else "neg"}">{_esc(_num(t.value))}</span></li>'
                for t in singles
            )
            what = "Shapley values have no interactions; strongest units:" if ix == "SV" else "No interactions of "
            what += "" if ix == "SV" else "order >= 2 among the strongest terms; strongest units:"
            body = f'<p class="note">{_esc(what)}</p><ol class="top">{items}</ol>'
        views.append(f'<div class="v v-{ix}">{body}<p class="note">{_esc(exp.notes[ix])}</p></div>')
    return f'<section class="card"><h2>Top interactions</h2>{"".join(views)}</section>'


def _network_svg(exp: Explanation, index: str, k: int = 14) -> str:
    """Units on a circle, coloured by order-1 value; pairs as edges, higher orders as small hubs."""
    terms = [t for t in exp.terms[index] if t.order >= 2][:k]
    first = exp.first[index]
    nodes = sorted({i for t in terms for i in t.support})
    if len(nodes) < 12:  # fill with the strongest units so the picture shows the whole text when it is short
        extra = [int(i) for i in np.argsort(-np.abs(first), kind="stable") if int(i) not in nodes]
        nodes = sorted(nodes + extra[: max(0, min(12, exp.n) - len(nodes))])
    W, H, R = 420.0, 360.0, 128.0
    cx, cy = W / 2, H / 2 + 4
    pos = {}
    for j, i in enumerate(nodes):
        a = -math.pi / 2 + 2 * math.pi * j / max(len(nodes), 1)
        pos[i] = (cx + R * math.cos(a), cy + R * math.sin(a))
    vmax = max((abs(t.value) for t in terms), default=0.0) or 1.0
    fmax = float(np.abs(first[nodes]).max()) if nodes else 0.0
    out = [f'<svg viewBox="0 0 {W:.0f} {H:.0f}" role="img" aria-label="interaction network">']
    for t in sorted(terms, key=lambda t: abs(t.value)):
        col = "var(--pos)" if t.value > 0 else "var(--neg)"
        w = 1.0 + 7.0 * abs(t.value) / vmax
        ds = " ".join(map(str, t.support))
        tip = _esc(f"{' + '.join(t.words)}: {_num(t.value)} ({t.label}, order {t.order})")
        if t.order == 2:
            (x0, y0), (x1, y1) = (pos[i] for i in t.support)
            out.append(
                f'<line data-s="{ds}" x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y1:.1f}" stroke="{col}" '
                f'stroke-width="{w:.2f}" stroke-opacity=".8" stroke-linecap="round"><title>{tip}</title></line>'
            )
        else:
            hx = sum(pos[i][0] for i in t.support) / t.order
            hy = sum(pos[i][1] for i in t.support) / t.order
            g = [f'<g data-s="{ds}"><title>{tip}</title>']
            for i in t.support:
                g.append(
                    f'<line x1="{hx:.1f}" y1="{hy:.1f}" x2="{pos[i][0]:.1f}" y2="{pos[i][1]:.1f}" stroke="{col}" '
                    f'stroke-width="{max(w * 0.6, 1):.2f}" stroke-opacity=".6" stroke-dasharray="4 3"/>'
                )
            g.append(
                f'<rect x="{hx - 5:.1f}" y="{hy - 5:.1f}" width="10" height="10" fill="{col}" '
                f'transform="rotate(45 {hx:.1f} {hy:.1f})"/></g>'
            )
            out.append("".join(g))
    for i in nodes:
        x, y = pos[i]
        v = float(first[i])
        r = 7.0 + 9.0 * (abs(v) / fmax if fmax else 0.0)
        name = exp.names[i]
        short = name if len(name) <= 18 else name[:16] + "…"
        dx, dy = x - cx, y - cy
        norm = math.hypot(dx, dy) or 1.0
        lx, ly = x + dx / norm * (r + 8), y + dy / norm * (r + 8) + 4
        anchor = "middle" if abs(dx) < 20 else ("start" if dx > 0 else "end")
        out.append(
            f'<g data-s="{i}"><circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{color(v, fmax)}" stroke="#333" '
            f'stroke-width="1"><title>{_esc(name)}: {_esc(_num(v))}</title></circle>'
            f'<text x="{lx:.1f}" y="{ly:.1f}" text-anchor="{anchor}">{_esc(short)}</text></g>'
        )
    if not nodes:
        out.append(f'<text x="{cx:.0f}" y="{cy:.0f}" text-anchor="middle">no terms</text>')
    out.append("</svg>")
    return "".join(out)


def _network_panel(exp: Explanation, indices: list[str]) -> str:
    views = []
    for ix in indices:
        caption = (
            "Edges: pairs (width = |value|, red raises, blue lowers); dashed hubs: orders >= 3; "
            "nodes coloured by order-1 value."
        )
        if ix == "SV":
            caption = "Shapley values have no interactions: nodes only, coloured by value."
        views.append(f'<div class="v v-{ix}">{_network_svg(exp, ix)}<p class="note">{_esc(caption)}</p></div>')
    return f'<section class="card"><h2>Interaction network</h2>{"".join(views)}</section>'


def _table_panel(exp: Explanation, indices: list[str]) -> str:
    views = []
    for ix in indices:
        rows = "".join(
            f'<tr data-s="{" ".join(map(str, t.support))}"><td class="num">{r}</td><td>{_words(t)}</td>'
            f'<td class="num">{t.order}</td><td class="num val {"pos" if t.value > 0 else "neg"}">'
            f"{_esc(_num(t.value))}</td><td>{t.sign}</td><td><span class=\"tag {t.label}\">{t.label}</span></td></tr>"
            for r, t in enumerate(exp.terms[ix], 1)
        )
        if not rows:
            rows = '<tr><td colspan="6">no terms (the surrogate is constant)</td></tr>'
        views.append(
            f'<div class="v v-{ix}"><table><thead><tr><th>#</th><th>units</th><th>order</th><th>value</th>'
            f"<th>effect</th><th>kind</th></tr></thead><tbody>{rows}</tbody></table>"
            f'<p class="note">{_esc(exp.notes[ix])}</p></div>'
        )
    return f'<section class="card"><h2>Strongest terms</h2>{"".join(views)}</section>'


def _faith_panel(exp: Explanation) -> str:
    if exp.r2 is None:
        body = '<div class="r2">R² n/a</div><p class="note">Not measured for this result.</p>'
    else:
        masks = f" on {exp.r2_masks:,} held-out random masks" if exp.r2_masks else " on held-out random masks"
        width = max(0.0, min(1.0, exp.r2)) * 100
        body = (
            f'<div class="r2">R² = {exp.r2:.3f}</div><div class="meter"><i style="width:{width:.1f}%"></i></div>'
            f'<p class="note">Faithfulness: how much of the model\'s variation the {exp.num_terms}-term '
            f"surrogate explains{_esc(masks)} (fresh queries, not used to fit).</p>"
        )
    facts = (
        f'<p class="note">f(all units kept) ≈ {_esc(f"{exp.full:.4g}")}, f(none kept) ≈ '
        f"{_esc(f'{exp.baseline:.4g}')} (as modelled by the surrogate).</p>"
    )
    return f'<section class="card"><h2>Faithfulness</h2>{body}{facts}</section>'


def _prov_panel(exp: Explanation) -> str:
    rows = "".join(f"<tr><td>{_esc(k)}</td><td>{_esc(v)}</td></tr>" for k, v in exp.provenance)
    return f'<section class="card"><h2>Provenance</h2><table class="prov"><tbody>{rows}</tbody></table></section>'


def render(exp: Explanation, *, full_page: bool = True, k_top: int = 8) -> str:
    """HTML of an :class:`~spexjax.report.content.Explanation` (a whole page, or a fragment for Jupyter)."""
    indices = [ix for ix in INDEX_TITLES if ix in exp.first]
    digest = hashlib.sha256(repr((exp.names, exp.provenance, exp.num_terms, exp.full)).encode()).hexdigest()[:10]
    rid = f"spx-{digest}"
    css = _CSS.replace("#ID", f"#{rid}")
    for ix in indices:
        css += (
            f"#{rid} #{rid}-{ix}:checked~.body .v-{ix}{{display:block}}"
            f"#{rid} #{rid}-{ix}:checked~.body .legend.v-{ix}{{display:flex}}"
            f"#{rid} #{rid}-{ix}:checked~.body .u{{background:var(--c-{ix});color:var(--k-{ix})}}"
            f"#{rid} #{rid}-{ix}:checked~nav label[for={rid}-{ix}]{{background:#1b1b1b;color:#fff;"
            "border-color:#1b1b1b}\n"
        )
    radios = "".join(
        f'<input class="r" type="radio" name="{rid}-ix" id="{rid}-{ix}" value="{ix}"{" checked" if j == 0 else ""}>'
        for j, ix in enumerate(indices)
    )
    tabs = "".join(f'<label for="{rid}-{ix}">{_esc(INDEX_TITLES[ix])}</label>' for ix in indices)
    prov = dict(exp.provenance)
    sub = []
    if "model" in prov:
        sub.append(f"model {prov['model']}")
    if "target" in prov:
        sub.append(f"target: {prov['target']}")
    sub.append(f"{exp.n} units, {exp.num_terms} terms, {exp.queries:,} queries")
    body = (
        f'<div class="body">{_text_panel(exp, indices)}'
        f'<div class="grid">{_top_panel(exp, indices, k_top)}{_network_panel(exp, indices)}</div>'
        f'<div style="height:12px"></div><div class="grid">{_faith_panel(exp)}{_prov_panel(exp)}</div>'
        f'<div style="height:12px"></div>{_table_panel(exp, indices)}</div>'
    )
    fragment = (
        f'<div class="spx" id="{rid}"><style>{css}</style>'
        f"<h1>{_esc(exp.title)}</h1><p class=\"sub\">{_esc(' · '.join(sub))}</p>"
        f'{radios}<nav><span>index:</span>{tabs}</nav>{body}<div class="tip"></div>'
        f"<script>{_JS.replace('ID', rid)}</script></div>"
    )
    return page(exp.title, fragment) if full_page else fragment


def page(title: str, fragment: str) -> str:
    """A whole HTML page around a report fragment; its CSP forbids every fetch (images only as data: URIs)."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "script-src 'unsafe-inline'; img-src data:\">"
        f"<title>{_esc(title)}</title><style>body{{margin:0;background:#f6f6f4}}</style></head>"
        f"<body>{fragment}</body></html>\n"
    )
