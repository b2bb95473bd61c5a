"""The ablation rule (head_scales), examples I/O and splits: pure NumPy, no model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from spexjax.errors import SpexError
from spexjax.heads import Example, head_names, head_scales, read_mcq, split_examples, topic_examples


def test_head_scales_rescaling_rule():
    masks = np.zeros((3, 2 * 4), bool)
    masks[0] = True  # all kept
    masks[1, [0, 1, 2]] = True  # layer 0: 3 of 4 kept; layer 1: none
    masks[2, [5]] = True  # layer 1: 1 of 4 kept
    s = head_scales(masks, 2, 4)
    assert s.dtype == np.float32 and s.shape == (3, 2, 4)
    assert np.array_equal(s[0], np.ones((2, 4), np.float32))  # exactly 1: all kept = unablated
    np.testing.assert_allclose(s[1, 0], [4 / 3, 4 / 3, 4 / 3, 0.0])
    assert np.array_equal(s[1, 1], np.zeros(4))  # a layer with no kept heads: zeros, no division
    np.testing.assert_allclose(s[2, 1], [0, 4.0, 0, 0])
    assert np.array_equal(head_scales(masks, 2, 4, rescale=False), masks.reshape(3, 2, 4).astype(np.float32))
    # every kept layer's scales sum to the layer's head count (expected magnitude preserved)
    rng = np.random.default_rng(0)
    m = rng.random((50, 24)) < 0.5
    s = head_scales(m, 3, 8)
    kept_any = m.reshape(50, 3, 8).any(-1)
    np.testing.assert_allclose(s.sum(-1)[kept_any], 8.0, rtol=1e-6)


def test_head_scales_bad_masks():
    with pytest.raises(ValueError):
        head_scales(np.ones((2, 7), bool), 2, 4)


def test_head_names():
    assert head_names(2, 3) == ["L0H0", "L0H1", "L0H2", "L1H0", "L1H1", "L1H2"]


def test_read_mcq_csv_and_jsonl(tmp_path):
    csv_path = tmp_path / "q.csv"
    csv_path.write_text(
        'question,A,B,C,D,answer\n"What is 2+2?",3,4,5,6,B\nCapital of France?,Rome,Paris,Oslo,Bern,b\n'
    )
    ex = read_mcq(csv_path)
    assert ex == [
        Example("What is 2+2?", ("3", "4", "5", "6"), 1),
        Example("Capital of France?", ("Rome", "Paris", "Oslo", "Bern"), 1),
    ]
    raw = tmp_path / "mmlu_style.csv"  # MMLU's own files: no header
    raw.write_text("Q1,a,b,c,d,D\n")
    assert read_mcq(raw)[0].answer == 3
    jl = tmp_path / "q.jsonl"
    jl.write_text(
        json.dumps({"question": "x?", "choices": ["p", "q", "r", "s"], "answer": 2})
        + "\n"
        + json.dumps({"question": "y?", "A": "1", "B": "2", "C": "3", "D": "4", "answer": "A"})
        + "\n"
    )
    ex = read_mcq(jl)
    assert ex[0].answer == 2 and ex[1].choices == ("1", "2", "3", "4") and ex[1].answer == 0


def test_read_mcq_errors(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("Q,a,b,c,d,E\n")
    with pytest.raises(SpexError, match="bad.csv:1"):
        read_mcq(bad)
    with pytest.raises(SpexError, match=".csv or .jsonl"):
        read_mcq(tmp_path / "q.txt")


def test_split_examples_disjoint_and_seeded():
    ex = topic_examples()
    assert len(ex) == 64 and {e.answer for e in ex} == {0, 1, 2, 3}
    fit, test = split_examples(ex, 0.5, key=3)
    assert len(fit) == len(test) == 32
    assert {e.prompt for e in fit}.isdisjoint({e.prompt for e in test})
    assert split_examples(ex, 0.5, key=3) == (fit, test)
    assert split_examples(ex, 0.5, key=4) != (fit, test)
    with pytest.raises(SpexError, match="heldout"):
        split_examples(ex, 1.5)
