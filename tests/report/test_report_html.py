"""The HTML report: self-contained, escaped, every word and number present, rebuilt from a saved result."""

from __future__ import annotations

import re

import numpy as np
import pytest
from report_cases import WORDS, double_negation

import spexjax
from spexjax.report import explain, save_html, summary, to_html, with_meta
from spexjax.report.content import label_of, layout_units


@pytest.fixture
def result():
    return double_negation()


def test_report_is_self_contained(result):
    page = to_html(result)
    assert page.startswith("<!DOCTYPE html>")
    # nothing is fetched: no URLs, no external scripts, styles or images
    assert not re.search(r"https?://", page)
    assert not re.search(r"<(link|img|iframe)\b", page)
    assert not re.search(r"\bsrc\s*=", page)
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    for word in WORDS:
        assert f">{word}</span>" in page  # each unit is its own coloured span
    assert "R² = 0.973" in page
    for label in ("Möbius", "Shapley (SV)", "STII", "FSII", "Fourier"):
        assert f">{label}</label>" in page
    assert "<svg" in page and "synergy" in page and "1,234" in page and "0123abcd" in page


def test_user_text_is_escaped():
    evil = '<script>alert("x")</script> & <b onmouseover="y">'
    res = spexjax.Interactions(3, [(0,), (0, 2)], [0.5, -0.3], feature_names=[evil, "a&b", '"q"'],
                               meta={"provenance": {"model": "<img src=x>", "text": None}})
    page = to_html(res)
    assert evil not in page and "<img src=x>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "a&amp;b" in page and "&lt;img src=x&gt;" in page
    # the only scripts are the report's own
    assert page.count("<script") == 1


def test_explanation_numbers_match_the_result(result):
    exp = explain(result)
    mob = result.index("Moebius", min_order=1)
    top = exp.terms["Moebius"][0]
    assert top.support == (3, 4) and top.words == ("not", "bad") and top.label == "synergy"
    assert top.value == pytest.approx(mob[(3, 4)])
    np.testing.assert_allclose(exp.first["SV"], [result.index("SV").get((i,), 0.0) for i in range(7)])
    np.testing.assert_allclose(exp.first["Moebius"][[3, 4]], [-0.3, -0.6])
    # Fourier is shown in the Möbius sign convention: order-k values times (-1)^k
    four = result.index("Fourier", min_order=1)
    shown = {t.support: t.value for t in exp.terms["Fourier"]}
    for s, v in shown.items():
        assert v == pytest.approx(four[s] * (-1) ** len(s))
    assert exp.full == pytest.approx(float(result.predict(np.ones((1, 7), bool))[0]))
    assert exp.r2 == pytest.approx(0.9731) and exp.r2_masks == 100
    assert ("budget", "2,000") in exp.provenance and ("queries", "1,234") in exp.provenance
    assert "'not' + 'bad' together: +1.1 (order 2, synergy)" in summary(result)


def test_labels_and_layout():
    assert label_of(0.3, 1) == "main effect"
    assert label_of(0.3, 2) == "synergy" and label_of(-0.3, 3) == "redundancy"
    segs = layout_units(["Hello,", "world!"], "  Hello,   world! ")
    assert "".join(s.text for s in segs) == "  Hello,   world! "
    assert [s.unit for s in segs if s.unit is not None] == [0, 1]
    # a unit not in the text (placeholder, tokenizer marker): joined by spaces instead
    assert "".join(s.text for s in layout_units(["a", "##b"], "a b")) == "a ##b"


def test_saved_result_rebuilds_the_same_report(result, tmp_path):
    path = tmp_path / "r.json"
    result.save(path)
    loaded = spexjax.Interactions.load(path)
    assert loaded.feature_names == WORDS and loaded.meta["provenance"]["budget"] == 2000
    assert to_html(loaded) == to_html(result)
    out = save_html(loaded, tmp_path / "r.html")
    assert open(out, encoding="utf-8").read() == to_html(result)


def test_with_meta_copies_and_never_mutates(result):
    before = (result.fourier()[1].copy(), dict(result.meta))
    res2 = with_meta(result, faithfulness_r2=0.5, provenance={"seconds": 9.0})
    assert res2 is not result and result.meta == before[1]
    np.testing.assert_array_equal(result.fourier()[1], before[0])
    assert res2.meta["faithfulness_r2"] == 0.5
    assert res2.meta["provenance"]["seconds"] == 9.0 and res2.meta["provenance"]["budget"] == 2000


def test_repr_html_is_the_report_fragment(result):
    frag = result._repr_html_()
    assert frag.startswith('<div class="spx"') and "<html" not in frag
    assert all(f">{w}</span>" in frag for w in WORDS) and "R² = 0.973" in frag


def test_edge_cases_render():
    # no terms, no names, no R^2: still a valid page that says so
    page = to_html(spexjax.Interactions(2, [], []))
    assert "no terms" in page and "R² n/a" in page
    page = to_html(double_negation(text_extra="\nsecond line <3"))
    assert "second line &lt;3" in page
    with pytest.raises(TypeError, match="result must be a spexjax.Interactions"):
        to_html({"n": 3})
    with pytest.raises(ValueError, match="k must be an int >= 1"):
        to_html(double_negation(), k=0)
