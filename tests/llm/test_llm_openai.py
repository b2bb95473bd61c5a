"""OpenAICompatible against a real local HTTP server (tests/llm/fake_openai_server.py) that plants word interactions.

The reference for every value is the planted function itself (fake_openai_server.trolley_value), computed here by hand.
"""

from __future__ import annotations

import math
import pickle
import threading
import time

import numpy as np
import pytest
from fake_openai_server import (
    N_CTX,
    PLANTED_TOP,
    RESPONSE_SHIFT,
    TEMPLATE_SHIFT,
    TROLLEY,
    VOCAB_BASE,
    FakeOpenAIServer,
    TemplateTokenizer,
    render_chat,
    trolley_value,
)

from spexjax.errors import ValueFunctionError
from spexjax.llm.openai import EndpointError, EndpointUnsupportedError, OpenAICompatible
from spexjax.llm.protocols import LanguageModel
from spexjax.runs import QueryRunner

WORDS = TROLLEY.split()
QUAD = tuple(i for i, w in enumerate(WORDS) if w in ("trolley", "pulling", "lever"))  # (2, 22, 29, 34)
FAST = {"backoff": 0.0, "timeout": 5.0}


def _model(server: FakeOpenAIServer, **options) -> OpenAICompatible:
    return OpenAICompatible(server.base_url, "planted", **{**FAST, **options})


def _contrast_ref(words: list[str]) -> float:
    return trolley_value(words)  # logit(True) - logit(False); the softmax normaliser cancels


def _logsoftmax(text: str) -> dict[str, float]:
    logits = {**VOCAB_BASE, "True": trolley_value(text.split()), "False": 0.0}
    lse = math.log(sum(math.exp(v) for v in logits.values()))
    return {t: v - lse for t, v in logits.items()}


# -- construction ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url, match",
    [
        ("ftp://127.0.0.1/v1", "http:// or https://"),
        ("127.0.0.1:8000/v1", "http:// or https://"),
        ("http:///v1", "must name a host"),
        ("http://user:pw@127.0.0.1/v1", "credentials"),
        ("http://127.0.0.1/v1?x=1", "query or fragment"),
        ("http://127.0.0.1:99999999/v1", "invalid port"),
    ],
)
def test_base_url_validated(url, match):
    with pytest.raises(ValueError, match=match):
        OpenAICompatible(url, "m")


def test_arguments_validated():
    with pytest.raises(TypeError, match="base_url"):
        OpenAICompatible(8000, "m")
    with pytest.raises(TypeError, match="model"):
        OpenAICompatible("http://127.0.0.1/v1", "")
    with pytest.raises(TypeError, match="unknown option"):
        OpenAICompatible("http://127.0.0.1/v1", "m", max_concurency=2)
    with pytest.raises(ValueError, match="api must be"):
        OpenAICompatible("http://127.0.0.1/v1", "m", api="responses")
    with pytest.raises(ValueError, match="prompt_format"):
        OpenAICompatible("http://127.0.0.1/v1", "m", prompt_format="no placeholder")
    with pytest.raises(ValueError, match="max_concurrency"):
        OpenAICompatible("http://127.0.0.1/v1", "m", max_concurrency=0)
    with pytest.raises(ValueError, match="on_missing"):
        OpenAICompatible("http://127.0.0.1/v1", "m", on_missing="zero")
    m = OpenAICompatible("http://127.0.0.1/v1", "m")
    with pytest.raises(TypeError, match="prompts"):
        m.next_token_logprobs("one prompt", ["a"])
    with pytest.raises(TypeError, match="candidates"):
        m.next_token_logprobs(["p"], "ab")


