"""Pairwise logistic losses over sets of scored items, shared by ranking and surrogates.

Two losses of the catalog are one computation. Each set (the last axis: the items of one list, or
of one batch) has scores ``s_1 .. s_m``; pair weights ``w_ij >= 0`` say how much item ``i`` should
outrank item ``j``; the loss of the set is the weighted mean over its pairs of the logistic loss of
the score gap (:func:`logistic_pair_mean`)::

    sum_ij w_ij log(1 + exp(-(s_i - s_j))) / sum_ij w_ij        (0 for a set without pairs)

- ``pairwise_logistic`` (ranking; RankNet, Burges et al. 2005) weights the pairs by graded relevance:
  ``w_ij = 1[r_i > r_j]``, or the gap ``r_i - r_j`` (:func:`relevance_pairs`).
- ``pairwise_auc`` (surrogates; Yan et al. 2003) weights them by binary labels:
  ``w_ij = t_i (1 - t_j)`` for ``i != j`` (:func:`label_pairs`), every (positive, negative) pair
  once. For 0/1 labels these are exactly RankNet's pairs with binary relevance, so
  ``pairwise_auc(s, t) == pairwise_logistic(s, t)``; soft labels in [0, 1] weight each pair by how
  positive ``i`` and how negative ``j`` are.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxloss import _core

__all__ = ["logistic_pair_mean", "relevance_pairs", "label_pairs"]


def logistic_pair_mean(scores: jax.Array, pair_weights: jax.Array) -> jax.Array:
    """``sum_ij w_ij log(1 + exp(-(s_i - s_j))) / sum_ij w_ij`` per set: ``(..., m)``, ``(..., m, m)`` -> ``(...)``.

    ``pair_weights[..., i, j]`` weights "item ``i`` above item ``j``". A set whose weights are all 0
    (ties only, one item, no positive or no negative) costs 0, with a zero gradient. The pair terms
    take ``O(m^2)`` memory.
    """
    # softplus(-(s_i - s_j)) = log(1 + exp(-(s_i - s_j))) with a stable softplus: finite at score gaps
    # of 2e4, exact derivatives of every order (the Hessian at ties).
    terms = _core.softplus(scores[..., None, :] - scores[..., :, None])
    total = jnp.sum(pair_weights, axis=(-2, -1))
    has_pairs = total > 0
    # A set without pairs divides by 1, not 0.
    return jnp.sum(pair_weights * terms, axis=(-2, -1)) / jnp.where(has_pairs, total, 1.0)


def relevance_pairs(relevance: jax.Array, items: jax.Array | None, *, gap_weighted: bool) -> jax.Array:
    """RankNet's pairs: ``w_ij = 1[r_i > r_j]`` (or ``r_i - r_j``), both items kept by the item mask."""
    r = relevance
    better = r[..., :, None] > r[..., None, :]  # (..., L, L): item i should outrank item j
    if items is not None:
        better = better & items[..., :, None] & items[..., None, :]
    return jnp.where(better, r[..., :, None] - r[..., None, :] if gap_weighted else 1.0, 0.0).astype(r.dtype)


def label_pairs(labels: jax.Array) -> jax.Array:
    """The (positive, negative) pairs of binary labels: ``w_ij = t_i (1 - t_j)`` for ``i != j``."""
    t = labels
    m = t.shape[-1]
    # i != j matters for soft labels only: t_i (1 - t_i) is 0 for 0/1 labels.
    off_diagonal = (1.0 - jnp.eye(m, dtype=t.dtype)).reshape((1,) * (t.ndim - 1) + (m, m))
    return t[..., :, None] * (1.0 - t[..., None, :]) * off_diagonal
