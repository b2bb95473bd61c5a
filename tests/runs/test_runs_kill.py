"""Kill test: a cached run SIGKILLed at random points 5 times and resumed pays for no finished query twice.

Every value-function call appends its row count to a side log (fsync'd before it returns), so the rows a
killed process paid for are counted too. A kill can land after a call returned but before its batch was
committed; that batch is paid again on resume, hence "plus at most one batch per kill".
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
from runs_jobs import KILL_BATCH

HERE = os.path.dirname(os.path.abspath(__file__))
KILLS = 5


def _env(jax_cache: str) -> dict:
    root = os.path.dirname(os.path.dirname(HERE))
    return dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]),
        # Seven processes compile the same JAX programs: share the compiled code (halves the test's time).
        JAX_COMPILATION_CACHE_DIR=jax_cache,
        JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
        JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0",
    )


def _log_rows(log: str) -> tuple[int, int]:
    if not os.path.exists(log):
        return 0, 0
    with open(log) as fh:
        sizes = [int(s) for s in fh.read().split()]
    return len(sizes), sum(sizes)


def _start(job: str, db: str, log: str, out: str) -> subprocess.Popen:
    # db is tmp_path/{ref,kill}/JOB.db: every process of one test shares tmp_path/jax-cache
    jax_cache = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(db))), "jax-cache")
    return subprocess.Popen(
        [sys.executable, os.path.join(HERE, "runs_jobs.py"), job, db, log, out],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(jax_cache),
    )


def _finish(p: subprocess.Popen) -> None:
    out, err = p.communicate(timeout=240)
    assert p.returncode == 0, err[-3000:]


def _kill_and_resume(job: str, tmp_path, rng: np.random.Generator, spread: int) -> tuple[int, int, str]:
    run_dir = tmp_path / "kill"
    run_dir.mkdir()
    db, log, out = (str(run_dir / f"{job}.{ext}") for ext in ("db", "log", "npy"))
    kills = 0
    while kills < KILLS:
        calls_before, _ = _log_rows(log)
        target = calls_before + int(rng.integers(1, spread + 1))
        p = _start(job, db, log, out)
        while p.poll() is None and _log_rows(log)[0] < target:
            time.sleep(0.001)
        if p.poll() is not None:  # finished before the chosen point: start over from scratch
            _finish(p)
            pytest.fail(f"{job} finished before kill {kills + 1}; lower the spread")
        time.sleep(float(rng.uniform(0.0, 0.006)))  # anywhere inside the next call or commit
        os.kill(p.pid, signal.SIGKILL)
        p.communicate()
        assert p.returncode == -signal.SIGKILL
        kills += 1
    _finish(_start(job, db, log, out))
    calls, rows = _log_rows(log)
    return calls, rows, out


def _reference(job: str, tmp_path) -> tuple[int, int, str] | str:
    """One uninterrupted run: (calls, rows, output file), or the error text if the job failed."""
    ref_dir = tmp_path / "ref"
    ref_dir.mkdir(exist_ok=True)
    db, log, out = (str(ref_dir / f"{job}.{ext}") for ext in ("db", "log", "npy"))
    p = _start(job, db, log, out)
    _, err = p.communicate(timeout=240)
    if p.returncode != 0:
        return err
    return (*_log_rows(log), out)


def test_sigkill_five_times_then_resume(tmp_path):
    """The job is a real ``spexjax.spex(..., cache=, batch_size=)`` run; while the engine cannot run in this
    checkout (it is integrated by others) a fixed loop of ``runner.evaluate`` calls stands in."""
    job, ref = "spex", None
    if importlib.util.find_spec("spexjax.spex") is not None:
        ref = _reference("spex", tmp_path)
        if isinstance(ref, str):
            assert "spexjax/runs/" not in ref, ref[-3000:]  # a failure in our layer is ours to fix
            warnings.warn(
                "spexjax.spex does not run here yet; kill test uses the loop job: " + ref[-300:], stacklevel=1
            )
    if ref is None or isinstance(ref, str):
        job, ref = "loop", _reference("loop", tmp_path)
        assert not isinstance(ref, str), ref[-3000:]
    ref_calls, ref_rows, out = ref
    assert ref_calls >= 3 * KILLS, "the job is too short to be killed at 5 distinct points"

    seed = int.from_bytes(os.urandom(4), "little")
    rng = np.random.default_rng(seed)
    calls, rows, res_out = _kill_and_resume(job, tmp_path, rng, spread=max(1, ref_calls // (KILLS + 2)))
    print(
        f"kill test [{job}] seed={seed}: {calls} calls / {rows} rows after {KILLS} kills; "
        f"uninterrupted {ref_calls} / {ref_rows}"
    )
    assert ref_rows <= rows <= ref_rows + KILLS * KILL_BATCH, f"seed={seed}: {rows} rows vs {ref_rows} uninterrupted"
    np.testing.assert_array_equal(np.load(res_out), np.load(out))
    if job == "spex":
        with open(out + ".supports") as a, open(res_out + ".supports") as b:
            assert a.read() == b.read()
