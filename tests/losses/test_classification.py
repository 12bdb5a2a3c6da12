"""Hand-picked cases for the classification losses (jaxloss/losses/_classification.py).

The registry-driven suite (test_catalog.py) covers the generic contract; this
file holds the cases a person would check by hand: the beginners' article's
numbers, agreement with optax and PyTorch on the same input, and each option's semantics.
"""

from __future__ import annotations

import math

import hypothesis.extra.numpy as hnp
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxloss as jl
from references import REFERENCES, np_log_softmax


# -- the beginners' article ---------------------------------------------------------------------


def test_dog_cat_fish_prediction():
    probs = jnp.array([[0.7, 0.2, 0.1]] * 3)
    costs = jl.cross_entropy(probs, jnp.array([0, 1, 2]), from_logits=False, reduction="none")
    np.testing.assert_allclose(costs, [-math.log(0.7), -math.log(0.2), -math.log(0.1)], rtol=1e-6)


def test_confident_and_right_beats_unsure_beats_confident_and_wrong():
    label = jnp.array([0])
    right_confident = jl.cross_entropy(jnp.array([[0.95, 0.03, 0.02]]), label, from_logits=False)
    right_unsure = jl.cross_entropy(jnp.array([[0.45, 0.35, 0.20]]), label, from_logits=False)
    wrong_confident = jl.cross_entropy(jnp.array([[0.02, 0.95, 0.03]]), label, from_logits=False)
    assert right_confident < right_unsure < wrong_confident


# -- agreement with optax on the same input ------------------------------------------------------


@pytest.fixture
def logits_and_labels(rng):
    return rng.normal(size=(16, 7)) * 3, rng.integers(0, 7, 16).astype(np.int32)


def test_cross_entropy_equals_optax(logits_and_labels):
    x, y = logits_and_labels
    expected = optax.softmax_cross_entropy_with_integer_labels(x, y)
    np.testing.assert_allclose(jl.cross_entropy(x, y, reduction="none"), expected, rtol=1e-12)
    onehot = np.eye(7)[y]
    np.testing.assert_allclose(jl.cross_entropy(x, onehot, reduction="none"), expected, rtol=1e-12)


def test_label_smoothing_equals_optax_smoothed_targets(logits_and_labels):
    x, y = logits_and_labels
    smoothed = optax.smooth_labels(np.eye(7)[y], 0.1)
    expected = optax.softmax_cross_entropy(x, smoothed)
    np.testing.assert_allclose(jl.cross_entropy(x, y, label_smoothing=0.1, reduction="none"), expected, rtol=1e-12)
    np.testing.assert_allclose(
        jl.cross_entropy(x, np.eye(7)[y], label_smoothing=0.1, reduction="none"), expected, rtol=1e-12)


def test_label_smoothing_with_masked_classes_stays_finite():
    x = jnp.array([[2.0, -jnp.inf, 0.5, -jnp.inf]])
    value, grad = jax.value_and_grad(jl.cross_entropy)(x, jnp.array([0]), label_smoothing=0.2)
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    # The uniform part is spread over the two classes that can be predicted.
    log_p = np_log_softmax(np.array([[2.0, 0.5]]))
    expected = -(0.8 * log_p[0, 0] + 0.1 * log_p[0, 0] + 0.1 * log_p[0, 1])
    np.testing.assert_allclose(value, expected, rtol=1e-12)


def test_binary_losses_equal_optax(rng):
    x = rng.normal(size=(32,)) * 4
    t = rng.integers(0, 2, 32).astype(np.float64)
    np.testing.assert_allclose(
        jl.bce(x, t, reduction="none"), optax.sigmoid_binary_cross_entropy(x, t), rtol=1e-10)
    np.testing.assert_allclose(
        jl.focal(x, t, gamma=2.0, alpha=0.25, reduction="none"),
        optax.sigmoid_focal_loss(x, t, alpha=0.25, gamma=2.0), rtol=1e-10)
    np.testing.assert_allclose(
        jl.hinge(x, 2 * t - 1, reduction="none"), optax.hinge_loss(x, 2 * t - 1), rtol=1e-12)


