"""The ``spexjax`` command: explain a text on a language model and write a report.

    spexjax demo [--report demo.html]      # the built-in double negation, embedded model, offline
    spexjax explain TEXT | --file PATH [--model embedded|smollm2|hf:NAME_OR_PATH|openai:BASE_URL --model-name M]
                   [--unit word] [--ablation remove] [--response R | --contrast A,B] [--keep TEXT]
                   [--method spex|proxyspex]
                   [--budget N] [--max-degree D] [--cache run.sqlite] [--report r.html] [--json r.json] [--seed S]
    spexjax report RESULT.json --report r.html   # rebuild a report from a saved result
    spexjax heads | data                   # the other lenses (attention heads, training points)

Subcommands live in :data:`COMMANDS`, a small registry: ``@command("name", help=...)`` on a function that
takes the subparser and returns the function that runs it, so a lens adds its command in one place.

Bad input (empty text, unknown model scheme, unreachable endpoint, budget too small, ...) ends with exit
status 2 and one line ``spexjax CMD: error: --option: what is wrong``, never a traceback (set
``SPEXJAX_DEBUG=1`` to see one).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["COMMANDS", "CliError", "DEMO_TEXT", "build_parser", "command", "main"]

DEMO_TEXT = "The movie was not bad at all."
"""The built-in example: 'not' and 'bad' each pull the sentiment down, together they pull it up."""
DEMO_BUDGET = 1000
DEMO_DEGREE = 3
DEMO_REPORT = "spexjax-demo.html"
FAITHFULNESS_MASKS = 100


class CliError(Exception):
    """Bad command-line input: printed as one line naming the option, exit status 2."""


@contextlib.contextmanager
def option(name: str) -> Iterator[None]:
    """Turn a library error raised while using ``name``'s value into a one-line :class:`CliError`."""
    try:
        yield
    except CliError:
        raise
    except (ValueError, TypeError, OSError, ImportError, KeyError) as err:
        msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CliError(f"{name}: {msg}") from err


# -- the registry ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Command:
    name: str
    help: str
    setup: Callable[[argparse.ArgumentParser], Callable[[argparse.Namespace], int | None]]


COMMANDS: dict[str, Command] = {}


def command(name: str, *, help: str) -> Callable:  # noqa: A002 - argparse's word
    """Register a subcommand: ``setup(parser)`` adds its arguments and returns ``run(args) -> exit status``."""

    def register(setup: Callable) -> Callable:
        COMMANDS[name] = Command(name, help, setup)
        return setup

    return register


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {value}")
    return value


def _nonneg_int(text: str) -> int:
    return 0 if text.strip() == "0" else _positive_int(text)


def _say(msg: str = "") -> None:
    print(msg, flush=True)


# -- progress ----------------------------------------------------------------------------------------
def _progress_bar(total: int, enabled: bool) -> Any:
    """A tqdm bar on stderr (rate, ETA) when stderr is a terminal; ``None`` otherwise or without tqdm."""
    if not enabled:
        return None
    try:
        if not sys.stderr.isatty():
            return None
        from tqdm.auto import tqdm
    except Exception:  # noqa: BLE001 - no tqdm, odd stderr: run without a bar
        return None
    import shutil

    width = min(shutil.get_terminal_size((100, 20)).columns, 120)  # a size-less pty reports 0 columns
    return tqdm(total=total, desc="model queries", unit="q", ncols=width, file=sys.stderr, leave=True)


def _counted(task: Any, bar: Any) -> Any:
    """``task`` itself, or a thin ValueFunction that forwards to it and advances ``bar`` by the rows evaluated.

    Rows answered by the query cache never reach the task, so the bar counts model work (rate and ETA of
    the model), and the total is closed at the end.
    """
    if bar is None:
        return task
    from spexjax.value_functions import ValueFunction

    class _Counted(ValueFunction):
        def __init__(self) -> None:
            self.n = task.n

        @property
        def feature_names(self) -> list[str]:
            return task.feature_names

        def fingerprint(self) -> str | None:
            return task.fingerprint()

        def evaluate(self, masks: np.ndarray) -> np.ndarray:
            out = task.evaluate(masks)
            bar.update(len(masks))
            return out

    return _Counted()


# -- models and tasks --------------------------------------------------------------------------------
MODEL_SCHEMES = ("embedded", "smollm2", "hf", "openai")


