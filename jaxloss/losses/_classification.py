"""Classification losses.

Conventions of this family:

- Predictions are **logits** by default; ``from_logits=False`` accepts
  probabilities, clipped to ``[eps, 1 - eps]`` (the machine epsilon of the
  compute dtype, 1.2e-7 in float32: ``_core.probability_epsilon``) so that the
  value and the gradient stay finite at exactly 0 and 1, and equal the
  log-loss metric (and scikit-learn's ``log_loss``) there.
- Multiclass losses put the classes on the **last axis**. Targets are either
  integer class indices of shape ``predictions.shape[:-1]`` or probability
  vectors of the predictions' shape. ``reduction="none"`` gives one value per
  example (the class axis reduced).
- Class indices outside ``[0, num_classes)``: outside ``jit`` a ``ValueError``
  names them; under ``jit`` the value and the gradient of those examples are
  NaN (never a finite wrong number). ``ignore_index=`` excludes one label value
  (padding), exactly as ``where=`` would.
- Logits of ``-inf`` (masked-out classes, as vocabulary or attention masks
  produce) are allowed: the loss is finite whenever the target class is.

The input checks and the per-example reduction live in ``_class_inputs.py``
and the cross-entropy kernels in ``_cross_entropy.py``, shared with the
margin, probabilistic, structured and surrogate families.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxloss import _core, _kinds
from jaxloss._core import ArrayLike, Reduction
from jaxloss._kinds import problems
from jaxloss._registry import Hyperparameter, Task, register
from jaxloss.losses._class_inputs import (
    LABEL_SMOOTHING, ClassInputs, class_inputs, class_weight_vector, is_zero, mix, pick, reduce_examples,
    smoothing_array,
)
from jaxloss.losses._cross_entropy import (
    cross_entropy_with_distribution, log_prob_of_label, mean_log_prob, predictable,
)


__all__ = [
    "softmax_cross_entropy", "binary_cross_entropy", "focal", "hinge", "squared_hinge",
    "multiclass_hinge", "kl_divergence", "nll", "perceptron",
]


@register(
    task=Task.MULTICLASS, aliases=("cross_entropy", "categorical_cross_entropy", "ce"),
    formula="-sum_c q_c log softmax(x)_c   (q = one-hot(y) smoothed: (1 - eps) q + eps / K)",
    latex=(r"-\sum_{c=1}^{K} q_c \log \operatorname{softmax}(x)_c"
           r", \quad q = (1 - \varepsilon)\, \operatorname{onehot}(y) + \varepsilon / K"),
    torch="torch.nn.CrossEntropyLoss", keras="keras.losses.SparseCategoricalCrossentropy",
    summary="the default for single-label classification over K classes",
    hyperparameters={"label_smoothing": LABEL_SMOOTHING},
    properties=("nonnegative", "zero_at_target", "convex", "proper_scoring_rule", "smooth"),
    inputs=_kinds.CLASS_LOGITS, toy_problem=problems.MULTICLASS, optax="softmax_cross_entropy_with_integer_labels",
    reference="torch.nn.CrossEntropyLoss; Szegedy et al., Rethinking the Inception Architecture, 2016 (label smoothing)",
)
def softmax_cross_entropy(
    predictions: ArrayLike, targets: ArrayLike, *, from_logits: bool = True, label_smoothing: float = 0.0,
    class_weights: ArrayLike | None = None, ignore_index: int | None = None,
    weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Softmax cross-entropy between logits and class labels or probabilities.

    ``-sum_c q_c log p_c`` with ``p = softmax(predictions)`` over the last
    axis. ``targets`` are integer class indices (shape ``predictions.shape[:-1]``)
    or probability vectors (the predictions' shape). With integer labels the
    loss is ``logsumexp(x) - x_y`` and no one-hot array is built, also with
    label smoothing.

    A prediction of 70% dog / 20% cat / 10% fish costs ``-log 0.7`` if the
    answer is dog and ``-log 0.2`` if it is cat: confident and right is cheap,
    confident and wrong is expensive.

    Args:
      predictions: logits (or probabilities with ``from_logits=False``), shape ``(..., K)``.
      targets: int class indices ``(...)`` or probabilities ``(..., K)``.
      from_logits: whether predictions are logits.
      label_smoothing: ``eps`` in [0, 1]; the target becomes ``(1 - eps) q + eps / K``
        (the uniform part spread over the classes whose logit is finite). A number or one
        value per example (broadcastable to ``predictions.shape[:-1]``), differentiable;
        ``eps = 0`` gives exactly the unsmoothed loss, whether the 0 is a Python number, an
        array or traced (also where a logit is ``+inf``).
      class_weights: one weight per class, shape ``(K,)``, PyTorch's ``weight``. With
        integer labels the example's term is weighted by its class's weight, each
        class of the label-smoothing sum by its own, and ``"mean"`` divides by the
        sum of the examples' class weights; with probability targets each class's
        term inside the sum is weighted and ``"mean"`` is over the examples.
      ignore_index: a label value to exclude (padding), like ``where``.
      weights: per-example weights, broadcastable to ``predictions.shape[:-1]``.
      where: per-example boolean mask.
      reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per example).

    Numerical care: log-softmax subtracts the (stop-gradient) maximum logit;
    ``-inf`` logits of non-target classes give a finite value, gradient and
    Hessian; ``0 * log 0`` terms of probability targets count as 0.

    >>> import jax.numpy as jnp, jaxloss as jl, math
    >>> probs = jnp.array([[0.7, 0.2, 0.1]])
    >>> loss_if_dog = jl.softmax_cross_entropy(probs, jnp.array([0]), from_logits=False)
    >>> bool(jnp.isclose(loss_if_dog, -math.log(0.7)))
    True
    """
    fn = "softmax_cross_entropy"
    inputs = class_inputs(fn, predictions, targets, where=where, ignore_index=ignore_index)
    x = inputs.predictions
    smoothing = not is_zero(label_smoothing)
    if inputs.is_labels:
        # -log p_y = logsumexp(x) - x_y: two reductions and a gather over the
        # logits, no log-probability array and no one-hot array materialised.
        values = -log_prob_of_label(x, inputs.targets, from_logits=from_logits)
        if class_weights is not None:
            return _class_weighted(values, inputs, class_weights, label_smoothing if smoothing else 0.0,
                                   from_logits=from_logits, fn=fn, weights=weights, reduction=reduction)
        if smoothing:
            eps = smoothing_array(label_smoothing, values.shape, fn=fn, mask=inputs.mask, dtype=values.dtype)
            values = mix(values, -mean_log_prob(x, from_logits=from_logits), eps)
        return reduce_examples(values, inputs, fn=fn, weights=weights, reduction=reduction)
    q = inputs.targets
    if smoothing:
        eps = smoothing_array(label_smoothing, q.shape[:-1], fn=fn, mask=inputs.mask, dtype=q.dtype)[..., None]
        finite = predictable(x, from_logits=from_logits)
        q = (1.0 - eps) * q + eps * finite / jnp.maximum(jnp.sum(finite, axis=-1, keepdims=True), 1)
    if class_weights is not None:
        cw = class_weight_vector(class_weights, x.shape[-1], fn=fn, dtype=q.dtype)
        q = q * cw.reshape((1,) * (q.ndim - 1) + cw.shape)  # over the class axis: explicit rank, no promotion
    return reduce_examples(cross_entropy_with_distribution(x, q, from_logits=from_logits), inputs,
                           fn=fn, weights=weights, reduction=reduction)


