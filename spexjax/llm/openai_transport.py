"""HTTP transport of the OpenAI-compatible backend: one JSON POST, retried, counted, to one host only.

Split from :mod:`spexjax.llm.openai` (which maps the OpenAI protocol: request bodies, log-prob answers, echo
alignment) so that each half reads on its own: this module knows nothing of log-probs, that one nothing of
sockets. Only the standard library speaks HTTP (``http.client``): one keep-alive connection per worker thread
(``TCP_NODELAY``), no proxies from the environment, no redirects followed, so nothing is ever sent to a host
other than ``base_url``'s.

Retries: a request is retried with exponential backoff on 408/409/425/429/5xx, timeouts and dropped
connections, honouring ``Retry-After`` (at most 60 s); everything is counted in :class:`EndpointStats`. With
``max_retries=None`` (the backend's default) the count depends on the caller: inside a
:class:`~spexjax.runs.QueryRunner` that retries failed batches itself (its ``max_retries > 0``, read from
:data:`spexjax.runs.runner.CALLER_RETRIES` while it calls the value function inline or in its thread
executor), a request is
tried once and a failure goes up to the runner, whose retry pays only the prompts that had not finished (the
backend memoises answers); elsewhere :data:`DEFAULT_RETRIES` retries. Before, both retried and the attempts
multiplied (5 per request x 3 per batch). An explicit ``max_retries`` is always obeyed.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from spexjax.errors import ValueFunctionError
from spexjax.runs.runner import CALLER_RETRIES

__all__ = ["DEFAULT_RETRIES", "EndpointError", "EndpointStats", "EndpointUnsupportedError", "HTTPTransport",
           "check_base_url"]

_RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
_MAX_RETRY_AFTER = 60.0  # seconds: a server asking for longer is not waited for blindly
#: retries per request when ``max_retries=None`` and no retrying query runner is calling.
DEFAULT_RETRIES = 4


class EndpointError(ValueFunctionError):
    """A request to the endpoint failed for good (after retries), or the server answered something unusable."""


class EndpointUnsupportedError(EndpointError):
    """The server does not offer what was asked (log-probs, echo of the prompt); retrying will not help."""


@dataclass
class EndpointStats:
    """What the backend has sent and received so far (thread-safe counters; read them, do not write).

    Attributes:
      requests: HTTP requests sent (every attempt, retries included).
      ok: requests answered 200 with a usable body.
      retries: attempts that failed with a retryable cause and were tried again.
      failures: prompts given up on after the last retry (each raised :class:`EndpointError`).
      timeouts: attempts that timed out (``timeout=``); included in ``retries``/``failures``.
      by_status: HTTP status -> number of answers (connection errors and timeouts under ``"error"``).
      prompts: prompts asked for by the caller (before de-duplication).
      memo_hits: prompts answered without a request (same text seen before in this process or batch).
      bounded: candidate log-probs replaced by the top-K bound (candidate absent from the top log-probs).
      boundary_tokens: response tokens that also covered the end of the prompt (counted as response tokens).
      generated_cut: tokens the server generated after an echoed prompt + response (``max_tokens=1``) and
        that were cut off before summing.
      wait_s: seconds slept in backoff.
    """

    requests: int = 0
    ok: int = 0
    retries: int = 0
    failures: int = 0
    timeouts: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    prompts: int = 0
    memo_hits: int = 0
    bounded: int = 0
    boundary_tokens: int = 0
    generated_cut: int = 0
    wait_s: float = 0.0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def add(self, **counts: float) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def status(self, code: int | str) -> None:
        with self._lock:
            key = str(code)
            self.by_status[key] = self.by_status.get(key, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            out = {k: v for k, v in vars(self).items() if not k.startswith("_")}
            out["by_status"] = dict(self.by_status)
            return out

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k != "_lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        vars(self).update(state)
        self._lock = threading.Lock()


class _Retryable(Exception):
    """One attempt failed in a way worth another try (carries the wait the server asked for, if any)."""

    def __init__(self, message: str, retry_after: float | None = None, timeout: bool = False):
        super().__init__(message)
        self.retry_after = retry_after
        self.timeout = timeout


def check_base_url(base_url: Any) -> urllib.parse.SplitResult:
    """``base_url`` split, or a clear error: http(s) only, a host, no credentials, query or fragment."""
    if not isinstance(base_url, str):
        raise TypeError(f"base_url must be a str like 'http://127.0.0.1:8000/v1'; got {type(base_url).__name__}")
    parts = urllib.parse.urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"base_url must start with http:// or https://; got {base_url!r}")
    if not parts.hostname:
        raise ValueError(f"base_url must name a host (e.g. 'http://127.0.0.1:8000/v1'); got {base_url!r}")
    if parts.username or parts.password:
        raise ValueError("base_url must not carry credentials; pass api_key= (or set OPENAI_API_KEY) instead")
    if parts.query or parts.fragment:
        raise ValueError(f"base_url must not have a query or fragment; got {base_url!r}")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as err:
        raise ValueError(f"base_url has an invalid port: {base_url!r}") from err
    return parts


class _HTTPStatusError(EndpointError):
    """A non-retryable HTTP status (4xx other than 408/409/425/429)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class HTTPTransport:
    """JSON POSTs to one OpenAI-compatible server, with retries and counters.

    Args:
      base_url: checked by :func:`check_base_url`; requests go to its host and nowhere else.
      api_key: sent as ``Authorization: Bearer ...`` (never logged, never in an identity).
      timeout: seconds one attempt may take.
      max_retries: extra attempts per request (``None``: see the module docstring).
      backoff: first wait in seconds, doubled per attempt; a ``Retry-After`` header wins (<= 60 s).
      stats: the :class:`EndpointStats` to count into (the backend's).
    """

    def __init__(self, base_url: str, *, api_key: str | None, timeout: float, max_retries: int | None,
                 backoff: float, stats: EndpointStats):
        parts = check_base_url(base_url)
        self.base_url = urllib.parse.urlunsplit(parts._replace(path=parts.path.rstrip("/")))
        self._api_key = api_key
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.stats = stats
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port
        self._path = parts.path.rstrip("/")
        self._local = threading.local()

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k != "_local"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        vars(self).update(state)
        self._local = threading.local()

    def retries(self) -> int:
        """Extra attempts for the next request: ``max_retries``, or with ``None`` 0 under a retrying runner."""
        if self.max_retries is not None:
            return self.max_retries
        caller = CALLER_RETRIES.get()
        return 0 if caller else DEFAULT_RETRIES

    def post(self, path: str, body: dict[str, Any]) -> Any:
        """POST with per-request retries; returns the decoded JSON body of a 200 answer."""
        url = f"{self.base_url}{path}"
        payload = json.dumps(body).encode()
        retries = self.retries()
        attempts = 1 + retries
        last: _Retryable | None = None
        for attempt in range(attempts):
            if attempt:
                delay = self.backoff * 2 ** (attempt - 1)
                if last is not None and last.retry_after is not None:
                    delay = max(delay, min(last.retry_after, _MAX_RETRY_AFTER))
                self.stats.add(retries=1, wait_s=delay)
                time.sleep(delay)
            try:
                return self._attempt(path, payload, url)
            except _Retryable as err:
                last = err
                if err.timeout:
                    self.stats.add(timeouts=1)
        self.stats.add(failures=1)
        tries = f"{attempts} attempts" if attempts > 1 else (
            "1 attempt (max_retries=0)" if self.max_retries == 0 else "1 attempt (the query runner retries)")
        raise EndpointError(f"request to {url} failed after {tries}: {last}") from last

    def _attempt(self, path: str, payload: bytes, url: str) -> Any:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        self.stats.add(requests=1)
        try:
            try:
                conn, reused = self._connection()
                conn.request("POST", self._path + path, body=payload, headers=headers)
                resp = conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                if not reused:
                    raise
                # The server closed an idle keep-alive connection: resend once on a fresh one (not a retry).
                self._drop_connection()
                conn, _ = self._connection()
                conn.request("POST", self._path + path, body=payload, headers=headers)
                resp = conn.getresponse()
            raw = resp.read()
        except TimeoutError as err:
            self._drop_connection()
            self.stats.status("error")
            raise _Retryable(f"no answer within timeout={self.timeout:g} s", timeout=True) from err
        except (OSError, http.client.HTTPException) as err:
            self._drop_connection()
            self.stats.status("error")
            raise _Retryable(f"connection error: {type(err).__name__}: {err}") from err
        status = resp.status
        self.stats.status(status)
        if resp.will_close:
            self._drop_connection()
        if status == 200:
            try:
                data = json.loads(raw)
            except ValueError as err:
                raise EndpointError(
                    f"the server at {url} answered 200 with a body that is not JSON: {raw[:200]!r}"
                ) from err
            self.stats.add(ok=1)
            return data
        message = _error_message(raw)
        if status in _RETRY_STATUS:
            raise _Retryable(f"HTTP {status}: {message}", retry_after=_retry_after(resp.getheader("Retry-After")))
        if 300 <= status < 400:
            raise EndpointError(
                f"the server at {url} answered HTTP {status} (redirect to {resp.getheader('Location')!r}); "
                "redirects are not followed (requests go only to base_url): fix base_url"
            )
        raise _HTTPStatusError(status, f"the server at {url} answered HTTP {status}: {message}")

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's keep-alive connection to base_url's host, and whether it was used before."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn, True
        cls = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
        conn = cls(self._host, self._port, timeout=self.timeout)
        self._local.conn = conn
        conn.connect()
        # Small request/response pairs: without TCP_NODELAY, Nagle + delayed ACK can add ~40 ms per request.
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, False

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()


def _error_message(raw: bytes) -> str:
    """The server's own error text when it sent the OpenAI error shape, else the start of the body."""
    try:
        data = json.loads(raw)
        err = data.get("error") if isinstance(data, dict) else None
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])[:300]
        if isinstance(err, str):
            return err[:300]
    except ValueError:
        pass
    return re.sub(r"\s+", " ", raw[:300].decode("utf-8", "replace")).strip() or "(empty body)"


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to the exponential schedule
