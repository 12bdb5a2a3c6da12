"""Ranking metrics for binary targets: ROC AUC and average precision, exact, O(n log n) (private)."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
from jax import Array

from jaxloss._core import ArrayLike
from jaxloss.metrics import _inputs


def _ranking_inputs(fn: str, scores: Any, targets: Any, weights: Any,
                    where: Any) -> tuple[Array, Array, Array, Array]:
    """Flat scores, positive flags and weights (masked entries weigh 0), and whether a counted score is NaN."""
    scores = _inputs.as_array(scores, name="scores", fn=fn)
    targets = _inputs.as_array(targets, name="targets", fn=fn)
    _inputs.check_same_shape(
        scores, targets, fn=fn, names=("scores", "targets"),
        hint=f" {fn} takes one score per binary target; for multiclass one-vs-rest, call "
             f"{fn}(scores[..., k], targets == k) for each class k.")
    dtype = _inputs.float_dtype(scores)
    w, mask = _inputs.sample_weights(fn, targets.shape, weights, where, dtype)
    s = _inputs.masked(scores.astype(dtype), mask).reshape(-1)
    pos = _inputs.binary_targets(targets).reshape(-1)
    w = w.reshape(-1)
    # A target outside [0, 1] (traced: concrete ones raise at the boundary) makes the result NaN, as a NaN score does.
    invalid = ~_inputs.binary_targets_valid(targets).reshape(-1)
    has_nan = jnp.any((jnp.isnan(s) | invalid) & (w != 0))
    return s, pos, w, has_nan


@_inputs.compiled()
def roc_auc(scores: ArrayLike, targets: ArrayLike, *, weights: ArrayLike | None = None,
            where: ArrayLike | None = None) -> Array:
    """Exact area under the ROC curve for binary targets, ties counted 1/2.

    ``AUC = sum_{i pos, j neg} w_i w_j ([s_i > s_j] + [s_i == s_j] / 2) / (W_pos W_neg)``: the
    probability that a random positive scores above a random negative. This equals scikit-learn's
    trapezoidal area over the distinct thresholds. Computed in O(n log n) with static shapes: sort
    the scores, then for each positive add the negative weight strictly below it plus half the
    negative weight tied with it (cumulative sums looked up with ``searchsorted``). Only the order of
    the scores matters, so logits and probabilities give the same value. Sums accumulate in the
    scores' float dtype (float32: relative error about 1e-6 on a million samples).

    Returns NaN when one class has zero total weight (scikit-learn raises), or when an unmasked score
    with nonzero weight is NaN.

    Args:
      scores: one score per target, shape ``(...)`` (flattened).
      targets: 0/1 labels (bool, int or float; values above 0.5 are positive), same shape.
      weights: sample weights broadcastable to ``targets.shape``.
      where: boolean mask of ``targets.shape``.

    Returns:
      A scalar in ``[0, 1]``, or NaN when undefined.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import metrics
      >>> float(metrics.roc_auc(jnp.array([0.1, 0.4, 0.35, 0.8]), jnp.array([0, 0, 1, 1])))
      0.75
      >>> float(metrics.roc_auc(jnp.array([0.5, 0.5]), jnp.array([0, 1])))  # a tie counts 1/2
      0.5

    Reference: ``sklearn.metrics.roc_auc_score(targets, scores, sample_weight=w)``; Hanley & McNeil,
    "The meaning and use of the area under a ROC curve", 1982.
    """
    s, pos, w, has_nan = _ranking_inputs("roc_auc", scores, targets, weights, where)
    return jnp.where(has_nan, jnp.nan, auc_of(s, pos, w))


def auc_of(s: Array, pos: Array, w: Array) -> Array:
    """:func:`roc_auc` of flat scores, positive flags and weights (0 for an entry that does not count)."""
    w_pos = jnp.where(pos, w, 0)
    w_neg = jnp.where(pos, 0, w)
    order = jnp.argsort(s)
    s_sorted = s[order]
    cum_neg = jnp.concatenate([jnp.zeros(1, w.dtype), jnp.cumsum(w_neg[order])])
    lo = jnp.searchsorted(s_sorted, s_sorted, side="left")
    hi = jnp.searchsorted(s_sorted, s_sorted, side="right")
    below, tied = cum_neg[lo], cum_neg[hi] - cum_neg[lo]
    pairs = jnp.sum(w_pos[order] * (below + 0.5 * tied))
    n_pos, n_neg = jnp.sum(w_pos), jnp.sum(w_neg)
    denom = n_pos * n_neg
    auc = jnp.clip(pairs / jnp.where(denom > 0, denom, 1), 0, 1)  # clip: cumsum rounding
    return jnp.where(denom > 0, auc, jnp.nan)


@_inputs.compiled()
def average_precision(scores: ArrayLike, targets: ArrayLike, *, weights: ArrayLike | None = None,
                      where: ArrayLike | None = None) -> Array:
    """Average precision: the step-wise area under the precision-recall curve.

    ``AP = sum_n (R_n - R_{n-1}) P_n`` over the distinct score thresholds in decreasing order, with
    ``P_n``, ``R_n`` the (weighted) precision and recall when predicting positive for scores
    ``>= threshold_n`` (no interpolation, so it is not the trapezoid, which is optimistic). Written
    per positive sample: ``AP = sum_{i pos} w_i P(s_i) / W_pos`` with ``P(s)`` the precision at
    threshold ``s``, so tied scores share one threshold. O(n log n), static shapes.

    Use it for imbalanced problems where the positives matter (retrieval, detection). Returns NaN
    when the positives have zero total weight (undefined recall; scikit-learn warns), or when an
    unmasked score with nonzero weight is NaN.

    Args:
      scores: one score per target, shape ``(...)`` (flattened).
      targets: 0/1 labels (values above 0.5 are positive), same shape.
      weights: sample weights broadcastable to ``targets.shape``.
      where: boolean mask of ``targets.shape``.

    Returns:
      A scalar in ``[0, 1]``, or NaN when undefined.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import metrics
      >>> s, y = jnp.array([0.1, 0.4, 0.35, 0.8]), jnp.array([0, 0, 1, 1])
      >>> round(float(metrics.average_precision(s, y)), 4)
      0.8333

    Reference: ``sklearn.metrics.average_precision_score(targets, scores, sample_weight=w)``.
    """
    s, pos, w, has_nan = _ranking_inputs("average_precision", scores, targets, weights, where)
    return jnp.where(has_nan, jnp.nan, average_precision_of(s, pos, w))


def average_precision_of(s: Array, pos: Array, w: Array) -> Array:
    """:func:`average_precision` of flat scores, positive flags and weights (0 for an entry that does not count)."""
    w_pos = jnp.where(pos, w, 0)
    key = -s  # ascending in key = descending in score
    order = jnp.argsort(key)
    key_sorted = key[order]
    zero = jnp.zeros(1, w.dtype)
    cum_pos = jnp.concatenate([zero, jnp.cumsum(w_pos[order])])
    cum_all = jnp.concatenate([zero, jnp.cumsum(w[order])])
    end = jnp.searchsorted(key_sorted, key_sorted, side="right")  # end of each tie group
    prec = _inputs.safe_div(cum_pos[end], cum_all[end])
    n_pos = jnp.sum(w_pos)
    ap = jnp.clip(jnp.sum(w_pos[order] * prec) / jnp.where(n_pos > 0, n_pos, 1), 0, 1)
    return jnp.where(n_pos > 0, ap, jnp.nan)
