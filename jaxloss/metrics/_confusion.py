"""Counting right and wrong classes: top-k hits, the confusion matrix, precision/recall/F (private).

The statistics behind the classification metrics, shared by the one-shot functions
(``_classification``) and the streaming metrics (``_streaming``).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax import Array

from jaxloss import _core
from jaxloss.metrics import _inputs
from jaxloss.metrics._inputs import Average
from jaxloss.metrics._states import ConfusionState


def accuracy_values(fn: str, predictions: Any, targets: Any, top_k: int, dtype: Any) -> Array:
    """Per sample, in ``dtype``: 1 if the target class is among the ``top_k`` highest scores, else 0.

    NaN for a target outside ``[0, K)`` (under ``jit``; concrete ones were refused at the boundary), so
    that an invalid label can never count as a plausible miss.
    """
    predictions = _inputs.as_array(predictions, name="predictions", fn=fn)
    targets = _inputs.as_array(targets, name="targets", fn=fn)
    num_classes = _inputs.check_class_scores(fn, predictions, targets)
    k = _inputs.static_int(fn, "top_k", top_k, 1, num_classes)
    t = targets.astype(jnp.int32)
    valid = (t >= 0) & (t < num_classes)
    target_score = jnp.take_along_axis(predictions, jnp.clip(t, 0, num_classes - 1)[..., None], -1)
    # The target is in the top k when fewer than k classes rank before it. Ties: the lower class index
    # ranks first, for every k (np.argmax's rule at k = 1), so the value never falls as k grows.
    # (scikit-learn's top_k_accuracy_score ranks tied classes the other way, higher index first, for every
    # k; then its k = 1 disagrees with accuracy_score on ties.)
    index = jax.lax.broadcasted_iota(jnp.int32, predictions.shape, t.ndim)
    before = (predictions > target_score) | ((predictions == target_score) & (index < t[..., None]))
    hit = (jnp.sum(before, axis=-1) < k).astype(dtype)
    return jnp.where(valid, hit, jnp.full((), jnp.nan, dtype))


def labels(fn: str, predictions: Array, targets: Array, num_classes: Any, threshold: Any,
           from_logits: bool) -> tuple[Array, Array, int]:
    """(predicted labels, true labels, number of classes) from any accepted prediction form."""
    if predictions.ndim == targets.ndim + 1:
        k = _inputs.check_class_scores(fn, predictions, targets)
        if num_classes is not None and num_classes != k:
            raise ValueError(
                f"{fn}: num_classes={num_classes} but predictions has {k} class scores on its last axis "
                f"(shape {predictions.shape}).")
        return jnp.argmax(predictions, axis=-1), targets.astype(jnp.int32), k
    _inputs.check_same_shape(
        predictions, targets, fn=fn,
        hint=" Pass class scores of shape targets.shape + (K,), or one label/score per target.")
    if _inputs.is_int(predictions):
        _core.class_indices(targets, fn=fn)
        k = 2 if num_classes is None else _inputs.static_int(fn, "num_classes", num_classes, 2)
        return predictions.astype(jnp.int32), targets.astype(jnp.int32), k
    if num_classes not in (None, 2):
        raise ValueError(
            f"{fn}: floating predictions of the same shape as targets ({predictions.shape}) are binary scores, "
            f"but num_classes={num_classes}. Pass class scores of shape targets.shape + ({num_classes},) for "
            "multiclass.")
    _inputs.check_threshold(fn, threshold, from_logits)
    pred = _inputs.binary_predictions(predictions, threshold, from_logits)
    # A binary target outside [0, 1] is label -1: out of range, it poisons the counts (see confusion_stats).
    return pred.astype(jnp.int32), _inputs.binary_labels(targets), 2


def confusion_stats(fn: str, predictions: Any, targets: Any, num_classes: Any, threshold: Any,
                    from_logits: bool, weights: Any, where: Any, dtype: Any = None) -> ConfusionState:
    predictions = _inputs.as_array(predictions, name="predictions", fn=fn)
    targets = _inputs.as_array(targets, name="targets", fn=fn)
    pred, true, k = labels(fn, predictions, targets, num_classes, threshold, from_logits)
    dtype = dtype or _inputs.float_dtype(predictions)
    w, mask = _inputs.sample_weights(fn, true.shape, weights, where, dtype)
    valid = (true >= 0) & (true < k) & (pred >= 0) & (pred < k)
    included = jnp.ones(valid.shape, bool) if mask is None else mask
    # A label outside [0, k) among the included entries cannot be counted: the state is poisoned
    # (NaN counts; -1 for an integer confusion matrix) rather than silently dropping the entry.
    # Concrete labels were checked before (see _inputs.class_count); this catches traced ones.
    out_of_range = jnp.any(~valid & included)
    valid = valid & included
    w = jnp.where(valid, w, 0).reshape(-1)
    t = jnp.where(valid, true, 0).reshape(-1)
    p = jnp.where(valid, pred, 0).reshape(-1)
    matrix = jnp.zeros(k * k, dtype).at[t * k + p].add(w).reshape(k, k)
    poison = jnp.nan if jnp.issubdtype(dtype, jnp.floating) else -1
    matrix = jnp.where(out_of_range, jnp.full((), poison, dtype), matrix)
    seen = valid.reshape(-1).astype(dtype)
    present = jnp.zeros(k, dtype).at[t].add(seen).at[p].add(seen)
    return ConfusionState(matrix, present)


def prf_from_state(state: ConfusionState, average: Average, beta: float, which: str) -> Array:
    """Precision, recall or F-beta (``which``: "precision", "recall" or "f") from a confusion state."""
    cm, present = state.matrix, state.present
    tp = jnp.diagonal(cm)
    pred_sum = jnp.sum(cm, axis=0)
    true_sum = jnp.sum(cm, axis=1)
    if average == "binary":
        tp, pred_sum, true_sum = tp[1], pred_sum[1], true_sum[1]
    elif average == "micro":
        tp, pred_sum, true_sum = jnp.sum(tp), jnp.sum(pred_sum), jnp.sum(true_sum)
    if which == "precision":
        score = _inputs.safe_div(tp, pred_sum)
    elif which == "recall":
        score = _inputs.safe_div(tp, true_sum)
    else:  # F-beta from counts: (1 + b^2) tp / ((1 + b^2) tp + b^2 fn + fp), 0 when undefined.
        b2 = beta * beta
        score = _inputs.safe_div((1 + b2) * tp, b2 * true_sum + pred_sum)
    if average == "macro":  # over the labels present in targets or predictions, as scikit-learn
        is_present = present > 0
        return _inputs.safe_div(jnp.sum(jnp.where(is_present, score, 0)), jnp.sum(is_present))
    if average == "weighted":
        return _inputs.safe_div(jnp.sum(true_sum * score), jnp.sum(true_sum))
    return score
