"""A value function called by a QueryRunner sees the runner's retry count (runs.runner.CALLER_RETRIES).

Why: a backend with its own per-request retries (OpenAICompatible, max_retries=None) steps aside when the
runner will retry the batch anyway, instead of multiplying the two (5 attempts per request x 3 per batch).
"""

from __future__ import annotations

import numpy as np
import pytest

from spexjax.runs import QueryRunner
from spexjax.runs.runner import CALLER_RETRIES


class _Probe:
    def __init__(self) -> None:
        self.seen: list[int | None] = []

    def __call__(self, masks):
        self.seen.append(CALLER_RETRIES.get())
        return np.asarray(masks, dtype=float).sum(axis=1)


@pytest.mark.parametrize("executor", ["inline", "thread"])
@pytest.mark.parametrize("retries", [0, 3])
def test_value_function_sees_the_runner_retries(executor, retries):
    f = _Probe()
    masks = np.eye(6, dtype=bool)
    with QueryRunner(f, 6, batch_size=2, executor=executor, max_retries=retries) as r:
        np.testing.assert_array_equal(r.evaluate(masks), np.ones(6))
    assert f.seen == [retries] * 3
    assert CALLER_RETRIES.get() is None  # reset after the run
    f.seen.clear()
    f(masks)  # outside a runner
    assert f.seen == [None]


def test_reset_when_the_executor_refuses_the_function():
    """executor='process' refuses a lambda when the batches are handed over; the runner's value must not leak
    into the caller's context (it did: every later runner-free call then saw a retry count)."""
    with QueryRunner(lambda m: np.asarray(m, dtype=float).sum(axis=1), 4, executor="process", max_retries=2) as r:
        with pytest.raises(TypeError, match="picklable"):
            r.evaluate(np.eye(4, dtype=bool))
    assert CALLER_RETRIES.get() is None
