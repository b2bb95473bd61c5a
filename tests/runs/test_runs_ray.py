"""Ray executor on a local Ray instance: same results as in-process, failures retried and reported.

The Ray driver runs in its own process (``ray_session.py``), never inside the pytest(-xdist) worker: see
that module's docstring for why.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("ray")
pytestmark = pytest.mark.ray

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def test_ray_executor_checks(tmp_path):
    """One Ray session (one test, so pytest-xdist never starts two): every check of ``ray_session.CHECKS``."""
    out = tmp_path / "results.json"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, HERE, os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run(
        [sys.executable, os.path.join(HERE, "ray_session.py"), str(out), str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=600, start_new_session=True,
    )
    assert proc.returncode == 0 and out.exists(), f"Ray session exited with {proc.returncode}:\n{proc.stderr[-4000:]}"
    results = json.loads(out.read_text())
    assert set(results) == {
        "matches_inline", "structured_batches", "failure_is_retried_then_reported",
        "workers_keep_the_value_function_loaded",
    }
    failed = {k: v for k, v in results.items() if v != "ok"}
    assert not failed, "\n".join(f"{k}:\n{v}" for k, v in failed.items())
