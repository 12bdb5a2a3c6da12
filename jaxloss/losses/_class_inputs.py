"""Class-score inputs, shared by every family whose predictions carry a class axis.

Classification, margin, probabilistic, structured and surrogate losses all take
scores ``(..., K)`` with the classes on the last axis and targets that are
either integer class indices ``(...)`` or vectors ``(..., K)``. This module is
the one place that reads such inputs and reduces the per-example values, so
that they check, mask and reduce the same way:

- :func:`class_inputs` checks shapes and labels and returns :class:`ClassInputs`;
- each loss computes one value per example from it (:func:`pick` gathers the
  target class's entry without a one-hot array);
- :func:`reduce_examples` poisons invalid examples with NaN, applies the class
  weights and reduces.

No loss lives here: family modules import these helpers, never each other.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxloss import _core
from jaxloss._core import ArrayLike
from jaxloss._registry import Hyperparameter

__all__ = [
    "LABEL_SMOOTHING", "ClassInputs", "class_inputs", "pick", "reduce_examples", "class_weight_vector", "is_zero",
    "smoothing_array", "mix",
]

#: The ``label_smoothing`` hyperparameter of the cross-entropy losses (the same range everywhere).
LABEL_SMOOTHING = Hyperparameter(low=0.0, high=1.0, doc="mass moved to the uniform distribution", slider=(0.0, 0.5))


class ClassInputs(NamedTuple):
    """Checked class-score inputs, as :func:`class_inputs` returns them."""

    predictions: jax.Array  # (..., K) in the compute dtype, excluded rows zeroed
    targets: jax.Array  # integer labels (...) or probabilities (..., K)
    is_labels: bool
    mask: jax.Array | None  # per-example inclusion mask
    valid: jax.Array | None  # "label in range" per example, or "probability >= 0" per entry
    dtype: Any  # output dtype


def class_inputs(
    fn: str, predictions: ArrayLike, targets: ArrayLike, *, where: ArrayLike | None,
    ignore_index: int | None = None, allow_probabilities: bool = True, predictions_name: str = "predictions",
    check_probabilities: bool = True,
) -> ClassInputs:
    """Checks scores ``(..., K)`` against class indices ``(...)`` or probability vectors ``(..., K)``.

    Integer targets are class indices: out-of-range labels raise outside ``jit`` and are marked
    invalid (NaN after :func:`reduce_examples`) under it; ``ignore_index`` joins ``where``. Float
    targets are probability vectors (``allow_probabilities``), checked >= 0 unless
    ``check_probabilities=False`` (log-probability targets). Excluded examples are zeroed, so that
    NaN planted there reaches neither the value nor the gradient. Half precision is upcast.
    """
    x = _core.float_array(predictions, name=predictions_name, fn=fn)
    _core.check_rank(x, min_rank=1, fn=fn, name=predictions_name, meaning="classes on the last axis")
    example_shape, num_classes = x.shape[:-1], x.shape[-1]
    t = _core.as_array(targets, name="targets", fn=fn)
    if jnp.issubdtype(t.dtype, jnp.integer):
        if t.shape != example_shape:
            hint = ""
            if t.shape == x.shape and x.ndim == 1:
                hint = (f" {predictions_name} of shape {tuple(x.shape)} are ONE example with {x.shape[0]} classes; "
                        f"for one score per example use a binary loss (binary_cross_entropy, hinge), or give "
                        f"class scores of shape ({x.shape[0]}, K).")
            elif t.shape == x.shape:
                hint = (f" Targets of shape {tuple(t.shape)} look like one-hot vectors: pass class indices "
                        f"(targets.argmax(-1)) or the vectors as floats.")
            raise ValueError(
                f"{fn}: integer class-index targets must have the {predictions_name}' shape without its "
                f"class axis, {tuple(example_shape)}; got targets of shape {tuple(t.shape)} for "
                f"{predictions_name} of shape {tuple(x.shape)}.{hint}"
            )
        mask = _core.mask_array(where, example_shape, fn=fn)
        if ignore_index is not None:
            keep = t != ignore_index
            mask = keep if mask is None else mask & keep
        _core.check_class_labels(t, num_classes, fn=fn, mask=mask)
        t = _core.exclude(t, mask)
        valid = (t >= 0) & (t < num_classes)
        return ClassInputs(_core.upcast(_core.exclude(x, mask)), t, True, mask, valid, x.dtype)
    if not allow_probabilities:
        raise TypeError(
            f"{fn}: targets must be integer class indices of shape {tuple(example_shape)}; got dtype {t.dtype}. "
            "Convert with targets.astype(jnp.int32)."
        )
    if ignore_index is not None:
        raise ValueError(f"{fn}: ignore_index applies to integer class-index targets; got probability targets. Use where=.")
    if t.shape != x.shape:
        raise ValueError(
            f"{fn}: probability targets must have the {predictions_name}' shape {tuple(x.shape)}; got "
            f"{tuple(t.shape)}. For class indices pass integers of shape {tuple(example_shape)} "
            f"(e.g. targets.astype(jnp.int32))."
        )
    mask = _core.mask_array(where, example_shape, fn=fn)
    # Probability targets are >= 0 (checked: a ValueError eagerly, NaN for that example under jit).
    valid = _core.check_targets(t, _core.Targets.NONNEGATIVE, fn=fn, mask=mask) if check_probabilities else None
    work = _core.compute_dtype(x.dtype)
    t = _core.exclude(t.astype(work), mask)
    return ClassInputs(_core.upcast(_core.exclude(x, mask)), t, False, mask, valid, x.dtype)


def pick(values: jax.Array, labels: jax.Array) -> jax.Array:
    """values[..., labels] without building a one-hot array."""
    # mode="clip": an out-of-range label reads a real entry; the example is NaN-poisoned anyway.
    return jnp.take_along_axis(values, labels[..., None].astype(jnp.int32), axis=-1, mode="clip")[..., 0]


def reduce_examples(values: jax.Array, inputs: ClassInputs, *, fn: str, weights: Any, reduction: str,
                    class_weights: Any = None) -> jax.Array:
    """Reduces one value per example: NaN where the inputs are invalid, times the target class's
    weight (integer labels with ``class_weights``) and ``weights``, over the examples ``where`` keeps."""
    if inputs.valid is not None:
        values = _core.poison_invalid(values, inputs.valid)
    if class_weights is not None and inputs.is_labels:
        per_example = _pick_class_weights(class_weights, inputs, fn=fn)
        weights = per_example if weights is None else per_example * jnp.asarray(weights)
    return _core.reduce(values, reduction=reduction, weights=weights, mask=inputs.mask, dtype=inputs.dtype, fn=fn)


def class_weight_vector(class_weights: Any, num_classes: int, *, fn: str, dtype: Any,
                        name: str = "class_weights") -> jax.Array:
    """One weight per class, checked: shape ``(K,)``, and every concrete weight finite and >= 0."""
    cw = jnp.asarray(class_weights)
    if cw.shape != (num_classes,):
        raise ValueError(
            f"{fn}: {name} must have one weight per class, shape ({num_classes},); got {tuple(cw.shape)}."
        )
    if not _core.is_traced(cw):
        arr = np.asarray(cw, dtype=np.float64)
        bad = ~(np.isfinite(arr) & (arr >= 0))
        if bad.any():
            raise ValueError(f"{fn}: {name} must be finite and >= 0; got {arr[bad].tolist()[:5]} at classes "
                             f"{np.flatnonzero(bad).tolist()[:5]}.")
    return cw.astype(dtype)


def _pick_class_weights(class_weights: Any, inputs: ClassInputs, *, fn: str) -> jax.Array:
    cw = class_weight_vector(class_weights, inputs.predictions.shape[-1], fn=fn, dtype=inputs.predictions.dtype)
    return jnp.take(cw, inputs.targets, mode="clip")


def is_zero(value: Any) -> bool:
    """Whether an option is concretely 0 everywhere, so that its term can be skipped.

    A Python number, a NumPy scalar or a concrete array (an eager call's value, a constant of a trace); a
    traced value never is. Skipping is only a shortcut: the full formula gives the same value and gradient
    for a 0 that arrives traced (:func:`mix`), so how the number arrives changes nothing.
    """
    if _core.is_traced(value) or isinstance(value, (bool, np.bool_)):
        return False
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        return False
    return arr.dtype.kind in "iuf" and arr.size > 0 and not arr.any()


def smoothing_array(label_smoothing: Any, shape: tuple[int, ...], *, fn: str, mask: jax.Array | None,
                    dtype: Any) -> jax.Array:
    """``label_smoothing`` as one value per example (a number, or an array broadcastable to ``shape``).

    Differentiable; excluded examples take 0, so that a NaN there reaches neither value nor gradient.
    """
    return _core.parameter_array(label_smoothing, tuple(shape), name="label_smoothing", fn=fn, mask=mask,
                                 fill=0.0).astype(dtype)


def mix(values: jax.Array, other: jax.Array, eps: jax.Array) -> jax.Array:
    """``(1 - eps) values + eps other``, and exactly ``values`` where ``eps`` is 0 and ``other`` is not finite.

    ``other`` (the uniform part of label smoothing) is infinite for a ``+inf`` logit and for sums that
    overflow, and ``0 * inf`` is NaN: a traced ``eps`` of 0 must give what skipping the term gives (a
    Python 0, :func:`is_zero`). Where ``other`` is finite the formula itself gives ``values`` at
    ``eps = 0``, with the derivative ``other - values`` with respect to ``eps``.
    """
    return jnp.where((eps == 0) & ~jnp.isfinite(other), values, (1.0 - eps) * values + eps * other)