def _split_model(spec: str) -> tuple[str, str]:
    spec = spec.strip()
    scheme, _, rest = spec.partition(":")
    if scheme not in MODEL_SCHEMES:
        raise CliError(
            f"--model: unknown model {spec!r}; use 'embedded' (default, offline), 'smollm2' (SmolLM2-135M-Instruct "
            "in JAX, offline), 'hf:NAME_OR_PATH' (a transformers causal LM) or 'openai:BASE_URL' with --model-name"
        )
    if scheme == "smollm2" and rest:
        raise CliError(f"--model: smollm2 takes nothing after it; got {spec!r}")
    if scheme not in ("embedded", "smollm2") and not rest:
        raise CliError(f"--model: {scheme}: needs a {'name or path' if scheme == 'hf' else 'base URL'} after the colon")
    return scheme, rest


def _backend(args: argparse.Namespace) -> tuple[Any, str]:
    """The backend named by ``--model`` and a short human description of it."""
    scheme, rest = _split_model(args.model)
    if scheme != "openai" and args.model_name:
        raise CliError("--model-name: only used with --model openai:BASE_URL")
    if scheme == "embedded":
        if rest not in ("", "sentiment", "similarity"):
            raise CliError(
                f"--model: embedded:{rest}: use 'embedded' (zero-shot), or 'embedded:similarity' with --query"
            )
        from spexjax.llm import MiniLMSimilarity, MiniLMZeroShot

        if args.query is not None or rest == "similarity":
            if args.query is None:
                raise CliError("--query: embedded:similarity needs --query TEXT (the text to compare with)")
            with option("--query"):
                return MiniLMSimilarity(args.query), "embedded MiniLM-L6 (JAX), query similarity"
        labels = [s.strip() for s in args.labels.split(",")]
        with option("--labels"):
            backend = MiniLMZeroShot(labels, target=args.label if args.label is not None else -1)
        return backend, f"embedded MiniLM-L6 (JAX), zero-shot {'/'.join(backend.labels)}"
    if args.query is not None or args.label is not None:
        raise CliError(f"--{'query' if args.query is not None else 'label'}: only used with the embedded model")
    if scheme == "smollm2":
        from spexjax.llm import SmolLM2

        with option("--model"):
            return SmolLM2(), "SmolLM2-135M-Instruct (JAX, float32)"
    if scheme == "hf":
        from spexjax.llm import HuggingFaceLM

        with option("--model"):
            try:
                return HuggingFaceLM.from_pretrained(rest), f"hf:{rest}"
            except (OSError, ValueError) as err:
                if os.path.isdir(rest) or (isinstance(err, FileNotFoundError) and "does not exist" in str(err)):
                    raise
                raise CliError(f"--model: hf:{rest}: no such folder, and as a hub name it could not be loaded "
                               f"(hub names need the network): {str(err).strip().splitlines()[0]}") from err
    if not args.model_name:
        raise CliError("--model-name: required with --model openai:BASE_URL (the model name the server serves)")
    from spexjax.llm import OpenAICompatible

    with option("--model"):
        backend = OpenAICompatible(rest, args.model_name, max_retries=args.retries, timeout=args.timeout)
    return backend, f"openai:{rest} ({args.model_name})"


def _backend_failure(err: BaseException) -> bool:
    """True for errors of the model itself (endpoint down, bad answer), not of an option's value."""
    return isinstance(err, OSError) or type(err).__module__.startswith(("spexjax.llm.openai", "urllib", "http"))


def _describe_target(task: Any, backend: Any) -> str:
    if getattr(task, "contrast", None):
        a, b = task.contrast
        return f"log p({a!r}) - log p({b!r}) of the next token"
    if getattr(task, "response", None) is not None:
        what = "its own greedy response" if getattr(task, "generated", False) else "the response"
        return f"log p({what} {task.response[:60]!r}) (teacher-forced)"
    if hasattr(backend, "query"):
        return f"cosine similarity to {backend.query!r}"
    if hasattr(backend, "labels"):
        return f"log-odds of {backend.target!r} vs the other labels"
    return "the backend's score"


def _read_text(args: argparse.Namespace) -> str:
    if args.text is not None and args.file is not None:
        raise CliError("--file: give TEXT or --file PATH, not both")
    if args.file is not None:
        with option("--file"):
            with open(args.file, encoding="utf-8") as fh:
                text = fh.read()
        where = "--file"
    elif args.text is not None:
        text, where = args.text, "TEXT"
    else:
        raise CliError("TEXT: give the text to explain (or --file PATH)")
    if not text.strip():
        raise CliError(f"{where}: the text to explain is empty")
    return text


