"""Metrics: what a person reads and what early stopping watches.

A *loss* is what the optimizer minimizes; a *metric* is what you report. The functions here are pure
JAX, safe under ``jit`` and ``vmap``, and match scikit-learn on the same data (the tests recompute every
value with an independent NumPy reference).

Why metrics are never differentiated
------------------------------------
Accuracy, precision, recall, F1, ROC AUC and average precision are step functions of the model's
parameters: they change only when a prediction crosses a decision threshold (or two scores swap
order). Between those points they are flat, so their gradient is zero almost everywhere and undefined
at the jumps; ``jax.grad(accuracy)`` returns zeros and gradient descent on it never moves. Train on a
loss (or a differentiable surrogate such as a soft F1 or a pairwise AUC loss) and *read* the metric.
Nothing in this module is meant to be passed to ``jax.grad``; where a metric has a smooth formula
(log loss, MSE) use the loss of the same name for training.

Conventions
-----------
* Argument order is ``(predictions, targets)`` everywhere, options after a bare ``*``.
* Multiclass metrics take class *scores* of shape ``(..., K)`` (logits, probabilities or any score:
  only their order matters, except for ``log_loss`` and ``expected_calibration_error``) and integer
  class indices ``targets`` of shape ``(...)``; ``K`` is read from the scores' last axis, so every
  shape is static and every function is jit-able.
* Binary metrics take one score per target (``predictions.shape == targets.shape``) and targets in
  {0, 1} (bool, integer or float; a value above 0.5 counts as positive). Thresholded metrics predict
  the positive class when ``predictions > threshold``, or, with ``from_logits=True``, when
  ``sigmoid(predictions) > threshold`` (computed as ``predictions > log(t / (1 - t))``).
* ``weights`` are per-sample weights (scikit-learn's ``sample_weight``), broadcastable to the sample
  shape (``targets.shape``). ``where`` is a boolean mask of that shape: ``where=m`` gives the same
  value as dropping the entries where ``m`` is False (even if those entries hold NaN).
* Weighted means with no weight at all (empty or all-masked input) return 0, as the losses do.
  Metrics that are undefined without both classes (``roc_auc``, ``average_precision`` without
  positives) or with fewer than two samples (``r2_score``) return NaN: scikit-learn raises or warns.
* Options that change shapes (``top_k``, ``num_classes``, ``num_bins``, ``average``) must be Python
  values: under ``jax.jit`` bind them with ``functools.partial`` or ``static_argnames``.
* Bad input raises ``ValueError``/``TypeError`` at trace time, naming the function, the argument,
  what arrived and what was expected.

Streaming metrics (for the training loop)
-----------------------------------------
A streaming metric is a :class:`Metric`, a NamedTuple of pure functions whose state is a pytree of
arrays (fixed shapes and dtypes, so it can be a ``lax.scan`` carry)::

    m = metrics.get("auc", from_logits=True)      # by name; or metrics.auc_metric(from_logits=True)
    state = m.init()                               # () -> State
    state = m.update(state, predictions, targets, weights=None, where=None)   # -> State
    state = m.merge(state_a, state_b)              # -> State (associative, commutative)
    value = m.compute(state)                       # -> scalar Array
    m.name, m.greater_is_better                    # "auc", True  (for early stopping mode="auto")

* Names accepted by :func:`get` (``STREAMING`` holds them): ``accuracy``, ``binary_accuracy``,
  ``precision``, ``recall``, ``f1``, ``fbeta``, ``auc`` (alias ``roc_auc``), ``log_loss``, ``mse``,
  ``rmse``, ``mae``, ``r2``, ``ece``, plus the scikit-learn spellings (``f1_score``,
  ``mean_squared_error``, ...). ``m.name`` is the canonical name; History stores ``"val_" + m.name``.
* Every constructor accepts ``from_logits`` (default ``False``: predictions are probabilities).
  Pass ``from_logits=True`` when the model outputs logits (the loss is a "with logits" loss). It is
  ignored by the metrics that depend only on the scores' order (``accuracy``) or that are regression
  metrics (``mse``, ``rmse``, ``mae``, ``r2``).
* Multiclass precision/recall/F1 need ``num_classes`` at construction (the state is a K x K confusion
  matrix); without it they are binary.
* ``merge`` is elementwise addition of the states for every metric except ``r2``, whose state holds a
  running mean and uses Chan's stable pairwise combination; use ``m.merge`` rather than ``+``.
* A ``Metric`` holds functions, not arrays: close over it (or pass it as a static argument) and
  pass only its *state* through ``jit``/``scan``. ``get`` and the constructors return the same
  object for the same options, so a jit cache keyed on the metric is reused across calls.
* Every streaming metric is exact (equals the one-shot function on the concatenated data) except
  ``auc``, a histogram approximation with a documented and tested error bound (see
  :func:`auc_metric` and :func:`auc_histogram_bound`).
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from jaxloss import _core

__all__ = [
    "accuracy",
    "binary_accuracy",
    "confusion_matrix",
    "precision",
    "recall",
    "f1_score",
    "fbeta_score",
    "roc_auc",
    "average_precision",
    "log_loss",
    "mean_squared_error",
    "root_mean_squared_error",
    "mean_absolute_error",
    "r2_score",
    "expected_calibration_error",
    "Metric",
    "accuracy_metric",
    "binary_accuracy_metric",
    "precision_metric",
    "recall_metric",
    "f1_metric",
    "fbeta_metric",
    "auc_metric",
    "auc_histogram_bound",
    "log_loss_metric",
    "mse_metric",
    "rmse_metric",
    "mae_metric",
    "r2_metric",
    "ece_metric",
    "STREAMING",
    "READS_PROBABILITIES",
    "TAKES_NUM_CLASSES",
    "get",
]

Array = jax.Array
_AVERAGES = ("binary", "micro", "macro", "weighted", None)


# --------------------------------------------------------------------------------------------------
# Input checks (trace time) and small numerical helpers
# --------------------------------------------------------------------------------------------------


def _asarray(fn: str, name: str, x: Any) -> Array:
    try:
        return jnp.asarray(x)
    except (TypeError, ValueError) as e:
        raise TypeError(
            f"{fn}: argument `{name}` must be array-like, got {type(x).__name__} ({e})."
        ) from None


def _is_int(x: Array) -> bool:
    return bool(jnp.issubdtype(x.dtype, jnp.integer) or x.dtype == jnp.bool_)


def _float_dtype(*xs: Array):
    """Floating dtype to compute in: the inputs' float dtype, at least float32."""
    return jnp.result_type(*[x.dtype for x in xs], jnp.float32)


def _state_dtype():
    # Read at call time (not import time): float64 when the user enabled x64, else float32.
    return jax.dtypes.canonicalize_dtype(np.float64)


def _safe_div(a, b):
    """a / b where b != 0, else 0 (scikit-learn's zero_division=0)."""
    nz = b != 0
    return jnp.where(nz, a / jnp.where(nz, b, 1), 0)


def _check_int_targets(fn: str, targets: Array) -> None:
    if not _is_int(targets):
        raise TypeError(
            f"{fn}: `targets` must hold integer class indices, got dtype {targets.dtype} with shape "
            f"{targets.shape}. Cast whole-number labels with targets.astype(jnp.int32); for one-hot "
            f"targets pass targets.argmax(-1)."
        )


def _check_multiclass(fn: str, predictions: Array, targets: Array) -> int:
    _check_int_targets(fn, targets)
    if predictions.ndim != targets.ndim + 1 or predictions.shape[:-1] != targets.shape:
        raise ValueError(
            f"{fn}: `predictions` must be class scores of shape targets.shape + (K,) = "
            f"({''.join(f'{d}, ' for d in targets.shape)}K), got predictions {predictions.shape} "
            f"and targets {targets.shape}."
        )
    if predictions.shape[-1] < 1:
        raise ValueError(f"{fn}: `predictions` has an empty class axis (shape {predictions.shape}).")
    return predictions.shape[-1]


def _check_same_shape(fn: str, predictions: Array, targets: Array, hint: str = "") -> None:
    if predictions.shape != targets.shape:
        raise ValueError(
            f"{fn}: `predictions` shape {predictions.shape} does not match `targets` shape "
            f"{targets.shape}; expected one prediction per target (equal shapes).{hint}"
        )


