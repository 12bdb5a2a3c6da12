"""Shared input checks, dtype handling, numerics and reductions for every loss.

Private. Every loss goes through the same few steps:

1. ``float_array`` / ``label_array`` / ``check_same_shape``: validate the inputs
   at trace time and raise an error that names the loss, the argument, what
   arrived and what was expected.
2. ``exclude``: zero the inputs of excluded examples (``where=False``) before
   the loss is computed (the "double where"), so that an excluded entry cannot
   leak NaN into the value or the gradient.
3. compute per-example losses in ``compute_dtype`` (float32 for half-precision
   inputs).
4. ``reduce``: apply ``weights``, ``where`` and ``reduction`` and cast back to
   the input dtype.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Literal, get_args

import jax
import jax.numpy as jnp
import numpy as np

HALF_DTYPES = (jnp.dtype(jnp.float16), jnp.dtype(jnp.bfloat16))

#: What the public functions accept where an array goes: a JAX or NumPy array, a Python number or nested
#: lists of numbers (checked and converted by ``float_array``, ``label_array`` and friends).
ArrayLike = Any

#: How per-example values become the result: their weighted mean, their weighted sum, or no reduction.
Reduction = Literal["mean", "sum", "none"]
REDUCTIONS: tuple[Reduction, ...] = get_args(Reduction)


def is_traced(x: Any) -> bool:
    return isinstance(x, jax.core.Tracer)


def _shape(x: Any) -> tuple[int, ...]:
    return tuple(np.shape(x))


def as_array(x: Any, *, name: str, fn: str) -> jax.Array:
    """``x`` as an array, or a ``TypeError`` that names the argument and what arrived."""
    if isinstance(x, Mapping):
        raise TypeError(
            f"{fn}: {name} is a dict with keys {sorted(map(str, x))}; a loss takes an array. Give it the entry "
            f"it reads, e.g. jl.term(loss, select=lambda p, t: (p['logits'], t)), or return an array from the model.")
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{fn}: {name} must be an array; got the string {x!r}.")
    try:
        return jnp.asarray(x)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{fn}: {name} must be an array (or nested lists of numbers); got {type(x).__name__} "
                        f"({err}).") from None


def float_array(x: Any, *, name: str, fn: str) -> jax.Array:
    """``x`` as a floating-point array; raises ``TypeError`` otherwise."""
    if x is None:
        raise TypeError(f"{fn}: {name} is None; pass an array of floats.")
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        x = as_array(x, name=name, fn=fn)
        if not jnp.issubdtype(x.dtype, jnp.floating):
            x = x.astype(jnp.result_type(float))
        return x
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(
            f"{fn}: {name} must be floating point (float16, bfloat16, float32 or float64); "
            f"got dtype {dtype}. Convert it first, e.g. {name}.astype(jnp.float32)."
        )
    return jnp.asarray(x)


def target_array(x: Any, *, like: jax.Array, name: str, fn: str) -> jax.Array:
    """Real-valued targets: floats, or integers/booleans cast to ``like``'s dtype."""
    if x is None:
        raise TypeError(f"{fn}: {name} is None; pass an array.")
    x = as_array(x, name=name, fn=fn)
    if jnp.issubdtype(x.dtype, jnp.complexfloating):
        raise TypeError(f"{fn}: {name} must be real; got dtype {x.dtype}.")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(like.dtype)
    return x


def label_array(x: Any, *, name: str, fn: str) -> jax.Array:
    """Integer class indices; raises ``TypeError`` for anything else."""
    x = as_array(x, name=name, fn=fn)
    if not jnp.issubdtype(x.dtype, jnp.integer):
        raise TypeError(
            f"{fn}: {name} must hold integer class indices; got dtype {x.dtype}. "
            f"Convert with {name}.astype(jnp.int32), or pass one probability vector per example."
        )
    return x


