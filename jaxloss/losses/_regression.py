"""Regression losses: a real-valued prediction against a real-valued target.

All losses here are element-wise: ``predictions`` and ``targets`` have the same
shape (no silent broadcasting), the loss is computed per entry, and
``reduction="none"`` returns one value per entry. The error is
``e = predictions - targets``.

Conventions shared by every jaxloss loss: options are keyword-only;
``weights=`` broadcasts to the per-entry losses; ``where=`` is a boolean mask
(excluded entries contribute nothing to the value or the gradient);
``reduction="mean"`` is the weighted mean ``sum(w * l) / sum(w)`` over the
included entries (0 if none); half-precision inputs are computed in float32 and
returned in their own dtype.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxloss import _core, _kinds
from jaxloss._core import ArrayLike, Reduction
from jaxloss._kinds import problems
from jaxloss._registry import Hyperparameter, Task, register


__all__ = [
    "mean_squared_error", "mean_absolute_error", "huber", "smooth_l1", "log_cosh", "quantile",
    "mean_squared_log_error", "mean_absolute_percentage_error", "poisson_nll", "gaussian_nll",
]

_LOG2 = math.log(2.0)
# scikit-learn's floor for |target| in MAPE (float64 machine epsilon).
_MAPE_EPSILON = 2.220446049250313e-16
# PyTorch's floors for the Poisson rate (log_input=False) and the Gaussian variance.
_POISSON_EPSILON = 1e-8
_VARIANCE_EPSILON = 1e-6


@register(
    task=Task.REGRESSION, aliases=("mse", "l2"),
    formula="(p - t)^2",
    latex=r"(p - t)^2",
    torch="torch.nn.MSELoss", keras="keras.losses.MeanSquaredError",
    summary="the default for regression with well-behaved noise; punishes large errors hard",
    properties=("nonnegative", "zero_at_target", "convex", "symmetric", "smooth"),
    inputs=_kinds.REGRESSION, toy_problem=problems.REGRESSION, optax="squared_error",
    reference="Gauss (1809); torch.nn.MSELoss; keras.losses.MeanSquaredError",
)
def mean_squared_error(
    predictions: ArrayLike, targets: ArrayLike, *, weights: ArrayLike | None = None,
    where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Mean squared error, ``(p - t)^2`` per entry.

    Use it when errors are roughly Gaussian and large errors should cost much
    more than small ones (an error of 3 costs 9, of 10 costs 100). It is
    pulled by outliers; see :func:`huber` or :func:`mean_absolute_error`.

    Args:
      predictions: real array, any shape.
      targets: real array of the same shape.
      weights: optional weights broadcastable to the per-entry losses.
      where: optional boolean mask of the entries to include.
      reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (per entry).

    Returns:
      A scalar, or an array of the predictions' shape with ``reduction="none"``.

    An error of +3 and an error of -3 cost the same:

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> float(jl.mean_squared_error(jnp.array([3.0, -3.0]), jnp.array([0.0, 0.0])))
    9.0
    """
    return _core.elementwise(
        lambda p, t: jnp.square(p - t), predictions, targets,
        fn="mean_squared_error", weights=weights, where=where, reduction=reduction,
    )


