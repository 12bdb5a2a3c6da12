"""Soft overlap counts and the ratios built on them, shared by segmentation and surrogates.

With probabilities ``p`` and targets ``t`` in [0, 1] summed over the items of one set (the pixels
of an image, the labels of an example, the examples of a batch), the soft counts are
``TP = sum p t``, ``FP = sum p (1 - t)`` and ``FN = sum (1 - p) t`` (:func:`soft_counts`). Dice's
coefficient and the F1 score are one formula, ``2 TP / (2 TP + FP + FN)``, so two losses of the
catalog share :func:`dice_complement`:

- ``dice`` (segmentation): ``1 - (2 TP + smooth) / (2 TP + FP + FN + smooth)`` per image and class;
- ``soft_f1`` (surrogates): the same, one binary set per row,
  ``p = sigmoid(x)``: ``soft_f1(x, t, smooth=s) == dice(x, t, smooth=s, spatial_dims=1)``.

Every loss here is written as ``(weighted errors) / (denominator)``, never ``1 - ratio``: there is
no cancellation near a perfect prediction, and a 0 / 0 (an empty mask predicted empty with no
smoothing) counts 0 with a finite gradient (:func:`ratio`).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

__all__ = ["binary_probabilities", "soft_counts", "ratio", "dice_complement", "tversky_complement"]


def binary_probabilities(x: jax.Array, *, from_logits: bool) -> tuple[jax.Array, jax.Array]:
    """``(p, 1 - p)`` of binary scores: ``(sigmoid(x), sigmoid(-x))`` for logits, ``(x, 1 - x)`` for probabilities."""
    if from_logits:
        # 1 - sigmoid(x) as sigmoid(-x): no cancellation for large logits.
        return jax.nn.sigmoid(x), jax.nn.sigmoid(-x)
    return x, 1.0 - x


def soft_counts(p: jax.Array, q: jax.Array, t: jax.Array, axes: int | tuple[int, ...],
                ) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(TP, FP, FN) = (sum p t, sum p (1 - t), sum q t)`` over ``axes``, with ``q = 1 - p``."""
    return jnp.sum(p * t, axis=axes), jnp.sum(p * (1.0 - t), axis=axes), jnp.sum(q * t, axis=axes)


def ratio(errors: jax.Array, denominator: jax.Array) -> jax.Array:
    """errors / denominator, 0 where both are 0 (empty mask with smooth=0), with a finite gradient."""
    nonzero = denominator > 0
    return jnp.where(nonzero, errors / jnp.where(nonzero, denominator, 1.0), 0.0)


def dice_complement(tp: jax.Array, fp: jax.Array, fn: jax.Array, smooth: Any) -> jax.Array:
    """1 - Dice = 1 - soft F1 = (FP + FN) / (2 TP + FP + FN + smooth), without cancellation."""
    errors = fp + fn
    return ratio(errors, 2.0 * tp + errors + smooth)


def tversky_complement(tp: jax.Array, fp: jax.Array, fn: jax.Array, alpha: Any, beta: Any, smooth: Any) -> jax.Array:
    """1 - TI = (alpha FP + beta FN) / (TP + alpha FP + beta FN + smooth), without cancellation."""
    errors = alpha * fp + beta * fn
    return ratio(errors, tp + errors + smooth)
