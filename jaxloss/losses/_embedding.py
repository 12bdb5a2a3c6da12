"""Embedding and metric-learning losses.

Conventions of this family:

- Embeddings put their features on the **last axis**; every other axis
  indexes examples. ``reduction="none"`` gives one value per example (the
  feature axis reduced): per pair for :func:`cosine_distance`,
  :func:`cosine_embedding` and :func:`contrastive`, per triplet for
  :func:`triplet_margin`, per anchor for :func:`ntxent`.
- :func:`ntxent` is a batch loss: embeddings ``(..., n, d)`` form batches of
  ``n`` examples that see each other (extra leading axes are independent
  batches). ``where=False`` removes an example from its batch entirely, as an
  anchor and as a candidate, so a masked call equals the call on the sliced batch.
- Zero vectors have no direction. Where a cosine meets one, its value is the
  reference library's (0 for the cosine) and its gradient with respect to the
  zero vector is 0, never NaN (optax 0.2.8's ``cosine_similarity`` is NaN there).
- Pair labels follow each reference: {-1, +1} for :func:`cosine_embedding`
  (PyTorch), {0, 1} with 1 = similar for :func:`contrastive`.
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
from jaxloss.losses._scalar_options import single_number


__all__ = ["cosine_distance", "cosine_embedding", "triplet_margin", "contrastive", "ntxent"]

# torch.nn.functional.cosine_embedding_loss adds this to both squared norms (ATen Loss.cpp,
# EPSILON = 1e-12 as a C++ float: float32(1e-12), which is what torch 2.13 adds, also in float64).
_TORCH_COSINE_EMBEDDING_EPSILON = float(np.float32(1e-12))
# torch.nn.functional.pairwise_distance (and so triplet_margin_loss) adds this to the difference.
_TORCH_PAIRWISE_EPSILON = 1e-6


def _vectors(fn: str, arrays: tuple[ArrayLike, ...], names: tuple[str, ...], where: ArrayLike | None):
    """Float arrays of one shape ``(..., d)``, excluded rows zeroed, in the compute dtype; and the mask."""
    first = _core.float_array(arrays[0], name=names[0], fn=fn)
    _core.check_rank(first, min_rank=1, fn=fn, name=names[0], meaning="features on the last axis")
    out = [first]
    for a, name in zip(arrays[1:], names[1:]):
        x = _core.float_array(a, name=name, fn=fn)
        _core.check_same_shape(first, x, fn=fn, names=(names[0], name))
        out.append(x)
    mask = _core.mask_array(where, first.shape[:-1], fn=fn)
    dtype = _core.result_dtype(*out)
    work = _core.compute_dtype(dtype)
    return [_core.exclude(x, mask).astype(work) for x in out], mask, dtype


def _pair_targets(fn: str, targets: ArrayLike, *, shape: tuple[int, ...], work: Any, mask: jax.Array | None,
                  allowed: _core.Targets) -> tuple[jax.Array, jax.Array]:
    """One label per pair, and whether it is ``allowed`` (checked eagerly when concrete; excluded pairs
    are not): ``(targets with excluded pairs zeroed, validity for _core.poison_invalid)``."""
    t = jnp.asarray(targets)
    if tuple(t.shape) != shape:
        raise ValueError(
            f"{fn}: targets must hold one label per pair, shape {shape} (the embeddings' shape without "
            f"the feature axis); got targets of shape {tuple(t.shape)}."
        )
    if jnp.issubdtype(t.dtype, jnp.complexfloating):
        raise TypeError(f"{fn}: targets must be real; got dtype {t.dtype}.")
    valid = _core.check_targets(t, allowed, fn=fn, mask=mask)
    return _core.exclude(t.astype(work), mask), valid


def _sqrt_or_zero(x: jax.Array) -> jax.Array:
    """sqrt(x) for x >= 0 with derivative 0 (not inf, not NaN) at x = 0 (double where)."""
    positive = x > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, x, 1.0)), 0.0)


# -- cosine ---------------------------------------------------------------------------------------


@register(
    task=Task.EMBEDDING, aliases=("cosine",),
    formula="1 - <p, t> / (max(|p|^2, eps) max(|t|^2, eps))^(1/2)",
    latex=r"1 - \frac{\langle p, t \rangle}{\sqrt{\max(\|p\|^2, \epsilon)\, \max(\|t\|^2, \epsilon)}}",
    keras="keras.losses.CosineSimilarity",
    summary="matching the direction of a target vector, not its length (embeddings, normalised outputs)",
    hyperparameters={"epsilon": Hyperparameter(low=0.0, doc="lower bound of each squared norm (optax)")},
    properties=("nonnegative", "zero_at_target"),
    inputs=_kinds.EMBEDDING_VECTORS, toy_problem=problems.EMBEDDING, optax="cosine_distance",
    reference="optax.losses.cosine_distance (0.2.8); Wikipedia, Cosine similarity",
)
def cosine_distance(
    predictions: ArrayLike, targets: ArrayLike, *, epsilon: float = 0.0,
    weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Cosine distance ``1 - cos(p, t)`` over the last axis.

    ``cos(p, t) = <p, t> / (|p| |t|)`` with each norm ``sqrt(max(|x|^2, epsilon))``,
    exactly optax's ``cosine_distance``. It ignores the lengths of the vectors:
    0 for the same direction, 1 at a right angle, 2 for opposite directions.
    Keras's ``CosineSimilarity`` loss is ``-cos``: this minus 1, with the same gradient.
    Use it when only the direction of an output matters (embeddings, word
    vectors, normalised regression targets).

    Args:
      predictions: vectors, shape ``(..., d)``.
      targets: target vectors, same shape.
      epsilon: lower bound of each squared norm (optax's ``epsilon``), >= 0; a number or
        one value per pair (broadcastable to ``predictions.shape[:-1]``).
      weights: per-example weights, broadcastable to ``predictions.shape[:-1]``.
      where: per-example boolean mask.
      reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per vector pair).

    Numerical care: a zero vector (norm 0 after the ``epsilon`` bound) has no
    direction; the cosine is taken as 0 there (loss 1) with a zero gradient,
    through a double ``where`` (optax 0.2.8 gives NaN). Near zero the gradient
    grows like ``1 / |p|``, as the true derivative does.

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> p = jnp.array([[1.0, 0.0], [0.0, 0.0], [-2.0, 0.0]])
    >>> t = jnp.array([[3.0, 0.0], [1.0, 1.0], [1.0, 0.0]])
    >>> jl.cosine_distance(p, t, reduction="none").tolist()
    [0.0, 1.0, 2.0]

    Reference: optax.losses.cosine_distance (same value wherever it is finite).
    """
    fn = "cosine_distance"
    (p, t), mask, dtype = _vectors(fn, (predictions, targets), ("predictions", "targets"), where)
    # One epsilon per pair (a number, or an array broadcastable to the pairs' shape): never read per feature.
    eps = _core.parameter_array(epsilon, p.shape[:-1], name="epsilon", fn=fn, mask=mask, fill=0.0).astype(p.dtype)
    values = 1.0 - _cosine(p, t, epsilon=eps, offset=0.0)
    return _core.reduce(values, reduction=reduction, weights=weights, mask=mask, dtype=dtype, fn=fn)