def _check_static_int(fn: str, name: str, value: Any, low: int, high: Optional[int] = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"{fn}: `{name}` must be a Python int (it fixes an array shape), got "
            f"{type(value).__name__} {value!r}. Under jax.jit bind it with functools.partial or "
            f"static_argnames=('{name}',)."
        )
    value = int(value)
    if value < low or (high is not None and value > high):
        bound = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{fn}: `{name}` must be in {bound}, got {value}.")
    return value


def _broadcast_arg(fn: str, name: str, x: Array, shape: tuple) -> Array:
    try:
        ok = jnp.broadcast_shapes(x.shape, shape) == shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"{fn}: `{name}` of shape {x.shape} cannot be broadcast to the sample shape {shape} "
            f"(targets.shape); expected shape {shape} or one broadcastable to it."
        )
    return jnp.broadcast_to(x, shape)


def _sample_weights(fn: str, shape: tuple, weights, where, dtype):
    """Effective per-sample weights (masked entries weigh 0) and the broadcast mask (or None)."""
    if weights is None:
        w = jnp.ones(shape, dtype)
    else:
        w = _broadcast_arg(fn, "weights", _asarray(fn, "weights", weights), shape).astype(dtype)
    mask = None
    if where is not None:
        where = _asarray(fn, "where", where)
        if where.dtype != jnp.bool_:
            raise TypeError(
                f"{fn}: `where` must be a boolean mask, got dtype {where.dtype} with shape "
                f"{where.shape}. Pass where=mask.astype(bool)."
            )
        mask = _broadcast_arg(fn, "where", where, shape)
        w = jnp.where(mask, w, 0)
    return w, mask


def _masked(x: Array, mask) -> Array:
    """Replace masked-out entries by 0 so that NaN or inf there cannot leak into sums."""
    if mask is None:
        return x
    while mask.ndim < x.ndim:
        mask = mask[..., None]
    return jnp.where(mask, x, jnp.zeros((), x.dtype))


def _binary_targets(targets: Array) -> Array:
    return targets if targets.dtype == jnp.bool_ else targets > 0.5


def _binary_predictions(predictions: Array, threshold, from_logits: bool) -> Array:
    if from_logits:
        threshold = jnp.log(threshold) - jnp.log1p(-jnp.asarray(threshold))  # logit(threshold)
    return predictions > threshold


def _check_threshold(fn: str, threshold, from_logits: bool) -> None:
    if isinstance(threshold, (int, float)) and from_logits and not 0 < threshold < 1:
        raise ValueError(
            f"{fn}: with from_logits=True, `threshold` is a probability in (0, 1), got {threshold}."
        )


# --------------------------------------------------------------------------------------------------
# Batch statistics shared by the one-shot functions and the streaming metrics
# --------------------------------------------------------------------------------------------------


class MeanState(NamedTuple):
    """Weighted sum of per-sample values and the total weight."""

    total: Array
    weight: Array


class ConfusionState(NamedTuple):
    """Weighted confusion matrix (rows true, columns predicted) and per-class presence counts."""

    matrix: Array
    present: Array


class MomentsState(NamedTuple):
    """Sample count, total weight, weighted target mean, sum of squared deviations, residual SS."""

    count: Array
    weight: Array
    mean: Array
    m2: Array
    sse: Array


class BinnedState(NamedTuple):
    """Per-bin total weight, weighted confidence sum and weighted correct (or positive) sum."""

    weight: Array
    confidence: Array
    correct: Array


class HistogramState(NamedTuple):
    """Per-bin weight of positive and of negative samples."""

    positive: Array
    negative: Array


def _mean_stats(values: Array, w: Array, mask) -> MeanState:
    values = _masked(values, mask)
    return MeanState(jnp.sum(w * values), jnp.sum(w))


def _accuracy_values(fn: str, predictions, targets, top_k: int) -> Array:
    predictions = _asarray(fn, "predictions", predictions)
    targets = _asarray(fn, "targets", targets)
    num_classes = _check_multiclass(fn, predictions, targets)
    k = _check_static_int(fn, "top_k", top_k, 1, num_classes)
    t = targets.astype(jnp.int32)
    valid = (t >= 0) & (t < num_classes)
    target_score = jnp.take_along_axis(predictions, jnp.clip(t, 0, num_classes - 1)[..., None], -1)
    # The target is in the top k when fewer than k classes rank before it. Ties follow the reference
    # each case cites: for k = 1 the lower class index wins (np.argmax, accuracy_score); for k > 1 the
    # higher one ranks first, as scikit-learn's top_k_accuracy_score (a stable ascending argsort, reversed).
    index = jax.lax.broadcasted_iota(jnp.int32, predictions.shape, t.ndim)
    tie_first = index < t[..., None] if k == 1 else index > t[..., None]
    before = (predictions > target_score) | ((predictions == target_score) & tie_first)
    return valid & (jnp.sum(before, axis=-1) < k)


def _labels(fn, predictions, targets, num_classes, threshold, from_logits):
    """(predicted labels, true labels, number of classes) from any accepted prediction form."""
    if predictions.ndim == targets.ndim + 1:
        k = _check_multiclass(fn, predictions, targets)
        if num_classes is not None and num_classes != k:
            raise ValueError(
                f"{fn}: num_classes={num_classes} but `predictions` has {k} class scores on its "
                f"last axis (shape {predictions.shape})."
            )
        return jnp.argmax(predictions, axis=-1), targets.astype(jnp.int32), k
    _check_same_shape(
        fn,
        predictions,
        targets,
        " Pass class scores of shape targets.shape + (K,), or one label/score per target.",
    )
    if _is_int(predictions):
        _check_int_targets(fn, targets)
        k = 2 if num_classes is None else _check_static_int(fn, "num_classes", num_classes, 2)
        return predictions.astype(jnp.int32), targets.astype(jnp.int32), k
    if num_classes not in (None, 2):
        raise ValueError(
            f"{fn}: floating `predictions` of the same shape as `targets` ({predictions.shape}) are "
            f"binary scores, but num_classes={num_classes}. Pass class scores of shape "
            f"targets.shape + ({num_classes},) for multiclass."
        )
    _check_threshold(fn, threshold, from_logits)
    pred = _binary_predictions(predictions, threshold, from_logits)
    return pred.astype(jnp.int32), _binary_targets(targets).astype(jnp.int32), 2


def _confusion_stats(fn, predictions, targets, num_classes, threshold, from_logits, weights, where,
                     dtype=None) -> ConfusionState:
    predictions = _asarray(fn, "predictions", predictions)
    targets = _asarray(fn, "targets", targets)
    pred, true, k = _labels(fn, predictions, targets, num_classes, threshold, from_logits)
    dtype = dtype or _float_dtype(predictions)
    w, mask = _sample_weights(fn, true.shape, weights, where, dtype)
    valid = (true >= 0) & (true < k) & (pred >= 0) & (pred < k)
    included = jnp.ones(valid.shape, bool) if mask is None else mask
    # A label outside [0, k) among the included entries cannot be counted: the state is poisoned
    # (NaN counts; -1 for an integer confusion matrix) rather than silently dropping the entry.
    # Concrete labels were checked before (see _labels_in_range); this catches traced ones.
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


def _prf_from_state(fn: str, state: ConfusionState, average, beta: float, which: str) -> Array:
    cm, present = state.matrix, state.present
    tp = jnp.diagonal(cm)
    pred_sum = jnp.sum(cm, axis=0)
    true_sum = jnp.sum(cm, axis=1)
    if average == "binary":
        tp, pred_sum, true_sum = tp[1], pred_sum[1], true_sum[1]
    elif average == "micro":
        tp, pred_sum, true_sum = jnp.sum(tp), jnp.sum(pred_sum), jnp.sum(true_sum)
    if which == "precision":
        score = _safe_div(tp, pred_sum)
    elif which == "recall":
        score = _safe_div(tp, true_sum)
    else:  # F-beta from counts: (1 + b^2) tp / ((1 + b^2) tp + b^2 fn + fp), 0 when undefined.
        b2 = beta * beta
        score = _safe_div((1 + b2) * tp, b2 * true_sum + pred_sum)
    if average == "macro":  # over the labels present in targets or predictions, as scikit-learn
        is_present = present > 0
        return _safe_div(jnp.sum(jnp.where(is_present, score, 0)), jnp.sum(is_present))
    if average == "weighted":
        return _safe_div(jnp.sum(true_sum * score), jnp.sum(true_sum))
    return score


