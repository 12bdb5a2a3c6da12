"""Metrics of predicted probabilities: log loss and expected calibration error (private).

Both read probabilities (or logits with ``from_logits=True``), binary ``(...)`` or multiclass
``(..., K)``; the clip of probabilities is the losses' (``_core.probability_epsilon``), so the log-loss
metric and the cross-entropy losses agree at probabilities of exactly 0 and 1.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from jaxloss import _core
from jaxloss._core import ArrayLike
from jaxloss.metrics import _inputs, _states
from jaxloss.metrics._states import BinnedState


def _probability_epsilon(predictions: Array) -> float:
    # The losses' clip (the machine epsilon of the predictions' float dtype, at least float32) and
    # scikit-learn's, so that the metric and the loss of the same name agree at 0 and 1.
    return _core.probability_epsilon(_inputs.float_dtype(predictions))


def log_loss_values(fn: str, predictions: Any, targets: Any, from_logits: bool,
                    epsilon: float | None, where: Any = None) -> tuple[Array, tuple[int, ...], Any]:
    """Per-sample negative log-likelihoods, the sample shape and the dtype they are in.

    The inputs are checked as the cross-entropy losses check them: probabilities (``from_logits=False``)
    in [0, 1], binary targets in [0, 1], class indices in ``[0, K)``. Concrete values outside raise
    a ``ValueError``; traced ones make that sample's value NaN (never a plausible wrong number).
    Entries that ``where`` excludes are not checked.
    """
    predictions = _inputs.as_array(predictions, name="predictions", fn=fn)
    targets = _inputs.as_array(targets, name="targets", fn=fn)
    if predictions.ndim == targets.ndim + 1:
        k = _inputs.check_class_scores(fn, predictions, targets)
        mask = _core.mask_array(where, targets.shape, fn=fn)
        _core.check_class_labels(targets, k, fn=fn, mask=mask)
        dtype = _inputs.float_dtype(predictions)
        x = predictions.astype(dtype)
        t = targets.astype(jnp.int32)
        valid = (t >= 0) & (t < k)
        if from_logits:
            logp = jax.nn.log_softmax(x, axis=-1)  # never log(softmax(x)): underflows to -inf
        else:
            x = _core.check_probabilities(x, fn=fn, mask=mask, class_axis=True)
            eps = _probability_epsilon(predictions) if epsilon is None else epsilon
            logp = jnp.log(jnp.clip(x, eps, 1 - eps))
        picked = jnp.take_along_axis(logp, jnp.clip(t, 0, k - 1)[..., None], -1)[..., 0]
        return jnp.where(valid, -picked, jnp.nan), targets.shape, dtype  # bad label -> NaN
    _inputs.check_same_shape(predictions, targets, fn=fn,
                             hint=" For multiclass pass probabilities of shape targets.shape + (K,).")
    mask = _core.mask_array(where, targets.shape, fn=fn)
    valid = _core.check_targets(targets, _core.Targets.UNIT_INTERVAL, fn=fn, mask=mask)
    dtype = _inputs.float_dtype(predictions, targets)
    x = predictions.astype(dtype)
    y = targets.astype(dtype)
    if from_logits:
        # log(1 - sigmoid(x)) = log_sigmoid(-x): no 1 - p rounding, finite for any finite logit.
        loss = -(y * jax.nn.log_sigmoid(x) + (1 - y) * jax.nn.log_sigmoid(-x))
    else:
        x = _core.check_probabilities(x, fn=fn, mask=mask)
        eps = _probability_epsilon(predictions) if epsilon is None else epsilon
        p = jnp.clip(x, eps, 1 - eps)  # scikit-learn's clip: log(0) would be -inf
        loss = -(y * jnp.log(p) + (1 - y) * jnp.log1p(-p))
    return _core.poison_invalid(loss, valid), targets.shape, dtype


def _bin_edges(num_bins: int, dtype: Any) -> Array:
    # Inner edges computed in float64 NumPy then cast, so a reference can reproduce them exactly.
    return jnp.asarray(np.linspace(0.0, 1.0, num_bins + 1)[1:-1], dtype)


def calibration_stats(fn: str, predictions: Any, targets: Any, num_bins: int, from_logits: bool, weights: Any,
                      where: Any, dtype: Any = None) -> BinnedState:
    """Per-bin weight, confidence and correct sums (top-label for class scores, positive-class for binary)."""
    predictions = _inputs.as_array(predictions, name="predictions", fn=fn)
    targets = _inputs.as_array(targets, name="targets", fn=fn)
    num_bins = _inputs.static_int(fn, "num_bins", num_bins, 1)
    fdtype = _inputs.float_dtype(predictions)
    x = predictions.astype(fdtype)
    # Checked as log_loss checks them: probabilities in [0, 1], targets in range (NaN under jit).
    if predictions.ndim == targets.ndim + 1:  # top-label calibration
        k = _inputs.check_class_scores(fn, predictions, targets)
        mask = _core.mask_array(where, targets.shape, fn=fn)
        _core.check_class_labels(targets, k, fn=fn, mask=mask)
        valid = (targets >= 0) & (targets < k)
        probs = jax.nn.softmax(x, axis=-1) if from_logits else _core.check_probabilities(x, fn=fn, mask=mask,
                                                                                          class_axis=True)
        confidence = jnp.max(probs, axis=-1)
        correct = jnp.argmax(probs, axis=-1) == targets
    else:  # positive-class calibration (a reliability diagram of p against the positive rate)
        _inputs.check_same_shape(predictions, targets, fn=fn, hint=" For multiclass pass (..., K) probabilities.")
        mask = _core.mask_array(where, targets.shape, fn=fn)
        valid = _core.check_targets(targets, _core.Targets.UNIT_INTERVAL, fn=fn, mask=mask)
        confidence = jax.nn.sigmoid(x) if from_logits else _core.check_probabilities(x, fn=fn, mask=mask)
        correct = _inputs.binary_targets(targets)
    dtype = dtype or fdtype
    w, mask = _inputs.sample_weights(fn, targets.shape, weights, where, dtype)
    # An invalid sample (traced: it could not be checked) poisons every bin: NaN, never a wrong number.
    confidence = _core.poison_invalid(_inputs.masked(confidence, mask), valid | ~mask if mask is not None else valid)
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


def ece_from_state(s: BinnedState) -> Array:
    # sum_b (W_b / W) |acc_b - conf_b| = sum_b |sum_b w (correct - conf)| / W
    return _inputs.safe_div(jnp.sum(jnp.abs(s.correct - s.confidence)), jnp.sum(s.weight))


@_inputs.compiled("from_logits", "epsilon", probabilities=True)
def log_loss(predictions: ArrayLike, targets: ArrayLike, *, from_logits: bool = False, epsilon: float | None = None,
             weights: ArrayLike | None = None, where: ArrayLike | None = None) -> Array:
    """Mean negative log-likelihood of the targets (cross-entropy), binary or multiclass.

    Binary (``predictions.shape == targets.shape``): ``-[y log p + (1 - y) log(1 - p)]``.
    Multiclass (``predictions`` of shape ``(..., K)``, integer targets): ``-log p[target]``.
    Averaged with weights: ``sum_i w_i l_i / sum_i w_i`` (0 for empty input).

    Numerical care: probabilities are clipped to ``[epsilon, 1 - epsilon]`` (default: the machine
    epsilon of their dtype, scikit-learn's ``eps="auto"``), so a confident mistake costs about 16
    (float32) instead of inf. Multiclass probabilities are not renormalized. With
    ``from_logits=True`` nothing is clipped: ``log_sigmoid`` / ``log_softmax`` are exact for any
    finite logit. The inputs are checked as the cross-entropy losses check them (``binary_cross_entropy``
    and ``softmax_cross_entropy`` with ``from_logits=False`` raise on the same inputs): probabilities
    outside ``[0, 1]`` (never clipped into a plausible number), binary targets outside ``[0, 1]`` and
    class indices outside ``[0, K)`` raise a ``ValueError``; under ``jit`` they make the result NaN.
    ``epsilon`` must be in ``(0, 0.5)`` (a larger one would invert the clip).

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
    losses, shape, dtype = log_loss_values(fn, predictions, targets, from_logits, epsilon, where)
    w, mask = _inputs.sample_weights(fn, shape, weights, where, dtype)
    s = _states.mean_stats(losses, w, mask)
    return _inputs.safe_div(s.total, s.weight)


@_inputs.compiled("num_bins", "from_logits", probabilities=True)
def expected_calibration_error(predictions: ArrayLike, targets: ArrayLike, *, num_bins: int = 15,
                               from_logits: bool = False, weights: ArrayLike | None = None,
                               where: ArrayLike | None = None) -> Array:
    """Expected calibration error: ``sum_b (W_b / W) |acc_b - conf_b|`` over equal-width bins.

    Multiclass (``predictions`` ``(..., K)``, integer targets): top-label ECE; ``conf`` is the max
    probability and ``acc`` whether its class is the target (Guo et al.). Binary
    (``predictions.shape == targets.shape``): ``conf`` is the predicted probability of the positive
    class and ``acc`` the observed positive rate in the bin (the reliability diagram of
    ``sklearn.calibration.calibration_curve``). Bins are ``(e_{b-1}, e_b]`` on ``[0, 1]`` with the
    first closed. Probabilities outside ``[0, 1]`` and targets out of range (binary ones outside
    ``[0, 1]``, class indices outside ``[0, K)``) raise a ``ValueError``, as :func:`log_loss` does; under
    ``jit`` they make the result NaN. Empty input gives 0.

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
    state = calibration_stats("expected_calibration_error", predictions, targets, num_bins,
                              from_logits, weights, where)
    return ece_from_state(state)

