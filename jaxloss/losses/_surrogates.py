"""Surrogate losses: differentiable stand-ins for metrics.

Accuracy, F1 and ROC AUC are step functions of a model's parameters (see ``jaxloss.metrics``): their
gradient is zero almost everywhere, so gradient descent cannot optimize them directly. A surrogate
replaces the hard decision by a smooth one (a probability in place of a 0/1 prediction, a logistic
loss in place of a 0/1 comparison of two scores) and can be trained on; read the metric itself to
see how close the surrogate got.

Conventions of this family:

- ``soft_f1`` and ``pairwise_auc`` are **set-level** losses: the last axis holds the items of one
  set (the labels of one multi-label example, or the examples of one batch), the leading axes index
  sets, and ``reduction="none"`` gives one value per set. A 1-D array is one set: for a binary
  classifier, ``soft_f1(logits, labels)`` on a batch of shape ``(batch,)`` is the batch's soft F1.
  For macro-averaged multi-label F1 over a batch, pass the transposes (``logits.T, labels.T``):
  one set per label.
- ``soft_accuracy`` is per example, with the classes on the last axis, like
  ``softmax_cross_entropy``.
- Predictions are logits by default; ``from_logits=False`` takes probabilities.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxloss import _core, _kinds
from jaxloss._core import ArrayLike, Reduction
from jaxloss._kinds import problems
from jaxloss._registry import Hyperparameter, Task, register
from jaxloss.losses._class_inputs import class_inputs, pick, reduce_examples
from jaxloss.losses._overlap import binary_probabilities, dice_complement, soft_counts
from jaxloss.losses._pairwise import label_pairs, logistic_pair_mean


__all__ = ["soft_f1", "pairwise_auc", "soft_accuracy"]


def _set_inputs(fn: str, predictions: ArrayLike, targets: ArrayLike, where: ArrayLike | None):
    """Scores ``(..., m)``, targets of the same shape, a per-set mask ``(...)``, whether each set's
    targets are 0 or 1 (checked: an error eagerly, for ``_core.poison_invalid`` under ``jit``), the
    output dtype."""
    x = _core.float_array(predictions, name="predictions", fn=fn)
    _core.check_rank(x, min_rank=1, fn=fn, name="predictions", meaning="the items of a set on the last axis")
    t = _core.target_array(targets, like=x, name="targets", fn=fn)
    _core.check_same_shape(x, t, fn=fn)
    mask = _core.mask_array(where, x.shape[:-1], fn=fn)
    valid = _core.check_targets(t, _core.Targets.UNIT_INTERVAL, fn=fn, mask=mask)
    work = _core.compute_dtype(x.dtype)
    return _core.exclude(x, mask).astype(work), _core.exclude(t, mask).astype(work), mask, valid, x.dtype


@register(
    task=Task.BINARY,
    formula="1 - (2 sum(p t) + smooth) / (sum(p) + sum(t) + smooth),  p = sigmoid(x), sums over the set's items",
    latex=(r"1 - \frac{2 \sum p\, t + s}{\sum p + \sum t + s}"
           r", \quad p = \sigma(x)"
           r", \quad s = \mathtt{smooth} \quad (\text{sums over the set's items})"),
    summary="you report F1 on imbalanced binary or multi-label data and want to train on (a smooth) F1 itself",
    hyperparameters={"smooth": Hyperparameter(low=0.0, low_open=True,
                                              doc="smoothing added to the numerator and denominator",
                                               slider=(0.01, 2.0))},
    properties=("nonnegative", "zero_at_target", "smooth", "bounded_gradient"),
    inputs=_kinds.MULTILABEL_LOGITS, toy_problem=problems.BINARY_IMBALANCED,
    reference="Jansche, Maximum Expected F-Measure Training of Logistic Regression Models, 2005; "
              "the soft F1 / soft Dice loss (Milletari et al., V-Net, 2016, with additive smoothing)",
)
def soft_f1(
    predictions: ArrayLike, targets: ArrayLike, *, smooth: float = 1.0, from_logits: bool = True,
    weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """One minus the soft F1 score of each set: a differentiable stand-in for F1.

    F1 is ``2 TP / (2 TP + FP + FN)`` with hard counts. The soft version counts with probabilities:
    ``TP = sum(p t)``, ``2 TP + FP + FN = sum(p) + sum(t)``, so the loss per set is
    ``1 - (2 sum(p t) + smooth) / (sum(p) + sum(t) + smooth)`` with ``p = sigmoid(x)``. The metric it stands
    in for is ``jaxloss.metrics.f1_score`` (binary; per set); ``smooth`` makes a set without positives
    that predicts none score 1, as scikit-learn's ``zero_division=1.0`` does.

    This is 1 - soft Dice: :func:`jaxloss.dice` with the same ``smooth`` on one binary set per row
    (``spatial_dims=1``), computed by the same soft-overlap kernel. Where ``dice`` is per image and
    can be multiclass, ``soft_f1`` is per set of binary decisions.

    Use it when F1 is what you report and the classes are imbalanced, so cross-entropy's optimum is
    far from F1's; it is not a proper scoring rule (the probabilities it learns are not calibrated)
    and it is a set-level loss: its value depends on the batch, so use batches of a few dozen
    examples or more.

    Args:
      predictions: logits (probabilities with ``from_logits=False``), shape ``(..., m)``: ``m`` items per set.
      targets: ``{0, 1}`` (or soft, in [0, 1]) of the same shape.
      smooth: additive smoothing ``> 0`` in numerator and denominator (as :func:`jaxloss.dice`'s); a number
        or one value per set (broadcastable to ``predictions.shape[:-1]``), differentiable.
      from_logits: whether predictions are logits.
      weights: per-set weights, broadcastable to ``predictions.shape[:-1]``.
      where: per-set boolean mask of shape ``predictions.shape[:-1]``.
      reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per set).

    Numerical care: computed as ``(FP + FN) / (2 TP + FP + FN + smooth)`` with ``1 - p = sigmoid(-x)``,
    so there is no cancellation near a perfect prediction; the denominator is at least ``smooth``;
    ``sigmoid`` saturates to exactly 0 or 1 at logits of +-1e4 with a zero, finite gradient; half
    precision is computed in float32.

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> logits, labels = jnp.array([4.0, -4.0, 4.0, -4.0]), jnp.array([1.0, 0.0, 0.0, 0.0])
    >>> round(float(jl.soft_f1(logits, labels, smooth=1e-6)), 2)   # hard F1 = 2/3: loss near 1/3
    0.35
    >>> bool(jnp.isclose(jl.soft_f1(logits, labels), jl.dice(logits, labels, smooth=1.0, spatial_dims=1)))
    True
    """
    fn = "soft_f1"
    x, t, mask, valid, dtype = _set_inputs(fn, predictions, targets, where)
    p, q = binary_probabilities(x, from_logits=from_logits)
    tp, fp, fn_ = soft_counts(p, q, t, -1)
    # Dice's kernel, (FP + FN) / (2 TP + FP + FN + smooth): no cancellation near a perfect prediction, and
    # the denominator >= smooth > 0 is finite for sets without positives and without predicted positives.
    # One smooth per set (a number, or an array broadcastable to the sets' shape): never read along the items.
    s = _core.parameter_array(smooth, tp.shape, name="smooth", fn=fn, mask=mask).astype(tp.dtype)
    values = _core.poison_invalid(dice_complement(tp, fp, fn_, s), valid)
    return _core.reduce(values, reduction=reduction, weights=weights, mask=mask, dtype=dtype, fn=fn)


@register(
    task=Task.BINARY, aliases=("auc_loss",),
    formula="sum_{i pos, j neg} log(1 + exp(-(s_i - s_j))) / (n_pos n_neg)   over the set's items",
    latex=(r"\frac{1}{n_+ n_-} \sum_{i \in \text{pos}} \sum_{j \in \text{neg}} \log\left(1 + e^{-(s_i - s_j)}\right) \quad (\text{over the set's items})"),
    summary="you report ROC AUC (ranking positives above negatives) and want to train on it directly",
    properties=("nonnegative", "zero_at_target", "convex", "smooth", "bounded_gradient"),
    inputs=_kinds.MULTILABEL_LOGITS, toy_problem=problems.BINARY_IMBALANCED,
    reference="Yan et al., Optimizing Classifier Performance via an Approximation to the "
              "Wilcoxon-Mann-Whitney Statistic, 2003; Burges et al., Learning to Rank using Gradient Descent "
              "(RankNet), 2005",
)
def pairwise_auc(
    predictions: ArrayLike, targets: ArrayLike, *, weights: ArrayLike | None = None,
    where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Logistic surrogate of ROC AUC over the positive-negative pairs of each set: RankNet with binary relevance.

    ROC AUC is the fraction of (positive, negative) pairs whose scores are in the right order,
    ``mean 1[s_i > s_j]``. Replacing the step ``1[s_i - s_j < 0]`` (a wrongly ordered pair) by the
    logistic loss ``log(1 + exp(-(s_i - s_j)))``, which bounds it from above up to a factor
    ``1 / log 2``, gives a convex, smooth loss whose minimum orders every pair: the metric it stands in
    for is ``jaxloss.metrics.roc_auc`` (``1 - AUC <= loss / log 2``). Pairs are weighted by
    ``t_i (1 - t_j)``; a set without a positive or without a negative has no pair and costs 0.

    It is :func:`jaxloss.pairwise_logistic` (RankNet) with binary relevance, over sets instead of
    lists, computed by the same pairwise kernel: for 0/1 targets the two give the same value; soft
    targets in [0, 1] weight the pair ``(i, j)`` by ``t_i (1 - t_j)``. Here the targets are checked to
    lie in [0, 1] and ``where`` is per set (``pairwise_logistic`` also takes item masks).

    Use it for ranking quality on imbalanced binary data (one set per batch: pass the batch's scores
    as a 1-D array) or for multi-label ranking (one set per example). It costs ``O(m^2)`` per set.

    Args:
      predictions: scores or logits, shape ``(..., m)``: ``m`` items per set.
      targets: ``{0, 1}`` labels of the same shape.
      weights: per-set weights, broadcastable to ``predictions.shape[:-1]``.
      where: per-set boolean mask of shape ``predictions.shape[:-1]``.
      reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per set).

    Numerical care: a stable softplus (exact derivatives of every order) on score differences; the
    pair normalizer is replaced by 1 for sets without pairs; half precision is computed in float32.

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> scores, labels = jnp.array([3.0, -3.0, 2.0]), jnp.array([1.0, 0.0, 0.0])
    >>> round(float(jl.pairwise_auc(scores, labels)), 3)   # log(1 + e^-6) and log(1 + e^-1), averaged
    0.158
    >>> bool(jl.pairwise_auc(scores, labels) == jl.pairwise_logistic(scores, labels))   # RankNet, binary relevance
    True
    """
    fn = "pairwise_auc"
    s, t, mask, valid, dtype = _set_inputs(fn, predictions, targets, where)
    # RankNet's kernel on the (positive, negative) pairs: pairwise_logistic with binary relevance.
    values = _core.poison_invalid(logistic_pair_mean(s, label_pairs(t)), valid)
    return _core.reduce(values, reduction=reduction, weights=weights, mask=mask, dtype=dtype, fn=fn)