def _cosine(a: jax.Array, b: jax.Array, *, epsilon: Any, offset: float) -> jax.Array:
    """<a, b> / sqrt(n_a n_b) with n_x = max(|x|^2, epsilon) + offset; 0 with zero gradient at a zero vector."""
    a2, b2 = jnp.sum(a * a, axis=-1), jnp.sum(b * b, axis=-1)
    ok = (a2 > 0) & (b2 > 0) if offset else (jnp.maximum(a2, epsilon) > 0) & (jnp.maximum(b2, epsilon) > 0)
    na = jnp.where(ok, jnp.maximum(a2, epsilon) + offset, 1.0)
    nb = jnp.where(ok, jnp.maximum(b2, epsilon) + offset, 1.0)
    # Double where: a zero vector would give 0 / 0 in the value and NaN in the gradient.
    denominator = jnp.sqrt(na * nb) if offset else jnp.sqrt(na) * jnp.sqrt(nb)
    return jnp.where(ok, jnp.sum(a * b, axis=-1) / denominator, 0.0)


@register(
    task=Task.EMBEDDING_PAIRS,
    formula="1 - cos(x1, x2) if y = 1;  max(0, cos(x1, x2) - margin) if y = -1",
    latex=(r"\begin{cases} 1 - \cos(x_1, x_2) & y = 1 \\ \max\left(0,\ \cos(x_1, x_2) - \mathtt{margin}\right) & y = -1 \end{cases}"),
    torch="torch.nn.CosineEmbeddingLoss",
    summary="learning similar / dissimilar pairs by angle (PyTorch's CosineEmbeddingLoss)",
    hyperparameters={"margin": Hyperparameter(low=-1.0, high=1.0, doc="cosine below which a dissimilar pair costs nothing",
                                              slider=(-0.5, 0.5))},
    properties=("nonnegative", "zero_at_target"),
    inputs=_kinds.EMBEDDING_PAIRS, toy_problem=problems.EMBEDDING, differentiable_args=(0, 1),
    reference="torch.nn.CosineEmbeddingLoss",
)
def cosine_embedding(
    x1: ArrayLike, x2: ArrayLike, targets: ArrayLike, *, margin: float = 0.0,
    weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """PyTorch's cosine embedding loss for labelled pairs.

    ``1 - cos(x1, x2)`` for a similar pair (``y = 1``) and
    ``max(0, cos(x1, x2) - margin)`` for a dissimilar one (``y = -1``), with
    PyTorch's cosine ``<x1, x2> / sqrt((|x1|^2 + e) (|x2|^2 + e))`` where ``e = float32(1e-12)``.
    Use it to pull matching pairs to the same direction and push
    non-matching ones at least to ``arccos(margin)`` apart.

    Args:
      x1: first embeddings, shape ``(..., d)``.
      x2: second embeddings, same shape.
      targets: one label per pair in {-1, +1}, shape ``(...)``.
      margin: in [-1, 1]; PyTorch suggests 0 to 0.5. A number or one value per pair
        (broadcastable to ``(...)``), differentiable.
      weights: per-pair weights, broadcastable to ``(...)``.
      where: per-pair boolean mask.
      reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per pair).

    Numerical care: the value equals PyTorch's everywhere (at a zero vector the
    cosine is 0); the gradient with respect to an exactly zero vector is 0 (PyTorch's
    formula gives about ``1e6`` there, from its ``1e-12``, which overflows half
    precision). At ``cos == margin`` a dissimilar pair gets the cosine's whole
    gradient, as PyTorch's ``clamp_min(cos - margin, 0)`` gives (torch 2.13).

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> x1 = jnp.array([[1.0, 0.0], [1.0, 0.0]])
    >>> x2 = jnp.array([[1.0, 1.0], [1.0, 1.0]])
    >>> [round(v, 4) for v in jl.cosine_embedding(x1, x2, jnp.array([1, -1]), reduction="none").tolist()]
    [0.2929, 0.7071]

    Reference: torch.nn.functional.cosine_embedding_loss (same values).
    """
    fn = "cosine_embedding"
    (a, b), mask, dtype = _vectors(fn, (x1, x2), ("x1", "x2"), where)
    y, valid = _pair_targets(fn, targets, shape=a.shape[:-1], work=a.dtype, mask=mask, allowed=_core.Targets.SIGNED)
    a, b = _core.poison_inputs(a, valid), _core.poison_inputs(b, valid)  # the where on y would drop a NaN gradient
    m = _core.parameter_array(margin, a.shape[:-1], name="margin", fn=fn, mask=mask, fill=0.0).astype(a.dtype)
    cos = _cosine(a, b, epsilon=0.0, offset=_TORCH_COSINE_EMBEDDING_EPSILON)
    # PyTorch's clamp_min(cos - margin, 0): the whole gradient at cos == margin; NaN stays NaN.
    hinge = cos - m
    values = jnp.where(y == 1, 1.0 - cos, 0.0) + jnp.where(y == -1, jnp.where(hinge < 0, 0.0, hinge), 0.0)
    values = _core.poison_invalid(values, valid)
    return _core.reduce(values, reduction=reduction, weights=weights, mask=mask, dtype=dtype, fn=fn)


# -- distances ------------------------------------------------------------------------------------


def _pairwise_distance(a: jax.Array, b: jax.Array, p: Any) -> jax.Array:
    """PyTorch's pairwise_distance: ||a - b + 1e-6||_p over the last axis."""
    e = a - b + _TORCH_PAIRWISE_EPSILON
    if isinstance(p, (int, float)) and p == 2:
        return _sqrt_or_zero(jnp.sum(e * e, axis=-1))
    s = jnp.sum(jnp.abs(e) ** p, axis=-1)
    # s^(1/p) has an infinite derivative at s = 0: the double where gives 0 there.
    positive = s > 0
    return jnp.where(positive, jnp.where(positive, s, 1.0) ** (1.0 / p), 0.0)


@register(
    task=Task.EMBEDDING_TRIPLETS, aliases=("triplet",),
    formula="max(0, d(a, p) - d(a, n) + margin),  d(x, y) = ||x - y + 1e-6||_p",
    latex=r"\max\left(0,\ d(a, p) - d(a, n) + \mathtt{margin}\right), \quad d(x, y) = \|x - y + 10^{-6}\|_p",
    torch="torch.nn.TripletMarginLoss",
    summary="metric learning from (anchor, positive, negative) triplets (face recognition, retrieval)",
    hyperparameters={
        "margin": Hyperparameter(low=0.0, doc="required gap between the negative and positive distances", slider=(0.0, 3.0)),
        "p": Hyperparameter(low=1.0, doc="order of the norm", slider=(1.0, 3.0)),
    },
    properties=("nonnegative", "zero_at_target"),
    inputs=_kinds.TRIPLET, toy_problem=problems.EMBEDDING, differentiable_args=(0, 1, 2), optax="triplet_margin_loss",
    reference="Balntas et al., Learning local feature descriptors with triplets and shallow CNNs, 2016; "
              "torch.nn.TripletMarginLoss",
)
def triplet_margin(
    anchor: ArrayLike, positive: ArrayLike, negative: ArrayLike, *, margin: float = 1.0, p: float = 2.0,
    swap: bool = False, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """PyTorch's triplet margin loss.

    ``max(0, d(a, p) - d(a, n) + margin)`` with PyTorch's pairwise distance
    ``d(x, y) = ||x - y + 1e-6||_p`` (the ``1e-6`` is added to every entry of
    the difference). With ``swap=True`` the negative distance is
    ``min(d(a, n), d(p, n))`` (Balntas et al.'s distance swap). Use it to make
    each anchor closer to its positive than to its negative by ``margin``.

    Args:
      anchor: embeddings, shape ``(..., d)``.
      positive: embeddings of the same identity, same shape.
      negative: embeddings of another identity, same shape.
      margin: required gap (>= 0), a number or one value per triplet (broadcastable
        to ``(...)``), differentiable.
      p: order of the norm (>= 1), a single number (an array raises a ``TypeError``).
      swap: use the distance swap.
      weights: per-triplet weights, broadcastable to ``(...)``.
      where: per-triplet boolean mask.
      reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per triplet).

    Numerical care: the ``1e-6`` keeps the distance of identical vectors away
    from 0, where the norm has no derivative; where a difference is exactly
    ``-1e-6`` the distance's gradient is taken as 0 (double ``where``). The kinks
    have PyTorch's gradients (torch 2.13): at ``d(a, p) - d(a, n) + margin = 0``
    the whole gradient (its ``clamp_min``), and with ``swap=True`` half to each
    distance where ``d(a, n) == d(p, n)`` (its ``min``).

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> a = jnp.array([[0.0, 0.0]]); pos = jnp.array([[0.0, 1.0]]); neg = jnp.array([[3.0, 0.0]])
    >>> round(float(jl.triplet_margin(a, pos, neg, margin=2.5)), 4)
    0.5

    Reference: torch.nn.functional.triplet_margin_loss (same values);
    optax.losses.triplet_margin_loss puts its epsilon elsewhere
    (``(sum |a - p|^p + eps)^(1/p)``), so values differ by about ``1e-6``.
    """
    fn = "triplet_margin"
    p = single_number(p, name="p", fn=fn, meaning="the order of the norm, one for every triplet")
    (a, pos, neg), mask, dtype = _vectors(fn, (anchor, positive, negative), ("anchor", "positive", "negative"), where)
    m = _core.parameter_array(margin, a.shape[:-1], name="margin", fn=fn, mask=mask, fill=1.0).astype(a.dtype)
    d_pos = _pairwise_distance(a, pos, p)
    d_neg = _pairwise_distance(a, neg, p)
    if swap:
        d_neg = jnp.minimum(d_neg, _pairwise_distance(pos, neg, p))  # half to each at a tie, as torch.min
    z = d_pos - d_neg + m
    values = jnp.where(z < 0, 0.0, z)  # PyTorch's clamp_min: gradient 1 at z = 0 (jnp.maximum: 1/2)
    return _core.reduce(values, reduction=reduction, weights=weights, mask=mask, dtype=dtype, fn=fn)


@register(
    task=Task.EMBEDDING_PAIRS,
    formula="y d^2 + (1 - y) max(0, margin - d)^2,  d = ||a - b||_2,  y = 1 for a similar pair",
    latex=(r"y\, d^2 + (1 - y) \max(0,\ \mathtt{margin} - d)^2"
           r", \quad d = \|a - b\|_2"
           r", \quad y = 1 \text{ for a similar pair}"),
    summary="metric learning from labelled pairs (siamese networks): pull similar pairs together, push others past a margin",
    hyperparameters={"margin": Hyperparameter(low=0.0, doc="distance beyond which a dissimilar pair costs nothing",
                                              slider=(0.0, 3.0))},
    properties=("nonnegative", "zero_at_target"),
    inputs=_kinds.EMBEDDING_PAIRS_BINARY, toy_problem=problems.EMBEDDING, differentiable_args=(0, 1),
    reference="Hadsell, Chopra and LeCun, Dimensionality Reduction by Learning an Invariant Mapping, 2006; "
              "tfa.losses.contrastive_loss",
)
def contrastive(
    embeddings_a: ArrayLike, embeddings_b: ArrayLike, targets: ArrayLike, *, margin: float = 1.0,
    weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Contrastive loss for labelled pairs (Hadsell, Chopra and LeCun 2006).

    ``y d^2 + (1 - y) max(0, margin - d)^2`` with the Euclidean distance
    ``d = ||a - b||`` and ``y = 1`` for a similar pair, 0 for a dissimilar one.
    Conventions: the paper writes ``Y = 0`` for similar pairs and a factor 1/2
    on both terms; here ``y = 1`` means similar and there is no 1/2, as in
    TensorFlow Addons' ``contrastive_loss`` (multiply by 0.5 for the paper's
    scale). Use it for siamese networks trained on same / different pairs.

    Args:
      embeddings_a: first embeddings, shape ``(..., d)``.
      embeddings_b: second embeddings, same shape.
      targets: one label per pair in {0, 1} (1 = similar; bool and int accepted), shape ``(...)``.
      margin: distance beyond which a dissimilar pair costs nothing (>= 0), a number
        or one value per pair (broadcastable to ``(...)``), differentiable.
      weights: per-pair weights, broadcastable to ``(...)``.
      where: per-pair boolean mask.
      reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per pair).

    Numerical care: the similar term uses ``d^2`` directly (smooth); the
    dissimilar term needs ``d = sqrt(d^2)``, whose derivative is infinite at
    ``d = 0``: a double ``where`` makes the gradient 0 for identical embeddings.
    The dissimilar term is a squared hinge: its gradient at d = margin is 0 from
    both sides.

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> a = jnp.array([[0.0, 0.0], [0.0, 0.0]]); b = jnp.array([[0.0, 0.5], [0.0, 0.5]])
    >>> jl.contrastive(a, b, jnp.array([1, 0]), reduction="none").tolist()
    [0.25, 0.25]

    Reference: Hadsell et al. 2006; tfa.losses.contrastive_loss with ``y_pred = d`` (same values).
    """
    fn = "contrastive"
    (a, b), mask, dtype = _vectors(fn, (embeddings_a, embeddings_b), ("embeddings_a", "embeddings_b"), where)
    y, valid = _pair_targets(fn, targets, shape=a.shape[:-1], work=a.dtype, mask=mask, allowed=_core.Targets.BINARY)
    d2 = jnp.sum(jnp.square(a - b), axis=-1)
    d = _sqrt_or_zero(d2)
    m = _core.parameter_array(margin, d.shape, name="margin", fn=fn, mask=mask, fill=1.0).astype(d.dtype)
    values = _core.poison_invalid(y * d2 + (1.0 - y) * jnp.square(jnp.maximum(m - d, 0.0)), valid)
    return _core.reduce(values, reduction=reduction, weights=weights, mask=mask, dtype=dtype, fn=fn)


# -- NT-Xent --------------------------------------------------------------------------------------


@register(
    task=Task.SELF_SUPERVISED, aliases=("info_nce", "nt_xent"),
    formula="mean over positive pairs (i, j) of -log(e^(s_ij) / (e^(s_ij) + sum_{k: y_k != y_i} e^(s_ik))),  "
            "s = cos / temperature",
    latex=(r"\frac{1}{|P|} \sum_{(i, j) \in P} -\log \frac{e^{s_{ij}}}{e^{s_{ij}} + \sum_{k : y_k \ne y_i} e^{s_{ik}}}"
           r", \quad s_{ij} = \frac{\cos(z_i, z_j)}{\mathtt{temperature}}"
           r", \quad P = \{(i, j) : i \ne j,\ y_i = y_j\}"),
    summary="contrastive self-supervised learning (SimCLR): views of one example together, all others apart",
    hyperparameters={"temperature": Hyperparameter(low=0.0, low_open=True, doc="scale of the cosine logits",
                                                   slider=(0.05, 1.0))},
    properties=("nonnegative",),
    inputs=_kinds.CONTRASTIVE_BATCH, toy_problem=problems.EMBEDDING, optax="ntxent",
    reference="Chen et al., A Simple Framework for Contrastive Learning of Visual Representations, 2020; "
              "optax.losses.ntxent",
)
def ntxent(
    embeddings: ArrayLike, labels: ArrayLike, *, temperature: float = 0.07,
    weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """NT-Xent (normalised temperature-scaled cross-entropy; InfoNCE), as optax's ``ntxent``.

    Examples with the same label are positives of each other (two augmented
    views of one image, in SimCLR). With ``s_ij = cos(x_i, x_j) / temperature``
    each positive pair ``(i, j)`` costs
    ``-log(e^(s_ij) / (e^(s_ij) + sum_{k: y_k != y_i} e^(s_ik)))`` (the
    negatives of ``i`` and this one positive, as in optax and
    pytorch-metric-learning's ``NTXentLoss``), and the loss is the mean over all
    positive pairs of the batch: exactly ``optax.losses.ntxent``.

    Per anchor (``reduction="none"``), anchor ``i`` gets its share of that mean,
    ``(n / P) sum_{j positive of i} loss_ij`` for a batch of ``n`` examples with
    ``P`` positive pairs in all, so ``"mean"`` equals optax's value for any
    labels. An anchor without a positive gets 0 and does not count in ``P``
    (optax agrees); a batch without any positive pair costs 0 (optax gives NaN).

    Args:
      embeddings: shape ``(..., n, d)``; each ``(n, d)`` slice is one batch
        (leading axes are independent batches).
      labels: integer group ids, shape ``(..., n)``.
      temperature: > 0; optax's default 0.07. A single number (the scale of every
        cosine logit of the batch); an array raises a ``TypeError``.
      weights: per-anchor weights, broadcastable to ``(..., n)``.
      where: per-example boolean mask; an excluded example is removed from its
        batch (as anchor and as candidate).
      reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per anchor).

    Numerical care: norms are bounded below by ``sqrt(finfo.eps)`` as in optax
    (finite at zero vectors); each term is ``softplus(logsumexp_neg - s_ij)``
    with a masked, max-shifted log-sum-exp; anchors without negatives cost 0.

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> x = jnp.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    >>> bool(jl.ntxent(x, jnp.array([0, 0, 1, 1])) < jl.ntxent(x, jnp.array([0, 1, 0, 1])))
    True

    Reference: optax.losses.ntxent (0.2.8; same value wherever it is finite).
    """
    fn = "ntxent"
    temperature = single_number(temperature, name="temperature", fn=fn,
                                meaning="the scale of every cosine logit of the batch")
    x = _core.float_array(embeddings, name="embeddings", fn=fn)
    _core.check_rank(x, min_rank=2, fn=fn, name="embeddings", meaning="a batch of n examples with d features")
    y = jnp.asarray(labels)
    if tuple(y.shape) != x.shape[:-1]:
        raise ValueError(
            f"{fn}: labels must hold one integer group id per embedding, shape {tuple(x.shape[:-1])} "
            f"(the embeddings' shape {tuple(x.shape)} without the feature axis); got labels of shape "
            f"{tuple(y.shape)}."
        )
    y = _core.label_array(y, name="labels", fn=fn)
    mask = _core.mask_array(where, x.shape[:-1], fn=fn)
    dtype = x.dtype
    work = _core.compute_dtype(dtype)
    x = _core.exclude(x, mask).astype(work)
    y = _core.exclude(y, mask)
    n = x.shape[-2]

    # optax's cosine: each norm is sqrt(max(|x|^2, eps)), finite at a zero vector.
    unit = x / jnp.sqrt(jnp.maximum(jnp.sum(x * x, axis=-1, keepdims=True), jnp.finfo(work).eps))
    s = jnp.sum(unit[..., None, :, :] * unit[..., :, None, :], axis=-1) / temperature  # s[..., i, j]

    included = jnp.ones(x.shape[:-1], bool) if mask is None else mask
    both = included[..., :, None] & included[..., None, :]
    same = y[..., :, None] == y[..., None, :]
    not_self = jnp.broadcast_to(~jnp.eye(n, dtype=bool), same.shape)
    positive = same & not_self & both
    negative = ~same & both

    # log sum_{k negative} exp(s_ik), max-shifted; rows without negatives are handled below.
    has_negative = jnp.any(negative, axis=-1)
    shift = jax.lax.stop_gradient(jnp.max(jnp.where(negative, s, -jnp.inf), axis=-1))
    shift = jnp.where(has_negative, shift, 0.0)
    # Double where: s - shift of a non-negative entry can overflow exp (then 0 * inf = NaN in the gradient).
    total = jnp.sum(jnp.where(negative, jnp.exp(jnp.where(negative, s - shift[..., None], 0.0)), 0.0), axis=-1)
    lse_negative = jnp.log(jnp.where(has_negative, total, 1.0)) + shift
    # -log(e^s / (e^s + e^lse)) = softplus(lse - s): stable for any gap; 0 without negatives.
    pair = jnp.where(has_negative[..., None], _core.softplus(lse_negative[..., None] - s), 0.0)
    per_anchor = jnp.sum(jnp.where(positive, pair, 0.0), axis=-1)

    num_pairs = jnp.sum(positive, axis=(-2, -1)).astype(work)
    num_examples = jnp.sum(included, axis=-1).astype(work)
    scale = jnp.where(num_pairs > 0, num_examples / jnp.where(num_pairs > 0, num_pairs, 1.0), 0.0)
    values = per_anchor * scale[..., None]
    return _core.reduce(values, reduction=reduction, weights=weights, mask=mask, dtype=dtype, fn=fn)