def check_same_shape(a: Any, b: Any, *, fn: str, names: tuple[str, str] = ("predictions", "targets")) -> None:
    sa, sb = _shape(a), _shape(b)
    if sa != sb:
        raise ValueError(
            f"{fn}: {names[0]} and {names[1]} must have the same shape; got {names[0]} {sa} and "
            f"{names[1]} {sb}. jaxloss does not broadcast them, because a silent broadcast "
            f"(for example (n, 1) against (n,)) gives a wrong value; reshape one to match the other."
        )


def check_rank(x: Any, *, min_rank: int, fn: str, name: str, meaning: str) -> None:
    if np.ndim(x) < min_rank:
        raise ValueError(f"{fn}: {name} must have at least {min_rank} dimension(s) ({meaning}); got shape {_shape(x)}.")


def result_dtype(*arrays: jax.Array) -> jnp.dtype:
    """The dtype of the loss's output: the floating dtype of the predictions."""
    return jnp.result_type(*[a.dtype for a in arrays])


def compute_dtype(dtype: Any) -> jnp.dtype:
    """float32 for half-precision inputs, the dtype itself otherwise."""
    dtype = jnp.dtype(dtype)
    return jnp.dtype(jnp.float32) if dtype in HALF_DTYPES else dtype


def upcast(x: jax.Array) -> jax.Array:
    """Half-precision arrays in float32; anything else unchanged."""
    return x.astype(jnp.float32) if x.dtype in HALF_DTYPES else x


def broadcastable(x: Any, shape: tuple[int, ...], *, fn: str, name: str) -> jax.Array:
    x = jnp.asarray(x)
    try:
        return jnp.broadcast_to(x, shape)
    except ValueError:
        raise ValueError(
            f"{fn}: {name} of shape {_shape(x)} does not broadcast to the per-example loss shape "
            f"{shape}; give one value per example (shape {shape}) or a shape that broadcasts to it."
        ) from None


def mask_like(where: Any, *, fn: str) -> jax.Array:
    """``where`` as a boolean array, or a ``TypeError`` naming ``where`` (a string, an object or numbers are no
    mask). :func:`mask_array` also broadcasts it; the registry calls this alone, before any computation."""
    if isinstance(where, (str, bytes)) or isinstance(where, Mapping):
        raise TypeError(f"{fn}: where must be a boolean mask (True = include) of the per-example shape; got "
                        f"{type(where).__name__} {where!r}.")
    try:
        where = jnp.asarray(where)
    except (TypeError, ValueError):
        raise TypeError(f"{fn}: where must be a boolean mask (True = include) of the per-example shape; got "
                        f"{type(where).__name__} {where!r}.") from None
    if where.dtype != jnp.bool_:
        raise TypeError(
            f"{fn}: where must be a boolean mask (True = include); got dtype {where.dtype}. "
            "Use where=(mask != 0) or pass weights= for real-valued weights."
        )
    return where


def mask_array(where: Any, shape: tuple[int, ...], *, fn: str) -> jax.Array | None:
    """``where`` as a boolean mask of the per-example shape, or None."""
    if where is None:
        return None
    return broadcastable(mask_like(where, fn=fn), shape, fn=fn, name="where")


def weight_array(weights: Any, *, fn: str, name: str = "weights") -> jax.Array:
    """Per-example weights as an array of real numbers; concrete ones must be finite and >= 0."""
    if isinstance(weights, (str, bytes)):
        raise TypeError(f"{fn}: {name} must be an array of non-negative numbers; got str {weights!r}.")
    try:
        w = jnp.asarray(weights)
    except TypeError:
        raise TypeError(f"{fn}: {name} must be an array of non-negative numbers; got "
                        f"{type(weights).__name__}.") from None
    if jnp.issubdtype(w.dtype, jnp.bool_):
        raise TypeError(f"{fn}: {name} must be real numbers; got a boolean array. Use where= for a mask.")
    if not (jnp.issubdtype(w.dtype, jnp.floating) or jnp.issubdtype(w.dtype, jnp.integer)):
        raise TypeError(f"{fn}: {name} must be real numbers; got dtype {w.dtype}.")
    if not is_traced(w):
        arr = np.asarray(w, dtype=np.float64)
        bad = ~(np.isfinite(arr) & (arr >= 0))
        if bad.any():
            raise ValueError(
                f"{fn}: {name} must be finite and >= 0; got {arr[bad].tolist()[:5]} at positions "
                f"{np.argwhere(bad)[:5].tolist()}. Exclude examples with where= (or a weight of 0).")
    return w


