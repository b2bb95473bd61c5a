"""benchmarks/device_check.sh in its --quick CPU form: every figure prints its one line (a figure or a reason)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_device_check_quick_prints_one_line_per_figure() -> None:
    env = dict(os.environ, PYTHON=sys.executable, JAX_PLATFORMS="cpu")
    proc = subprocess.run(["bash", os.path.join(ROOT, "benchmarks", "device_check.sh"), "--quick"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = {ln.split(":", 1)[0]: ln for ln in proc.stdout.splitlines() if ":" in ln}
    assert lines["device"].startswith("device: cpu")
    for name in ("recovery", "spex_vs_shapiq", "lm_rows", "retrain"):
        assert name in lines, proc.stdout
    # the engine figures must be measured, not skipped, on the CPU
    assert "skipped" not in lines["recovery"] and "5/5 terms" in lines["recovery"], lines["recovery"]
    assert "spexjax warm" in lines["spex_vs_shapiq"], lines["spex_vs_shapiq"]
    assert "skipped" not in lines["retrain"] and "fraction" in lines["retrain"], lines["retrain"]
    assert "JAX" in lines["lm_rows"] or "skipped" in lines["lm_rows"], lines["lm_rows"]