def _check_average(fn: str, average, predictions, targets, num_classes=None) -> None:
    if average not in _AVERAGES:
        raise ValueError(
            f"{fn}: `average` must be one of 'binary', 'micro', 'macro', 'weighted' or None, got "
            f"{average!r}."
        )
    if average == "binary":
        k = None
        if predictions is not None and jnp.ndim(predictions) == jnp.ndim(targets) + 1:
            k = jnp.shape(predictions)[-1]
        elif num_classes is not None:
            k = num_classes
        if k is not None and k != 2:
            raise ValueError(
                f"{fn}: average='binary' needs two classes but the input has {k} "
                f"(predictions shape {jnp.shape(predictions) if predictions is not None else '?'}). "
                f"Pass average='macro', 'micro' or 'weighted' for multiclass."
            )


def _regression_inputs(fn, predictions, targets, weights, where):
    predictions = _asarray(fn, "predictions", predictions)
    targets = _asarray(fn, "targets", targets)
    _check_same_shape(fn, predictions, targets)
    dtype = _float_dtype(predictions, targets)
    w, mask = _sample_weights(fn, targets.shape, weights, where, dtype)
    p = _masked(predictions.astype(dtype), mask)
    t = _masked(targets.astype(dtype), mask)
    return p, t, w, mask


def _moments_stats(fn, predictions, targets, weights, where) -> MomentsState:
    p, t, w, mask = _regression_inputs(fn, predictions, targets, weights, where)
    count = jnp.sum(jnp.ones(t.shape, w.dtype) if mask is None else mask.astype(w.dtype))
    weight = jnp.sum(w)
    mean = _safe_div(jnp.sum(w * t), weight)
    m2 = jnp.sum(w * (t - mean) ** 2)  # two-pass within the batch: no cancellation
    sse = jnp.sum(w * (t - p) ** 2)
    return MomentsState(count, weight, mean, m2, sse)


def _merge_moments(a: MomentsState, b: MomentsState) -> MomentsState:
    # Chan, Golub & LeVeque (1979) pairwise update: stable where sum(y^2) - n mean^2 would cancel.
    weight = a.weight + b.weight
    delta = b.mean - a.mean
    frac = _safe_div(b.weight, weight)
    mean = a.mean + delta * frac
    m2 = a.m2 + b.m2 + delta * delta * a.weight * frac
    return MomentsState(a.count + b.count, weight, mean, m2, a.sse + b.sse)


def _r2_from_state(s: MomentsState) -> Array:
    # scikit-learn's force_finite: a constant target gives 1 if predicted exactly, else 0.
    r2 = jnp.where(s.m2 != 0, 1 - _safe_div(s.sse, s.m2), jnp.where(s.sse == 0, 1.0, 0.0))
    return jnp.where(s.count < 2, jnp.nan, r2)


def _probability_epsilon(predictions: Array) -> float:
    # The losses' clip (the machine epsilon of the predictions' float dtype, at least float32) and
    # scikit-learn's, so that the metric and the loss of the same name agree at 0 and 1.
    return _core.probability_epsilon(_float_dtype(predictions))


def _log_loss_values(fn, predictions, targets, from_logits, epsilon):
    predictions = _asarray(fn, "predictions", predictions)
    targets = _asarray(fn, "targets", targets)
    if predictions.ndim == targets.ndim + 1:
        k = _check_multiclass(fn, predictions, targets)
        dtype = _float_dtype(predictions)
        x = predictions.astype(dtype)
        t = targets.astype(jnp.int32)
        valid = (t >= 0) & (t < k)
        if from_logits:
            logp = jax.nn.log_softmax(x, axis=-1)  # never log(softmax(x)): underflows to -inf
        else:
            eps = _probability_epsilon(predictions) if epsilon is None else epsilon
            logp = jnp.log(jnp.clip(x, eps, 1 - eps))
        picked = jnp.take_along_axis(logp, jnp.clip(t, 0, k - 1)[..., None], -1)[..., 0]
        return jnp.where(valid, -picked, jnp.nan), targets.shape, dtype  # bad label -> NaN
    _check_same_shape(
        fn, predictions, targets, " For multiclass pass probabilities of shape targets.shape + (K,)."
    )
    dtype = _float_dtype(predictions, targets)
    x = predictions.astype(dtype)
    y = targets.astype(dtype)
    if from_logits:
        # log(1 - sigmoid(x)) = log_sigmoid(-x): no 1 - p rounding, finite for any finite logit.
        loss = -(y * jax.nn.log_sigmoid(x) + (1 - y) * jax.nn.log_sigmoid(-x))
    else:
        eps = _probability_epsilon(predictions) if epsilon is None else epsilon
        p = jnp.clip(x, eps, 1 - eps)  # scikit-learn's clip: log(0) would be -inf
        loss = -(y * jnp.log(p) + (1 - y) * jnp.log1p(-p))
    return loss, targets.shape, dtype


def _bin_edges(num_bins: int, dtype) -> Array:
    # Inner edges computed in float64 NumPy then cast, so a reference can reproduce them exactly.
    return jnp.asarray(np.linspace(0.0, 1.0, num_bins + 1)[1:-1], dtype)


def _calibration_stats(fn, predictions, targets, num_bins, from_logits, weights, where,
                       dtype=None) -> BinnedState:
    predictions = _asarray(fn, "predictions", predictions)
    targets = _asarray(fn, "targets", targets)
    num_bins = _check_static_int(fn, "num_bins", num_bins, 1)
    fdtype = _float_dtype(predictions)
    x = predictions.astype(fdtype)
    if predictions.ndim == targets.ndim + 1:  # top-label calibration
        k = _check_multiclass(fn, predictions, targets)
        probs = jax.nn.softmax(x, axis=-1) if from_logits else x
        confidence = jnp.max(probs, axis=-1)
        correct = (jnp.argmax(probs, axis=-1) == targets) & (targets >= 0) & (targets < k)
    else:  # positive-class calibration (a reliability diagram of p against the positive rate)
        _check_same_shape(fn, predictions, targets, " For multiclass pass (..., K) probabilities.")
        confidence = jax.nn.sigmoid(x) if from_logits else x
        correct = _binary_targets(targets)
    dtype = dtype or fdtype
    w, mask = _sample_weights(fn, targets.shape, weights, where, dtype)
    confidence = _masked(confidence, mask)
    # Bins (e_{b-1}, e_b], the first one closed: np.searchsorted(edges[1:-1], p), as scikit-learn's
    # calibration_curve(strategy="uniform").
    bins = jnp.searchsorted(_bin_edges(num_bins, fdtype), confidence, side="left").reshape(-1)
    w = w.reshape(-1)
    zeros = jnp.zeros(num_bins, dtype)
    return BinnedState(
        zeros.at[bins].add(w),
        zeros.at[bins].add(w * confidence.reshape(-1).astype(dtype)),
        zeros.at[bins].add(w * correct.reshape(-1).astype(dtype)),
    )


def _ece_from_state(s: BinnedState) -> Array:
    # sum_b (W_b / W) |acc_b - conf_b| = sum_b |sum_b w (correct - conf)| / W
    return _safe_div(jnp.sum(jnp.abs(s.correct - s.confidence)), jnp.sum(s.weight))


def _ranking_inputs(fn, scores, targets, weights, where):
    scores = _asarray(fn, "scores", scores)
    targets = _asarray(fn, "targets", targets)
    if scores.shape != targets.shape:
        raise ValueError(
            f"{fn}: `scores` shape {scores.shape} does not match `targets` shape {targets.shape}; "
            f"expected one score per binary target. For multiclass one-vs-rest, call {fn}("
            f"scores[..., k], targets == k) for each class k."
        )
    dtype = _float_dtype(scores)
    w, mask = _sample_weights(fn, targets.shape, weights, where, dtype)
    s = _masked(scores.astype(dtype), mask).reshape(-1)
    pos = _binary_targets(targets).reshape(-1)
    w = w.reshape(-1)
    has_nan = jnp.any(jnp.isnan(s) & (w != 0))
    return s, pos, w, has_nan


