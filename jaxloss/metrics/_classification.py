"""Classification metrics: accuracy, the confusion matrix, precision, recall and F-scores (private).

The public functions; their statistics are in ``_confusion``, their input checks in ``_inputs``.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
from jax import Array

from jaxloss._core import ArrayLike
from jaxloss.metrics import _confusion, _inputs, _states
from jaxloss.metrics._inputs import Average


@_inputs.compiled("top_k")
def accuracy(predictions: ArrayLike, targets: ArrayLike, *, top_k: int = 1, weights: ArrayLike | None = None,
             where: ArrayLike | None = None) -> Array:
    """Fraction of samples whose true class is among the ``top_k`` highest scores.

    ``accuracy = sum_i w_i [targets_i in top_k(predictions_i)] / sum_i w_i``.

    Use it for multiclass classification; for one score per sample use :func:`binary_accuracy`.
    Scores may be logits, probabilities or any scores: only their order matters, so the value is
    invariant to any strictly increasing transform of the scores. Ties: the lower class index ranks
    first among equal scores, for every ``top_k`` (``np.argmax`` and ``accuracy_score`` at
    ``top_k=1``), so the value never falls as ``top_k`` grows. scikit-learn's
    ``top_k_accuracy_score`` ranks tied classes the other way (higher index first, for every k, so
    its ``k=1`` differs from ``accuracy_score`` on ties); without exact ties the two agree. Targets
    outside ``[0, K)`` raise a ``ValueError`` (under ``jit``: the result is NaN). Empty
    (all-masked) input gives 0.

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
    dtype = _inputs.float_dtype(jnp.asarray(predictions))
    correct = _confusion.accuracy_values(fn, predictions, targets, top_k, dtype)
    w, mask = _inputs.sample_weights(fn, correct.shape, weights, where, dtype)
    s = _states.mean_stats(correct, w, mask)
    return _inputs.safe_div(s.total, s.weight)


@_inputs.compiled("threshold", "from_logits")
def binary_accuracy(predictions: ArrayLike, targets: ArrayLike, *, threshold: float = 0.5, from_logits: bool = False,
                    weights: ArrayLike | None = None, where: ArrayLike | None = None) -> Array:
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
    predictions = _inputs.as_array(predictions, name="predictions", fn=fn)
    targets = _inputs.as_array(targets, name="targets", fn=fn)
    _inputs.check_same_shape(predictions, targets, fn=fn, hint=" For class scores of shape (..., K) use accuracy.")
    _inputs.check_threshold(fn, threshold, from_logits)
    dtype = _inputs.float_dtype(predictions)
    correct = _inputs.binary_hits(predictions, targets, threshold, from_logits, dtype)
    w, mask = _inputs.sample_weights(fn, targets.shape, weights, where, dtype)
    s = _states.mean_stats(correct, w, mask)
    return _inputs.safe_div(s.total, s.weight)


@_inputs.compiled("num_classes", "threshold", "from_logits")
def confusion_matrix(predictions: ArrayLike, targets: ArrayLike, *, num_classes: int | None = None,
                     threshold: float = 0.5, from_logits: bool = False, weights: ArrayLike | None = None,
                     where: ArrayLike | None = None) -> Array:
    """Confusion matrix ``C[i, j]`` = (weighted) number of samples of true class i predicted as j.

    Rows are true classes and columns predicted classes, as in scikit-learn. ``predictions`` may be
    class scores ``(..., K)`` (predicted class = argmax, ``K`` from the last axis), integer labels of
    ``targets.shape`` (then ``num_classes`` is needed, default 2), or floating binary scores of
    ``targets.shape`` (thresholded as in :func:`binary_accuracy`; ``K = 2``). Labels outside
    ``[0, K)`` (and binary targets outside [0, 1]) are never dropped silently: concrete ones raise a
    ``ValueError``; under ``jit``, where a value cannot raise, they poison the whole matrix (NaN
    with ``weights``, -1 in the integer counts without).

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
    state = _confusion.confusion_stats(fn, predictions, targets, num_classes, threshold, from_logits,
                                       weights, where, dtype=dtype)
    return state.matrix


def _prf(fn: str, which: str, predictions: Any, targets: Any, average: Average, beta: float, num_classes: Any,
         threshold: Any, from_logits: bool, weights: Any, where: Any) -> Array:
    predictions = _inputs.as_array(predictions, name="predictions", fn=fn)
    targets = _inputs.as_array(targets, name="targets", fn=fn)
    _inputs.check_average(fn, average, predictions, targets, num_classes)
    state = _confusion.confusion_stats(fn, predictions, targets, num_classes, threshold, from_logits,
                                       weights, where)
    return _confusion.prf_from_state(state, average, beta, which)


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


@_inputs.compiled("average", "num_classes", "threshold", "from_logits")
def precision(predictions: ArrayLike, targets: ArrayLike, *, average: Average = "binary",
              num_classes: int | None = None, threshold: float = 0.5, from_logits: bool = False,
              weights: ArrayLike | None = None, where: ArrayLike | None = None) -> Array:
    """Precision ``tp / (tp + fp)``: of the samples predicted as a class, the fraction that are.

    Use it when false positives are costly.
    """
    return _prf("precision", "precision", predictions, targets, average, 1.0, num_classes,
                threshold, from_logits, weights, where)


@_inputs.compiled("average", "num_classes", "threshold", "from_logits")
def recall(predictions: ArrayLike, targets: ArrayLike, *, average: Average = "binary",
           num_classes: int | None = None, threshold: float = 0.5, from_logits: bool = False,
           weights: ArrayLike | None = None, where: ArrayLike | None = None) -> Array:
    """Recall ``tp / (tp + fn)``: of the samples of a class, the fraction predicted as it.

    Use it when missed positives are costly (sensitivity, true positive rate).
    """
    return _prf("recall", "recall", predictions, targets, average, 1.0, num_classes, threshold,
                from_logits, weights, where)


@_inputs.compiled("average", "num_classes", "threshold", "from_logits")
def f1_score(predictions: ArrayLike, targets: ArrayLike, *, average: Average = "binary",
             num_classes: int | None = None, threshold: float = 0.5, from_logits: bool = False,
             weights: ArrayLike | None = None, where: ArrayLike | None = None) -> Array:
    """F1, the harmonic mean of precision and recall: ``2 tp / (2 tp + fp + fn)``.

    Use it for imbalanced classes where accuracy flatters a majority-class predictor. Computed from
    counts (not from rounded precision and recall), so it is 0, not NaN, when tp = 0.
    """
    return _prf("f1_score", "f", predictions, targets, average, 1.0, num_classes, threshold,
                from_logits, weights, where)


@_inputs.compiled("beta", "average", "num_classes", "threshold", "from_logits")
def fbeta_score(predictions: ArrayLike, targets: ArrayLike, *, beta: float, average: Average = "binary",
                num_classes: int | None = None, threshold: float = 0.5, from_logits: bool = False,
                weights: ArrayLike | None = None, where: ArrayLike | None = None) -> Array:
    """F-beta: ``(1 + b^2) tp / ((1 + b^2) tp + b^2 fn + fp)``; recall weighs ``beta`` times more.

    ``beta=1`` is F1, ``beta=0`` is precision; ``beta=2`` favours recall, ``beta=0.5`` precision.
    """
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