def exclude(x: jax.Array, mask: jax.Array | None) -> jax.Array:
    """Replaces the entries of excluded examples by 0.

    ``mask`` has the per-example shape; ``x`` may carry trailing axes (classes,
    features). Done before the loss is computed so that an excluded entry (a
    padded label, a -inf logit row) contributes nothing to the value or the
    gradient, not even a NaN (the double-``where`` trick).
    """
    if mask is None:
        return x
    m = mask.reshape(mask.shape + (1,) * (x.ndim - mask.ndim))
    return jnp.where(m, x, jnp.zeros((), x.dtype))


def reduce(
    values: jax.Array,
    *,
    reduction: str,
    weights: Any = None,
    mask: jax.Array | None = None,
    dtype: Any,
    fn: str,
) -> jax.Array:
    """Applies weights, the mask and the reduction; casts to ``dtype``.

    ``"mean"`` is ``sum(w * l) / sum(w)`` over the included entries; ``"sum"`` is
    ``sum(w * l)``; ``"none"`` is ``w * l`` per example, 0 where excluded. Without
    weights and mask it is a plain mean/sum.

    The one rule for nothing to average: a mean over no entry (an empty batch, an
    all-false mask, weights that are all 0) is 0, with a zero gradient, never NaN.
    Weights must be finite and >= 0: concrete ones are checked here (a negative
    weight would let the mean's denominator vanish or change sign).
    """
    if weights is None and mask is None:
        if reduction == "mean":
            out = jnp.mean(values) if values.size else jnp.zeros((), values.dtype)
        elif reduction == "sum":
            out = jnp.sum(values)
        else:
            out = values
        return out.astype(dtype)
    if weights is not None:
        w = weight_array(weights, fn=fn)
        if not jnp.issubdtype(w.dtype, jnp.floating):
            w = w.astype(values.dtype)
        w = broadcastable(upcast(w).astype(values.dtype), values.shape, fn=fn, name="weights")
    else:
        w = jnp.ones(values.shape, values.dtype)
    if mask is not None:
        w = jnp.where(mask, w, jnp.zeros((), w.dtype))
        values = jnp.where(mask, values, jnp.zeros((), values.dtype))
    weighted = w * values
    if reduction == "none":
        out = weighted
    elif reduction == "sum":
        out = jnp.sum(weighted)
    else:
        total = jnp.sum(w)
        empty = total == 0
        out = jnp.where(empty, jnp.zeros((), values.dtype), jnp.sum(weighted) / jnp.where(empty, 1, total))
    return out.astype(dtype)


class Targets(enum.Enum):
    """What binary and signed targets may hold: one vocabulary for every family."""

    UNIT_INTERVAL = "in [0, 1]"  # labels 0/1 or soft labels (probabilities)
    BINARY = "in {0, 1}"
    SIGNED = "in {-1, 1}"
    SIGNED_OR_BINARY = "in {-1, 0, 1}"  # hinge losses: labels {-1, 1} or {0, 1}; 0 counts as -1
    NONNEGATIVE = ">= 0"  # probabilities of a target distribution, counts, measures

    def valid(self, t: jax.Array) -> jax.Array:
        if self is Targets.UNIT_INTERVAL:
            return (t >= 0) & (t <= 1)
        if self is Targets.BINARY:
            return (t == 0) | (t == 1)
        if self is Targets.SIGNED:
            return (t == -1) | (t == 1)
        if self is Targets.NONNEGATIVE:
            return t >= 0
        return (t == -1) | (t == 0) | (t == 1)


def bad_positions(bad: np.ndarray) -> list:
    """The first five positions where ``bad`` is True: indices for a vector, index tuples otherwise."""
    where = np.argwhere(bad)[:5]
    return where[:, 0].tolist() if bad.ndim == 1 else [tuple(int(i) for i in idx) for idx in where]


