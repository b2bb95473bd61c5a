"""The one option list and runner factory: unknown or bad options fail before any query, for every method."""

from __future__ import annotations

import numpy as np
import pytest

import spexjax
from spexjax.runs import RUN_OPTIONS, RUNNER_OPTIONS, QueryRunner, check_run_options, make_runner


class Counting:
    def __init__(self):
        self.calls = 0

    def __call__(self, masks):
        self.calls += 1
        return np.zeros(len(masks))


def test_unknown_option_names_it_and_lists_the_valid_ones():
    with pytest.raises(TypeError) as info:
        check_run_options({"batchsize": 4}, method="mine")
    msg = str(info.value)
    assert "mine() got unexpected keyword arguments ['batchsize']" in msg
    for name in RUN_OPTIONS:
        assert name in msg


@pytest.mark.parametrize(
    "opts, exc",
    [
        ({"batch_size": 0}, ValueError),
        ({"batch_size": 2.5}, TypeError),
        ({"on_nonfinite": "ignore"}, ValueError),
        ({"executor": "gpu"}, ValueError),
        ({"executor": 3}, TypeError),
        ({"max_retries": -1}, ValueError),
        ({"retry_backoff": "slow"}, TypeError),
        ({"progress": "yes"}, TypeError),
        ({"fingerprint": ""}, TypeError),
        ({"cache": 12}, TypeError),
    ],
)
def test_bad_values_fail_without_building_anything(opts, exc, tmp_path):
    with pytest.raises(exc):
        check_run_options(opts)


def test_make_runner_builds_a_working_runner():
    f = Counting()
    runner = make_runner(f, 5, desc="t", options={"batch_size": 2})
    with runner:
        y = runner.evaluate(np.ones((5, 5), bool))
    assert isinstance(runner, QueryRunner) and y.shape == (5,) and f.calls == 3 and runner.queries == 5
    assert RUNNER_OPTIONS == tuple(RUN_OPTIONS)


@pytest.mark.parametrize("method", ["spex", "proxyspex"])
@pytest.mark.parametrize("opts", [{"batchsize": 4}, {"executor": "gpu"}, {"batch_size": -3}, {"max_retries": "x"}])
def test_methods_reject_bad_options_before_any_query(method, opts):
    f = Counting()
    with pytest.raises((TypeError, ValueError)):
        getattr(spexjax, method)(f, 8, budget=600, **opts)
    assert f.calls == 0


def test_proxyspex_takes_the_retry_options_too():
    f = Counting()
    res = spexjax.proxyspex(f, 6, budget=64, max_retries=0, retry_backoff=0.0, max_degree=2)
    assert res.queries == 64 and f.calls == 1
