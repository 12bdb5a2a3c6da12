"""What every aggregator shares: the input check, its declared properties, and Gramian-based weighting.

An aggregator is a pure function ``aggregator(J, **options) -> d`` of the ``(m, n)`` matrix whose rows are
``m`` terms' gradients, returning the ``(n,)`` update direction. Most depend on ``J`` only through its
Gramian ``G = J J^T`` (``m x m``): they compute weights ``w = weights(G)`` and return ``d = J^T w``. Those
declare their weighting, so that training can compute the Gramian without the whole Jacobian (through
a shared trunk's features) and never form ``J``.

:func:`aggregator` turns a function into an aggregator: it checks ``J`` (a 2-D floating array; the
message names the aggregator and the fix), and records on the function what it guarantees
(:class:`Properties`) and its Gramian weighting, if any (``fn.weights(G, **options)``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxloss._arguments import real_argument

__all__ = ["Properties", "aggregator", "check_matrix", "check_gramian", "check_options", "check_preference"]


class Properties(NamedTuple):
    """What an aggregator guarantees, tested as properties.

    Attributes:
      non_conflicting: ``J @ d >= 0`` for every ``J``: no term's loss increases to first order.
      linear_under_scaling: for positive ``c``, ``A(diag(c) J)`` is linear in ``c`` (TorchJD's definition):
        a term whose loss is scaled pulls proportionally more, as in a weighted sum.
      weighted: ``d`` is a combination of the rows, ``d = J^T w`` (``d`` in the row space of ``J``).
    """

    non_conflicting: bool
    linear_under_scaling: bool
    weighted: bool


def check_matrix(fn: str, J: Any) -> jax.Array:
    """``J`` as a 2-D floating array ``(m terms, n parameters)``, m >= 1; otherwise an error naming ``fn``."""
    if not hasattr(J, "shape") or not hasattr(J, "dtype"):
        raise TypeError(f"{fn}: J must be an array of shape (m, n) whose rows are the terms' gradients; got "
                        f"{type(J).__name__}. Stack the gradients: J = jnp.stack([g1, g2]).")
    if not jnp.issubdtype(J.dtype, jnp.floating):
        raise TypeError(f"{fn}: J must hold floating-point gradients; got dtype {J.dtype}. Cast it: "
                        "J.astype(jnp.float32).")
    if J.ndim != 2 or J.shape[0] < 1:
        raise ValueError(f"{fn}: J must have shape (m, n) with m >= 1 rows (one gradient per term); got shape "
                         f"{tuple(J.shape)}. For gradients of a pytree of parameters use "
                         f"jaxloss.aggregators.aggregate({fn}, jacobian).")
    return jnp.asarray(J)


def check_gramian(fn: str, G: Any) -> jax.Array:
    """``G`` as a square 2-D floating array ``(m, m)``; otherwise an error naming ``fn``."""
    G = check_matrix(fn, G)
    if G.shape[0] != G.shape[1]:
        raise ValueError(f"{fn}: the Gramian G = J @ J.T must be square (m, m); got shape {tuple(G.shape)}.")
    return G


def check_preference(fn: str, pref_vector: Any, m: int, dtype: Any) -> jax.Array | None:
    """``pref_vector`` as an ``(m,)`` array of ``dtype`` (None stays None); otherwise an error naming ``fn``."""
    if pref_vector is None:
        return None
    p = jnp.asarray(pref_vector)
    if p.shape != (m,):
        raise ValueError(f"{fn}: pref_vector must have shape (m,) = ({m},), one preference per term (row of J); "
                         f"got shape {tuple(p.shape)}.")
    return p.astype(dtype)


def _number_options(fn: Callable[..., Any]) -> dict[str, bool]:
    """The keyword options of ``fn`` annotated as numbers: name -> whether None is allowed."""
    found = {}
    for name, parameter in inspect.signature(fn).parameters.items():
        annotation = str(parameter.annotation)
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY and "float" in annotation:
            found[name] = "None" in annotation
    return found


def check_options(fn: str, options: dict[str, Any], numbers: dict[str, bool]) -> None:
    """Each numeric option a real number (a traced one passes: it is checked by its own trace), or None where
    allowed; otherwise a ``TypeError`` naming ``fn`` and the option."""
    for name, allows_none in numbers.items():
        value = options.get(name)
        if name not in options or (value is None and allows_none) or isinstance(value, jax.core.Tracer):
            continue
        real_argument(fn, name, value, " (a real number)")


def aggregator(*, properties: Properties,
               weights: Callable[..., jax.Array] | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Makes ``fn(J, **options) -> d`` an aggregator: ``J`` checked first, ``fn.properties`` set, and
    ``fn.weights(G, **options)`` (its Gramian weighting) when it has one."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        numbers = _number_options(fn)

        @functools.wraps(fn)
        def checked(J: Any, /, **options: Any) -> jax.Array:
            check_options(fn.__name__, options, numbers)
            return fn(check_matrix(fn.__name__, J), **options)

        checked.properties = properties  # type: ignore[attr-defined]
        if weights is not None:
            @functools.wraps(weights)
            def gramian_weights(G: Any, /, **options: Any) -> jax.Array:
                return weights(check_gramian(fn.__name__, G), **options)
            checked.weights = gramian_weights  # type: ignore[attr-defined]
        else:
            checked.weights = None  # type: ignore[attr-defined]
        return checked

    return wrap
