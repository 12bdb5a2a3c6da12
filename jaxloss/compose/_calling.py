"""Calling any loss the same way: registered losses, composites, and functions of your own.

Composites, objectives, ``fit`` and the inspector all call a loss through :func:`call_loss`, so a
function written with optax's convention (``loss(predictions, targets) -> one value per example``,
no ``reduction``) works everywhere a registered loss does: its per-example values are reduced here
with the rule every jaxloss loss follows (``weights``, the ``where`` mask, and a mean over nothing
that is 0). As a registered loss does, such a function is called with the entries of excluded examples
set to 0 (the double ``where`` of ``_core.exclude``), so that a NaN in an excluded example reaches
neither the value nor the gradient.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jaxloss import _core, _registry

__all__ = ["call_loss", "accepted_keywords"]

_KEYWORDS = ("reduction", "weights", "where")


def accepted_keywords(fn: Callable[..., Any]) -> frozenset[str]:
    """Which of ``reduction``, ``weights``, ``where`` (and ``step``) ``fn`` takes."""
    if isinstance(getattr(fn, "info", None), _registry.LossInfo):
        return frozenset(_KEYWORDS)
    if hasattr(fn, "with_terms"):  # a composite
        return frozenset(_KEYWORDS + ("step",))
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return frozenset()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return frozenset(_KEYWORDS + ("step",))
    return frozenset(k for k in _KEYWORDS + ("step",) if k in params)


def _name(fn: Any) -> str:
    return getattr(fn, "__name__", type(fn).__name__)


def call_loss(fn: Callable[..., Any], *args: Any, reduction: str = "mean", weights: Any = None, where: Any = None,
              name: str | None = None, **options: Any) -> jax.Array:
    """``fn(*args, **options)`` with ``reduction``, ``weights`` and ``where`` applied as a jaxloss loss would.

    A loss that takes ``reduction`` gets all three (those it takes). A function that does not is
    called without them; it must return one value per example, which is then weighted, masked and
    reduced here (a scalar is taken as its own mean, and cannot be weighted, masked or given per
    example: a ``TypeError`` names the function and the fix). Given ``where`` it does not take, it is
    called with the excluded examples' entries of its positional arrays set to 0, as registered losses
    compute them, so that NaN there cannot reach the gradient through it; one that takes ``where`` but
    not ``reduction`` gets it, and its values are masked here too, so that a mean counts only the
    included examples.
    """
    if reduction not in _registry.REDUCTIONS:
        raise ValueError(f"{name or _name(fn)}: reduction={reduction!r} is not valid; choose one of 'mean', 'sum', "
                         "'none'.")
    accepted = accepted_keywords(fn)
    given = {"weights": weights, "where": where}
    passed = {k: v for k, v in given.items() if v is not None and k in accepted}
    if "reduction" in accepted:
        return fn(*args, **options, **passed, reduction=reduction)
    label = name or _name(fn)
    if where is not None and "where" not in passed:
        args = _exclude_examples(fn, args, options, passed, where, label)
    values = jnp.asarray(fn(*args, **options, **passed))
    rest = {k: v for k, v in given.items() if v is not None and k not in passed}
    if values.ndim == 0:
        if reduction != "mean" or rest:
            raise TypeError(
                f"{label} returns a scalar and takes no reduction= keyword, so it cannot give "
                f"{'per-example values' if reduction == 'none' else reduction + 's'}"
                f"{' or take ' + ' and '.join(sorted(rest)) if rest else ''}. Return one value per example "
                "(optax's convention) or accept reduction=, weights= and where=.")
        return values
    # The mask applies here even when the function took ``where`` itself: a mean counts the included
    # examples only (a function returning 0 for an excluded one would otherwise lower the mean).
    mask = _core.mask_array(where, values.shape, fn=label)
    return _core.reduce(values, reduction=reduction, weights=rest.get("weights"), mask=mask, dtype=values.dtype,
                        fn=label)


def _exclude_examples(fn: Callable[..., Any], args: tuple[Any, ...], options: dict[str, Any],
                      passed: dict[str, Any], where: Any, label: str) -> tuple[Any, ...]:
    """``args`` with the entries of the examples ``where`` excludes set to 0: the double ``where``.

    Masking only the function's output leaves a NaN input in its backward pass (``0 * NaN`` is NaN in
    the gradient of ``(p - t) ** 2``). Every array leaf of the positional arguments whose leading axes
    are the per-example shape (the shape of the function's output, found by ``jax.eval_shape``) gets
    its excluded entries replaced by 0 before the call, as ``_core.exclude`` does for registered
    losses; their gradient is then exactly 0. Other leaves (a class-weight vector, a scalar) are left
    as they are. A function whose output has no shape to read is called unchanged: its own error, or
    the scalar check of :func:`call_loss`, follows.
    """
    try:
        out = jax.eval_shape(lambda *a: fn(*a, **options, **passed), *args)
    except Exception:  # noqa: BLE001 -- the real call below raises the function's own error
        return args
    shape = tuple(getattr(out, "shape", ()))
    if not shape:
        return args
    mask = _core.mask_array(where, shape, fn=label)

    def exclude(leaf: Any) -> Any:
        if not hasattr(leaf, "shape") and not hasattr(leaf, "__array__"):
            return leaf
        x = jnp.asarray(leaf)
        if x.ndim < len(shape) or tuple(x.shape[:len(shape)]) != shape:
            return leaf
        return _core.exclude(x, mask)

    return tuple(jax.tree.map(exclude, args))
