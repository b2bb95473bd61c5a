"""``HeadTask``: the value of a set of kept attention heads is the ablated model's score on labelled examples."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from spexjax.errors import SpexError, require
from spexjax.fingerprint import fingerprint
from spexjax.heads.ablation import head_names, head_scales
from spexjax.heads.backends import HuggingFaceHeads, MiniLMHeads
from spexjax.heads.examples import Example, read_mcq, split_examples, topic_examples
from spexjax.value_functions import ValueFunction, check_masks

__all__ = ["HeadTask", "METRICS", "make_task"]

METRICS = ("logprob", "accuracy")


class HeadTask(ValueFunction):
    """A :class:`~spexjax.ValueFunction` over the ``layers * heads`` attention heads of a model.

    ``task(masks)`` runs the model with the heads outside each mask ablated (zeroed before the output projection,
    the layer's kept heads rescaled by ``|H_l| / |S ∩ H_l|``; :func:`~spexjax.heads.head_scales`) and scores it
    on this split's examples.

    Args:
      backend: a :class:`~spexjax.heads.HeadBackend` (:class:`~spexjax.heads.MiniLMHeads`,
        :class:`~spexjax.heads.HuggingFaceHeads`).
      examples: labelled :class:`~spexjax.heads.Example` s (all with the same number of choices).
      metric: ``"logprob"`` (default: mean log-probability of the right choice, normalised over the choices; smooth,
        so a surrogate sees small effects) or ``"accuracy"`` (share answered right: the papers' value).
      heldout: fraction (float) or count (int) of ``examples`` set aside for testing a pruned model; 0 keeps all
        examples in the fit split. The split is seeded by ``key``.
      split: ``"fit"`` (default) or ``"heldout"``: which split this task scores. :meth:`heldout` and
        :meth:`split` give the other split of the same task.
      rescale: apply the per-layer rescaling (default ``True``); ``False`` only zeroes ablated heads.
      key: seed of the split.
    """

    def __init__(
        self,
        backend: Any,
        examples: Sequence[Example],
        *,
        metric: str = "logprob",
        heldout: float | int = 0.5,
        split: str = "fit",
        rescale: bool = True,
        key: int = 0,
    ):
        if metric not in METRICS:
            raise SpexError(f"metric must be one of {METRICS}; got {metric!r}")
        if split not in ("fit", "heldout"):
            raise SpexError(f"split must be 'fit' or 'heldout'; got {split!r}")
        for attr in ("layers", "heads", "choice_logprobs", "identity"):
            if not hasattr(backend, attr):
                raise TypeError(f"backend must be a HeadBackend (needs .{attr}); got {type(backend).__name__}")
        examples = list(examples)
        if not examples or not all(isinstance(e, Example) for e in examples):
            raise TypeError("examples must be a non-empty sequence of spexjax.heads.Example")
        if len({len(e.choices) for e in examples}) != 1:
            raise SpexError("examples must all have the same number of choices")
        self.backend = backend
        self.examples_all = examples
        self.metric = metric
        self.heldout_spec = heldout
        self.rescale = bool(rescale)
        self.key = int(key)
        self.split_name = split
        if (isinstance(heldout, float) and heldout == 0.0) or (isinstance(heldout, int) and heldout == 0):
            if split == "heldout":
                raise SpexError("split='heldout' needs heldout > 0")
            self._fit, self._test = examples, []
        else:
            self._fit, self._test = split_examples(examples, heldout, key=self.key)
        self.examples = self._fit if split == "fit" else self._test
        self.layers, self.heads = int(backend.layers), int(backend.heads)
        self.n = self.layers * self.heads
        self._answers = np.array([e.answer for e in self.examples])
        self._fp: str | None = None

    # -- splits ---------------------------------------------------------------------------------
    def split(self, name: str, *, metric: str | None = None) -> HeadTask:
        """The same task on split ``name`` (``"fit"`` or ``"heldout"``), optionally with another metric."""
        return HeadTask(
            self.backend,
            self.examples_all,
            metric=metric or self.metric,
            heldout=self.heldout_spec,
            split=name,
            rescale=self.rescale,
            key=self.key,
        )

    def heldout(self, *, metric: str | None = None) -> HeadTask:
        """The held-out split of this task (for testing a pruned model)."""
        return self.split("heldout", metric=metric)

    # -- values ---------------------------------------------------------------------------------
    @property
    def feature_names(self) -> list[str]:
        return head_names(self.layers, self.heads)

    def per_example(self, masks: Any) -> dict[str, np.ndarray]:
        """Per-example metrics ``{"logprob": float[m, E], "accuracy": float[m, E]}`` (for paired comparisons)."""
        x = check_masks(masks, self.n)
        E = len(self.examples)
        if x.shape[0] == 0:
            return {k: np.zeros((0, E)) for k in METRICS}
        lp = np.asarray(
            self.backend.choice_logprobs(self.examples, head_scales(x, self.layers, self.heads, rescale=self.rescale))
        )
        right = lp[:, np.arange(E), self._answers]  # (m, E)
        acc = (lp.argmax(axis=-1) == self._answers[None, :]).astype(np.float64)
        return {"logprob": right, "accuracy": acc}

    def scores(self, masks: Any) -> dict[str, np.ndarray]:
        """Both metrics for ``bool[m, n]`` masks: ``{"logprob": float[m], "accuracy": float[m]}``."""
        return {k: v.mean(axis=1) for k, v in self.per_example(masks).items()}

    def evaluate(self, masks: np.ndarray) -> np.ndarray:
        return self.scores(masks)[self.metric]

    def full_score(self) -> dict[str, float]:
        """Both metrics of the unablated model (every head kept) on this split."""
        s = self.scores(np.ones((1, self.n), bool))
        return {k: float(v[0]) for k, v in s.items()}

    def fingerprint(self) -> str:
        if self._fp is None:
            self._fp = fingerprint(
                "spexjax.heads.HeadTask/v1",
                backend=self.backend.identity(),
                metric=self.metric,
                rescale=self.rescale,
                examples=[[e.prompt, list(e.choices), e.answer] for e in self.examples],
            )
        return self._fp

    def __repr__(self) -> str:
        return (
            f"HeadTask(n={self.n} heads ({self.layers}x{self.heads}), split={self.split_name!r}, "
            f"examples={len(self.examples)}, metric={self.metric!r})"
        )


def make_task(
    questions: str | None = None,
    model: Any = None,
    *,
    metric: str = "logprob",
    heldout: float | int = 0.5,
    key: int = 0,
    batch_size: int = 16,
) -> HeadTask:
    """The task the command line builds: with no arguments, the embedded MiniLM on the built-in topic task;
    with ``model`` (a Hugging Face name or local path, or a built head backend such as
    :class:`spexjax.llm.JaxLlamaHeads`, which the command line builds for ``--model smollm2``) and ``questions``
    (an MMLU-format ``.csv``/``.jsonl``), that causal LM on those questions."""
    if model is None:
        if questions is not None:
            raise SpexError("the embedded MiniLM scores the built-in topic task; pass model= with questions=")
        return HeadTask(MiniLMHeads(), topic_examples(), metric=metric, heldout=heldout, key=key)
    if questions is None:
        raise SpexError("model= needs questions= (an MMLU-format .csv or .jsonl file)")
    if not isinstance(model, str | os.PathLike):  # a backend: HeadTask checks it has what a HeadBackend has
        return HeadTask(model, read_mcq(questions), metric=metric, heldout=heldout, key=key)
    tr = require("transformers", "llm", what="HuggingFaceHeads")
    tok = tr.AutoTokenizer.from_pretrained(model)
    lm = tr.AutoModelForCausalLM.from_pretrained(model)
    backend = HuggingFaceHeads(lm, tok, batch_size=batch_size, name=model)
    return HeadTask(backend, read_mcq(questions), metric=metric, heldout=heldout, key=key)
