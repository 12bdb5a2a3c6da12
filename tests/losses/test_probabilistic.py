"""Special points of the probabilistic family (the registry suite covers the rest).

Closed forms are written with ``math``/NumPy in float64 (x64 is on in conftest).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxloss as jl


SETTINGS = settings(max_examples=25, deadline=None, derandomize=True)


# -- Student-t and Laplace: closed forms with math.lgamma ------------------------------------------


def test_student_t_nll_closed_form_and_parameter_gradients():
    r = np.random.default_rng(0)
    e = r.normal(size=12) * 3
    df = r.uniform(0.5, 12, 12)
    scale = r.uniform(0.2, 4, 12)
    expected = [
        math.log(c) + 0.5 * math.log(n * math.pi) + math.lgamma(n / 2) - math.lgamma((n + 1) / 2)
        + (n + 1) / 2 * math.log1p((x / c) ** 2 / n)
        for x, n, c in zip(e, df, scale)
    ]
    # t - p = e: the predictions are 0, the targets e; symmetric anyway.
    got = np.asarray(jl.student_t_nll(np.zeros(12), e, df=df, scale=scale, reduction="none"))
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    for name, value in (("df", df), ("scale", scale)):
        def total(v, name=name):
            kw = {"df": df, "scale": scale, name: v}
            return jl.student_t_nll(np.zeros(12), e, reduction="sum", **kw)

        g = np.asarray(jax.grad(total)(jnp.asarray(value)))
        h = 1e-6
        fd = [(float(total(value + h * np.eye(12)[i])) - float(total(value - h * np.eye(12)[i]))) / (2 * h) for i in (0, 5)]
        np.testing.assert_allclose(g[[0, 5]], fd, rtol=1e-6)
    # df -> inf: the Gaussian NLL with variance scale^2.
    gauss = 0.5 * np.log(2 * np.pi * scale**2) + 0.5 * (e / scale) ** 2
    np.testing.assert_allclose(jl.student_t_nll(np.zeros(12), e, df=1e8, scale=scale, reduction="none"), gauss, rtol=1e-6)


def test_laplace_nll_closed_form():
    e = np.array([-4.0, -0.5, 0.0, 2.0])
    scale = np.array([0.3, 1.0, 2.0, 5.0])
    expected = [math.log(2 * c) + abs(x) / c for x, c in zip(e, scale)]
    np.testing.assert_allclose(jl.laplace_nll(np.zeros(4), e, scale=scale, reduction="none"), expected, rtol=1e-14)
    g = jax.grad(lambda c: jl.laplace_nll(np.zeros(4), e, scale=c, reduction="sum"))(jnp.asarray(scale))
    np.testing.assert_allclose(g, 1 / scale - np.abs(e) / scale**2, rtol=1e-12)


# -- divergences ----------------------------------------------------------------------------------


K = 5

logits = st.lists(st.floats(-30, 30), min_size=K, max_size=K)


def _simplex(w):
    w = np.asarray(w, np.float64)
    return w / w.sum()


simplex = st.lists(st.one_of(st.just(0.0), st.floats(1e-3, 1.0)), min_size=K, max_size=K).filter(
    lambda w: sum(w) > 0).map(_simplex)


@SETTINGS
@given(x=st.lists(logits, min_size=4, max_size=4), q=simplex)
def test_jensen_shannon_is_bounded_by_log_2(x, q):
    x = np.asarray(x)
    q = np.broadcast_to(q, x.shape)
    js = np.asarray(jl.jensen_shannon(x, q, reduction="none"))
    assert np.all(js >= -1e-12) and np.all(js <= math.log(2) + 1e-12)


@SETTINGS
@given(p=simplex, q=simplex)
def test_jensen_shannon_is_symmetric(p, q):
    p, q = np.maximum(p, 1e-7)[None], np.maximum(q, 1e-7)[None]  # probabilities are clipped at 1e-7
    a = float(jl.jensen_shannon(p, q, from_logits=False))
    b = float(jl.jensen_shannon(q, p, from_logits=False))
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)


def test_jensen_shannon_special_values_and_finite_gradients():
    q = np.array([[1.0, 0.0, 0.0], [0.2, 0.3, 0.5]])
    x = np.array([[-np.inf, 0.0, 1.0], [-np.inf, 0.0, 1.0]])
    js = np.asarray(jl.jensen_shannon(x, q, reduction="none"))
    np.testing.assert_allclose(js[0], math.log(2), rtol=1e-12)  # disjoint supports
    g = jax.grad(jl.jensen_shannon)(jnp.asarray(x), q)
    assert np.all(np.isfinite(g))
    assert float(jl.jensen_shannon(np.log(q + 1e-300), q)) < 1e-12


@SETTINGS
@given(p=simplex, q=simplex)
def test_generalized_kl_equals_kl_on_normalized_inputs(p, q):
    p = np.maximum(p, 1e-3)
    p = (p / p.sum())[None]
    q = q[None]
    np.testing.assert_allclose(
        float(jl.generalized_kl_divergence(p, q)), float(jl.kl_divergence(np.log(p), q)), rtol=1e-10, atol=1e-13)
    # log_input takes log-measures and gives the same value.
    np.testing.assert_allclose(
        float(jl.generalized_kl_divergence(np.log(p), q, log_input=True)), float(jl.generalized_kl_divergence(p, q)),
        rtol=1e-10, atol=1e-13)


@SETTINGS
@given(p=st.lists(st.floats(1e-3, 1e3), min_size=K, max_size=K), t=st.lists(st.floats(0, 1e3), min_size=K, max_size=K),
       a=st.floats(1e-2, 1e2))
def test_generalized_kl_is_nonnegative_and_homogeneous(p, t, a):
    p, t = np.asarray(p)[None], np.asarray(t)[None]
    d = float(jl.generalized_kl_divergence(p, t))
    assert d >= -1e-9 * (1 + t.sum())
    np.testing.assert_allclose(float(jl.generalized_kl_divergence(a * p, a * t)), a * d, rtol=1e-9, atol=1e-9)

