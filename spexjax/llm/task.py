"""``PromptTask``: a value function over the units of a prompt, for any language-model or text-scoring backend.

A mask row keeps (True) or ablates (False) each unit; the task renders the ablated prompt (:mod:`.units`), sends
the distinct prompts of a batch to the backend in one call and reduces the output with a target
(:mod:`.targets`). For response targets it also keeps the per-token log-probs of every evaluated mask in a
bounded store, so a span of the response can be explained afterwards (:meth:`PromptTask.with_span`) from the
same ablations, without calling the model again.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from spexjax.fingerprint import fingerprint
from spexjax.llm.protocols import LanguageModel, TextScorer
from spexjax.llm.targets import NextTokenContrast, ResponseLogProb, Score
from spexjax.llm.units import ABLATIONS, Units, split_units
from spexjax.value_functions import ValueFunction, check_masks

__all__ = ["PromptTask", "ResponseSpanTask"]

_DEFAULT_PLACEHOLDER = "_"


def _mask_key(row: np.ndarray) -> bytes:
    return np.packbits(row).tobytes()


class PromptTask(ValueFunction):
    """Which units of ``prompt`` (alone and together) move the backend's output.

    Args:
      backend: a :class:`~spexjax.llm.LanguageModel` (Hugging Face, OpenAI-compatible) or a
        :class:`~spexjax.llm.TextScorer` (the embedded MiniLM's zero-shot classifier or query similarity).
      prompt: the text, or a list of strings (documents; the prompt is their concatenation).
      unit: ``"token"``, ``"word"``, ``"sentence"`` or ``"paragraph"`` (ignored for a list of documents).
      ablation: ``"remove"`` (the model sees the prompt with the ablated units deleted) or ``"placeholder"``
        (each ablated unit replaced by one ``placeholder``; positions stay).
      response: score this response (teacher-forced sum of token log-probs). LanguageModel only.
      contrast: ``(a, b)``: value ``log p(a) - log p(b)`` of the next token. LanguageModel only.
        With neither, a LanguageModel's own greedy response to the full prompt is generated once, here, and
        explained (``task.response``; ``task.generated`` is True); a TextScorer's ``score`` is the value.

    Options:
      prefix, suffix: text before/after the prompt that is never ablated (e.g. a RAG question after the
        documents). ``keep=`` is the same as ``suffix=``.
      placeholder: the replacement text for ``ablation="placeholder"`` (default: the backend's
        ``default_placeholder`` if it has one, else ``"_"``).
      max_new_tokens: length of the generated response (default 32).
      store_size: most masks whose per-token response log-probs are kept (default 65536; least recently
        used dropped first).
    """

    def __init__(
        self,
        backend: Any,
        prompt: str | Sequence[str],
        *,
        unit: str = "word",
        ablation: str = "remove",
        response: str | None = None,
        contrast: tuple[str, str] | None = None,
        **options: Any,
    ):
        known = {"prefix", "suffix", "keep", "placeholder", "max_new_tokens", "store_size"}
        unknown = set(options) - known
        if unknown:
            raise TypeError(f"PromptTask got unexpected option(s) {sorted(unknown)}; known: {sorted(known)}")
        if ablation not in ABLATIONS:
            raise ValueError(f"ablation must be one of {ABLATIONS}; got {ablation!r}")
        is_lm = isinstance(backend, LanguageModel)
        is_scorer = isinstance(backend, TextScorer)
        if not (is_lm or is_scorer):
            raise TypeError(
                "backend must be a spexjax.llm.LanguageModel (identity, response_logprobs, next_token_logprobs, "
                f"generate) or a spexjax.llm.TextScorer (identity, score); got {type(backend).__name__}"
            )
        if response is not None and contrast is not None:
            raise ValueError("give response= or contrast=, not both")
        if (response is not None or contrast is not None) and not is_lm:
            raise ValueError(
                f"response= and contrast= need a LanguageModel backend; {type(backend).__name__} is a TextScorer "
                "(its value is its score)"
            )
        if response is not None and not isinstance(response, str):
            raise TypeError(f"response must be a str or None; got {type(response).__name__}")
        if contrast is not None:
            if (
                not isinstance(contrast, tuple | list)
                or len(contrast) != 2
                or not all(isinstance(c, str) and c for c in contrast)
            ):
                raise ValueError(f"contrast must be a pair of non-empty strings (a, b); got {contrast!r}")
        suffix = options.get("suffix", "")
        if "keep" in options:
            if "suffix" in options:
                raise ValueError("give keep= or suffix= (they are the same option), not both")
            suffix = options["keep"]
        placeholder = options.get("placeholder", getattr(backend, "default_placeholder", _DEFAULT_PLACEHOLDER))
        if not isinstance(placeholder, str):
            raise TypeError(f"placeholder must be a str; got {type(placeholder).__name__}")
        max_new_tokens = options.get("max_new_tokens", 32)
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be an int >= 1; got {max_new_tokens!r}")
        store_size = options.get("store_size", 1 << 16)
        if isinstance(store_size, bool) or not isinstance(store_size, int) or store_size < 0:
            raise ValueError(f"store_size must be an int >= 0; got {store_size!r}")

        self.backend = backend
        self.prompt = prompt if isinstance(prompt, str) else list(prompt)
        self.unit = None if not isinstance(prompt, str) else unit
        self.ablation = ablation
        self.placeholder = placeholder if ablation == "placeholder" else None
        self.units: Units = split_units(
            prompt, unit, backend=backend, prefix=options.get("prefix", ""), suffix=suffix
        )
        self.n = self.units.n
        self.generated = False
        self.max_new_tokens = max_new_tokens
        if contrast is not None:
            self.target: Any = NextTokenContrast(str(contrast[0]), str(contrast[1]))
        elif response is not None:
            self.target = ResponseLogProb(response)
        elif is_lm:
            response = backend.generate(self.units.text, max_new_tokens=max_new_tokens)
            if not isinstance(response, str):
                raise TypeError(f"{type(backend).__name__}.generate must return a str; got {type(response).__name__}")
            self.generated = True
            self.target = ResponseLogProb(response)
        else:
            self.target = Score()
        self.response: str | None = getattr(self.target, "response", None)
        self.contrast = None if contrast is None else (str(contrast[0]), str(contrast[1]))
        self.store_size = store_size
        self._store: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self.model_rows = 0  # distinct prompts sent to the backend so far
        self._fingerprint: str | None = None

    # -- ValueFunction ----------------------------------------------------------------------------
    @property
    def feature_names(self) -> list[str]:
        """The units' text (surrounding whitespace stripped)."""
        return [u.strip() or u for u in self.units.units]

    def ablated_prompt(self, keep: Any) -> str:
        """The exact text the model sees for one mask row."""
        return self.units.render(keep, self.ablation, self.placeholder or "")

    def evaluate(self, masks: np.ndarray) -> np.ndarray:
        masks = check_masks(masks, self.n)
        values, per_token = self._run(masks)
        if per_token is not None:
            for row, lp in zip(masks, per_token, strict=True):
                self._remember(_mask_key(row), lp)
        return values

    def _run(self, masks: np.ndarray) -> tuple[np.ndarray, list[np.ndarray] | None]:
        """Render, dedupe identical prompts, one backend call, spread the results back to the rows."""
        prompts = [self.ablated_prompt(row) for row in masks]
        index: dict[str, int] = {}
        inverse = np.fromiter((index.setdefault(p, len(index)) for p in prompts), dtype=np.int64, count=len(prompts))
        unique = list(index)
        if not unique:
            return np.zeros(0), ([] if isinstance(self.target, ResponseLogProb) else None)
        values, per_token = self.target.values(self.backend, unique)
        self.model_rows += len(unique)
        values = np.asarray(values, dtype=np.float64)[inverse]
        if per_token is None:
            return values, None
        return values, [per_token[i] for i in inverse]

    def fingerprint(self) -> str:
        """Backend identity, prompt, units, ablation, placeholder, prefix/suffix and target."""
        if self._fingerprint is None:
            self._fingerprint = fingerprint(
                "spexjax.llm.PromptTask/v1",
                backend=str(self.backend.identity()),
                prompt=self.prompt,
                unit=self.unit,
                units=list(self.units.units),
                seps=list(self.units.seps),
                edges=[self.units.lead, self.units.trail, self.units.prefix, self.units.suffix],
                ablation=self.ablation,
                placeholder=self.placeholder,
                target=self.target.spec(),
                generated=self.generated,
                max_new_tokens=self.max_new_tokens if self.generated else None,
            )
        return self._fingerprint

    # -- the per-token store ----------------------------------------------------------------------
    def _remember(self, key: bytes, lp: np.ndarray) -> None:
        if self.store_size == 0:
            return
        self._store[key] = lp
        self._store.move_to_end(key)
        while len(self._store) > self.store_size:
            self._store.popitem(last=False)

    def token_logprobs(self, masks: Any) -> list[np.ndarray]:
        """Per-token response log-probs for each mask row: from the store, the model only for missing rows."""
        if not isinstance(self.target, ResponseLogProb):
            raise ValueError("token_logprobs needs a response target (response= or a generated response)")
        masks = check_masks(masks, self.n)
        keys = [_mask_key(r) for r in masks]
        missing = [i for i, k in enumerate(keys) if k not in self._store]
        fresh: dict[bytes, np.ndarray] = {}
        if missing:
            _, per_token = self._run(masks[missing])
            for i, lp in zip(missing, per_token or [], strict=True):
                fresh[keys[i]] = lp
                self._remember(keys[i], lp)
        out = []
        for k in keys:
            lp = fresh.get(k)
            if lp is None:
                lp = self._store[k]
                self._store.move_to_end(k)
            out.append(lp)
        return out

    def span_values(self, masks: Any, lo: int, hi: int | None = None) -> np.ndarray:
        """``sum(log p(response tokens lo..hi-1))`` per mask row (Python slice semantics), store first."""
        return np.asarray([float(lp[lo:hi].sum()) for lp in self.token_logprobs(masks)], dtype=np.float64)

    def with_span(self, lo: int, hi: int | None = None) -> ResponseSpanTask:
        """A value function explaining only response tokens ``lo..hi-1``, reading this task's store."""
        return ResponseSpanTask(self, lo, hi)

    def __repr__(self) -> str:
        what = (
            f"contrast={self.contrast!r}"
            if self.contrast
            else f"response={self.response!r}" if self.response is not None else "score"
        )
        unit = "documents" if self.unit is None else repr(self.unit)
        return f"PromptTask({type(self.backend).__name__}, n={self.n}, unit={unit}, ablation={self.ablation!r}, {what})"


class ResponseSpanTask(ValueFunction):
    """A span ``[lo, hi)`` of a :class:`PromptTask`'s response as its own value function (shares the store)."""

    def __init__(self, task: PromptTask, lo: int, hi: int | None = None):
        if not isinstance(task.target, ResponseLogProb):
            raise ValueError("with_span needs a task with a response target (response= or a generated response)")
        for name, v in (("lo", lo), ("hi", hi)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int | np.integer)):
                raise TypeError(f"{name} must be an int; got {type(v).__name__}")
        self.task, self.lo, self.hi = task, int(lo), None if hi is None else int(hi)
        self.n = task.n

    @property
    def feature_names(self) -> list[str]:
        return self.task.feature_names

    def evaluate(self, masks: np.ndarray) -> np.ndarray:
        return self.task.span_values(masks, self.lo, self.hi)

    def fingerprint(self) -> str:
        return fingerprint("spexjax.llm.ResponseSpanTask/v1", task=self.task.fingerprint(), lo=self.lo, hi=self.hi)

    def __repr__(self) -> str:
        return f"ResponseSpanTask({self.task!r}, lo={self.lo}, hi={self.hi})"
