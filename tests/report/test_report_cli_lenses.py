"""``spexjax data --report`` draws the image view and ``spexjax heads --report`` the grid view (real runs)."""

from __future__ import annotations

import re

import pytest

import spexjax
from spexjax.cli import main
from spexjax.report import lens_of, to_html


@pytest.mark.slow
def test_data_report_is_the_image_view(tmp_path, capsys):
    pytest.importorskip("sklearn", reason="the data task needs scikit-learn")
    report, saved = tmp_path / "d.html", tmp_path / "d.json"
    assert main(["data", "--n-train", "24", "--budget", "300", "--max-degree", "2", "--quiet", "--top", "3",
                 "--faithfulness", "0", "--steps", "20", "--report", str(report), "--json", str(saved)]) == 0
    assert "report written to" in capsys.readouterr().out
    page = report.read_text(encoding="utf-8")
    assert "The test image" in page and "digits test image 0" in page and "The text, coloured" not in page
    assert "margin (all points kept, measured)" in page
    srcs = re.findall(r'<img [^>]*src="data:image/png;base64,', page)
    assert len(srcs) >= 2  # the test image and at least one training image
    result = spexjax.Interactions.load(saved)  # --json keeps the lens: `spexjax report` rebuilds this page
    assert lens_of(result) == "images" and to_html(result) == page


@pytest.mark.slow
def test_heads_report_is_the_grid_view_with_pruning(tmp_path, capsys):
    report = tmp_path / "h.html"
    assert main(["heads", "--budget", "120", "--max-degree", "2", "--quiet", "--top", "3", "--faithfulness", "0",
                 "--prune", "0.5", "--report", str(report)]) == 0
    out = capsys.readouterr().out
    m = re.search(r"keep 50% \(36 heads\): held-out logprob (-?\d+\.\d+)", out)
    assert m
    page = report.read_text(encoding="utf-8")
    assert page.count('<rect class="cell') == 72  # MiniLM-L6: 6 layers x 12 heads
    assert len(re.findall(r'<rect class="cell u k0"', page)) == 36  # the kept heads, outlined
    assert "6 layers × 12 heads" in page and "Where the energy is" in page
    assert f"<td class=\"num\">{float(m.group(1)):.4f}</td>" in page  # the held-out score printed above