def _class_weighted(nll: jax.Array, inputs: ClassInputs, class_weights: Any, label_smoothing: Any, *,
                    from_logits: bool, fn: str, weights: Any, reduction: str) -> jax.Array:
    """PyTorch's ``cross_entropy(weight=w, label_smoothing=eps)`` for integer labels.

    Per example ``(1 - eps) w_y (-log p_y) + eps / K sum_c w_c (-log p_c)`` (each class weighted inside
    the smoothing sum; ``K`` and the sum over the classes that can be predicted), and ``"mean"``
    divides the total by ``sum_i w_{y_i}`` (times the per-example ``weights``), as PyTorch does.
    """
    x = inputs.predictions
    cw = class_weight_vector(class_weights, x.shape[-1], fn=fn, dtype=x.dtype)
    w_y = jnp.take(cw, inputs.targets, mode="clip")
    values = w_y * nll
    if not is_zero(label_smoothing):
        cw = cw.reshape((1,) * (x.ndim - 1) + cw.shape)  # over the class axis
        if from_logits:
            finite = jnp.isfinite(x)
            weighted_logits = jnp.sum(jnp.where(finite, cw * jnp.where(finite, x, 0.0), 0.0), axis=-1)
            weighted_lse = jnp.sum(jnp.where(finite, cw, 0.0), axis=-1) * jax.nn.logsumexp(x, axis=-1)
            smooth = (weighted_lse - weighted_logits) / jnp.maximum(jnp.sum(finite, axis=-1), 1)
        else:
            smooth = -jnp.mean(cw * jnp.log(jnp.clip(x, _core.probability_epsilon(x.dtype), 1.0)), axis=-1)
        eps = smoothing_array(label_smoothing, values.shape, fn=fn, mask=inputs.mask, dtype=values.dtype)
        values = mix(values, smooth, eps)
    if inputs.valid is not None:
        values = _core.poison_invalid(values, inputs.valid)
    if reduction != "mean":
        return _core.reduce(values, reduction=reduction, weights=weights, mask=inputs.mask, dtype=inputs.dtype, fn=fn)
    total = _core.reduce(values, reduction="sum", weights=weights, mask=inputs.mask, dtype=values.dtype, fn=fn)
    norm = _core.reduce(w_y, reduction="sum", weights=weights, mask=inputs.mask, dtype=values.dtype, fn=fn)
    return jnp.where(norm == 0, jnp.zeros((), values.dtype), total / jnp.where(norm == 0, 1, norm)).astype(inputs.dtype)


