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
from jaxloss._arguments import check_input, integer_argument, real_argument
from jaxloss.compose import Composite, Objective
from jaxloss.compose._calling import call_loss
from jaxloss.inspection._arguments import loss_argument
from jaxloss.inspection._format import arg_name, entry_names, first_index, is_float, nonfinite, x64
from jaxloss.inspection._numerics import denominator, finite_differences, hessian, line_along_largest, set_dominant
from jaxloss.inspection._objective import inspect_objective
from jaxloss.inspection._report import Report


def _named(entry: str, compute: Callable[[], Any]) -> Any:
    """``compute()``, with the entry point's name before the message of an error the loss raises."""
    try:
        return compute()
    except (TypeError, ValueError) as err:
        if str(err).startswith(f"{entry}: "):
            raise
        raise (TypeError if isinstance(err, TypeError) else ValueError)(f"{entry}: {err}") from None


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
    fn = loss_argument("inspect", "subject", subject,
                       what="a loss name (e.g. 'huber'), a loss function, a composite or an objective")
    top = integer_argument("inspect", "top", top, low=0, meaning=" (how many dominant examples to list)")
    if step is not None and not isinstance(step, jax.core.Tracer):
        real_argument("inspect", "step", step, " (the training step) or None")
    if isinstance(subject, Objective):
        names = ("params", "batch")
        for i, a in enumerate(inputs[:2]):
            check_input("inspect", names[i], a)
        return inspect_objective(subject, inputs, step=step, top=top)
    if len(inputs) < 1:
        raise ValueError("inspect: pass the loss's inputs, e.g. jl.inspect('huber', predictions, targets).")
    for i, a in enumerate(inputs):
        check_input("inspect", f"inputs[{i}] ({arg_name(i)})", a)
    argnum = integer_argument("inspect", "argnum", argnum, low=0, high=len(inputs),
                              meaning=f" (which of the {len(inputs)} positional inputs to differentiate)")
    reduction = options.pop("reduction", "mean")
    if not isinstance(reduction, str) or reduction not in ("mean", "sum"):
        raise ValueError(f"inspect: reduction={reduction!r}; use 'mean' or 'sum' (per-example values are always shown).")
    if isinstance(fn, Composite):
        options["step"] = step
    elif step is not None:
        raise ValueError("inspect: step= applies to composites with scheduled weights.")
    args = [jnp.asarray(a) if not isinstance(a, jax.Array) and np.ndim(a) >= 0 and not isinstance(a, (dict, list, tuple)) else a
            for a in inputs]
    if isinstance(args[argnum], (dict, list, tuple)) or not hasattr(args[argnum], "shape"):
        return _inspect_pytree(fn, args, argnum, options, reduction)
    if not is_float(args[argnum]):
        raise ValueError(f"inspect: inputs[{argnum}] ({arg_name(argnum)}), which argnum={argnum} differentiates, must be "
                         f"floating point (an array or a pytree of arrays, such as parameters); got dtype "
                         f"{args[argnum].dtype}.")
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
        total, parts = _named("inspect", lambda: fn.with_terms(*[x if i == argnum else a for i, a in enumerate(args)],
                                     **{k: v for k, v in options.items()},
                                     **({"weights": weights} if weights is not None else {}),
                                     **({"where": where} if where is not None else {}), reduction=reduction))
        report.terms = {k: float(v) for k, v in parts.items()}
        value = total
    else:
        value = _named("inspect", lambda: f(x))
    grad = jax.jit(jax.grad(f))(x)  # one program, not one dispatch per operation (x is abstract under grad anyway)
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
    report.fd_index = first_index(x.shape, fd_flat) if x.size else None

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
        _per_example_gradients(report, call, x, grad, shape, top)
    report._line = line_along_largest(f, x, grad, args, argnum) if x.size else None  # an empty input: no line
    return report


#: Per-example Jacobian rows kept at most (examples x entries of the differentiated argument, twice:
#: unweighted and weighted): 32 MB in float64.
JACOBIAN_LIMIT = 4_000_000


def _rows(call: Callable[..., jax.Array], n: int, c: np.ndarray | None = None) -> Callable[[jax.Array], jax.Array]:
    """``x -> (n,)``: each example's loss (summed over its entries), times ``c`` entry by entry if given."""

    def rows(xv: jax.Array) -> jax.Array:
        per = call(xv, "none", use_weights=False)
        if c is not None:
            per = per * jnp.asarray(c, per.dtype)
        return jnp.sum(per.reshape(n, -1), axis=1)

    return rows


def _groups(n: int) -> np.ndarray:
    """Groups of examples by the bits of their index, and the complements: ``(2 ceil(log2 n), n)``
    booleans in which every pair of examples is split, each way round, by some group."""
    index = np.arange(n)
    bits = [((index >> k) & 1) == 1 for k in range(int(np.ceil(np.log2(n))))] if n > 1 else []
    return np.stack(bits + [~b for b in bits]) if bits else np.zeros((0, n), bool)


