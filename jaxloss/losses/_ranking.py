"""Ranking losses: scores for a list of items against graded relevance labels.

Conventions of this family:

- ``scores`` and ``relevance`` have shape ``(..., list_size)``: the last axis
  is one list (the items of one query), the leading axes index lists.
  ``reduction="none"`` gives **one value per list**; ``weights=`` are per list.
- ``where=`` accepts two kinds of mask:

  * an **item mask** of the scores' shape ``(..., list_size)`` (or any shape
    that broadcasts to it, such as ``(n, 1)``): False marks padding inside a
    list. A masked item is removed from its list: the loss equals the loss
    of the list without it, and the item gets a zero gradient, whatever its
    score or relevance (NaN included).
  * a **list mask** of exactly the list shape ``scores.shape[:-1]``, as for
    every other jaxloss loss: False excludes the whole list.

  A list whose items are all masked is excluded like a masked list: its
  ``"none"`` value is 0, it does not count in ``"mean"``, and its gradient is 0
  (finite). ``"mean"`` is the (weighted) mean over the lists with at least one
  item left, 0 if there is none.

>>> import jax.numpy as jnp, jaxloss as jl
>>> scores = jnp.array([[2.0, 1.0, 0.0], [1.0, 0.5, 1.5]])
>>> relevance = jnp.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
>>> items = jnp.array([[True, True, False], [True, True, True]])  # the last item of list 0 is padding
>>> same = jl.pairwise_logistic(scores[:1, :2], relevance[:1, :2], reduction="none")
>>> bool(jnp.isclose(jl.pairwise_logistic(scores, relevance, where=items, reduction="none")[0], same[0]))
True
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxloss import _core, _kinds
from jaxloss._core import ArrayLike, Reduction
from jaxloss._kinds import problems
from jaxloss._registry import Task, register
from jaxloss.losses._pairwise import logistic_pair_mean, relevance_pairs

__all__ = ["pairwise_logistic", "listwise_softmax"]


class _Lists(NamedTuple):
    scores: jax.Array  # (..., L) in the compute dtype, masked items zeroed
    relevance: jax.Array  # (..., L) likewise
    items: jax.Array | None  # (..., L) item mask, or None for "every item"
    lists: jax.Array | None  # (...) lists with at least one item left
    valid: jax.Array | None  # (..., L) relevance allowed (listwise: >= 0), for _core.poison_invalid
    dtype: Any  # output dtype


def _item_mask(where: ArrayLike, shape: tuple[int, ...], *, fn: str) -> jax.Array:
    """``where`` as an item mask of ``shape``: a list-shaped mask covers whole lists."""
    where = _core.mask_array(where, tuple(np.shape(where)), fn=fn)  # the boolean check
    if where.shape == shape[:-1]:
        where = where[..., None]  # one flag per list
    try:
        return jnp.broadcast_to(where, shape)
    except ValueError:
        raise ValueError(
            f"{fn}: where of shape {tuple(where.shape)} fits neither the lists nor the items; pass a list mask "
            f"of shape {shape[:-1]} (or {shape[:-1] + (1,)}) or an item mask of the scores' shape {shape}."
        ) from None


def _list_inputs(fn: str, scores: ArrayLike, relevance: ArrayLike, where: ArrayLike | None,
                 *, nonnegative: bool) -> _Lists:
    s = _core.float_array(scores, name="scores", fn=fn)
    _core.check_rank(s, min_rank=1, fn=fn, name="scores", meaning="the items of a list on the last axis")
    r = _core.target_array(relevance, like=s, name="relevance", fn=fn)
    _core.check_same_shape(s, r, fn=fn, names=("scores", "relevance"))
    items = None if where is None else _item_mask(where, s.shape, fn=fn)
    valid = _core.check_targets(r, _core.Targets.NONNEGATIVE, fn=fn, mask=items, name="relevance") if nonnegative \
        else None
    work = _core.compute_dtype(s.dtype)
    lists = None if items is None else jnp.any(items, axis=-1)
    return _Lists(_core.exclude(s, items).astype(work), _core.exclude(r, items).astype(work), items, lists, valid,
                  s.dtype)


def _reduce_lists(values: jax.Array, inputs: _Lists, *, fn: str, weights: Any, reduction: str) -> jax.Array:
    """Reduces one value per list: NaN where the relevance is invalid, over the lists with an item left."""
    if inputs.valid is not None:
        values = _core.poison_invalid(values, inputs.valid)
    return _core.reduce(values, reduction=reduction, weights=weights, mask=inputs.lists, dtype=inputs.dtype, fn=fn)


@register(
    task=Task.RANKING, aliases=("ranknet",),
    formula="mean over pairs (i, j) with r_i > r_j of log(1 + exp(-(s_i - s_j)))",
    latex=r"\frac{1}{|P|} \sum_{(i, j) \in P} \log\left(1 + e^{-(s_i - s_j)}\right), \quad P = \{(i, j) : r_i > r_j\}",
    summary="learning to rank from graded relevance: every better item should outscore every worse one",
    properties=("nonnegative", "zero_at_target", "convex", "bounded_gradient", "smooth"),
    inputs=_kinds.RANKING_LISTS, toy_problem=problems.RANKING,
    reference="Burges et al., Learning to Rank using Gradient Descent (RankNet), 2005; "
              "rax.pairwise_logistic_loss (averaged per list)",
)
def pairwise_logistic(
    scores: ArrayLike, relevance: ArrayLike, *, gap_weighted: bool = False, weights: ArrayLike | None = None,
    where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Pairwise logistic (RankNet) loss over each list.

    For every pair of items ``(i, j)`` of a list with ``r_i > r_j``, the
    logistic loss of their score difference, ``log(1 + exp(-(s_i - s_j)))``,
    averaged over the list's pairs: one value per list. With
    ``gap_weighted=True`` each pair is weighted by its relevance gap
    ``r_i - r_j`` (a weighted mean over the pairs), so swapping a very relevant
    and an irrelevant item costs more than swapping two similar ones. A list
    with no such pair (ties only, or one item) has loss 0 and still counts in
    ``"mean"``. Only the order of the relevance labels matters (with
    ``gap_weighted=False``), so any real labels work.

    Use it to learn a scoring function for ranking (search, recommendation)
    from graded or binary relevance. With 0/1 relevance it is
    :func:`jaxloss.pairwise_auc` (the ROC AUC surrogate, one set per list):
    the same pairs, the same shared kernel (``_pairwise.py``).

    Args:
      scores: item scores, shape ``(..., list_size)``.
      relevance: relevance labels, the same shape.
      gap_weighted: weight each pair by ``r_i - r_j`` instead of 1.
      weights: per-list weights, broadcastable to ``scores.shape[:-1]``.
      where: item mask ``(..., list_size)`` (padding) or list mask
        ``scores.shape[:-1]``; see the module docstring.
      reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per list).

    Numerical care: the pair terms are ``softplus(-(s_i - s_j))`` with a stable
    softplus (finite at score gaps of 2e4, exact Hessian at ties); a list
    without pairs divides by 1, not 0; masked items are zeroed before use.
    The pair terms take ``O(list_size^2)`` memory.

    >>> import jax.numpy as jnp, jaxloss as jl, math
    >>> loss = jl.pairwise_logistic(jnp.array([0.0, 1.0]), jnp.array([1.0, 0.0]))
    >>> bool(jnp.isclose(loss, math.log(1 + math.e)))  # the better item scored 1 lower
    True
    """
    fn = "pairwise_logistic"
    inputs = _list_inputs(fn, scores, relevance, where, nonnegative=False)
    pairs = relevance_pairs(inputs.relevance, inputs.items, gap_weighted=gap_weighted)
    values = logistic_pair_mean(inputs.scores, pairs)
    return _reduce_lists(values, inputs, fn=fn, weights=weights, reduction=reduction)


