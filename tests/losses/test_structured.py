"""Special cases of the structured family (sparsemax, PolyLoss, bi-tempered, symmetric cross-entropy),
beyond the registry-driven suite.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxloss as jl
from references.structured import _bitempered, np_sparsemax


# -- sparsemax ------------------------------------------------------------------------------------


def test_sparsemax_loss_matches_optax_and_has_gradient_p_minus_q():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 5)) * 2
    y = rng.integers(0, 5, 8).astype(np.int32)
    np.testing.assert_allclose(jl.sparsemax_loss(x, y, reduction="none"),
                               optax.losses.multiclass_sparsemax_loss(x, y), rtol=1e-10, atol=1e-12)
    q = np.eye(5)[y]
    np.testing.assert_allclose(jl.sparsemax_loss(x, q, reduction="none"),
                               jl.sparsemax_loss(x, y, reduction="none"), rtol=1e-12, atol=1e-14)
    g = jax.grad(lambda z: jl.sparsemax_loss(z, y, reduction="sum"))(x)
    np.testing.assert_allclose(g, np_sparsemax(x) - q, atol=1e-12)


def test_sparsemax_loss_neg_inf_logits():
    x = np.array([[1.0, -np.inf, 0.5, -np.inf]])
    value = jl.sparsemax_loss(x, np.array([0]))
    np.testing.assert_allclose(value, jl.sparsemax_loss(x[:, [0, 2]], np.array([0])), rtol=1e-12)
    g = jax.grad(lambda z: jl.sparsemax_loss(z, np.array([0])))(x)
    assert np.all(np.isfinite(g)) and np.all(g[0, [1, 3]] == 0)
    assert np.isinf(float(jl.sparsemax_loss(x, np.array([1]))))  # the target class is masked out


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_sparsemax_loss_nonnegative_and_zero_iff_sparsemax_hits(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(4, 5)) * rng.uniform(0.1, 20)
    q = rng.dirichlet(np.ones(5), 4)
    assert np.all(np.asarray(jl.sparsemax_loss(x, q, reduction="none")) >= -1e-12)
    p = np_sparsemax(x)
    np.testing.assert_allclose(jl.sparsemax_loss(x, p, reduction="none"), 0.0, atol=1e-10)


# -- PolyLoss -------------------------------------------------------------------------------------


@pytest.mark.parametrize("epsilon", [-1.0, 0.0, 2.0])
def test_poly1_matches_optax(epsilon):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 5)) * 2
    y = rng.integers(0, 5, 6).astype(np.int32)
    q = rng.dirichlet(np.ones(5), 6)
    expected = optax.losses.poly_loss_cross_entropy(x, np.eye(5)[y], epsilon=epsilon)
    np.testing.assert_allclose(jl.poly1_cross_entropy(x, y, coefficient=epsilon, reduction="none"), expected, rtol=1e-10)
    np.testing.assert_allclose(jl.poly1_cross_entropy(x, q, coefficient=epsilon, reduction="none"),
                               optax.losses.poly_loss_cross_entropy(x, q, epsilon=epsilon), rtol=1e-10)
    if epsilon == 0.0:
        np.testing.assert_allclose(jl.poly1_cross_entropy(x, y, coefficient=0.0), jl.softmax_cross_entropy(x, y), rtol=1e-12)


def test_poly1_label_smoothing_labels_equal_smoothed_probabilities():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(6, 5))
    y = rng.integers(0, 5, 6).astype(np.int32)
    q = 0.8 * np.eye(5)[y] + 0.2 / 5
    np.testing.assert_allclose(jl.poly1_cross_entropy(x, y, label_smoothing=0.2, reduction="none"),
                               jl.poly1_cross_entropy(x, q, reduction="none"), rtol=1e-12)


# -- bi-tempered ----------------------------------------------------------------------------------


def test_bitempered_at_t1_t2_one_is_softmax_cross_entropy_exactly():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(6, 5)) * 3
    y = rng.integers(0, 5, 6).astype(np.int32)
    np.testing.assert_array_equal(jl.bitempered_logistic(x, y, reduction="none"),
                                  jl.softmax_cross_entropy(x, y, reduction="none"))
    # Probability targets: KL(q || p), cross-entropy minus the targets' entropy (the reference code).
    q = rng.dirichlet(np.ones(5), 6)
    entropy = -np.sum(q * np.log(q), -1)
    np.testing.assert_allclose(jl.bitempered_logistic(x, q, reduction="none"),
                               jl.softmax_cross_entropy(x, q, reduction="none") - entropy, rtol=1e-10)


@pytest.mark.parametrize("t1, t2, num_iters, smoothing", [
    (0.8, 1.2, 5, 0.0), (0.2, 4.0, 5, 0.1), (0.5, 1.0, 5, 0.0), (0.7, 0.6, 5, 0.0), (0.9, 0.5, 30, 0.2),
    (1.0, 1.5, 5, 0.0),
])
def test_bitempered_matches_numpy_reference(t1, t2, num_iters, smoothing):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(6, 5)) * 3
    y = rng.integers(0, 5, 6).astype(np.int32)
    got = jl.bitempered_logistic(x, y, t1=t1, t2=t2, num_iters=num_iters, label_smoothing=smoothing, reduction="none")
    np.testing.assert_allclose(got, _bitempered(x, y, t1=t1, t2=t2, num_iters=num_iters, label_smoothing=smoothing),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("t1, t2", [(0.8, 1.2), (0.5, 0.7)])
def test_bitempered_gradient_matches_finite_differences_when_converged(t1, t2):
    # The normalization has its exact implicit derivative; with enough iterations the
    # value is converged and finite differences agree.
    rng = np.random.default_rng(6)
    x = rng.normal(size=(3, 4)) * 2
    y = np.array([0, 1, 3], np.int32)
    f = lambda z: jl.bitempered_logistic(z, y, t1=t1, t2=t2, num_iters=60, reduction="sum")  # noqa: E731
    g = jax.grad(f)(x)
    v = rng.normal(size=x.shape)
    fd = (f(x + 1e-6 * v) - f(x - 1e-6 * v)) / 2e-6
    np.testing.assert_allclose(float(jnp.vdot(g, v)), float(fd), rtol=1e-5)


def test_bitempered_is_bounded_and_finite_with_neg_inf_logits():
    y = np.array([0, 0])
    far_wrong = np.array([[-1e4, 1e4, 0.0], [-50.0, 50.0, 0.0]])
    t1 = 0.5
    values = np.asarray(jl.bitempered_logistic(far_wrong, y, t1=t1, t2=2.0, reduction="none"))
    assert np.all(values <= 1 / (1 - t1) + 2 / (2 - t1) + 1e-9)  # cross-entropy would be 2e4 and 100
    x = np.array([[1.0, -np.inf, 0.5], [2.0, 0.0, -np.inf]])
    for t2 in (0.5, 1.0, 2.0):
        f = lambda z, y: jl.bitempered_logistic(z, y, t1=0.7, t2=t2)  # noqa: E731
        value, g = jax.value_and_grad(f)(jnp.asarray(x), y)
        assert np.isfinite(value) and np.all(np.isfinite(g))
        np.testing.assert_allclose(value, (f(x[:1, [0, 2]], y[:1]) + f(x[1:, [0, 1]], y[1:])) / 2, rtol=1e-10)


# -- symmetric cross-entropy ----------------------------------------------------------------------


def test_symmetric_cross_entropy_formula():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(6, 5))
    y = rng.integers(0, 5, 6).astype(np.int32)
    p = np.exp(x) / np.exp(x).sum(-1, keepdims=True)
    p_y = p[np.arange(6), y]
    expected = 0.3 * -np.log(p_y) + 1.5 * -(-6.0) * (1 - p_y)
    got = jl.symmetric_cross_entropy(x, y, alpha=0.3, beta=1.5, log_zero=-6.0, reduction="none")
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # One-hot probability targets give the same; the authors' clamp of q at 1e-4 is log_zero = log(1e-4).
    np.testing.assert_allclose(jl.symmetric_cross_entropy(x, np.eye(5)[y], alpha=0.3, beta=1.5, log_zero=-6.0,
                                                          reduction="none"), expected, rtol=1e-12)
    q = rng.dirichlet(np.ones(5), 6)
    torch_like = 0.1 * -np.sum(q * np.log(p), -1) + -np.sum(p * np.log(np.clip(q, 1e-4, 1.0)), -1)
    np.testing.assert_allclose(jl.symmetric_cross_entropy(x, q, log_zero=float(np.log(1e-4)), reduction="none"),
                               torch_like, rtol=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31 - 1), st.floats(-1.0, 5.0), st.floats(-20.0, -0.01))
def test_poly1_and_sce_are_nonnegative_for_any_logits(seed, epsilon, log_zero):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(4, 5)) * rng.uniform(0.1, 30)
    y = rng.integers(0, 5, 4).astype(np.int32)
    assert np.all(np.asarray(jl.poly1_cross_entropy(x, y, coefficient=epsilon, reduction="none")) >= -1e-12)
    assert np.all(np.asarray(jl.symmetric_cross_entropy(x, y, log_zero=log_zero, reduction="none")) >= 0)



# -- only -inf masks a class ----------------------------------------------------------------------


@pytest.mark.parametrize("options", [{}, {"t1": 0.8, "t2": 1.2}, {"t1": 0.5}, {"t2": 0.8}], ids=str)
def test_a_nan_or_plus_inf_logit_is_never_dropped_silently(options):
    # The sparsemax and tempered kernels mask every non-finite logit; a NaN or +inf one must not be read as a
    # masked class (a finite wrong value): NaN for that example, value and gradient. -inf still masks.
    x = np.array([[1.0, np.nan, 0.0], [1.0, np.inf, 0.0], [1.0, -np.inf, 0.0], [1.0, 2.0, 0.0]])
    y = np.array([0, 0, 0, 0])
    masked = np.array([[1.0, 0.0]])
    for loss, kwargs in ((jl.bitempered_logistic, options), (jl.sparsemax_loss, {})):
        values = np.asarray(loss(x, y, **kwargs, reduction="none"))
        assert np.isnan(values[0]) and not np.isfinite(values[1]), (loss.__name__, kwargs, values)
        np.testing.assert_allclose(values[2], loss(masked, y[:1], **kwargs, reduction="none")[0], rtol=1e-12)
        assert np.isfinite(values[3])
        g = np.asarray(jax.grad(lambda z, f=loss, k=kwargs: f(z, y, **k, reduction="none")[2:].sum())(x))
        assert np.all(np.isfinite(g[2:][np.isfinite(x[2:])]))