def _class_count(fn: str, predictions: Any, targets: Any, num_classes: Any, where: Any) -> Any:
    """``num_classes`` for integer label predictions, as scikit-learn infers its labels.

    Without ``num_classes``, concrete integer labels give ``max label + 1`` classes (at least 2); the
    macro average then counts only the classes present, as scikit-learn does. Labels must lie in
    ``[0, num_classes)``: out-of-range concrete labels raise. Traced labels cannot be read: they need
    ``num_classes`` (an error says so), and out-of-range ones poison the result (NaN).
    """
    p, t = jnp.asarray(predictions), jnp.asarray(targets)
    if not (_is_int(p) and p.shape == t.shape):
        return num_classes
    if any(isinstance(x, jax.core.Tracer) for x in (p, t, where)):
        if num_classes is None:
            raise TypeError(f"{fn}: integer label predictions under jit need num_classes= (it fixes the shape of "
                            "the confusion matrix); outside jit it is inferred from the labels.")
        return num_classes
    labels = np.concatenate([np.asarray(p).reshape(-1), np.asarray(t).reshape(-1)]).astype(np.int64)
    if where is not None:
        keep = np.broadcast_to(np.asarray(where, bool), p.shape).reshape(-1)
        labels = labels[np.concatenate([keep, keep])]
    if labels.size and labels.min() < 0:
        raise ValueError(f"{fn}: class labels must be >= 0; got {labels.min()} in predictions or targets.")
    if num_classes is None:
        return max(2, int(labels.max()) + 1) if labels.size else None
    if labels.size and labels.max() >= num_classes:
        raise ValueError(f"{fn}: num_classes={num_classes} but predictions or targets hold the label "
                         f"{labels.max()}; labels must lie in [0, num_classes).")
    return num_classes


def _compiled(*static: str):
    """Jit a public metric with its options static, after checking the options at the boundary.

    Eager calls then run one compiled program (cached per shape and options) instead of dozens of
    op-by-op dispatches; inside a caller's ``jit`` the nested ``jit`` is simply inlined.
    """

    def decorate(f):
        jitted = jax.jit(f, static_argnames=static)
        fn = f.__name__
        first = "scores" if fn in ("roc_auc", "average_precision") else "predictions"

        @functools.wraps(f)
        def wrapper(predictions, targets, **options):
            for name in static:
                if name not in options:
                    continue
                value = options[name]
                try:
                    hash(value)
                    ok = not isinstance(value, (jax.Array, np.ndarray))
                except TypeError:
                    ok = False
                if not ok:
                    raise TypeError(
                        f"{fn}: `{name}` must be a Python value (it is static: it fixes a shape or "
                        f"the program), got {type(value).__name__}. Under jax.jit bind it with "
                        f"functools.partial or static_argnames=('{name}',)."
                    )
            for name in ("weights", "where"):
                if options.get(name) is not None:
                    options[name] = _asarray(fn, name, options[name])
            if "num_classes" in static:
                options["num_classes"] = _class_count(fn, predictions, targets, options.get("num_classes"),
                                                      options.get("where"))
            return jitted(_asarray(fn, first, predictions), _asarray(fn, "targets", targets),
                          **options)

        return wrapper

    return decorate


# --------------------------------------------------------------------------------------------------
# One-shot metrics
# --------------------------------------------------------------------------------------------------


@_compiled("top_k")
def accuracy(predictions, targets, *, top_k: int = 1, weights=None, where=None) -> Array:
    """Fraction of samples whose true class is among the ``top_k`` highest scores.

    ``accuracy = sum_i w_i [targets_i in top_k(predictions_i)] / sum_i w_i``.

    Use it for multiclass classification; for one score per sample use :func:`binary_accuracy`.
    Scores may be logits, probabilities or any scores: only their order matters, so the value is
    invariant to any strictly increasing transform of the scores. Ties: with ``top_k=1`` the lower
    class index wins (``np.argmax``, ``accuracy_score``); with ``top_k > 1`` the higher class index
    ranks first among equal scores, as scikit-learn's ``top_k_accuracy_score`` does. Targets outside ``[0, K)`` count as wrong. Empty (all-masked)
    input gives 0.

    Args:
      predictions: class scores, shape ``(..., K)``.
      targets: integer class indices, shape ``(...)``.
      top_k: Python int in ``[1, K]`` (static under ``jit``).
      weights: sample weights broadcastable to ``targets.shape``.
      where: boolean mask of ``targets.shape``; False entries are ignored.

    Returns:
      A scalar in ``[0, 1]``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import metrics
      >>> scores = jnp.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.3, 0.5]])
      >>> round(float(metrics.accuracy(scores, jnp.array([1, 1, 0]))), 4)
      0.3333
      >>> round(float(metrics.accuracy(scores, jnp.array([1, 1, 0]), top_k=2)), 4)
      0.6667

    Reference: ``sklearn.metrics.accuracy_score(targets, predictions.argmax(-1))`` and
    ``sklearn.metrics.top_k_accuracy_score``.
    """
    fn = "accuracy"
    correct = _accuracy_values(fn, predictions, targets, top_k)
    dtype = _float_dtype(jnp.asarray(predictions))
    w, mask = _sample_weights(fn, correct.shape, weights, where, dtype)
    s = _mean_stats(correct.astype(dtype), w, mask)
    return _safe_div(s.total, s.weight)


@_compiled("threshold", "from_logits")
def binary_accuracy(predictions, targets, *, threshold=0.5, from_logits: bool = False,
                    weights=None, where=None) -> Array:
    """Fraction of samples whose thresholded score equals the binary target.

    ``binary_accuracy = sum_i w_i [(p_i > threshold) == y_i] / sum_i w_i``, where ``p_i`` is the
    probability, or ``sigmoid(predictions_i)`` with ``from_logits=True`` (compared in logit space, so
    no sigmoid rounding). Empty (all-masked) input gives 0.

    Args:
      predictions: one probability (or logit) per target, shape ``(...)``.
      targets: 0/1 labels (bool, int or float; values above 0.5 are positive), same shape.
      threshold: probability above which the positive class is predicted.
      from_logits: whether ``predictions`` are logits.
      weights: sample weights broadcastable to ``targets.shape``.
      where: boolean mask of ``targets.shape``.

    Returns:
      A scalar in ``[0, 1]``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import metrics
      >>> float(metrics.binary_accuracy(jnp.array([0.9, 0.4, 0.6, 0.2]), jnp.array([1, 1, 0, 0])))
      0.5
      >>> float(metrics.binary_accuracy(jnp.array([2.0, -1.0]), jnp.array([1, 0]), from_logits=True))
      1.0

    Reference: ``sklearn.metrics.accuracy_score(targets, predictions > threshold)``; Keras
    ``binary_accuracy``.
    """
    fn = "binary_accuracy"
    predictions = _asarray(fn, "predictions", predictions)
    targets = _asarray(fn, "targets", targets)
    _check_same_shape(fn, predictions, targets, " For class scores of shape (..., K) use accuracy.")
    _check_threshold(fn, threshold, from_logits)
    correct = _binary_predictions(predictions, threshold, from_logits) == _binary_targets(targets)
    dtype = _float_dtype(predictions)
    w, mask = _sample_weights(fn, targets.shape, weights, where, dtype)
    s = _mean_stats(correct.astype(dtype), w, mask)
    return _safe_div(s.total, s.weight)


