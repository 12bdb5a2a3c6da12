"""Structured, sparse and noise-robust classification losses.

They share the conventions of ``_classification.py``: logits with the classes
on the last axis; targets are integer class indices ``(...)`` or probability
vectors ``(..., K)``; ``reduction="none"`` gives one value per example; labels
out of range raise outside ``jit`` and give NaN under it; ``-inf`` logits
(masked classes) are allowed, and the loss is finite wherever the target
puts no mass on a masked class. The input checks and the reduction are the
shared ones of ``_class_inputs.py``.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp

from jaxloss import _core, _kinds
from jaxloss._core import ArrayLike, Reduction
from jaxloss._kinds import problems
from jaxloss._registry import Hyperparameter, Task, register
from jaxloss.losses._class_inputs import (
    LABEL_SMOOTHING, class_inputs, is_zero, mix, pick, reduce_examples, smoothing_array,
)
from jaxloss.losses._cross_entropy import log_prob_of_label, mean_log_prob
from jaxloss.losses._scalar_options import single_number


__all__ = ["sparsemax_loss", "poly1_cross_entropy", "bitempered_logistic", "symmetric_cross_entropy"]


def _target_distribution(inputs: Any, num_classes: int, dtype: Any) -> jax.Array:
    """The targets as probability vectors (one-hot for class indices)."""
    if inputs.is_labels:
        return jax.nn.one_hot(inputs.targets, num_classes, dtype=dtype)
    return inputs.targets


def _safe_pow(base: jax.Array, exponent: float) -> jax.Array:
    """base ** exponent for base >= 0 (exponent > 0), with a finite derivative of every order at 0."""
    positive = base > 0
    return jnp.where(positive, jnp.where(positive, base, 1.0) ** exponent, 0.0)


def _poison_unmaskable(values: jax.Array, x: jax.Array) -> jax.Array:
    """NaN (value and gradient) for the examples with a NaN or ``+inf`` logit.

    Only ``-inf`` masks a class out. The sparsemax and tempered kernels mask every non-finite logit, so
    without this a NaN or ``+inf`` logit would be dropped silently and the example given a finite wrong
    value (softmax cross-entropy gives NaN or ``inf`` there).
    """
    return _core.poison_invalid(values, ~(jnp.isnan(x) | (x == jnp.inf)))


# -- sparsemax ------------------------------------------------------------------------------------


def _sparsemax(z: jax.Array, finite: jax.Array) -> jax.Array:
    """Euclidean projection of ``z`` onto the simplex (``z`` shifted, -inf entries masked by ``finite``)."""
    k = z.shape[-1]
    sorted_z = jnp.flip(jnp.sort(jax.lax.stop_gradient(jnp.where(finite, z, -jnp.inf)), axis=-1), axis=-1)
    ranks = jnp.arange(1, k + 1, dtype=z.dtype).reshape((1,) * (z.ndim - 1) + (k,))
    cumulative = jnp.cumsum(jnp.where(jnp.isfinite(sorted_z), sorted_z, 0.0), axis=-1)
    in_support = (1.0 + ranks * jnp.where(jnp.isfinite(sorted_z), sorted_z, 0.0) > cumulative) & jnp.isfinite(sorted_z)
    size = jnp.sum(in_support, axis=-1, keepdims=True)
    tau_sg = (jnp.take_along_axis(cumulative, size - 1, axis=-1) - 1.0) / size
    support = finite & (z > tau_sg)
    # The threshold again, now as a differentiable function of z (the support is locally constant).
    tau = (jnp.sum(jnp.where(support, z, 0.0), axis=-1, keepdims=True) - 1.0) / jnp.sum(support, -1, keepdims=True)
    return jnp.where(support, z - tau, 0.0)


@register(
    task=Task.MULTICLASS, aliases=("sparsemax", "multiclass_sparsemax_loss"),
    formula="-q.z + 1/2 sum_{j in S(z)} (z_j^2 - tau(z)^2) + 1/2 |q|^2   (S, tau: support and threshold of sparsemax)",
    latex=(r"-\langle q, z \rangle + \frac{1}{2} \sum_{j \in S(z)} \left(z_j^2 - \tau(z)^2\right) + \frac{1}{2} \|q\|^2"
           r", \quad S, \tau = \text{the support and threshold of sparsemax}"),
    summary="classification with sparse predicted distributions (exact zeros), e.g. sparse attention",
    properties=("nonnegative", "zero_at_target", "convex", "bounded_gradient"),
    inputs=_kinds.CLASS_LOGITS, toy_problem=problems.MULTICLASS, optax="multiclass_sparsemax_loss",
    reference="Martins and Astudillo, From Softmax to Sparsemax, 2016; optax.losses.multiclass_sparsemax_loss",
)
def sparsemax_loss(
    predictions: ArrayLike, targets: ArrayLike, *, ignore_index: int | None = None,
    weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Sparsemax loss (Martins and Astudillo 2016), the Fenchel-Young loss of sparsemax.

    ``L(z, q) = (p - q).z - |p|^2 / 2 + |q|^2 / 2`` with ``p = sparsemax(z)``,
    the Euclidean projection of the logits onto the simplex; equivalently
    ``-q.z + 1/2 sum_{j in S(z)} (z_j^2 - tau^2) + |q|^2 / 2``. Its gradient is
    ``sparsemax(z) - q``; it is 0 exactly when ``sparsemax(z) = q``, so the
    model can put exactly zero probability on classes.

    Use it when you want sparse output distributions (sparse attention,
    multi-label-like outputs) with a convex, bounded-gradient loss.

    Matches ``optax.losses.multiclass_sparsemax_loss`` (integer labels). optax's
    ``sparsemax_loss`` is the binary form (``sparse_plus`` of a single logit),
    a different function.

    Args:
      predictions: logits ``(..., K)``; ``-inf`` for masked-out classes.
      targets: integer class indices ``(...)`` or probability vectors ``(..., K)``.
      ignore_index: a label value to exclude.
      weights, where, reduction: per-example weights, mask and reduction.

    Numerical care: computed on logits shifted by their (stop-gradient)
    maximum, using differences ``z_j - z_y``; the support is found by a sort
    without gradient and the threshold recomputed differentiably, so the
    gradient is exactly ``p - q``. A ``-inf`` logit gets zero probability; a
    target on a ``-inf`` class gives ``inf``; a NaN or ``+inf`` logit makes
    that example's value and gradient NaN (never a silently dropped class).

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> float(jl.sparsemax_loss(jnp.array([[3.0, 0.0, -1.0]]), jnp.array([0])))
    0.0
    >>> float(jl.sparsemax_loss(jnp.array([[0.0, 0.0]]), jnp.array([0])))  # p = (1/2, 1/2)
    0.25

    Reference: Martins and Astudillo, From Softmax to Sparsemax: A Sparse Model
    of Attention and Multi-Label Classification, ICML 2016.
    """
    fn = "sparsemax_loss"
    inputs = class_inputs(fn, predictions, targets, where=where, ignore_index=ignore_index)
    x = inputs.predictions
    finite = jnp.isfinite(x)
    m = jax.lax.stop_gradient(jnp.max(jnp.where(finite, x, -jnp.inf), axis=-1, keepdims=True))
    m = jnp.where(jnp.isfinite(m), m, 0.0)
    z = jnp.where(finite, x - m, 0.0)  # the loss is invariant to the shift; masked entries enter nowhere
    p = _sparsemax(z, finite)
    half_gap = 0.5 * (1.0 - jnp.sum(p * p, axis=-1))
    if inputs.is_labels:
        z_y = pick(z, inputs.targets)
        values = jnp.sum(p * (z - z_y[..., None]), axis=-1) + half_gap
        target_finite = pick(finite, inputs.targets)
    else:
        q = inputs.targets
        values = jnp.sum((p - q) * z, axis=-1) - 0.5 * jnp.sum(p * p, axis=-1) + 0.5 * jnp.sum(q * q, axis=-1)
        target_finite = ~jnp.any((q != 0) & ~finite, axis=-1)
    values = _poison_unmaskable(jnp.where(target_finite, values, jnp.inf), x)
    return reduce_examples(values, inputs, fn=fn, weights=weights, reduction=reduction)