def bad_entries(x: Any, bad: np.ndarray, *, values: int) -> str:
    """``"values [...] at positions [...]"`` for the concrete entries of ``x`` where ``bad``, for an error message."""
    found = sorted({float(v) for v in np.asarray(x, dtype=np.float64)[bad]})[:values]
    return f"values {found} at positions {bad_positions(bad)}{' ...' if bad.sum() > 5 else ''}"


def check_targets(t: jax.Array, allowed: Targets, *, fn: str, mask: jax.Array | None = None,
                  name: str = "targets") -> jax.Array:
    """Per-entry validity of binary or signed targets, the same rule as class indices.

    Concrete targets outside ``allowed`` raise a ``ValueError`` now, naming the values and where they
    are; excluded entries (``mask`` False; ``mask`` has a prefix of ``t``'s shape) are not checked.
    Traced targets cannot be checked: pass the returned validity to :func:`poison_invalid`, so that
    the example's value and gradient are NaN under ``jit`` rather than a finite wrong number.
    """
    # Concrete targets are read in NumPy (no device program per shape); traced ones stay traced.
    t = np.asarray(t) if not is_traced(t) and not is_traced(mask) else jnp.asarray(t)
    valid = allowed.valid(t)
    if mask is not None:
        valid = valid | ~mask.reshape(mask.shape + (1,) * (t.ndim - mask.ndim))
    if not is_traced(valid):
        bad = ~np.asarray(valid)
        if bad.any():
            raise ValueError(f"{fn}: {name} must be {allowed.value}; got {bad_entries(t, bad, values=10)}.")
    return valid


def poison_invalid(values: jax.Array, valid: jax.Array) -> jax.Array:
    """NaN in the value and the gradient of the examples where ``valid`` is False.

    Used under ``jit`` for labels that cannot be checked at trace time: a NaN is
    caught by the training loop's NaN guard, a finite wrong number would not be.
    ``valid`` may have more axes than ``values`` (the entries of one example): an
    example is valid when all its entries are.
    """
    if valid.ndim > values.ndim:
        valid = jnp.all(valid.reshape(valid.shape[:values.ndim] + (-1,)), axis=-1) if valid.size else \
            jnp.ones(values.shape, bool)
    return values * jnp.where(valid, jnp.ones((), values.dtype), jnp.full((), jnp.nan, values.dtype))


def poison_inputs(x: jax.Array, valid: jax.Array) -> jax.Array:
    """``x`` times NaN for the examples where ``valid`` (a prefix of ``x``'s shape) is False.

    :func:`poison_invalid` makes the value NaN; a loss whose gradient passes a ``where`` on the
    targets can still drop that NaN on the way back (a branch not taken gets a zero cotangent).
    Multiplying the inputs makes the gradient with respect to them NaN whatever comes after.
    """
    if valid.ndim > x.ndim:
        valid = jnp.all(valid.reshape(valid.shape[:x.ndim] + (-1,)), axis=-1)
    factor = jnp.where(valid, jnp.ones((), x.dtype), jnp.full((), jnp.nan, x.dtype))
    return x * factor.reshape(factor.shape + (1,) * (x.ndim - factor.ndim))


def check_class_labels(
    labels: jax.Array, num_classes: int, *, fn: str, mask: jax.Array | None = None, name: str = "targets"
) -> None:
    """Validates concrete class indices in ``[0, num_classes)``.

    Concrete labels (outside ``jit``) are checked now, raising a ``ValueError``
    that names the offending labels; excluded examples (``mask`` False) are not
    checked. Traced labels cannot be checked here: losses poison those examples
    with :func:`poison_invalid` instead.
    """
    if not is_traced(labels) and not is_traced(mask):
        arr = np.asarray(labels)
        bad = (arr < 0) | (arr >= num_classes)
        if mask is not None:
            bad &= np.asarray(mask)
        if bad.any():
            values = sorted({int(v) for v in arr[bad]})
            where_bad = [tuple(int(i) for i in idx) for idx in np.argwhere(bad)[:5]]
            raise ValueError(
                f"{fn}: {name} holds class indices outside [0, {num_classes}): values {values[:10]} "
                f"at positions {where_bad}{' ...' if bad.sum() > 5 else ''}. Labels must index the last "
                f"axis of the predictions ({num_classes} classes); use ignore_index= or where= to skip padding."
            )