def _binary_ce_kernel(x: jax.Array, t: jax.Array, *, from_logits: bool, pos_weight: Any) -> jax.Array:
    if from_logits:
        # t * softplus(-x) + (1 - t) * softplus(x), both softplus computed: the one-softplus form
        # (1 - t) x + softplus(-x) cancels for label 0 at x << 0 (-20 + 20.000000002 is 0 in float32,
        # the loss is 2e-9), so confident right answers on label 0 lost their relative precision.
        pw = 1.0 if pos_weight is None else pos_weight
        return pw * t * _core.softplus(-x) + (1.0 - t) * _core.softplus(x)
    p = jnp.clip(x, _core.probability_epsilon(x.dtype), 1.0 - _core.probability_epsilon(x.dtype))
    pw = 1.0 if pos_weight is None else pos_weight
    return -(pw * t * jnp.log(p) + (1.0 - t) * jnp.log1p(-p))


@register(
    task=Task.BINARY, aliases=("bce", "sigmoid_binary_cross_entropy", "log_loss"),
    formula="-(t log sigmoid(x) + (1 - t) log(1 - sigmoid(x)))",
    latex=r"-\left(t \log \sigma(x) + (1 - t) \log\left(1 - \sigma(x)\right)\right)",
    torch="torch.nn.BCEWithLogitsLoss", keras="keras.losses.BinaryCrossentropy",
    summary="binary or multi-label classification (one independent yes/no per output)",
    hyperparameters={
        "label_smoothing": LABEL_SMOOTHING,
        "pos_weight": Hyperparameter(low=0.0, doc="weight of the positive term", slider=(0.1, 10.0)),
    },
    properties=("nonnegative", "zero_at_target", "convex", "proper_scoring_rule", "smooth"),
    inputs=_kinds.BINARY_LOGITS, toy_problem=problems.BINARY, optax="sigmoid_binary_cross_entropy",
    reference="torch.nn.BCEWithLogitsLoss; keras.losses.BinaryCrossentropy",
)
def binary_cross_entropy(
    predictions: ArrayLike, targets: ArrayLike, *, from_logits: bool = True, pos_weight: ArrayLike | None = None,
    label_smoothing: float = 0.0, weights: ArrayLike | None = None, where: ArrayLike | None = None,
    reduction: Reduction = "mean",
) -> jax.Array:
    """Binary cross-entropy, element-wise, from logits by default.

    ``-(w_pos t log s + (1 - t) log(1 - s))`` with ``s = sigmoid(x)``. Use it
    for yes/no outputs, including multi-label problems (one logit per label).
    Targets are in [0, 1] (soft targets allowed; bool and int accepted).

    Args:
      predictions: logits (or probabilities with ``from_logits=False``), any shape.
      targets: same shape, values in [0, 1].
      from_logits: whether predictions are logits.
      pos_weight: weight of the positive term (PyTorch's ``pos_weight``),
        broadcastable to the predictions (e.g. one per label).
      label_smoothing: ``eps``; targets become ``t (1 - eps) + eps / 2`` (Keras). A number or
        an array broadcastable to the predictions, differentiable.
      weights, where, reduction: per-entry weights, mask and reduction.

    Numerical care: computed as ``t softplus(-x) + (1 - t) softplus(x)`` with a
    stable softplus: finite value and gradient at logits of +-1e4, exact second
    derivative at 0, and full relative precision for either label (no
    cancellation: the loss of logit -20 on label 0 is 2.06e-9, not 0).

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> round(float(jl.binary_cross_entropy(jnp.array([0.0]), jnp.array([1.0]))), 4)
    0.6931
    """
    # Both options per entry (NumPy's broadcasting to the predictions, explicitly): excluded entries take
    # a safe value, so that a NaN there reaches no gradient, theirs included.
    parameters = {"label_smoothing": (label_smoothing, 0.0)}
    if pos_weight is not None:
        parameters["pos_weight"] = (pos_weight, 1.0)

    def kernel(x: jax.Array, t: jax.Array, label_smoothing: jax.Array, pos_weight: Any = None) -> jax.Array:
        t = t * (1.0 - label_smoothing) + 0.5 * label_smoothing  # exactly t at 0, however the 0 arrives
        return _binary_ce_kernel(x, t, from_logits=from_logits, pos_weight=pos_weight)

    return _core.parametrized_elementwise(kernel, predictions, targets, fn="binary_cross_entropy",
                                          parameters=parameters, weights=weights, where=where, reduction=reduction,
                                          targets_in=_core.Targets.UNIT_INTERVAL)