# -- PolyLoss -------------------------------------------------------------------------------------


@register(
    task=Task.MULTICLASS, aliases=("poly1", "poly_loss", "poly_loss_cross_entropy"),
    formula="CE(q, softmax(x)) + coefficient * sum_c q_c (1 - softmax(x)_c)",
    latex=(r"-\sum_c q_c \log p_c + \epsilon \sum_c q_c (1 - p_c)"
           r", \quad p = \operatorname{softmax}(x)"
           r", \quad \epsilon = \mathtt{coefficient}"),
    summary="cross-entropy with a tunable first polynomial term: a drop-in CE replacement (Poly-1)",
    hyperparameters={
        "coefficient": Hyperparameter(low=-1.0, doc="of the first polynomial term (the paper's epsilon_1, optax's epsilon); "
                                      ">= -1 keeps the loss >= 0", slider=(-1.0, 5.0)),
        "label_smoothing": LABEL_SMOOTHING,
    },
    properties=("nonnegative", "zero_at_target", "smooth"),
    inputs=_kinds.CLASS_LOGITS, toy_problem=problems.MULTICLASS, optax="poly_loss_cross_entropy",
    reference="Leng et al., PolyLoss: A Polynomial Expansion Perspective of Classification Loss Functions, 2022",
)
def poly1_cross_entropy(
    predictions: ArrayLike, targets: ArrayLike, *, coefficient: float = 2.0, label_smoothing: float = 0.0,
    ignore_index: int | None = None, weights: ArrayLike | None = None, where: ArrayLike | None = None,
    reduction: Reduction = "mean",
) -> jax.Array:
    """Poly-1 cross-entropy (Leng et al. 2022).

    ``-sum_c q_c log p_c + coefficient * sum_c q_c (1 - p_c)``: the leading term
    ``(1 - p_t)`` of cross-entropy's Taylor expansion gets ``1 + coefficient`` as
    its coefficient. ``coefficient = 0`` is cross-entropy; the paper recommends 2 for
    ImageNet classification and -1 for detection.

    Use it as a drop-in replacement for cross-entropy when tuning one more
    knob is cheap.

    Matches ``optax.losses.poly_loss_cross_entropy`` (which takes probability
    targets, and calls the coefficient ``epsilon``: in jaxloss ``epsilon`` is only ever a
    numerical floor); with ``label_smoothing`` the smoothed target is used in both
    terms, as in the paper's code.

    Args:
      predictions: logits ``(..., K)``; ``-inf`` for masked-out classes.
      targets: integer class indices ``(...)`` or probability vectors ``(..., K)``.
      coefficient: of the first polynomial term, the paper's epsilon_1 (>= -1); a number or one
        value per example (broadcastable to ``predictions.shape[:-1]``), differentiable.
      label_smoothing: ``eps``; the target becomes ``(1 - eps) q + eps / K``
        over the classes with finite logits (as :func:`softmax_cross_entropy`); a number
        or one value per example, differentiable.
      ignore_index: a label value to exclude.
      weights, where, reduction: per-example weights, mask and reduction.

    Numerical care: ``1 - p_y`` is ``-expm1(log p_y)`` (no cancellation near
    ``p_y = 1``); ``-inf`` logits of non-target classes are finite in value,
    gradient and Hessian.

    >>> import jax.numpy as jnp, jaxloss as jl, math
    >>> loss = jl.poly1_cross_entropy(jnp.log(jnp.array([[0.5, 0.25, 0.25]])), jnp.array([0]), coefficient=1.0)
    >>> bool(jnp.isclose(loss, -math.log(0.5) + 0.5))
    True

    Reference: Leng et al., PolyLoss: A Polynomial Expansion Perspective of
    Classification Loss Functions, ICLR 2022.
    """
    fn = "poly1_cross_entropy"
    inputs = class_inputs(fn, predictions, targets, where=where, ignore_index=ignore_index)
    x = inputs.predictions
    log_p = jax.nn.log_softmax(x, axis=-1)
    finite = jnp.isfinite(x)
    n_finite = jnp.maximum(jnp.sum(finite, axis=-1), 1).astype(x.dtype)
    smoothing = not is_zero(label_smoothing)
    eps = smoothing_array(label_smoothing, x.shape[:-1], fn=fn, mask=inputs.mask, dtype=x.dtype) if smoothing else None
    if inputs.is_labels:
        log_p_y = pick(log_p, inputs.targets)
        ce = -log_p_y
        one_minus_pt = -jnp.expm1(log_p_y)
        if smoothing:
            uniform_ce = -jnp.sum(jnp.where(finite, log_p, 0.0), axis=-1) / n_finite
            ce = mix(ce, uniform_ce, eps)
            # sum_c q_c (1 - p_c) with q = (1 - eps) one_hot + eps * finite / n.
            one_minus_pt = mix(one_minus_pt, (n_finite - 1.0) / n_finite, eps)
    else:
        q = inputs.targets
        if smoothing:
            q = (1.0 - eps[..., None]) * q + eps[..., None] * finite / n_finite[..., None]
        present = q != 0
        ce = -jnp.sum(jnp.where(present, q * jnp.where(present, log_p, 0.0), 0.0), axis=-1)
        one_minus_pt = jnp.sum(q * -jnp.expm1(log_p), axis=-1)
    c = _core.parameter_array(coefficient, ce.shape, name="coefficient", fn=fn, mask=inputs.mask, fill=0.0)
    return reduce_examples(ce + c.astype(ce.dtype) * one_minus_pt, inputs, fn=fn, weights=weights,
                           reduction=reduction)