@_compiled("num_classes", "threshold", "from_logits")
def confusion_matrix(predictions, targets, *, num_classes: Optional[int] = None, threshold=0.5,
                     from_logits: bool = False, weights=None, where=None) -> Array:
    """Confusion matrix ``C[i, j]`` = (weighted) number of samples of true class i predicted as j.

    Rows are true classes and columns predicted classes, as in scikit-learn. ``predictions`` may be
    class scores ``(..., K)`` (predicted class = argmax, ``K`` from the last axis), integer labels of
    ``targets.shape`` (then ``num_classes`` is needed, default 2), or floating binary scores of
    ``targets.shape`` (thresholded as in :func:`binary_accuracy`; ``K = 2``). Labels outside
    ``[0, K)`` are dropped (a jit-able program cannot raise on values).

    Args:
      predictions: scores ``(..., K)``, integer labels ``(...)`` or binary scores ``(...)``.
      targets: integer class indices (or 0/1 labels for binary scores), shape ``(...)``.
      num_classes: static ``K`` for integer label predictions; checked against scores otherwise.
      threshold, from_logits: binary thresholding, as in :func:`binary_accuracy`.
      weights: sample weights broadcastable to ``targets.shape``.
      where: boolean mask of ``targets.shape``.

    Returns:
      ``(K, K)`` array: int32 counts without ``weights``, weighted sums (float) with them.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import metrics
      >>> metrics.confusion_matrix(jnp.array([0, 2, 2, 1]), jnp.array([0, 1, 2, 1]), num_classes=3)
      Array([[1, 0, 0],
             [0, 1, 1],
             [0, 0, 1]], dtype=int32)

    Reference: ``sklearn.metrics.confusion_matrix(targets, predicted_labels, sample_weight=w)``.
    """
    fn = "confusion_matrix"
    dtype = jnp.int32 if weights is None else None
    state = _confusion_stats(fn, predictions, targets, num_classes, threshold, from_logits,
                             weights, where, dtype=dtype)
    return state.matrix


def _prf(fn, which, predictions, targets, average, beta, num_classes, threshold, from_logits,
         weights, where):
    predictions = _asarray(fn, "predictions", predictions)
    targets = _asarray(fn, "targets", targets)
    _check_average(fn, average, predictions, targets, num_classes)
    state = _confusion_stats(fn, predictions, targets, num_classes, threshold, from_logits,
                             weights, where)
    return _prf_from_state(fn, state, average, beta, which)


_PRF_ARGS = """
    Args:
      predictions: class scores ``(..., K)`` (predicted class = argmax), binary scores of
        ``targets.shape`` (thresholded: ``> threshold``, or on logits with ``from_logits=True``), or
        integer labels of ``targets.shape`` (pass ``num_classes`` if more than 2).
      targets: integer class indices (0/1 for binary), shape ``(...)``.
      average: ``"binary"`` (the positive class 1; the default, as scikit-learn), ``"micro"``
        (global counts; equals accuracy for single-label data), ``"macro"`` (unweighted mean over
        the classes present in targets or predictions, as scikit-learn's default ``labels``),
        ``"weighted"`` (mean weighted by true support) or ``None`` (per-class array of shape (K,)).
      num_classes: static class count for integer label predictions.
      threshold, from_logits: binary thresholding.
      weights: sample weights broadcastable to ``targets.shape``.
      where: boolean mask of ``targets.shape``; False entries are dropped (they do not count as
        "present" for the macro average either).

    Zero division: a ratio with a zero denominator (no predicted positives for precision, no true
    positives for recall, neither for F) is 0, as scikit-learn's ``zero_division="warn"`` returns
    (without the warning). A class with zero weight gets 0 and still counts in a macro average if it
    appears (unmasked) in targets or predictions, exactly as scikit-learn.
"""


@_compiled("average", "num_classes", "threshold", "from_logits")
def precision(predictions, targets, *, average="binary", num_classes=None, threshold=0.5,
              from_logits=False, weights=None, where=None) -> Array:
    """Precision ``tp / (tp + fp)``: of the samples predicted as a class, the fraction that are.

    Use it when false positives are costly.
    """
    return _prf("precision", "precision", predictions, targets, average, 1.0, num_classes,
                threshold, from_logits, weights, where)


@_compiled("average", "num_classes", "threshold", "from_logits")
def recall(predictions, targets, *, average="binary", num_classes=None, threshold=0.5,
           from_logits=False, weights=None, where=None) -> Array:
    """Recall ``tp / (tp + fn)``: of the samples of a class, the fraction predicted as it.

    Use it when missed positives are costly (sensitivity, true positive rate).
    """
    return _prf("recall", "recall", predictions, targets, average, 1.0, num_classes, threshold,
                from_logits, weights, where)


@_compiled("average", "num_classes", "threshold", "from_logits")
def f1_score(predictions, targets, *, average="binary", num_classes=None, threshold=0.5,
             from_logits=False, weights=None, where=None) -> Array:
    """F1, the harmonic mean of precision and recall: ``2 tp / (2 tp + fp + fn)``.

    Use it for imbalanced classes where accuracy flatters a majority-class predictor. Computed from
    counts (not from rounded precision and recall), so it is 0, not NaN, when tp = 0.
    """
    return _prf("f1_score", "f", predictions, targets, average, 1.0, num_classes, threshold,
                from_logits, weights, where)


@_compiled("beta", "average", "num_classes", "threshold", "from_logits")
def fbeta_score(predictions, targets, *, beta: float, average="binary", num_classes=None,
                threshold=0.5, from_logits=False, weights=None, where=None) -> Array:
    """F-beta: ``(1 + b^2) tp / ((1 + b^2) tp + b^2 fn + fp)``; recall weighs ``beta`` times more.

    ``beta=1`` is F1, ``beta=0`` is precision; ``beta=2`` favours recall, ``beta=0.5`` precision.
    """
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not 0 <= beta < math.inf:
        raise ValueError(f"fbeta_score: `beta` must be a finite Python number >= 0, got {beta!r}.")
    return _prf("fbeta_score", "f", predictions, targets, average, float(beta), num_classes,
                threshold, from_logits, weights, where)


precision.__doc__ += _PRF_ARGS + """
    Returns:
      A scalar in ``[0, 1]`` (shape ``(K,)`` with ``average=None``).

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import metrics
      >>> p, y = jnp.array([0.9, 0.8, 0.3, 0.6]), jnp.array([1, 0, 0, 1])
      >>> round(float(metrics.precision(p, y)), 4)
      0.6667
      >>> scores = jnp.eye(3)[jnp.array([0, 2, 1, 0])]
      >>> round(float(metrics.precision(scores, jnp.array([0, 1, 1, 0]), average="macro")), 4)
      0.6667

    Reference: ``sklearn.metrics.precision_score``.
"""
recall.__doc__ += _PRF_ARGS + """
    Returns:
      A scalar in ``[0, 1]`` (shape ``(K,)`` with ``average=None``).

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import metrics
      >>> round(float(metrics.recall(jnp.array([0.9, 0.8, 0.3, 0.6]), jnp.array([1, 0, 1, 1]))), 4)
      0.6667

    Reference: ``sklearn.metrics.recall_score``.
"""
f1_score.__doc__ += _PRF_ARGS + """
    Returns:
      A scalar in ``[0, 1]`` (shape ``(K,)`` with ``average=None``).

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import metrics
      >>> round(float(metrics.f1_score(jnp.array([0.9, 0.8, 0.3, 0.6]), jnp.array([1, 0, 1, 1]))), 4)
      0.6667

    Reference: ``sklearn.metrics.f1_score``.
"""
fbeta_score.__doc__ += _PRF_ARGS + """
    Returns:
      A scalar in ``[0, 1]`` (shape ``(K,)`` with ``average=None``).

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import metrics
      >>> p, y = jnp.array([0.9, 0.8, 0.3, 0.6]), jnp.array([1, 0, 1, 1])
      >>> round(float(metrics.fbeta_score(p, y, beta=2.0)), 4)
      0.6667

    Reference: ``sklearn.metrics.fbeta_score``.
"""


@_compiled()
def roc_auc(scores, targets, *, weights=None, where=None) -> Array:
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
    auc = jnp.where(denom > 0, auc, jnp.nan)
    return jnp.where(has_nan, jnp.nan, auc)


