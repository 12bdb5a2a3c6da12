"""Margin losses: PyTorch's margin family, matched exactly.

Every loss here follows its ``torch.nn.functional`` namesake (the formula, the
target format and what ``"mean"`` averages over) and the jaxloss conventions:

- Signed targets are ``-1`` or ``+1`` (PyTorch's convention; other values raise
  a ``ValueError`` outside ``jit``).
- Element-wise losses (:func:`margin_ranking`, :func:`soft_margin`,
  :func:`hinge_embedding`) give one value per entry with ``reduction="none"``;
  losses over a class axis (:func:`multilabel_soft_margin`,
  :func:`multilabel_margin`, :func:`multi_margin`) give one value per example,
  the last axis reduced, and divide by the number of classes ``C`` as PyTorch does.
- ``weights=`` and ``where=`` act per value of ``reduction="none"``; excluded
  entries contribute nothing to the value or the gradient.
- At a hinge's kink the gradient is PyTorch's (torch 2.13): the whole gradient
  where PyTorch writes ``clamp_min(z, 0)`` (:func:`margin_ranking`,
  :func:`hinge_embedding`: ``z < 0`` is clamped, ``z = 0`` is not) and 0 where
  its CPU kernel tests ``z > 0`` (:func:`multi_margin`, :func:`multilabel_margin`).
  Each docstring states its value.

Two multiclass hinge losses exist and they differ: :func:`multi_margin` is the
Weston-Watkins form (PyTorch's ``multi_margin_loss``: a sum over every wrong
class), :func:`jaxloss.multiclass_hinge` the Crammer-Singer form (optax's
``multiclass_hinge_loss``: only the strongest wrong class).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxloss import _core, _kinds
from jaxloss._core import ArrayLike, Reduction
from jaxloss._kinds import problems
from jaxloss._registry import Hyperparameter, Task, register
from jaxloss.losses._class_inputs import class_inputs, class_weight_vector, pick, reduce_examples


__all__ = [
    "margin_ranking", "soft_margin", "multilabel_soft_margin", "multilabel_margin", "hinge_embedding",
    "multi_margin",
]


def _margin(doc: str, slider: tuple[float, float]) -> Hyperparameter:
    """The ``margin`` hyperparameter (>= 0); its default is the signature's."""
    return Hyperparameter(low=0.0, doc=doc, slider=slider)


def _signed_elementwise(kernel: Any, predictions: ArrayLike, targets: ArrayLike, *, fn: str,
                        predictions_name: str, weights: Any, where: Any, reduction: str) -> jax.Array:
    """``_core.elementwise`` for {-1, +1} targets (checked: an error eagerly, NaN under ``jit``)."""
    return _core.elementwise(kernel, predictions, targets, fn=fn, weights=weights, where=where, reduction=reduction,
                             targets_in=_core.Targets.SIGNED, predictions_name=predictions_name)


