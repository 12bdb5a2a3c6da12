"""The linear models of the toy data problems (private).

Module-level functions, so that their identities are stable and ``fit``'s compile cache is reused
across toy problems.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp


def linear(params: Any, inputs: jax.Array) -> jax.Array:
    """``inputs @ w + b``; ``w`` of shape (features,) gives one output, (features, k) gives k."""
    return inputs @ params["w"] + params["b"]


def positive_linear(params: Any, inputs: jax.Array) -> jax.Array:
    """``softplus(inputs @ w + b) + 1e-3``: a positive prediction."""
    return jax.nn.softplus(linear(params, inputs)) + 1e-3


def log_softmax_linear(params: Any, inputs: jax.Array) -> jax.Array:
    """Log-probabilities of a linear softmax classifier."""
    return jax.nn.log_softmax(linear(params, inputs), axis=-1)


def lookup(params: tuple[jax.Array, ...], indices: jax.Array) -> tuple[jax.Array, ...]:
    """The rows ``indices`` of each parameter array: the parameters are the predictions."""
    return tuple(jnp.take(p, indices, axis=0) for p in params)
