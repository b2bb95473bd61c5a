"""Acceptance: the report renders in a real browser (headless Chromium), not blank, every word and R² shown."""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pytest
from report_cases import WORDS, double_negation

from spexjax.report import save_html

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
    "--disable-component-update", "--disable-sync", "--hide-scrollbars",
]


@pytest.fixture
def result():
    return double_negation()


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def run_chromium(binary: str, url: str, profile: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, url],
        capture_output=True, text=True, timeout=120, check=False,
    )


@pytest.fixture
def chromium() -> str:
    binary = chromium_binary()
    if binary is None:
        pytest.skip("no chromium binary on PATH (Debian: apt-get install chromium); .ci/run installs it")
    return binary


@pytest.mark.slow
def test_report_renders_in_headless_chromium(result, chromium, tmp_path):
    page = tmp_path / "report.html"
    save_html(result, page)
    url = page.as_uri()

    dom = run_chromium(chromium, url, str(tmp_path / "profile1"), "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    text = dom.stdout
    for word in WORDS:
        assert f">{word}</span>" in text, word
    assert "R² = 0.973" in text
    assert "synergy" in text and "<svg" in text

    shot = tmp_path / "shot.png"
    proc = run_chromium(chromium, url, str(tmp_path / "profile2"), f"--screenshot={shot}", "--window-size=1100,900")
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    from matplotlib.image import imread

    img = imread(os.fspath(shot))[..., :3]
    assert img.shape[0] >= 800 and img.shape[1] >= 1000
    # not blank: many distinct colours, including the report's red and blue (the coloured words and edges)
    flat = (img.reshape(-1, 3) * 255).round().astype(int)
    assert len(np.unique(flat, axis=0)) > 200
    reds = (flat[:, 0] > 150) & (flat[:, 2] < 110) & (flat[:, 1] < 110)
    blues = (flat[:, 2] > 140) & (flat[:, 0] < 90)
    assert reds.sum() > 100 and blues.sum() > 100
    assert img.std() > 0.05
