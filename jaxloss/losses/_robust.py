"""Robust regression losses: costs that stop growing (or grow slowly) for large errors.

All losses here are element-wise, like the regression family: ``predictions``
and ``targets`` have the same shape, ``e = predictions - targets``, and
``reduction="none"`` returns one value per entry.

One scale convention for the whole family. Every loss takes ``scale`` (``c``,
default 1, > 0; a scalar or an array broadcastable to the predictions, and
differentiable) and is written in ``y = e / c``. The special losses are Barron's
general loss ``f(e, alpha, c)`` (:func:`general_robust`) at their ``alpha``,
multiplied by ``c^2``::

    cauchy(e; c)         = c^2 * general_robust(e, alpha=0,    scale=c) = c^2 log(1 + y^2 / 2)
    geman_mcclure(e; c)  = c^2 * general_robust(e, alpha=-2,   scale=c) = 2 e^2 / (y^2 + 4)
    welsch(e; c)         = c^2 * general_robust(e, alpha=-inf, scale=c) = c^2 (1 - exp(-y^2 / 2))

The factor ``c^2`` makes each of them ``e^2 / 2 + O(e^4)`` near zero, whatever
``c``: the same bowl as half the squared error (and Huber), so ``c`` only says
where the loss departs from it. Tukey's biweight, which is not in Barron's
family, uses the same convention: ``c^2 / 6 (1 - (1 - y^2)^3)`` for ``|y| <= 1``.
In the classical parameterisations (Black and Rangarajan 1996; Zhang 1997) the
Cauchy and Welsch ``c`` is ``sqrt(2)`` times ours and the Geman-McClure ``c``
is twice ours.

None of these is convex: the gradient of :func:`cauchy` decays like ``1/e`` and
those of :func:`welsch`, :func:`geman_mcclure` and :func:`tukey_biweight`
redescend to 0 (Tukey's is exactly 0 beyond ``c``), so gross outliers are
ignored, at the price of local minima: start from a least-squares or Huber fit.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from jaxloss import _core, _kinds
from jaxloss._core import ArrayLike, Reduction
from jaxloss._kinds import problems
from jaxloss._registry import Hyperparameter, Task, register


__all__ = ["cauchy", "welsch", "geman_mcclure", "tukey_biweight", "general_robust"]

_SCALE = Hyperparameter(low=0.0, low_open=True, doc="the error at which the loss departs from e^2/2",
                        slider=(0.1, 5.0))
_PROPERTIES = ("nonnegative", "zero_at_target", "symmetric", "bounded_gradient", "smooth")
# exp(-y^2 / 2) is exactly 0 in float64 (and float32) beyond |y| = 40 (e^-800 < 5e-324).
_WELSCH_CLIP = 40.0
# general_robust: below this distance from alpha = 2 the |alpha - 2| in Barron's formula is
# smoothed (see general_robust's docstring); the "near 2" formula is used within _NEAR_TWO.
_ALPHA_TWO_WINDOW = 1e-4
_NEAR_TWO = 0.1
_SQRT_HALF = math.sqrt(0.5)


# -- the special losses ----------------------------------------------------------------------------


@register(
    task=Task.REGRESSION, aliases=("lorentzian",),
    formula="c^2 log(1 + (e/c)^2 / 2)",
    latex=r"c^2 \log\left(1 + \frac{1}{2} (e / c)^2\right), \quad e = p - t",
    summary="regression with many outliers; gradient decays like 1/e (Barron alpha = 0)",
    hyperparameters={"scale": _SCALE}, properties=_PROPERTIES,
    inputs=_kinds.REGRESSION, toy_problem=problems.REGRESSION_OUTLIERS,
    reference="Black and Anandan, 1996; Barron, A General and Adaptive Robust Loss Function, 2019 (alpha = 0)",
)
def cauchy(
    predictions: ArrayLike, targets: ArrayLike, *, scale: ArrayLike = 1.0, weights: ArrayLike | None = None,
    where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Cauchy (Lorentzian) loss, ``c^2 log(1 + (e/c)^2 / 2)``.

    The negative log-likelihood of Cauchy noise, up to constants. Use it when a
    sizeable fraction of the targets are outliers: the gradient
    ``e / (1 + (e/c)^2 / 2)`` peaks at ``|e| = sqrt(2) c`` and decays like
    ``1/e``. Not convex. Equals ``c^2 * general_robust(alpha=0)``; see the module
    docstring for the scale convention.

    Args:
      predictions: real array, any shape.
      targets: real array of the same shape.
      scale: ``c`` (> 0), a scalar or an array broadcastable to the predictions.
      weights, where, reduction: as in :func:`jaxloss.mean_squared_error`.

    Numerical care: ``log(1 + y^2)`` is evaluated as ``2 log|y| + log1p(1/y^2)``
    for ``|y| > 1``, so an error of 1e20 gives a finite value and gradient in
    float32 (``y^2`` would overflow).

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> [round(v, 4) for v in jl.cauchy(jnp.array([0.1, 2.0, 1e20]), jnp.zeros(3), reduction="none").tolist()]
    [0.005, 1.0986, 91.4]
    """
    return _core.parametrized_elementwise(
        lambda p, t, scale: jnp.square(scale) * _core.log1p_square((p - t) / scale * _SQRT_HALF),
        predictions, targets, fn="cauchy", parameters={"scale": (scale, 1.0)},
        weights=weights, where=where, reduction=reduction,
    )


