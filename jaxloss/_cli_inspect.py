"""``jaxloss inspect`` and ``jaxloss check``: gradient reports and stability cards from the shell.

    jaxloss inspect huber --predictions 0.5 2 10 --targets 0 0 0 --delta 1
    jaxloss inspect softmax_cross_entropy --predictions 2 0 -1 0 1 3 --shape 2 3 --targets 0 2
    jaxloss check huber
    jaxloss check --all

Every registered hyperparameter of every loss is an option (``--delta``,
``--gamma``, ...), read from the registry; other keyword options pass as
``--set key=value`` (``--set from_logits=false``).
"""

from __future__ import annotations

import argparse
import ast
from typing import Any

import numpy as np

from jaxloss import _registry


def _hyperparameter_names() -> list[str]:
    names: dict[str, None] = {}
    for entry in _registry.catalog():
        for key in entry.hyperparameters:
            names[key] = None
    return sorted(names)


def _literal(text: str) -> Any:
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _inputs(entry: _registry.LossInfo, args: Any) -> tuple[np.ndarray, np.ndarray]:
    dtype = np.float64 if args.x64 else np.float32
    predictions = np.asarray(args.predictions, dtype)
    if args.shape:
        try:
            predictions = predictions.reshape(args.shape)
        except ValueError:
            raise ValueError(f"--predictions has {predictions.size} values, which do not fit --shape {tuple(args.shape)}.") from None
    # The targets take the dtype the loss's input kind uses (integer labels or floats).
    like = entry.inputs.random(np.random.default_rng(0), 2).args
    target_dtype = np.asarray(like[1]).dtype if len(like) > 1 else np.float64
    targets = np.asarray(args.targets, np.float64)
    if np.issubdtype(target_dtype, np.integer):
        if not np.all(targets == np.round(targets)):
            raise ValueError(f"{entry.name} takes integer class labels as --targets; got {args.targets}.")
        targets = targets.astype(np.int32)
    else:
        targets = targets.astype(dtype)
    if targets.size == predictions.size:
        targets = targets.reshape(predictions.shape)
    elif predictions.ndim > 1 and targets.size == int(np.prod(predictions.shape[:-1])):
        targets = targets.reshape(predictions.shape[:-1])
    return predictions, targets


def _run_inspect(args: Any) -> int:
    import jax

    if args.x64:
        jax.config.update("jax_enable_x64", True)
    from jaxloss.inspection import inspect

    entry = _registry.info(args.name)
    options: dict[str, Any] = {}
    for key in _hyperparameter_names():
        value = getattr(args, f"hp_{key}")
        if value is None:
            continue
        if key not in entry.hyperparameters:
            known = ", ".join(f"--{k}" for k in entry.hyperparameters) or "none"
            raise ValueError(f"{entry.name} has no option --{key}; its options: {known}.")
        options[key] = value
    for item in args.set or []:
        key, sep, text = item.partition("=")
        if not sep:
            raise ValueError(f"--set takes key=value; got {item!r}.")
        options[key.strip()] = _literal(text)
    predictions, targets = _inputs(entry, args)
    if args.weights:
        options["weights"] = np.asarray(args.weights, predictions.dtype)
    report = inspect(entry.fn, predictions, targets, **options)
    print(report)
    if args.plot:
        from jaxloss import plot

        fig = plot.report(report)
        written = plot.save(fig, args.plot)
        plot.close(fig)
        print(f"\nplot: {', '.join(written)}")
    return 0


def _run_check(args: Any) -> int:
    from jaxloss.inspection import check

    if args.all == bool(args.names):
        raise ValueError("give loss names or --all (not both).")
    names = [e.name for e in _registry.catalog(family=args.family)] if args.all else args.names
    dtypes = args.dtype or ["float32", "bfloat16", "float16"]
    flagged = 0
    for name in names:
        card = check(name, dtypes=dtypes)
        flagged += len(card.flagged)
        if args.all and card.ok and not args.verbose:
            print(card.summary())
        else:
            print(card)
            print()
    if args.all:
        print(f"\n{len(names)} losses checked; {flagged} flagged case(s).")
    return 1 if flagged else 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "inspect", help="value, gradient, Hessian, per-example gradients and checks of a loss at a point",
        description="Inspect a loss at a point: `jaxloss inspect huber --predictions 0.5 2 10 --targets 0 0 0 --delta 1`.")
    p.add_argument("name", help="a loss name or alias (see `jaxloss list`)")
    p.add_argument("--predictions", "-p", type=float, nargs="+", required=True, help="prediction values")
    p.add_argument("--targets", "-t", type=float, nargs="+", required=True,
                   help="target values (class indices for classification losses)")
    p.add_argument("--shape", type=int, nargs="+", help="shape of the predictions, e.g. --shape 2 3 for 2 examples, 3 classes")
    p.add_argument("--weights", type=float, nargs="+", help="per-example weights")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="any other keyword option of the loss")
    p.add_argument("--x64", action="store_true", help="compute in float64 (exact finite-difference check)")
    p.add_argument("--plot", metavar="PATH", help="save the loss-and-derivative plot to PATH")
    group = p.add_argument_group("loss options (from the registry; each loss takes its own)")
    for key in _hyperparameter_names():
        flags = sorted({f"--{key}", f"--{key.replace('_', '-')}"}, key=len)
        group.add_argument(*flags, dest=f"hp_{key}", type=float, metavar="VALUE")
    p.set_defaults(func=_run_inspect)

    c = subparsers.add_parser(
        "check", help="stability card: NaN/inf at hard inputs in value, grad, jvp, Hessian and jit",
        description="Run the hard inputs of each loss's input kind; exit status 1 if anything is flagged.")
    c.add_argument("names", nargs="*", help="loss names or aliases")
    c.add_argument("--all", action="store_true", help="every loss in the catalog")
    c.add_argument("--family", help="with --all: only this family")
    c.add_argument("--dtype", action="append", choices=["float32", "bfloat16", "float16"], help="only these dtypes")
    c.add_argument("-v", "--verbose", action="store_true", help="with --all: print every card in full")
    c.set_defaults(func=_run_check)