@register(
    task=Task.RANKING, aliases=("listnet",),
    formula="-sum_i q_i log softmax(s)_i,  q = r / sum(r) over the list",
    latex=r"-\sum_i q_i \log \operatorname{softmax}(s)_i, \quad q_i = r_i / \sum_j r_j",
    summary="learning to rank: match the list's softmax over scores to its relevance distribution (ListNet)",
    properties=("nonnegative", "convex", "bounded_gradient", "smooth"),
    inputs=_kinds.RANKING_LISTS, toy_problem=problems.RANKING,
    reference="Cao et al., Learning to Rank: From Pairwise Approach to Listwise Approach (ListNet), 2007; "
              "rax.softmax_loss; optax.losses.ranking_softmax_loss with normalize=False",
)
def listwise_softmax(
    scores: ArrayLike, relevance: ArrayLike, *, normalize: bool = True, weights: ArrayLike | None = None,
    where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Listwise softmax cross-entropy (ListNet top-one) over each list.

    ``-sum_i q_i log p_i`` with ``p = softmax(scores)`` over the list's items
    and ``q = r / sum_i r_i`` the relevance normalised to a distribution; a
    list with no relevant item (all ``r_i = 0``) has loss 0. One value per
    list. With ``normalize=False``, ``q = r`` as given: then it equals
    optax 0.2.8's ``ranking_softmax_loss`` (which does not normalise) on the
    same input, masks included.

    Use it to learn to rank when the relevance labels say how much of the
    "attention" each item deserves; it is cheaper than pairwise losses
    (``O(list_size)`` per list).

    Args:
      scores: item scores, shape ``(..., list_size)``.
      relevance: non-negative relevance labels, the same shape.
      normalize: divide the relevance by its sum over the list (ListNet, rax).
      weights: per-list weights, broadcastable to ``scores.shape[:-1]``.
      where: item mask ``(..., list_size)`` (padding) or list mask
        ``scores.shape[:-1]``; see the module docstring.
      reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per list).

    Numerical care: the log-softmax subtracts the (stop-gradient) maximum of
    the unmasked scores and leaves masked items out of the normaliser without
    ever evaluating ``exp`` at them; an all-masked list gives 0 with a zero
    gradient.

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> loss = jl.listwise_softmax(jnp.array([2.0, 1.0, 3.0]), jnp.array([1.0, 0.0, 0.0]))
    >>> round(float(loss), 3)  # optax's documented example
    1.408
    """
    fn = "listwise_softmax"
    inputs = _list_inputs(fn, scores, relevance, where, nonnegative=True)
    s, r, items = inputs.scores, inputs.relevance, inputs.items
    if items is None:
        log_p = jax.nn.log_softmax(s, axis=-1)
    else:
        # Log-softmax over the unmasked items only (masked scores are 0 here).
        top = jax.lax.stop_gradient(jnp.max(jnp.where(items, s, -jnp.inf), axis=-1, keepdims=True))
        top = jnp.where(jnp.isfinite(top), top, 0.0)
        shifted = jnp.where(items, s - top, 0.0)  # exp is never taken of a masked item's gap
        total = jnp.sum(jnp.where(items, jnp.exp(shifted), 0.0), axis=-1, keepdims=True)
        log_p = shifted - jnp.log(jnp.where(total > 0, total, 1.0))
    q = r
    if normalize:
        mass = jnp.sum(r, axis=-1, keepdims=True)
        q = r / jnp.where(mass > 0, mass, 1.0)  # an all-zero list keeps q = 0: loss 0
    values = -jnp.sum(q * log_p, axis=-1)
    return _reduce_lists(values, inputs, fn=fn, weights=weights, reduction=reduction)
