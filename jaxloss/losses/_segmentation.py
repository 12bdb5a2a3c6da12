"""Segmentation losses: soft overlap between predicted and true masks.

Conventions of this family:

- Predictions are per-pixel **logits** by default (``from_logits=False`` takes
  probabilities). **Binary**: predictions ``(..., H, W)`` through a sigmoid,
  targets in [0, 1] of the same shape. **Multiclass**: predictions
  ``(..., H, W, C)`` through a softmax over the last axis, targets either
  integer label maps ``(..., H, W)`` or, with ``multiclass=True``, one-hot (or
  soft) maps ``(..., H, W, C)``. The last ``spatial_dims`` axes (2 by
  default; 3 for volumes) are one image; leading axes index images.
- Overlaps are soft: with probabilities ``p`` and targets ``t`` summed over
  the pixels of one image, ``TP = sum p t``, ``FP = sum p (1 - t)``,
  ``FN = sum (1 - p) t``. Multiclass losses compute one overlap per class and
  average the per-class losses (every class counts, also one absent from an
  image: the smooth term scores it).
- ``smooth`` is added to the numerator and the denominator of each ratio, so an
  empty mask predicted empty costs 0 and every loss is finite for empty masks;
  with ``smooth=0`` such a 0 / 0 costs 0 too.
- ``reduction="none"`` gives one value per image; ``weights``/``where`` are per image,
  and so is every numeric option (``smooth``, ``alpha``, ``beta``, ``gamma``): a number,
  or an array of one value per image (broadcastable to the images' shape), never read
  along a pixel or class axis.
- Each loss is computed as ``(weighted errors) / (denominator)`` rather than
  ``1 - ratio``, so there is no cancellation near a perfect prediction.

The soft counts and the ratios live in ``_overlap.py``, shared with
``soft_f1`` (surrogates), which is :func:`dice` on one binary set per row.
"""

from __future__ import annotations

import math

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxloss import _core, _kinds
from jaxloss._core import ArrayLike, Reduction
from jaxloss._kinds import problems
from jaxloss._registry import Hyperparameter, Task, register
from jaxloss.losses._overlap import (
    binary_probabilities, dice_complement, soft_counts, tversky_complement,
)


__all__ = ["dice", "jaccard", "tversky", "focal_tversky"]

_SMOOTH = Hyperparameter(low=0.0, doc="added to numerator and denominator; scores empty masks", slider=(0.0, 2.0))


class _Overlap(NamedTuple):
    tp: jax.Array  # (..., C) soft true positives per image and class (C = 1 for binary)
    fp: jax.Array
    fn: jax.Array
    mask: jax.Array | None  # per-image inclusion mask
    valid: jax.Array | None  # per image: every label in range (label maps only)
    dtype: Any


