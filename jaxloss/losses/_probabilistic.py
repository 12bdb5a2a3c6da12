"""Probabilistic losses: divergences between distributions and likelihoods of noise models.

Two kinds of losses live here:

- Divergences over the **last axis** (``jensen_shannon`` between a target
  distribution and ``softmax(predictions)``; ``generalized_kl_divergence``
  between non-negative measures that need not sum to 1). ``reduction="none"``
  gives one value per example (the last axis reduced), and the classification
  family's conventions hold: logits by default, ``-inf`` logits allowed where
  the target is 0, ``0 log 0 = 0`` in value and gradient.
- Negative log-likelihoods of element-wise noise models (``student_t_nll``,
  ``laplace_nll``): the targets are observations, the predictions the location
  of the distribution, ``scale`` (and ``df``) a scalar or an array broadcastable
  to the predictions, differentiable, so a network can predict them. The full
  normalising constants are included, so the values are exactly
  ``-torch.distributions.<Dist>(loc, scale).log_prob(targets)``.

All natural logarithms (nats).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.scipy.special import gammaln

from jaxloss import _core, _kinds
from jaxloss._core import ArrayLike, Reduction
from jaxloss._kinds import problems
from jaxloss._registry import Hyperparameter, Task, register
from jaxloss.losses._class_inputs import class_inputs, reduce_examples


__all__ = ["generalized_kl_divergence", "jensen_shannon", "student_t_nll", "laplace_nll"]

_SCALE = Hyperparameter(low=0.0, low_open=True, doc="the noise scale", slider=(0.1, 5.0))
_LOG_PI = math.log(math.pi)


# -- divergences over the last axis -----------------------------------------------------------------


@register(
    task=Task.NONNEGATIVE_MEASURE, aliases=("i_divergence", "generalized_kl"),
    formula="sum_k t_k log(t_k / p_k) - t_k + p_k",
    latex=r"\sum_k t_k \log \frac{t_k}{p_k} - t_k + p_k",
    summary="matching unnormalised non-negative quantities (NMF, spectra, intensities, counts per bin)",
    properties=("nonnegative", "zero_at_target"),
    inputs=_kinds.NONNEGATIVE_MEASURE, toy_problem=problems.DISTRIBUTION,
    reference="Csiszar, 1975 (I-divergence); Lee and Seung, Algorithms for NMF, 2001; "
              "sklearn.decomposition.NMF(beta_loss='kullback-leibler')",
)
def generalized_kl_divergence(
    predictions: ArrayLike, targets: ArrayLike, *, log_input: bool = False, weights: ArrayLike | None = None,
    where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Generalized KL (I-) divergence ``D(t || p) = sum_k t log(t/p) - t + p``.

    Over the last axis, between a target measure ``t >= 0`` and a predicted one
    ``p >= 0``; neither needs to sum to 1 (on normalised inputs it is the KL
    divergence). It is >= 0, and 0 only at ``p == t``. Use it to fit
    non-negative quantities whose total matters (NMF, spectra, histograms,
    Poisson intensities: it is the Poisson NLL up to a constant).

    With ``log_input=True`` the predictions are log-measures ``x`` (any real,
    ``-inf`` allowed where the target is 0) and the loss is
    ``sum t (log t - x) - t + exp(x)``, convex in ``x``: use it with an
    unconstrained head. (This is not softmax: nothing is normalised.)

    Args:
      predictions: non-negative measures (log-measures with ``log_input=True``),
        shape ``(..., K)``.
      targets: non-negative measures of the same shape.
      log_input: whether predictions are log-measures.
      weights, where, reduction: per-example (``(...)``) weights, mask and reduction.

    Numerical care: ``0 log 0 = 0`` in value and gradient; where ``t > 0`` the
    prediction is floored at the dtype's epsilon ``eps`` (1.2e-7 in float32, as
    probabilities with ``from_logits=False``), so a zero prediction costs
    ``t log(t/eps) - t + eps`` instead of infinity, with gradient 0; where
    ``t = 0`` the cost is ``max(p, 0)``. Convex in ``p`` on ``p >= eps``.

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> t = jnp.array([[1.0, 2.0, 0.0]])
    >>> round(float(jl.generalized_kl_divergence(2 * t, t)), 4)  # 3 (1 - log 2)
    0.9206
    >>> float(jl.generalized_kl_divergence(t, t))
    0.0
    """
    fn = "generalized_kl_divergence"
    given = _core.as_array(targets, name="targets", fn=fn)
    if jnp.iscomplexobj(given):  # its real part would pass as a measure
        raise TypeError(f"{fn}: targets must be real non-negative measures; got dtype {given.dtype}.")
    inputs = class_inputs(fn, predictions, targets, where=where, allow_probabilities=True)
    if inputs.is_labels:
        raise TypeError(f"{fn}: targets must be non-negative measures of the predictions' shape, not class indices.")
    x, t = inputs.predictions, inputs.targets
    present = t > 0
    log_t = _core.safe_log(t, present)
    if log_input:
        # t * x is 0 * (-inf) = NaN at a -inf log-measure where t = 0: keep x out of it there.
        x_present = jnp.where(present, x, jnp.zeros((), x.dtype))
        terms = jnp.where(present, t * (log_t - x_present), jnp.zeros((), x.dtype)) - t + jnp.exp(x)
    else:
        # Floor p at the dtype's epsilon where t > 0, so that t log(t/p) stays finite (and the loss >= 0).
        p = jnp.where(present, jnp.maximum(x, _core.probability_epsilon(x.dtype)), jnp.maximum(x, 0))
        log_p = _core.safe_log(p, present)
        terms = jnp.where(present, t * (log_t - log_p), jnp.zeros((), x.dtype)) - t + p
    return reduce_examples(jnp.sum(terms, axis=-1), inputs, fn=fn, weights=weights, reduction=reduction)