def _welsch(y: jax.Array) -> jax.Array:
    # Fake clip: exp(-y^2/2) is exactly 0 beyond 40, and y * exp(-y^2/2) would be inf * 0.
    y = jnp.clip(y, -_WELSCH_CLIP, _WELSCH_CLIP)
    return -jnp.expm1(-0.5 * jnp.square(y))


@register(
    task=Task.REGRESSION, aliases=("leclerc",),
    formula="c^2 (1 - exp(-(e/c)^2 / 2))",
    latex=r"c^2 \left(1 - \exp\left(-\frac{1}{2} (e / c)^2\right)\right), \quad e = p - t",
    summary="regression with gross outliers: bounded cost, redescending gradient (Barron alpha = -inf)",
    hyperparameters={"scale": _SCALE}, properties=_PROPERTIES,
    inputs=_kinds.REGRESSION, toy_problem=problems.REGRESSION_OUTLIERS,
    reference="Dennis and Welsch, 1978; Leclerc, 1989; Barron, A General and Adaptive Robust Loss Function, 2019",
)
def welsch(
    predictions: ArrayLike, targets: ArrayLike, *, scale: ArrayLike = 1.0, weights: ArrayLike | None = None,
    where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Welsch (Leclerc) loss, ``c^2 (1 - exp(-(e/c)^2 / 2))``.

    An inverted Gaussian: bounded by ``c^2``, its gradient ``e exp(-(e/c)^2/2)``
    redescends to 0, so errors beyond a few ``c`` are ignored. Use it when
    outliers are gross and plentiful and you can start near a good solution
    (it is not convex). Equals ``c^2 * general_robust(alpha=-inf)``.

    Args:
      predictions: real array, any shape.
      targets: real array of the same shape.
      scale: ``c`` (> 0), a scalar or an array broadcastable to the predictions.
      weights, where, reduction: as in :func:`jaxloss.mean_squared_error`.

    Numerical care: ``y = e/c`` is clipped to ``[-40, 40]`` (where the loss is
    already ``c^2`` to the last bit in float64) so that ``y exp(-y^2/2)`` never
    becomes ``inf * 0`` for huge errors.

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> [round(v, 4) for v in jl.welsch(jnp.array([0.1, 2.0, 1e20]), jnp.zeros(3), reduction="none").tolist()]
    [0.005, 0.8647, 1.0]
    """
    return _core.parametrized_elementwise(
        lambda p, t, scale: jnp.square(scale) * _welsch((p - t) / scale),
        predictions, targets, fn="welsch", parameters={"scale": (scale, 1.0)},
        weights=weights, where=where, reduction=reduction,
    )


def _geman_mcclure(y: jax.Array) -> jax.Array:
    # 2 y^2 / (y^2 + 4); for |y| > 2 as 2 / (1 + 4 / y^2) in u = 1/y, since y^2 overflows
    # float32 at 1e20 and inf/inf is NaN (double where).
    small = jnp.abs(y) <= 2
    y_small = jnp.where(small, y, jnp.zeros((), y.dtype))
    u = 1 / jnp.where(small, jnp.ones((), y.dtype), y)
    sq = jnp.square(y_small)
    return jnp.where(small, 2 * sq / (sq + 4), 2 / (1 + 4 * jnp.square(u)))


@register(
    task=Task.REGRESSION, aliases=("gemanmcclure",),
    formula="2 e^2 / ((e/c)^2 + 4)",
    latex=r"\frac{2 e^2}{(e / c)^2 + 4}, \quad e = p - t",
    summary="regression with gross outliers: bounded by 2 c^2, redescending gradient (Barron alpha = -2)",
    hyperparameters={"scale": _SCALE}, properties=_PROPERTIES,
    inputs=_kinds.REGRESSION, toy_problem=problems.REGRESSION_OUTLIERS,
    reference="Geman and McClure, 1985; Barron, A General and Adaptive Robust Loss Function, 2019 (alpha = -2)",
)
def geman_mcclure(
    predictions: ArrayLike, targets: ArrayLike, *, scale: ArrayLike = 1.0, weights: ArrayLike | None = None,
    where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Geman-McClure loss, ``2 e^2 / ((e/c)^2 + 4)``.

    Bounded by ``2 c^2``; the gradient ``16 c^4 e / (e^2 + 4 c^2)^2`` peaks at
    ``|e| = 2c/sqrt(3)`` and redescends like ``1/e^3``. Use it for registration
    and fitting with many gross outliers (not convex). Equals
    ``c^2 * general_robust(alpha=-2)``; the classical ``e^2/2 / (1 + (e/c')^2)``
    has ``c' = 2c``.

    Args:
      predictions: real array, any shape.
      targets: real array of the same shape.
      scale: ``c`` (> 0), a scalar or an array broadcastable to the predictions.
      weights, where, reduction: as in :func:`jaxloss.mean_squared_error`.

    Numerical care: for ``|e/c| > 2`` it is computed as ``2 c^2 / (1 + 4 (c/e)^2)``,
    finite with finite derivatives up to errors of 1e20 in float32.

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> [round(v, 4) for v in jl.geman_mcclure(jnp.array([0.1, 2.0, 1e20]), jnp.zeros(3), reduction="none").tolist()]
    [0.005, 1.0, 2.0]
    """
    return _core.parametrized_elementwise(
        lambda p, t, scale: jnp.square(scale) * _geman_mcclure((p - t) / scale),
        predictions, targets, fn="geman_mcclure", parameters={"scale": (scale, 1.0)},
        weights=weights, where=where, reduction=reduction,
    )


def _tukey(y: jax.Array) -> jax.Array:
    # Constant beyond |y| = 1: clipping gives the exact gradient 0 there and no overflow.
    s = jnp.square(jnp.clip(y, -1, 1))
    # 1 - (1 - s)^3 expanded, so small errors do not cancel: s (3 - 3 s + s^2).
    return s * (3 - 3 * s + jnp.square(s)) / 6


@register(
    task=Task.REGRESSION, aliases=("tukey", "biweight", "bisquare"),
    formula="c^2/6 (1 - (1 - (e/c)^2)^3) if |e| <= c else c^2/6",
    latex=(r"\begin{cases} \frac{c^2}{6} \left(1 - \left(1 - (e / c)^2\right)^3\right) & |e| \le c \\ \frac{c^2}{6} & \text{otherwise} \end{cases}"
           r", \quad e = p - t"),
    summary="regression with gross outliers: errors beyond c cost a constant and get zero gradient",
    hyperparameters={"scale": _SCALE}, properties=_PROPERTIES,
    inputs=_kinds.REGRESSION, toy_problem=problems.REGRESSION_OUTLIERS,
    reference="Beaton and Tukey, 1974; scipy.optimize.least_squares / statsmodels TukeyBiweight (rho)",
)
def tukey_biweight(
    predictions: ArrayLike, targets: ArrayLike, *, scale: ArrayLike = 1.0, weights: ArrayLike | None = None,
    where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Tukey's biweight (bisquare), ``c^2/6 (1 - (1 - (e/c)^2)^3)`` inside ``|e| <= c``.

    Constant ``c^2/6`` outside: errors beyond ``c`` get exactly zero gradient
    (hard rejection), with a smooth transition (the loss is twice
    differentiable; ``psi(e) = e (1 - (e/c)^2)^2``). Use it for M-estimation
    with gross outliers once a rough fit exists (it is not convex). statsmodels'
    ``TukeyBiweight`` uses ``c = 4.685`` (times a scale estimate) for 95%
    efficiency under Gaussian noise. Not one of Barron's family.

    Args:
      predictions: real array, any shape.
      targets: real array of the same shape.
      scale: ``c`` (> 0), a scalar or an array broadcastable to the predictions.
      weights, where, reduction: as in :func:`jaxloss.mean_squared_error`.

    Numerical care: ``e/c`` is clipped to ``[-1, 1]`` (exact: the loss is flat
    there), so huge errors never overflow.

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> [round(v, 4) for v in jl.tukey_biweight(jnp.array([0.1, 0.5, 3.0]), jnp.zeros(3), reduction="none").tolist()]
    [0.005, 0.0964, 0.1667]
    """
    return _core.parametrized_elementwise(
        lambda p, t, scale: jnp.square(scale) * _tukey((p - t) / scale),
        predictions, targets, fn="tukey_biweight", parameters={"scale": (scale, 1.0)},
        weights=weights, where=where, reduction=reduction,
    )


# -- Barron's general loss -------------------------------------------------------------------------

# Taylor coefficients 1/(n+1)! of expm1(s)/s, highest first (Horner); truncation error
# below 1e-19 for |s| < 0.1.
_EXPM1_RATIO_COEFFS = [1.0 / math.factorial(n + 1) for n in range(10)][::-1]


def _expm1_ratio(s: jax.Array) -> jax.Array:
    """expm1(s) / s with value 1 at s = 0 and accurate derivatives of every order near it."""
    # expm1(s)/s is 0/0 at s = 0 and its derivatives cancel catastrophically near it: series there.
    small = jnp.abs(s) < 0.1
    s_small = jnp.where(small, s, jnp.zeros((), s.dtype))
    s_big = jnp.where(small, jnp.ones((), s.dtype), s)
    series = jnp.zeros((), s.dtype)
    for c in _EXPM1_RATIO_COEFFS:
        series = series * s_small + c
    return jnp.where(small, series, jnp.expm1(s_big) / s_big)


@jax.jit
def _general_robust(y: jax.Array, alpha: jax.Array) -> jax.Array:
    """Barron's f(x, alpha, c) in y = x / c, for any alpha in [-inf, inf].

    Jitted: some 60 operations, which eager (op-by-op) differentiation would dispatch one by one.
    """
    dtype = y.dtype
    zero, two = jnp.zeros((), dtype), jnp.full((), 2, dtype)
    neg_inf = alpha == -jnp.inf
    pos_inf = alpha == jnp.inf
    finite = ~(neg_inf | pos_inf)
    near_two = finite & (jnp.abs(alpha - 2) < _NEAR_TWO)
    general = finite & ~near_two

    # Away from alpha = 2, with b = |alpha - 2| and L = log(1 + y^2 / b):
    #   f = (b / alpha) expm1(alpha L / 2) = (b L / 2) * expm1(s) / s,  s = alpha L / 2,
    # which has no 0/0 at alpha = 0 (there f = L = log(1 + y^2 / 2), the Cauchy loss).
    a = jnp.where(general, alpha, zero)
    b = jnp.abs(a - 2)
    log_term = _core.log1p_square(y / jnp.sqrt(b))
    f_general = 0.5 * b * log_term * _expm1_ratio(0.5 * a * log_term)

    # Near alpha = 2 (d = alpha - 2), the same function written as
    #   f = z / alpha + ((b + z) / alpha) expm1(d L / 2),  z = y^2,
    # which is exactly z / 2 at alpha = 2 and has no b -> 0 overflow. The exact loss has
    # df/dalpha ~ -(z/4) log|alpha - 2| -> inf at alpha = 2; b = |d| is smoothed to
    # (d^2 + w^2) / (2 w) for |d| < w (C^1 in alpha), which keeps f exact at alpha = 2,
    # within ~1e-5 relative of it for |d| < w, and df/dalpha finite and continuous.
    a2 = jnp.where(near_two, alpha, two)
    d = a2 - 2
    w = _ALPHA_TWO_WINDOW
    b2 = jnp.where(jnp.abs(d) < w, (jnp.square(d) + w * w) / (2 * w), jnp.abs(d))
    y2 = jnp.where(near_two, y, zero)
    # y^2 overflows (|y| > 1.8e19 in float32): the loss is then infinite, like y^2 / 2 itself (inf * 0
    # would give NaN at alpha = 2), with L2's gradient y; double where so that branch stays finite.
    overflow = jnp.isinf(jnp.square(y2))
    y2_safe = jnp.where(overflow, zero, y2)
    z2 = jnp.square(y2_safe)
    f_near_two = jnp.where(
        overflow, 0.5 * jnp.square(y2),
        z2 / a2 + (b2 + z2) / a2 * jnp.expm1(0.5 * d * _core.log1p_square(y2_safe / jnp.sqrt(b2))))

    # alpha = -inf: Welsch; alpha = +inf: expm1(z / 2).
    f_neg_inf = _welsch(jnp.where(neg_inf, y, zero))
    y_pos = jnp.where(pos_inf, y, zero)
    f_pos_inf = jnp.expm1(0.5 * jnp.square(y_pos))
    return jnp.where(neg_inf, f_neg_inf, jnp.where(pos_inf, f_pos_inf, jnp.where(near_two, f_near_two, f_general)))


@register(
    task=Task.REGRESSION, aliases=("barron", "adaptive_robust"),
    formula="|a-2|/a (((e/c)^2/|a-2| + 1)^(a/2) - 1)   (limits at a = 0, 2, -inf)",
    latex=(r"\frac{|\alpha - 2|}{\alpha} \left(\left(\frac{(e / c)^2}{|\alpha - 2|} + 1\right)^{\alpha / 2} - 1\right)"
           r", \quad e = p - t \quad (\text{limits at } \alpha = 0, 2, -\infty)"),
    summary="one loss with a robustness knob alpha: L2 (2), Charbonnier (1), Cauchy (0), Geman-McClure (-2), Welsch (-inf)",
    hyperparameters={
        "alpha": Hyperparameter(doc="shape: 2 is L2, 1 Charbonnier, 0 Cauchy, -2 Geman-McClure, -inf Welsch",
                                slider=(-4.0, 2.0)),
        "scale": _SCALE,
    },
    properties=("nonnegative", "zero_at_target", "symmetric", "smooth"),
    inputs=_kinds.REGRESSION, toy_problem=problems.REGRESSION_OUTLIERS,
    reference="Barron, A General and Adaptive Robust Loss Function, CVPR 2019 (google-research/robust_loss general.lossfun)",
)
def general_robust(
    predictions: ArrayLike, targets: ArrayLike, *, alpha: ArrayLike = 1.0, scale: ArrayLike = 1.0,
    weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Barron's general and adaptive robust loss ``f(e, alpha, c)``.

    ``f = |alpha - 2| / alpha * (((e/c)^2 / |alpha - 2| + 1)^(alpha / 2) - 1)``,
    with its limits: ``alpha = 2`` gives ``(e/c)^2 / 2`` (L2), ``1`` gives
    ``sqrt((e/c)^2 + 1) - 1`` (Charbonnier / pseudo-Huber), ``0`` gives
    ``log((e/c)^2 / 2 + 1)`` (Cauchy), ``-2`` gives ``2 (e/c)^2 / ((e/c)^2 + 4)``
    (Geman-McClure) and ``-inf`` gives ``1 - exp(-(e/c)^2 / 2)`` (Welsch);
    ``+inf`` gives ``exp((e/c)^2 / 2) - 1``. Smaller ``alpha`` is more robust.
    This is Barron's normalisation (no ``c^2`` factor): the special losses of this
    module are ``c^2`` times it (see the module docstring). Use it to tune the
    robustness of a regression, or learn ``alpha`` (and ``scale``) with the model:
    both are differentiable, scalars or arrays broadcastable to the predictions.
    Convex only for ``alpha >= 1``; bounded gradient only for ``alpha <= 1``.

    Args:
      predictions: real array, any shape.
      targets: real array of the same shape.
      alpha: shape parameter, any real number or ``+-inf`` (default 1).
      scale: ``c`` (> 0), the width of the quadratic bowl.
      weights, where, reduction: as in :func:`jaxloss.mean_squared_error`.

    Numerical care: no ``where`` on ``alpha == 0`` or ``alpha == 2`` (Barron's
    reference code uses them, and so gives d/dalpha = 0 there); instead the
    formula is rewritten so that both points are regular:
    ``(b L / 2) expm1(s) / s`` with a series for ``expm1(s)/s`` near 0, and near
    ``alpha = 2`` a form that is exactly ``y^2 / 2`` there. The exact loss's
    derivative in ``alpha`` is infinite at ``alpha = 2`` (it behaves like
    ``-(y^2/4) log|alpha - 2|``); within ``1e-4`` of 2, ``|alpha - 2|`` is
    smoothed, so the value is exact at 2 and within about 1e-5 (relative) nearby,
    and d/dalpha is finite and continuous (Barron's paper shifts ``alpha`` by
    ``1e-5`` everywhere for the same reason). Errors are handled in log space,
    so huge errors do not overflow for ``alpha <= 1``.

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> e = jnp.array([0.0, 1.0, 3.0])
    >>> [round(v, 4) for v in jl.general_robust(e, jnp.zeros(3), alpha=0.0, reduction="none").tolist()]
    [0.0, 0.4055, 1.7047]
    >>> [round(v, 4) for v in jl.general_robust(e, jnp.zeros(3), alpha=2.0, reduction="none").tolist()]
    [0.0, 0.5, 4.5]
    """
    return _core.parametrized_elementwise(
        lambda p, t, alpha, scale: _general_robust((p - t) / scale, alpha),
        predictions, targets, fn="general_robust",
        parameters={"alpha": (alpha, 0.0), "scale": (scale, 1.0)},
        weights=weights, where=where, reduction=reduction,
    )
