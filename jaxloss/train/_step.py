"""The optimizer step: the one place in the package where a gradient meets an optax update.

``fit``'s training step, ``jl.trajectory`` and the playground's session all call :func:`optimizer_step`,
so they step alike: the value and gradient of the objective, ``optimizer.update`` with the extra
arguments the optax transformations that read them take (``value=``, ``grad=``, ``value_fn=``: lbfgs,
reduce_on_plateau), the updated parameters, and whether the step stayed finite. :func:`keep` is the
non-finite guard: it selects the new or the old values arithmetically (``jnp.where``), never with
``lax.cond``, whose predicate a GPU reads back on the host.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

__all__ = ["Step", "optimizer_step", "all_finite", "keep"]


class Step(NamedTuple):
    """What :func:`optimizer_step` gives back."""

    value: jax.Array      # the objective before the update
    aux: Any              # the objective's auxiliary output (``has_aux``), else None
    grads: Any
    params: Any           # after the update
    opt_state: Any        # after the update
    finite: jax.Array     # the value and the new parameters are finite


def all_finite(tree: Any) -> jax.Array:
    """Whether every inexact entry of ``tree`` is finite (True for a tree without any)."""
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree) if jnp.issubdtype(jnp.result_type(x), jnp.inexact)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.bool_(True)


def keep(good: jax.Array, new: Any, old: Any) -> Any:
    """``new`` where ``good``, else ``old``, leaf by leaf (in ``old``'s dtypes)."""
    return jax.tree.map(lambda x, y: jnp.where(good, x, y).astype(jnp.result_type(y)), new, old)


def optimizer_step(optimizer: optax.GradientTransformation, objective: Callable[[Any], Any], params: Any,
                   opt_state: Any, *, has_aux: bool = False) -> Step:
    """One optax step on ``objective(params)`` (a scalar, or ``(scalar, aux)`` with ``has_aux``).

    Pure: call it under ``jax.jit``. The optimizer gets ``value=``, ``grad=`` and ``value_fn=`` (ignored
    by transformations that do not read them).
    """
    value_and_grad = jax.value_and_grad(objective, has_aux=has_aux)
    if has_aux:
        (value, aux), grads = value_and_grad(params)

        def value_fn(p: Any) -> jax.Array:
            return objective(p)[0]
    else:
        (value, grads), aux, value_fn = value_and_grad(params), None, objective
    tx = optax.with_extra_args_support(optimizer)
    updates, new_opt_state = tx.update(grads, opt_state, params, value=value, grad=grads, value_fn=value_fn)
    new_params = optax.apply_updates(params, updates)
    return Step(value, aux, grads, new_params, new_opt_state, jnp.isfinite(value) & all_finite(new_params))