@register(
    task=Task.DISTRIBUTION, aliases=("js", "jsd", "js_divergence"),
    formula="KL(q || m) / 2 + KL(p || m) / 2,  p = softmax(x), m = (p + q) / 2",
    latex=(r"\frac{1}{2} \mathrm{KL}(q \,\|\, m) + \frac{1}{2} \mathrm{KL}(p \,\|\, m)"
           r", \quad p = \operatorname{softmax}(x)"
           r", \quad m = \frac{p + q}{2}"),
    summary="a bounded, symmetric divergence between a target distribution and the prediction",
    properties=("nonnegative", "zero_at_target", "bounded_gradient", "smooth"),
    inputs=_kinds.CLASS_DISTRIBUTION, toy_problem=problems.DISTRIBUTION,
    reference="Lin, Divergence Measures Based on the Shannon Entropy, 1991; "
              "scipy.spatial.distance.jensenshannon (squared, natural log)",
)
def jensen_shannon(
    predictions: ArrayLike, targets: ArrayLike, *, from_logits: bool = True, weights: ArrayLike | None = None,
    where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Jensen-Shannon divergence between ``targets`` and ``softmax(predictions)``.

    ``JS(q, p) = KL(q || m) / 2 + KL(p || m) / 2`` with ``m = (p + q) / 2``,
    over the last axis, in nats. Symmetric in ``p`` and ``q``, bounded by
    ``log 2``, and finite even where the supports differ (KL is not). Use it to
    match soft targets robustly (noisy labels, distillation) or to compare
    histograms. Its square root is a metric (``scipy``'s ``jensenshannon``
    returns that root). Not convex in the logits.

    Args:
      predictions: logits (or probabilities with ``from_logits=False``), ``(..., K)``.
      targets: probability vectors of the same shape.
      from_logits: whether predictions are logits; probabilities are clipped to
        ``[eps, 1]`` (eps: the dtype's epsilon) and used as given, like :func:`jaxloss.kl_divergence`.
      weights, where, reduction: per-example weights, mask and reduction.

    Numerical care: terms with a zero probability count 0 in value and gradient,
    so zero targets, ``-inf`` logits and logits of +-1e4 (probabilities that
    underflow to 0) give finite values and gradients.

    >>> import jax.numpy as jnp, jaxloss as jl, math
    >>> q = jnp.array([[1.0, 0.0]])
    >>> js = float(jl.jensen_shannon(jnp.array([[-jnp.inf, 0.0]]), q))  # disjoint supports
    >>> abs(js - math.log(2)) < 1e-6
    True
    """
    fn = "jensen_shannon"
    given = _core.as_array(targets, name="targets", fn=fn)
    if jnp.iscomplexobj(given):  # its real part would pass as a distribution
        raise TypeError(f"{fn}: targets must be real probability vectors; got dtype {given.dtype}.")
    inputs = class_inputs(fn, predictions, targets, where=where, allow_probabilities=True)
    if inputs.is_labels:
        raise TypeError(f"{fn}: targets must be probability vectors of the predictions' shape, not class indices.")
    log_p = _core.log_probabilities(inputs.predictions, from_logits=from_logits)
    p = jnp.exp(log_p)
    q = inputs.targets
    m = 0.5 * (p + q)
    # Every term carries its own factor (q or p): where that is 0 the term and its gradient are 0
    # (log 0 = -inf would give 0 * inf = NaN), so the logs only see positive entries.
    q_in, p_in = q > 0, p > 0
    log_m = _core.safe_log(m, q_in | p_in)
    zero = jnp.zeros((), p.dtype)
    kl_q = jnp.where(q_in, q * (_core.safe_log(q, q_in) - log_m), zero)
    kl_p = jnp.where(p_in, p * (jnp.where(p_in, log_p, zero) - log_m), zero)
    values = 0.5 * jnp.sum(kl_q + kl_p, axis=-1)
    return reduce_examples(values, inputs, fn=fn, weights=weights, reduction=reduction)


# -- noise-model likelihoods -----------------------------------------------------------------------


@register(
    task=Task.PROBABILISTIC_REGRESSION, aliases=("student_t", "t_nll"),
    formula="log(c) + log B-terms + (df + 1)/2 log(1 + ((t - p)/c)^2 / df)",
    latex=(r"\log c + \frac{1}{2} \log(\nu \pi) + \log \Gamma\left(\frac{\nu}{2}\right) - \log \Gamma\left(\frac{\nu + 1}{2}\right) + \frac{\nu + 1}{2} \log\left(1 + \frac{u^2}{\nu}\right)"
           r", \quad u = \frac{t - p}{c}"
           r", \quad \nu = \mathtt{df}"),
    summary="heavy-tailed regression: a Gaussian-like fit that shrugs off outliers, with a learnable scale",
    hyperparameters={
        "df": Hyperparameter(low=0.0, low_open=True, doc="degrees of freedom; small = heavy tails",
                             slider=(1.0, 30.0)),
        "scale": _SCALE,
    },
    properties=("symmetric", "bounded_gradient", "smooth"),
    inputs=_kinds.REGRESSION, toy_problem=problems.REGRESSION_OUTLIERS,
    reference="Lange, Little and Taylor, Robust Statistical Modeling Using the t Distribution, 1989; "
              "-torch.distributions.StudentT(df, loc, scale).log_prob",
)
def student_t_nll(
    predictions: ArrayLike, targets: ArrayLike, *, df: ArrayLike = 3.0, scale: ArrayLike = 1.0,
    weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Negative log-likelihood of ``targets`` under a Student-t at ``predictions``.

    With ``y = (t - p) / c`` and ``nu = df``::

        log c + log(nu pi) / 2 + lgamma(nu / 2) - lgamma((nu + 1) / 2)
              + (nu + 1) / 2 * log(1 + y^2 / nu)

    exactly ``-torch.distributions.StudentT(df, loc=p, scale=c).log_prob(t)``.
    Use it for regression with outliers when you want a likelihood (and possibly
    a learned ``scale`` or ``df``): the gradient in ``p`` is
    ``(nu + 1) y / (c (nu + y^2))``, which redescends to 0 for large errors.
    ``df -> inf`` gives the Gaussian NLL; ``df = 1`` the Cauchy. Not convex,
    and negative for small scales (it is a density).

    Args:
      predictions: locations, any shape.
      targets: observations, same shape.
      df: degrees of freedom (> 0), scalar or broadcastable array, differentiable.
      scale: ``c`` (> 0), scalar or broadcastable array, differentiable.
      weights, where, reduction: as in :func:`jaxloss.mean_squared_error`.

    Numerical care: ``log(1 + y^2/nu)`` is computed without forming ``y^2`` for
    large ``|y|``, so an error of 1e20 is finite in float32, value and gradient.

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> round(float(jl.student_t_nll(jnp.array([0.0]), jnp.array([0.0]), df=1.0)), 6)  # log(pi)
    1.144730
    """
    def kernel(r: jax.Array, df: jax.Array, scale: jax.Array) -> jax.Array:
        log_norm = (jnp.log(scale) + 0.5 * (jnp.log(df) + _LOG_PI)
                    + gammaln(0.5 * df) - gammaln(0.5 * (df + 1)))
        return log_norm + 0.5 * (df + 1) * _core.log1p_square(r / (scale * jnp.sqrt(df)))

    return _core.parametrized_elementwise(
        lambda p, t, df, scale: kernel(t - p, df, scale), predictions, targets, fn="student_t_nll",
        parameters={"df": (df, 1.0), "scale": (scale, 1.0)}, weights=weights, where=where, reduction=reduction)


@register(
    task=Task.PROBABILISTIC_REGRESSION, aliases=("laplace",),
    formula="log(2 c) + |t - p| / c",
    latex=r"\log(2 c) + \frac{|t - p|}{c}",
    summary="median regression as a likelihood: the absolute error with a learnable scale",
    hyperparameters={"scale": _SCALE},
    properties=("convex", "symmetric", "bounded_gradient"),
    inputs=_kinds.REGRESSION, toy_problem=problems.REGRESSION_OUTLIERS,
    reference="Laplace, 1774; -torch.distributions.Laplace(loc, scale).log_prob",
)
def laplace_nll(
    predictions: ArrayLike, targets: ArrayLike, *, scale: ArrayLike = 1.0, weights: ArrayLike | None = None,
    where: ArrayLike | None = None, reduction: Reduction = "mean",
) -> jax.Array:
    """Negative log-likelihood of ``targets`` under a Laplace at ``predictions``.

    ``log(2 c) + |t - p| / c``, exactly
    ``-torch.distributions.Laplace(loc=p, scale=c).log_prob(t)``. Use it for
    median regression with a predicted uncertainty (``scale`` differentiable,
    scalar or broadcastable array): its minimiser in ``p`` is the median and in
    ``c`` the mean absolute error. Convex in ``p``; the gradient there is
    ``sign(p - t) / c`` (0 at exactly ``p == t``, as PyTorch's ``Laplace.log_prob``
    gives). Negative when ``c < 1/2``.

    Args:
      predictions: locations, any shape.
      targets: observations, same shape.
      scale: ``c`` (> 0), scalar or broadcastable array, differentiable.
      weights, where, reduction: as in :func:`jaxloss.mean_squared_error`.

    >>> import jax.numpy as jnp, jaxloss as jl, math
    >>> abs(float(jl.laplace_nll(jnp.array([1.0]), jnp.array([3.0]), scale=2.0)) - (math.log(4) + 1)) < 1e-6
    True
    """
    def kernel(r: jax.Array, scale: jax.Array) -> jax.Array:
        # _core.absolute: the subgradient 0 at r = 0 (jnp.abs differentiates to 1 there), PyTorch's value.
        return jnp.log(2 * scale) + _core.absolute(r) / scale

    return _core.parametrized_elementwise(
        lambda p, t, scale: kernel(t - p, scale), predictions, targets, fn="laplace_nll",
        parameters={"scale": (scale, 1.0)}, weights=weights, where=where, reduction=reduction)
