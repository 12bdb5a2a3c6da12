"""Softmax cross-entropy kernels on checked class scores, shared by the families that need them.

Each takes scores ``x`` of shape ``(..., K)`` (logits, or probabilities with ``from_logits=False``)
and returns one value per example, without reducing: ``-log p_y`` for integer labels
(:func:`log_prob_of_label`), the mean of ``log p_c`` that label smoothing adds
(:func:`mean_log_prob`), and ``-sum_c q_c log p_c`` against a distribution
(:func:`cross_entropy_with_distribution`). ``-inf`` logits (masked-out classes) are allowed
everywhere; probabilities are clipped to ``[eps, 1]`` (``_core.probability_epsilon``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxloss import _core
from jaxloss.losses._class_inputs import pick

__all__ = ["predictable", "log_prob_of_label", "mean_log_prob", "cross_entropy_with_distribution"]


def predictable(x: jax.Array, *, from_logits: bool) -> jax.Array:
    """The classes that can be predicted at all (a -inf logit masks a class out)."""
    return jnp.isfinite(x) if from_logits else jnp.ones(x.shape, bool)


def log_prob_of_label(x: jax.Array, labels: jax.Array, *, from_logits: bool) -> jax.Array:
    """log p_y for integer labels, from logits or probabilities, without a log-probability array."""
    if from_logits:
        return pick(x, labels) - jax.nn.logsumexp(x, axis=-1)
    return jnp.log(jnp.clip(pick(x, labels), _core.probability_epsilon(x.dtype), 1.0))


def mean_log_prob(x: jax.Array, *, from_logits: bool) -> jax.Array:
    """The mean of log p_c over the predictable classes (the label-smoothing term)."""
    if from_logits:
        # Uniform mass over the classes that can be predicted: a -inf logit
        # (masked-out class) would otherwise make the smoothed loss infinite.
        # The masked mean stops XLA from fusing the reduction (it materialises
        # a (..., K) array), so it runs only when some logit is not finite;
        # the common path is a plain fused mean.
        total = jnp.sum(x, axis=-1)

        def masked_mean(x: jax.Array) -> jax.Array:
            finite = jnp.isfinite(x)
            return jnp.sum(jnp.where(finite, x, 0.0), axis=-1) / jnp.maximum(jnp.sum(finite, axis=-1), 1)

        mean_logit = jax.lax.cond(
            jnp.all(jnp.isfinite(total)), lambda x: total / x.shape[-1], masked_mean, x)
        return mean_logit - jax.nn.logsumexp(x, axis=-1)
    return jnp.mean(jnp.log(jnp.clip(x, _core.probability_epsilon(x.dtype), 1.0)), axis=-1)


def cross_entropy_with_distribution(x: jax.Array, q: jax.Array, *, from_logits: bool) -> jax.Array:
    """-sum_c q_c log p_c with 0 log 0 = 0 (also for -inf logits), value and gradient."""
    present = q != 0
    if from_logits:
        # sum_c q_c (logsumexp(x) - x_c), without materialising log p.
        q_dot_x = jnp.sum(jnp.where(present, q * jnp.where(present, x, 0.0), 0.0), axis=-1)
        return jnp.sum(q, axis=-1) * jax.nn.logsumexp(x, axis=-1) - q_dot_x
    log_p = jnp.log(jnp.clip(x, _core.probability_epsilon(x.dtype), 1.0))
    return -jnp.sum(jnp.where(present, q * log_p, 0.0), axis=-1)
