"""Hand-picked cases for the regression losses (jaxloss/losses/_regression.py).

The registry-driven suite (test_catalog.py) covers the generic contract; this
file holds the cases a person would check by hand: the beginners' article's
numbers, agreement with optax on the same input, and each option's semantics.
"""

from __future__ import annotations

import hypothesis.extra.numpy as hnp
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxloss as jl
from references import REFERENCES


# -- the beginners' article ---------------------------------------------------------------------


def test_errors_of_plus_and_minus_three_both_cost_nine():
    values = jl.mse(jnp.array([3.0, -3.0]), jnp.zeros(2), reduction="none")
    assert values.tolist() == [9.0, 9.0]


def test_mae_grows_linearly():
    values = jl.mae(jnp.array([10.0, 20.0]), jnp.zeros(2), reduction="none")
    assert values.tolist() == [10.0, 20.0]


def test_absolute_error_has_zero_subgradient_on_target():
    g = jax.grad(jl.mae)(jnp.array([0.0, 1.0, -1.0]), jnp.zeros(3))
    assert g.tolist() == [0.0, 1.0 / 3, -1.0 / 3]
    assert jax.grad(jl.smooth_l1)(jnp.array([0.0]), jnp.zeros(1), beta=0.0).tolist() == [0.0]


def test_regression_losses_equal_optax(rng):
    p, t = rng.normal(size=(2, 40)) * 5
    np.testing.assert_allclose(jl.huber(p, t, delta=1.5, reduction="none"), optax.huber_loss(p, t, delta=1.5), rtol=1e-12)
    np.testing.assert_allclose(jl.log_cosh(p, t, reduction="none"), optax.log_cosh(p, t), rtol=1e-12)
    np.testing.assert_allclose(jl.mse(p, t, reduction="none"), optax.squared_error(p, t), rtol=1e-12)


@pytest.mark.parametrize("log_input, full", [(True, True), (False, False), (False, True)])
def test_poisson_options(rng, log_input, full):
    p = rng.uniform(0.2, 3.0, 10) if not log_input else rng.normal(size=10)
    t = rng.poisson(3.0, 10).astype(np.float64)
    np.testing.assert_allclose(
        jl.poisson_nll(p, t, log_input=log_input, full=full, reduction="none"),
        REFERENCES["poisson_nll"](p, t, log_input=log_input, full=full), rtol=1e-12)


def test_gaussian_nll_variance_options(rng):
    p, t = rng.normal(size=(2, 8))
    v = rng.uniform(0.1, 2.0, 8)
    ref = REFERENCES["gaussian_nll"]
    np.testing.assert_allclose(jl.gaussian_nll(p, t, variance=v, reduction="none"), ref(p, t, variance=v), rtol=1e-12)
    np.testing.assert_allclose(
        jl.gaussian_nll(p, t, log_variance=np.log(v), full=True, reduction="none"),
        ref(p, t, log_variance=np.log(v), full=True), rtol=1e-12)
    grad_v = jax.grad(lambda v: jl.gaussian_nll(p, t, variance=v))(v)
    np.testing.assert_allclose(grad_v, 0.5 * (1 / v - (p - t) ** 2 / v**2) / 8, rtol=1e-10)
    with pytest.raises(ValueError, match="not both"):
        jl.gaussian_nll(p, t, variance=v, log_variance=v)


def test_special_cases_of_options(rng):
    p, t = rng.normal(size=(2, 20))
    np.testing.assert_allclose(jl.smooth_l1(p, t, beta=0.0), jl.mae(p, t), rtol=1e-12)
    np.testing.assert_allclose(jl.quantile(p, t, tau=0.5), 0.5 * jl.mae(p, t), rtol=1e-12)
    np.testing.assert_allclose(jl.huber(p, t, delta=2.0) / 2.0, jl.smooth_l1(p, t, beta=2.0), rtol=1e-12)


def test_weights_shape_error_names_shapes(rng):
    p, t = rng.normal(size=(2, 5))
    with pytest.raises(ValueError, match=r"weights of shape \(3,\) does not broadcast to the per-example loss shape \(5,\)"):
        jl.mse(p, t, weights=np.ones(3))


def test_integer_targets_for_regression_are_cast(rng):
    p = rng.normal(size=5).astype(np.float32)
    out = jl.mse(p, np.arange(5))
    assert out.dtype == jnp.float32
    np.testing.assert_allclose(out, np.mean((p - np.arange(5)) ** 2), rtol=1e-6)


# -- properties for all inputs (hypothesis) -----------------------------------------------------


finite = st.floats(-1e3, 1e3, allow_nan=False, width=64)


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.float64, (6,), elements=finite), hnp.arrays(np.float64, (6,), elements=finite),
       st.floats(0.01, 10.0))
def test_huber_sits_between_its_pieces(p, t, delta):
    h = np.asarray(jl.huber(p, t, delta=delta, reduction="none"))
    e = np.abs(p - t)
    assert np.all(h <= 0.5 * e**2 + 1e-9)
    assert np.all(h <= delta * e + 1e-9)
    assert np.all(h >= 0)