@_compiled()
def average_precision(scores, targets, *, weights=None, where=None) -> Array:
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
    w_pos = jnp.where(pos, w, 0)
    key = -s  # ascending in key = descending in score
    order = jnp.argsort(key)
    key_sorted = key[order]
    zero = jnp.zeros(1, w.dtype)
    cum_pos = jnp.concatenate([zero, jnp.cumsum(w_pos[order])])
    cum_all = jnp.concatenate([zero, jnp.cumsum(w[order])])
    end = jnp.searchsorted(key_sorted, key_sorted, side="right")  # end of each tie group
    prec = _safe_div(cum_pos[end], cum_all[end])
    n_pos = jnp.sum(w_pos)
    ap = jnp.clip(jnp.sum(w_pos[order] * prec) / jnp.where(n_pos > 0, n_pos, 1), 0, 1)
    ap = jnp.where(n_pos > 0, ap, jnp.nan)
    return jnp.where(has_nan, jnp.nan, ap)


@_compiled("from_logits", "epsilon")
def log_loss(predictions, targets, *, from_logits: bool = False, epsilon=None, weights=None,
             where=None) -> Array:
    """Mean negative log-likelihood of the targets (cross-entropy), binary or multiclass.

    Binary (``predictions.shape == targets.shape``): ``-[y log p + (1 - y) log(1 - p)]``.
    Multiclass (``predictions`` of shape ``(..., K)``, integer targets): ``-log p[target]``.
    Averaged with weights: ``sum_i w_i l_i / sum_i w_i`` (0 for empty input).

    Numerical care: probabilities are clipped to ``[epsilon, 1 - epsilon]`` (default: the machine
    epsilon of their dtype, scikit-learn's ``eps="auto"``), so a confident mistake costs about 16
    (float32) instead of inf. Multiclass probabilities are not renormalized. With
    ``from_logits=True`` nothing is clipped: ``log_sigmoid`` / ``log_softmax`` are exact for any
    finite logit. Multiclass targets outside ``[0, K)`` give NaN.

    Args:
      predictions: probabilities (or logits) of the positive class ``(...)``, or of each class
        ``(..., K)``.
      targets: 0/1 labels ``(...)`` for binary (floats in [0, 1] allowed), class indices for
        multiclass.
      from_logits: whether ``predictions`` are logits.
      epsilon: clip for probabilities; ``None`` means ``finfo(dtype).eps``.
      weights: sample weights broadcastable to ``targets.shape``.
      where: boolean mask of ``targets.shape``.

    Returns:
      A non-negative scalar.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import metrics
      >>> round(float(metrics.log_loss(jnp.array([0.9, 0.2]), jnp.array([1, 0]))), 4)
      0.1643
      >>> probs = jnp.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
      >>> round(float(metrics.log_loss(probs, jnp.array([0, 2]))), 4)
      0.2899

    Reference: ``sklearn.metrics.log_loss(targets, probabilities, sample_weight=w)``.
    """
    fn = "log_loss"
    losses, shape, dtype = _log_loss_values(fn, predictions, targets, from_logits, epsilon)
    w, mask = _sample_weights(fn, shape, weights, where, dtype)
    s = _mean_stats(losses, w, mask)
    return _safe_div(s.total, s.weight)


@_compiled()
def mean_squared_error(predictions, targets, *, weights=None, where=None) -> Array:
    """Mean squared error ``sum_i w_i (p_i - y_i)^2 / sum_i w_i`` over all entries.

    Use it for regression when large errors should dominate. All entries are one pool (for an
    ``(n, d)`` array with per-row weights pass ``weights[:, None]``; the value equals scikit-learn's
    uniform average over outputs). Empty input gives 0.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import metrics
      >>> float(metrics.mean_squared_error(jnp.array([2.5, 0.0, 2.0, 8.0]), jnp.array([3.0, -0.5, 2.0, 7.0])))
      0.375

    Reference: ``sklearn.metrics.mean_squared_error``.
    """
    p, t, w, _ = _regression_inputs("mean_squared_error", predictions, targets, weights, where)
    return _safe_div(jnp.sum(w * (p - t) ** 2), jnp.sum(w))


@_compiled()
def root_mean_squared_error(predictions, targets, *, weights=None, where=None) -> Array:
    """Root mean squared error ``sqrt(mean_squared_error)``, in the targets' units.

    All entries form one pool (scikit-learn averages per-output RMSEs for 2-D targets instead:
    ``jax.vmap`` over the output axis to get that). Empty input gives 0.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import metrics
      >>> float(metrics.root_mean_squared_error(jnp.array([1.0, 3.0]), jnp.array([2.0, 2.0])))
      1.0

    Reference: ``sklearn.metrics.root_mean_squared_error``.
    """
    p, t, w, _ = _regression_inputs("root_mean_squared_error", predictions, targets, weights, where)
    return jnp.sqrt(_safe_div(jnp.sum(w * (p - t) ** 2), jnp.sum(w)))


@_compiled()
def mean_absolute_error(predictions, targets, *, weights=None, where=None) -> Array:
    """Mean absolute error ``sum_i w_i |p_i - y_i| / sum_i w_i`` over all entries.

    Robust to outliers compared with MSE. Empty input gives 0.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import metrics
      >>> float(metrics.mean_absolute_error(jnp.array([2.5, 0.0, 2.0, 8.0]), jnp.array([3.0, -0.5, 2.0, 7.0])))
      0.5

    Reference: ``sklearn.metrics.mean_absolute_error``.
    """
    p, t, w, _ = _regression_inputs("mean_absolute_error", predictions, targets, weights, where)
    return _safe_div(jnp.sum(w * jnp.abs(p - t)), jnp.sum(w))


@_compiled()
def r2_score(predictions, targets, *, weights=None, where=None) -> Array:
    """Coefficient of determination ``R^2 = 1 - SS_res / SS_tot``.

    ``SS_res = sum_i w_i (y_i - p_i)^2``, ``SS_tot = sum_i w_i (y_i - ybar_w)^2`` with the weighted
    mean ``ybar_w``. 1 is perfect, 0 is predicting the mean, negative is worse than that. All
    entries form one pool (``jax.vmap`` over an output axis for per-output values). Numerical care:
    ``SS_tot`` uses two passes (never ``sum y^2 - n ybar^2``, which cancels). Edge cases as
    scikit-learn (``force_finite=True``): constant targets give 1 if predicted exactly, else 0; fewer
    than two (unmasked) samples give NaN.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import metrics
      >>> round(float(metrics.r2_score(jnp.array([2.5, 0.0, 2.0, 8.0]), jnp.array([3.0, -0.5, 2.0, 7.0]))), 4)
      0.9486

    Reference: ``sklearn.metrics.r2_score``.
    """
    return _r2_from_state(_moments_stats("r2_score", predictions, targets, weights, where))


@_compiled("num_bins", "from_logits")
def expected_calibration_error(predictions, targets, *, num_bins: int = 15,
                               from_logits: bool = False, weights=None, where=None) -> Array:
    """Expected calibration error: ``sum_b (W_b / W) |acc_b - conf_b|`` over equal-width bins.

    Multiclass (``predictions`` ``(..., K)``, integer targets): top-label ECE; ``conf`` is the max
    probability and ``acc`` whether its class is the target (Guo et al.). Binary
    (``predictions.shape == targets.shape``): ``conf`` is the predicted probability of the positive
    class and ``acc`` the observed positive rate in the bin (the reliability diagram of
    ``sklearn.calibration.calibration_curve``). Bins are ``(e_{b-1}, e_b]`` on ``[0, 1]`` with the
    first closed; values outside ``[0, 1]`` fall in the end bins. Empty input gives 0.

    Use it to check whether predicted probabilities can be read as frequencies; it says nothing
    about ranking (AUC) and is biased upward for small samples.

    Args:
      predictions: probabilities (or logits with ``from_logits=True``), ``(..., K)`` or ``(...)``.
      targets: class indices ``(...)`` or 0/1 labels ``(...)``.
      num_bins: static number of equal-width bins.
      from_logits: apply softmax (multiclass) or sigmoid (binary) first.
      weights: sample weights broadcastable to ``targets.shape``.
      where: boolean mask of ``targets.shape``.

    Returns:
      A scalar in ``[0, 1]``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import metrics
      >>> probs = jnp.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]])
      >>> round(float(metrics.expected_calibration_error(probs, jnp.array([0, 1, 1]), num_bins=5)), 4)
      0.2

    Reference: Guo et al., "On Calibration of Modern Neural Networks", 2017; Naeini et al., 2015.
    """
    state = _calibration_stats("expected_calibration_error", predictions, targets, num_bins,
                               from_logits, weights, where)
    return _ece_from_state(state)