@register(
    task=Task.REGRESSION, aliases=("mae", "l1"),
    formula="|p - t|",
    latex=r"|p - t|",
    torch="torch.nn.L1Loss", keras="keras.losses.MeanAbsoluteError",
    summary="regression robust to outliers; estimates the median",
    properties=("nonnegative", "zero_at_target", "convex", "symmetric", "bounded_gradient"),
    inputs=_kinds.REGRESSION, toy_problem=problems.REGRESSION_OUTLIERS,
    reference="Laplace (1774); torch.nn.L1Loss; keras.losses.MeanAbsoluteError",
)
def mean_absolute_error(
    predictions: ArrayLike, targets: ArrayLike, *, weights: ArrayLike | None = None,
    where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Mean absolute error, ``|p - t|`` per entry.

    Use it when a few large errors (outliers) should not dominate: the cost
    grows linearly (an error of 10 costs 10, of 20 costs 20) and the gradient
    is ``sign(p - t)``, the same size for every example. Its minimiser is the
    median. The gradient at exactly ``p == t`` is 0 (a subgradient).

    Args:
      predictions: real array, any shape.
      targets: real array of the same shape.
      weights, where, reduction: as in :func:`mean_squared_error`.

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> float(jl.mean_absolute_error(jnp.array([10.0, 20.0]), jnp.array([0.0, 0.0]), reduction="sum"))
    30.0
    """
    return _core.elementwise(
        lambda p, t: _core.absolute(p - t), predictions, targets,
        fn="mean_absolute_error", weights=weights, where=where, reduction=reduction,
    )


def _huber_kernel(error: jax.Array, delta: jax.Array) -> jax.Array:
    # Quadratic part on the error clipped to [-delta, delta], linear part on what lies beyond: the
    # gradient is e inside and delta * sign(e) outside (both e at |e| = delta, PyTorch's value there),
    # never counted twice, and the second derivative is 1 inside (at e = 0 too: no |e| in that part).
    quadratic = jnp.clip(error, -delta, delta)
    return 0.5 * jnp.square(quadratic) + delta * jnp.maximum(_core.absolute(error) - delta, 0.0)


def _smooth_l1_kernel(error: jax.Array, beta: jax.Array) -> jax.Array:
    # PyTorch's piecewise form: 0.5 e^2 / beta for |e| < beta, |e| - 0.5 beta otherwise. Written as
    # Huber / beta it would be 0 / 0 at beta = 0. Here 1 / beta is taken as 0 at beta = 0 (double
    # where), where the quadratic zone is empty anyway, so beta = 0 is the absolute error whether beta
    # is a Python number, an array or traced. e = 0 counts as inside for every beta: the loss there
    # is 0 for every beta >= 0 (derivative 0 in beta; the linear piece would say -1/2). The signed
    # e gives the exact second derivative 1 / beta at e = 0; 0.5 e (e / beta) never forms e^2, which
    # would overflow for a huge beta.
    inside = (_core.absolute(error) < beta) | (error == 0)
    positive = beta > 0
    inverse = jnp.where(positive, 1 / jnp.where(positive, beta, jnp.ones((), beta.dtype)), jnp.zeros((), beta.dtype))
    e_in = jnp.where(inside, error, jnp.zeros((), error.dtype))
    return jnp.where(inside, 0.5 * e_in * (e_in * inverse), _core.absolute(error) - 0.5 * beta)


@register(
    task=Task.REGRESSION,
    formula="0.5 e^2 if |e| <= delta else delta (|e| - 0.5 delta)",
    latex=(r"\begin{cases} \frac{1}{2} e^2 & |e| \le \delta \\ \delta \left(|e| - \frac{1}{2} \delta\right) & \text{otherwise} \end{cases}"
           r", \quad e = p - t"),
    torch="torch.nn.HuberLoss", keras="keras.losses.Huber",
    summary="squared error near the target, absolute error far away: robust and smooth",
    hyperparameters={"delta": Hyperparameter(low=0.0, low_open=True, doc="where quadratic turns linear", slider=(0.1, 5.0))},
    properties=("nonnegative", "zero_at_target", "convex", "symmetric", "bounded_gradient"),
    inputs=_kinds.REGRESSION, toy_problem=problems.REGRESSION_OUTLIERS, optax="huber_loss",
    reference="Huber, Robust Estimation of a Location Parameter, 1964; torch.nn.HuberLoss",
)
def huber(
    predictions: ArrayLike, targets: ArrayLike, *, delta: float = 1.0, weights: ArrayLike | None = None,
    where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Huber loss: quadratic for ``|e| <= delta``, linear beyond.

    ``0.5 e^2`` if ``|e| <= delta`` else ``delta * (|e| - 0.5 delta)``, with
    ``e = p - t``. Use it for regression with outliers when you still want a
    smooth minimum: the gradient is ``e`` near the target and is clipped to
    ``delta`` in size far from it. Matches PyTorch's ``HuberLoss`` and Keras's
    ``Huber``; optax's ``huber_loss`` is the same per-entry function. The
    gradient at the joins ``|e| = delta`` is ``e`` (both pieces agree there, as
    in PyTorch) and at ``e = 0`` it is 0.

    Args:
      predictions: real array, any shape.
      targets: real array of the same shape.
      delta: the error at which the loss turns linear (> 0), a number or an
        array broadcastable to the predictions (differentiable).
      weights, where, reduction: as in :func:`mean_squared_error`.

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> jl.huber(jnp.array([0.5, 2.0, 10.0]), jnp.zeros(3), reduction="none").tolist()
    [0.125, 1.5, 9.5]
    """
    return _core.parametrized_elementwise(
        lambda p, t, delta: _huber_kernel(p - t, delta), predictions, targets, fn="huber",
        parameters={"delta": (delta, 1.0)},
        weights=weights, where=where, reduction=reduction,
    )


@register(
    task=Task.REGRESSION,
    formula="0.5 e^2 / beta if |e| < beta else |e| - 0.5 beta",
    latex=(r"\begin{cases} \frac{1}{2} e^2 / \beta & |e| < \beta \\ |e| - \frac{1}{2} \beta & \text{otherwise} \end{cases}"
           r", \quad e = p - t"),
    torch="torch.nn.SmoothL1Loss",
    summary="PyTorch's smooth L1 (Fast R-CNN box regression): L1 with a rounded minimum",
    hyperparameters={"beta": Hyperparameter(low=0.0, doc="0 gives plain L1", slider=(0.0, 5.0))},
    properties=("nonnegative", "zero_at_target", "convex", "symmetric", "bounded_gradient"),
    inputs=_kinds.REGRESSION, toy_problem=problems.REGRESSION_OUTLIERS,
    reference="Girshick, Fast R-CNN, 2015; torch.nn.SmoothL1Loss",
)
def smooth_l1(
    predictions: ArrayLike, targets: ArrayLike, *, beta: float = 1.0, weights: ArrayLike | None = None,
    where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Smooth L1 loss, PyTorch's definition: Huber divided by ``beta``.

    ``0.5 e^2 / beta`` if ``|e| < beta`` else ``|e| - 0.5 beta``. The gradient
    is bounded by 1 whatever ``beta``; ``beta = 0`` is exactly the absolute
    error, however ``beta`` arrives (a Python number, an array, a traced value).
    The gradient is ``sign(e)`` at ``|e| = beta`` and 0 at ``e = 0``, PyTorch's
    values. Use it for bounding-box regression or wherever PyTorch code used it.

    Args:
      predictions: real array, any shape.
      targets: real array of the same shape.
      beta: width of the quadratic zone (>= 0), a number or an array
        broadcastable to the predictions (differentiable).
      weights, where, reduction: as in :func:`mean_squared_error`.

    Numerical care: computed piecewise, as PyTorch does, with a double ``where``
    around the division by ``beta``: at ``beta = 0`` the quadratic zone is empty
    and no ``0 / 0`` reaches the value or the gradient.

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> jl.smooth_l1(jnp.array([0.5, 3.0]), jnp.zeros(2), reduction="none").tolist()
    [0.125, 2.5]
    """
    return _core.parametrized_elementwise(
        lambda p, t, beta: _smooth_l1_kernel(p - t, beta), predictions, targets, fn="smooth_l1",
        parameters={"beta": (beta, 1.0)},
        weights=weights, where=where, reduction=reduction,
    )


@register(
    task=Task.REGRESSION, aliases=("logcosh",),
    formula="log(cosh(p - t))",
    latex=r"\log \cosh(p - t)",
    keras="keras.losses.LogCosh",
    summary="a smooth stand-in for Huber: ~e^2/2 near zero, ~|e| - log 2 far away",
    properties=("nonnegative", "zero_at_target", "convex", "symmetric", "bounded_gradient", "smooth"),
    inputs=_kinds.REGRESSION, toy_problem=problems.REGRESSION_OUTLIERS, optax="log_cosh",
    reference="keras.losses.LogCosh",
)
def log_cosh(
    predictions: ArrayLike, targets: ArrayLike, *, weights: ArrayLike | None = None,
    where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Log-cosh loss, ``log(cosh(p - t))`` per entry.

    Behaves like ``e^2 / 2`` for small errors and like ``|e| - log 2`` for large
    ones; its gradient is ``tanh(e)``, bounded by 1, and it is smooth
    everywhere. Computed as ``logaddexp(e, -e) - log 2``, because ``cosh``
    overflows for ``|e|`` above about 89 in float32.

    Args:
      predictions: real array, any shape.
      targets: real array of the same shape.
      weights, where, reduction: as in :func:`mean_squared_error`.

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> round(float(jl.log_cosh(jnp.array([1000.0]), jnp.array([0.0]))), 3)
    999.307
    """

    def kernel(p: jax.Array, t: jax.Array) -> jax.Array:
        error = p - t
        # cosh overflows for large |e|: log cosh e = logaddexp(e, -e) - log 2.
        return jnp.logaddexp(error, -error) - jnp.asarray(_LOG2, error.dtype)

    return _core.elementwise(
        kernel, predictions, targets, fn="log_cosh", weights=weights, where=where, reduction=reduction,
    )


@register(
    task=Task.QUANTILE_REGRESSION, aliases=("pinball",),
    formula="max(tau (t - p), (tau - 1) (t - p))",
    latex=r"\max\left(\tau\, (t - p),\ (\tau - 1)(t - p)\right)",
    summary="predicting a quantile (tau = 0.9: the value exceeded 10% of the time)",
    hyperparameters={"tau": Hyperparameter(low=0.0, high=1.0, doc="the quantile", slider=(0.01, 0.99))},
    properties=("nonnegative", "zero_at_target", "convex", "bounded_gradient"),
    inputs=_kinds.REGRESSION, toy_problem=problems.REGRESSION_OUTLIERS,
    reference="Koenker and Bassett, Regression Quantiles, 1978; keras_nlp / tf-addons pinball loss",
)
def quantile(
    predictions: ArrayLike, targets: ArrayLike, *, tau: float = 0.5, weights: ArrayLike | None = None,
    where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Quantile (pinball) loss for the ``tau``-quantile.

    With ``u = t - p``: ``tau * u`` if ``u >= 0`` (under-prediction) else
    ``(tau - 1) * u``. Minimised in expectation by the ``tau``-quantile of the
    target distribution; ``tau = 0.5`` is half the absolute error. Use it for
    prediction intervals or asymmetric costs. At ``p == t`` the gradient is
    ``0.5 - tau``, the midpoint of the subdifferential ``[-tau, 1 - tau]`` (0 at
    ``tau = 0.5``, as for the absolute error).

    Args:
      predictions: real array, any shape.
      targets: real array of the same shape.
      tau: the quantile, in [0, 1], a number or an array broadcastable to the
        predictions (differentiable).
      weights, where, reduction: as in :func:`mean_squared_error`.

    Under-predicting costs ``tau`` per unit, over-predicting ``1 - tau``:

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> [round(v, 4) for v in jl.quantile(jnp.array([0.0, 2.0]), jnp.array([1.0, 1.0]), tau=0.9, reduction="none").tolist()]
    [0.9, 0.1]
    """

    def kernel(error: jax.Array, tau: jax.Array) -> jax.Array:
        residual = -error
        # jnp.maximum splits its gradient at a tie: 0.5 - tau at residual = 0.
        return jnp.maximum(tau * residual, (tau - 1.0) * residual)

    return _core.parametrized_elementwise(
        lambda p, t, tau: kernel(p - t, tau), predictions, targets, fn="quantile", parameters={"tau": (tau, 0.5)},
        weights=weights, where=where, reduction=reduction,
    )


@register(
    task=Task.REGRESSION, aliases=("msle",),
    formula="(log(1 + max(p, 0)) - log(1 + max(t, 0)))^2",
    latex=r"\left(\log\left(1 + \max(p, 0)\right) - \log\left(1 + \max(t, 0)\right)\right)^2",
    keras="keras.losses.MeanSquaredLogarithmicError",
    summary="relative errors on non-negative targets spanning orders of magnitude (counts, prices)",
    properties=("nonnegative", "zero_at_target"),
    inputs=_kinds.NONNEGATIVE_REGRESSION, toy_problem=problems.REGRESSION_POSITIVE,
    reference="sklearn.metrics.mean_squared_log_error; keras.losses.MeanSquaredLogarithmicError",
)
def mean_squared_log_error(
    predictions: ArrayLike, targets: ArrayLike, *, weights: ArrayLike | None = None,
    where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Mean squared logarithmic error, ``(log1p(p) - log1p(t))^2``.

    Use it for non-negative targets where a relative error matters more than an
    absolute one. Negative values are clipped to 0 first (as Keras does), so the
    value and the gradient stay finite for any input; the gradient is 0 for
    negative predictions.

    Args:
      predictions: real array, any shape (meaningful for values >= 0).
      targets: non-negative array of the same shape.
      weights, where, reduction: as in :func:`mean_squared_error`.

    >>> import jax.numpy as jnp, jaxloss as jl, math
    >>> abs(float(jl.mean_squared_log_error(jnp.array([math.e - 1]), jnp.array([0.0]))) - 1.0) < 1e-6
    True
    """

    def kernel(p: jax.Array, t: jax.Array) -> jax.Array:
        return jnp.square(jnp.log1p(jnp.maximum(p, 0)) - jnp.log1p(jnp.maximum(t, 0)))

    return _core.elementwise(
        kernel, predictions, targets, fn="mean_squared_log_error", weights=weights, where=where, reduction=reduction,
    )


@register(
    task=Task.REGRESSION, aliases=("mape",),
    formula="|p - t| / max(|t|, eps)",
    latex=r"\frac{|p - t|}{\max(|t|, \epsilon)}",
    keras="keras.losses.MeanAbsolutePercentageError",
    summary="relative error as a fraction (0.1 = 10%), for targets far from zero",
    properties=("nonnegative", "zero_at_target", "convex", "symmetric"),
    inputs=_kinds.POSITIVE_REGRESSION, toy_problem=problems.REGRESSION_POSITIVE,
    reference="sklearn.metrics.mean_absolute_percentage_error (a fraction, not a percentage)",
)
def mean_absolute_percentage_error(
    predictions: ArrayLike, targets: ArrayLike, *, weights: ArrayLike | None = None,
    where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Mean absolute percentage error as a fraction: ``|p - t| / max(|t|, eps)``.

    Returned as a fraction like scikit-learn (0.1 means 10%), not as a
    percentage like Keras. ``eps`` is float64 machine epsilon, as in
    scikit-learn: a target of exactly 0 gives a huge but finite value. Use it
    when targets are far from zero and errors should be relative. The gradient at
    exactly ``p == t`` is 0 (a subgradient, as for the absolute error).

    Args:
      predictions: real array, any shape.
      targets: real array of the same shape, away from 0.
      weights, where, reduction: as in :func:`mean_squared_error`.

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> round(float(jl.mean_absolute_percentage_error(jnp.array([110.0, 90.0]), jnp.array([100.0, 100.0]))), 6)
    0.1
    """

    def kernel(p: jax.Array, t: jax.Array) -> jax.Array:
        return _core.absolute(p - t) / jnp.maximum(jnp.abs(t), jnp.asarray(_MAPE_EPSILON, t.dtype))

    return _core.elementwise(
        kernel, predictions, targets, fn="mean_absolute_percentage_error",
        weights=weights, where=where, reduction=reduction,
    )


@register(
    task=Task.COUNT_REGRESSION,
    formula="exp(p) - t p   (log_input=True; + t log t - t + 0.5 log(2 pi t) if full)",
    latex=r"e^{p} - t\, p \quad \left(\text{full: } + \, t \log t - t + \frac{1}{2} \log(2 \pi t)\right)",
    torch="torch.nn.PoissonNLLLoss", keras="keras.losses.Poisson",
    summary="counts (events per interval): the negative log-likelihood of a Poisson rate",
    properties=("convex", "smooth"),
    inputs=_kinds.COUNT_REGRESSION, toy_problem=problems.REGRESSION_COUNTS,
    reference="torch.nn.PoissonNLLLoss; keras.losses.Poisson (log_input=False)",
)
def poisson_nll(
    predictions: ArrayLike, targets: ArrayLike, *, log_input: bool = True, full: bool = False,
    weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Poisson negative log-likelihood of counts ``t`` under a predicted rate.

    With ``log_input=True`` (default) the predictions are log-rates ``p`` and
    the loss is ``exp(p) - t * p``; with ``log_input=False`` they are rates and
    the loss is ``p - t * log(p + 1e-8)`` (Keras's ``Poisson``). ``full=True``
    adds the Stirling term ``t log t - t + 0.5 log(2 pi t)`` (for ``t > 1``),
    which makes the loss the exact NLL up to ``log t!``. Matches PyTorch's
    ``PoissonNLLLoss``. Not non-negative: its minimum over ``p`` is
    ``t - t log t``.

    Args:
      predictions: log-rates (default) or rates.
      targets: non-negative counts, same shape.
      log_input: whether predictions are log-rates.
      full: add the Stirling approximation term.
      weights, where, reduction: as in :func:`mean_squared_error`.

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> float(jl.poisson_nll(jnp.array([0.0]), jnp.array([3.0])))
    1.0
    """

    def kernel(p: jax.Array, t: jax.Array) -> jax.Array:
        if log_input:
            values = jnp.exp(p) - t * p
        else:
            values = p - t * jnp.log(p + _POISSON_EPSILON)
        if full:
            big = t > 1
            safe_t = jnp.where(big, t, 1.0)
            stirling = safe_t * jnp.log(safe_t) - safe_t + 0.5 * jnp.log(2 * math.pi * safe_t)
            values = values + jnp.where(big, stirling, 0.0)
        return values

    return _core.elementwise(
        kernel, predictions, targets, fn="poisson_nll", weights=weights, where=where, reduction=reduction,
        targets_in=_core.Targets.NONNEGATIVE,  # counts
    )


def _check_variance(variance: jax.Array, *, fn: str) -> jax.Array:
    valid = variance >= 0
    if not _core.is_traced(valid) and not bool(np.all(np.asarray(valid))):
        arr = np.asarray(variance, dtype=np.float64)
        bad = ~np.asarray(valid)
        raise ValueError(f"{fn}: variance must be >= 0; got {arr[bad].tolist()[:5]} at positions "
                         f"{np.argwhere(bad)[:5].tolist()}. Predict a log-variance (log_variance=) or pass the "
                         "output through softplus.")
    return valid


def _torch_variance_shape(scale: jax.Array, shape: tuple[int, ...], *, fn: str, name: str) -> jax.Array:
    """``scale`` spread over the predictions' ``shape`` by PyTorch's ``gaussian_nll_loss`` rule.

    Accepted, as PyTorch accepts them: a number (any 0-d form: one value for every entry), the
    predictions' shape, their shape without the last axis (one value per row: PyTorch unsqueezes it
    there), and the predictions' rank with exactly one axis that differs, of size 1. NumPy's rule
    reads some of these differently (a ``(N,)`` variance on ``(N, N)`` predictions per column, where
    PyTorch reads it per row), so it is never applied: any other shape raises.
    """
    s_shape = tuple(scale.shape)
    if scale.ndim == 0 or s_shape == shape:
        return jnp.broadcast_to(scale, shape)
    if len(shape) >= 1 and s_shape == shape[:-1]:
        return jnp.broadcast_to(scale[..., None], shape)
    if len(s_shape) == len(shape):
        differ = [i for i, (a, b) in enumerate(zip(shape, s_shape)) if a != b]
        if len(differ) == 1 and s_shape[differ[0]] == 1:
            return jnp.broadcast_to(scale, shape)
    per_column = ""
    if len(shape) >= 2:
        per_column = (f" For one value per column (the last axis), pass shape {(1,) * (len(shape) - 1) + shape[-1:]}; "
                      "NumPy broadcasting is not applied, because it reads some shapes differently from PyTorch.")
    raise ValueError(
        f"{fn}: {name} of shape {s_shape} does not fit predictions of shape {shape}. As in PyTorch's "
        f"GaussianNLLLoss, give one value per entry (shape {shape}), one per row of the last axis "
        f"(shape {shape[:-1]}), the predictions' rank with a single axis of size 1 where it differs "
        f"(e.g. {shape[:-1] + (1,)}), or a number.{per_column}")


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def _clamp_keep_gradient(v: jax.Array, floor: float) -> jax.Array:
    """max(v, floor) whose derivative is 1 everywhere: PyTorch's clamp under ``no_grad``.

    Below the floor the gradient of a loss of ``v`` is the gradient at the floor, not 0, so a
    variance head pushed below it still gets a signal back up.
    """
    return jnp.maximum(v, floor)


@_clamp_keep_gradient.defjvp
def _clamp_keep_gradient_jvp(floor: float, primals: tuple, tangents: tuple) -> tuple:
    (v,), (dv,) = primals, tangents
    return _clamp_keep_gradient(v, floor), dv  # itself, so that every order of derivative passes through


@register(
    task=Task.PROBABILISTIC_REGRESSION,
    formula="0.5 (log v + (p - t)^2 / v)   (v = max(variance, 1e-6); + 0.5 log(2 pi) if full)",
    latex=(r"\frac{1}{2} \left(\log v + \frac{(p - t)^2}{v}\right)"
           r", \quad v = \max(\mathtt{variance}, 10^{-6}) \quad \left(\text{full: } + \, \frac{1}{2} \log 2 \pi\right)"),
    torch="torch.nn.GaussianNLLLoss",
    summary="regression that also predicts its own uncertainty (heteroscedastic noise)",
    properties=("convex", "smooth", "symmetric"),
    inputs=_kinds.REGRESSION, toy_problem=problems.REGRESSION,
    reference="Nix and Weigend, 1994; torch.nn.GaussianNLLLoss",
)
def gaussian_nll(
    predictions: ArrayLike, targets: ArrayLike, *, variance: ArrayLike | None = None,
    log_variance: ArrayLike | None = None, full: bool = False, weights: ArrayLike | None = None,
    where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Gaussian negative log-likelihood of ``t`` under ``N(p, variance)``.

    ``0.5 * (log v + (p - t)^2 / v)`` with the variance ``v`` clamped below at
    ``1e-6`` as PyTorch's ``GaussianNLLLoss`` does; ``full=True`` adds
    ``0.5 log(2 pi)``. Pass ``variance=`` (positive) or, better for training a
    variance head, ``log_variance=`` (any real; no clamp needed:
    ``0.5 * (s + (p - t)^2 exp(-s))``). Both are differentiable. With neither,
    the variance is 1 (half the squared error). "convex" refers to the
    predictions (the means).

    Both spread over the predictions by PyTorch's rule, not NumPy's: a number;
    the predictions' shape; their shape without the last axis (one value per
    row, e.g. ``(N,)`` for ``(N, D)`` predictions, even when ``N == D``); or
    the predictions' rank with one axis of size 1 where the shapes differ
    (``(N, 1)``, ``(1, D)``). Any other shape raises a ``ValueError``.

    As in PyTorch, the clamp keeps the gradient: below ``1e-6`` the gradient
    with respect to ``variance`` is the gradient at ``1e-6`` (PyTorch clamps
    under ``no_grad``), so a variance head stuck below the clamp still gets
    pushed back up rather than receiving 0.

    Args:
      predictions: predicted means.
      targets: observations, same shape.
      variance: predicted variances (>= 0; PyTorch's shapes, above).
      log_variance: predicted log-variances (PyTorch's shapes, above).
      full: add the constant ``0.5 log(2 pi)``.
      weights, where, reduction: as in :func:`mean_squared_error`.

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> round(float(jl.gaussian_nll(jnp.array([1.0]), jnp.array([3.0]), variance=jnp.array([2.0]))), 4)
    1.3466
    """
    fn = "gaussian_nll"
    if variance is not None and log_variance is not None:
        raise ValueError(f"{fn}: pass variance= or log_variance=, not both.")
    p_shape = tuple(jnp.shape(predictions))
    scale = log_variance if log_variance is not None else variance
    if scale is not None:
        name = "log_variance" if log_variance is not None else "variance"
        scale = _torch_variance_shape(_core.float_array(scale, name=name, fn=fn), p_shape, fn=fn, name=name)
        if where is not None:  # excluded entries may hold anything (NaN, a negative variance): a safe 1
            scale = jnp.where(_core.mask_array(where, p_shape, fn=fn), scale, jnp.ones((), scale.dtype))
        scale = _core.upcast(scale)
    # A negative variance is an error (as in PyTorch): eagerly a ValueError, under jit NaN in the
    # value and gradient of that entry (0 is allowed and clamped like any variance below epsilon).
    valid = None if variance is None else _check_variance(scale, fn=fn)

    def kernel(p: jax.Array, t: jax.Array) -> jax.Array:
        sq = jnp.square(p - t)
        if log_variance is not None:
            s = scale.astype(p.dtype)
            values = 0.5 * (s + sq * jnp.exp(-s))
        elif variance is not None:
            # PyTorch's clamp: the value at max(variance, 1e-6), the gradient passed through unchanged.
            v = _clamp_keep_gradient(scale.astype(p.dtype), _VARIANCE_EPSILON)
            values = _core.poison_invalid(0.5 * (jnp.log(v) + sq / v), valid)
        else:
            values = 0.5 * sq
        if full:
            values = values + 0.5 * math.log(2 * math.pi)
        return values

    return _core.elementwise(kernel, predictions, targets, fn=fn, weights=weights, where=where, reduction=reduction)
