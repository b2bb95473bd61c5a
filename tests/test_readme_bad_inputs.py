"""Every row of the README's "Bad input" table, run verbatim: the input raises the documented error and message."""

from __future__ import annotations

import builtins
import os
import re

import numpy as np
import pytest

import spexjax
import spexjax.errors
from spexjax.testing import SparseFourier

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def _rows() -> list[tuple[str, str, str]]:
    with open(README, encoding="utf-8") as fh:
        text = fh.read()
    # the API table only: the command line's table (its own section below) has other columns
    section = text.split("## Bad input", 1)[1].split("### Bad input on the command line", 1)[0]
    rows = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        assert len(cells) == 3, line
        rows.append((cells[0].strip("`"), cells[1].strip("`"), cells[2]))
    return rows


ROWS = _rows()


@pytest.fixture(scope="module")
def scope():
    f = SparseFourier(12, [(0, 1), (2,)], [1.0, 0.5])

    def nan_fn(m):
        y = np.zeros(len(m))
        y[[2, 5]] = np.nan
        return y

    def boom(m):
        raise RuntimeError("model crashed")

    return {"np": np, "spexjax": spexjax, "f": f, "res": spexjax.spex(f, 12, b=4, max_degree=2), "nan_fn": nan_fn,
            "boom": boom}


def test_table_has_rows():
    assert len(ROWS) >= 15


@pytest.mark.parametrize("code, error, message", ROWS, ids=[r[0][:60] for r in ROWS])
def test_readme_row(code, error, message, scope):
    exc_type = getattr(spexjax.errors, error, None) or getattr(builtins, error)
    with pytest.raises(exc_type) as info:
        eval(code, dict(scope))  # noqa: S307 - the documented inputs are the test
    assert issubclass(exc_type, (ValueError, TypeError))
    pattern = ".*".join(re.escape(part) for part in message.split("…"))
    assert re.fullmatch(pattern, str(info.value), flags=re.S), f"\n documented: {message}\n raised: {info.value}"


# -- the command line's table: `spexjax ...` | exit status | one-line message -------------------------
CLI_SECTION = "### Bad input on the command line"


def _cli_rows() -> list[tuple[str, str, str]]:
    with open(README, encoding="utf-8") as fh:
        text = fh.read()
    if CLI_SECTION not in text:
        return []
    section = text.split(CLI_SECTION, 1)[1].split("\n#", 1)[0]
    rows = []
    for line in section.splitlines():
        if line.startswith("| `spexjax "):
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            rows.append((cells[0].strip("`"), cells[1].strip("`"), cells[2]))
    return rows


CLI_ROWS = _cli_rows()


@pytest.mark.skipif(not CLI_ROWS, reason=f"README has no '{CLI_SECTION}' table yet")
@pytest.mark.parametrize("command, status, message", CLI_ROWS, ids=[r[0][:60] for r in CLI_ROWS])
def test_readme_cli_row(command, status, message, capsys):
    import shlex

    from spexjax.cli import main

    argv = shlex.split(command)[1:]
    assert main(argv) == int(status)
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    pattern = ".*".join(re.escape(part) for part in message.split("…"))
    assert re.fullmatch(pattern, err, flags=re.S), f"\n documented: {message}\n printed: {err}"