def test_multiclass_hinge_and_kl_equal_optax(logits_and_labels, rng):
    x, y = logits_and_labels
    np.testing.assert_allclose(
        jl.multiclass_hinge(x, y, reduction="none"), optax.losses.multiclass_hinge_loss(x, y), rtol=1e-12)
    q = rng.dirichlet(np.ones(7), 16)
    np.testing.assert_allclose(
        jl.kl_divergence(x, q, reduction="none"), optax.kl_divergence(jax.nn.log_softmax(x), q), rtol=1e-10)


def test_kl_gradient_is_finite_at_zero_targets_where_optax_is_not():
    q = jnp.array([[0.0, 0.5, 0.5]])
    x = jnp.array([[0.1, 0.2, 0.3]])
    grads = jax.grad(jl.kl_divergence, argnums=(0, 1))(x, q)
    assert all(np.all(np.isfinite(g)) for g in grads)
    optax_grad = jax.grad(lambda q: optax.kl_divergence(jax.nn.log_softmax(x), q).sum())(q)
    assert not np.all(np.isfinite(optax_grad))  # the known failure we beat


def test_cross_entropy_with_probability_targets_and_minus_inf_logit_where_optax_is_nan():
    x = jnp.array([[1.0, -jnp.inf, 0.0]])
    q = jnp.array([[0.5, 0.0, 0.5]])
    assert np.isfinite(jl.cross_entropy(x, q))
    assert np.all(np.isfinite(jax.grad(jl.cross_entropy)(x, q)))
    assert np.isnan(optax.softmax_cross_entropy(x, q)).all()


# -- options --------------------------------------------------------------------------------------


def test_class_weights_follow_pytorch(logits_and_labels, rng):
    x, y = logits_and_labels
    w = rng.uniform(0.5, 2.0, 7)
    per_example = -np_log_softmax(x)[np.arange(16), y]
    expected = np.sum(w[y] * per_example) / np.sum(w[y])  # torch CrossEntropyLoss(weight=w)
    np.testing.assert_allclose(jl.cross_entropy(x, y, class_weights=w), expected, rtol=1e-12)
    np.testing.assert_allclose(jl.nll(np_log_softmax(x), y, class_weights=w), expected, rtol=1e-12)


# torch 2.13.0, float64: F.cross_entropy(logits, labels, weight=[1, 2, 3], label_smoothing=0.2, reduction=...,
# ignore_index=...) and the gradient of its sum with respect to the logits.
TORCH_WEIGHTED_SMOOTHING = {
    "none-None": ([2.355793824, 1.17567163064, 2.165759074397, 4.97567163064],
              [[-0.758629978862, 0.160340831932, 0.59828914693], [0.424146431325, -0.023818128175, -0.40032830315], [0.797146286241, -1.02610310388, 0.228956817639], [2.133005030183, -0.023818128175, -2.109186902008]]),
    "mean-None": (1.185877351075,
              [[-0.084292219874, 0.017815647992, 0.066476571881], [0.047127381258, -0.002646458686, -0.044480922572], [0.088571809582, -0.114011455987, 0.025439646404], [0.237000558909, -0.002646458686, -0.234354100223]]),
    "sum-1": (8.50713708528,
              [[-0.758629978862, 0.160340831932, 0.59828914693], [0.424146431325, -0.023818128175, -0.40032830315], [0.0, 0.0, 0.0], [2.133005030183, -0.023818128175, -2.109186902008]]),
    "mean-1": (1.215305297897,
              [[-0.108375711266, 0.022905833133, 0.085469878133], [0.060592347332, -0.003402589739, -0.057189757593], [0.0, 0.0, 0.0], [0.304715004312, -0.003402589739, -0.301312414573]]),
}


