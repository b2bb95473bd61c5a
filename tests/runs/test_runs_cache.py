"""QueryCache: WAL mode, bulk lookups, several processes writing one file."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import numpy as np
import pytest
from runs_helpers import N, random_masks

from spexjax.runs import QueryCache, QueryRunner
from spexjax.runs.cache import mask_keys

HERE = os.path.dirname(os.path.abspath(__file__))


def test_wal_and_schema(tmp_path):
    path = tmp_path / "c.db"
    QueryCache(path)
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"queries", "blocks"} <= tables


def test_bulk_lookup_beyond_one_in_chunk(tmp_path):
    cache = QueryCache(tmp_path / "c.db")
    X = np.unique(np.random.default_rng(0).random((3000, 20)) < 0.5, axis=0)
    keys = mask_keys(X)
    vals = np.arange(len(keys), dtype=np.float64)
    cache.store("fp", keys[::2], vals[::2])
    hit, got = cache.lookup("fp", keys)
    assert hit.sum() == len(keys[::2]) and hit[::2].all() and not hit[1::2].any()
    np.testing.assert_array_equal(got[::2], vals[::2])
    assert np.isnan(got[1::2]).all()


def test_cache_is_picklable_and_reopens(tmp_path):
    import pickle

    cache = QueryCache(tmp_path / "c.db")
    cache.store("fp", [b"\x01"], np.array([2.5]))
    clone = pickle.loads(pickle.dumps(cache))
    assert clone.lookup("fp", [b"\x01"])[1][0] == 2.5


def test_two_processes_write_the_same_file(tmp_path):
    db = str(tmp_path / "shared.db")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")]))
    procs = [
        subprocess.Popen(
            [sys.executable, os.path.join(HERE, "runs_jobs.py"), "writer", db, str(seed), "600"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for seed in (1, 2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    # every distinct mask is stored exactly once, whichever process wrote it
    X = np.concatenate([random_masks(300, seed=1000), random_masks(300, seed=1), random_masks(300, seed=2)])
    distinct = len(set(mask_keys(X)))
    assert QueryCache(db).count("parity|n=12") == distinct
    r = QueryRunner(lambda m: pytest.fail("should be cached"), N, cache=db, fingerprint="parity")
    r.evaluate(X)
    assert r.cache_hits == len(X)


def test_wide_masks_use_digest_keys(tmp_path):
    X = np.random.default_rng(0).random((5, 1000)) < 0.5
    keys = mask_keys(X)
    assert all(len(k) == 32 for k in keys) and len(set(keys)) == 5
    assert [len(k) for k in mask_keys(X[:, :256])] == [32] * 5 and len(mask_keys(X[:, :9])[0]) == 2
    r = QueryRunner(lambda m: m.sum(1).astype(float), 1000, cache=tmp_path / "c.db", fingerprint="sum")
    y = r.evaluate(X)
    r2 = QueryRunner(lambda m: pytest.fail("cached"), 1000, cache=tmp_path / "c.db", fingerprint="sum")
    np.testing.assert_array_equal(r2.evaluate(X), y)