def _modulating_factor(one_minus_p: jax.Array, gamma: Any) -> jax.Array:
    # (1 - p_t)^gamma with a finite gradient at 1 - p_t = 0 for any gamma >= 0
    # (plain pow has an infinite derivative there when gamma < 1).
    positive = one_minus_p > 0
    safe = jnp.where(positive, one_minus_p, 1.0)
    return jnp.where(positive, safe ** gamma, jnp.power(jnp.zeros((), one_minus_p.dtype), gamma))


@register(
    task=Task.BINARY,
    formula="-alpha_t (1 - p_t)^gamma log p_t",
    latex=(r"-\alpha_t (1 - p_t)^{\gamma} \log p_t"
           r", \quad p_t = t\, \sigma(x) + (1 - t)\left(1 - \sigma(x)\right)"
           r", \quad \alpha_t = \alpha t + (1 - \alpha)(1 - t)"),
    torch="torchvision.ops.sigmoid_focal_loss", keras="keras.losses.BinaryFocalCrossentropy",
    summary="classification with heavy class imbalance (dense detection): down-weights easy examples",
    hyperparameters={
        "gamma": Hyperparameter(low=0.0, doc="focusing strength; 0 gives cross-entropy", slider=(0.0, 5.0)),
        "alpha": Hyperparameter(low=0.0, high=1.0, doc="weight of the positive class", slider=(0.0, 1.0)),
    },
    properties=("nonnegative", "zero_at_target", "smooth"),
    inputs=_kinds.BINARY_LOGITS, toy_problem=problems.BINARY_IMBALANCED, optax="sigmoid_focal_loss", also_inputs=(_kinds.CLASS_LOGITS,),
    reference="Lin et al., Focal Loss for Dense Object Detection, 2017; torchvision.ops.sigmoid_focal_loss",
)
def focal(
    predictions: ArrayLike, targets: ArrayLike, *, gamma: float = 2.0, alpha: ArrayLike | None = None,
    from_logits: bool = True, weights: ArrayLike | None = None, where: ArrayLike | None = None,
    reduction: Reduction = "mean",
) -> jax.Array:
    """Focal loss (Lin et al. 2017), binary or multiclass.

    Binary form (targets of the predictions' shape, in [0, 1]; torchvision's
    ``sigmoid_focal_loss``): ``alpha_t (1 - p_t)^gamma * BCE(x, t)`` with
    ``p_t = p t + (1 - p)(1 - t)`` and ``alpha_t = alpha t + (1 - alpha)(1 - t)``.

    Multiclass form (integer class indices of shape ``predictions.shape[:-1]``):
    ``-alpha_y (1 - p_y)^gamma log p_y`` with ``p = softmax(x)``; ``alpha``
    is then a scalar or one weight per class.

    Use it when easy negatives swamp the gradient (detection, heavy
    imbalance). ``gamma = 0`` and ``alpha=None`` give cross-entropy.

    Args:
      predictions: logits (or probabilities with ``from_logits=False``).
      targets: binary targets of the same shape, or integer class indices.
      gamma: focusing parameter (>= 0), a number or an array of one value per
        example (per entry in the binary form), differentiable.
      alpha: class balance: a number in [0, 1] or an array broadcastable to the
        predictions (binary), or per-class weights (multiclass); None for none.
      from_logits: whether predictions are logits.
      weights, where, reduction: per-example weights, mask and reduction.

    Numerical care: ``(1 - p_t)^gamma`` has a finite gradient at ``p_t = 1``
    for every ``gamma >= 0``; ``1 - p_y`` is computed as ``-expm1(log p_y)``.

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> easy = jl.focal(jnp.array([4.0]), jnp.array([1.0]))
    >>> plain = jl.binary_cross_entropy(jnp.array([4.0]), jnp.array([1.0]))
    >>> bool(easy < plain / 1000)
    True
    """
    fn = "focal"
    t = jnp.asarray(targets)
    if jnp.issubdtype(t.dtype, jnp.integer) and t.ndim == jnp.ndim(predictions) - 1:
        inputs = class_inputs(fn, predictions, t, where=where, allow_probabilities=False)
        log_p_y = log_prob_of_label(inputs.predictions, inputs.targets, from_logits=from_logits)
        # gamma per example: excluded examples take a safe 1, so NaN there reaches no gradient, gamma's included.
        g = _core.parameter_array(gamma, log_p_y.shape, name="gamma", fn=fn, mask=inputs.mask).astype(log_p_y.dtype)
        # A true class that cannot be predicted (-inf logit) costs +inf, with cross-entropy's gradient
        # (there (1 - p)^gamma = 1 and its derivative 0; the product rule would form 0 * inf).
        finite = jnp.isfinite(log_p_y)
        safe = jnp.where(finite, log_p_y, 0.0)
        values = jnp.where(finite, -_modulating_factor(-jnp.expm1(safe), g) * safe, -log_p_y)
        if alpha is not None and jnp.ndim(alpha) == 0:
            values = values * jnp.asarray(alpha, values.dtype)
        elif alpha is not None:
            a = class_weight_vector(alpha, inputs.predictions.shape[-1], fn=fn, dtype=values.dtype, name="alpha")
            values = values * jnp.take(a, inputs.targets, mode="clip")
        return reduce_examples(values, inputs, fn=fn, weights=weights, reduction=reduction)

    # gamma and alpha per entry (NumPy's broadcasting, explicitly): excluded entries take a safe value,
    # so NaN there reaches no gradient, theirs included.
    shape = tuple(jnp.shape(predictions))
    mask = _core.mask_array(where, shape, fn=fn)
    g = _core.parameter_array(gamma, shape, name="gamma", fn=fn, mask=mask)
    a = None if alpha is None else _core.parameter_array(alpha, shape, name="alpha", fn=fn, mask=mask, fill=0.5)

    def kernel(x: jax.Array, t: jax.Array) -> jax.Array:
        ce = _binary_ce_kernel(x, t, from_logits=from_logits, pos_weight=None)
        if from_logits:
            p, one_minus = jax.nn.sigmoid(x), jax.nn.sigmoid(-x)
        else:
            p = jnp.clip(x, _core.probability_epsilon(x.dtype), 1.0 - _core.probability_epsilon(x.dtype))
            one_minus = 1.0 - p
        one_minus_p_t = p * (1.0 - t) + one_minus * t
        values = _modulating_factor(one_minus_p_t, g.astype(x.dtype)) * ce
        if a is not None:
            alpha_x = a.astype(x.dtype)
            values = values * (alpha_x * t + (1.0 - alpha_x) * (1.0 - t))
        return values

    return _core.elementwise(kernel, predictions, targets, fn=fn, weights=weights, where=where, reduction=reduction,
                             targets_in=_core.Targets.UNIT_INTERVAL)