def _contrast(spec: str | None) -> tuple[str, str] | None:
    if spec is None:
        return None
    parts = spec.split(",")
    if len(parts) != 2 or not all(p.strip() for p in parts):
        raise CliError(f"--contrast: expected two tokens 'A,B' (e.g. 'Yes,No'); got {spec!r}")
    return parts[0], parts[1]


def _check_budget(args: argparse.Namespace, n: int) -> None:
    """Fail before any model query when the budget cannot pay for the design."""
    if args.method == "spex":
        from spexjax.plans import make_plan

        with option("--budget"):
            make_plan(n, args.budget, args.max_degree)
    else:
        from spexjax.proxyspex import MIN_SAMPLES

        if args.budget < MIN_SAMPLES:
            raise CliError(f"--budget: budget={args.budget} is too small: ProxySPEX needs at least {MIN_SAMPLES}")


# -- explain -----------------------------------------------------------------------------------------
def _add_explain_options(p: argparse.ArgumentParser, *, budget: int, max_degree: int) -> None:
    m = p.add_argument_group("model")
    m.add_argument("--model", default="embedded", help="embedded (default: MiniLM zero-shot sentiment, offline), "
                   "embedded:similarity (with --query), hf:NAME_OR_PATH, or openai:BASE_URL (with --model-name)")
    m.add_argument("--model-name", default=None, help="model name the OpenAI-compatible server serves")
    m.add_argument("--labels", default="negative,positive",
                   help="embedded zero-shot labels (default negative,positive)")
    m.add_argument("--label", default=None, help="embedded zero-shot label whose log-odds is explained (default: last)")
    m.add_argument("--query", default=None, help="embedded: explain the cosine similarity to this text instead")
    m.add_argument("--timeout", type=float, default=60.0, help="openai: seconds per request (default 60)")
    m.add_argument("--retries", type=_nonneg_int, default=2, help="openai: retries per failed request (default 2)")
    t = p.add_argument_group("what is explained")
    t.add_argument("--unit", choices=("token", "word", "sentence", "paragraph"), default="word",
                   help="what one feature is (default word)")
    t.add_argument("--ablation", choices=("remove", "placeholder"), default="remove",
                   help="delete ablated units (default) or put one placeholder in their place")
    g = t.add_mutually_exclusive_group()
    g.add_argument("--response", default=None, help="LM: explain log p(this response | prompt)")
    g.add_argument("--contrast", default=None, metavar="A,B", help="LM: explain log p(A) - log p(B) of the next token")
    t.add_argument("--keep", default=None, metavar="TEXT", help="text after TEXT that is never ablated (e.g. the "
                   "question; joined with a space)")
    r = p.add_argument_group("run")
    r.add_argument("--method", choices=("spex", "proxyspex"), default="spex", help="algorithm (default spex)")
    r.add_argument("--budget", type=_positive_int, default=budget, help=f"most model queries (default {budget})")
    r.add_argument("--max-degree", type=_positive_int, default=max_degree, help=f"largest interaction order "
                   f"(default {max_degree})")
    r.add_argument("--seed", type=int, default=0, help="random key (same key, same result)")
    r.add_argument("--batch-size", type=_positive_int, default=128, help="masks per model call (default 128)")
    r.add_argument("--cache", default=None, help="SQLite file: finished queries are stored and reused (resume)")
    r.add_argument("--faithfulness", type=_nonneg_int, default=FAITHFULNESS_MASKS, metavar="M",
                   help=f"R^2 on M held-out random masks, M more queries (default {FAITHFULNESS_MASKS}; 0 skips)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    o = p.add_argument_group("output")
    o.add_argument("--report", default=None, metavar="PATH.html", help="write the self-contained HTML report")
    o.add_argument("--json", default=None, metavar="PATH.json", help="save the result (Interactions.save)")
    o.add_argument("--top", type=_positive_int, default=8, help="terms printed (default 8)")


def explain_text(text: str, args: argparse.Namespace, *, title: str | None = None) -> Any:
    """Run one explanation from parsed options; returns the final :class:`~spexjax.Interactions`."""
    from spexjax.llm import PromptTask

    contrast = _contrast(args.contrast)
    backend, model_desc = _backend(args)
    opt = "--contrast" if contrast else ("--response" if args.response is not None else "--unit")
    keep = {}
    if getattr(args, "keep", None):
        keep["keep"] = args.keep if args.keep[:1].isspace() or text[-1:].isspace() else " " + args.keep
    try:
        task = PromptTask(backend, text, unit=args.unit, ablation=args.ablation, response=args.response,
                          contrast=contrast, **keep)
    except Exception as err:  # noqa: BLE001 - sorted below: the model's failure or the option's
        # a backend that cannot be reached fails here when it generates its own response
        with option("--model" if _backend_failure(err) else opt):
            raise
    n = task.n
    _check_budget(args, n)
    target = _describe_target(task, backend)
    _say(f"Explaining {n} {args.unit}s on {model_desc}\nvalue = {target}")
    with option("--model"):
        full = float(task(np.ones((1, n), bool))[0])  # one query: reaches the model before the budget is spent
    _say(f"f(all {args.unit}s kept) = {full:+.4f}")

    extra = {"text": text, "unit": args.unit, "ablation": args.ablation, **keep}
    return run_task(task, args, title=title or "spexjax explanation", model=model_desc, target=target,
                    extra_provenance=extra, model_option="--model")


@command("explain", help="explain which units of a text, alone and together, move a model's output")
def _explain(p: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    p.add_argument("text", nargs="?", default=None, help="the text to explain (or --file PATH)")
    p.add_argument("--file", default=None, help="read the text from this file")
    _add_explain_options(p, budget=2000, max_degree=4)

    def run(args: argparse.Namespace) -> int:
        explain_text(_read_text(args), args)
        return 0

    return run


@command("demo", help="the built-in double negation ('not bad') on the embedded model, with a report (offline)")
def _demo(p: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    _add_explain_options(p, budget=DEMO_BUDGET, max_degree=DEMO_DEGREE)
    p.set_defaults(report=DEMO_REPORT)

    def run(args: argparse.Namespace) -> int:
        explain_text(DEMO_TEXT, args, title="Double negation: how 'not' and 'bad' combine")
        return 0

    return run


@command("report", help="rebuild the HTML report (and PNG plots) from a saved result")
def _report(p: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    p.add_argument("result", help="a file written by --json or Interactions.save")
    p.add_argument("--report", default=None, metavar="PATH.html", help="where to write the report "
                   "(default: RESULT with .html)")
    p.add_argument("--png", default=None, metavar="PREFIX", help="also write PREFIX-text.png, -bar.png, -network.png")
    p.add_argument("--top", type=_positive_int, default=8, help="terms printed (default 8)")

    def run(args: argparse.Namespace) -> int:
        from spexjax.interactions import Interactions
        from spexjax.report import save_html, summary

        with option("RESULT"):
            result = Interactions.load(args.result)
        out = args.report or os.path.splitext(args.result.removesuffix(".gz"))[0] + ".html"
        with option("--report"):
            save_html(result, out)
        _say(summary(result, k=args.top))
        _say(f"report written to {out}")
        if args.png:
            from spexjax.report import plot_bar, plot_network, plot_text

            with option("--png"):
                plot_text(result, path=f"{args.png}-text.png")
                plot_bar(result, path=f"{args.png}-bar.png")
                plot_network(result, index="Moebius", path=f"{args.png}-network.png")
            _say(f"plots written to {args.png}-text.png, -bar.png, -network.png")
        return 0

    return run


# -- the other lenses: attention heads and training points -----------------------------------------
def _add_legacy_run_options(p: argparse.ArgumentParser, *, budget: int, max_degree: int,
                            method: str = "spex") -> None:
    p.add_argument("--budget", type=_positive_int, default=budget, help=f"most model queries (default {budget})")
    p.add_argument("--max-degree", type=_positive_int, default=max_degree, help="largest interaction order")
    p.add_argument("--method", choices=("spex", "proxyspex"), default=method, help=f"algorithm (default {method})")
    p.add_argument("--seed", type=int, default=0, help="random key (same key, same result)")
    p.add_argument("--top", type=_positive_int, default=10, help="how many interactions to print")
    p.add_argument("--batch-size", type=_positive_int, default=256, help="masks per value-function call")
    p.add_argument("--cache", default=None, help="SQLite file: finished queries are stored and reused (resume)")
    p.add_argument("--out", "--json", dest="json", default=None, help="save the result (Interactions.save)")
    p.add_argument("--report", default=None, metavar="PATH.html", help="write the HTML report")
    p.add_argument("--faithfulness", type=_nonneg_int, default=FAITHFULNESS_MASKS, metavar="M",
                   help=f"R^2 on M fresh random masks (default {FAITHFULNESS_MASKS}; 0 skips)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


@contextlib.contextmanager
def _blame_model(name: str | None) -> Iterator[None]:
    """A failure of the value function itself (endpoint down, bad values) becomes a one-line error on ``name``."""
    from spexjax.errors import ValueFunctionError

    try:
        yield
    except ValueFunctionError as err:
        if name is None:
            raise
        msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CliError(f"{name}: {msg}") from err


def run_task(task: Any, args: argparse.Namespace, *, title: str, model: str, target: str,
             extra_provenance: dict[str, Any] | None = None, model_option: str | None = None,
             finish: Callable[[Any], Any] | None = None) -> Any:
    """Explain any ValueFunction with ``n``/``feature_names``/``fingerprint``: run, measure R², print, save.

    ``model_option`` names the option blamed when the value function fails during the run (``--model`` for an
    endpoint that goes down); without it the error goes up as it is. ``finish(result) -> result`` runs after
    the summary is printed and before anything is saved: a lens adds what its report view needs (a new result,
    e.g. ``spexjax.report.with_grid``), so ``--json`` and ``--report`` hold the same metadata.
    """
    from spexjax.pipeline import explain
    from spexjax.report import save_html, summary

    blame = functools.partial(_blame_model, model_option)
    _check_budget(args, task.n)
    _say(title)
    bar = _progress_bar(args.budget + int(args.faithfulness or 0), not args.quiet)
    options: dict[str, Any] = {"batch_size": args.batch_size, "progress": False,
                               "feature_names": list(task.feature_names)}
    if args.cache:
        options["cache"] = args.cache
    provenance = {"title": title.splitlines()[0], "model": model, "target": target, **(extra_provenance or {})}
    try:
        with blame():
            final = explain(_counted(task, bar), task.n, method=args.method, budget=args.budget,
                                    max_degree=args.max_degree, key=args.seed,
                                    faithfulness=int(args.faithfulness or 0), provenance=provenance, **options)
    finally:
        if bar is not None:
            bar.total = bar.n
            bar.close()
    result = final
    seconds = float(final.meta["provenance"]["seconds"])
    hits = int(final.meta.get("cache_hits", 0) or 0)
    _say("")
    _say(summary(final, k=args.top))
    cached = f", {hits} of them answered by the cache" if hits else ""
    _say(f"model queries: {result.queries} (budget {args.budget}{cached}) in {seconds:.1f} s")
    if finish is not None:
        final = finish(final)
    if args.json:
        with option("--json"):
            final.save(args.json)
        _say(f"result saved to {args.json}")
    if args.report:
        with option("--report"):
            save_html(final, args.report)
        _say(f"report written to {args.report}")
    return final


@command("heads", help="which attention heads a task score needs, alone and together, and which heads to keep")
def _heads(p: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    p.add_argument("--model", default=None, metavar="NAME_OR_PATH",
                   help="a transformers causal LM, or 'smollm2' (SmolLM2-135M-Instruct in JAX, offline; "
                        "default: the embedded MiniLM on its built-in topic task)")
    p.add_argument("--questions", default=None, metavar="FILE.csv|.jsonl", help="MMLU-format questions (with --model)")
    p.add_argument("--metric", choices=("logprob", "accuracy"), default="logprob",
                   help="task score: mean log-prob of the right answer (smooth) or accuracy")
    p.add_argument("--prune", type=float, nargs="*", default=None, metavar="FRACTION",
                   help="also print the exact best heads to keep at these fractions, scored on the held-out split")
    # 72+ heads: ProxySPEX needs ~10x fewer masks than SPEX when interactions are hierarchical
    _add_legacy_run_options(p, budget=600, max_degree=3, method="proxyspex")

    def run(args: argparse.Namespace) -> int:
        from spexjax.heads import kept_size, make_task

        lm: Any = args.model
        model = args.model or "embedded MiniLM-L6 (JAX)"
        if args.model == "smollm2":  # the JAX backend (all 30 x 9 heads), built here: make_task takes backends
            if args.questions is None:
                raise CliError("--questions: --model smollm2 needs MMLU-format questions (.csv or .jsonl)")
            from spexjax.llm.llama_heads import JaxLlamaHeads

            with option("--model"):
                lm = JaxLlamaHeads()
            model = "SmolLM2-135M-Instruct (JAX)"
        try:
            task = make_task(args.questions, lm, metric=args.metric, key=args.seed)
        except ValueError as err:
            raise CliError(f"--questions/--model: {err}") from None

        def prune(result: Any) -> Any:  # the grid report outlines the kept heads and shows these scores
            from spexjax.report import with_grid

            held = task.heldout()
            full = held(np.ones((1, task.n), bool))[0]
            rows = []
            for fraction in args.prune or ():
                try:
                    size = kept_size(fraction, task.n)
                except ValueError as err:
                    raise CliError(f"--prune: {err}") from None
                keep = result.best_subset(size)
                mask = np.zeros((1, task.n), bool)
                mask[0, list(keep)] = True
                score = float(held(mask)[0])
                _say(f"keep {fraction:.0%} ({size} heads): held-out {args.metric} {score:.4f} "
                     f"(all heads {full:.4f}): " + " ".join(task.feature_names[i] for i in keep))
                rows.append({"fraction": fraction, "kept": list(keep), "heldout": score, "full": float(full)})
            return with_grid(result, task.layers, task.heads, prune=rows, metric=args.metric)

        run_task(task, args, title=f"Attention heads of {model}: {task!r}", model=model,
                 target=f"{args.metric} on the fit split", finish=prune)
        return 0

    return run


@command("data", help="which training points (digits images), alone and together, a prediction depends on")
def _data(p: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    p.add_argument("--n-train", type=_positive_int, default=64, help="training points (= features; digits has 1297)")
    p.add_argument("--test-index", type=_nonneg_int, default=0, help="which digits test image to explain (0..499)")
    p.add_argument("--model", choices=("logistic", "mlp", "cnn"), default="logistic", help="what is retrained")
    p.add_argument("--steps", type=_positive_int, default=100, help="optimizer steps per training")
    _add_legacy_run_options(p, budget=2000, max_degree=2, method="proxyspex")

    def run(args: argparse.Namespace) -> int:
        from spexjax.data import RetrainTask, load_digits_split

        try:
            Xtr, ytr, Xte, yte = load_digits_split(args.n_train)
            if args.test_index >= len(yte):
                raise ValueError(f"test index must be < {len(yte)}; got {args.test_index}")
        except ValueError as err:
            raise CliError(f"--n-train/--test-index: {err}") from None
        task = RetrainTask(Xtr, ytr, Xte[args.test_index], int(yte[args.test_index]), model=args.model,
                           steps=args.steps)
        title = (f"Attributing the margin of digits test image {args.test_index} (label {int(yte[args.test_index])}) "
                 f"to {task.n} training images ({args.model}, {args.steps} steps per training)")
        j, label = args.test_index, int(yte[args.test_index])

        def images(result: Any) -> Any:  # the image report: thumbnails of the terms' training images
            from spexjax.report import with_images

            margin = float(task(np.ones((1, task.n), bool))[0]) if args.report or args.json else None
            return with_images(result, Xtr, ytr, test_image=Xte[j], test_label=label, margin=margin,
                               test_name=f"digits test image {j}")

        run_task(task, args, title=title, model=f"{args.model} retrained per mask (JAX, vmapped)",
                 target="margin of the test image", finish=images)
        return 0

    return run


# -- entry point ---------------------------------------------------------------------------------------
def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Callable]]:
    """The parser and, per subcommand, the function that runs it."""
    parser = argparse.ArgumentParser(
        prog="spexjax", description="Find the few interactions that drive a model's output (SPEX, in JAX)."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    runners = {}
    for cmd in COMMANDS.values():
        runners[cmd.name] = cmd.setup(sub.add_parser(cmd.name, help=cmd.help, description=cmd.help))
    return parser, runners


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``spexjax`` script and ``python -m spexjax``; returns the exit status."""
    from spexjax.errors import MissingExtraError

    parser, runners = build_parser()
    args = parser.parse_args(argv)
    debug = os.environ.get("SPEXJAX_DEBUG", "") not in ("", "0")
    try:
        return int(runners[args.command](args) or 0)
    except CliError as err:
        print(f"spexjax {args.command}: error: {err}", file=sys.stderr)
        return 2
    except MissingExtraError as err:  # an optional dependency is missing: say which extra to install
        print(f"spexjax {args.command}: error: {str(err).splitlines()[0]}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        cache = getattr(args, "cache", None)
        print("interrupted" + (f"; finished queries are kept in {cache}" if cache else ""), file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - one line for the user; the traceback on request
        if debug:
            raise
        msg = str(err).strip().splitlines()[0] if str(err).strip() else ""
        print(f"spexjax {args.command}: error: {type(err).__name__}: {msg} (SPEXJAX_DEBUG=1 shows the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
