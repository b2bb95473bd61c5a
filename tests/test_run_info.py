"""RunInfo: every method fills the same typed record of what its run cost, through one helper."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import spexjax
import spexjax.baselines as bl
from spexjax import Interactions
from spexjax.runs import RunInfo, run_info
from spexjax.testing import SparseFourier

N = 8
F = SparseFourier(N, [(), (0,), (1, 2)], [0.5, 1.0, -0.7])

METHODS = {
    "spex": lambda **kw: spexjax.spex(F, N, b=3, max_degree=2, **kw),
    "proxyspex": lambda **kw: spexjax.proxyspex(F, N, budget=200, max_degree=2, **kw),
    "lime": lambda **kw: bl.lime(F, N, budget=64, **kw),
    "kernel_shap": lambda **kw: bl.kernel_shap(F, N, budget=64, **kw),
    "banzhaf": lambda **kw: bl.banzhaf(F, N, budget=64, **kw),
    "faith_banzhaf": lambda **kw: bl.faith_banzhaf(F, N, budget=64, **kw),
    "faith_shap": lambda **kw: bl.faith_shap(F, N, budget=64, **kw),
}


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_fills_run_info_from_the_runner(method, tmp_path):
    cache = str(tmp_path / "c.sqlite")
    first = METHODS[method](key=3, cache=cache, fingerprint="F")
    again = METHODS[method](key=3, cache=cache, fingerprint="F")
    for r in (first, again):
        run = r.run
        assert isinstance(run, RunInfo) and run.method == method and run.key == 3
        assert run.queries == r.queries > 0 and run.retries == 0 and run.nonfinite == 0
        assert run.seconds["total"] >= max(v for k, v in run.seconds.items() if k != "total") >= 0
        assert run.held_out is None and run.rounds == 1
    # a mask drawn twice in one request is evaluated once, so evaluated <= queries
    assert first.run.cache_hits == 0 and 0 < first.run.evaluated <= first.queries and first.run.calls >= 1
    assert again.run.cache_hits == again.queries and again.run.evaluated == again.run.calls == 0  # all cached
    # the old meta keys are read off the record
    if method in ("spex", "proxyspex"):
        assert again.meta["evaluated"] == 0 and again.meta["cache_hits"] == again.queries
        assert again.meta["seconds"] == dict(again.run.seconds)
    else:
        assert again.meta["queries"] == again.queries and again.meta["seconds"] == again.run.seconds["total"]
        assert again.meta["budget"] == again.run.budget == 64


def test_run_info_survives_save_load_replace_and_to_dict(tmp_path):
    r = spexjax.spex(F, N, b=3, max_degree=2, key=1)
    path = tmp_path / "r.json"
    r.save(path)
    back = Interactions.load(path)
    assert back.run == r.run and back.to_dict()["run"] == r.run.to_dict()
    assert r.replace(feature_names=[f"w{i}" for i in range(N)]).run == r.run
    # files written before RunInfo (no "run" field) still load, with run=None
    doc = r.to_dict()
    del doc["run"]
    assert Interactions.from_dict(doc).run is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.run.queries = 0  # type: ignore[misc]
    with pytest.raises(TypeError, match="run must be"):
        Interactions(N, [()], [1.0], run={"method": "spex"})


def test_explain_reports_the_held_out_rows_beside_the_method(tmp_path):
    r = spexjax.explain(F, N, method="proxyspex", budget=200, max_degree=2, key=0, faithfulness=32,
                        cache=str(tmp_path / "c.sqlite"), fingerprint="F")
    assert r.run.method == "proxyspex" and r.run.budget == 200 and r.run.queries == r.queries == 200
    held = r.run.held_out
    assert held.method == "faithfulness" and held.budget is None and held.queries == 32
    assert r.meta["faithfulness_queries"] == held.queries and r.meta["faithfulness_cache_hits"] == held.cache_hits
    assert Interactions.from_dict(r.to_dict()).run == r.run


def test_run_info_helper_counts_and_labels():
    run = run_info("m", {"queries": 5, "cache_hits": 2, "retries": 1}, budget=np.int64(9), key=np.int32(4),
                   seconds={"total": 1})
    assert (run.queries, run.cache_hits, run.retries, run.evaluated, run.budget, run.key) == (5, 2, 1, 0, 9, 4)
    assert run_info("m", None, budget=None, key="k", seconds={"total": 0.0}).queries == 0
    assert RunInfo.from_dict(run.to_dict() | {"from_a_newer_version": 1}) == run
