"""Regularizers: penalties on the parameters (L2 weight decay, L1), with masks and scheduled scales."""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxloss._arguments import choice_argument
from jaxloss.compose._schedules import Weight, fmt_number

__all__ = ["Regularizer", "l2", "l1", "REGULARIZER_IS_NOT_A_TERM"]


def _path_string(path: tuple[Any, ...]) -> str:
    parts = []
    if path and isinstance(path[-1], jax.tree_util.GetAttrKey) and path[-1].name == "value":
        path = path[:-1]  # a flax nnx Variable's value: name the variable ("l1/kernel")
    for key in path:
        for attr in ("key", "name", "idx"):
            if hasattr(key, attr):
                parts.append(str(getattr(key, attr)))
                break
        else:
            parts.append(str(key))
    return "/".join(parts)


def _selected_leaves(params: Any, mask: Any, *, fn: str) -> list[jax.Array]:
    if mask is None:
        return [jnp.asarray(x) for x in jax.tree_util.tree_leaves(params)]
    if callable(mask):
        flat, _ = jax.tree_util.tree_flatten_with_path(params)
        return [jnp.asarray(leaf) for path, leaf in flat if mask(_path_string(path), leaf)]
    chosen: list[jax.Array] = []

    def visit(m: Any, sub: Any) -> None:
        if not isinstance(m, (bool, jnp.bool_)) and not (hasattr(m, "dtype") and jnp.ndim(m) == 0):
            raise TypeError(f"{fn}: mask leaves must be booleans (True = regularize); got {m!r}.")
        if bool(m):
            chosen.extend(jnp.asarray(x) for x in jax.tree_util.tree_leaves(sub))

    try:
        jax.tree_util.tree_map(visit, mask, params)
    except ValueError as err:
        raise ValueError(
            f"{fn}: the mask must have the parameters' structure (or a prefix of it); "
            f"got mask {jax.tree_util.tree_structure(mask)} for parameters "
            f"{jax.tree_util.tree_structure(params)}. ({err})"
        ) from None
    return chosen


#: The penalties a :class:`Regularizer` computes (``kind``).
KINDS = ("l2", "l1")

REGULARIZER_IS_NOT_A_TERM = (
    "{reg!r} is a penalty on the parameters, not a loss of (predictions, targets), so it cannot be a term "
    "of a composite. Lift the loss over the model and add it there: "
    "jl.objective(model, loss, regularizers={reg!r}).")


@dataclasses.dataclass(frozen=True)
class Regularizer:
    """A penalty on parameters: ``regularizer(params, *, step=None) -> scalar``. Build with :func:`l2` or :func:`l1`.

    ``scale`` is a number or a schedule ``step -> scale`` (``jl.l2(jl.warmup(100) * 1e-4)``); a
    scheduled regularizer needs the step, which :class:`Objective` and ``fit`` pass. Regularizers do
    not take part in the term algebra (``0.5 * jl.l2(...)``, ``loss + jl.l2(...)`` raise): put the
    factor in the scale, and add regularizers with ``jl.objective(model, loss, regularizers=...)``.
    """

    kind: str
    scale: Weight
    mask: Any = None

    def __post_init__(self) -> None:
        choice_argument("Regularizer", "kind", self.kind, KINDS)
        _check_scale("Regularizer", self.scale)
        _check_mask("Regularizer", self.mask)

    def scale_at(self, step: Any) -> Any:
        """The scale at ``step`` (the number itself when it is not a schedule)."""
        if not callable(self.scale):
            return self.scale
        if step is None:
            raise ValueError(f"{self!r}: the scale is a schedule; pass the training step, e.g. "
                             "objective(params, batch, step=step) (jl.fit passes it).")
        return self.scale(step)

    def __call__(self, params: Any, *, step: Any = None) -> jax.Array:
        leaves = _selected_leaves(params, self.mask, fn=self.kind)
        scale = self.scale_at(step)
        if not leaves:
            return jnp.zeros(())
        if self.kind == "l2":
            # 0.5 * scale * |w|^2: the gradient is scale * w, SGD's weight decay.
            total = sum(jnp.sum(jnp.square(_up(x))) for x in leaves)
            return 0.5 * scale * total
        total = sum(jnp.sum(jnp.abs(_up(x))) for x in leaves)
        return scale * total

    def __repr__(self) -> str:
        mask = "" if self.mask is None else (f", mask={getattr(self.mask, '__name__', 'pytree')}")
        scale = repr(self.scale) if callable(self.scale) else fmt_number(self.scale)
        return f"{self.kind}({scale}{mask})"

    def _no_sum(self, other: Any) -> Any:
        raise TypeError(REGULARIZER_IS_NOT_A_TERM.format(reg=self))

    def _no_product(self, other: Any) -> Any:
        raise TypeError(
            f"{self!r} * {other!r}: a regularizer's factor goes into its scale, e.g. "
            f"jl.{self.kind}(jl.warmup(100) * 1e-4) for a scheduled scale; regularizers are added with "
            f"jl.objective(model, loss, regularizers=...).")

    __add__ = __radd__ = _no_sum
    __mul__ = __rmul__ = __truediv__ = _no_product