# --------------------------------------------------------------------------------------------------
# Streaming metrics
# --------------------------------------------------------------------------------------------------


class Metric(NamedTuple):
    """A streaming metric: pure functions over a pytree state of fixed shapes and dtypes.

    Attributes:
      name: canonical name (History stores ``"val_" + name``).
      init: ``() -> state``.
      update: ``(state, predictions, targets, *, weights=None, where=None) -> state``.
      merge: ``(state_a, state_b) -> state``; associative and commutative.
      compute: ``(state) -> Array``.
      greater_is_better: True for scores (accuracy, AUC, ...), False for errors (log loss, MSE...).

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import metrics
      >>> m = metrics.get("accuracy")
      >>> s = m.update(m.init(), jnp.array([[2.0, 1.0], [0.0, 3.0]]), jnp.array([0, 0]))
      >>> s = m.update(s, jnp.array([[1.0, 0.0]]), jnp.array([0]))
      >>> round(float(m.compute(s)), 4), m.greater_is_better
      (0.6667, True)
    """

    name: str
    init: Callable[[], Any]
    update: Callable[..., Any]
    merge: Callable[[Any, Any], Any]
    compute: Callable[[Any], Array]
    greater_is_better: bool


def _memoized(constructor):
    """Same options -> the same Metric object, so a caller's jit cache keyed on it is reused."""
    cache: dict = {}

    @functools.wraps(constructor)
    def wrapper(**options):
        key = tuple(sorted(options.items()))
        try:
            return cache[key]
        except KeyError:
            metric = cache[key] = constructor(**options)
            return metric
        except TypeError:  # an unhashable option: build without caching
            return constructor(**options)

    return wrapper


def _add(a, b):
    return jax.tree.map(jnp.add, a, b)


def _cast_like(state, batch):
    return jax.tree.map(lambda s, b: b.astype(s.dtype), state, batch)


def _additive(name, init, stats, compute, greater_is_better) -> Metric:
    """A Metric whose state is a sum of per-batch statistics ``stats(predictions, targets, w, m)``."""

    def update(state, predictions, targets, *, weights=None, where=None):
        batch = stats(predictions, targets, weights, where)
        return _add(state, _cast_like(state, batch))

    return Metric(name, init, update, _add, compute, greater_is_better)


def _mean_init():
    d = _state_dtype()
    return MeanState(jnp.zeros((), d), jnp.zeros((), d))


def _mean_compute(state: MeanState) -> Array:
    return _safe_div(state.total, state.weight)


@_memoized
def accuracy_metric(*, top_k: int = 1, from_logits: bool = False) -> Metric:
    """Streaming :func:`accuracy` (exact). ``from_logits`` is accepted and ignored (order only).

    State: weighted count of correct samples and total weight.
    """
    del from_logits
    fn = "accuracy_metric.update"

    def stats(p, t, weights, where):
        correct = _accuracy_values(fn, p, t, top_k)
        w, mask = _sample_weights(fn, correct.shape, weights, where, _state_dtype())
        return _mean_stats(correct.astype(w.dtype), w, mask)

    return _additive("accuracy", _mean_init, stats, _mean_compute, True)


@_memoized
def binary_accuracy_metric(*, threshold=0.5, from_logits: bool = False) -> Metric:
    """Streaming :func:`binary_accuracy` (exact)."""
    fn = "binary_accuracy_metric.update"

    def stats(p, t, weights, where):
        p, t = _asarray(fn, "predictions", p), _asarray(fn, "targets", t)
        _check_same_shape(fn, p, t)
        correct = _binary_predictions(p, threshold, from_logits) == _binary_targets(t)
        w, mask = _sample_weights(fn, t.shape, weights, where, _state_dtype())
        return _mean_stats(correct.astype(w.dtype), w, mask)

    _check_threshold("binary_accuracy_metric", threshold, from_logits)
    return _additive("binary_accuracy", _mean_init, stats, _mean_compute, True)


def _prf_metric(name, which, beta, average, num_classes, threshold, from_logits) -> Metric:
    fn = f"{name}_metric"
    if average == "default":
        average = "binary" if num_classes is None else "macro"
    k = 2 if num_classes is None else _check_static_int(fn, "num_classes", num_classes, 2)
    _check_average(fn, average, None, None, k)
    _check_threshold(fn, threshold, from_logits)

    def init():
        d = _state_dtype()
        return ConfusionState(jnp.zeros((k, k), d), jnp.zeros(k, d))

    def stats(p, t, weights, where):
        p, t = _asarray(fn, "predictions", p), _asarray(fn, "targets", t)
        if num_classes is None and p.ndim != t.ndim:
            raise ValueError(
                f"{fn}.update: got class scores of shape {p.shape} but the metric was built for "
                f"binary scores; build it with num_classes={p.shape[-1]}."
            )
        return _confusion_stats(fn + ".update", p, t, k, threshold, from_logits, weights, where,
                                dtype=_state_dtype())

    def compute(state):
        return _prf_from_state(fn, state, average, beta, which)

    return _additive(name, init, stats, compute, True)


_STREAMING_PRF_DOC = """

    State: a ``(K, K)`` weighted confusion matrix and per-class presence counts (``K = 2`` unless
    ``num_classes`` is given, in which case ``predictions`` are ``(..., num_classes)`` scores).
    ``average`` defaults to ``"binary"`` without ``num_classes`` and ``"macro"`` with it. Exact.
    """


@_memoized
def precision_metric(*, average="default", num_classes=None, threshold=0.5,
                     from_logits=False) -> Metric:
    return _prf_metric("precision", "precision", 1.0, average, num_classes, threshold, from_logits)


@_memoized
def recall_metric(*, average="default", num_classes=None, threshold=0.5,
                  from_logits=False) -> Metric:
    return _prf_metric("recall", "recall", 1.0, average, num_classes, threshold, from_logits)


@_memoized
def f1_metric(*, average="default", num_classes=None, threshold=0.5, from_logits=False) -> Metric:
    return _prf_metric("f1", "f", 1.0, average, num_classes, threshold, from_logits)


@_memoized
def fbeta_metric(*, beta: float = 1.0, average="default", num_classes=None, threshold=0.5,
                 from_logits=False) -> Metric:
    return _prf_metric("fbeta", "f", float(beta), average, num_classes, threshold, from_logits)


precision_metric.__doc__ = "Streaming :func:`precision`." + _STREAMING_PRF_DOC
recall_metric.__doc__ = "Streaming :func:`recall`." + _STREAMING_PRF_DOC
f1_metric.__doc__ = "Streaming :func:`f1_score`." + _STREAMING_PRF_DOC
fbeta_metric.__doc__ = "Streaming :func:`fbeta_score`." + _STREAMING_PRF_DOC


@_memoized
def log_loss_metric(*, from_logits: bool = False, epsilon=None) -> Metric:
    """Streaming :func:`log_loss` (exact). State: weighted loss sum and total weight."""
    fn = "log_loss_metric.update"

    def stats(p, t, weights, where):
        losses, shape, _ = _log_loss_values(fn, p, t, from_logits, epsilon)
        w, mask = _sample_weights(fn, shape, weights, where, losses.dtype)
        return _mean_stats(losses, w, mask)

    return _additive("log_loss", _mean_init, stats, _mean_compute, False)


def _error_metric(name, fn_name, error, root=False) -> Metric:
    fn = f"{fn_name}.update"

    def stats(p, t, weights, where):
        p, t, w, _ = _regression_inputs(fn, p, t, weights, where)
        return MeanState(jnp.sum(w * error(p - t)), jnp.sum(w))

    compute = (lambda s: jnp.sqrt(_mean_compute(s))) if root else _mean_compute
    return _additive(name, _mean_init, stats, compute, False)


@_memoized
def mse_metric(*, from_logits: bool = False) -> Metric:
    """Streaming :func:`mean_squared_error` (exact). ``from_logits`` is ignored."""
    del from_logits
    return _error_metric("mse", "mse_metric", jnp.square)


@_memoized
def rmse_metric(*, from_logits: bool = False) -> Metric:
    """Streaming :func:`root_mean_squared_error` (exact: the root of the pooled MSE)."""
    del from_logits
    return _error_metric("rmse", "rmse_metric", jnp.square, root=True)


