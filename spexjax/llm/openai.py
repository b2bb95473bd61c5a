"""A language model behind an OpenAI-compatible HTTP endpoint (vLLM, llama.cpp's server, OpenAI, ...).

This module maps the OpenAI protocol (request bodies, log-prob answers, echo alignment); the HTTP itself is
:mod:`spexjax.llm.openai_transport` (``http.client`` only: one keep-alive connection per worker thread, no
proxies from the environment, no redirects followed, so nothing is ever sent to a host other than
``base_url``'s). Three things are asked of the server:

- next-token log-probs: ``POST {base_url}/chat/completions`` (or ``/completions`` with ``api="completions"``)
  with ``logprobs``/``top_logprobs=K`` and ``max_tokens=1``. A server returns only the top ``K`` tokens, so a
  candidate that is not among them gets an **upper bound**: the smallest returned top log-prob (its true
  log-prob is at most that). Every bounded value is counted in ``stats.bounded``; ``on_missing="nan"`` or
  ``"raise"`` refuse instead. It is never a silent constant like -100.
- response scoring: ``POST {base_url}/completions`` with ``echo=true``, ``logprobs=1`` and ``max_tokens=1``:
  the prompt + response come back as tokens, followed by the one generated token, which is cut off (by
  ``usage.completion_tokens``, else by the tokens' text offsets, checked against the text sent) so that only
  the response's tokens are summed. ``max_tokens=0`` is never sent: llama.cpp's server (llama-cpp-python
  0.3) reads it as "generate until the context is full", which either times out or sums the generated text
  in. ``/completions`` applies no chat template, so for a chat model pass ``chat_template=`` (a tokenizer
  with ``apply_chat_template``, e.g. ``transformers.AutoTokenizer.from_pretrained(folder, gguf_file=...)``,
  or a callable ``messages -> text``): the template is then rendered here, the way ``/chat/completions``
  renders it on the server and the way :class:`~spexjax.llm.HuggingFaceLM` renders it locally, so the
  response is scored after the same text. A server without echo or log-probs gets a clear
  :class:`EndpointUnsupportedError`.
- ``generate``: a greedy (temperature 0) chat completion.

What each server needs (llama.cpp's is tested here: ``tests/llm/test_openai_real_server.py``; vLLM and OpenAI
by protocol only):

- llama.cpp through llama-cpp-python: ``python -m llama_cpp.server --model M.gguf --logits_all true``
  (without ``logits_all`` no log-probs come back). Contrasts through ``/chat/completions`` use the GGUF's
  own chat template on the server. Response scoring needs ``chat_template=`` for a chat model; the server
  also aligns echoed log-probs correctly only when the tokenised prompt starts with the model's BOS token,
  which a chat template beginning with it provides (ChatML's ``<|im_start|>`` is SmolLM2's BOS). Without it
  every echoed log-prob is one position off (plain ``"Question: ...\nAnswer: False"``: -7.07 for " False"
  where the float32 model gives -1.32), so score plain text there only after a BOS. Each echoed token costs
  that server a sort of the vocabulary in Python: seconds per scoring request (not per token generated).
- vLLM: ``/completions`` with ``echo`` and ``logprobs`` works as described (it echoes a BOS token, located
  by the token strings); contrasts need ``--max-logprobs`` >= ``top_logprobs``.
- OpenAI: chat models return ``top_logprobs`` (at most 20), so contrasts work; ``/completions`` with echo
  and log-probs is not offered for current models, so response scoring raises
  :class:`EndpointUnsupportedError`: use ``contrast=``.

Requests of one call run concurrently (a bounded thread pool, ``max_concurrency``); each request is retried
with exponential backoff on 408/409/429/5xx, timeouts and dropped connections (``max_retries``; by default
not when a query runner that retries whole batches is the caller: the two would multiply), honouring
``Retry-After``; all of it is counted in :class:`EndpointStats`. The final failure raises
:class:`EndpointError` (a :class:`~spexjax.errors.ValueFunctionError`), which the engine's query runner
reports with the rows it concerned (and, like any error, retries as a whole batch first). Answers already
received are memoised by prompt text, so a retried batch pays only for the prompts that had not finished,
and identical ablated prompts (removing either of two equal words) cost one request.
"""

from __future__ import annotations

import contextvars
import json
import logging
import math
import os
import threading
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any

import numpy as np