def _up(x: jax.Array) -> jax.Array:
    return x.astype(jnp.float32) if x.dtype in (jnp.float16, jnp.bfloat16) else x


def _check_scale(fn: str, scale: Any) -> Weight:
    if isinstance(scale, Regularizer) or hasattr(scale, "with_terms"):  # a regularizer, a composite, an objective
        raise TypeError(f"{fn}: scale must be a number or a schedule step -> scale; got {scale!r}.")
    if callable(scale):
        return scale
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real) and not (hasattr(scale, "shape") and jnp.ndim(scale) == 0):
        raise TypeError(f"{fn}: scale must be a number or a schedule step -> scale (e.g. jl.warmup(100) * 1e-4); "
                        f"got {type(scale).__name__} {scale!r}.")
    if isinstance(scale, jax.core.Tracer):
        return scale
    if not float(scale) >= 0:
        raise ValueError(f"{fn}: scale must be >= 0; got {float(scale)}.")
    return scale


def _check_mask(fn: str, mask: Any) -> None:
    """A mask is None, a predicate ``(path, leaf) -> bool`` or a pytree of booleans (its structure is checked
    against the parameters when the regularizer is called)."""
    if mask is None or callable(mask):
        return
    expected = ("None, a predicate (path, leaf) -> bool, or a pytree of booleans shaped like the parameters "
                "(True = regularize), e.g. mask={'w': True, 'b': False}")
    if isinstance(mask, (str, bytes)):
        raise TypeError(f"{fn}: mask must be {expected}; got the string {mask!r}.")
    for path, leaf in jax.tree_util.tree_flatten_with_path(mask)[0]:
        if isinstance(leaf, (bool, np.bool_)) or (hasattr(leaf, "dtype") and np.ndim(leaf) == 0):
            continue
        where = f"mask{jax.tree_util.keystr(path)}"
        raise TypeError(f"{fn}: mask must be {expected}; got {type(leaf).__name__} {leaf!r}"
                        + (f" at {where}" if path else "") + ".")


def l2(scale: Weight, *, mask: Any = None) -> Regularizer:
    """L2 penalty (weight decay) ``0.5 * scale * sum(w^2)`` over the masked leaves.

    ``scale``: a number >= 0, or a schedule ``step -> scale`` such as ``jl.warmup(100) * 1e-4``.
    ``mask``: None (every leaf), a pytree of booleans shaped like the parameters
    (or a prefix), or a predicate ``(path, leaf) -> bool`` (``path`` like ``"dense/w"``).

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> params = {"w": jnp.array([1.0, 2.0]), "b": jnp.array(3.0)}
    >>> float(jl.l2(1.0, mask={"w": True, "b": False})(params))
    2.5
    >>> float(jl.l2(jl.warmup(100) * 1.0, mask={"w": True, "b": False})(params, step=50))
    1.25
    """
    _check_mask("l2", mask)
    return Regularizer("l2", _check_scale("l2", scale), mask)


def l1(scale: Weight, *, mask: Any = None) -> Regularizer:
    """L1 penalty ``scale * sum(|w|)`` over the masked leaves (scale and mask as in :func:`l2`).

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> params = {"w": jnp.array([1.0, -2.0]), "b": jnp.array(3.0)}
    >>> float(jl.l1(0.5, mask=lambda path, leaf: path == "w")(params))
    1.5
    """
    _check_mask("l1", mask)
    return Regularizer("l1", _check_scale("l1", scale), mask)