@register(
    task=Task.MULTICLASS, aliases=("expected_accuracy_loss",),
    formula="1 - softmax(x)_y",
    latex=r"1 - \operatorname{softmax}(x)_y",
    summary="you report accuracy and want a bounded loss that ignores examples far beyond repair (label noise)",
    properties=("nonnegative", "zero_at_target", "smooth", "bounded_gradient"),
    inputs=_kinds.CLASS_LOGITS, toy_problem=problems.MULTICLASS,
    reference="Expected 0-1 loss under the softmax (the 'probabilistic accuracy' surrogate); "
              "Janocha and Czarnecki, On Loss Functions for Deep Neural Networks in Classification, 2017",
)
def soft_accuracy(
    predictions: ArrayLike, targets: ArrayLike, *, from_logits: bool = True,
    weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """One minus the expected accuracy under the softmax: ``1 - p_y``.

    Predicting a class at random from ``p = softmax(x)`` is right with probability ``p_y``; the mean
    of ``1 - p_y`` is the expected error rate, a smooth stand-in for ``1 - accuracy`` (the metric is
    ``jaxloss.metrics.accuracy``). Unlike cross-entropy it is bounded by 1, so a mislabelled example
    costs at most 1 and its gradient fades as the model grows confident: robust to label noise, but
    slow to start from confident wrong predictions and not a proper scoring rule.

    Args:
      predictions: logits (probabilities with ``from_logits=False``), shape ``(..., K)``.
      targets: integer class indices ``(...)`` or probability vectors ``(..., K)`` (then
        ``1 - sum_c q_c p_c``).
      from_logits: whether predictions are logits.
      weights, where, reduction: per-example weights, mask and reduction.

    Numerical care: ``p_y = exp(log_softmax(x)_y)``, computed with a stop-gradient maximum, so logits of
    +-1e4 and ``-inf`` logits on other classes give finite values and derivatives.

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> round(float(jl.soft_accuracy(jnp.log(jnp.array([[0.7, 0.2, 0.1]])), jnp.array([0]))), 4)
    0.3
    """
    fn = "soft_accuracy"
    inputs = class_inputs(fn, predictions, targets, where=where)
    x = inputs.predictions
    if from_logits:
        p = jnp.exp(_core.log_probabilities(x, from_logits=True))
    else:
        p = x
    if inputs.is_labels:
        values = 1.0 - pick(p, inputs.targets)
    else:
        values = 1.0 - jnp.sum(inputs.targets * p, axis=-1)
    return reduce_examples(values, inputs, fn=fn, weights=weights, reduction=reduction)
