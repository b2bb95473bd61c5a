"""Every row of spexjax/runs/BAD_INPUTS.md, run verbatim: the input raises the documented error and message."""

from __future__ import annotations

import builtins
import os
import re
import sys

import numpy as np
import pytest
from runs_helpers import parity_sum
from test_runs_runner import affine_queries

import spexjax.errors
from spexjax.runs import QueryRunner
from spexjax.testing import SparseFourier

TABLE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "spexjax", "runs", "BAD_INPUTS.md"
)


def _rows() -> list[tuple[str, str, str]]:
    rows = []
    with open(TABLE) as fh:
        for line in fh:
            if not line.startswith("| `"):
                continue
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            assert len(cells) == 3, line
            code = re.match(r"`([^`]*)`", cells[0]).group(1)  # the code; any remark after it is prose
            rows.append((code, cells[1].strip("`"), cells[2]))
    return rows


ROWS = _rows()


def test_table_is_not_empty():
    assert len(ROWS) >= 25


@pytest.mark.parametrize("code, error, message", ROWS, ids=[r[0][:60] for r in ROWS])
def test_bad_input_row(code, error, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "ray", None)  # the "without Ray installed" row
    scope = {
        "np": np,
        "os": os,
        "QueryRunner": QueryRunner,
        "X": np.ones((4, 12), bool),
        "f": parity_sum,
        "sf5": SparseFourier(5, [(0, 1)], [1.0]),
        "q12": affine_queries(),
    }
    exc_type = getattr(spexjax.errors, error, None) or getattr(builtins, error)
    with pytest.raises(exc_type) as info:
        eval(code, scope)  # noqa: S307 - the documented inputs are the test
    text = str(info.value)
    pattern = ".*".join(re.escape(part) for part in message.split("…"))
    assert re.fullmatch(pattern, text, flags=re.S), f"\n documented: {message}\n raised:     {text}"