# -- bi-tempered logistic loss --------------------------------------------------------------------


def _log_t(u: jax.Array, t: float) -> jax.Array:
    """Tempered logarithm (u^(1-t) - 1) / (1 - t), for u > 0 (log u at t = 1)."""
    return jnp.log(u) if t == 1.0 else (u ** (1.0 - t) - 1.0) / (1.0 - t)


def _exp_t(u: jax.Array, t: float) -> jax.Array:
    """Tempered exponential max(0, 1 + (1 - t) u)^(1/(1-t)) (exp u at t = 1)."""
    return jnp.exp(u) if t == 1.0 else _safe_pow(jnp.maximum(1.0 + (1.0 - t) * u, 0.0), 1.0 / (1.0 - t))


@functools.partial(jax.custom_jvp, nondiff_argnums=(1, 2))
def _tempered_normalization(x: jax.Array, t: float, num_iters: int) -> jax.Array:
    """lambda(x) with sum_j exp_t(x_j - lambda, t) = 1, by the reference's iterations; shape (..., 1).

    t > 1: fixed-point iterations; t < 1: binary search (finite support). The
    value is the reference's ``num_iters``-step approximation; the derivative
    is the exact implicit one (escort probabilities), as in Google's code.
    """
    finite = jnp.isfinite(x)
    mu = jnp.max(jnp.where(finite, x, -jnp.inf), axis=-1, keepdims=True)
    mu = jnp.where(jnp.isfinite(mu), mu, 0.0)
    a0 = jnp.where(finite, x - mu, 0.0)

    def total(a: jax.Array) -> jax.Array:
        return jnp.sum(jnp.where(finite, _exp_t(a, t), 0.0), axis=-1, keepdims=True)

    if t > 1.0:
        a = jax.lax.fori_loop(0, num_iters, lambda _, a: a0 * total(a) ** (1.0 - t), a0)
        return -_log_t(1.0 / total(a), t) + mu
    effective_dim = jnp.sum(finite & (a0 > -1.0 / (1.0 - t)), axis=-1, keepdims=True).astype(x.dtype)
    lower = jnp.zeros_like(effective_dim)
    upper = -_log_t(1.0 / effective_dim, t)

    def bisect(_: int, bounds: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
        lower, upper = bounds
        mid = (upper + lower) / 2.0
        below = jnp.sum(jnp.where(finite, _exp_t(a0 - mid, t), 0.0), axis=-1, keepdims=True) < 1.0
        return jnp.where(below, lower, mid), jnp.where(below, mid, upper)

    lower, upper = jax.lax.fori_loop(0, num_iters, bisect, (lower, upper))
    return (upper + lower) / 2.0 + mu


@_tempered_normalization.defjvp
def _tempered_normalization_jvp(t: float, num_iters: int, primals: Any, tangents: Any) -> Any:
    (x,), (dx,) = primals, tangents
    lam = _tempered_normalization(x, t, num_iters)
    finite = jnp.isfinite(x)
    base = jnp.maximum(1.0 + (1.0 - t) * jnp.where(finite, x - lam, 0.0), 0.0)
    # d lambda = sum_j p_j^t dx_j / sum_j p_j^t  (p_j^t = base^(t / (1 - t))).
    escort = jnp.where(finite, _safe_pow(base, t / (1.0 - t)), 0.0)
    escort = escort / jnp.sum(escort, axis=-1, keepdims=True)
    return lam, jnp.sum(escort * jnp.where(finite, dx, 0.0), axis=-1, keepdims=True)


def _bitempered_terms(x: jax.Array, q: jax.Array, t1: float, t2: float, num_iters: int) -> jax.Array:
    """sum_c [q (log_t1 q - log_t1 p) - (q^(2-t1) - p^(2-t1)) / (2 - t1)], p = tempered_softmax(x, t2)."""
    finite = jnp.isfinite(x)
    if t2 == 1.0:
        lam = jax.nn.logsumexp(jnp.where(finite, x, -jnp.inf), axis=-1, keepdims=True)
    else:
        lam = _tempered_normalization(x, t2, num_iters)
    u = jnp.where(finite, x - lam, 0.0)
    if t2 == 1.0:  # p = exp(u)
        log_p = u
        p_2 = jnp.exp((2.0 - t1) * u)
        logt_p = u if t1 == 1.0 else jnp.expm1((1.0 - t1) * u) / (1.0 - t1)
    else:  # p = s^(1/(1-t2)), s = max(0, 1 + (1 - t2) u); powers of s, never of p, keep 0 exact
        s = jnp.maximum(1.0 + (1.0 - t2) * u, 0.0)
        p_2 = _safe_pow(s, (2.0 - t1) / (1.0 - t2))
        if t1 == 1.0:
            log_p = _core.safe_log(s, s > 0) / (1.0 - t2)
            logt_p = jnp.where(s > 0, log_p, -jnp.inf)
        else:
            logt_p = (_safe_pow(s, (1.0 - t1) / (1.0 - t2)) - 1.0) / (1.0 - t1)
    zero_log = -jnp.inf if t1 == 1.0 else -1.0 / (1.0 - t1)  # log_t1(0)
    logt_p = jnp.where(finite, logt_p, zero_log)
    p_2 = jnp.where(finite, p_2, 0.0)
    present = q > 0
    q_safe = jnp.where(present, q, 1.0)
    q_logt_q = jnp.where(present, q_safe * _log_t(q_safe, t1), 0.0)
    cross = jnp.where(present, q * jnp.where(present, logt_p, 0.0), 0.0)
    q_2 = _safe_pow(q, 2.0 - t1)
    return jnp.sum(q_logt_q - cross - (q_2 - p_2) / (2.0 - t1), axis=-1)


@register(
    task=Task.MULTICLASS, aliases=("bi_tempered", "bi_tempered_logistic_loss"),
    formula="sum_c [q_c (log_t1 q_c - log_t1 p_c) - (q_c^(2-t1) - p_c^(2-t1)) / (2 - t1)],  p = tempered_softmax_t2(x)",
    latex=(r"\sum_c \left[q_c \left(\log_{t_1} q_c - \log_{t_1} p_c\right) - \frac{q_c^{2 - t_1} - p_c^{2 - t_1}}{2 - t_1}\right]"
           r", \quad \log_t u = \frac{u^{1 - t} - 1}{1 - t}"
           r", \quad p = \operatorname{softmax}_{t_2}(x)"),
    summary="classification with noisy labels: bounded (t1 < 1) and heavy-tailed (t2 > 1) logistic loss",
    hyperparameters={
        "t1": Hyperparameter(low=0.0, high=1.0, doc="temperature of the log; < 1 bounds the loss", slider=(0.2, 1.0)),
        "t2": Hyperparameter(low=0.0, high=5.0, low_open=True,
                             doc="temperature of the softmax; > 1 heavy tails, < 1 finite support", slider=(1.0, 4.0)),
        "num_iters": Hyperparameter(low=1.0, doc="iterations of the normalization (t2 != 1)"),
        "label_smoothing": Hyperparameter(low=0.0, high=1.0,
                                          doc="mass moved to the other classes", slider=(0.0, 0.5)),
    },
    properties=("nonnegative", "zero_at_target"),
    inputs=_kinds.CLASS_LOGITS, toy_problem=problems.MULTICLASS_NOISY,
    reference="Amid et al., Robust Bi-Tempered Logistic Loss Based on Bregman Divergences, 2019; "
              "google/bi-tempered-loss bi_tempered_logistic_loss",
)
def bitempered_logistic(
    predictions: ArrayLike, targets: ArrayLike, *, t1: float = 1.0, t2: float = 1.0, num_iters: int = 5,
    label_smoothing: float = 0.0, ignore_index: int | None = None, weights: ArrayLike | None = None,
    where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Bi-tempered logistic loss (Amid, Warmuth, Anil and Koren 2019).

    The Bregman divergence of the tempered logarithm ``log_t1`` between the
    target ``q`` and the tempered softmax ``p = exp_t2(x - lambda(x))``::

        sum_c [q_c (log_t1 q_c - log_t1 p_c) - (q_c^(2-t1) - p_c^(2-t1)) / (2 - t1)]

    with ``log_t(u) = (u^(1-t) - 1) / (1 - t)``, ``exp_t(u) = max(0, 1 + (1-t) u)^(1/(1-t))``
    and ``lambda(x)`` the normalization that makes ``p`` sum to 1. ``t1 < 1``
    bounds the loss (outliers far on the wrong side stop pulling), ``t2 > 1``
    gives the softmax heavy tails (robust near the decision boundary).
    ``t1 = t2 = 1`` is the softmax cross-entropy exactly for class indices
    (for probability targets, ``KL(q || p)``: cross-entropy minus the
    targets' entropy, as in the reference code).

    Use it when labels are noisy; the paper's settings are around
    ``t1 = 0.8, t2 = 1.2`` (mild noise) to ``t1 = 0.2, t2 = 4`` (heavy noise).

    Matches Google's reference implementation (``google/bi-tempered-loss``):
    ``lambda`` by ``num_iters`` fixed-point iterations for ``t2 > 1`` and
    ``num_iters`` bisection steps for ``t2 < 1`` (the same iterations, so the
    same values; raise ``num_iters`` for a tighter normalization, especially
    with ``t2 < 1``), and the reference's label smoothing, which keeps
    ``1 - eps`` on the target class and spreads ``eps`` over the other
    (finite-logit) classes. Two small differences: ``0 log_t 0`` is taken as 0
    where the reference adds 1e-10 inside the log, and ``t1``, ``t2`` must be
    Python numbers (they select the algorithm).

    Args:
      predictions: logits ``(..., K)``; ``-inf`` for masked-out classes.
      targets: integer class indices ``(...)`` or probability vectors ``(..., K)``.
      t1: temperature of the logarithm, in [0, 1]; a single Python number.
      t2: temperature of the softmax, in (0, 5]; a single Python number.
      num_iters: iterations of the normalization (t2 != 1).
      label_smoothing: ``eps`` as in the reference code (see above); a number or one
        value per example, differentiable.
      ignore_index: a label value to exclude.
      weights, where, reduction: per-example weights, mask and reduction.

    Numerical care: powers are taken of ``1 + (1 - t2)(x - lambda)``, never of
    a probability, with a double-where at 0, so classes outside the finite
    support (``t2 < 1``) and ``-inf`` logits have finite derivatives;
    ``lambda`` has the exact implicit derivative (escort probabilities
    ``p^t2 / sum p^t2``); ``t2 = 1`` uses a log-sum-exp. Only ``-inf`` masks a
    class: a NaN or ``+inf`` logit gives NaN for that example (``inf`` or NaN as
    in cross-entropy at ``t1 = t2 = 1`` with class indices).

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> x, y = jnp.array([[2.0, 0.5, -1.0]]), jnp.array([0])
    >>> bool(jnp.allclose(jl.bitempered_logistic(x, y), jl.softmax_cross_entropy(x, y)))
    True
    >>> wrong = jnp.array([[-50.0, 50.0, 0.0]])
    >>> round(float(jl.bitempered_logistic(wrong, y, t1=0.5, t2=1.0)), 3)  # cross-entropy would say 100
    2.0

    Reference: Amid, Warmuth, Anil and Koren, Robust Bi-Tempered Logistic Loss
    Based on Bregman Divergences, NeurIPS 2019.
    """
    fn = "bitempered_logistic"
    for key, value in (("t1", t1), ("t2", t2)):
        single_number(value, name=key, fn=fn, meaning="a temperature, which selects the algorithm")
        if _core.is_traced(value):
            raise TypeError(f"{fn}: {key} must be a Python number (it selects the algorithm); got a traced value.")
    t1, t2 = float(t1), float(t2)
    inputs = class_inputs(fn, predictions, targets, where=where, ignore_index=ignore_index)
    x = inputs.predictions
    smoothing = not is_zero(label_smoothing)
    eps = smoothing_array(label_smoothing, x.shape[:-1], fn=fn, mask=inputs.mask, dtype=x.dtype) if smoothing else None
    if t1 == 1.0 and t2 == 1.0 and inputs.is_labels:
        # KL(q || softmax(x)) by the cross-entropy kernels, no one-hot array: logsumexp(x) - x_y without
        # smoothing (softmax cross-entropy exactly), and with it the same mix as softmax_cross_entropy's, so
        # that a traced eps of 0 gives what a Python 0 gives (also for a +inf logit).
        values = -log_prob_of_label(x, inputs.targets, from_logits=True)
        if smoothing:
            values = _smoothed_label_kl(values, x, eps)
        return reduce_examples(values, inputs, fn=fn, weights=weights, reduction=reduction)
    q = _target_distribution(inputs, x.shape[-1], x.dtype)
    if smoothing:
        finite = jnp.isfinite(x)
        n_finite = jnp.sum(finite, axis=-1, keepdims=True).astype(x.dtype)
        share = eps[..., None] / jnp.maximum(n_finite - 1.0, 1.0)
        q = jnp.where(n_finite > 1, (1.0 - n_finite * share) * q + share * finite, q)
    values = _poison_unmaskable(_bitempered_terms(x, q, t1, t2, int(num_iters)), x)
    return reduce_examples(values, inputs, fn=fn, weights=weights, reduction=reduction)


def _smoothed_label_kl(nll: jax.Array, x: jax.Array, eps: jax.Array) -> jax.Array:
    """The loss at ``t1 = t2 = 1`` for integer labels with the reference's label smoothing, from ``nll = -log p_y``.

    With ``n`` finite logits the target is ``1 - eps`` on the label and ``s = eps / (n - 1)`` on each other
    finite class, so ``KL(q || p) = (1 - n s) nll + n s (-mean log p) + (1 - eps) log(1 - eps) + (n - 1) s log s``:
    the cross-entropy's uniform mix with weight ``n s``, plus the targets' negative entropy (0 at eps = 0).
    """
    finite = jnp.isfinite(x)
    n = jnp.sum(finite, axis=-1).astype(x.dtype)
    share = eps / jnp.maximum(n - 1.0, 1.0)
    spread = jnp.where(n > 1, n * share, 0.0)
    negentropy = jnp.where(n > 1, _core.xlogx(1.0 - eps) + (n - 1.0) * _core.xlogx(share), 0.0)
    return mix(nll, -mean_log_prob(x, from_logits=True), spread) + negentropy


# -- symmetric cross-entropy ----------------------------------------------------------------------


@register(
    task=Task.MULTICLASS, aliases=("sce",),
    formula="alpha * (-sum_c q_c log p_c) + beta * (-sum_c p_c max(log q_c, A)),  A = log_zero",
    latex=(r"\alpha \left(-\sum_c q_c \log p_c\right) + \beta \left(-\sum_c p_c \max(\log q_c, A)\right)"
           r", \quad p = \operatorname{softmax}(x)"
           r", \quad A = \mathtt{log\_zero}"),
    summary="classification with noisy labels: cross-entropy plus a noise-tolerant reverse cross-entropy",
    hyperparameters={
        "alpha": Hyperparameter(low=0.0, doc="weight of the cross-entropy term", slider=(0.0, 1.0)),
        "beta": Hyperparameter(low=0.0, doc="weight of the reverse cross-entropy term", slider=(0.0, 2.0)),
        "log_zero": Hyperparameter(high=0.0, high_open=True, doc="the value A that stands for log 0",
                                   slider=(-10.0, -1.0)),
    },
    properties=("nonnegative", "zero_at_target", "smooth"),
    inputs=_kinds.CLASS_LOGITS, toy_problem=problems.MULTICLASS_NOISY,
    reference="Wang et al., Symmetric Cross Entropy for Robust Learning with Noisy Labels, 2019",
)
def symmetric_cross_entropy(
    predictions: ArrayLike, targets: ArrayLike, *, alpha: float = 0.1, beta: float = 1.0, log_zero: float = -4.0,
    ignore_index: int | None = None, weights: ArrayLike | None = None, where: ArrayLike | None = None,
    reduction: Reduction = "mean",
) -> jax.Array:
    """Symmetric cross-entropy (Wang et al. 2019): ``alpha CE + beta RCE``.

    ``CE = -sum_c q_c log p_c`` and the reverse cross-entropy
    ``RCE = -sum_c p_c log q_c`` with ``log 0`` replaced by ``A = log_zero``
    (the paper's A = -4); for a class index ``y`` it is ``-A (1 - p_y)``, an MAE-like,
    noise-tolerant term. For probability targets ``log q_c`` is clipped below
    at ``A`` (the authors' code clamps ``q`` at 1e-4, i.e. ``log_zero = log(1e-4)``).

    Use it when labels are noisy: CE fits the clean classes fast, RCE keeps
    the noisy ones from being memorized.

    Args:
      predictions: logits ``(..., K)``; ``-inf`` for masked-out classes.
      targets: integer class indices ``(...)`` or probability vectors ``(..., K)``.
      alpha: weight of CE (>= 0; the paper uses 0.1 on CIFAR-10).
      beta: weight of RCE (>= 0; the paper uses 1.0).
      log_zero: the stand-in ``A < 0`` for ``log 0``. Each of ``alpha``, ``beta`` and
        ``log_zero`` is a number or one value per example (broadcastable to
        ``predictions.shape[:-1]``; never one per class), differentiable.
      ignore_index: a label value to exclude.
      weights, where, reduction: per-example weights, mask and reduction.

    Numerical care: ``1 - p_y`` is ``-expm1(log p_y)``; ``0 log 0 = 0`` in CE;
    ``-inf`` logits of non-target classes are finite in value and derivatives.

    >>> import jax.numpy as jnp, jaxloss as jl, math
    >>> logits = jnp.log(jnp.array([[0.5, 0.25, 0.25]]))
    >>> loss = jl.symmetric_cross_entropy(logits, jnp.array([0]), alpha=0.1, beta=1.0)
    >>> bool(jnp.isclose(loss, 0.1 * -math.log(0.5) + 4.0 * 0.5))
    True

    Reference: Wang et al., Symmetric Cross Entropy for Robust Learning with
    Noisy Labels, ICCV 2019.
    """
    fn = "symmetric_cross_entropy"
    inputs = class_inputs(fn, predictions, targets, where=where, ignore_index=ignore_index)
    x = inputs.predictions
    # One value per example for each option (never read per class, whatever the shapes); excluded examples
    # take a safe value, so that a NaN there reaches no gradient.
    w_ce, w_rce, a = (_core.parameter_array(v, x.shape[:-1], name=k, fn=fn, mask=inputs.mask, fill=f).astype(x.dtype)
                      for k, v, f in (("alpha", alpha, 0.0), ("beta", beta, 0.0), ("log_zero", log_zero, -1.0)))
    log_p = jax.nn.log_softmax(x, axis=-1)
    if inputs.is_labels:
        log_p_y = pick(log_p, inputs.targets)
        ce = -log_p_y
        rce = -a * -jnp.expm1(log_p_y)
    else:
        q = inputs.targets
        present = q > 0
        ce = -jnp.sum(jnp.where(present, q * jnp.where(present, log_p, 0.0), 0.0), axis=-1)
        log_q = jnp.maximum(jnp.where(present, _core.safe_log(q, present), a[..., None]), a[..., None])
        rce = -jnp.sum(jax.nn.softmax(x, axis=-1) * log_q, axis=-1)
    return reduce_examples(w_ce * ce + w_rce * rce, inputs, fn=fn, weights=weights, reduction=reduction)
