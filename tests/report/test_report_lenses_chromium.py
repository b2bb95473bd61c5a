"""Acceptance (issue 27): the image and grid views render in headless Chromium.

A probe script appended to a copy of each report runs in the page after load: it draws every ``<img>`` into a
canvas and reads its pixels back (decoded, not blank), and reads the grid cells' computed fill (the CSS tab
colours applied); it writes what it saw as JSON into the DOM, which ``--dump-dom`` returns. A data report over
a 50,000-point datamodels store stays under 2 MB and opens the same way.
"""

from __future__ import annotations

import html
import json
import os
import re

import numpy as np
import pytest
from report_cases import data_result, digit_images, heads_result
from test_report_chromium import chromium_binary, run_chromium

from spexjax.report import save_html, with_grid, with_images
from spexjax.report.lenses import K_POINTS, K_SETS, MAX_MEMBERS, SIZE_BOUND

PWN = '<b class="pwn">&amp;</b>'  # a label that would inject an element if it were not escaped
PROBE = """<script>window.addEventListener("load",function(){var out={imgs:[],cells:[]};
document.querySelectorAll("img").forEach(function(im){var r={w:im.naturalWidth,h:im.naturalHeight,
bw:im.getBoundingClientRect().width,distinct:0,lit:0,px:0};
if(im.naturalWidth>0){var c=document.createElement("canvas");c.width=im.naturalWidth;c.height=im.naturalHeight;
var x=c.getContext("2d");x.drawImage(im,0,0);var d=x.getImageData(0,0,c.width,c.height).data,seen={};
for(var i=0;i<d.length;i+=4){seen[d[i]+","+d[i+1]+","+d[i+2]]=1;if(d[i]+d[i+1]+d[i+2]>30)r.lit++;r.px++;}
r.distinct=Object.keys(seen).length;}out.imgs.push(r);});
document.querySelectorAll("rect.cell").forEach(function(e){out.cells.push([e.getAttribute("data-i"),
getComputedStyle(e).fill,e.getBoundingClientRect().width]);});
var set=document.querySelector(".set");if(set){set.click();out.detail=document.querySelector(".detail").textContent;}
var cell=document.querySelector('rect.cell[data-i="0"]');if(cell){cell.dispatchEvent(new MouseEvent("mouseenter",
{clientX:10,clientY:10}));out.hl=document.querySelectorAll(".hl").length;out.dim=document.querySelectorAll(".dim").length;
out.tip=document.querySelector(".tip").textContent;}
out.pwn=document.querySelectorAll(".pwn").length;var t0=document.querySelector("rect.cell title, figure.pt");
out.label=t0?(t0.textContent||"")+(t0.getAttribute("title")||""):"";
var p=document.createElement("pre");p.id="probe";p.textContent=JSON.stringify(out);document.body.appendChild(p);});
</script>"""


@pytest.fixture
def chromium() -> str:
    binary = chromium_binary()
    if binary is None:
        pytest.skip("no chromium binary on PATH (Debian: apt-get install chromium); .ci/run installs it")
    return binary


def probe(chromium: str, page_path, tmp_path, name: str) -> dict:
    """Open a copy of the report with the probe appended; return what the probe saw."""
    text = open(page_path, encoding="utf-8").read()
    assert text.count("</body>") == 1
    probed = tmp_path / f"{name}-probed.html"
    probed.write_text(text.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    proc = run_chromium(chromium, probed.as_uri(), str(tmp_path / f"profile-{name}"), "--dump-dom",
                        "--window-size=1200,1600")
    assert proc.returncode == 0, proc.stderr[-2000:]
    m = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout, re.S)
    assert m, "the probe did not run: " + proc.stdout[-500:]
    return json.loads(html.unescape(m.group(1)))


def check_thumbnails(seen: dict, count: int) -> None:
    assert len(seen["imgs"]) == count
    for r in seen["imgs"]:
        assert r["w"] > 0 and r["h"] > 0, r  # decoded
        assert r["bw"] >= 40, r  # laid out at thumbnail size
        assert r["distinct"] >= 2 and r["lit"] > 0, r  # not blank: some pixels differ, some are lit