@jax.custom_jvp
def softplus(x: jax.Array) -> jax.Array:
    """log(1 + exp(x)), stable for any x, with the exact derivative sigmoid(x).

    The forward formula ``max(x, 0) + log1p(exp(-|x|))`` is the cheapest stable
    one, but differentiating it literally gives a wrong second derivative at
    x = 0 (``|x|`` and ``max`` have kinks there that cancel in the value only);
    the custom JVP gives the exact derivatives of every order.
    """
    return jnp.maximum(x, 0) + jnp.log1p(jnp.exp(-jnp.abs(x)))


@softplus.defjvp
def _softplus_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return softplus(x), jax.nn.sigmoid(x) * t


def safe_log(x: jax.Array, positive: jax.Array) -> jax.Array:
    """log(x) where ``positive``, 0 elsewhere, with a finite gradient everywhere."""
    return jnp.where(positive, jnp.log(jnp.where(positive, x, jnp.ones((), x.dtype))), jnp.zeros((), x.dtype))


def xlogx(x: jax.Array) -> jax.Array:
    """x log x with 0 log 0 = 0, and derivative log x + 1 taken as 1 at x = 0."""
    return x * safe_log(x, x > 0)


def probability_epsilon(dtype: Any) -> float:
    """Where probabilities given with ``from_logits=False`` are clipped: ``[eps, 1 - eps]``.

    The machine epsilon of the dtype the loss computes in (float32 for half precision): 1.19e-7 in
    float32 (Keras clips at 1e-7), 2.2e-16 in float64. scikit-learn's ``log_loss`` clips at the same
    value, and so does the log-loss metric, so a loss and the metric of the same name agree at
    probabilities of exactly 0 and 1. Keeps ``log p``, ``log(1 - p)`` and their gradients finite.
    """
    return float(jnp.finfo(compute_dtype(dtype)).eps)


def log_probabilities(predictions: jax.Array, *, from_logits: bool, axis: int = -1) -> jax.Array:
    """Log-probabilities over ``axis`` from logits (log-softmax) or clipped probabilities."""
    if from_logits:
        return jax.nn.log_softmax(predictions, axis=axis)
    return jnp.log(jnp.clip(predictions, probability_epsilon(predictions.dtype), 1.0))


def elementwise(
    kernel: Any,
    predictions: Any,
    targets: Any,
    *,
    fn: str,
    weights: Any,
    where: Any,
    reduction: str,
    targets_in: Targets | None = None,
    predictions_name: str = "predictions",
) -> jax.Array:
    """The whole pipeline for a loss defined entry by entry: ``kernel(p, t)``.

    The output has the predictions' dtype; half precision is computed in float32.
    With ``targets_in``, targets are checked (:func:`check_targets`): an error
    eagerly, NaN for that entry under ``jit``.
    """
    p = float_array(predictions, name=predictions_name, fn=fn)
    t = target_array(targets, like=p, name="targets", fn=fn)
    check_same_shape(p, t, fn=fn, names=(predictions_name, "targets"))
    mask = mask_array(where, p.shape, fn=fn)
    valid = None if targets_in is None else check_targets(t, targets_in, fn=fn, mask=mask)
    dtype = p.dtype
    work = compute_dtype(dtype)
    p = exclude(p, mask).astype(work)
    t = exclude(t, mask).astype(work)
    values = kernel(p, t)
    if valid is not None:
        values = poison_invalid(values, valid)
    return reduce(values, reduction=reduction, weights=weights, mask=mask, dtype=dtype, fn=fn)


# -- shared by the probabilistic and robust families ----------------------------------------------


