"""The repository's top-level folders must never shadow installed packages of the same name.

`kernels/` holds this project's device kernels, importable only as ``spexjax.kernels``. Hugging Face ships a
package named ``kernels`` that ``transformers`` (>= 5.25) imports, and ``python -m pytest`` / ``python -c`` run
from the repository root put the root first on ``sys.path``: a regular package ``kernels/`` there would be found
before the installed one (the crash of 2026-12-07: ``cannot import name 'CUDAProperties' from 'kernels'``).
These tests run real subprocesses from the repository root, as a user would.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOP_LEVEL_FOLDERS = ("kernels", "benchmarks", "tests", "docs", "spexjax")

# A stand-in for Hugging Face's `kernels`: the names transformers imports, as inert objects, and a marker.
STAND_IN = '''
STAND_IN = True


def _identity_decorator(*args, **kwargs):
    return lambda obj: obj


use_kernel_forward_from_hub = _identity_decorator
use_kernelized_func = _identity_decorator
replace_kernel_forward_from_hub = lambda *a, **k: None  # noqa: E731


def __getattr__(name):
    return type(name, (), {"__init__": lambda self, *a, **k: None})
'''


def _run_from_root(code: str, extra_path: list[str] | None = None, timeout: float = 300) -> dict:
    """Run ``python -c code`` with the repository root as working directory (so '' is first on sys.path,
    exactly as for ``python -m pytest`` started there); the code prints one JSON line last."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if extra_path:
        env["PYTHONPATH"] = os.pathsep.join(extra_path)
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=timeout)
    assert out.returncode == 0, f"subprocess failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_no_top_level_folder_is_a_regular_package():
    """A folder without ``__init__.py`` is at most a namespace portion, which loses to any installed package."""
    for name in TOP_LEVEL_FOLDERS:
        if name == "spexjax":
            continue
        assert not (ROOT / name / "__init__.py").exists(), f"{name}/__init__.py would shadow an installed '{name}'"


def test_kernels_from_root_is_never_this_folder():
    """From the root, ``import kernels`` gives the installed Hugging Face package, or no module with a file
    (an empty namespace) when none is installed; ``spexjax.kernels`` works in the same process."""
    info = _run_from_root("""
        import importlib.util, json
        spec = importlib.util.find_spec("kernels")
        origin = spec.origin if spec is not None else None
        import spexjax
        from spexjax.kernels import fwht
        print(json.dumps({"origin": origin, "fwht": fwht.__file__, "mod": spexjax.kernels.fwht.__name__}))
    """)
    if info["origin"] is not None:
        assert not Path(info["origin"]).resolve().is_relative_to(ROOT), info
    assert Path(info["fwht"]).resolve() == ROOT / "kernels" / "fwht.py"
    assert info["mod"] == "spexjax.kernels.fwht"


def test_transformers_model_class_loads_the_installed_kernels_package(tmp_path):
    """A transformers model class imported from the repository root loads the top-level ``kernels`` that is on
    the path (here a stand-in we control), never the repository's folder; spexjax's own kernels still load."""
    if importlib.util.find_spec("transformers") is None or importlib.util.find_spec("torch") is None:
        pytest.skip("transformers and torch are not installed (pip install 'spexjax[llm]' and the torch CPU wheel)")
    stand_in = tmp_path / "site" / "kernels"
    stand_in.mkdir(parents=True)
    (stand_in / "__init__.py").write_text(STAND_IN)
    info = _run_from_root("""
        import json, sys
        from transformers import LlamaConfig, LlamaForCausalLM
        cfg = LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                          num_attention_heads=2, num_key_value_heads=1)
        LlamaForCausalLM(cfg)
        import kernels
        import spexjax
        print(json.dumps({"kernels": getattr(kernels, "__file__", None),
                          "stand_in": getattr(kernels, "STAND_IN", False),
                          "spexjax_fwht": spexjax.kernels.fwht.__file__}))
    """, extra_path=[str(tmp_path / "site")])
    assert info["stand_in"] is True, info
    assert Path(info["kernels"]).resolve() == (stand_in / "__init__.py").resolve()
    assert Path(info["spexjax_fwht"]).resolve() == ROOT / "kernels" / "fwht.py"


@pytest.mark.parametrize("name", ["benchmarks", "tests"])
def test_other_top_level_folders_do_not_shadow(tmp_path, name):
    """The same trap for the other top-level folders: an installed package of that name wins from the root."""
    pkg = tmp_path / "site" / name
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("STAND_IN = True\n")
    info = _run_from_root(f"""
        import json
        import {name}
        print(json.dumps({{"file": getattr({name}, "__file__", None), "stand_in": getattr({name}, "STAND_IN", False)}}))
    """, extra_path=[str(tmp_path / "site")])
    assert info["stand_in"] is True, info