def independent_gradients(rows: Callable[[jax.Array], jax.Array], x: jax.Array, n: int) -> tuple[bool, np.ndarray]:
    """(whether examples interact, the gradient of the summed per-example losses), from one program.

    Whether the loss of an example depends on other examples' slices of ``x`` (axis 0) is measured
    with reverse-mode derivatives (so ``custom_vjp`` losses work too): the gradient of a random
    combination of one group's losses must vanish on the other examples' slices. Groups by the bits
    of the example index, and their complements, split every pair. A slice whose gradient is not
    finite even for a zero combination (0 * inf) is left out of the test. Where the examples are
    independent, the gradient of the summed losses holds each example's gradient in its own slice.
    """
    groups = _groups(n)
    mixes = np.random.default_rng(0).uniform(0.5, 1.5, groups.shape) * groups
    work = x.astype(jnp.float32) if jnp.finfo(x.dtype).bits < 32 else x  # half precision: no underflow to 0

    @jax.jit
    def program(v: jax.Array, mixes: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        out, pull = jax.vjp(lambda u: rows(u.astype(x.dtype)).astype(work.dtype), v)
        per_example = lambda g: g.reshape(n, -1)  # noqa: E731
        zero = per_example(pull(jnp.zeros_like(out))[0])
        decidable = jnp.all(jnp.isfinite(zero) & (zero == 0), axis=1)
        # One group's gradient at a time (lax.map, a few at once): memory stays a few copies of x.
        moved = jax.lax.map(lambda c: jnp.any(per_example(pull(c)[0]) != 0, axis=1), mixes,
                            batch_size=min(8, max(1, len(groups))))
        return pull(jnp.ones_like(out))[0], decidable, moved

    summed, decidable, moved = (np.asarray(a) for a in program(work, jnp.asarray(mixes, work.dtype)))
    interact = bool(np.any(moved & ~groups & decidable[None]))
    return interact, summed


def _per_example_gradients(report: Report, call: Callable[..., jax.Array], x: jax.Array, grad: jax.Array,
                           shape: tuple[int, ...], top: int) -> None:
    """Each example's gradient: of its own slice when examples are independent, else a Jacobian row.

    Example i is the slice i of the per-example losses (axis 0); ``g_i`` is the gradient of its
    unweighted loss. Where the examples are independent (each loss depends on its own slice of the
    argument only), ``g_i`` is that slice, read from one gradient of the summed losses. Where they
    interact (a batch loss: ntxent's anchors against the rest of the batch) or the argument has no
    example axis (a shared parameter), ``g_i`` is the gradient with respect to the whole argument,
    a row of the Jacobian, so that ``gradient = sum_i c_i g_i`` still holds.
    """
    if not shape or not shape[0] or not x.size:  # a scalar loss, or no example: nothing per example
        return
    n = shape[0]
    rows = _rows(call, n)
    own_slices = x.ndim >= 1 and x.shape[0] == n
    try:
        if own_slices:
            report.examples_interact, g = independent_gradients(rows, x, n)
        if own_slices and not report.examples_interact:
            contributions = np.asarray(grad, np.float64).reshape(n, -1)
        elif 2 * n * x.size > JACOBIAN_LIMIT:
            why = "examples interact within the batch" if own_slices else "the argument has no example axis"
            report.notes.append(f"no per-example gradients: {why}, and their Jacobian rows ({n} x {x.size} entries) "
                                f"are more than {JACOBIAN_LIMIT // 2} entries")
            return
        else:
            c = np.asarray(report.effective_weights, np.float64)
            both = lambda v: jnp.concatenate([rows(v), _rows(call, n, c)(v)])  # noqa: E731
            jac = np.asarray(jax.jit(jax.jacrev(both))(x))
            g, contributions = jac[:n], np.asarray(jac[n:], np.float64).reshape(n, -1)
            report.per_example_full = True
            why = ("examples interact within the batch (an example's loss depends on the others' inputs)"
                   if own_slices else f"{report.wrt} has no example axis (its axis 0 is not the {n} examples)")
            report.notes.append(f"per-example gradients are d l_i / d {report.wrt} over the whole argument (rows of "
                                f"the Jacobian, shape {(n,) + tuple(x.shape)}): {why}; gradient = sum_i c_i grad l_i")
    except (ValueError, TypeError) as err:
        report.notes.append(f"no per-example gradients: {err}")
        return
    report.per_example_gradients = g
    report.per_example_gradient_norms = np.sqrt(np.sum(np.square(np.asarray(g, np.float64)).reshape(n, -1), axis=1))
    report.nonfinite += nonfinite("per-example gradients", g)
    # Each example's part of the total gradient (its weighted loss's gradient), by norm.
    set_dominant(report, np.sqrt(np.sum(np.square(contributions), axis=1)), top)


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