def log1p_square(y: jax.Array) -> jax.Array:
    """log(1 + y^2), finite with exact derivatives of every order for any finite y.

    ``y^2`` overflows float32 for ``|y| > 1.8e19``; above 1 the value is written
    as ``2 log|y| + log1p((1/y)^2)``, which never forms ``y^2`` (double ``where``).
    """
    small = jnp.abs(y) <= 1
    y_small = jnp.where(small, y, jnp.zeros((), y.dtype))
    y_big = jnp.where(small, jnp.ones((), y.dtype), y)
    inv = 1 / y_big
    return jnp.where(small, jnp.log1p(jnp.square(y_small)), 2 * jnp.log(jnp.abs(y_big)) + jnp.log1p(jnp.square(inv)))


def parameter_array(
    value: Any, shape: tuple[int, ...], *, name: str, fn: str, mask: jax.Array | None, fill: float = 1.0,
) -> jax.Array:
    """A loss parameter (scalar or array broadcastable to ``shape``), upcast from half precision.

    Differentiable. Entries of excluded examples are replaced by ``fill`` (a safe
    value), so that garbage there reaches neither value nor gradient. Its range is
    not checked here: the registry checks every concrete value of every declared
    hyperparameter, scalar or array, before the loss runs (one validation path).
    """
    dtype = getattr(value, "dtype", None)
    if dtype is not None and not jnp.issubdtype(dtype, jnp.floating):
        value = jnp.asarray(value).astype(jnp.result_type(float))
    x = upcast(jnp.asarray(value))
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    x = broadcastable(x, shape, fn=fn, name=name)
    if mask is not None:
        x = jnp.where(mask, x, jnp.full((), fill, x.dtype))
    return x


@jax.custom_jvp
def absolute(x: jax.Array) -> jax.Array:
    """|x| with the subgradient 0 at x = 0 (``jnp.abs`` differentiates to 1 there).

    0 is the minimum-norm subgradient, the one PyTorch's ``abs`` uses: a
    prediction exactly on its target is not pushed either way.
    """
    return jnp.abs(x)


@absolute.defjvp
def _absolute_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return jnp.abs(x), jnp.sign(x) * t


# == Appended for the metrics (H-METRICS, issue 12): checks the metrics share with the losses =========
# Hard class indices and class scores, worded as the classification losses word them, so a metric and
# a loss given the same wrong input say the same thing.


def class_indices(x: Any, *, fn: str, name: str = "targets") -> jax.Array:
    """Hard class indices (integers, or booleans for two classes), for a reader that takes no soft labels.

    The first sentence of the error is :func:`label_array`'s; the fix differs, because a metric has no
    probability-vector form to point at.
    """
    x = as_array(x, name=name, fn=fn)
    if not (jnp.issubdtype(x.dtype, jnp.integer) or x.dtype == jnp.bool_):
        raise TypeError(
            f"{fn}: {name} must hold integer class indices; got dtype {x.dtype} (shape {_shape(x)}). "
            f"Convert whole-number labels with {name}.astype(jnp.int32); for one-hot {name} pass "
            f"{name}.argmax(-1).")
    return x


def check_class_axis(predictions: Any, targets: Any, *, fn: str, predictions_name: str = "predictions",
                     one_score: str = "a binary loss (binary_cross_entropy, hinge)") -> int:
    """Class scores of shape ``targets.shape + (K,)`` with ``K >= 1``; returns ``K``.

    The wording of the classification losses' check on integer class-index targets; ``one_score``
    names what to use instead for one score per example.
    """
    check_rank(predictions, min_rank=1, fn=fn, name=predictions_name, meaning="classes on the last axis")
    shape, t_shape = _shape(predictions), _shape(targets)
    if t_shape != shape[:-1]:
        hint = ""
        if t_shape == shape and len(shape) == 1:
            hint = (f" {predictions_name} of shape {shape} are ONE example with {shape[0]} classes; "
                    f"for one score per example use {one_score}, or give class scores of shape ({shape[0]}, K).")
        elif t_shape == shape:
            hint = (f" Targets of shape {t_shape} look like one-hot vectors: pass class indices "
                    f"(targets.argmax(-1)).")
        raise ValueError(
            f"{fn}: integer class-index targets must have the {predictions_name}' shape without its "
            f"class axis, {shape[:-1]}; got targets of shape {t_shape} for {predictions_name} of shape {shape}.{hint}")
    if shape[-1] < 1:
        raise ValueError(f"{fn}: {predictions_name} has an empty class axis (shape {shape}); give at least one "
                         "class score per example.")
    return shape[-1]