@pytest.mark.parametrize("case", sorted(TORCH_WEIGHTED_SMOOTHING))
def test_class_weights_with_label_smoothing_equal_pytorch(case):
    x = jnp.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0], [0.3, 0.1, -0.4], [2.0, -1.0, 0.5]])
    y = jnp.array([0, 2, 1, 2])
    reduction, ignore = case.split("-")
    options = dict(class_weights=jnp.array([1.0, 2.0, 3.0]), label_smoothing=0.2, reduction=reduction,
                   ignore_index=None if ignore == "None" else int(ignore))
    value, grad = TORCH_WEIGHTED_SMOOTHING[case]
    loss = lambda x: jnp.sum(jl.cross_entropy(x, y, **options))  # noqa: E731
    np.testing.assert_allclose(jl.cross_entropy(x, y, **options), value, rtol=1e-10)
    np.testing.assert_allclose(jax.grad(loss)(x), grad, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(jax.jit(loss)(x), np.sum(value), rtol=1e-10)


def test_class_weights_with_label_smoothing_follow_the_formula(logits_and_labels, rng):
    """Random inputs against the formula in NumPy: (1 - e) w_y nll + e / K sum_c w_c (-log p_c), mean / sum w_y."""
    x, y = logits_and_labels
    w, e, u = rng.uniform(0.5, 2.0, 7), 0.3, rng.uniform(0.5, 2.0, 16)
    log_p = np_log_softmax(x)
    per_example = (1 - e) * w[y] * -log_p[np.arange(16), y] + e / 7 * np.sum(w * -log_p, axis=-1)
    np.testing.assert_allclose(jl.cross_entropy(x, y, class_weights=w, label_smoothing=e, reduction="none"),
                               per_example, rtol=1e-12)
    np.testing.assert_allclose(jl.cross_entropy(x, y, class_weights=w, label_smoothing=e, weights=u),
                               np.sum(u * per_example) / np.sum(u * w[y]), rtol=1e-12)


def test_ignore_index_is_where(logits_and_labels):
    x, y = logits_and_labels
    y = y.copy()
    y[::3] = -100
    keep = y != -100
    np.testing.assert_allclose(jl.cross_entropy(x, y, ignore_index=-100), jl.cross_entropy(x[keep], y[keep]), rtol=1e-12)
    np.testing.assert_allclose(jl.nll(x, y, ignore_index=-100), jl.nll(x[keep], y[keep]), rtol=1e-12)
    g = jax.grad(jl.cross_entropy)(x, y, ignore_index=-100)
    assert np.all(np.asarray(g)[~keep] == 0)


def test_multiclass_focal(logits_and_labels):
    x, y = logits_and_labels
    log_p = np_log_softmax(x)[np.arange(16), y]
    expected = -((1 - np.exp(log_p)) ** 2) * log_p
    np.testing.assert_allclose(jl.focal(x, y, reduction="none"), expected, rtol=1e-10)
    np.testing.assert_allclose(jl.focal(x, y, gamma=0.0, reduction="none"), -log_p, rtol=1e-12)
    alpha = np.linspace(0.1, 0.9, 7)
    np.testing.assert_allclose(jl.focal(x, y, alpha=alpha, reduction="none"), alpha[y] * expected, rtol=1e-10)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_focal_gradient_is_finite_when_certain(gamma):
    g = jax.grad(jl.focal)(jnp.array([1e4, -1e4]), jnp.array([1.0, 0.0]), gamma=gamma)
    assert np.all(np.isfinite(g))


def test_kl_log_targets(rng):
    x = rng.normal(size=(4, 5))
    q = rng.dirichlet(np.ones(5), 4)
    np.testing.assert_allclose(jl.kl_divergence(x, np.log(q), log_targets=True), jl.kl_divergence(x, q), rtol=1e-12)


def test_bce_options(rng):
    x = rng.normal(size=(6, 3))
    t = rng.integers(0, 2, (6, 3)).astype(np.float64)
    pw = np.array([1.0, 2.0, 5.0])
    np.testing.assert_allclose(
        jl.bce(x, t, pos_weight=pw, label_smoothing=0.1, reduction="none"),
        REFERENCES["binary_cross_entropy"](x, t, pos_weight=pw, label_smoothing=0.1), rtol=1e-12)
    # Probabilities of exactly 0 and 1: finite value and gradient.
    value, grad = jax.value_and_grad(jl.bce)(jnp.array([0.0, 1.0, 1.0]), jnp.array([1.0, 0.0, 1.0]), from_logits=False)
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    # Integer and boolean targets are accepted.
    np.testing.assert_allclose(jl.bce(x, t.astype(bool)), jl.bce(x, t), rtol=1e-12)


def test_hinge_accepts_zero_one_labels_and_rejects_others(rng):
    x = rng.normal(size=8)
    t01 = rng.integers(0, 2, 8)
    np.testing.assert_allclose(jl.hinge(x, t01), jl.hinge(x, 2.0 * t01 - 1), rtol=1e-12)
    with pytest.raises(ValueError, match=r"hinge: targets must be in \{-1, 0, 1\}; got values \[2.0\]"):
        jl.hinge(x, np.full(8, 2.0))


# -- error messages -------------------------------------------------------------------------------


def test_messages_for_class_target_shapes(logits_and_labels):
    x, y = logits_and_labels
    with pytest.raises(ValueError, match=r"look like one-hot vectors: pass class indices \(targets.argmax\(-1\)\) "
                                         r"or the vectors as floats"):
        jl.cross_entropy(x, np.eye(7, dtype=np.int32)[y])
    # (n,) logits with (n,) labels: one example of n classes, most likely a binary problem.
    with pytest.raises(ValueError, match=r"are ONE example with 16 classes; for one score per example use a binary "
                                         r"loss"):
        jl.cross_entropy(x[:, 0], y)
    with pytest.raises(ValueError, match=r"probability targets must have the predictions' shape \(16, 7\); got \(16,\)"):
        jl.cross_entropy(x, y.astype(np.float32))
    with pytest.raises(ValueError, match=r"ignore_index applies to integer"):
        jl.cross_entropy(x, np.eye(7)[y], ignore_index=0)
    with pytest.raises(ValueError, match=r"class_weights must have one weight per class, shape \(7,\)"):
        jl.cross_entropy(x, y, class_weights=np.ones(3))
    with pytest.raises(ValueError, match=r"at least 1 dimension"):
        jl.cross_entropy(np.float32(1.0), np.int32(0))


def test_padding_labels_outside_the_mask_do_not_raise(logits_and_labels):
    x, y = logits_and_labels
    y = y.copy()
    y[0] = 99
    where = np.ones(16, bool)
    where[0] = False
    assert np.isfinite(jl.cross_entropy(x, y, where=where))


# -- properties for all inputs (hypothesis) -----------------------------------------------------


finite = st.floats(-1e3, 1e3, allow_nan=False, width=64)


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.float64, (3, 4), elements=finite), st.floats(-50, 50))
def test_cross_entropy_is_invariant_to_shifting_logits(x, shift):
    y = np.array([0, 1, 3], np.int32)
    np.testing.assert_allclose(
        jl.cross_entropy(x + shift, y, reduction="none"), jl.cross_entropy(x, y, reduction="none"), rtol=1e-9, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.float64, (5,), elements=finite), hnp.arrays(np.float64, (5,), elements=st.floats(0, 1)))
def test_bce_flip_symmetry(x, t):
    np.testing.assert_allclose(
        jl.bce(x, t, reduction="none"), jl.bce(-x, 1 - t, reduction="none"), rtol=1e-9, atol=1e-12)

