"""A local OpenAI-compatible server for the endpoint tests: real HTTP on 127.0.0.1, threads, stops by itself.

It plants a known function of the prompt's words in its log-probs:

- ``/chat/completions`` (and ``/completions`` with ``max_tokens >= 1``): next-token logits over a small
  vocabulary, with ``logit("True") - logit("False") = value(prompt words)`` exactly, so the contrast
  ``log p(True) - log p(False)`` is the planted value.
- ``/completions`` with ``echo``: the text is split into whitespace-led tokens (offsets in characters, first
  token's log-prob ``null`` as OpenAI does); when the text ends with ``server.response`` its tokens'
  log-probs sum to ``value(prompt words) - RESPONSE_SHIFT``, plus ``TEMPLATE_SHIFT`` when the text before
  the response is this server's chat template (:func:`render_chat`) rendered around the prompt.

What llama.cpp's server (llama-cpp-python 0.3, tests/llm/test_openai_real_server.py) taught, modelled here:

- ``max_tokens=0`` (or a negative value) means "generate until the context is full" (``N_CTX`` tokens in
  all), not "generate nothing": the filler tokens and their log-probs come back after the echoed text.
  (With ``max_tokens >= 1`` the stand-in generates one token and then ends, as if the model said EOS.)
- ``/completions`` applies no chat template: it scores exactly the text sent. ``/chat/completions`` renders
  :func:`render_chat` on the server; a client scoring a response after the same text must render it itself
  (:class:`TemplateTokenizer` offers it the way a ``transformers`` tokenizer does).

``server.faults`` is a list consumed one request at a time (``None`` = answer normally): ``429``, ``500``,
``"hang"`` (never answer; the client must time out), ``"nologprobs"`` (a 200 without ``logprobs``), ``"noecho"``,
``"redirect"``, ``"drop_after"`` (answer, then drop the keep-alive connection);
``server.fault_fn(number, path, body)`` can return one too. The ``openai_server`` fixture (conftest.py) starts
one per test; this module has a unique name so tests anywhere can import it.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

RESPONSE_SHIFT = 40.0
TEMPLATE_SHIFT = 3.0  # added to a response's log-prob when it follows the rendered chat template
N_CTX = 256  # the context size that max_tokens=0 fills
FILLER = (" and", -0.7)  # the token generated to fill the context, and its log-prob
RETRY_AFTER = "0"  # the Retry-After header sent with a planted 429
VOCAB_BASE = {"The": 1.0, "I": 0.5, "Yes": -1.0, "No": -1.3, "It": -2.0, "A": -2.5, "Maybe": -9.0}

# The SPEX paper's modified trolley problem; "trolley" twice, "pulling" and "lever" once each as whole words.
TROLLEY = (
    "A runaway trolley is heading away from five people who are tied to the track and cannot move. "
    "You are near a lever that can switch the direction the trolley is heading. Note that pulling it "
    "may cause you physical strain, as you haven't yet stretched. True or False: You should not pull the switch."
)


def trolley_value(words: list[str]) -> float:
    """The planted function of a word list: one 4-word interaction and a few lower-order terms.

    Möbius terms over word positions: {trolley, trolley, pulling, lever}: 2.5; {pulling}: 0.6; {lever}: 0.45;
    {not}: -0.9; each "trolley": 0.3; {strain, stretched.}: 0.7; constant 0.2.
    """
    c = Counter(words)
    has = lambda w: 1.0 if c[w] >= 1 else 0.0  # noqa: E731
    both = 1.0 if c["trolley"] >= 2 else 0.0
    return (
        0.2
        + 2.5 * both * has("pulling") * has("lever")
        + 0.6 * has("pulling")
        + 0.45 * has("lever")
        - 0.9 * has("not")
        + 0.3 * c["trolley"]
        + 0.7 * has("strain,") * has("stretched.")
    )


PLANTED_TOP = 2.5  # the Möbius coefficient of {trolley, trolley, pulling, lever}

GENERATION_PROMPT = "<|assistant|>\n"


def render_chat(messages: list[dict[str, str]]) -> str:
    """This server's chat template: ``<|role|>`` line, content line, ``<|end|>`` line; then the generation prompt.

    Every marker stands on its own line, so the words of the rendered text are the messages' words plus markers
    (which the planted function ignores).
    """
    return "".join(f"<|{m['role']}|>\n{m['content']}\n<|end|>\n" for m in messages) + GENERATION_PROMPT


class TemplateTokenizer:
    """Stands in for a ``transformers`` tokenizer where only its chat template is used."""

    def apply_chat_template(self, messages, tokenize=False, add_generation_prompt=False):
        assert tokenize is False and add_generation_prompt is True
        return render_chat(messages)


def _tokens(text: str) -> list[tuple[str, int]]:
    # A newline is a token of its own (as in byte-level BPE), so a response after "...\n" starts a token.
    toks = [(m.group(), m.start()) for m in re.finditer(r"\n|[^\S\n]*\S+", text)]
    end = toks[-1][1] + len(toks[-1][0]) if toks else 0
    if end < len(text):
        toks.append((text[end:], end))
    return toks


class FakeOpenAIServer:
    def __init__(self, value: Callable[[list[str]], float] = trolley_value, response: str = " True"):
        self.value = value
        self.response = response
        self.bos: str | None = None  # e.g. "<s>": echo starts with it, as vLLM's does for Llama tokenizers
        self.prefix = ""  # stripped from the text before its words are read (a prompt_format's fixed head)
        self.faults: list[Any] = []
        self.fault_fn: Callable[[int, str, dict], Any] | None = None
        self.requests = 0
        self.by_path: Counter[str] = Counter()
        self.auth: list[str | None] = []
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes; no 40 ms delayed-ACK stall

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with outer.lock:
                    outer.requests += 1
                    number = outer.requests
                    outer.by_path[self.path] += 1
                    outer.auth.append(self.headers.get("Authorization"))
                    fault = outer.faults.pop(0) if outer.faults else None
                if fault is None and outer.fault_fn is not None:
                    fault = outer.fault_fn(number, self.path, body)
                outer._answer(self, body, fault)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def start(self) -> FakeOpenAIServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    # -- answers -----------------------------------------------------------------------------------
    def words(self, text: str) -> list[str]:
        if self.prefix and text.startswith(self.prefix):
            text = text[len(self.prefix) :]
        return text.split()

    def _send(self, h: BaseHTTPRequestHandler, status: int, payload: Any, headers: dict | None = None) -> None:
        raw = json.dumps(payload).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(raw)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(raw)

    def _answer(self, h: BaseHTTPRequestHandler, body: dict, fault: Any) -> None:
        if fault == "hang":
            self.stop_event.wait(10.0)  # the client times out long before; the thread ends at stop()
            h.close_connection = True
            return
        if fault in (429, 500, 503):
            headers = {"Retry-After": RETRY_AFTER} if fault == 429 else {}
            self._send(h, fault, {"error": {"message": f"planted {fault}"}}, headers)
            return
        if fault == "redirect":
            h.send_response(307)
            h.send_header("Location", "http://example.com/v1/completions")
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        if fault == "drop_after":  # answer, then close the connection without saying so (idle keep-alive)
            h.close_connection = True
        if body.get("model") != "planted":
            self._send(h, 404, {"error": {"message": f"model {body.get('model')!r} not found"}})
            return
        if h.path == "/v1/chat/completions":
            self._send(h, 200, self._chat(body, fault))
        elif h.path == "/v1/completions":
            self._send(h, 200, self._completions(body, fault))
        else:
            self._send(h, 404, {"error": {"message": "no such route"}})

    def _next_logprobs(self, text: str) -> list[tuple[str, float]]:
        logits = {**VOCAB_BASE, "True": self.value(self.words(text)), "False": 0.0}
        top = max(logits.values())
        lse = top + math.log(sum(math.exp(v - top) for v in logits.values()))
        return sorted(((t, v - lse) for t, v in logits.items()), key=lambda tv: -tv[1])

    def _chat(self, body: dict, fault: Any) -> dict:
        text = body["messages"][-1]["content"]
        ranked = self._next_logprobs(text)
        choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": ranked[0][0] + " indeed"}}
        if body.get("logprobs") and fault != "nologprobs":
            k = int(body.get("top_logprobs") or 0)
            entry = {
                "token": ranked[0][0],
                "logprob": ranked[0][1],
                "top_logprobs": [{"token": t, "logprob": v} for t, v in ranked[:k]],
            }
            choice["logprobs"] = {"content": [entry]}
        else:
            choice["logprobs"] = None
        return {"object": "chat.completion", "model": body["model"], "choices": [choice]}

    def _completions(self, body: dict, fault: Any) -> dict:
        text = body["prompt"]
        max_tokens = int(body.get("max_tokens", 16))
        out = {"object": "text_completion", "model": body["model"]}
        ranked = self._next_logprobs(text)
        if fault == "nologprobs" or not body.get("logprobs"):
            n_gen = 1 if max_tokens >= 1 else max(1, N_CTX - len(_tokens(text)))
            gen = ranked[0][0] + FILLER[0] * (n_gen - 1)
            out["choices"] = [{"index": 0, "text": (text if body.get("echo") else "") + gen, "logprobs": None}]
            return out
        tokens, offsets, lps = [], [], []
        echo = body.get("echo") and fault != "noecho"
        if echo:
            toks = _tokens(text)
            cut = len(text) - len(self.response) if text.endswith(self.response) else None
            resp = [i for i, (_, off) in enumerate(toks) if cut is not None and off >= cut]
            templated = cut is not None and text[:cut].endswith(GENERATION_PROMPT)
            total = self.value(self.words(text[:cut])) - RESPONSE_SHIFT + (TEMPLATE_SHIFT if templated else 0.0)
            share = total / len(resp) if resp else 0.0
            if self.bos is not None:  # as vLLM: a BOS token first; offsets are running lengths of token strings
                tokens.append(self.bos)
                lps.append(None)
            for i, (tok, _) in enumerate(toks):
                tokens.append(tok)
                lps.append(None if i == 0 and self.bos is None else (share if i in resp else -1.5))
            offsets = [sum(len(t) for t in tokens[:j]) for j in range(len(tokens))]
        n_prompt = len(tokens) if echo else len(_tokens(text))
        # One token, then an end of sequence; max_tokens <= 0: until the context is full (llama.cpp's server).
        n_gen = 1 if max_tokens >= 1 else max(1, N_CTX - n_prompt)
        generated = [(ranked[0][0], ranked[0][1])] + [FILLER] * (n_gen - 1)
        k = int(body.get("logprobs") or 0)
        tops = [None if v is None else {t: v} for t, v in zip(tokens, lps, strict=True)]
        at = sum(len(t) for t in tokens) if echo else len(text)
        for i, (tok, value) in enumerate(generated):
            offsets.append(at)
            at += len(tok)
            tokens.append(tok)
            lps.append(value)
            tops.append(dict(ranked[:k]) if i == 0 else {tok: value})
        gen = "".join(tok for tok, _ in generated)
        out["usage"] = {"prompt_tokens": n_prompt, "completion_tokens": len(generated)}
        out["choices"] = [
            {
                "index": 0,
                "text": (text if echo else "") + gen,
                "logprobs": {"tokens": tokens, "token_logprobs": lps, "text_offset": offsets, "top_logprobs": tops},
            }
        ]
        return out