# == Probabilities given with from_logits=False (issue 24): checked, never clipped silently ===========


def check_probabilities(x: Any, *, fn: str, mask: Any = None, name: str = "predictions",
                        class_axis: bool = False) -> Any:
    """Probabilities must lie in [0, 1]: concrete ones outside raise, traced ones poison their entry.

    A probability of 1.5 is no probability: clipping it (as the cross-entropies' ``[eps, 1 - eps]`` clip
    would) returns a plausible wrong number, so scikit-learn's ``log_loss`` raises, and so do the losses
    and metrics that read probabilities. Entries that ``mask`` (a prefix of ``x``'s shape, True = included)
    excludes are not checked; NaN is not flagged (it propagates as NaN anyway). Under ``jit`` the value
    cannot be read: an entry outside [0, 1] is multiplied by NaN, so that example's value and gradient
    are NaN rather than a finite wrong number; with ``class_axis`` (probability vectors on the last
    axis) the whole vector is, since an example reads its vector as one distribution. Anything that is
    not a floating-point array is returned unchanged, for the function's own checks to name.
    """
    given = x
    concrete = not is_traced(x) and not is_traced(mask)
    try:
        x = np.asarray(x) if concrete else jnp.asarray(x)
    except (TypeError, ValueError):
        return given
    if not jnp.issubdtype(x.dtype, jnp.floating):
        return given
    outside = (x < 0) | (x > 1)
    if mask is not None:
        try:
            m = np.asarray(mask) if concrete else jnp.asarray(mask)
            if m.dtype != np.bool_ or m.ndim > x.ndim or tuple(m.shape) != tuple(x.shape[:m.ndim]):
                raise ValueError
            outside = outside & m.reshape(m.shape + (1,) * (x.ndim - m.ndim))
        except (TypeError, ValueError):
            pass  # a malformed mask: the function's own check names it
    if concrete:
        bad = np.asarray(outside)
        if bad.any():
            raise ValueError(f"{fn}: {name} must be probabilities in [0, 1] with from_logits=False; got "
                             f"{bad_entries(x, bad, values=5)}. Pass from_logits=True for logits, or apply a "
                             "sigmoid or softmax first.")
        return given
    if class_axis and x.ndim:
        outside = jnp.any(outside, axis=-1, keepdims=True)
    return x * jnp.where(outside, jnp.full((), jnp.nan, x.dtype), jnp.ones((), x.dtype))


# == Per-entry parameters of element-wise losses (issue 24): one pipeline for regression, robust, probabilistic ==


def parametrized_elementwise(
    kernel: Any, predictions: Any, targets: Any, *, fn: str, parameters: Mapping[str, tuple[Any, float]],
    weights: Any, where: Any, reduction: str, targets_in: Targets | None = None,
    predictions_name: str = "predictions",
) -> jax.Array:
    """:func:`elementwise` for a kernel with per-entry parameters: ``kernel(p, t, **parameters)``.

    ``parameters`` maps each name to ``(value, fill)``. A value is a number or an array broadcastable to
    the predictions (NumPy's rule), concrete or traced, and differentiable; it goes through
    :func:`parameter_array`, so the entries of excluded examples take the safe ``fill`` and a NaN planted
    there reaches neither the value nor any gradient (the predictions' or the parameter's own). The
    kernel gets each in the compute dtype.
    """
    shape = _shape(predictions)
    mask = mask_array(where, shape, fn=fn)
    arrays = {name: parameter_array(value, shape, name=name, fn=fn, mask=mask, fill=fill)
              for name, (value, fill) in parameters.items()}
    return elementwise(
        lambda p, t: kernel(p, t, **{name: a.astype(p.dtype) for name, a in arrays.items()}),
        predictions, targets, fn=fn, weights=weights, where=where, reduction=reduction, targets_in=targets_in,
        predictions_name=predictions_name,
    )