@pytest.mark.slow
def test_image_view_thumbnails_decode_in_chromium(chromium, tmp_path):
    n = 60
    imgs, labels = digit_images(n)
    names = [f'{PWN} #{i}' for i in range(n)]
    res = with_images(data_result(n, names=names), imgs, labels, test_image=imgs[0], test_label=int(labels[3]),
                      margin=1.5)
    path = save_html(res, tmp_path / "images.html")
    page = open(path, encoding="utf-8").read()
    seen = probe(chromium, path, tmp_path, "images")
    check_thumbnails(seen, page.count("<img "))
    assert len(seen["imgs"]) >= 10 and seen["cells"] == []
    # clicking a set shows its value (the script's detail box)
    assert seen["detail"].startswith("set {#") and "Möbius +0.5 (synergy, order 2" in seen["detail"]
    # labels are text, never markup: no element was injected, the tooltip reads the name literally
    assert seen["pwn"] == 0 and PWN in seen["label"]


@pytest.mark.slow
def test_grid_view_has_one_cell_per_head_in_chromium(chromium, tmp_path):
    layers, heads = 6, 12
    names = [f"{PWN}L{a}H{b}" for a in range(layers) for b in range(heads)]
    prune = [{"fraction": 0.5, "kept": list(range(0, 72, 2)), "heldout": -1.2, "full": -1.0}]
    res = with_grid(heads_result(layers, heads, names=names), layers, heads, prune=prune, metric="logprob")
    path = save_html(res, tmp_path / "grid.html")
    seen = probe(chromium, path, tmp_path, "grid")
    cells = seen["cells"]
    assert sorted(int(i) for i, _, _ in cells) == list(range(layers * heads))
    assert all(w > 5 for _, _, w in cells)
    fills = {f for _, f, _ in cells}
    # the Möbius tab's colours are applied: many distinct fills, red and blue ones, none left black (unset)
    assert len(fills) > 20 and "rgb(0, 0, 0)" not in fills
    rgb = [tuple(map(int, re.findall(r"\d+", f)[:3])) for f in fills]
    assert any(r > b + 30 for r, _, b in rgb) and any(b > r + 30 for r, _, b in rgb)
    assert seen["imgs"] == []
    # hovering head L0H0 highlights it and the terms it is in ((0, 2) within layer 0), dims the other overlays
    assert seen["hl"] >= 2 and seen["dim"] >= 1 and seen["tip"].startswith(f"{PWN}L0H0: Möbius")
    assert seen["pwn"] == 0 and PWN in seen["label"]


@pytest.mark.slow
def test_data_report_over_a_50000_point_store_is_small_and_opens(chromium, tmp_path):
    from spexjax.data import DatamodelsStore, write_store

    n, M = 50_000, 1_000
    rng = np.random.default_rng(0)
    planted = [7, 123, 4_567, 33_333, 49_999]

    def fill(lo, hi):
        x = rng.random((hi - lo, n)) < 0.5
        y = (2.0 * x[:, 7] + 1.5 * x[:, 123] - 1.0 * x[:, 7] * x[:, 123] + 1.0 * x[:, 4_567] * x[:, 33_333]
             - 0.8 * x[:, 49_999] + 0.05 * rng.standard_normal(hi - lo))
        return x, y[:, None]

    write_store(tmp_path / "masks.npy", tmp_path / "outputs.npy", M, n, 1, fill, chunk_rows=250)
    store = DatamodelsStore(tmp_path / "masks.npy", tmp_path / "outputs.npy")
    result = store.explain(0, screen=64, max_degree=2, key=0)
    assert set(planted) <= set(result.meta["store"]["screened_points"])
    # incompressible 32x32 RGB images (CIFAR's size) beside the store; read by memory map, only shown rows
    images = np.lib.format.open_memmap(tmp_path / "images.npy", mode="w+", dtype=np.uint8, shape=(n, 32, 32, 3))
    images[:] = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    images.flush()
    np.save(tmp_path / "labels.npy", rng.integers(0, 10, n))
    del images
    res = with_images(result, tmp_path / "images.npy", tmp_path / "labels.npy", test_label=3)
    path = save_html(res, tmp_path / "store.html")
    size = os.path.getsize(path)
    page = open(path, encoding="utf-8").read()
    count = page.count("<img ")
    assert 5 <= count <= 2 * K_POINTS + 2 * K_SETS * MAX_MEMBERS  # never one thumbnail per training point
    assert size < SIZE_BOUND, size
    assert "datamodels store" in page and "50,000 training points" in page
    seen = probe(chromium, path, tmp_path, "store")
    check_thumbnails(seen, count)