def test_identity_and_key(openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    m = _model(openai_server)
    assert isinstance(m, LanguageModel)
    ident = m.identity()
    assert openai_server.base_url in ident and "model=planted" in ident and "sk-" not in ident
    assert "sk-" not in repr(m)
    assert ident != _model(openai_server, top_logprobs=5).identity()  # a value-changing option
    m.generate("hi")
    _model(openai_server, api_key="sk-arg").generate("hi")
    monkeypatch.delenv("OPENAI_API_KEY")
    _model(openai_server).generate("hi")
    assert openai_server.auth == ["Bearer sk-from-env", "Bearer sk-arg", None]


# -- values against the planted function --------------------------------------------------------------------
def test_next_token_logprobs_match_planted(openai_server):
    m = _model(openai_server, top_logprobs=5)
    prompts = [TROLLEY, " ".join(w for w in WORDS if w != "lever"), "pulling the lever", ""]
    out = m.next_token_logprobs(prompts, ["True", "False"])
    assert out.shape == (4, 2) and out.dtype == np.float64
    for row, p in zip(out, prompts, strict=True):
        ref = _logsoftmax(p)
        np.testing.assert_allclose(row, [ref["True"], ref["False"]], rtol=0, atol=1e-12)
        assert row[0] - row[1] == pytest.approx(_contrast_ref(p.split()), abs=1e-12)
    assert m.stats.bounded == 0 and openai_server.requests == 4


def test_completions_api_same_values(openai_server):
    chat = _model(openai_server, top_logprobs=5).next_token_logprobs([TROLLEY, "x y"], ["True", "False"])
    comp = _model(openai_server, api="completions", top_logprobs=5).next_token_logprobs(
        [TROLLEY, "x y"], ["True", "False"]
    )
    np.testing.assert_allclose(comp, chat, rtol=0, atol=1e-12)
    assert openai_server.by_path["/v1/completions"] == 2


def test_absent_candidate_gets_the_documented_bound(openai_server, caplog):
    m = _model(openai_server, top_logprobs=3)
    out = m.next_token_logprobs([TROLLEY], ["True", "Banana", "Maybe"])
    ref = _logsoftmax(TROLLEY)
    third = sorted(ref.values(), reverse=True)[2]
    assert out[0, 0] == pytest.approx(ref["True"], abs=1e-12)
    # absent from the top 3: the smallest returned top log-prob, an upper bound on the true value
    assert out[0, 1] == pytest.approx(third, abs=1e-12) and out[0, 2] == pytest.approx(third, abs=1e-12)
    assert ref["Maybe"] < out[0, 2]
    assert m.stats.bounded == 2 and "got the documented bound" in caplog.text
    assert np.isnan(
        _model(openai_server, top_logprobs=3, on_missing="nan").next_token_logprobs([TROLLEY], ["Maybe"])[0, 0]
    )
    with pytest.raises(EndpointError, match="'Maybe' is not among the top 3"):
        _model(openai_server, top_logprobs=3, on_missing="raise").next_token_logprobs([TROLLEY], ["Maybe"])


def test_variants_match_surrounding_whitespace(openai_server):
    ref = _logsoftmax(TROLLEY)
    loose = _model(openai_server).next_token_logprobs([TROLLEY], [" True"])
    assert loose[0, 0] == pytest.approx(ref["True"], abs=1e-12)
    strict = _model(openai_server, variants=False, top_logprobs=4)
    assert strict.next_token_logprobs([TROLLEY], [" True"])[0, 0] < ref["True"] and strict.stats.bounded == 1


def test_response_logprobs_match_planted(openai_server):
    openai_server.response = " True that"
    m = _model(openai_server, prompt_format="Q: {prompt}\nA:")
    prompts = [TROLLEY, " ".join(WORDS[:30]), ""]
    out = m.response_logprobs(prompts, " True that")
    assert len(out) == 3
    for lp, p in zip(out, prompts, strict=True):
        assert lp.shape == (2,) and lp.dtype == np.float64  # " True", " that"
        words = ("Q: " + p + "\nA:").split()
        assert lp.sum() == pytest.approx(trolley_value(words) - RESPONSE_SHIFT, abs=1e-9)
    assert openai_server.by_path["/v1/completions"] == 3 and m.stats.boundary_tokens == 0
    assert m.stats.generated_cut == 3  # the one generated token per request, cut off


def test_response_located_when_a_bos_shifts_the_offsets(openai_server):
    openai_server.bos = "<s>"  # vLLM echoes the BOS and counts its text in text_offset
    m = _model(openai_server)
    lp = m.response_logprobs([TROLLEY, ""], " True")  # with a BOS, even the empty prompt has a value
    assert [a.shape for a in lp] == [(1,), (1,)]
    assert lp[0][0] == pytest.approx(trolley_value(WORDS) - RESPONSE_SHIFT, abs=1e-9)
    assert lp[1][0] == pytest.approx(trolley_value([]) - RESPONSE_SHIFT, abs=1e-9)
    lp2 = _model(openai_server).response_logprobs(["pulling the lever"], " True")  # generated token cut off
    assert lp2[0][0] == pytest.approx(trolley_value(["pulling", "the", "lever"]) - RESPONSE_SHIFT, abs=1e-9)


def test_response_token_spanning_the_join_is_counted(openai_server):
    openai_server.response = "ue that"
    m = _model(openai_server, prompt_format="Q: {prompt} Tr")
    (lp,) = m.response_logprobs([TROLLEY], "ue that")
    # " True" holds the prompt's "Tr" and the response's "ue": it is a response token, and counted
    assert lp.shape == (2,) and lp[0] == -1.5 and m.stats.boundary_tokens == 1
    words = ("Q: " + TROLLEY + " Tr").split()
    assert lp[1] == pytest.approx(trolley_value(words) - RESPONSE_SHIFT, abs=1e-9)


def test_response_needs_text_before_it(openai_server):
    m = _model(openai_server)
    with pytest.raises(EndpointError, match="prompt_format"):
        m.response_logprobs([""], " True")


def test_response_scoring_never_asks_for_max_tokens_0(openai_server):
    # llama.cpp's server reads max_tokens=0 as "until the context is full" (modelled by the stand-in): a client
    # sending it would wait for N_CTX tokens and sum them in. The generated token must be cut off, whatever
    # the usage block says or omits.
    seen = []
    openai_server.fault_fn = lambda number, path, body: seen.append(body.get("max_tokens"))
    m = _model(openai_server, prompt_format="Q: {prompt}\nA:")
    lp = m.response_logprobs([TROLLEY, "pulling"], " True")
    assert seen == [1, 1] and [a.shape for a in lp] == [(1,), (1,)] and m.stats.generated_cut == 2
    assert lp[0].sum() == pytest.approx(trolley_value(("Q: " + TROLLEY + "\nA:").split()) - RESPONSE_SHIFT)
    # what max_tokens=0 gets from such a server: the echoed text, then the context filled with generated tokens
    body = {"model": "planted", "prompt": "Q: pulling\nA: True", "max_tokens": 0, "echo": True, "logprobs": 1}
    data = m._post("/completions", body)
    assert len(data["choices"][0]["logprobs"]["tokens"]) == N_CTX
    assert data["usage"]["completion_tokens"] == N_CTX - data["usage"]["prompt_tokens"]


def test_generated_tokens_cut_without_usage(openai_server, monkeypatch):
    # A server without a usage block: the text offsets (and, without them, the token strings) find the end.
    original = openai_server._completions

    def strip(body, fault, drop_offsets):
        out = original(body, fault)
        out.pop("usage", None)
        if drop_offsets:
            out["choices"][0]["logprobs"].pop("text_offset")
        return out

    for drop_offsets in (False, True):
        monkeypatch.setattr(openai_server, "_completions", lambda b, f, d=drop_offsets: strip(b, f, d))
        (lp,) = _model(openai_server, prompt_format="Q: {prompt}\nA:").response_logprobs(["pulling"], " True")
        assert lp.shape == (1,)
        assert lp[0] == pytest.approx(trolley_value(["Q:", "pulling", "A:"]) - RESPONSE_SHIFT, abs=1e-9)


def test_chat_template_rendered_for_completions(openai_server, caplog):
    # /completions applies no template: without chat_template= the response is scored after the plain text
    # (and a warning says so for api="chat"); with it, after the template the chat endpoint would render.
    plain = _model(openai_server)
    (lp_plain,) = plain.response_logprobs([TROLLEY], " True")
    assert lp_plain.sum() == pytest.approx(trolley_value(WORDS) - RESPONSE_SHIFT, abs=1e-9)
    assert "applies no chat template" in caplog.text
    for template in (TemplateTokenizer(), render_chat):
        m = _model(openai_server, chat_template=template, system="Be brief.")
        (lp,) = m.response_logprobs([TROLLEY], " True")
        assert lp.sum() == pytest.approx(trolley_value(WORDS) - RESPONSE_SHIFT + TEMPLATE_SHIFT, abs=1e-9)
        assert m.identity() != plain.identity() and "<|assistant|>" in m.identity()
    assert (
        _model(openai_server, chat_template=render_chat).identity()
        == _model(openai_server, chat_template=TemplateTokenizer()).identity()
    )  # the same rendering, the same values
    # api="completions" contrasts go through the rendered template too, and agree with the chat endpoint's
    comp = _model(openai_server, api="completions", chat_template=render_chat, top_logprobs=5)
    chat = _model(openai_server, top_logprobs=5)
    np.testing.assert_allclose(
        comp.next_token_logprobs([TROLLEY], ["True", "False"]), chat.next_token_logprobs([TROLLEY], ["True", "False"])
    )
    with pytest.raises(TypeError, match="chat_template"):
        _model(openai_server, chat_template="{% for m in messages %}")
    bad = _model(openai_server, chat_template=lambda messages: None)
    with pytest.raises(TypeError, match="render messages to a str"):
        bad.response_logprobs([TROLLEY], " True")


def test_generate(openai_server):
    assert _model(openai_server).generate(TROLLEY) == "True indeed"
    assert _model(openai_server, api="completions").generate(TROLLEY) == "True"


def test_duplicates_and_memo_save_requests(openai_server):
    m = _model(openai_server)
    out = m.next_token_logprobs([TROLLEY, "a b", TROLLEY, "a b"], ["True", "False"])
    assert openai_server.requests == 2 and np.array_equal(out[0], out[2])
    m.next_token_logprobs([TROLLEY, "c"], ["True", "False"])
    assert openai_server.requests == 3 and m.stats.memo_hits == 3 and m.stats.prompts == 6


def test_concurrency_is_bounded(openai_server):
    live = {"now": 0, "max": 0}
    lock = threading.Lock()

    def slow(number, path, body):
        with lock:
            live["now"] += 1
            live["max"] = max(live["max"], live["now"])
        time.sleep(0.05)
        with lock:
            live["now"] -= 1

    openai_server.fault_fn = slow
    m = _model(openai_server, max_concurrency=3)
    t0 = time.perf_counter()
    m.next_token_logprobs([f"prompt {i}" for i in range(12)], ["True", "False"])
    assert 1 < live["max"] <= 3
    assert time.perf_counter() - t0 < 12 * 0.05  # really concurrent
    m.close()


def test_pickle_round_trip(openai_server):
    m = _model(openai_server)
    m.next_token_logprobs(["a", "b"], ["True", "False"])
    m2 = pickle.loads(pickle.dumps(m))
    assert m2.identity() == m.identity()
    np.testing.assert_allclose(m2.next_token_logprobs(["a"], ["True"]), m.next_token_logprobs(["a"], ["True"]))


# -- faults ---------------------------------------------------------------------------------------------
def test_429_then_success_is_retried_and_counted(openai_server):
    openai_server.faults = [429, 429]
    m = _model(openai_server)
    out = m.next_token_logprobs([TROLLEY], ["True", "False"])
    assert out[0, 0] - out[0, 1] == pytest.approx(_contrast_ref(WORDS))
    assert m.stats.retries == 2 and m.stats.by_status == {"429": 2, "200": 1} and m.stats.requests == 3


def test_retry_after_is_honoured(openai_server, monkeypatch):
    openai_server.faults = [429]
    monkeypatch.setattr("fake_openai_server.RETRY_AFTER", "0.25")
    m = _model(openai_server)
    t0 = time.perf_counter()
    m.generate("x")
    assert time.perf_counter() - t0 >= 0.25 and m.stats.wait_s == pytest.approx(0.25)


def test_persistent_500_raises_value_function_error(openai_server):
    openai_server.faults = [500] * 10
    m = _model(openai_server, max_retries=2)
    with pytest.raises(ValueFunctionError, match=r"failed after 3 attempts: HTTP 500: planted 500"):
        m.next_token_logprobs([TROLLEY], ["True", "False"])
    assert m.stats.failures == 1 and m.stats.requests == 3 and openai_server.requests == 3


def test_hung_request_times_out_and_is_retried(openai_server):
    openai_server.faults = ["hang"]
    m = _model(openai_server, timeout=0.3)
    t0 = time.perf_counter()
    out = m.next_token_logprobs([TROLLEY], ["True", "False"])
    assert time.perf_counter() - t0 < 3.0
    assert out[0, 0] - out[0, 1] == pytest.approx(_contrast_ref(WORDS))
    assert m.stats.timeouts == 1 and m.stats.retries == 1


def test_always_hanging_server_gives_up_in_bounded_time(openai_server):
    openai_server.faults = ["hang"] * 3
    m = _model(openai_server, timeout=0.2, max_retries=2)
    t0 = time.perf_counter()
    with pytest.raises(EndpointError, match="no answer within timeout=0.2 s"):
        m.next_token_logprobs([TROLLEY], ["True"])
    assert time.perf_counter() - t0 < 3.0 and m.stats.timeouts == 3


def test_missing_logprobs_named(openai_server):
    openai_server.faults = ["nologprobs"]
    with pytest.raises(EndpointUnsupportedError, match="returned no 'logprobs' for /chat/completions"):
        _model(openai_server).next_token_logprobs([TROLLEY], ["True"])
    openai_server.faults = ["nologprobs"]
    with pytest.raises(EndpointUnsupportedError, match=r"echo=true.*use contrast= .*instead"):
        _model(openai_server, prompt_format="Q: {prompt}").response_logprobs([TROLLEY], " True")


def test_server_ignoring_echo_named(openai_server):
    openai_server.faults = ["noecho"]
    with pytest.raises(EndpointUnsupportedError, match=r"did not echo the prompt.*use contrast= instead"):
        _model(openai_server, prompt_format="Q: {prompt}").response_logprobs([TROLLEY], " True")


def test_redirect_not_followed(openai_server):
    openai_server.faults = ["redirect"]
    with pytest.raises(EndpointError, match="redirects are not followed"):
        _model(openai_server).next_token_logprobs([TROLLEY], ["True"])
    assert openai_server.requests == 1


def test_dropped_keep_alive_connection_is_reopened_not_retried(openai_server):
    openai_server.fault_fn = lambda number, path, body: "drop_after"
    m = _model(openai_server, max_concurrency=1)
    out = m.next_token_logprobs([f"p{i}" for i in range(5)], ["True", "False"])
    assert np.all(np.isfinite(out)) and m.stats.retries == 0 and openai_server.requests == 5


def test_client_error_not_retried(openai_server):
    m = OpenAICompatible(openai_server.base_url, "no-such-model", **FAST)
    with pytest.raises(EndpointError, match="HTTP 404: model 'no-such-model' not found"):
        m.generate("x")
    assert openai_server.requests == 1


def test_connection_refused_is_retried_then_named():
    srv = FakeOpenAIServer().start()
    url = srv.base_url
    srv.stop()  # nothing listens on that port now
    m = OpenAICompatible(url, "planted", backoff=0.0, timeout=1.0, max_retries=1)
    with pytest.raises(EndpointError, match="failed after 2 attempts: connection error"):
        m.generate("x")


# -- through the query runner: nothing finished is lost ------------------------------------------------------
class _Words:
    """A minimal word-ablation value function (PromptTask does the same with more options)."""

    def __init__(self, backend: OpenAICompatible):
        self.backend = backend
        self.n = len(WORDS)

    def __call__(self, masks):
        prompts = [" ".join(w for w, k in zip(WORDS, row, strict=True) if k) for row in np.asarray(masks)]
        lp = self.backend.next_token_logprobs(prompts, ["True", "False"])
        return lp[:, 0] - lp[:, 1]


def test_cache_resume_pays_only_unfinished_rows(openai_server, tmp_path):
    masks = np.random.default_rng(0).random((64, len(WORDS))) < 0.5
    cache = tmp_path / "q.sqlite"
    # Every request after the 20th fails: batches 1-2 (16 rows) finish, batch 3 dies after its retries.
    openai_server.fault_fn = lambda number, path, body: 500 if number > 20 else None
    vf = _Words(_model(openai_server, max_retries=1, max_concurrency=4))
    with QueryRunner(
        vf, len(WORDS), batch_size=8, cache=cache, fingerprint="trolley", max_retries=1, retry_backoff=0
    ) as r:
        with pytest.raises(ValueFunctionError, match="HTTP 500"):
            r.evaluate(masks)
        finished = r.evaluated
    assert finished >= 16
    paid_before = openai_server.requests
    openai_server.fault_fn = None
    vf2 = _Words(_model(openai_server))
    with QueryRunner(vf2, len(WORDS), batch_size=8, cache=cache, fingerprint="trolley") as r:
        values = r.evaluate(masks)
        assert r.cache_hits == finished and r.evaluated == 64 - finished
    assert openai_server.requests - paid_before == 64 - finished  # the rerun pays only unfinished rows
    ref = [_contrast_ref([w for w, k in zip(WORDS, row, strict=True) if k]) for row in masks]
    np.testing.assert_allclose(values, ref, rtol=0, atol=1e-12)


def test_runner_batch_retry_does_not_repay_finished_prompts(openai_server):
    # Request 5 fails for good inside a batch of 8: the runner's batch retry re-asks only that prompt.
    openai_server.fault_fn = lambda number, path, body: 500 if number == 5 else None
    masks = np.random.default_rng(1).random((8, len(WORDS))) < 0.5
    vf = _Words(_model(openai_server, max_retries=0, max_concurrency=1))
    r = QueryRunner(vf, len(WORDS), max_retries=1, retry_backoff=0)
    r.evaluate(masks)
    assert r.retries == 1 and openai_server.requests == 9  # 8 prompts + the one retried



def test_default_retries_step_aside_for_a_retrying_runner(openai_server):
    """max_retries=None: under a QueryRunner that retries batches, a failed request goes up at once (one retry
    loop, not two multiplied), even from the backend's worker threads; called directly it retries itself."""
    openai_server.fault_fn = lambda number, path, body: 500 if number == 5 else None
    masks = np.random.default_rng(1).random((8, len(WORDS))) < 0.5
    m = _model(openai_server, max_retries=None, max_concurrency=4)
    r = QueryRunner(_Words(m), len(WORDS), max_retries=1, retry_backoff=0)
    r.evaluate(masks)
    assert r.retries == 1 and m.stats.retries == 0 and m.stats.failures == 1
    assert openai_server.requests == 9  # 8 prompts + the one that failed once
    # no retrying runner around it: the backend's own retries (4 by default)
    openai_server.fault_fn = lambda number, path, body: 500 if number == 10 else None
    m2 = _model(openai_server, max_retries=None)
    m2.next_token_logprobs(["a fresh prompt"], ["True"])
    assert m2.stats.retries == 1 and m2.stats.failures == 0

# -- spex recovers the planted interaction ---------------------------------------------------------------
def _check_top(result, server):
    (support, coeff), *_ = result.top(5, index="Moebius")
    assert support == QUAD
    assert coeff == pytest.approx(PLANTED_TOP, rel=0.02)
    assert server.requests <= result.queries


def test_spex_recovers_planted_four_word_interaction_contrast(openai_server):
    from spexjax import spex

    pytest.importorskip("spexjax.llm.task", reason="PromptTask not in this tree yet")
    from spexjax.llm.task import PromptTask

    task = PromptTask(_model(openai_server, max_concurrency=8), TROLLEY, contrast=("True", "False"))
    assert task.n == len(WORDS) and task.feature_names == WORDS
    res = spex(task, task.n, budget=1000, max_degree=4, key=0)
    _check_top(res, openai_server)


def test_spex_recovers_planted_four_word_interaction_response(openai_server):
    from spexjax import spex

    pytest.importorskip("spexjax.llm.task", reason="PromptTask not in this tree yet")
    from spexjax.llm.task import PromptTask

    openai_server.response = " True"
    m = _model(openai_server, prompt_format="Q: {prompt}\nA:", max_concurrency=8)
    task = PromptTask(m, TROLLEY, response=" True")
    res = spex(task, task.n, budget=1000, max_degree=4, key=1)
    _check_top(res, openai_server)


def test_spex_killed_by_endpoint_faults_resumes_from_cache(openai_server, tmp_path):
    from spexjax import spex

    pytest.importorskip("spexjax.llm.task", reason="PromptTask not in this tree yet")
    from spexjax.llm.task import PromptTask

    cache = tmp_path / "trolley.sqlite"
    opts = dict(budget=1000, max_degree=4, key=0, cache=cache, batch_size=64, max_retries=0)
    openai_server.fault_fn = lambda number, path, body: 500 if number > 300 else None
    task = PromptTask(_model(openai_server, max_retries=1), TROLLEY, contrast=("True", "False"))
    with pytest.raises(ValueFunctionError, match="HTTP 500"):
        spex(task, task.n, **opts)
    openai_server.fault_fn = None
    before = openai_server.requests
    task = PromptTask(_model(openai_server), TROLLEY, contrast=("True", "False"))  # a new process, in effect
    res = spex(task, task.n, **opts)
    hits, evaluated = res.meta["cache_hits"], res.meta["evaluated"]
    assert hits >= 256 and hits + evaluated == res.queries  # whole finished batches came from the cache
    assert openai_server.requests - before <= evaluated  # the rerun paid only for rows not finished
    (support, coeff), *_ = res.top(1, index="Moebius")
    assert support == QUAD and coeff == pytest.approx(PLANTED_TOP, rel=0.02)