def _image_overlaps(
    fn: str, predictions: ArrayLike, targets: ArrayLike, *, from_logits: bool, multiclass: bool | None,
    spatial_dims: int, where: ArrayLike | None,
) -> _Overlap:
    """Checks a batch of images and returns their soft counts (``_overlap.soft_counts``) per image and class."""
    x = _core.float_array(predictions, name="predictions", fn=fn)
    if not isinstance(spatial_dims, int) or spatial_dims < 1:
        raise ValueError(f"{fn}: spatial_dims must be a positive int (2 for images, 3 for volumes); got {spatial_dims!r}.")
    t = jnp.asarray(targets)
    if jnp.issubdtype(t.dtype, jnp.complexfloating):
        raise TypeError(f"{fn}: targets must be real; got dtype {t.dtype}.")
    labels = jnp.issubdtype(t.dtype, jnp.integer) and t.ndim == x.ndim - 1 and multiclass is not False
    is_multiclass = labels or bool(multiclass)
    image_ndim = spatial_dims + (1 if is_multiclass else 0)
    expected = x.shape[:-1] if labels else x.shape
    if tuple(t.shape) != tuple(expected) or x.ndim < image_ndim:
        raise ValueError(
            f"{fn}: targets must have the predictions' shape (binary masks, or one-hot maps with "
            f"multiclass=True), or be integer label maps of the predictions' shape without the class "
            f"axis; got predictions {tuple(x.shape)} and targets {tuple(t.shape)}. Binary predictions "
            f"are (..., H, W), multiclass ones (..., H, W, C) (spatial_dims={spatial_dims})."
        )
    example_shape = x.shape[: x.ndim - image_ndim]
    mask = _core.mask_array(where, example_shape, fn=fn)
    dtype = x.dtype
    work = _core.compute_dtype(dtype)
    x = _core.exclude(x, mask).astype(work)
    valid = None
    if labels:
        num_classes = x.shape[-1]
        label_mask = None if mask is None else jnp.broadcast_to(
            mask.reshape(mask.shape + (1,) * spatial_dims), t.shape)
        _core.check_class_labels(t, num_classes, fn=fn, mask=label_mask)
        t = _core.exclude(t, mask)
        in_range = (t >= 0) & (t < num_classes)
        valid = jnp.all(in_range.reshape(example_shape + (math.prod(t.shape[len(example_shape):]),)), axis=-1)
        t = jax.nn.one_hot(t, num_classes, dtype=work)
    else:
        pixels = _core.check_targets(t, _core.Targets.UNIT_INTERVAL, fn=fn, mask=mask)
        valid = jnp.all(pixels.reshape(example_shape + (math.prod(t.shape[len(example_shape):]),)), axis=-1)
        t = _core.exclude(t.astype(work), mask)

    if is_multiclass:
        if from_logits:
            p = jax.nn.softmax(x, axis=-1)
        else:
            p = x
        q = 1.0 - p
        axes = tuple(range(x.ndim - 1 - spatial_dims, x.ndim - 1))
    else:
        p, q = binary_probabilities(x, from_logits=from_logits)
        axes = tuple(range(x.ndim - spatial_dims, x.ndim))
    tp, fp, fn_ = soft_counts(p, q, t, axes)
    if not is_multiclass:
        tp, fp, fn_ = tp[..., None], fp[..., None], fn_[..., None]
    return _Overlap(tp, fp, fn_, mask, valid, dtype)


def _per_image(value: Any, o: _Overlap, *, name: str, fn: str, fill: float) -> jax.Array:
    """An option as one value per image (a number, or an array broadcastable to the images' shape), with
    the class axis added; excluded images take ``fill``, so that a NaN there reaches no gradient."""
    shape = o.tp.shape[:-1]
    return _core.parameter_array(value, shape, name=name, fn=fn, mask=o.mask, fill=fill).astype(o.tp.dtype)[..., None]


def _reduce_images(per_class: jax.Array, o: _Overlap, *, fn: str, weights: Any, reduction: str) -> jax.Array:
    """Averages the per-class losses of each image, poisons invalid images with NaN, reduces over images."""
    values = jnp.mean(per_class, axis=-1)
    if o.valid is not None:
        values = _core.poison_invalid(values, o.valid)
    return _core.reduce(values, reduction=reduction, weights=weights, mask=o.mask, dtype=o.dtype, fn=fn)