@register(
    task=Task.RANKING,
    formula="max(0, -y (a - b) + margin),  y in {-1, +1}",
    latex=r"\max\left(0,\ -y\, (a - b) + \mathtt{margin}\right), \quad y \in \{-1, +1\}",
    torch="torch.nn.MarginRankingLoss",
    summary="learning which of two items should score higher (pairwise ranking, siamese scorers)",
    hyperparameters={"margin": _margin("required score gap in the right direction", (0.0, 2.0))},
    properties=("nonnegative", "zero_at_target", "convex", "bounded_gradient"),
    inputs=_kinds.PAIRWISE_SCORES, toy_problem=problems.RANKING, differentiable_args=(0, 1),
    reference="torch.nn.functional.margin_ranking_loss (torch.nn.MarginRankingLoss)",
)
def margin_ranking(
    scores_a: ArrayLike, scores_b: ArrayLike, targets: ArrayLike, *, margin: float = 0.0,
    weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Margin ranking loss, ``max(0, -y (a - b) + margin)`` per entry.

    ``y = +1`` says ``a`` should score higher than ``b`` by at least
    ``margin``; ``y = -1`` says ``b`` should. Zero once the pair is in the
    right order with the margin; the gradient is ``-y`` for ``a`` and ``+y``
    for ``b`` while it is not. Argument order and definition are PyTorch's
    ``margin_ranking_loss``.

    Use it when the supervision is a preference between two items rather
    than a score for each.

    Args:
      scores_a: scores of the first items, any shape.
      scores_b: scores of the second items, the same shape.
      targets: ``+1`` (a above b) or ``-1`` (b above a), the same shape.
      margin: required gap (>= 0; PyTorch's default 0), a number or an array
        broadcastable to the scores (NumPy's rule), differentiable.
      weights, where, reduction: per-entry weights, mask and reduction.

    Numerical care: piecewise linear; finite at any score. At the kink
    (``-y (a - b) + margin = 0``) the gradient is the whole one, ``-y`` for
    ``a`` and ``+y`` for ``b``, as PyTorch's ``clamp_min`` gives (torch 2.13).

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> a, b, y = jnp.array([1.0, 2.0]), jnp.array([2.0, 1.0]), jnp.array([1.0, 1.0])
    >>> jl.margin_ranking(a, b, y, margin=0.5, reduction="none").tolist()
    [1.5, 0.0]
    """
    fn = "margin_ranking"
    a = _core.float_array(scores_a, name="scores_a", fn=fn)
    b = _core.float_array(scores_b, name="scores_b", fn=fn)
    _core.check_same_shape(a, b, fn=fn, names=("scores_a", "scores_b"))
    y = _core.target_array(targets, like=a, name="targets", fn=fn)
    _core.check_same_shape(a, y, fn=fn, names=("scores_a", "targets"))
    mask = _core.mask_array(where, a.shape, fn=fn)
    valid = _core.check_targets(y, _core.Targets.SIGNED, fn=fn, mask=mask)
    dtype = a.dtype
    work = _core.compute_dtype(dtype)
    a, b, y = (_core.exclude(v, mask).astype(work) for v in (a, b, y))
    m = _core.parameter_array(margin, a.shape, name="margin", fn=fn, mask=mask, fill=0.0).astype(work)
    z = -y * (a - b) + m
    # PyTorch's clamp_min(z, 0): gradient 1 at z = 0 (jnp.maximum would give 1/2); NaN stays NaN.
    values = _core.poison_invalid(jnp.where(z < 0, 0.0, z), valid)
    return _core.reduce(values, reduction=reduction, weights=weights, mask=mask, dtype=dtype, fn=fn)


@register(
    task=Task.BINARY,
    formula="log(1 + exp(-y x)),  y in {-1, +1}",
    latex=r"\log\left(1 + e^{-y x}\right), \quad y \in \{-1, +1\}",
    torch="torch.nn.SoftMarginLoss",
    summary="binary classification with {-1, +1} labels; a smooth hinge (logistic loss)",
    properties=("nonnegative", "convex", "bounded_gradient", "smooth"),
    inputs=_kinds.SIGNED_BINARY, toy_problem=problems.BINARY,
    reference="torch.nn.functional.soft_margin_loss (torch.nn.SoftMarginLoss)",
)
def soft_margin(
    predictions: ArrayLike, targets: ArrayLike, *, weights: ArrayLike | None = None,
    where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Soft margin loss, ``log(1 + exp(-y x))`` per entry, labels ``y`` in {-1, +1}.

    The logistic loss written for signed labels: equal to
    :func:`binary_cross_entropy` with targets ``(y + 1) / 2``. PyTorch's
    ``soft_margin_loss``; its ``"mean"`` averages over every entry, as here.

    Use it when labels come as {-1, +1} and a smooth alternative to
    :func:`hinge` is wanted.

    Args:
      predictions: real-valued scores (logits), any shape.
      targets: ``-1`` or ``+1``, the same shape.
      weights, where, reduction: per-entry weights, mask and reduction.

    Numerical care: computed as ``softplus(-y x)`` with a stable softplus
    (PyTorch's literal ``log(1 + exp(-y x))`` overflows at ``y x < -88`` in
    float32): finite value, gradient and Hessian at scores of +-1e4.

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> values = jl.soft_margin(jnp.array([0.0, 2.0]), jnp.array([1.0, -1.0]), reduction="none")
    >>> [round(v, 4) for v in values.tolist()]
    [0.6931, 2.1269]
    """
    return _signed_elementwise(
        lambda x, y: _core.softplus(-y * x), predictions, targets, fn="soft_margin",
        predictions_name="predictions", weights=weights, where=where, reduction=reduction,
    )


@register(
    task=Task.MULTILABEL,
    formula="(1 / C) sum_c w_c [-(t_c log sigmoid(x_c) + (1 - t_c) log sigmoid(-x_c))]",
    latex=(r"\frac{1}{C} \sum_{c=1}^{C} w_c \left[-\left(t_c \log \sigma(x_c) + (1 - t_c) \log \sigma(-x_c)\right)\right]"),
    torch="torch.nn.MultiLabelSoftMarginLoss",
    summary="multi-label classification, one value per example (PyTorch's MultiLabelSoftMarginLoss)",
    properties=("nonnegative", "zero_at_target", "convex", "bounded_gradient", "smooth"),
    inputs=_kinds.MULTILABEL_LOGITS, toy_problem=problems.MULTILABEL,
    reference="torch.nn.functional.multilabel_soft_margin_loss (torch.nn.MultiLabelSoftMarginLoss)",
)
def multilabel_soft_margin(
    predictions: ArrayLike, targets: ArrayLike, *, class_weights: ArrayLike | None = None,
    weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Multi-label soft margin loss: the mean over classes of the binary cross-entropy.

    ``(1 / C) sum_c w_c BCE(x_c, t_c)`` per example, with
    ``BCE(x, t) = -(t log sigmoid(x) + (1 - t) log sigmoid(-x))``. The same
    numbers as :func:`binary_cross_entropy` averaged over the last axis, but
    one value per example, so ``weights``/``where`` act per example. PyTorch's
    ``multilabel_soft_margin_loss``: ``class_weights`` is its ``weight`` and
    the sum is divided by ``C``, not by the sum of the class weights.

    Use it for multi-label classification when you want per-example values
    (per-example weights, masks or sample reweighting).

    Args:
      predictions: logits, shape ``(..., C)``.
      targets: multi-hot targets in [0, 1], the same shape.
      class_weights: one weight per class, shape ``(C,)`` (PyTorch's ``weight``).
      weights: per-example weights, broadcastable to ``predictions.shape[:-1]``.
      where: per-example boolean mask, shape ``predictions.shape[:-1]``.
      reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per example).

    Numerical care: each term is ``t softplus(-x) + (1 - t) softplus(x)`` with a
    stable softplus: finite at logits of +-1e4, exact second derivative at 0,
    full relative precision for either label.

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> x, t = jnp.array([[0.0, 0.0]]), jnp.array([[1.0, 0.0]])
    >>> round(float(jl.multilabel_soft_margin(x, t)), 4)  # log 2
    0.6931
    """
    fn = "multilabel_soft_margin"
    x = _core.float_array(predictions, name="predictions", fn=fn)
    _core.check_rank(x, min_rank=1, fn=fn, name="predictions", meaning="classes on the last axis")
    t = _core.target_array(targets, like=x, name="targets", fn=fn)
    _core.check_same_shape(x, t, fn=fn)
    mask = _core.mask_array(where, x.shape[:-1], fn=fn)
    valid = _core.check_targets(t, _core.Targets.UNIT_INTERVAL, fn=fn, mask=mask)
    work = _core.compute_dtype(x.dtype)
    xs, ts = _core.exclude(x, mask).astype(work), _core.exclude(t, mask).astype(work)
    # BCE with logits, t softplus(-x) + (1 - t) softplus(x): stable at any |x|, and no cancellation
    # for label 0 (the form (1 - t) x + softplus(-x) gives 0 for a loss of 2e-9 at x = -20).
    terms = ts * _core.softplus(-xs) + (1.0 - ts) * _core.softplus(xs)
    if class_weights is not None:
        cw = class_weight_vector(class_weights, x.shape[-1], fn=fn, dtype=work)
        terms = terms * cw.reshape((1,) * (terms.ndim - 1) + cw.shape)  # explicit rank: no silent promotion
    values = _core.poison_invalid(jnp.sum(terms, axis=-1) / x.shape[-1], valid)
    return _core.reduce(values, reduction=reduction, weights=weights, mask=mask, dtype=x.dtype, fn=fn)


@register(
    task=Task.MULTILABEL,
    formula="(1 / C) sum_{j in targets} sum_{i not in targets} max(0, 1 - (x_j - x_i))",
    latex=(r"\frac{1}{C} \sum_{j \in Y} \sum_{i \notin Y} \max\left(0,\ 1 - (x_j - x_i)\right)"
           r", \quad Y = \text{the target classes}"),
    torch="torch.nn.MultiLabelMarginLoss",
    summary="multi-label ranking: every target class should outscore every other class by 1",
    properties=("nonnegative", "zero_at_target", "convex", "bounded_gradient"),
    inputs=_kinds.MULTILABEL_INDICES, toy_problem=problems.MULTILABEL,
    reference="torch.nn.functional.multilabel_margin_loss (torch.nn.MultiLabelMarginLoss); "
              "Weston and Watkins, Support Vector Machines for Multi-Class Pattern Recognition, 1999",
)
def multilabel_margin(
    predictions: ArrayLike, targets: ArrayLike, *, weights: ArrayLike | None = None,
    where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Multi-label margin loss with PyTorch's target format.

    ``(1 / C) sum_{j in T} sum_{i not in T} max(0, 1 - (x_j - x_i))`` per
    example, where ``T`` is the example's set of target classes. ``targets``
    has the predictions' shape and holds class indices: the list of targets
    of an example is read from the left up to the first negative entry (PyTorch
    pads with ``-1``); whatever follows it is ignored, and ``[-1, ...]``
    means no target (loss 0). A class listed twice counts twice, as in PyTorch.

    Use it for multi-label problems where the targets should be ranked
    above the non-targets (rather than classified one by one, as in
    :func:`multilabel_soft_margin`).

    Args:
      predictions: scores, shape ``(..., C)``.
      targets: integer class indices, shape ``(..., C)``, padded with ``-1``.
      weights: per-example weights, broadcastable to ``predictions.shape[:-1]``.
      where: per-example boolean mask, shape ``predictions.shape[:-1]``.
      reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per example).

    Shapes are static: the target set is a ``(..., C)`` mask built with
    comparisons, the pair terms a ``(..., C, C)`` array, so it is jit-able and
    vmap-able. At a kink (``x_j - x_i = 1``) the pair's gradient is 0,
    PyTorch's: its CPU kernel counts a pair only where ``1 - (x_j - x_i) > 0``
    (torch 2.13). Indices ``>= C`` before the end of a list raise a
    ``ValueError`` outside ``jit``; under ``jit`` they make that example's value
    and gradient NaN.

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> x = jnp.array([[0.1, 0.2, 0.4, 0.8]])
    >>> y = jnp.array([[3, 0, -1, 1]])  # targets {3, 0}; the 1 after -1 is ignored
    >>> round(float(jl.multilabel_margin(x, y)), 4)  # PyTorch's documented example
    0.85
    """
    fn = "multilabel_margin"
    x = _core.float_array(predictions, name="predictions", fn=fn)
    _core.check_rank(x, min_rank=1, fn=fn, name="predictions", meaning="classes on the last axis")
    t = _core.label_array(targets, name="targets", fn=fn)
    _core.check_same_shape(x, t, fn=fn)
    num_classes = x.shape[-1]
    mask = _core.mask_array(where, x.shape[:-1], fn=fn)
    if not _core.is_traced(t) and not _core.is_traced(mask):
        # Checked in NumPy: under jit even jnp ops on concrete targets give tracers.
        arr = np.asarray(t)
        if mask is not None:
            arr = np.where(np.asarray(mask)[..., None], arr, -1)
        bad = (np.cumprod(arr >= 0, axis=-1) > 0) & (arr >= num_classes)
        if bad.any():
            values = sorted({int(v) for v in arr[bad]})[:10]
            raise ValueError(
                f"{fn}: targets hold class indices outside [0, {num_classes}) before the end of a list: "
                f"values {values}. Each row lists target classes, padded with -1.")
    if mask is not None:
        t = jnp.where(mask[..., None], t, -1)  # an excluded example has no targets
    # Slots before the first negative entry hold the example's targets.
    active = jnp.cumprod((t >= 0).astype(jnp.int32), axis=-1) > 0
    valid = jnp.all(~active | (t < num_classes), axis=-1)
    idx = jnp.clip(t, 0, num_classes - 1)
    classes = jax.lax.broadcasted_iota(jnp.int32, (1,) * (t.ndim - 1) + (1, num_classes), t.ndim)
    is_target = jnp.any(active[..., :, None] & (idx[..., :, None] == classes), axis=-2)  # (..., C)
    xs = _core.upcast(_core.exclude(x, mask))
    x_target = jnp.take_along_axis(xs, idx, axis=-1)  # (..., slots)
    z = 1.0 - x_target[..., :, None] + xs[..., None, :]  # (..., slots, C)
    hinge = jnp.where(z <= 0, 0.0, z)  # gradient 0 at z = 0, PyTorch's (jnp.maximum would give 1/2)
    pairs = active[..., :, None] & ~is_target[..., None, :]
    values = jnp.sum(jnp.where(pairs, hinge, 0.0), axis=(-2, -1)) / num_classes
    values = _core.poison_invalid(values, valid)
    return _core.reduce(values, reduction=reduction, weights=weights, mask=mask, dtype=x.dtype, fn=fn)


@register(
    task=Task.METRIC_LEARNING,
    formula="x if y = 1;  max(0, margin - x) if y = -1",
    latex=r"\begin{cases} x & y = 1 \\ \max(0,\ \mathtt{margin} - x) & y = -1 \end{cases}",
    torch="torch.nn.HingeEmbeddingLoss",
    summary="learning a distance from similar (+1) and dissimilar (-1) pairs",
    hyperparameters={"margin": _margin("distance beyond which dissimilar pairs cost nothing", (0.0, 3.0))},
    properties=("zero_at_target", "convex", "bounded_gradient"),
    inputs=_kinds.DISTANCES, toy_problem=problems.METRIC_LEARNING,
    reference="torch.nn.functional.hinge_embedding_loss (torch.nn.HingeEmbeddingLoss); "
              "Hadsell et al., Dimensionality Reduction by Learning an Invariant Mapping, 2006",
)
def hinge_embedding(
    distances: ArrayLike, targets: ArrayLike, *, margin: float = 1.0, weights: ArrayLike | None = None,
    where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Hinge embedding loss: ``x`` for similar pairs, ``max(0, margin - x)`` for dissimilar ones.

    ``distances`` are usually the L1 or L2 distance between two embeddings.
    ``y = +1`` (similar) pulls the distance to 0, ``y = -1`` (dissimilar)
    pushes it beyond ``margin``. PyTorch's ``hinge_embedding_loss``. The loss is
    >= 0 for the non-negative distances it is meant for (a negative distance
    with ``y = +1`` gives a negative loss, as in PyTorch).

    Use it when the supervision is "same or different" for pairs and the model
    outputs a distance.

    Args:
      distances: non-negative distances, any shape.
      targets: ``+1`` (similar) or ``-1`` (dissimilar), the same shape.
      margin: distance beyond which a dissimilar pair costs nothing (>= 0), a
        number or an array broadcastable to the distances, differentiable.
      weights, where, reduction: per-entry weights, mask and reduction.

    Numerical care: piecewise linear, finite at any distance. At ``x = margin``
    a dissimilar pair's gradient is -1, PyTorch's (its ``clamp_min`` passes the
    whole gradient at 0; torch 2.13).

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> d, y = jnp.array([0.5, 2.0, 0.25]), jnp.array([1.0, -1.0, -1.0])
    >>> jl.hinge_embedding(d, y, reduction="none").tolist()
    [0.5, 0.0, 0.75]
    """
    def kernel(x: jax.Array, y: jax.Array, margin: jax.Array) -> jax.Array:
        # PyTorch's two branches, each 0 where the other label applies. clamp_min(margin - x, 0): gradient
        # -1 at x = margin, as PyTorch's (jnp.maximum would give -1/2).
        z = margin - x
        return jnp.where(y != 1, jnp.where(z < 0, 0.0, z), 0.0) + jnp.where(y != -1, x, 0.0)

    return _core.parametrized_elementwise(
        kernel, distances, targets, fn="hinge_embedding", parameters={"margin": (margin, 1.0)}, weights=weights,
        where=where, reduction=reduction, targets_in=_core.Targets.SIGNED, predictions_name="distances")


@register(
    task=Task.MULTICLASS, aliases=("weston_watkins", "multi_margin_loss"),
    formula="(1 / C) sum_{i != y} w_y max(0, margin - x_y + x_i)^p",
    latex=r"\frac{1}{C} \sum_{i \ne y} w_y \max\left(0,\ \mathtt{margin} - x_y + x_i\right)^{p}",
    torch="torch.nn.MultiMarginLoss",
    summary="max-margin multiclass classification, every wrong class penalised (Weston-Watkins SVM)",
    hyperparameters={
        "p": Hyperparameter(low=1, high=2, doc="exponent of the hinge: 1 or 2"),
        "margin": _margin("required gap between the true score and each other score", (0.0, 3.0)),
    },
    properties=("nonnegative", "zero_at_target", "convex", "bounded_gradient"),
    inputs=_kinds.CLASS_LOGITS, toy_problem=problems.MULTICLASS,
    reference="torch.nn.functional.multi_margin_loss (torch.nn.MultiMarginLoss); "
              "Weston and Watkins, Support Vector Machines for Multi-Class Pattern Recognition, 1999",
)
def multi_margin(
    predictions: ArrayLike, targets: ArrayLike, *, p: int = 1, margin: float = 1.0,
    class_weights: ArrayLike | None = None, weights: ArrayLike | None = None, where: ArrayLike | None = None,
    reduction: Reduction = "mean",
) -> jax.Array:
    """Weston-Watkins multiclass hinge loss (PyTorch's ``multi_margin_loss``).

    ``(1 / C) sum_{i != y} w_y max(0, margin - x_y + x_i)^p``: **every** wrong
    class whose score comes within ``margin`` of the true class's score is
    penalised, and the sum is divided by the number of classes ``C``. This
    is not :func:`jaxloss.multiclass_hinge`, the Crammer-Singer form (optax's
    ``multiclass_hinge_loss``), which penalises only the strongest wrong class
    and does not divide by ``C``. ``class_weights`` is PyTorch's ``weight``:
    it scales the example's terms by the weight of its true class (after the
    power), and ``"mean"`` still divides by the number of examples.

    Use it for max-margin multiclass classification when every confusable
    class should be pushed away, not only the closest one.

    The properties it claims (bounded gradient) hold at the default ``p=1``;
    ``p=2`` is the squared hinge, smooth at the margin but with a growing gradient.

    Args:
      predictions: scores, shape ``(..., C)``; ``-inf`` for masked-out classes.
      targets: integer class indices, shape ``(...)``.
      p: 1 or 2, the exponent of the hinge.
      margin: required gap (>= 0), a number or one value per example (broadcastable
        to ``predictions.shape[:-1]``; never one per class), differentiable.
      class_weights: one weight per class, shape ``(C,)``.
      weights: per-example weights, broadcastable to ``predictions.shape[:-1]``.
      where: per-example boolean mask.
      reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per example).

    Numerical care: the hinge is clamped before the power, so a ``-inf`` score
    gives 0 (not ``0 * inf``) in the value and the gradient. At the kink
    (``x_i = x_y - margin``) the gradient is 0, PyTorch's: its CPU kernel counts a
    class only where ``margin - x_y + x_i > 0`` (torch 2.13).

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> x, y = jnp.array([[0.1, 0.2, 0.4, 0.8]]), jnp.array([3])
    >>> round(float(jl.multi_margin(x, y)), 4)  # PyTorch's documented example
    0.325
    """
    fn = "multi_margin"  # p is an int in [1, 2]: checked by its declaration (register), before this runs
    inputs = class_inputs(fn, predictions, targets, where=where, allow_probabilities=False)
    x = inputs.predictions
    # One margin per example (its class axis added): never read per class, whatever the shapes.
    m = _core.parameter_array(margin, x.shape[:-1], name="margin", fn=fn, mask=inputs.mask).astype(x.dtype)
    true_score = pick(x, inputs.targets)
    is_target = jax.lax.broadcasted_iota(jnp.int32, x.shape, x.ndim - 1) == inputs.targets[..., None]
    # Clamp first: a -inf score gives 0, never inf * 0. Only z > 0 counts (gradient 0 at z = 0, PyTorch's
    # CPU kernel; jnp.maximum would give 1/2); NaN stays NaN.
    z = m[..., None] - true_score[..., None] + x
    h = jnp.where(z <= 0, 0.0, z)
    if p == 2:
        h = h * h
    values = jnp.sum(jnp.where(is_target, 0.0, h), axis=-1) / x.shape[-1]
    if class_weights is not None:
        cw = class_weight_vector(class_weights, x.shape[-1], fn=fn, dtype=values.dtype)
        values = values * jnp.take(cw, inputs.targets, mode="clip")
    return reduce_examples(values, inputs, fn=fn, weights=weights, reduction=reduction)
