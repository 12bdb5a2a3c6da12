"""Special points of the robust family (the registry suite covers the rest).

Closed forms are written with ``math``/NumPy in float64 (x64 is on in conftest).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxloss as jl


SETTINGS = settings(max_examples=25, deadline=None, derandomize=True)

E = np.array([-30.0, -3.0, -1.2, -0.4, -1e-3, 0.0, 1e-3, 0.4, 1.2, 3.0, 30.0])

ZEROS = np.zeros_like(E)

C = 1.7


def barron_exact(x, alpha, c):
    """Barron 2019 eq. (1), away from its singular alphas."""
    z = (np.asarray(x, np.float64) / c) ** 2
    b = abs(alpha - 2)
    return (b / alpha) * np.expm1(0.5 * alpha * np.log1p(z / b))


def per_entry(fn, e, **kw):
    return np.asarray(fn(jnp.asarray(e), jnp.zeros_like(jnp.asarray(e)), reduction="none", **kw))


def grad_wrt(fn, e, argname=None, value=None, **kw):
    """Per-entry derivative in the predictions (argname None) or in an array option."""
    e = jnp.asarray(e)
    if argname is None:
        return np.asarray(jax.grad(lambda p: fn(p, jnp.zeros_like(e), reduction="sum", **kw))(e))
    return np.asarray(jax.grad(lambda v: fn(e, jnp.zeros_like(e), reduction="sum", **{argname: v}, **kw))(value))


# -- Barron's general loss and its special cases ------------------------------------------------


SPECIAL_CASES = {
    2.0: lambda y: 0.5 * y**2,
    1.0: lambda y: jnp.sqrt(y**2 + 1) - 1,
    0.0: lambda y: jnp.log(0.5 * y**2 + 1),
    -2.0: lambda y: 2 * y**2 / (y**2 + 4),
    -np.inf: lambda y: 1 - jnp.exp(-0.5 * y**2),
}


@pytest.mark.parametrize("alpha", list(SPECIAL_CASES), ids=lambda a: f"alpha={a}")
def test_general_robust_reproduces_the_special_cases(alpha):
    closed = SPECIAL_CASES[alpha]
    np.testing.assert_allclose(per_entry(jl.general_robust, E, alpha=alpha, scale=C), closed(E / C), rtol=1e-12, atol=1e-15)
    g = grad_wrt(jl.general_robust, E, alpha=alpha, scale=C)
    g_closed = np.asarray(jax.grad(lambda x: jnp.sum(closed(x / C)))(jnp.asarray(E)))
    np.testing.assert_allclose(g, g_closed, rtol=1e-10, atol=1e-15)
    # And in the scale.
    g_c = grad_wrt(jl.general_robust, E, "scale", jnp.full(E.shape, C), alpha=alpha)
    g_c_closed = np.asarray(jax.grad(lambda c: jnp.sum(closed(jnp.asarray(E) / c)))(jnp.full(E.shape, C)))
    np.testing.assert_allclose(g_c, g_c_closed, rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("name, alpha", [("cauchy", 0.0), ("geman_mcclure", -2.0), ("welsch", -np.inf)])
def test_special_losses_are_scale_squared_times_general_robust(name, alpha):
    fn = jl.get(name)
    scale = np.linspace(0.3, 3.0, E.size)  # an array of scales, one per entry
    np.testing.assert_allclose(
        per_entry(fn, E, scale=scale), scale**2 * per_entry(jl.general_robust, E, alpha=alpha, scale=scale), rtol=1e-12)
    np.testing.assert_allclose(
        grad_wrt(fn, E, scale=scale), scale**2 * grad_wrt(jl.general_robust, E, alpha=alpha, scale=scale),
        rtol=1e-10, atol=1e-15)
    # Near zero every robust loss is e^2 / 2, whatever the scale.
    small = np.array([1e-4, -2e-4])
    np.testing.assert_allclose(per_entry(fn, small, scale=C), 0.5 * small**2, rtol=1e-6)


def test_scale_squared_general_robust_at_two_is_half_the_squared_error():
    np.testing.assert_allclose(C**2 * per_entry(jl.general_robust, E, alpha=2.0, scale=C), 0.5 * E**2, rtol=1e-12)


def test_tukey_closed_form_and_rejection():
    y = E / C
    expected = np.where(np.abs(y) <= 1, C**2 / 6 * (1 - (1 - y**2) ** 3), C**2 / 6)
    np.testing.assert_allclose(per_entry(jl.tukey_biweight, E, scale=C), expected, rtol=1e-12, atol=1e-16)
    g = grad_wrt(jl.tukey_biweight, E, scale=C)
    np.testing.assert_allclose(g, np.where(np.abs(y) <= 1, E * (1 - y**2) ** 2, 0.0), rtol=1e-10, atol=1e-15)


def test_general_robust_limits_are_continuous_in_alpha():
    x = E[np.abs(E) < 10]
    for alpha, neighbours in [(0.0, (1e-7, -1e-7)), (2.0, (2 + 1e-7, 2 - 1e-7)), (-np.inf, (-1e9,))]:
        at = per_entry(jl.general_robust, x, alpha=alpha, scale=C)
        for a in neighbours:
            np.testing.assert_allclose(per_entry(jl.general_robust, x, alpha=a, scale=C), at, rtol=1e-5, atol=1e-12)
    # Away from the singular alphas it is Barron's formula to full precision (the smoothing
    # near alpha = 2 only acts within 1e-4 of it).
    for a in (-5.0, -1.0, 0.5, 1.5, 1.95, 2.0 - 3e-4, 2.0 + 3e-4, 2.05, 3.0):
        np.testing.assert_allclose(per_entry(jl.general_robust, x, alpha=a, scale=C), barron_exact(x, a, C), rtol=1e-10)


def _alpha_grads(x, alphas):
    """d f / d alpha at every (x, alpha) pair, in one call."""
    xs, alphas = np.meshgrid(x, alphas, indexing="ij")
    g = grad_wrt(jl.general_robust, xs, "alpha", jnp.asarray(alphas), scale=C)
    return g


def _barron_dalpha(x, alpha, h):
    return (barron_exact(x, alpha + h, C) - barron_exact(x, alpha - h, C)) / (2 * h)


def test_gradient_in_alpha_is_finite_and_continuous_at_zero():
    x = np.array([0.3, 1.0, 2.5, 10.0])
    g = _alpha_grads(x, [0.0, 1e-4, -1e-4])
    assert np.all(np.isfinite(g))
    # At 0 the loss is analytic in alpha: the derivative is the exact one...
    np.testing.assert_allclose(g[:, 0], _barron_dalpha(x, 0.0, 1e-5), rtol=1e-6)
    # ... and its neighbours are close (continuity), and match the float64 formula there.
    np.testing.assert_allclose(g[:, 1], g[:, 0], rtol=1e-3)
    np.testing.assert_allclose(g[:, 2], g[:, 0], rtol=1e-3)
    np.testing.assert_allclose(g[:, 1], _barron_dalpha(x, 1e-4, 1e-6), rtol=1e-5)


def test_gradient_in_alpha_is_finite_and_continuous_at_two():
    x = np.array([0.3, 1.0, 2.5, 10.0])
    g = _alpha_grads(x, [2.0, 2 + 1e-4, 2 - 1e-4, 2 + 3e-4, 2 - 3e-4, 2 + 1e-8, 2 - 1e-8])
    assert np.all(np.isfinite(g))
    # Outside the smoothing window the derivative is the exact one (float64 finite differences).
    np.testing.assert_allclose(g[:, 3], _barron_dalpha(x, 2 + 3e-4, 1e-7), rtol=1e-4)
    np.testing.assert_allclose(g[:, 4], _barron_dalpha(x, 2 - 3e-4, 1e-7), rtol=1e-4)
    # The exact derivative grows like -(x/c)^2 log|alpha - 2| / 4 (it is infinite at 2); ours is
    # exact down to 2 +- 1e-4, the edge of the smoothing window, keeps growing inside it, and
    # stops at a finite value at 2 within 1.5 times the edge values...
    np.testing.assert_allclose(g[:, 1], _barron_dalpha(x, 2 + 1e-4, 1e-8), rtol=1e-3)
    np.testing.assert_allclose(g[:, 2], _barron_dalpha(x, 2 - 1e-4, 1e-8), rtol=1e-3)
    edge = 0.5 * (g[:, 1] + g[:, 2])
    assert np.all(g[:, 0] >= np.minimum(g[:, 1], g[:, 2])) and np.all(g[:, 0] <= 1.5 * edge), (g[:, 0], edge)
    # ... and continuous through alpha = 2.
    np.testing.assert_allclose(g[:, 5], g[:, 0], rtol=1e-4)
    np.testing.assert_allclose(g[:, 6], g[:, 0], rtol=1e-4)


def test_general_robust_gradients_finite_at_singular_alphas_in_float32():
    e = jnp.asarray(E, jnp.float32)
    for alpha in (0.0, 2.0, -np.inf, np.inf, -2.0):
        a = jnp.float32(alpha)
        f = lambda e, a, c: jl.general_robust(e, jnp.zeros_like(e), alpha=a, scale=c)
        vals = jax.grad(f, argnums=(0, 1, 2))(e * (1.0 if alpha != np.inf else 0.1), a, jnp.float32(C))
        assert all(np.all(np.isfinite(v)) for v in vals), (alpha, vals)


def test_robust_losses_finite_at_huge_errors_and_scale_checks():
    huge = jnp.asarray([1e20, -1e20, 1e4], jnp.float32)
    for name in ("cauchy", "welsch", "geman_mcclure", "tukey_biweight", "student_t_nll", "laplace_nll"):
        fn = jl.get(name)
        value, g = jax.value_and_grad(lambda p: fn(p, jnp.zeros(3, jnp.float32)))(huge)
        assert np.isfinite(float(value)) and np.all(np.isfinite(g)), name
    # Charbonnier (alpha = 1) grows like |e| and stays finite too.
    assert np.isfinite(float(jl.general_robust(huge, jnp.zeros(3, jnp.float32), alpha=1.0)))
    with pytest.raises(ValueError, match="cauchy: scale must be > 0"):
        jl.cauchy(E, ZEROS, scale=np.where(E > 0, 1.0, 0.0))
    with pytest.raises(ValueError, match="general_robust: alpha=nan is out of range"):
        jl.general_robust(E, ZEROS, alpha=float("nan"))


finite_errors = st.floats(-1e6, 1e6, allow_nan=False)


@SETTINGS
@given(e=st.lists(finite_errors, min_size=8, max_size=8), scale=st.floats(0.05, 20.0))  # one shape: no recompiles
def test_bounded_robust_losses_stay_under_their_bounds(e, scale):
    e = np.asarray(e)
    for name, bound in [("welsch", scale**2), ("geman_mcclure", 2 * scale**2), ("tukey_biweight", scale**2 / 6)]:
        v = per_entry(jl.get(name), e, scale=scale)
        assert np.all(v >= 0) and np.all(v <= bound * (1 + 1e-12)), name
        np.testing.assert_allclose(v, per_entry(jl.get(name), -e, scale=scale), rtol=1e-12, atol=0)


@SETTINGS
@given(x=st.floats(-100, 100, allow_nan=False), alphas=st.lists(st.floats(-50, 10), min_size=6, max_size=6))
def test_general_robust_is_monotone_in_alpha(x, alphas):
    """Barron 2019, section 1: f is monotonically non-decreasing in alpha."""
    alphas = np.sort(np.asarray(alphas))
    v = per_entry(jl.general_robust, np.full(alphas.shape, x), alpha=alphas, scale=C)
    assert np.all(np.diff(v) >= -1e-9 * (1 + np.abs(v[1:])))