@register(
    task=Task.SEGMENTATION, aliases=("soft_dice",),
    formula="1 - (2 TP + smooth) / (sum p + sum t + smooth)   (mean over classes)",
    latex=(r"1 - \frac{2\, \mathrm{TP} + s}{\sum p + \sum t + s}"
           r", \quad \mathrm{TP} = \sum p\, t"
           r", \quad s = \mathtt{smooth} \quad (\text{mean over classes})"),
    keras="keras.losses.Dice",
    summary="segmentation with small foreground objects: scores overlap, not pixel accuracy",
    hyperparameters={"smooth": _SMOOTH},
    properties=("nonnegative", "zero_at_target", "smooth"),
    inputs=_kinds.SEGMENTATION_BINARY, toy_problem=problems.SEGMENTATION,
    reference="Milletari et al., V-Net, 2016; segmentation_models_pytorch DiceLoss (smooth in numerator and denominator)",
)
def dice(
    predictions: ArrayLike, targets: ArrayLike, *, smooth: float = 1.0, from_logits: bool = True,
    multiclass: bool | None = None, spatial_dims: int = 2,
    weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Soft Dice loss, one value per image.

    ``1 - (2 TP + smooth) / (sum p + sum t + smooth)`` over the pixels of each
    image (and each class, then averaged over the classes). With hard 0/1
    predictions and ``smooth=0`` it is ``1 - F1``. Use it when the foreground
    is small: unlike pixel-wise cross-entropy it is not dominated by the
    background. :func:`jaxloss.soft_f1` is the same formula on one binary
    set per row (``spatial_dims=1``, ``smooth=epsilon``), by the same kernel.
    Keras's ``Dice`` is the one-class case with ``smooth=0`` (and ``1e-7`` added to the
    denominator), over the whole batch unless given its ``axis``.

    Args:
      predictions: logits (or probabilities with ``from_logits=False``): ``(..., H, W)``
        for binary masks, ``(..., H, W, C)`` for C classes.
      targets: binary masks in [0, 1] of the predictions' shape; integer label
        maps ``(..., H, W)``; or one-hot maps ``(..., H, W, C)`` with ``multiclass=True``.
      smooth: added to the numerator and the denominator (>= 0); a number or one value
        per image (broadcastable to the images' shape ``(...)``), as every option here.
      from_logits: whether predictions are logits (sigmoid / softmax applied).
      multiclass: treat the last axis as classes with one-hot targets; inferred
        (True) for integer label maps.
      spatial_dims: number of trailing pixel axes of one image (2; 3 for volumes).
      weights: per-image weights, broadcastable to the images' shape ``(...)``.
      where: per-image boolean mask.
      reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per image).

    Numerical care: computed as ``(FP + FN) / (2 TP + FP + FN + smooth)``: no
    cancellation; an empty mask predicted empty costs 0 (also with ``smooth=0``).
    Equal to ``tversky(alpha=0.5, beta=0.5, smooth=smooth / 2)``; so
    ``optax.losses.dice_loss(smooth=s)`` equals ``dice(smooth=2 s)``.

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> pred = jnp.array([[[1.0, 1.0], [0.0, 0.0]]]); mask = jnp.array([[[1.0, 0.0], [0.0, 0.0]]])
    >>> round(float(jl.dice(pred, mask, from_logits=False, smooth=0.0)), 4)  # 1 - F1 = 1 - 2/3
    0.3333

    Reference: Milletari et al., V-Net, 2016; segmentation_models_pytorch ``DiceLoss``.
    """
    fn = "dice"
    o = _image_overlaps(fn, predictions, targets, from_logits=from_logits, multiclass=multiclass,
                        spatial_dims=spatial_dims, where=where)
    per_class = dice_complement(o.tp, o.fp, o.fn, _per_image(smooth, o, name="smooth", fn=fn, fill=1.0))
    return _reduce_images(per_class, o, fn=fn, weights=weights, reduction=reduction)


@register(
    task=Task.SEGMENTATION, aliases=("iou", "soft_iou", "jaccard_loss"),
    formula="1 - (TP + smooth) / (sum p + sum t - TP + smooth)   (mean over classes)",
    latex=(r"1 - \frac{\mathrm{TP} + s}{\sum p + \sum t - \mathrm{TP} + s}"
           r", \quad \mathrm{TP} = \sum p\, t"
           r", \quad s = \mathtt{smooth} \quad (\text{mean over classes})"),
    summary="segmentation scored by intersection over union (the soft IoU)",
    hyperparameters={"smooth": _SMOOTH},
    properties=("nonnegative", "zero_at_target", "smooth"),
    inputs=_kinds.SEGMENTATION_MULTICLASS, toy_problem=problems.SEGMENTATION,
    reference="Rahman and Wang, Optimizing Intersection-Over-Union in Deep Neural Networks, 2016; "
              "segmentation_models_pytorch JaccardLoss",
)
def jaccard(
    predictions: ArrayLike, targets: ArrayLike, *, smooth: float = 1.0, from_logits: bool = True,
    multiclass: bool | None = None, spatial_dims: int = 2,
    weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Soft Jaccard (IoU) loss, one value per image.

    ``1 - (TP + smooth) / (sum p + sum t - TP + smooth)`` per image and class,
    averaged over the classes. With hard predictions and ``smooth=0`` it is
    ``1 - IoU``. Use it when the benchmark metric is IoU.

    Args:
      predictions: logits (or probabilities with ``from_logits=False``): ``(..., H, W)``
        for binary masks, ``(..., H, W, C)`` for C classes.
      targets: binary masks in [0, 1] of the predictions' shape; integer label
        maps ``(..., H, W)``; or one-hot maps ``(..., H, W, C)`` with ``multiclass=True``.
      smooth: added to the numerator and the denominator (>= 0); a number or one value
        per image (broadcastable to the images' shape ``(...)``), as every option here.
      from_logits: whether predictions are logits.
      multiclass: treat the last axis as classes with one-hot targets.
      spatial_dims: number of trailing pixel axes of one image.
      weights, where, reduction: per-image weights, mask and reduction.

    Numerical care: computed as ``(FP + FN) / (TP + FP + FN + smooth)``.
    Equal to ``tversky(alpha=1, beta=1, smooth=smooth)``.

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> pred = jnp.array([[[1.0, 1.0], [0.0, 0.0]]]); mask = jnp.array([[[1.0, 0.0], [0.0, 0.0]]])
    >>> round(float(jl.jaccard(pred, mask, from_logits=False, smooth=0.0)), 4)  # 1 - IoU = 1 - 1/2
    0.5

    Reference: Rahman and Wang 2016; segmentation_models_pytorch ``JaccardLoss``.
    """
    fn = "jaccard"
    o = _image_overlaps(fn, predictions, targets, from_logits=from_logits, multiclass=multiclass,
                        spatial_dims=spatial_dims, where=where)
    # Jaccard's complement is Tversky's with alpha = beta = 1: (FP + FN) / (TP + FP + FN + smooth).
    per_class = tversky_complement(o.tp, o.fp, o.fn, 1.0, 1.0, _per_image(smooth, o, name="smooth", fn=fn, fill=1.0))
    return _reduce_images(per_class, o, fn=fn, weights=weights, reduction=reduction)


