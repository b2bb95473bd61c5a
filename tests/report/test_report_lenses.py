"""Per-lens reports: the image view (data attribution) and the grid view (attention heads), without a browser.

The PNG writer is checked against an independent decoder (matplotlib's, i.e. Pillow's); each view's content
against the result's own numbers; every label against escaping; the saved result against the same page.
"""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from report_cases import EVIL, data_result, digit_images, double_negation, heads_result

import spexjax
from spexjax.report import lens_of, save_html, to_html, with_grid, with_images, with_meta
from spexjax.report.lenses import (
    K_POINTS,
    K_SETS,
    MAX_MEMBERS,
    MAX_SIDE,
    SIZE_BOUND,
    grid_view,
    image_terms,
    image_view,
)
from spexjax.report.png import as_images, decode_png_size, encode_png, thumbnail, to_uint8, valid_b64_png

IMG_SRC = re.compile(r'<img [^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def _decode(png: bytes) -> np.ndarray:
    pytest.importorskip("matplotlib", reason="decoding PNGs in the test needs matplotlib (Pillow)")
    from matplotlib.image import imread

    return imread(io.BytesIO(png), format="png")


@pytest.mark.parametrize("shape", [(5, 7), (6, 4, 1), (3, 9, 3), (4, 4, 4), (1, 1)])
def test_png_writer_round_trips_through_an_independent_decoder(shape):
    img = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    got = _decode(encode_png(img))
    want = img.reshape(shape[0], shape[1], -1)
    got = np.round(np.asarray(got, dtype=np.float64) * 255).astype(np.uint8).reshape(want.shape)
    np.testing.assert_array_equal(got, want)
    assert decode_png_size(base64.b64encode(encode_png(img)).decode()) == (shape[1], shape[0])


def test_png_helpers_reject_and_scale():
    with pytest.raises(TypeError, match="image must be uint8"):
        encode_png(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="image must have shape"):
        encode_png(np.zeros((2, 2, 5), np.uint8))
    assert not valid_b64_png('" onerror="x') and not valid_b64_png("aGVsbG8=") and not valid_b64_png(None)
    np.testing.assert_array_equal(to_uint8(np.array([0.0, 0.5, 1.0])), [0, 128, 255])
    np.testing.assert_array_equal(to_uint8(np.array([-2.0, 0.0, 2.0])), [0, 128, 255])  # standardised: min-max
    np.testing.assert_array_equal(to_uint8(np.array([0.0, 17.0, 255.0])), [0, 17, 255])
    big = np.arange(200 * 130 * 3, dtype=np.float64).reshape(200, 130, 3)
    small = thumbnail(big, 64)
    assert max(small.shape[:2]) <= 64 and small.shape == (50, 32, 3)
    np.testing.assert_allclose(small[0, 0], big[:4, :4].mean(axis=(0, 1)))
    # layouts: flat square grey, flat RGB, channels-first
    assert as_images(np.zeros((3, 64))).shape == (3, 8, 8, 1)
    assert as_images(np.zeros((3, 3 * 16))).shape == (3, 4, 4, 3)
    assert as_images(np.zeros((3, 3, 5, 6))).shape == (3, 5, 6, 3)
    with pytest.raises(ValueError, match="images must hold one image per training point"):
        as_images(np.zeros((3, 8, 8)), 4)


def test_lens_is_read_from_metadata():
    res = double_negation()
    assert lens_of(res) == "text"
    assert lens_of(with_meta(res, lens="grid")) == "grid"
    with pytest.raises(ValueError, match=r"meta\['lens'\] must name one of"):
        lens_of(with_meta(res, lens="pie"))
    with pytest.raises(ValueError, match=r"meta\['lens'\]: a grid needs 'layers' and 'heads'"):
        to_html(with_meta(res, lens="grid"))


def test_image_view_shows_the_terms_images_and_the_split():
    n = 60
    imgs, labels = digit_images(n)
    res = data_result(n)
    target = int(labels[3])
    out = with_images(res, imgs, labels, test_image=imgs[0], test_label=target, margin=1.5, test_name="test 0")
    assert out is not res and "lens" not in res.meta  # a new result; the old one is untouched
    spec = out.meta["lens"]
    chosen = image_terms(res)
    shown = {s[0] for s, _ in chosen["raises"] + chosen["lowers"]}
    shown |= {i for s, _ in chosen["synergistic"] + chosen["redundant"] for i in s[:MAX_MEMBERS]}
    assert set(map(int, spec["thumbs"])) == shown  # only the points the report draws
    assert {int(k): v for k, v in spec["labels"].items()} == {
        i: int(labels[i]) for i in {j for s in res.fourier()[0] for j in s} | shown}
    # the thumbnails are the images (one joint scale: these are in [0, 1], so x 255)
    got = _decode(base64.b64decode(spec["thumbs"]["7"]))
    np.testing.assert_allclose(np.asarray(got).reshape(8, 8) * 255, imgs[7] * 255, atol=0.51)

    v = image_view(out)
    assert [p.index for p in v.raises] == [3, 7, 5] and [p.index for p in v.lowers] == [11, 20]
    assert v.raises[0].effect == pytest.approx(1.2) and v.raises[0].label == labels[3]
    assert [s.support for s in v.redundant] == [(3, 7), (2, 30, 41)]
    assert [s.support for s in v.synergistic][:2] == [(11, 20), (5, 9)]
    for s in v.synergistic + v.redundant:
        assert all(p.label == target for p in s.target_members)
        assert all(p.label != target for p in s.other_members)
        want = {True: "target", False: "other"}
        tags = {labels[i] == target for i in s.support}
        assert s.group == (want[tags.pop()] if len(tags) == 1 else "mixed")

    page = to_html(out)
    srcs = IMG_SRC.findall(page)
    placements = 1 + len(v.raises) + len(v.lowers) + sum(
        len(s.target_members) + len(s.other_members) + len(s.unknown_members) for s in v.synergistic + v.redundant)
    assert len(srcs) == page.count("<img ") == placements
    assert all(valid_b64_png(b) for b in srcs)
    assert not re.search(r"https?://", page) and "default-src 'none'" in page
    for text in ("The test image", "Most synergistic sets", "Most redundant sets", "target class",
                 "other classes", "margin (all points kept, measured)", "+1.5", "R² = 0.910"):
        assert text in page, text
    # hover / click: each set carries its value in a tooltip the script shows
    assert 'data-tip="set {#3 y=' in page and "Möbius -0.7 (redundancy, order 2" in page
    assert "Training images that move the margin most" in page and "The text, coloured" not in page


def test_image_view_escapes_every_label_and_round_trips(tmp_path):
    n = 60
    imgs, labels = digit_images(n)
    names = [f"{EVIL} #{i}" for i in range(n)]
    res = data_result(n, names=names)
    res = with_meta(res, provenance={"model": "<img src=x>", "title": "<h1>t</h1>"})
    out = with_images(res, imgs, labels, test_image=imgs[1], test_label=int(labels[1]),
                      class_names=[f"<c{i}>" for i in range(10)], test_name='"quoted" & <b>')
    page = to_html(out)
    assert EVIL not in page and "<img src=x>" not in page and "<h1>t</h1>" not in page and "<c3>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page and "&lt;img src=x&gt;" in page
    assert "&quot;quoted&quot; &amp; &lt;b&gt;" in page
    assert page.count("<script") == 1  # only the report's own
    # a saved result keeps its lens and rebuilds the same page
    out.save(tmp_path / "r.json")
    again = spexjax.Interactions.load(tmp_path / "r.json")
    assert lens_of(again) == "images" and to_html(again) == page
    # an edited file cannot smuggle markup through a thumbnail
    doc = again.to_dict()
    doc["meta"]["lens"]["thumbs"]["3"] = '" onerror="alert(1)'
    page2 = to_html(spexjax.Interactions.from_dict(doc))
    assert "onerror" not in page2 and 0 < page2.count("<img ") < page.count("<img ")


def test_images_from_npy_files_and_save_html_arguments(tmp_path):
    n = 60
    imgs, labels = digit_images(n)
    chw = np.repeat(imgs[:, None], 3, axis=1)  # channels-first RGB, as PyTorch stores CIFAR
    np.save(tmp_path / "images.npy", chw)
    np.save(tmp_path / "labels.npy", labels)
    res = data_result(n)
    from_files = with_images(res, tmp_path / "images.npy", tmp_path / "labels.npy", test_label=int(labels[0]))
    from_arrays = with_images(res, chw.transpose(0, 2, 3, 1), labels, test_label=int(labels[0]))
    assert from_files.meta["lens"]["thumbs"] == from_arrays.meta["lens"]["thumbs"]
    assert from_files.meta["lens"]["image_shape"] == [8, 8, 3]
    # save_html with images= does the same in one call
    path = save_html(res, tmp_path / "r.html", images=chw, labels=labels, test_label=int(labels[0]))
    assert IMG_SRC.findall(open(path, encoding="utf-8").read())
    # a lens naming the images beside a store reads them when the report is drawn
    lazy = with_meta(res, lens={"kind": "images", "images_path": str(tmp_path / "images.npy"),
                                "labels_path": str(tmp_path / "labels.npy"), "target_class": int(labels[0])})
    assert to_html(lazy) == to_html(from_files)
    with pytest.raises(ValueError, match="images: labels=, test_image="):
        to_html(res, labels=labels)
    with pytest.raises(ValueError, match="labels must hold one label per training point"):
        with_images(res, imgs, labels[:-1])
    with pytest.raises(ValueError, match="test_image must have the training images' shape"):
        with_images(res, imgs, labels, test_image=np.zeros((4, 4)))
    with pytest.raises(ValueError, match="images: no such file"):
        with_images(res, tmp_path / "missing.npy")
    # no images attached: the view still renders and says how to attach them
    page = to_html(with_meta(res, lens="images"))
    assert "No training images are attached" in page and "<img " not in page


def test_image_view_size_is_bounded_for_large_images():
    """Worst case: incompressible 100x100 RGB noise; thumbnails are cut to MAX_SIDE and their count is fixed."""
    rng = np.random.default_rng(0)
    n = 400
    imgs = rng.integers(0, 256, (n, 100, 100, 4), dtype=np.uint8)  # RGBA: the alpha channel is dropped
    supports = [(i,) for i in range(40)] + [tuple(range(j, j + 8)) for j in range(40, 200, 8)]
    res = spexjax.Interactions.from_mobius(n, supports, rng.standard_normal(len(supports)))
    out = with_images(res, imgs, rng.integers(0, 10, n), test_image=imgs[0], test_label=1)
    page = to_html(out)
    srcs = IMG_SRC.findall(page)
    assert len(srcs) <= 1 + 2 * K_POINTS + 2 * K_SETS * MAX_MEMBERS
    assert all(max(decode_png_size(b)) <= MAX_SIDE for b in srcs)
    assert len(page.encode()) < SIZE_BOUND
    assert out.meta["lens"]["image_shape"] == [100, 100, 3]


def test_grid_view_one_cell_per_head_sets_energy_and_pruning():
    layers, heads = 4, 6
    res = heads_result(layers, heads)
    prune = [{"fraction": 0.5, "kept": [0, 2, 7, 9, 13, 20, 21, 1, 3, 4, 5, 6], "heldout": -1.1, "full": -1.0}]
    out = with_grid(res, prune=prune, metric="logprob")  # layers x heads read from the names L{l}H{h}
    assert out.meta["lens"]["layers"] == layers and out.meta["lens"]["heads"] == heads
    page = to_html(out)
    cells = re.findall(r'<rect class="cell u([^"]*)" data-i="(\d+)"', page)
    assert sorted(int(i) for _, i in cells) == list(range(layers * heads))
    kept = {int(i) for cls, i in cells if " k0" in cls}
    assert kept == set(prune[0]["kept"])
    for text in ("within layer 0", "across layers 0, 1", "within layer 1", "held-out logprob", "-1.1000",
                 "Where the energy is", "4 layers × 6 heads"):
        assert text in page, text
    g = grid_view(out)
    from spexjax.heads import energy_by_depth

    all_row = next(r for r in energy_by_depth(res, layers, heads) if r["group"] == "all")
    assert g.depth["within_layer"] == pytest.approx(all_row["within_layer"])
    assert sum(s for _, s in g.energy_by_order) == pytest.approx(1.0)
    f_sup, f_coef = res.fourier()
    e2 = sum(c**2 for s, c in zip(f_sup, f_coef, strict=True) if len(s) == 2)
    e = sum(c**2 for s, c in zip(f_sup, f_coef, strict=True) if s)
    assert dict(g.energy_by_order)[2] == pytest.approx(e2 / e)
    assert {t.support for t in g.sets["Moebius"]} == {(0, 2), (1, 7), (6, 9, 10)}
    assert "The text, coloured" not in page and "<img" not in page
    frag = out._repr_html_()  # Jupyter shows the same view
    assert frag.startswith('<div class="spx"') and frag.count('<rect class="cell') == layers * heads


def test_grid_view_escapes_names_and_checks_shape(tmp_path):
    names = [f"{EVIL}{i}" for i in range(12)]
    res = heads_result(3, 4, names=names)
    page = to_html(with_grid(res, 3, 4))
    assert EVIL not in page and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert page.count("<script") == 1 and page.count('<rect class="cell') == 12
    with pytest.raises(ValueError, match="layers x heads = 2 x 4 must equal n = 12"):
        with_grid(res, 2, 4)
    with pytest.raises(ValueError, match=r"a grid needs 'layers' and 'heads'"):
        with_grid(res)
    with pytest.raises(ValueError, match=r"prune\[0\]\['kept'\] must be head indices"):
        with_grid(res, 3, 4, prune=[{"kept": [99]}])
    out = with_grid(res, 3, 4)
    out.save(tmp_path / "g.json")
    assert to_html(spexjax.Interactions.load(tmp_path / "g.json")) == to_html(out)


def test_text_view_is_unchanged_by_lenses():
    res = double_negation()
    assert to_html(with_meta(res, lens="text")) == to_html(res)
    with pytest.raises(ValueError, match="order/text: only the text view"):
        to_html(with_grid(heads_result(), 4, 6), order=2)