from spexjax.llm.openai_transport import (
    EndpointError,
    EndpointStats,
    EndpointUnsupportedError,
    HTTPTransport,
    check_base_url,
)

__all__ = ["EndpointError", "EndpointStats", "EndpointUnsupportedError", "OpenAICompatible"]

log = logging.getLogger("spexjax.llm")

_API_CHOICES = ("chat", "completions")
_ON_MISSING = ("bound", "nan", "raise")
_TEMPLATE_PROBE = "\x00{prompt}\x00"
# Tokens generated after an echoed text (then cut off). Never 0: llama.cpp's server reads 0 as "until the
# context is full"; vLLM accepts 0 with echo, but 1 works on both and costs one decode step.
_SCORE_MAX_TOKENS = 1


def _positive(name: str, value: Any, *, integer: bool = False, zero_ok: bool = False) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer) if integer else (int, float, np.number)):
        kind = "an int" if integer else "a number"
        raise TypeError(f"{name} must be {kind}; got {type(value).__name__}")
    v = int(value) if integer else float(value)
    if not math.isfinite(v) or v < 0 or (v == 0 and not zero_ok):
        raise ValueError(f"{name} must be {'>= 0' if zero_ok else '> 0'}; got {value!r}")
    return v


def _logsumexp(values: Sequence[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


class OpenAICompatible:
    """A causal LM served over the OpenAI HTTP protocol; satisfies :class:`spexjax.llm.LanguageModel`.

    Args:
      base_url: the API root, e.g. ``"http://127.0.0.1:8000/v1"`` (vLLM, llama.cpp) or
        ``"https://api.openai.com/v1"``; ``http``/``https`` only. Requests go to this host and nowhere else.
      model: the model name the server expects in ``"model"``.
      api_key: sent as ``Authorization: Bearer ...``; default ``$OPENAI_API_KEY``; none for local servers.

    Options:
      api: ``"chat"`` (default: next-token log-probs and ``generate`` through ``/chat/completions``, the
        server applies the model's chat template) or ``"completions"`` (raw text through ``/completions``,
        for base models). Response scoring always uses ``/completions`` with ``echo``.
      prompt_format: ``"{prompt}"`` (default) or a template with one ``{prompt}``, e.g.
        ``"Question: {prompt}\\nAnswer:"``; applied to every prompt before it is sent. Scoring a response
        needs some text before it: with an empty formatted prompt the first response token has no log-prob.
      system: a system message for ``api="chat"`` (and for ``chat_template=``).
      chat_template: ``None`` (default: ``/completions`` gets the formatted prompt as plain text), a tokenizer
        with ``apply_chat_template`` (``transformers``: rendered with ``tokenize=False,
        add_generation_prompt=True``) or a callable ``messages -> str``. When given, every ``/completions``
        request (response scoring, and next-token log-probs with ``api="completions"``) sends the rendered
        template: the user message is the formatted prompt, preceded by ``system`` when set. Use the model's
        own template (a chat model's ``/chat/completions`` applies it on the server) so a response is scored
        after the text the model sees in a chat, as :class:`~spexjax.llm.HuggingFaceLM` does locally.
      top_logprobs: ``K``, how many top tokens the server returns per position (default 20, OpenAI's most).
      variants: ``True`` (default): a candidate matches every returned token equal to it up to surrounding
        whitespace (``"True"`` and ``" True"``) and gets the log of their summed probabilities; ``False``:
        exact token text only. Candidates are compared with token strings, so pass the first token's text of
        a word the model splits.
      on_missing: what a candidate absent from the top ``K`` gets: ``"bound"`` (default: the smallest
        returned top log-prob, an upper bound on its true log-prob; counted in ``stats.bounded``), ``"nan"``
        (the query runner's ``on_nonfinite`` decides) or ``"raise"``.
      max_concurrency: requests in flight at once (default 8).
      timeout: seconds one request may take before it is retried (default 60).
      max_retries: extra attempts per request on 408/409/429/5xx, timeouts and connection errors (default
        ``None``: 4, or none while a :class:`~spexjax.runs.QueryRunner` that retries failed batches calls this
        backend in its own thread; see :mod:`spexjax.llm.openai_transport`).
      backoff: first wait in seconds, doubled per attempt (default 0.5); a ``Retry-After`` header wins (<= 60 s).
      seed: sent as ``"seed"`` (servers that honour it make greedy decoding reproducible).
      extra_body: a dict merged into every request body (server-specific fields).
      memo_size: answers kept in memory by prompt text (default 100000; 0 turns the memo off).

    Attributes:
      stats: an :class:`EndpointStats`.
    """

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None, **options: Any):
        parts = check_base_url(base_url)
        if not isinstance(model, str) or not model.strip():
            raise TypeError(f"model must be a non-empty str (the name the server serves); got {model!r}")
        if api_key is not None and not isinstance(api_key, str):
            raise TypeError(f"api_key must be a str or None; got {type(api_key).__name__}")
        known = {
            "api": "chat",
            "prompt_format": "{prompt}",
            "system": None,
            "chat_template": None,
            "top_logprobs": 20,
            "variants": True,
            "on_missing": "bound",
            "max_concurrency": 8,
            "timeout": 60.0,
            "max_retries": None,
            "backoff": 0.5,
            "seed": None,
            "extra_body": None,
            "memo_size": 100_000,
        }
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise TypeError(f"OpenAICompatible got unknown option(s) {unknown}; known: {sorted(known)}")
        opts = {**known, **options}
        if opts["api"] not in _API_CHOICES:
            raise ValueError(f"api must be one of {_API_CHOICES}; got {opts['api']!r}")
        fmt = opts["prompt_format"]
        if not isinstance(fmt, str) or fmt.count("{prompt}") != 1:
            raise ValueError(f"prompt_format must be a str with exactly one '{{prompt}}'; got {fmt!r}")
        if opts["system"] is not None and not isinstance(opts["system"], str):
            raise TypeError(f"system must be a str or None; got {type(opts['system']).__name__}")
        template = opts["chat_template"]
        if template is not None and not (
            callable(getattr(template, "apply_chat_template", None)) or callable(template)
        ):
            raise TypeError(
                "chat_template must be None, a tokenizer with apply_chat_template (e.g. transformers.AutoTokenizer) "
                f"or a callable messages -> str; got {type(template).__name__}"
            )
        if opts["on_missing"] not in _ON_MISSING:
            raise ValueError(f"on_missing must be one of {_ON_MISSING}; got {opts['on_missing']!r}")
        if not isinstance(opts["variants"], bool):
            raise TypeError(f"variants must be a bool; got {type(opts['variants']).__name__}")
        if opts["extra_body"] is not None and not isinstance(opts["extra_body"], dict):
            raise TypeError(f"extra_body must be a dict or None; got {type(opts['extra_body']).__name__}")
        if opts["seed"] is not None and (isinstance(opts["seed"], bool) or not isinstance(opts["seed"], int)):
            raise TypeError(f"seed must be an int or None; got {type(opts['seed']).__name__}")

        self.base_url = urllib.parse.urlunsplit(parts._replace(path=parts.path.rstrip("/")))
        self.model = model
        self.api: str = opts["api"]
        self.prompt_format: str = fmt
        self.system: str | None = opts["system"]
        self.chat_template: Any = template
        self.top_logprobs: int = _positive("top_logprobs", opts["top_logprobs"], integer=True)
        self.variants: bool = opts["variants"]
        self.on_missing: str = opts["on_missing"]
        self.max_concurrency: int = _positive("max_concurrency", opts["max_concurrency"], integer=True)
        self.timeout: float = _positive("timeout", opts["timeout"])
        self.max_retries: int | None = (
            None if opts["max_retries"] is None
            else _positive("max_retries", opts["max_retries"], integer=True, zero_ok=True)
        )
        self.backoff: float = _positive("backoff", opts["backoff"], zero_ok=True)
        self.seed: int | None = opts["seed"]
        self.extra_body: dict[str, Any] = dict(opts["extra_body"] or {})
        self.memo_size: int = _positive("memo_size", opts["memo_size"], integer=True, zero_ok=True)
        self._api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY") or None

        self.stats = EndpointStats()
        self._transport = HTTPTransport(self.base_url, api_key=self._api_key, timeout=self.timeout,
                                        max_retries=self.max_retries, backoff=self.backoff, stats=self.stats)
        self._setup_runtime()

    # -- runtime state (rebuilt after unpickling: a process executor ships the backend to workers) --------
    def _setup_runtime(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._memo: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._memo_lock = threading.Lock()
        self._warned_plain = False

    def __getstate__(self) -> dict[str, Any]:
        drop = {"_pool", "_pool_lock", "_memo", "_memo_lock"}
        return {k: v for k, v in vars(self).items() if k not in drop}

    def __setstate__(self, state: dict[str, Any]) -> None:
        vars(self).update(state)
        self._setup_runtime()

    def close(self) -> None:
        """Stop the worker threads (they also stop when the object is collected)."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> OpenAICompatible:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"OpenAICompatible({self.base_url!r}, {self.model!r}, api={self.api!r})"

    # -- LanguageModel protocol ----------------------------------------------------------------------
    def identity(self) -> str:
        """Endpoint + model name + every option that changes a value (never the API key)."""
        opts = {
            "api": self.api,
            "prompt_format": self.prompt_format,
            "system": self.system,
            "top_logprobs": self.top_logprobs,
            "variants": self.variants,
            "on_missing": self.on_missing,
            "seed": self.seed,
            "extra_body": self.extra_body,
        }
        if self.chat_template is not None:
            # What the template makes of a stand-in prompt: two templates that render it alike give the same
            # values; the key is absent without a template, so identities (cache keys) made before it stay.
            opts["chat_template"] = self._render(_TEMPLATE_PROBE)
        return f"openai-compatible:{self.base_url}|model={self.model}|" + json.dumps(opts, sort_keys=True)

    def next_token_logprobs(self, prompts: Sequence[str], candidates: Sequence[str]) -> np.ndarray:
        """``float64[len(prompts), len(candidates)]``: log p(candidate token | prompt) at the first position.

        A candidate absent from the server's top ``top_logprobs`` tokens gets the smallest returned top
        log-prob (an upper bound on its true value; counted in ``stats.bounded``) unless ``on_missing`` says
        otherwise. A contrast ``log p(a) - log p(b)`` with a bounded ``b`` is therefore a lower bound.
        """
        prompts = self._check_prompts(prompts)
        if isinstance(candidates, str) or not isinstance(candidates, Sequence) or not candidates:
            raise TypeError("candidates must be a non-empty sequence of str (token texts)")
        for c in candidates:
            if not isinstance(c, str) or not c.strip():
                raise ValueError(f"candidates must be non-empty, non-blank strings; got {c!r}")
        texts = [self._format(p) for p in prompts]
        tops = self._map("next", texts, self._top_one)
        out = np.empty((len(prompts), len(candidates)), dtype=np.float64)
        bounded = 0
        for i, top in enumerate(tops):
            for j, cand in enumerate(candidates):
                value, was_bounded = self._candidate_logprob(top, cand, texts[i])
                out[i, j] = value
                bounded += was_bounded
        if bounded:
            if not self.stats.bounded:
                log.warning(
                    "%s: %d candidate log-prob(s) were not among the top %d tokens and got the documented bound "
                    "(on_missing=%r); stats.bounded counts them. Raise top_logprobs if the server allows.",
                    self,
                    bounded,
                    self.top_logprobs,
                    self.on_missing,
                )
            self.stats.add(bounded=bounded)
        return out

    def response_logprobs(self, prompts: Sequence[str], response: str) -> list[np.ndarray]:
        """Log-probs of the response's tokens after each (formatted) prompt, by ``/completions`` with echo.

        The server tokenises ``text + response`` as one text, where ``text`` is the formatted prompt, or the
        chat template rendered around it with ``chat_template=``; the tokens that end after the text's last
        character are the response's (a token spanning the join counts as a response token and is counted in
        ``stats.boundary_tokens``), so arrays may differ in length from prompt to prompt. The one token the
        server generates after it (``max_tokens=1``) is cut off (``stats.generated_cut``).
        """
        prompts = self._check_prompts(prompts)
        if not isinstance(response, str) or not response:
            raise ValueError(f"response must be a non-empty str; got {response!r}")
        if self.chat_template is None and self.api == "chat" and not self._warned_plain:
            self._warned_plain = True
            log.warning(
                "%s: response scoring sends the plain prompt to /completions, which applies no chat template, "
                "while api='chat' contrasts and generate() go through the server's template; pass "
                "chat_template= (the model's tokenizer) to score a chat model's response after its template",
                self,
            )
        texts = [self._completion_text(p) for p in prompts]
        keys = [json.dumps([t, response]) for t in texts]
        pairs = dict(zip(keys, texts, strict=True))
        return [a.copy() for a in self._map("score", keys, lambda k: self._score_one(pairs[k], response))]

    def generate(self, prompt: str, *, max_new_tokens: int = 32) -> str:
        """The greedy (temperature 0) completion of ``prompt``: the assistant message with ``api="chat"``."""
        (prompt,) = self._check_prompts([prompt])
        max_new_tokens = _positive("max_new_tokens", max_new_tokens, integer=True)
        text = self._format(prompt)
        if self.api == "chat":
            data = self._post("/chat/completions", self._chat_body(text, max_tokens=max_new_tokens))
            choice = self._first_choice(data, "/chat/completions")
            content = (choice.get("message") or {}).get("content")
        else:
            body = {"model": self.model, "prompt": self._render(text), "max_tokens": max_new_tokens, "temperature": 0}
            data = self._post("/completions", self._finish_body(body))
            content = self._first_choice(data, "/completions").get("text")
        if not isinstance(content, str):
            raise EndpointError(f"the server at {self.base_url} returned no text for the generation of {prompt[:60]!r}")
        return content

    # -- one prompt ----------------------------------------------------------------------------------
    def _top_one(self, text: str) -> list[tuple[str, float]]:
        """The top log-probs ``[(token, logprob), ...]`` of the first generated position."""
        if self.api == "chat":
            path = "/chat/completions"
            body = self._chat_body(text, max_tokens=1)
            body.update(logprobs=True, top_logprobs=self.top_logprobs)
            data = self._post(path, body)
            lp = self._first_choice(data, path).get("logprobs")
            content = lp.get("content") if isinstance(lp, dict) else None
            if not content or not isinstance(content, list) or not isinstance(content[0], dict):
                raise EndpointUnsupportedError(
                    f"the server at {self.base_url} returned no 'logprobs' for {path} with logprobs=true, "
                    f"top_logprobs={self.top_logprobs}; next-token log-probs need a server that returns them "
                    "(vLLM, llama.cpp with logprobs, OpenAI chat models)"
                )
            first = content[0]
            pairs = [(e.get("token"), e.get("logprob")) for e in first.get("top_logprobs") or [] if isinstance(e, dict)]
            pairs.append((first.get("token"), first.get("logprob")))
        else:
            path = "/completions"
            body = {
                "model": self.model,
                "prompt": self._render(text),
                "max_tokens": 1,
                "temperature": 0,
                "logprobs": self.top_logprobs,
            }
            data = self._post(path, self._finish_body(body))
            lp = self._first_choice(data, path).get("logprobs")
            tops = lp.get("top_logprobs") if isinstance(lp, dict) else None
            if not tops or not isinstance(tops[0], dict):
                raise EndpointUnsupportedError(
                    f"the server at {self.base_url} returned no 'logprobs.top_logprobs' for {path} with "
                    f"logprobs={self.top_logprobs}; next-token log-probs need a server that returns them"
                )
            pairs = list(tops[0].items())
        clean: dict[str, float] = {}
        for tok, value in pairs:
            if isinstance(tok, str) and isinstance(value, (int, float)) and not isinstance(value, bool):
                if math.isfinite(value) or value == -math.inf:
                    clean[tok] = float(value)
        if not clean:
            raise EndpointError(f"the server at {self.base_url} returned empty top log-probs for {path}")
        return list(clean.items())

    def _candidate_logprob(self, top: list[tuple[str, float]], cand: str, text: str) -> tuple[float, bool]:
        if self.variants:
            want = cand.strip()
            hits = [v for tok, v in top if tok.strip() == want]
        else:
            hits = [v for tok, v in top if tok == cand]
        if hits:
            return _logsumexp(hits), False
        if self.on_missing == "raise":
            raise EndpointError(
                f"candidate {cand!r} is not among the top {self.top_logprobs} tokens the server at {self.base_url} "
                f"returned after {text[:60]!r}; raise top_logprobs or pass on_missing='bound' (an upper bound)"
            )
        if self.on_missing == "nan":
            return math.nan, True
        return min(v for _, v in top), True

    def _score_one(self, text: str, response: str) -> np.ndarray:
        full = text + response
        path = "/completions"
        body = {
            "model": self.model,
            "prompt": full,
            "max_tokens": _SCORE_MAX_TOKENS,
            "echo": True,
            "logprobs": 1,
            "temperature": 0,
        }
        data = self._post(path, self._finish_body(body))
        lp = self._first_choice(data, path).get("logprobs")
        missing = (
            "no 'logprobs'"
            if not isinstance(lp, dict)
            else next(
                (f"no 'logprobs.{k}'" for k in ("tokens", "token_logprobs") if not isinstance(lp.get(k), list)), None
            )
        )
        if missing:
            raise EndpointUnsupportedError(
                f"the server at {self.base_url} returned {missing} for {path} with echo=true, logprobs=1; "
                "response scoring needs a server that supports echo with log-probs (vLLM, llama.cpp); "
                "use contrast= (next-token log-probs from chat completions) instead"
            )
        tokens, logprobs = lp["tokens"], lp["token_logprobs"]
        offsets = lp.get("text_offset")
        if len(logprobs) != len(tokens) or not all(isinstance(t, str) for t in tokens):
            raise EndpointUnsupportedError(
                f"the server at {self.base_url} returned malformed 'logprobs' for {path} with echo=true "
                f"({len(tokens)} tokens, {len(logprobs)} log-probs); use contrast= instead"
            )
        if not isinstance(offsets, list) or len(offsets) != len(tokens):
            offsets = None
        keep = _echo_end(tokens, offsets, data.get("usage") if isinstance(data, dict) else None, full, response)
        if keep < len(tokens):
            self.stats.add(generated_cut=len(tokens) - keep)
            tokens, logprobs = tokens[:keep], logprobs[:keep]
            offsets = offsets[:keep] if offsets is not None else None
        first = _response_start(tokens, offsets, len(text), full, response)
        if first is None:
            raise EndpointUnsupportedError(
                f"the server at {self.base_url} did not echo the prompt for {path} with echo=true (its tokens do not "
                "end with the response, and their text offsets do not locate it); response scoring needs echo "
                "(vLLM, llama.cpp); use contrast= instead"
            )
        spelled = "".join(tokens[first:])
        if len(spelled) > len(response):
            self.stats.add(boundary_tokens=1)  # the first response token also covers the end of the prompt
        values = logprobs[first:]
        if any(v is None for v in values):
            raise EndpointError(
                f"the server at {self.base_url} gave no log-prob for the response token {tokens[first]!r}: nothing "
                "precedes it (empty prompt, no BOS token); give prompt_format= some fixed text before the prompt, "
                "e.g. 'Question: {prompt}\\nAnswer:'"
            )
        return np.asarray(values, dtype=np.float64)

    # -- bodies and parsing -----------------------------------------------------------------------------
    def _chat_body(self, text: str, *, max_tokens: int) -> dict[str, Any]:
        messages = ([{"role": "system", "content": self.system}] if self.system else []) + [
            {"role": "user", "content": text}
        ]
        body = {"model": self.model, "messages": messages, "max_tokens": max_tokens, "temperature": 0}
        return self._finish_body(body)

    def _finish_body(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.seed is not None:
            body["seed"] = self.seed
        return {**body, **self.extra_body}

    def _first_choice(self, data: Any, path: str) -> dict[str, Any]:
        choices = data.get("choices") if isinstance(data, dict) else None
        if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
            raise EndpointError(f"the server at {self.base_url} returned no 'choices' for {path}: {str(data)[:200]}")
        return choices[0]

    def _format(self, prompt: str) -> str:
        return self.prompt_format.replace("{prompt}", prompt)

    def _render(self, text: str) -> str:
        """``text`` inside the chat template (``chat_template=``) as the user message; itself without one."""
        template = self.chat_template
        if template is None:
            return text
        messages = ([{"role": "system", "content": self.system}] if self.system else []) + [
            {"role": "user", "content": text}
        ]
        apply = getattr(template, "apply_chat_template", None)
        if callable(apply):
            out = apply(messages, tokenize=False, add_generation_prompt=True)
        else:
            out = template(messages)
        if not isinstance(out, str):
            raise TypeError(
                f"chat_template must render messages to a str; {type(template).__name__} returned {type(out).__name__}"
            )
        return out

    def _completion_text(self, prompt: str) -> str:
        """What a ``/completions`` request sends for ``prompt``: formatted, then the template rendered around it."""
        return self._render(self._format(prompt))

    @staticmethod
    def _check_prompts(prompts: Any) -> list[str]:
        if isinstance(prompts, str) or not isinstance(prompts, Sequence):
            raise TypeError(f"prompts must be a sequence of str; got {type(prompts).__name__}")
        for p in prompts:
            if not isinstance(p, str):
                raise TypeError(f"prompts must be a sequence of str; got an element of type {type(p).__name__}")
        return list(prompts)

    # -- concurrency and memo ---------------------------------------------------------------------------
    def _map(self, kind: str, keys: list[str], fn: Callable[[str], Any]) -> list[Any]:
        """``fn`` on each distinct key not in the memo, concurrently; finished answers are memoised at once."""
        self.stats.add(prompts=len(keys))
        found: dict[str, Any] = {}
        todo: list[str] = []
        with self._memo_lock:
            for k in dict.fromkeys(keys):
                hit = self._memo.get((kind, k))
                if hit is not None:
                    self._memo.move_to_end((kind, k))
                    found[k] = hit
                else:
                    todo.append(k)
        self.stats.add(memo_hits=len(keys) - len(todo))

        def run(k: str) -> Any:
            value = fn(k)
            self._remember((kind, k), value)
            return value

        if len(todo) == 1 or self.max_concurrency == 1:
            for k in todo:
                found[k] = run(k)
        elif todo:
            # each request runs in the caller's context (a copy per task): the transport reads from it whether
            # a query runner retries the batch (spexjax.runs.runner.CALLER_RETRIES)
            pool = self._get_pool()
            futures = {pool.submit(contextvars.copy_context().run, run, k): k for k in todo}
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
            for fut in pending:
                fut.cancel()  # fail fast; prompts already sent finish and stay memoised
            wait(pending)
            for fut in done | pending:
                if not fut.cancelled() and fut.exception() is None:
                    found[futures[fut]] = fut.result()
            errors = [fut.exception() for fut in done if fut.exception() is not None]
            if errors:
                raise errors[0]
        return [found[k] for k in keys]

    def _remember(self, key: tuple[str, str], value: Any) -> None:
        if self.memo_size == 0:
            return
        with self._memo_lock:
            self._memo[key] = value
            self._memo.move_to_end(key)
            while len(self._memo) > self.memo_size:
                self._memo.popitem(last=False)

    def _get_pool(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="spexjax-openai")
            return self._pool

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        """POST ``body`` to ``base_url + path`` (:meth:`HTTPTransport.post`: retried, counted); the JSON answer."""
        return self._transport.post(path, body)

def _echo_end(tokens: list[str], offsets: list[Any] | None, usage: Any, full: str, response: str) -> int:
    """How many of the echoed ``tokens`` are the text sent (``full``), the generated ones after it cut off.

    Candidates, first that fits: ``usage.completion_tokens`` counted off the end (exact on llama.cpp and vLLM,
    whose echo may skip or add special tokens so that ``prompt_tokens`` does not count the echoed ones); the
    tokens whose ``text_offset`` lies inside ``full``; one to ``_SCORE_MAX_TOKENS`` tokens off the end. A
    candidate fits when its tokens still end with the response; when none does (token strings that do not
    spell the text), the first candidate is the best guess, and the offsets then locate the response.
    """
    n = len(tokens)
    cands: list[int] = []
    done = usage.get("completion_tokens") if isinstance(usage, dict) else None
    if isinstance(done, int) and not isinstance(done, bool) and 0 <= done <= n:
        cands.append(n - done)
    if offsets is not None and all(isinstance(o, int) and not isinstance(o, bool) for o in offsets):
        cands.append(sum(1 for off in offsets if off < len(full)))
    cands += [n - k for k in range(_SCORE_MAX_TOKENS + 1) if n - k >= 0]
    for keep in cands:
        if "".join(tokens[:keep]).endswith(response):
            return keep
    return cands[0]


def _response_start(tokens: list[str], offsets: list[Any] | None, start: int, full: str, response: str) -> int | None:
    """Index of the first response token among the echoed ``tokens`` of ``full = prompt + response``.

    First by the token strings: the shortest run of last tokens that spells at least the response (what a
    server that prepends a BOS such as ``"<s>"`` still gets right, although its offsets then count the BOS);
    then by ``text_offset`` (first token ending after the prompt), when the offsets start at 0. ``None``: neither.
    """
    size, i = 0, len(tokens)
    while i > 0 and size < len(response):
        i -= 1
        size += len(tokens[i])
    if size >= len(response) and "".join(tokens[i:]).endswith(response):
        return i
    if not offsets or offsets[0] != 0 or not all(isinstance(o, int) for o in offsets):
        return None
    for j, (tok, off) in enumerate(zip(tokens, offsets, strict=True)):
        if off + max(len(tok), 1) > start:
            return j if off < len(full) else None
    return None