@_memoized
def mae_metric(*, from_logits: bool = False) -> Metric:
    """Streaming :func:`mean_absolute_error` (exact). ``from_logits`` is ignored."""
    del from_logits
    return _error_metric("mae", "mae_metric", jnp.abs)


@_memoized
def r2_metric(*, from_logits: bool = False) -> Metric:
    """Streaming :func:`r2_score` (exact up to rounding).

    State: sample count, total weight, weighted target mean, sum of squared deviations from it and
    residual sum of squares. ``update`` and ``merge`` combine batches with Chan's pairwise formula,
    so the state is *not* merged by addition (``merge`` does the right thing).
    """
    del from_logits

    def init():
        d = _state_dtype()
        return MomentsState(*(jnp.zeros((), d) for _ in range(5)))

    def update(state, predictions, targets, *, weights=None, where=None):
        batch = _moments_stats("r2_metric.update", predictions, targets, weights, where)
        return _merge_moments(state, _cast_like(state, batch))

    return Metric("r2", init, update, _merge_moments, _r2_from_state, True)


@_memoized
def ece_metric(*, num_bins: int = 15, from_logits: bool = False) -> Metric:
    """Streaming :func:`expected_calibration_error` (exact). State: three per-bin sums."""
    num_bins = _check_static_int("ece_metric", "num_bins", num_bins, 1)

    def init():
        d = _state_dtype()
        return BinnedState(*(jnp.zeros(num_bins, d) for _ in range(3)))

    def stats(p, t, weights, where):
        return _calibration_stats("ece_metric.update", p, t, num_bins, from_logits, weights, where,
                                  dtype=_state_dtype())

    return _additive("ece", init, stats, _ece_from_state, False)


@_memoized
def auc_metric(*, num_thresholds: int = 200, from_logits: bool = False) -> Metric:
    """Streaming ROC AUC from a histogram of scores (approximate, with a bound).

    Scores are probabilities on ``[0, 1]`` (or ``sigmoid(logits)`` with ``from_logits=True``),
    binned into ``num_thresholds`` equal-width bins (values outside ``[0, 1]`` go to the end bins).
    The state holds the positive and negative weight per bin; ``compute`` returns
    ``sum_b pos_b (neg_below_b + neg_b / 2) / (W_pos W_neg)``, i.e. every pair in the same bin counts
    as a tie. Pairs in different bins are ordered exactly (binning is monotone), so

        ``|streaming AUC - exact AUC| <= (1/2) sum_b pos_b neg_b / (W_pos W_neg)``,

    half the fraction of positive-negative pairs that share a bin; :func:`auc_histogram_bound`
    computes it from the state. With well-spread probabilities and 200 bins it is typically below
    0.005; squashed scores (say all logits in [-20, -10]) make it large: prefer exact
    :func:`roc_auc` on the whole validation set then. NaN when a class is absent.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import metrics
      >>> m = metrics.auc_metric(num_thresholds=100)
      >>> s = m.update(m.init(), jnp.array([0.1, 0.4, 0.35, 0.8]), jnp.array([0, 0, 1, 1]))
      >>> float(m.compute(s)), float(metrics.auc_histogram_bound(s))
      (0.75, 0.0)
    """
    b = _check_static_int("auc_metric", "num_thresholds", num_thresholds, 1)
    fn = "auc_metric.update"

    def init():
        d = _state_dtype()
        return HistogramState(jnp.zeros(b, d), jnp.zeros(b, d))

    def stats(p, t, weights, where):
        p, t = _asarray(fn, "predictions", p), _asarray(fn, "targets", t)
        _check_same_shape(fn, p, t)
        d = _state_dtype()
        w, mask = _sample_weights(fn, t.shape, weights, where, d)
        x = p.astype(_float_dtype(p))
        prob = _masked(jax.nn.sigmoid(x) if from_logits else x, mask)
        bins = jnp.clip(jnp.floor(prob * b), 0, b - 1).astype(jnp.int32).reshape(-1)
        pos = _binary_targets(t).reshape(-1)
        w = w.reshape(-1)
        zeros = jnp.zeros(b, d)
        return HistogramState(zeros.at[bins].add(jnp.where(pos, w, 0)),
                              zeros.at[bins].add(jnp.where(pos, 0, w)))

    def compute(state):
        neg_below = jnp.cumsum(state.negative) - state.negative
        pairs = jnp.sum(state.positive * (neg_below + 0.5 * state.negative))
        denom = jnp.sum(state.positive) * jnp.sum(state.negative)
        return jnp.where(denom > 0, pairs / jnp.where(denom > 0, denom, 1), jnp.nan)

    return _additive("auc", init, stats, compute, True)


def auc_histogram_bound(state: HistogramState) -> Array:
    """Upper bound on ``|auc_metric().compute(state) - roc_auc(...)|`` for the data in ``state``.

    ``(1/2) sum_b pos_b neg_b / (W_pos W_neg)``: half the fraction of positive-negative pairs that
    share a histogram bin (NaN when a class is absent). See :func:`auc_metric`.
    """
    denom = jnp.sum(state.positive) * jnp.sum(state.negative)
    same = jnp.sum(state.positive * state.negative)
    return jnp.where(denom > 0, 0.5 * same / jnp.where(denom > 0, denom, 1), jnp.nan)


STREAMING: dict[str, Callable[..., Metric]] = {
    "accuracy": accuracy_metric,
    "binary_accuracy": binary_accuracy_metric,
    "precision": precision_metric,
    "recall": recall_metric,
    "f1": f1_metric,
    "fbeta": fbeta_metric,
    "auc": auc_metric,
    "log_loss": log_loss_metric,
    "mse": mse_metric,
    "rmse": rmse_metric,
    "mae": mae_metric,
    "r2": r2_metric,
    "ece": ece_metric,
    # scikit-learn spellings
    "roc_auc": auc_metric,
    "f1_score": f1_metric,
    "fbeta_score": fbeta_metric,
    "mean_squared_error": mse_metric,
    "root_mean_squared_error": rmse_metric,
    "mean_absolute_error": mae_metric,
    "r2_score": r2_metric,
    "expected_calibration_error": ece_metric,
}
"""Streaming metric constructors by name (canonical names first, then aliases)."""

#: Names whose value depends on whether predictions are logits or probabilities (``from_logits``):
#: they threshold or calibrate the predictions. The others read errors (mse, mae, r2) or an order
#: (accuracy), the same either way.
READS_PROBABILITIES = frozenset({
    "binary_accuracy", "precision", "recall", "f1", "fbeta", "auc", "log_loss", "ece",
    "roc_auc", "f1_score", "fbeta_score", "expected_calibration_error"})

#: Names that count classes (``num_classes``): binary without it, multiclass with it.
TAKES_NUM_CLASSES = frozenset({"precision", "recall", "f1", "fbeta", "f1_score", "fbeta_score"})


def get(name: str, **options) -> Metric:
    """The streaming :class:`Metric` called ``name``, built with ``options``.

    Every constructor accepts ``from_logits``; other options are those of the constructor in
    :data:`STREAMING` (e.g. ``num_classes`` and ``average`` for ``"f1"``, ``num_thresholds`` for
    ``"auc"``, ``top_k`` for ``"accuracy"``).

    Example:
      >>> from jaxloss import metrics
      >>> m = metrics.get("auc", from_logits=True)
      >>> m.name, m.greater_is_better
      ('auc', True)
      >>> metrics.get("mae").greater_is_better
      False
    """
    if isinstance(name, Metric):
        return name
    if not isinstance(name, str):
        raise TypeError(f"metrics.get: `name` must be a string, got {type(name).__name__}.")
    key = name.lower()
    if key not in STREAMING:
        hint = ""
        if key.startswith("val_") and key[4:] in STREAMING:
            hint = f" History adds the 'val_' prefix itself: ask for {key[4:]!r}."
        raise ValueError(
            f"metrics.get: unknown metric {name!r}.{hint} Known names: {', '.join(STREAMING)}."
        )
    return STREAMING[key](**options)


def __dir__() -> list[str]:  # the public API only (not the modules this one imports)
    return sorted(__all__)