_ALPHA = Hyperparameter(low=0.0, doc="weight of false positives", slider=(0.0, 1.0))
_BETA = Hyperparameter(low=0.0, doc="weight of false negatives", slider=(0.0, 1.0))


@register(
    task=Task.SEGMENTATION,
    formula="1 - (TP + smooth) / (TP + alpha FP + beta FN + smooth)   (mean over classes)",
    latex=(r"1 - \frac{\mathrm{TP} + s}{\mathrm{TP} + \alpha\, \mathrm{FP} + \beta\, \mathrm{FN} + s}"
           r", \quad \mathrm{FP} = \sum p\, (1 - t)"
           r", \quad \mathrm{FN} = \sum (1 - p)\, t \quad (\text{mean over classes})"),
    keras="keras.losses.Tversky",
    summary="segmentation where false negatives and false positives should cost differently (recall vs precision)",
    hyperparameters={"alpha": _ALPHA, "beta": _BETA, "smooth": _SMOOTH},
    properties=("nonnegative", "zero_at_target", "smooth"),
    inputs=_kinds.SEGMENTATION_BINARY, toy_problem=problems.SEGMENTATION, optax="dice_loss",
    reference="Salehi et al., Tversky loss function for image segmentation using 3D fully convolutional deep "
              "networks, 2017; optax.losses.dice_loss (alpha, beta)",
)
def tversky(
    predictions: ArrayLike, targets: ArrayLike, *, alpha: float = 0.5, beta: float = 0.5, smooth: float = 1.0,
    from_logits: bool = True, multiclass: bool | None = None, spatial_dims: int = 2,
    weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Tversky loss (Salehi et al. 2017), one value per image.

    ``1 - TI`` with the Tversky index ``TI = (TP + smooth) / (TP + alpha FP +
    beta FN + smooth)``: ``alpha`` weights the false positives, ``beta`` the
    false negatives (Salehi et al.'s and optax's convention). ``beta > alpha``
    favours recall (Salehi et al. recommend alpha = 0.3, beta = 0.7 for small
    lesions). ``alpha = beta = 1`` gives :func:`jaccard`; ``alpha = beta = 0.5``
    gives :func:`dice` with ``smooth`` doubled. Keras's ``Tversky(alpha=a, beta=b)`` is
    this with ``alpha=b, beta=a`` (its ``fp`` sums ``(1 - p) t``, the false negatives
    here), one class, ``smooth=0``, over the whole batch as one image.

    Args:
      predictions: logits (or probabilities with ``from_logits=False``): ``(..., H, W)``
        for binary masks, ``(..., H, W, C)`` for C classes.
      targets: binary masks in [0, 1] of the predictions' shape; integer label
        maps ``(..., H, W)``; or one-hot maps ``(..., H, W, C)`` with ``multiclass=True``.
      alpha: weight of false positives (>= 0).
      beta: weight of false negatives (>= 0).
      smooth: added to the numerator and the denominator (>= 0); a number or one value
        per image (broadcastable to the images' shape ``(...)``), as every option here.
      from_logits: whether predictions are logits.
      multiclass: treat the last axis as classes with one-hot targets.
      spatial_dims: number of trailing pixel axes of one image.
      weights, where, reduction: per-image weights, mask and reduction.

    Numerical care: computed as ``(alpha FP + beta FN) / (TP + alpha FP + beta FN + smooth)``.

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> pred = jnp.array([[[1.0, 1.0], [0.0, 0.0]]]); mask = jnp.array([[[1.0, 0.0], [0.0, 0.0]]])
    >>> round(float(jl.tversky(pred, mask, from_logits=False, alpha=1.0, beta=0.0, smooth=0.0)), 4)
    0.5

    Reference: Salehi et al. 2017. Equal to ``optax.losses.dice_loss(x[..., None], t[..., None],
    alpha=alpha, beta=beta, smooth=smooth)`` (binary) and to ``dice_loss`` on one-hot targets (multiclass).
    """
    fn = "tversky"
    o = _image_overlaps(fn, predictions, targets, from_logits=from_logits, multiclass=multiclass,
                        spatial_dims=spatial_dims, where=where)
    per_class = tversky_complement(
        o.tp, o.fp, o.fn, _per_image(alpha, o, name="alpha", fn=fn, fill=0.5),
        _per_image(beta, o, name="beta", fn=fn, fill=0.5), _per_image(smooth, o, name="smooth", fn=fn, fill=1.0))
    return _reduce_images(per_class, o, fn=fn, weights=weights, reduction=reduction)


def _power(base: jax.Array, gamma: Any) -> jax.Array:
    # base^gamma for base >= 0 with a finite gradient at base = 0 for any gamma > 0
    # (plain pow has an infinite derivative there when gamma < 1).
    positive = base > 0
    return jnp.where(positive, jnp.where(positive, base, 1.0) ** gamma, 0.0)


@register(
    task=Task.SEGMENTATION,
    formula="(1 - TI)^gamma,  TI = (TP + smooth) / (TP + alpha FP + beta FN + smooth)   (mean over classes)",
    latex=(r"(1 - \mathrm{TI})^{\gamma}"
           r", \quad \mathrm{TI} = \frac{\mathrm{TP} + s}{\mathrm{TP} + \alpha\, \mathrm{FP} + \beta\, \mathrm{FN} + s} \quad (\text{mean over classes})"),
    summary="small-lesion segmentation: the Tversky loss focused on the hard (low-overlap) images and classes",
    hyperparameters={
        "alpha": Hyperparameter(low=0.0, doc="weight of false positives", slider=(0.0, 1.0)),
        "beta": Hyperparameter(low=0.0, doc="weight of false negatives", slider=(0.0, 1.0)),
        "gamma": Hyperparameter(low=0.0, low_open=True, doc="exponent of (1 - TI); the paper's 1/gamma",
                                slider=(0.25, 3.0)),
        "smooth": _SMOOTH,
    },
    properties=("nonnegative", "zero_at_target"),
    inputs=_kinds.SEGMENTATION_MULTICLASS, toy_problem=problems.SEGMENTATION,
    reference="Abraham and Khan, A Novel Focal Tversky Loss Function with Improved Attention U-Net for Lesion "
              "Segmentation, 2019",
)
def focal_tversky(
    predictions: ArrayLike, targets: ArrayLike, *, alpha: float = 0.3, beta: float = 0.7, gamma: float = 0.75,
    smooth: float = 1.0, from_logits: bool = True, multiclass: bool | None = None, spatial_dims: int = 2,
    weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Focal Tversky loss (Abraham and Khan 2019), one value per image.

    ``(1 - TI)^gamma`` per class (averaged over the classes), with the Tversky
    index of :func:`tversky` (``alpha`` weights false positives, ``beta`` false
    negatives). Convention: ``gamma`` here is the exponent itself; the paper
    writes ``(1 - TI)^(1/gamma)`` and recommends its ``gamma = 4/3``, which is
    our default ``gamma = 0.75``; its ``alpha = 0.7`` on false negatives is our
    ``beta = 0.7``. With ``gamma < 1`` the loss of a nearly right image
    (``TI`` close to 1) stays larger than its Tversky loss, so training keeps
    improving small structures that the plain loss already treats as done.
    The paper sums over classes; we average.

    Args:
      predictions: logits (or probabilities with ``from_logits=False``): ``(..., H, W)``
        for binary masks, ``(..., H, W, C)`` for C classes.
      targets: binary masks in [0, 1] of the predictions' shape; integer label
        maps ``(..., H, W)``; or one-hot maps ``(..., H, W, C)`` with ``multiclass=True``.
      alpha: weight of false positives (>= 0).
      beta: weight of false negatives (>= 0).
      gamma: exponent of ``1 - TI`` (> 0).
      smooth: added to the numerator and the denominator (>= 0); a number or one value
        per image (broadcastable to the images' shape ``(...)``), as every option here.
      from_logits: whether predictions are logits.
      multiclass: treat the last axis as classes with one-hot targets.
      spatial_dims: number of trailing pixel axes of one image.
      weights, where, reduction: per-image weights, mask and reduction.

    Numerical care: ``(1 - TI)^gamma`` has an infinite derivative at ``TI = 1``
    for ``gamma < 1``; there (a perfect or an empty-and-empty mask) the gradient
    is taken as 0 (double ``where``). ``1 - TI`` is computed directly, never negative.

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> pred = jnp.array([[[1.0, 1.0], [0.0, 0.0]]]); mask = jnp.array([[[1.0, 0.0], [0.0, 0.0]]])
    >>> round(float(jl.focal_tversky(pred, mask, from_logits=False, alpha=1.0, beta=0.0, smooth=0.0, gamma=2.0)), 4)
    0.25

    Reference: Abraham and Khan 2019 (exponent written as ``gamma`` instead of ``1/gamma``).
    """
    fn = "focal_tversky"
    o = _image_overlaps(fn, predictions, targets, from_logits=from_logits, multiclass=multiclass,
                        spatial_dims=spatial_dims, where=where)
    complement = tversky_complement(
        o.tp, o.fp, o.fn, _per_image(alpha, o, name="alpha", fn=fn, fill=0.5),
        _per_image(beta, o, name="beta", fn=fn, fill=0.5), _per_image(smooth, o, name="smooth", fn=fn, fill=1.0))
    per_class = _power(complement, _per_image(gamma, o, name="gamma", fn=fn, fill=1.0))
    return _reduce_images(per_class, o, fn=fn, weights=weights, reduction=reduction)
