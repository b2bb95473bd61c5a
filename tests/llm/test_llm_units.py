"""Units + ablation: the prompt is rebuilt exactly from its parts; ablation deletes or replaces units only."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from spexjax.llm.units import ABLATIONS, Units, ablate, split_units


def _all_masks(n: int) -> np.ndarray:
    return np.array(list(itertools.product([False, True], repeat=n)), dtype=bool)


def test_word_remove_is_join_of_kept_words():
    prompt = "The movie was not bad at all"
    u = split_units(prompt, "word")
    words = prompt.split()
    assert u.units == tuple(words) and u.text == prompt
    for row in _all_masks(len(words)):
        assert u.render(row) == " ".join(w for w, k in zip(words, row, strict=False) if k)


def test_word_placeholder_keeps_positions():
    u = split_units("a b c", "word")
    assert u.render([True, False, False], "placeholder", "[MASK]") == "a [MASK] [MASK]"
    assert u.render([False, True, True], "placeholder", "_") == "_ b c"
    assert ablate(u, np.ones((2, 3), bool), "placeholder", "_") == ["a b c", "a b c"]


def test_irregular_whitespace_is_kept_around_units():
    prompt = "  one two,\n three  "
    u = split_units(prompt, "word")
    assert u.units == ("one", "two,", "three") and u.text == prompt
    assert u.lead == "  " and u.trail == "  " and u.seps == ("", " ", "\n ")
    assert u.render([True, False, True]) == "  one\n three  "
    assert u.render([False, False, False]) == "    "


def test_sentences_and_paragraphs():
    s = split_units("One. Two!  Three? four", "sentence")
    assert s.units == ("One.", "Two!", "Three?", "four") and s.text == "One. Two!  Three? four"
    assert s.render([True, False, True, False]) == "One.  Three?"
    p = split_units("Para one.\nStill one.\n\nPara two.\n \n\nThree", "paragraph")
    assert p.units == ("Para one.\nStill one.", "Para two.", "Three")
    assert p.text == "Para one.\nStill one.\n\nPara two.\n \n\nThree"
    assert p.render([False, True, True]) == "Para two.\n \n\nThree"


def test_documents_prefix_suffix():
    docs = ["Doc A: cats purr.\n", "Doc B: dogs bark.\n"]
    u = split_units(docs, None, prefix="Context:\n", suffix="Question: who barks?")
    assert u.n == 2
    assert u.text == "Context:\n" + "".join(docs) + "Question: who barks?"
    assert u.render([False, True]) == "Context:\nDoc B: dogs bark.\nQuestion: who barks?"
    assert u.render([False, True], "placeholder", "[removed]\n") == (
        "Context:\n[removed]\nDoc B: dogs bark.\nQuestion: who barks?"
    )


def test_tokens_from_backend():
    class Tok:
        def token_units(self, text):
            return [text[:3], text[3:]]

    u = split_units("hello", "token", backend=Tok())
    assert u.units == ("hel", "lo") and u.render([False, True]) == "lo"

    class Bad:
        def token_units(self, text):
            return ["x"]

    with pytest.raises(ValueError, match="concatenation"):
        split_units("hello", "token", backend=Bad())
    with pytest.raises(ValueError, match="token_units"):
        split_units("hello", "token", backend=object())


def test_errors():
    with pytest.raises(ValueError, match="empty"):
        split_units("   ")
    with pytest.raises(ValueError, match="unit"):
        split_units("a b", "letter")
    with pytest.raises(TypeError, match="prompt"):
        split_units(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one document"):
        split_units([])
    with pytest.raises(ValueError, match="non-empty"):
        split_units(["a", ""])
    with pytest.raises(TypeError, match="suffix"):
        split_units("a", suffix=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ablation"):
        ablate(split_units("a b"), np.ones((1, 2), bool), "blank")
    with pytest.raises(ValueError, match="n=2"):
        split_units("a b").render([True])
    assert set(ABLATIONS) == {"remove", "placeholder"} and isinstance(split_units("a"), Units)
