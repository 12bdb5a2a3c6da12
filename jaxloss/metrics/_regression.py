"""Regression metrics: MSE, RMSE, MAE and R^2, with the stable moments R^2 streams on (private)."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
from jax import Array

from jaxloss._core import ArrayLike
from jaxloss.metrics import _inputs
from jaxloss.metrics._states import MomentsState


def regression_inputs(fn: str, predictions: Any, targets: Any, weights: Any,
                      where: Any) -> tuple[Array, Array, Array, Array | None]:
    """Predictions and targets in a float dtype (masked entries zeroed), the weights and the mask."""
    predictions = _inputs.as_array(predictions, name="predictions", fn=fn)
    targets = _inputs.as_array(targets, name="targets", fn=fn)
    _inputs.check_same_shape(predictions, targets, fn=fn)
    dtype = _inputs.float_dtype(predictions, targets)
    w, mask = _inputs.sample_weights(fn, targets.shape, weights, where, dtype)
    p = _inputs.masked(predictions.astype(dtype), mask)
    t = _inputs.masked(targets.astype(dtype), mask)
    return p, t, w, mask


def moments_stats(fn: str, predictions: Any, targets: Any, weights: Any, where: Any) -> MomentsState:
    p, t, w, mask = regression_inputs(fn, predictions, targets, weights, where)
    count = jnp.sum(jnp.ones(t.shape, w.dtype) if mask is None else mask.astype(w.dtype))
    weight = jnp.sum(w)
    mean = _inputs.safe_div(jnp.sum(w * t), weight)
    m2 = jnp.sum(w * (t - mean) ** 2)  # two-pass within the batch: no cancellation
    sse = jnp.sum(w * (t - p) ** 2)
    return MomentsState(count, weight, mean, m2, sse)


def merge_moments(a: MomentsState, b: MomentsState) -> MomentsState:
    # Chan, Golub & LeVeque (1979) pairwise update: stable where sum(y^2) - n mean^2 would cancel.
    weight = a.weight + b.weight
    delta = b.mean - a.mean
    frac = _inputs.safe_div(b.weight, weight)
    mean = a.mean + delta * frac
    m2 = a.m2 + b.m2 + delta * delta * a.weight * frac
    return MomentsState(a.count + b.count, weight, mean, m2, a.sse + b.sse)


def r2_from_state(s: MomentsState) -> Array:
    # scikit-learn's force_finite: a constant target gives 1 if predicted exactly, else 0.
    r2 = jnp.where(s.m2 != 0, 1 - _inputs.safe_div(s.sse, s.m2), jnp.where(s.sse == 0, 1.0, 0.0))
    return jnp.where(s.count < 2, jnp.nan, r2)


@_inputs.compiled(targets=False)
def mean_squared_error(predictions: ArrayLike, targets: ArrayLike, *, weights: ArrayLike | None = None,
                       where: ArrayLike | None = None) -> Array:
    """Mean squared error ``sum_i w_i (p_i - y_i)^2 / sum_i w_i`` over all entries.

    Use it for regression when large errors should dominate. All entries are one pool (for an
    ``(n, d)`` array with per-row weights pass ``weights[:, None]``; the value equals scikit-learn's
    uniform average over outputs). Empty input gives 0.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import metrics
      >>> float(metrics.mean_squared_error(jnp.array([2.5, 0.0, 2.0, 8.0]), jnp.array([3.0, -0.5, 2.0, 7.0])))
      0.375

    Reference: ``sklearn.metrics.mean_squared_error``.
    """
    p, t, w, _ = regression_inputs("mean_squared_error", predictions, targets, weights, where)
    return _inputs.safe_div(jnp.sum(w * (p - t) ** 2), jnp.sum(w))


@_inputs.compiled(targets=False)
def root_mean_squared_error(predictions: ArrayLike, targets: ArrayLike, *, weights: ArrayLike | None = None,
                            where: ArrayLike | None = None) -> Array:
    """Root mean squared error ``sqrt(mean_squared_error)``, in the targets' units.

    All entries form one pool (scikit-learn averages per-output RMSEs for 2-D targets instead:
    ``jax.vmap`` over the output axis to get that). Empty input gives 0.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import metrics
      >>> float(metrics.root_mean_squared_error(jnp.array([1.0, 3.0]), jnp.array([2.0, 2.0])))
      1.0

    Reference: ``sklearn.metrics.root_mean_squared_error``.
    """
    p, t, w, _ = regression_inputs("root_mean_squared_error", predictions, targets, weights, where)
    return jnp.sqrt(_inputs.safe_div(jnp.sum(w * (p - t) ** 2), jnp.sum(w)))


@_inputs.compiled(targets=False)
def mean_absolute_error(predictions: ArrayLike, targets: ArrayLike, *, weights: ArrayLike | None = None,
                        where: ArrayLike | None = None) -> Array:
    """Mean absolute error ``sum_i w_i |p_i - y_i| / sum_i w_i`` over all entries.

    Robust to outliers compared with MSE. Empty input gives 0.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import metrics
      >>> float(metrics.mean_absolute_error(jnp.array([2.5, 0.0, 2.0, 8.0]), jnp.array([3.0, -0.5, 2.0, 7.0])))
      0.5

    Reference: ``sklearn.metrics.mean_absolute_error``.
    """
    p, t, w, _ = regression_inputs("mean_absolute_error", predictions, targets, weights, where)
    return _inputs.safe_div(jnp.sum(w * jnp.abs(p - t)), jnp.sum(w))


@_inputs.compiled(targets=False)
def r2_score(predictions: ArrayLike, targets: ArrayLike, *, weights: ArrayLike | None = None,
             where: ArrayLike | None = None) -> Array:
    """Coefficient of determination ``R^2 = 1 - SS_res / SS_tot``.

    ``SS_res = sum_i w_i (y_i - p_i)^2``, ``SS_tot = sum_i w_i (y_i - ybar_w)^2`` with the weighted
    mean ``ybar_w``. 1 is perfect, 0 is predicting the mean, negative is worse than that. All
    entries form one pool (``jax.vmap`` over an output axis for per-output values). Numerical care:
    ``SS_tot`` uses two passes (never ``sum y^2 - n ybar^2``, which cancels). Edge cases as
    scikit-learn (``force_finite=True``): constant targets give 1 if predicted exactly, else 0; fewer
    than two (unmasked) samples give NaN.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import metrics
      >>> round(float(metrics.r2_score(jnp.array([2.5, 0.0, 2.0, 8.0]), jnp.array([3.0, -0.5, 2.0, 7.0]))), 4)
      0.9486

    Reference: ``sklearn.metrics.r2_score``.
    """
    return r2_from_state(moments_stats("r2_score", predictions, targets, weights, where))
