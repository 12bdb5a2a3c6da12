"""Gradient curves: a loss's value and first and second derivatives along a range of errors."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxloss import _registry
from jaxloss._arguments import array_argument, integer_argument, real_argument
from jaxloss.inspection import _programs
from jaxloss.inspection._arguments import loss_argument
from jaxloss.inspection._kinds_view import curve_axis, curve_point


class GradCurve(NamedTuple):
    """A loss along a range of errors: ``errors``, ``value``, ``first`` and ``second`` derivative."""

    errors: np.ndarray
    value: np.ndarray
    first: np.ndarray
    second: np.ndarray


def grad_curve(loss: Any, errors: Any, *, target: float | None = None, num_classes: int = 2,
               **options: Any) -> GradCurve:
    """The value and first and second derivatives of a loss along ``errors``.

    What "error" means depends on the loss's input kind:

    * element-wise losses (regression and the like): the prediction is
      ``target + error`` against ``target`` (default 0; 1 for positive or count
      targets, where 0 is not a valid target);
    * binary losses (``binary_logits``, ``signed_binary``): ``errors`` are the
      logits (scores) and ``target`` the label (default 1), so the curve is the
      loss against the margin;
    * multiclass losses (``class_logits``, ``class_log_probs``,
      ``class_distribution``): ``errors`` are the true class's logit against
      ``num_classes - 1`` zero logits (log-softmaxed for ``class_log_probs``);
      ``target`` is the true class (default 0).

    Derivatives are exact (``grad`` of ``grad``), taken per point with ``vmap``.

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> c = jl.grad_curve("huber", jnp.array([-3.0, 0.5, 3.0]), delta=1.0)
    >>> c.first.tolist(), c.second.tolist()
    ([-1.0, 0.5, 1.0], [0.0, 1.0, 0.0])
    """
    fn = loss_argument("grad_curve", "loss", loss, what="a loss name (e.g. 'huber'), a loss function or a composite")
    num_classes = integer_argument("grad_curve", "num_classes", num_classes, low=2,
                                   meaning=" (the true class against at least one other)")
    if target is not None:
        if curve_axis(fn) == "true_class_logit":
            meaning = f" (the true class, for a loss of class scores with num_classes={num_classes})"
            target = integer_argument("grad_curve", "target", target, low=0, high=num_classes, meaning=meaning)
        else:
            target = real_argument("grad_curve", "target", target, " (the target the errors are measured from) or None")
    try:
        rank = None if errors is None or isinstance(errors, (str, bytes)) else np.ndim(errors)
    except ValueError:  # a ragged list: array_argument names it
        rank = None
    if rank is not None and rank != 1:  # checked before anything is converted (or compiled)
        raise ValueError(f"grad_curve: errors must be a 1-D range of errors, e.g. jnp.linspace(-3, 3, 101); got shape "
                         f"{tuple(np.shape(errors))}.")
    e = array_argument("grad_curve", "errors", errors)
    entry = getattr(fn, "info", None)
    kind, point = curve_point(fn, target=target, num_classes=num_classes, options=options)
    if not jnp.issubdtype(e.dtype, jnp.floating):
        e = e.astype(jnp.result_type(float))
    name = entry.name if isinstance(entry, _registry.LossInfo) else getattr(fn, "__name__", "loss")

    def curves(e: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        first_fn = jax.grad(point)
        return jax.vmap(point)(e), jax.vmap(first_fn)(e), jax.vmap(jax.grad(first_fn))(e)

    # One compiled program per (loss, target, classes, options), kept across calls: a first call
    # compiles one program instead of every operation on its own, and the next are immediate. The
    # options are compiled in (the registry checks their values as it does eagerly); an array option
    # cannot be a key, and its program serves that call only. A loss checks its targets' values only
    # where they are concrete, which they are not in a program: where the compiled curve has a NaN,
    # the curve is computed op by op instead, which raises what the loss raises for those targets
    # (hinge_embedding's 0) or gives the same NaN.
    key = ("grad_curve", id(fn), target, num_classes, tuple(sorted(options.items())))
    found, program = _programs.recall(key)
    try:
        result = None
        if not found:
            program = jax.jit(curves)
            try:
                result = program(e)
            except _programs.NEEDS_CONSTANTS:  # a loss that reads concrete values: op by op
                program = None
            _programs.remember(key, fn, program)
        if result is None:
            result = curves(e) if program is None else program(e)
        if program is not None and any(bool(jnp.isnan(a).any()) for a in result):
            result = curves(e)
        value, first, second = result
    except (TypeError, ValueError) as err:
        if str(err).startswith(f"{name}: "):  # the loss's own check of a value (an option, the target)
            raise ValueError(f"grad_curve: {err}") from None
        raise ValueError(
            f"grad_curve: {name} takes inputs of kind {kind!r}, which a single error cannot describe ({err}). "
            "Pass a function of one array of predictions instead, e.g. lambda p, t, **kw: loss(p, ..., **kw)."
        ) from None
    return GradCurve(np.asarray(e), np.asarray(value), np.asarray(first), np.asarray(second))
