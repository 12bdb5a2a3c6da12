"""Calling any loss the same way: registered losses, composites, and functions of your own.

Composites, objectives, ``fit`` and the inspector all call a loss through :func:`call_loss`, so a
function written with optax's convention (``loss(predictions, targets) -> one value per example``,
no ``reduction``) works everywhere a registered loss does: its per-example values are reduced here
with the rule every jaxloss loss follows (``weights``, the ``where`` mask, and a mean over nothing
that is 0).
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
    example: a ``TypeError`` names the function and the fix).
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
    mask = _core.mask_array(rest.get("where"), values.shape, fn=label)
    return _core.reduce(values, reduction=reduction, weights=rest.get("weights"), mask=mask, dtype=values.dtype,
                        fn=label)
