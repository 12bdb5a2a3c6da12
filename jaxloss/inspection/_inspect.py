"""Inspecting a loss at one point (:func:`inspect`), differentiated with respect to an array or a pytree."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from jaxloss import _registry
from jaxloss.compose import Composite, Objective
from jaxloss.compose._calling import call_loss
from jaxloss.inspection._format import arg_name, entry_names, first_index, is_float, nonfinite, x64
from jaxloss.inspection._numerics import (denominator, example_axes, finite_differences, hessian, line_along_largest,
                                          set_dominant)
from jaxloss.inspection._objective import inspect_objective
from jaxloss.inspection._report import Report


def describe_subject(fn: Any, options: dict[str, Any]) -> str:
    if isinstance(fn, Composite):
        return repr(fn)
    entry = getattr(fn, "info", None)
    name = entry.name if isinstance(entry, _registry.LossInfo) else getattr(fn, "__name__", "loss")
    shown = {k: v for k, v in options.items() if k not in ("weights", "where") and np.ndim(v) == 0}
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in shown.items())})" if shown else name


def inspect(subject: Any, *inputs: Any, argnum: int = 0, step: Any = None, top: int = 3, **options: Any) -> Report:
    """Inspects a loss, a composite or an objective at one point; returns a :class:`Report`.

    Args:
      subject: a registered loss name or alias, a loss function, a
        :class:`~jaxloss.compose.Composite`, or an :class:`~jaxloss.compose.Objective`.
      *inputs: the loss's positional arguments (``predictions, targets, ...``),
        or ``params, batch`` for an objective.
      argnum: which positional argument to differentiate (losses only).
      step: the training step, for composites with scheduled weights.
      top: how many dominant examples to list.
      **options: the loss's keyword options (``delta=1.0``, ``weights=``,
        ``where=``, ``reduction="sum"``); ``reduction="none"`` is not allowed
        (the report needs a scalar; it shows the per-example values anyway).

    Raises:
      KeyError: an unknown loss name. ValueError/TypeError: inputs the loss rejects.
    """
    if isinstance(subject, Objective):
        return inspect_objective(subject, inputs, step=step, top=top)
    fn = _registry.get(subject) if isinstance(subject, str) else subject
    if not callable(fn):
        raise TypeError(f"inspect: expected a loss, a loss name, a composite or an objective; got {type(subject).__name__}.")
    if len(inputs) < 1:
        raise ValueError("inspect: pass the loss's inputs, e.g. jl.inspect('huber', predictions, targets).")
    reduction = options.pop("reduction", "mean")
    if reduction not in ("mean", "sum"):
        raise ValueError(f"inspect: reduction={reduction!r}; use 'mean' or 'sum' (per-example values are always shown).")
    if isinstance(fn, Composite):
        options["step"] = step
    elif step is not None:
        raise ValueError("inspect: step= applies to composites with scheduled weights.")
    args = [jnp.asarray(a) if not isinstance(a, jax.Array) and np.ndim(a) >= 0 and not isinstance(a, (dict, list, tuple)) else a
            for a in inputs]
    if not 0 <= argnum < len(args):
        raise ValueError(f"inspect: argnum={argnum} must name one of the {len(args)} positional arguments.")
    if isinstance(args[argnum], (dict, list, tuple)) or not hasattr(args[argnum], "shape"):
        return _inspect_pytree(fn, args, argnum, options, reduction)
    if not is_float(args[argnum]):
        raise ValueError(f"inspect: argnum={argnum} must name a floating-point argument (an array or a pytree of "
                         f"arrays, such as parameters); got dtype {args[argnum].dtype}.")
    weights, where = options.pop("weights", None), options.pop("where", None)
    x = jnp.asarray(args[argnum])
    subject_text = describe_subject(fn, options)

    def call(xv: jax.Array, red: str, *, use_weights: bool = True, a: Sequence[Any] | None = None,
             w: Any = None, m: Any = None) -> jax.Array:
        a = list(args if a is None else a)
        a[argnum] = xv
        kw = dict(options)
        weights_now = (weights if w is None else w) if use_weights else None
        where_now = where if m is None else m
        if weights_now is not None:
            kw["weights"] = weights_now
        if where_now is not None:
            kw["where"] = where_now
        return call_loss(fn, *a, **kw, reduction=red)

    report = Report(subject=subject_text, wrt=arg_name(argnum), value=float("nan"), gradient=None,
                    dtype=str(x.dtype))
    for i, a in enumerate(args):
        report.nonfinite_inputs += nonfinite(f"input {arg_name(i)}", a)
    for key, v in (("weights", weights), ("where", where)):
        report.nonfinite_inputs += nonfinite(f"input {key}", v)

    f = lambda xv: call(xv, reduction)  # noqa: E731
    if isinstance(fn, Composite):
        total, parts = fn.with_terms(*[x if i == argnum else a for i, a in enumerate(args)],
                                     **{k: v for k, v in options.items()},
                                     **({"weights": weights} if weights is not None else {}),
                                     **({"where": where} if where is not None else {}), reduction=reduction)
        report.terms = {k: float(v) for k, v in parts.items()}
        value = total
    else:
        value = f(x)
    grad = jax.grad(f)(x)
    report.value = float(value)
    report.gradient = np.asarray(grad)
    report.nonfinite += nonfinite("value", value) + nonfinite("gradient", grad)

    f_flat = lambda v: f(v.reshape(x.shape))  # noqa: E731
    h, diag, report.hessian_note = hessian(f_flat, x.reshape(-1))
    report.hessian, report.hessian_diagonal = h, diag
    report.nonfinite += nonfinite("Hessian", h if h is not None else diag)

    # Finite differences, in float64 when available (inputs cast; labels untouched).
    def f64(v: jax.Array) -> jax.Array:
        dt = v.dtype
        cast = [jnp.asarray(a).astype(dt) if is_float(a) and i != argnum else a for i, a in enumerate(args)]
        return call(v.reshape(x.shape), reduction, a=cast)

    report.fd_max_relative_error, fd_flat, report.fd_note = finite_differences(f64, x.reshape(-1), report.gradient.reshape(-1))
    report.fd_index = first_index(x.shape, fd_flat)

    # Per-example losses, effective weights, the denominator.
    try:
        per_example = call(x, "none", use_weights=False)
    except ValueError as err:
        report.notes.append(f"no per-example values: {err}")
        per_example = None
    if per_example is not None:
        report.per_example_losses = np.asarray(per_example)
        report.nonfinite += nonfinite("per-example losses", per_example)
        shape = tuple(per_example.shape)
        w = np.ones(shape) if weights is None else np.broadcast_to(np.asarray(weights, np.float64), shape)
        m = np.ones(shape, bool) if where is None else np.broadcast_to(np.asarray(where), shape)
        mw = np.where(m, w, 0.0)
        implied = None
        if not isinstance(fn, Composite):
            s = float(call(x, "sum"))
            if reduction == "mean" and report.value != 0 and math.isfinite(s) and math.isfinite(report.value):
                implied = s / report.value
        denom, kind = denominator(mw, int(np.prod(shape)), implied, weights is not None, where is not None,
                                         reduction)
        if isinstance(fn, Composite) and reduction == "mean":
            kind += " (of each term; a term that drops or weights entries itself has its own)"
        report.denominator, report.denominator_kind = denom, kind
        report.effective_weights = mw / denom if denom else np.zeros(shape)
        _per_example_gradients(report, call, args, argnum, x, grad, weights, where, shape, top)
    report._line = line_along_largest(f, x, grad, args, argnum)
    return report


def _per_example_gradients(report: Report, call: Callable[..., jax.Array], args: Sequence[Any], argnum: int,
                           x: jax.Array, grad: jax.Array, weights: Any, where: Any, shape: tuple[int, ...],
                           top: int) -> None:
    if x.ndim == 0 or not shape:
        return
    n = x.shape[0]
    axes = example_axes(list(args) + [where], n)
    if axes[argnum] is None:
        return
    everything = list(args) + [where]
    rest_index = [i for i, ax in enumerate(axes) if ax is not None and i != argnum]

    def one(xi: jax.Array, *rest: Any) -> jax.Array:
        full = list(everything)
        for i, r in zip(rest_index, rest):
            full[i] = r[None]
        a, m = full[:-1], full[-1]
        return jnp.sum(call(xi[None], "none", use_weights=False, a=a, m=m))

    mapped_rest = [everything[i] for i in rest_index]
    try:
        g = jax.jit(jax.vmap(jax.grad(one)))(x, *mapped_rest)
    except (ValueError, TypeError) as err:
        report.notes.append(f"no per-example gradients: {err}")
        return
    report.per_example_gradients = np.asarray(g)
    report.per_example_gradient_norms = np.sqrt(np.sum(np.square(np.asarray(g, np.float64)).reshape(n, -1), axis=1))
    report.nonfinite += nonfinite("per-example gradients", g)
    rows = np.sqrt(np.sum(np.square(np.asarray(grad, np.float64)).reshape(n, -1), axis=1))
    set_dominant(report, rows, top)


def _inspect_pytree(fn: Callable[..., Any], args: list[Any], argnum: int, options: dict[str, Any],
                    reduction: str) -> Report:
    """A function differentiated with respect to a pytree argument (parameters), as ``jax.grad`` does."""
    tree = args[argnum]
    leaves = jax.tree_util.tree_leaves(tree)
    if not leaves or not all(is_float(leaf) for leaf in leaves):
        raise ValueError(f"inspect: argnum={argnum} must name floating-point arrays (or a pytree of them); got "
                         f"{type(tree).__name__} with leaves {[getattr(x, 'dtype', type(x).__name__) for x in leaves]}.")
    tree = jax.tree_util.tree_map(jnp.asarray, tree)
    flat, unravel = ravel_pytree(tree)

    def at(p: Any) -> jax.Array:
        a = list(args)
        a[argnum] = p
        return jnp.asarray(call_loss(fn, *a, reduction=reduction, **options))

    value, grad = jax.jit(jax.value_and_grad(at))(tree)
    flat_grad = np.asarray(ravel_pytree(grad)[0])
    wrt = "params" if argnum == 0 else f"argument {argnum}"
    report = Report(subject=describe_subject(fn, options), wrt=wrt, value=float(value),
                    gradient=jax.tree_util.tree_map(np.asarray, grad), dtype=str(flat.dtype),
                    entry_names=entry_names(tree))
    for i, a in enumerate(args):
        for path, leaf in jax.tree_util.tree_flatten_with_path(a)[0]:
            report.nonfinite_inputs += nonfinite(f"input {arg_name(i)}{jax.tree_util.keystr(path)}", leaf)
    report.nonfinite += nonfinite("value", value) + nonfinite("gradient", flat_grad)
    f_flat = lambda v: at(unravel(v))  # noqa: E731
    h, diag, report.hessian_note = hessian(f_flat, flat)
    report.hessian, report.hessian_diagonal = h, diag
    report.nonfinite += nonfinite("Hessian", h if h is not None else diag)
    report.fd_max_relative_error, fd_flat, report.fd_note = finite_differences(
        lambda v: at(jax.tree_util.tree_map(lambda a: a.astype(v.dtype), unravel(v.astype(flat.dtype)))
                     if x64() else unravel(v.astype(flat.dtype))), flat, flat_grad)
    report.fd_index = (fd_flat,)
    report.notes.append(f"differentiated with respect to {wrt}, a pytree of {flat.size} entries; "
                        "per-example values need a loss of (predictions, targets) or an objective")
    report._line = line_along_largest(f_flat, flat, flat_grad, [flat], 0, report.entry_names)
    return report