def _signed_targets(t: jax.Array) -> jax.Array:
    # {0, 1} and {-1, +1} labels both map to {-1, +1}: 0 becomes -1.
    return jnp.where(t == 0, -1.0, t).astype(t.dtype)


@register(
    task=Task.BINARY,
    formula="max(0, 1 - y p),  y in {-1, +1}",
    latex=r"\max(0,\ 1 - y\, p), \quad y \in \{-1, +1\}",
    keras="keras.losses.Hinge",
    summary="maximum-margin binary classification (linear SVMs)",
    properties=("nonnegative", "zero_at_target", "convex", "bounded_gradient"),
    inputs=_kinds.SIGNED_BINARY, toy_problem=problems.BINARY, optax="hinge_loss",
    reference="Cortes and Vapnik, Support-Vector Networks, 1995; keras.losses.Hinge",
)
def hinge(
    predictions: ArrayLike, targets: ArrayLike, *, weights: ArrayLike | None = None,
    where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Hinge loss, ``max(0, 1 - y p)`` for labels ``y`` in {-1, +1}.

    Zero once an example is on the right side with margin 1; the gradient is
    ``-y`` inside the margin, 0 outside. Labels in {0, 1} are accepted and
    mapped (0 -> -1). Use it for max-margin classifiers. The gradient at exactly
    ``y p = 1`` is the subgradient ``-y / 2`` (``jnp.maximum`` splits ties, as in
    optax's ``hinge_loss``).

    Args:
      predictions: real-valued scores, any shape.
      targets: labels in {-1, +1} or {0, 1}, same shape.
      weights, where, reduction: per-entry weights, mask and reduction.

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> jl.hinge(jnp.array([2.0, 0.5, -1.0]), jnp.array([1, 1, 1]), reduction="none").tolist()
    [0.0, 0.5, 2.0]
    """
    fn = "hinge"
    return _core.elementwise(
        lambda p, t: jnp.maximum(0.0, 1.0 - _signed_targets(t) * p), predictions, targets,
        fn=fn, weights=weights, where=where, reduction=reduction, targets_in=_core.Targets.SIGNED_OR_BINARY,
    )


@register(
    task=Task.BINARY,
    formula="max(0, -y p),  y in {-1, +1}",
    latex=r"\max(0,\ -y\, p), \quad y \in \{-1, +1\}",
    summary="the perceptron's rule: only misclassified examples cost, by how far they are on the wrong side",
    properties=("nonnegative", "zero_at_target", "convex", "bounded_gradient"),
    inputs=_kinds.SIGNED_BINARY, toy_problem=problems.BINARY, optax="perceptron_loss",
    reference="Rosenblatt, The Perceptron, 1958; optax.losses.perceptron_loss",
)
def perceptron(
    predictions: ArrayLike, targets: ArrayLike, *, weights: ArrayLike | None = None,
    where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Perceptron loss, ``max(0, -y p)`` for labels ``y`` in {-1, +1} (or {0, 1}).

    Zero for every example on the right side of the boundary, however close; a
    misclassified example costs its distance to it, with gradient ``-y``. It is
    :func:`hinge` without the margin, so it stops pushing as soon as an example
    is classified: use it to reproduce the perceptron algorithm, or as the
    margin-free baseline of a max-margin loss. The gradient at exactly
    ``p = 0`` is the subgradient ``-y / 2`` (``jnp.maximum`` splits ties).

    Args:
      predictions: real-valued scores, any shape.
      targets: labels in {-1, +1} or {0, 1}, same shape.
      weights, where, reduction: per-entry weights, mask and reduction.

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> jl.perceptron(jnp.array([2.0, 0.5, -1.0]), jnp.array([1, -1, 1]), reduction="none").tolist()
    [0.0, 0.5, 1.0]
    """
    return _core.elementwise(
        lambda p, t: jnp.maximum(0.0, -_signed_targets(t) * p), predictions, targets,
        fn="perceptron", weights=weights, where=where, reduction=reduction, targets_in=_core.Targets.SIGNED_OR_BINARY,
    )


@register(
    task=Task.BINARY,
    formula="max(0, 1 - y p)^2,  y in {-1, +1}",
    latex=r"\max(0,\ 1 - y\, p)^2, \quad y \in \{-1, +1\}",
    keras="keras.losses.SquaredHinge",
    summary="a smooth max-margin loss (L2-SVM): hinge with a differentiable corner",
    properties=("nonnegative", "zero_at_target", "convex"),
    inputs=_kinds.SIGNED_BINARY, toy_problem=problems.BINARY,
    reference="keras.losses.SquaredHinge; Lee and Mangasarian, SSVM, 2001",
)
def squared_hinge(
    predictions: ArrayLike, targets: ArrayLike, *, weights: ArrayLike | None = None,
    where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Squared hinge loss, ``max(0, 1 - y p)^2`` for labels in {-1, +1} (or {0, 1}).

    Like :func:`hinge` but differentiable everywhere (the gradient at ``y p = 1``
    is 0 from both sides), and it punishes large margin violations quadratically.

    Args:
      predictions: real-valued scores, any shape.
      targets: labels in {-1, +1} or {0, 1}, same shape.
      weights, where, reduction: per-entry weights, mask and reduction.

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> jl.squared_hinge(jnp.array([0.5, -1.0]), jnp.array([1, 1]), reduction="none").tolist()
    [0.25, 4.0]
    """
    fn = "squared_hinge"
    return _core.elementwise(
        lambda p, t: jnp.square(jnp.maximum(0.0, 1.0 - _signed_targets(t) * p)), predictions, targets,
        fn=fn, weights=weights, where=where, reduction=reduction, targets_in=_core.Targets.SIGNED_OR_BINARY,
    )


@register(
    task=Task.MULTICLASS, aliases=("crammer_singer",),
    formula="max(0, margin + max_{j != y} s_j - s_y)",
    latex=r"\max\left(0,\ \mathtt{margin} + \max_{j \ne y} s_j - s_y\right)",
    summary="max-margin multiclass classification (Crammer-Singer multiclass SVM)",
    hyperparameters={"margin": Hyperparameter(low=0.0, doc="required gap between the true score and the best other", slider=(0.0, 3.0))},
    properties=("nonnegative", "zero_at_target", "convex", "bounded_gradient"),
    inputs=_kinds.CLASS_LOGITS, toy_problem=problems.MULTICLASS, optax="multiclass_hinge_loss",
    reference="Crammer and Singer, On the Algorithmic Implementation of Multiclass Kernel-based Vector Machines, 2001",
)
def multiclass_hinge(
    predictions: ArrayLike, targets: ArrayLike, *, margin: float = 1.0, ignore_index: int | None = None,
    weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Crammer-Singer multiclass hinge loss.

    ``max(0, margin + max_{j != y} s_j - s_y)``: only the strongest wrong class
    is penalised. (PyTorch's ``multi_margin_loss`` is the Weston-Watkins form,
    which sums over every wrong class instead and divides by the number of
    classes: :func:`jaxloss.multi_margin`.) Matches optax's
    ``multiclass_hinge_loss`` at ``margin=1``.

    Args:
      predictions: scores, shape ``(..., K)``; ``-inf`` for classes that are masked out.
      targets: integer class indices, shape ``(...)``.
      margin: required gap (>= 0), a number or one value per example (broadcastable to
        ``predictions.shape[:-1]``; never one per class), differentiable.
      ignore_index: a label value to exclude.
      weights, where, reduction: per-example weights, mask and reduction.

    The kink: where the true score leads the best other by exactly ``margin``,
    ``jnp.max`` splits its gradient between the tied entries, so the gradient is
    half the violated one (``-1/2`` for the true class, ``+1/2`` for the other), as
    optax's ``multiclass_hinge_loss``, written the same way, gives.

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> float(jl.multiclass_hinge(jnp.array([[2.0, 1.5, 0.0]]), jnp.array([0])))
    0.5
    """
    fn = "multiclass_hinge"
    inputs = class_inputs(fn, predictions, targets, where=where, ignore_index=ignore_index, allow_probabilities=False)
    s = inputs.predictions
    # One margin per example (its class axis added): never read per class, whatever the shapes.
    m = _core.parameter_array(margin, s.shape[:-1], name="margin", fn=fn, mask=inputs.mask).astype(s.dtype)
    true_score = pick(s, inputs.targets)
    is_target = jax.lax.broadcasted_iota(jnp.int32, s.shape, s.ndim - 1) == inputs.targets[..., None]
    # The target's own entry contributes s_y - s_y = 0, which is the max(0, .).
    values = jnp.max(jnp.where(is_target, s, s + m[..., None]), axis=-1) - true_score
    return reduce_examples(values, inputs, fn=fn, weights=weights, reduction=reduction)


@register(
    task=Task.DISTRIBUTION, aliases=("kl", "kld"),
    formula="sum_c q_c (log q_c - log softmax(x)_c)",
    latex=r"\sum_c q_c \left(\log q_c - \log \operatorname{softmax}(x)_c\right)",
    torch="torch.nn.KLDivLoss", keras="keras.losses.KLDivergence",
    summary="matching a target distribution (distillation, soft labels)",
    properties=("nonnegative", "zero_at_target", "convex", "smooth"),
    inputs=_kinds.CLASS_DISTRIBUTION, toy_problem=problems.DISTRIBUTION, optax="kl_divergence",
    reference="Kullback and Leibler, 1951; torch.nn.KLDivLoss (reduction='batchmean')",
)
def kl_divergence(
    predictions: ArrayLike, targets: ArrayLike, *, from_logits: bool = True, log_targets: bool = False,
    weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Kullback-Leibler divergence ``KL(targets || softmax(predictions))``.

    ``sum_c q_c (log q_c - log p_c)`` over the last axis. ``"mean"`` averages
    over examples (every leading axis), not over entries: the sum divided by
    ``predictions.size / K``. PyTorch's ``reduction="batchmean"`` divides the sum by
    ``input.size(0)`` instead, so the two agree exactly for 2-D inputs ``(n, K)``
    only; for ``(B, T, K)`` batchmean is ``T`` times our ``"mean"`` (our ``"sum"``
    divided by ``B``), and for one vector ``(K,)`` it is our value divided by ``K``.
    The predictions are logits: PyTorch's ``KLDivLoss`` takes ``log_softmax(x)``,
    Keras's ``KLDivergence`` takes ``softmax(x)``.

    Args:
      predictions: logits (or probabilities with ``from_logits=False``), ``(..., K)``.
      targets: probability vectors of the same shape (log-probabilities with ``log_targets=True``).
      from_logits: whether predictions are logits.
      log_targets: whether targets are given as log-probabilities.
      weights, where, reduction: per-example weights, mask and reduction.

    Numerical care: ``0 log 0 = 0`` for the value and the gradient (optax 0.2.8
    gives a NaN gradient there); a ``-inf`` logit where the target is 0 is fine.

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> q = jnp.array([[0.5, 0.5, 0.0]])
    >>> float(jl.kl_divergence(jnp.log(q + 1e-30), q)) < 1e-6
    True
    """
    fn = "kl_divergence"
    given = _core.as_array(targets, name="targets", fn=fn)
    if jnp.iscomplexobj(given):  # its real part would pass as a distribution
        raise TypeError(f"{fn}: targets must be real probability vectors; got dtype {given.dtype}.")
    inputs = class_inputs(fn, predictions, targets, where=where, allow_probabilities=True,
                           check_probabilities=not log_targets)
    if inputs.is_labels:
        raise TypeError(f"{fn}: targets must be probability vectors of the predictions' shape, not class indices.")
    if log_targets:
        log_q = inputs.targets
        q = jnp.exp(log_q)
        present = q > 0
        entropy_term = jnp.sum(jnp.where(present, q * jnp.where(present, log_q, 0.0), 0.0), axis=-1)
    else:
        q = inputs.targets
        entropy_term = jnp.sum(_core.xlogx(q), axis=-1)
    # KL = sum q log q - sum q log p: the negative entropy plus the cross-entropy.
    values = entropy_term + cross_entropy_with_distribution(inputs.predictions, q, from_logits=from_logits)
    return reduce_examples(values, inputs, fn=fn, weights=weights, reduction=reduction)


@register(
    task=Task.MULTICLASS, aliases=("nll_loss", "negative_log_likelihood"),
    formula="-log_probs[y]",
    latex=r"-\ell_y, \quad \ell = \text{the predicted log-probabilities}",
    torch="torch.nn.NLLLoss",
    summary="cross-entropy when the model already outputs log-probabilities (log_softmax heads)",
    properties=("nonnegative", "zero_at_target", "convex"),
    inputs=_kinds.CLASS_LOG_PROBS, toy_problem=problems.MULTICLASS,
    reference="torch.nn.NLLLoss",
)
def nll(
    predictions: ArrayLike, targets: ArrayLike, *, class_weights: ArrayLike | None = None,
    ignore_index: int | None = None, weights: ArrayLike | None = None, where: ArrayLike | None = None,
    reduction: Reduction = "mean",
) -> jax.Array:
    """Negative log-likelihood from log-probabilities: ``-log_probs[..., y]``.

    PyTorch's ``NLLLoss``: use it after a ``log_softmax`` head. With
    ``class_weights``, ``"mean"`` divides by the sum of the weights of the
    targets' classes, as PyTorch does. Convex (linear) in the log-probabilities.

    Args:
      predictions: log-probabilities, shape ``(..., K)``.
      targets: integer class indices, shape ``(...)``.
      class_weights: one weight per class, shape ``(K,)``.
      ignore_index: a label value to exclude.
      weights, where, reduction: per-example weights, mask and reduction.

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> float(jl.nll(jnp.log(jnp.array([[0.25, 0.75]])), jnp.array([1]))) == float(-jnp.log(0.75))
    True
    """
    fn = "nll"
    inputs = class_inputs(fn, predictions, targets, where=where, ignore_index=ignore_index, allow_probabilities=False)
    values = -pick(inputs.predictions, inputs.targets)
    return reduce_examples(values, inputs, fn=fn, weights=weights, reduction=reduction, class_weights=class_weights)
