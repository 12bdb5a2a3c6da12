"""The states of the streaming metrics: pytrees of arrays with fixed shapes and dtypes (private).

A one-shot metric computes the same statistics on one batch and reads its value from them, so the two
agree by construction. Every state here merges by addition except :class:`MomentsState` (see
``_regression.merge_moments``).
"""

from __future__ import annotations

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


def mean_stats(values: Array, w: Array, mask: Array | None) -> MeanState:
    values = _inputs.masked(values, mask)
    return MeanState(jnp.sum(w * values), jnp.sum(w))


def mean_compute(state: MeanState) -> Array:
    return _inputs.safe_div(state.total, state.weight)
