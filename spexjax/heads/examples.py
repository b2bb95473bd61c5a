"""Labelled examples a head-pruned model is scored on: multiple-choice items, read from files or built in.

One shape for every task: an :class:`Example` is a prompt, its answer choices and the index of the right one.

- :func:`read_mcq` reads MMLU-format questions (CSV with or without a header, or JSONL) that the user gives.
- :func:`topic_examples` is the offline task for the embedded MiniLM: short sentences written for this module
  (no dataset download), each about one of four topics; the choices are the four label sentences
  ``"This sentence is about {topic}."`` and the model picks the label whose embedding is closest. The
  sentences avoid naming their topic, so the model must use what the words mean. The unablated
  all-MiniLM-L6-v2 scores well above the 25 % chance level on them (the measured figure is in the README's
  "Attention heads" section and ``benchmarks/results/heads_pruning.md``).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from spexjax._rng import HEADS_EXAMPLE_SPLIT, numpy_rng
from spexjax.errors import SpexError

__all__ = ["Example", "TOPICS", "read_mcq", "split_examples", "topic_examples"]

LETTERS = "ABCDEFGHIJ"


@dataclass(frozen=True)
class Example:
    """A prompt, its answer choices and the index of the right choice."""

    prompt: str
    choices: tuple[str, ...]
    answer: int

    def __post_init__(self) -> None:
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise SpexError(f"Example.prompt must be a non-empty str; got {self.prompt!r}")
        if len(self.choices) < 2 or not all(isinstance(c, str) for c in self.choices):
            raise SpexError(f"Example.choices must be >= 2 strings; got {self.choices!r}")
        if not (isinstance(self.answer, int) and 0 <= self.answer < len(self.choices)):
            raise SpexError(f"Example.answer must index choices (0..{len(self.choices) - 1}); got {self.answer!r}")


def _answer_index(raw: Any, n_choices: int, where: str) -> int:
    if isinstance(raw, int | np.integer) and not isinstance(raw, bool):
        idx = int(raw)
    else:
        s = str(raw).strip().upper()
        if len(s) == 1 and s in LETTERS:
            idx = LETTERS.index(s)
        elif s.isdigit():
            idx = int(s)
        else:
            raise SpexError(f"{where}: answer must be a letter A-{LETTERS[n_choices - 1]} or an index; got {raw!r}")
    if not 0 <= idx < n_choices:
        raise SpexError(f"{where}: answer {raw!r} is outside the {n_choices} choices")
    return idx


def read_mcq(path: str | os.PathLike[str]) -> list[Example]:
    """Multiple-choice questions in the MMLU format from a ``.csv`` or ``.jsonl`` file.

    CSV: rows ``question, A, B, C, D, answer`` (MMLU's own files have no header; a first row whose cells are
    ``question, A, B, C, D, answer`` is taken as a header). JSONL: one object per line with ``question``, and
    either ``choices`` (a list) or keys ``A``..``D``, and ``answer`` (a letter or a 0-based index).
    The prompt stored is the question; backends format it (see :class:`~spexjax.heads.HuggingFaceHeads`).
    """
    path = os.fspath(path)
    out: list[Example] = []
    if path.endswith(".jsonl") or path.endswith(".json"):
        with open(path, encoding="utf-8") as fh:
            for ln, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                doc = json.loads(line)
                where = f"{path}:{ln}"
                if "question" not in doc or "answer" not in doc:
                    raise SpexError(f"{where}: needs 'question' and 'answer'")
                if "choices" in doc:
                    choices = tuple(str(c) for c in doc["choices"])
                else:
                    choices = tuple(str(doc[k]) for k in LETTERS if k in doc)
                out.append(Example(str(doc["question"]), choices, _answer_index(doc["answer"], len(choices), where)))
    elif path.endswith(".csv"):
        with open(path, encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
        if rows and [c.strip().lower() for c in rows[0]] == ["question", "a", "b", "c", "d", "answer"]:
            rows = rows[1:]
        for ln, row in enumerate(rows, 1):
            if not row:
                continue
            where = f"{path}:{ln}"
            if len(row) < 4:
                raise SpexError(f"{where}: expected question, choices..., answer; got {len(row)} cells")
            choices = tuple(row[1:-1])
            out.append(Example(row[0], choices, _answer_index(row[-1], len(choices), where)))
    else:
        raise SpexError(f"path must end in .csv or .jsonl; got {path!r}")
    if not out:
        raise SpexError(f"{path}: no questions found")
    return out


def split_examples(examples: Sequence[Example], heldout: float | int, *, key: int = 0) -> tuple[list, list]:
    """A seeded (fit, held-out) split; ``heldout`` is a fraction in (0, 1) or a count."""
    ex = list(examples)
    if isinstance(heldout, float):
        if not 0.0 < heldout < 1.0:
            raise SpexError(f"heldout must be a fraction in (0, 1) or a count; got {heldout}")
        k = int(round(heldout * len(ex)))
    elif isinstance(heldout, int) and not isinstance(heldout, bool):
        k = heldout
    else:
        raise TypeError(f"heldout must be a float fraction or an int count; got {type(heldout).__name__}")
    if not 1 <= k < len(ex):
        raise SpexError(f"heldout must leave >= 1 example in each split; got {k} of {len(ex)}")
    perm = numpy_rng(key, HEADS_EXAMPLE_SPLIT).permutation(len(ex))
    return [ex[i] for i in sorted(perm[k:])], [ex[i] for i in sorted(perm[:k])]


TOPICS = ("sports", "food and cooking", "the weather", "computers and software")

_TOPIC_SENTENCES: dict[str, tuple[str, ...]] = {
    "sports": (
        "The striker scored twice in the final minutes.",
        "She won the marathon in record time.",
        "The referee showed him a red card.",
        "Our team lost the match on penalties.",
        "He hit a home run in the ninth inning.",
        "The goalkeeper saved a difficult shot.",
        "They trained hard before the championship.",
        "The tennis final lasted five sets.",
        "The coach picked a new starting lineup.",
        "The swimmer broke the world record.",
        "Fans cheered as the ball crossed the line.",
        "The cyclist crashed on the last climb.",
        "He dribbled past three defenders.",
        "The boxer was knocked out in round two.",
        "The league title was decided on the last day.",
        "She served an ace to win the set.",
    ),
    "food and cooking": (
        "Stir the sauce until it thickens.",
        "Bake the bread for forty minutes.",
        "The soup needs more salt and pepper.",
        "She chopped onions for the stew.",
        "Fry the eggs in a little butter.",
        "This recipe calls for fresh basil.",
        "The cake was too sweet for me.",
        "Let the dough rise overnight.",
        "He grilled the fish with lemon.",
        "Simmer the beans for an hour.",
        "The pasta should be cooked al dente.",
        "Whisk the cream until it forms peaks.",
        "Roast the vegetables in a hot oven.",
        "The curry was spicy and rich.",
        "Peel the potatoes before boiling them.",
        "We had pancakes with syrup for breakfast.",
    ),
    "the weather": (
        "Heavy rain is expected this afternoon.",
        "It will be sunny and warm tomorrow.",
        "Strong winds knocked down several trees.",
        "Snow is falling in the mountains.",
        "The forecast warns of thunderstorms tonight.",
        "Temperatures will drop below freezing.",
        "A thick fog covered the valley this morning.",
        "The drought has lasted three months.",
        "Expect clear skies over the weekend.",
        "A hurricane is approaching the coast.",
        "It was humid and cloudy all day.",
        "Hail damaged the cars in the parking lot.",
        "The heatwave will continue until Friday.",
        "Light showers will clear by noon.",
        "A cold front is moving in from the north.",
        "The wind chill made it feel even colder.",
    ),
    "computers and software": (
        "Restart the laptop to install the update.",
        "The program crashed with a memory error.",
        "He wrote a script to parse the log files.",
        "The new processor has eight cores.",
        "Back up your files before upgrading.",
        "The website loads slowly on old phones.",
        "She fixed a bug in the login code.",
        "The database query returns too many rows.",
        "Install the driver for the printer.",
        "The app stores passwords in an encrypted vault.",
        "Compile the code with optimizations enabled.",
        "The server ran out of disk space.",
        "Our network firewall blocked the connection.",
        "The keyboard shortcut opens a new tab.",
        "He debugged the function line by line.",
        "The operating system needs more RAM.",
    ),
}


def topic_examples() -> list[Example]:
    """The built-in 64-sentence, 4-topic zero-shot classification task (16 sentences per topic).

    Choices are ``"This sentence is about {topic}."`` for the four :data:`TOPICS`, in that order.
    """
    choices = tuple(f"This sentence is about {t}." for t in TOPICS)
    return [Example(s, choices, answer) for answer, topic in enumerate(TOPICS) for s in _TOPIC_SENTENCES[topic]]
