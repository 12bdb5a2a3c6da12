"""The states of the streaming metrics: pytrees of arrays with fixed shapes and dtypes (private).

A one-shot metric computes the same statistics on one batch and reads its value from them, so the two
agree by construction. Every state here merges by addition except :class:`MomentsState` (see
``_regression.merge_moments``) and :class:`RankingState` (it keeps the entries themselves: merging
concatenates them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jax.numpy as jnp
from jax import Array

from jaxloss.metrics import _inputs


class MeanState(NamedTuple):
    """Weighted sum of per-sample values and the total weight."""

    total: Array
    weight: Array


class ConfusionState(NamedTuple):
    """Weighted confusion matrix (rows true, columns predicted) and per-class presence counts."""

    matrix: Array
    present: Array


class MomentsState(NamedTuple):
    """Sample count, total weight, weighted target mean, sum of squared deviations, residual SS."""

    count: Array
    weight: Array
    mean: Array
    m2: Array
    sse: Array


class BinnedState(NamedTuple):
    """Per-bin total weight, weighted confidence sum and weighted correct (or positive) sum."""

    weight: Array
    confidence: Array
    correct: Array


class HistogramState(NamedTuple):
    """Per-bin weight of positive and of negative samples."""

    positive: Array
    negative: Array


class RankingState(NamedTuple):
    """Every entry seen so far, in buffers: the exact ranking metrics' state (ROC AUC, average precision).

    ``scores``, ``positive`` and ``weights`` (0 for an entry ``where`` excludes) hold one entry per
    slot; the first ``count`` slots are in use, the others are ignored. ``dropped`` is True when a batch
    did not fit in the buffers (the value is then NaN, never a number computed on part of the data).
    """

    scores: Array
    positive: Array
    weights: Array
    count: Array
    dropped: Array

    @property
    def capacity(self) -> int:
        """How many entries the buffers hold (their static length)."""
        return int(self.scores.shape[0])

    @staticmethod
    def concatenate(states: Sequence[RankingState]) -> RankingState:
        """The entries of ``states`` one after the other, for states whose buffers are full.

        ``count == capacity`` for each (what an update of a state of capacity 0 gives): one
        concatenation per buffer. ``fit`` keeps an iterable's entries on the host this way.
        """
        buffers = [jnp.concatenate([getattr(s, k) for s in states]) for k in ("scores", "positive", "weights")]
        count = jnp.sum(jnp.stack([s.count for s in states]))
        return RankingState(*buffers, count, jnp.any(jnp.stack([s.dropped for s in states])))


def mean_stats(values: Array, w: Array, mask: Array | None) -> MeanState:
    values = _inputs.masked(values, mask)
    return MeanState(jnp.sum(w * values), jnp.sum(w))


def mean_compute(state: MeanState) -> Array:
    return _inputs.safe_div(state.total, state.weight)
