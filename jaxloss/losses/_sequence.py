"""Sequence losses.

Conventions of this family:

- Predictions are per-frame **logits** ``(..., T, K)`` over ``K`` classes that
  include the blank; labels are integer sequences ``(..., N)``. Leading axes
  are batch axes: ``reduction="none"`` gives one value per sequence.
- Padding follows optax: ``logit_paddings`` ``(..., T)`` and ``label_paddings``
  ``(..., N)`` hold 1.0 at padded positions and 0.0 at real ones. Padded frames
  are skipped wherever they are; labels must be right-padded (zeros, then ones).
  They are keyword arguments, so a loss call keeps the ``(predictions, targets)``
  order of the rest of the catalog.
- Probabilities are never formed: the forward recursion runs in log space with
  a log-sum-exp whose value and derivatives stay finite when every term is
  ``log 0 = -inf`` (unreachable states, ``-inf`` logits of masked classes).
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxloss import _core, _kinds
from jaxloss._core import ArrayLike, Reduction
from jaxloss._kinds import problems
from jaxloss._registry import Hyperparameter, Task, register


__all__ = ["ctc"]


def _log_sum_exp(stack: jax.Array, axis: int = 0) -> jax.Array:
    """log(sum(exp(stack))) over ``axis``, -inf when every term is -inf.

    jnp.logaddexp(-inf, -inf) is -inf but its gradient is NaN; here the
    shift is a stop-gradient maximum (exact derivatives, the shift cancels) and
    an all -inf set of terms takes a constant branch (the double-where trick),
    so value, gradient and Hessian are finite for every reachable state and 0
    for unreachable ones.
    """
    m = jnp.max(stack, axis=axis)
    finite = jnp.isfinite(m)
    m = jnp.where(finite, jax.lax.stop_gradient(m), jnp.zeros((), stack.dtype))
    total = jnp.sum(jnp.exp(stack - jnp.expand_dims(m, axis)), axis=axis)
    positive = total > 0
    return jnp.where(positive, m + jnp.log(jnp.where(positive, total, 1.0)), -jnp.inf)


def _check_paddings(x: Any, shape: tuple[int, ...], *, fn: str, name: str, like: str) -> jax.Array:
    """Padding indicators (1 = padded) as a boolean array of ``shape``."""
    if x is None:
        return jnp.zeros(shape, bool)
    arr = jnp.asarray(x)
    if tuple(arr.shape) != shape:
        raise ValueError(f"{fn}: {name} must have shape {shape} ({like}); got shape {tuple(arr.shape)}.")
    if not _core.is_traced(arr):
        values = np.unique(np.asarray(arr, dtype=np.float64))
        bad = [float(v) for v in values if v not in (0.0, 1.0)]
        if bad:
            raise ValueError(f"{fn}: {name} must hold 1.0 (padded) or 0.0 (real); got values {bad[:10]}.")
    return arr > 0.5


@functools.partial(jax.jit, static_argnames=("blank_id",))  # one compilation per shape, also for eager calls
def _ctc_log_likelihood(log_p: jax.Array, labels: jax.Array, frame_pad: jax.Array, lengths: jax.Array,
                        blank_id: int) -> jax.Array:
    """log p(labels | logits) by the CTC forward algorithm; shapes (B, T, K), (B, N), (B, T), (B,)."""
    batch, _, _ = log_p.shape
    n = labels.shape[-1]
    # The extended label sequence: blank, l_1, blank, l_2, ..., l_N, blank (S = 2N + 1).
    ext = jnp.full((batch, 2 * n + 1), blank_id, labels.dtype).at[:, 1::2].set(labels)
    # A state may skip the blank before it when it is a label that differs from the label two back.
    prev2 = jnp.pad(ext, ((0, 0), (2, 0)), constant_values=blank_id)[:, :-2]
    can_skip = (ext != blank_id) & (ext != prev2)
    emit = jnp.take_along_axis(log_p, jnp.broadcast_to(ext[:, None, :], (batch, log_p.shape[1], ext.shape[1])),
                               axis=-1)  # (B, T, S): log p_t(ext_s)
    neg_inf = jnp.full((batch, 1), -jnp.inf, log_p.dtype)
    # Before the first frame: a virtual blank already emitted with probability 1.
    alpha0 = jnp.concatenate([jnp.zeros((batch, 1), log_p.dtype),
                              jnp.full((batch, ext.shape[1] - 1), -jnp.inf, log_p.dtype)], axis=1)

    def step(alpha: jax.Array, inputs: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, None]:
        emit_t, pad_t = inputs
        stay = alpha
        advance = jnp.concatenate([neg_inf, alpha[:, :-1]], axis=1)
        skip = jnp.where(can_skip, jnp.concatenate([neg_inf, neg_inf, alpha[:, :-2]], axis=1), -jnp.inf)
        new = _log_sum_exp(jnp.stack([stay, advance, skip])) + emit_t
        return jnp.where(pad_t[:, None], alpha, new), None  # a padded frame changes nothing

    alpha, _ = jax.lax.scan(step, alpha0, (jnp.swapaxes(emit, 0, 1), jnp.swapaxes(frame_pad, 0, 1)))
    last_blank = jnp.take_along_axis(alpha, (2 * lengths)[:, None], axis=1)[:, 0]
    last_label = jnp.take_along_axis(alpha, jnp.maximum(2 * lengths - 1, 0)[:, None], axis=1)[:, 0]
    last_label = jnp.where(lengths > 0, last_label, -jnp.inf)
    return _log_sum_exp(jnp.stack([last_blank, last_label]))


@register(
    task=Task.SEQUENCE, aliases=("ctc_loss", "connectionist_temporal_classification"),
    formula="-log sum_{alignments a collapsing to y} prod_t softmax(x_t)[a_t]",
    latex=(r"-\log \sum_{a \in \mathcal{B}^{-1}(y)} \prod_t \operatorname{softmax}(x_t)_{a_t}"
           r", \quad \mathcal{B} = \text{merge repeats, then drop blanks}"),
    torch="torch.nn.CTCLoss", keras="keras.losses.CTC",
    summary="sequence labelling without frame alignments (speech and handwriting recognition)",
    hyperparameters={
        "blank_id": Hyperparameter(low=0.0, doc="class index of the blank"),
    },
    properties=("nonnegative", "zero_at_target", "smooth"),
    inputs=_kinds.CTC, toy_problem=problems.SEQUENCE, optax="ctc_loss",
    reference="Graves et al., Connectionist Temporal Classification, 2006; torch.nn.functional.ctc_loss; optax.ctc_loss",
)
def ctc(
    predictions: ArrayLike, targets: ArrayLike, *, logit_paddings: ArrayLike | None = None,
    label_paddings: ArrayLike | None = None, blank_id: int = 0, zero_infinity: bool = False,
    normalize_by_label_length: bool = False, weights: ArrayLike | None = None,
    where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Connectionist temporal classification loss, one value per sequence.

    ``-log p(y | x)`` where ``p(y | x)`` sums, over every frame-level
    alignment that collapses to the label sequence ``y`` (merge repeats, then
    drop blanks), the product of the per-frame softmax probabilities. Computed
    by the forward algorithm over the blank-extended labels, in log space,
    with ``lax.scan`` over time (static shapes; jit-, vmap- and grad-safe).

    Use it when the output is a sequence shorter than the input and the
    frame-to-label alignment is unknown (speech, handwriting, OCR).

    Equal to ``torch.nn.functional.ctc_loss(log_softmax(x), y, input_lengths,
    target_lengths, reduction='none')`` with ``input_lengths = T - sum(logit_paddings)``
    and ``target_lengths = N - sum(label_paddings)``, and to ``optax.ctc_loss``
    wherever the alignment is possible (optax writes log 0 as -1e5, so it gives
    about 1e5 instead of ``inf`` for an impossible one). PyTorch's
    ``reduction='mean'`` divides each loss by its target length before
    averaging: that is ``normalize_by_label_length=True`` here; our ``"mean"``
    is the weighted mean over sequences.

    Args:
      predictions: logits ``(..., T, K)``; ``K`` includes the blank. ``-inf``
        logits (masked classes) are allowed.
      targets: integer labels ``(..., N)`` in ``[0, K)``, never ``blank_id`` at a
        real (unpadded) position.
      logit_paddings: ``(..., T)``, 1.0 for padded frames (skipped), 0.0 for
        real ones; None for no padding.
      label_paddings: ``(..., N)``, 1.0 for padded labels; right-padded. None for
        no padding.
      blank_id: class index of the blank.
      zero_infinity: give 0 (value and gradient) instead of ``inf`` for an
        impossible alignment (a label sequence longer than the frames allow,
        counting a blank between repeated labels), as PyTorch's option.
      normalize_by_label_length: divide each sequence's loss by its label
        length (at least 1), as PyTorch's ``reduction='mean'`` does.
      weights: per-sequence weights, broadcastable to ``predictions.shape[:-2]``.
      where: per-sequence boolean mask.
      reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per sequence).

    Numerical care: log-softmax with a stop-gradient maximum; the recursion's
    log-sum-exp is finite in value, gradient and Hessian when every term is
    ``-inf``; an impossible alignment is ``inf`` with a zero gradient, and 0 with
    a zero gradient under ``zero_infinity=True`` (never NaN). Labels outside
    ``[0, K)`` or equal to the blank raise outside ``jit`` and give NaN under it.

    >>> import jax.numpy as jnp, jaxloss as jl, math
    >>> logits = jnp.zeros((1, 2, 3))  # two frames, uniform over {blank, a, b}
    >>> loss = jl.ctc(logits, jnp.array([[1]]), reduction="none")
    >>> # alignments "a a", "a -", "- a": 3 paths of probability 1/9 each
    >>> bool(jnp.isclose(loss[0], -math.log(3 / 9)))
    True

    Reference: Graves et al., Connectionist Temporal Classification: Labelling
    Unsegmented Sequence Data with Recurrent Neural Networks, ICML 2006.
    """
    fn = "ctc"
    x = _core.float_array(predictions, name="predictions", fn=fn)
    _core.check_rank(x, min_rank=2, fn=fn, name="predictions", meaning="frames and classes on the last two axes")
    y = _core.label_array(targets, name="targets", fn=fn)
    batch_shape, num_frames, num_classes = tuple(x.shape[:-2]), x.shape[-2], x.shape[-1]
    if y.ndim < 1 or tuple(y.shape[:-1]) != batch_shape:
        raise ValueError(
            f"{fn}: targets must have shape {batch_shape + ('N',)} (the predictions' batch axes, then the "
            f"label axis) for predictions of shape {tuple(x.shape)} (batch..., T, K); got targets of shape "
            f"{tuple(y.shape)}."
        )
    if not isinstance(blank_id, (int, np.integer)) or not 0 <= int(blank_id) < num_classes:
        raise ValueError(f"{fn}: blank_id={blank_id!r} must be an integer class index in [0, {num_classes}).")
    blank_id = int(blank_id)
    frame_pad = _check_paddings(logit_paddings, batch_shape + (num_frames,), fn=fn, name="logit_paddings",
                                like="the predictions without the class axis")
    label_pad = _check_paddings(label_paddings, tuple(y.shape), fn=fn, name="label_paddings", like="the targets'")
    if not _core.is_traced(label_pad):
        lp = np.asarray(label_pad)
        if np.any(lp[..., :-1] & ~lp[..., 1:]):
            raise ValueError(f"{fn}: label_paddings must be right-padded (each row: 0.0s, then 1.0s).")
    mask = _core.mask_array(where, batch_shape, fn=fn)
    if mask is not None:  # an excluded sequence becomes an empty label on zero logits
        label_pad = label_pad | ~mask[..., None]
    real = ~label_pad
    if not _core.is_traced(y) and not _core.is_traced(real):
        arr = np.asarray(y)
        bad = np.asarray(real) & ((arr < 0) | (arr >= num_classes) | (arr == blank_id))
        if bad.any():
            values = sorted({int(v) for v in arr[bad]})
            raise ValueError(
                f"{fn}: targets hold values {values[:10]} at real (unpadded) positions; labels must be in "
                f"[0, {num_classes}) and differ from blank_id={blank_id}. Mark padding in label_paddings."
            )
    valid = jnp.all(~real | ((y >= 0) & (y < num_classes) & (y != blank_id)), axis=-1)
    y = jnp.where(real, y, blank_id).astype(jnp.int32)
    y = jnp.clip(y, 0, num_classes - 1)
    lengths = jnp.sum(real, axis=-1).astype(jnp.int32)

    dtype = x.dtype
    x = _core.upcast(_core.exclude(x, mask))
    log_p = jax.nn.log_softmax(x, axis=-1)
    flat = (-1,)
    ll = _ctc_log_likelihood(
        log_p.reshape(flat + log_p.shape[-2:]), y.reshape(flat + y.shape[-1:]),
        frame_pad.reshape(flat + frame_pad.shape[-1:]), lengths.reshape(flat), blank_id,
    ).reshape(batch_shape)
    values = -ll
    if zero_infinity:
        # The impossible branch is a constant: its gradient is 0, never NaN.
        possible = jnp.isfinite(ll)
        values = jnp.where(possible, values, jnp.zeros((), values.dtype))
    if normalize_by_label_length:
        values = values / jnp.maximum(lengths, 1).astype(values.dtype)
    values = _core.poison_invalid(values, valid)
    return _core.reduce(values, reduction=reduction, weights=weights, mask=mask, dtype=dtype, fn=fn)
