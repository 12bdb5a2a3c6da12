"""Aggregators on pytrees of parameters: the Jacobian of m losses, and one direction shaped like the parameters.

A model's parameters are a pytree; the Jacobian of ``m`` losses with respect to them is the same pytree
with a leading axis of ``m`` on every leaf (what ``jax.jacrev`` returns). :func:`jacobian` computes it
with one vectorised reverse pass; :func:`aggregate` flattens it to the ``(m, n)`` matrix ``J`` an
aggregator takes, and unflattens the direction to the parameters' structure.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jaxloss._arguments import callable_argument

__all__ = ["aggregate", "jacobian"]


def aggregate(aggregator: Callable[..., jax.Array], jacobian: Any, /, **options: Any) -> Any:
    """Aggregates the Jacobian of ``m`` losses with respect to a pytree of parameters.

    .. math:: J = \\big[\\operatorname{vec}(\\partial_1) \\,|\\, \\dots \\,|\\, \\operatorname{vec}(\\partial_k)\\big]
              \\in \\mathbb{R}^{m \\times n}, \\qquad d = \\mathcal A(J),

    where ``partial_l`` is leaf ``l`` of ``jacobian`` (shape ``(m, *parameter_l.shape)``) flattened to
    ``(m, -1)``, in ``jax.tree_util`` leaf order; ``d`` is split back into leaves of the parameters'
    shapes (the leading axis dropped) and dtypes.

    Use it on what :func:`jacobian` or ``jax.jacrev`` of a vector of losses returns, then pass the
    direction to an optimizer as the gradient (``optax`` minimises: give it ``d``, the descent direction
    is ``-d``).

    Args:
      aggregator: one of ``jaxloss.aggregators`` (a function with ``.properties``).
      jacobian: a pytree whose every leaf has the same leading axis ``m`` (the terms).
      **options: passed to the aggregator (e.g. ``key=`` for ``graddrop``).

    Returns:
      a pytree shaped like the parameters: ``jacobian``'s structure, each leaf without its leading axis.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import aggregators
      >>> jac = {"b": jnp.array([1.0, 3.0]), "w": jnp.array([[1.0, 2.0], [3.0, 4.0]])}   # m = 2
      >>> d = aggregators.aggregate(aggregators.mean, jac)
      >>> d["b"].tolist(), d["w"].tolist()
      (2.0, [2.0, 3.0])
    """
    if not callable(aggregator) or not hasattr(aggregator, "properties"):
        raise TypeError(f"aggregate: aggregator must be one of jaxloss.aggregators (e.g. aggregators.upgrad); got "
                        f"{type(aggregator).__name__}. The Jacobian comes second: aggregate(aggregators.upgrad, "
                        "jacobian).")
    leaves, treedef = jax.tree_util.tree_flatten(jacobian)
    if not leaves:
        raise ValueError("aggregate: jacobian has no leaves; it must be a pytree of arrays with a leading axis of "
                         "m terms, e.g. the second result of aggregators.jacobian(losses_fn, params).")
    leaves = [jnp.asarray(leaf) for leaf in leaves]
    paths = [jax.tree_util.keystr(path) for path, _ in jax.tree_util.tree_flatten_with_path(jacobian)[0]]
    for path, leaf in zip(paths, leaves):
        if leaf.ndim == 0:
            raise ValueError(f"aggregate: jacobian leaf {path or '(root)'} is a scalar; every leaf needs a leading "
                             "axis of m terms (one gradient per loss), shape (m, *parameter.shape).")
        if not jnp.issubdtype(leaf.dtype, jnp.floating):
            raise TypeError(f"aggregate: jacobian leaf {path or '(root)'} has dtype {leaf.dtype}; gradients must be "
                            "floating-point.")
    sizes = {path: leaf.shape[0] for path, leaf in zip(paths, leaves)}
    if len(set(sizes.values())) > 1:
        listed = ", ".join(f"{path or '(root)'}: {size}" for path, size in sizes.items())
        raise ValueError(f"aggregate: jacobian's leaves must all have the same leading axis m (the number of terms); "
                         f"got {listed}. Each leaf is (m, *parameter.shape), as jax.jacrev of a vector of m losses "
                         "gives.")
    m = leaves[0].shape[0]
    J = jnp.concatenate([leaf.reshape(m, -1) for leaf in leaves], axis=1)
    d = aggregator(J, **options)
    ends = list(itertools.accumulate(math.prod(leaf.shape[1:]) for leaf in leaves))
    pieces = jnp.split(d, ends[:-1])
    out = [piece.reshape(leaf.shape[1:]).astype(leaf.dtype) for piece, leaf in zip(pieces, leaves)]
    return jax.tree_util.tree_unflatten(treedef, out)


def jacobian(fn: Callable[..., Any], params: Any, /, *args: Any, **kwargs: Any) -> tuple[jax.Array, Any]:
    """The values of ``m`` losses and their Jacobian with respect to a pytree of parameters.

    .. math:: \\ell = f(\\theta) \\in \\mathbb{R}^m, \\qquad
              \\partial_l = \\Big(\\frac{\\partial \\ell_i}{\\partial \\theta_l}\\Big)_{i=1..m},

    computed as one ``jax.vmap`` of the vector-Jacobian product over the ``m`` basis cotangents
    ``e_1, ..., e_m``: a single forward pass and one batched backward pass, not ``m`` separate
    gradients. Equal to ``jax.jacrev(fn)(params, *args, **kwargs)``, with the values as well.

    Use it to get the per-term gradients a Jacobian descent step aggregates; pass the second result to
    :func:`aggregate`.

    Args:
      fn: ``fn(params, *args, **kwargs) -> (m,)`` vector of losses, e.g.
        ``lambda p: jnp.stack([loss_a(p), loss_b(p)])``.
      params: the pytree of parameters to differentiate (the first argument of ``fn``).
      *args, **kwargs: passed to ``fn`` (not differentiated).

    Returns:
      ``(values, jacobian)``: the ``(m,)`` losses, and a pytree shaped like ``params`` whose leaves have a
      leading axis of ``m``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import aggregators
      >>> values, jac = aggregators.jacobian(lambda p: jnp.stack([p["x"] ** 2, 3 * p["x"]]), {"x": 2.0})
      >>> values.tolist(), jac["x"].tolist()
      ([4.0, 6.0], [4.0, 3.0])
    """
    callable_argument("jacobian", "fn", fn, "a function fn(params, ...) returning a vector of m losses")
    values, pullback = jax.vjp(lambda p: fn(p, *args, **kwargs), params)
    if not hasattr(values, "shape") or jnp.ndim(values) != 1:
        shape = getattr(values, "shape", None)
        raise ValueError(f"jacobian: fn must return a vector of m losses, shape (m,); got "
                         f"{type(values).__name__} of shape {shape}. Stack the terms: "
                         "lambda p: jnp.stack([loss_a(p), loss_b(p)]).")
    if not jnp.issubdtype(values.dtype, jnp.floating):
        raise TypeError(f"jacobian: fn must return floating-point losses; got dtype {values.dtype}.")
    basis = jnp.eye(values.shape[0], dtype=values.dtype)
    (jac,) = jax.vmap(pullback)(basis)
    return values, jac
