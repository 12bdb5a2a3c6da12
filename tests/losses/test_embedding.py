"""Special cases of the embedding family (the generic checks are in test_catalog.py).

Provenance of constants: PyTorch values were computed with torch 2.13.0 in float64
(torch.nn.functional.cosine_embedding_loss / triplet_margin_loss); optax values come from
optax 0.2.8, called here on the same inputs.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jaxloss as jl
from references.embedding import ntxent_batch


SETTINGS = settings(max_examples=15, deadline=None, derandomize=True)


# Compiled once per shape: eager calls dispatch every primitive separately, which is slower here.
ntxent = jax.jit(jl.ntxent, static_argnames="reduction")

ntxent_grad = jax.jit(jax.grad(jl.ntxent))

optax_ntxent = jax.jit(optax.losses.ntxent)


def finite(tree) -> bool:
    return all(bool(np.all(np.isfinite(np.asarray(x)))) for x in jax.tree_util.tree_leaves(tree))


# -- cosine ---------------------------------------------------------------------------------------


def test_cosine_distance_matches_optax_where_optax_is_finite():
    rng = np.random.default_rng(0)
    p, t = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    for epsilon in (0.0, 0.5):
        np.testing.assert_allclose(
            jl.cosine_distance(p, t, epsilon=epsilon, reduction="none"),
            optax.losses.cosine_distance(p, t, epsilon=epsilon), rtol=1e-12)


def test_cosine_losses_are_finite_at_zero_vectors():
    p = jnp.array([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    t = jnp.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    # optax 0.2.8 is NaN here; we take the cosine of a zero vector as 0.
    assert not finite(optax.losses.cosine_distance(p, t))
    np.testing.assert_allclose(jl.cosine_distance(p, t, reduction="none"), [1.0, 1.0, 1.0])
    grads = jax.grad(jl.cosine_distance, argnums=(0, 1))(p, t)
    assert finite(grads)
    np.testing.assert_array_equal(grads[0][0], 0.0)  # no direction to move a zero vector along
    y = jnp.array([1, -1, 1])
    np.testing.assert_allclose(jl.cosine_embedding(p, t, y, reduction="none"), [1.0, 0.0, 1.0])
    assert finite(jax.grad(jl.cosine_embedding, argnums=(0, 1))(p, t, y))
    assert finite(jax.hessian(jl.cosine_embedding)(p, t, y))
    assert finite(jax.grad(jl.cosine_embedding)(p.astype(jnp.float16), t.astype(jnp.float16), y))


def test_cosine_embedding_matches_pytorch():
    x1 = np.array([[1e-7, 0.0], [0.0, 0.0], [1.0, 2.0], [3.0, -1.0]])
    x2 = np.array([[1e-7, 0.0], [1.0, 0.0], [2.0, 1.0], [1.0, 1.0]])
    y = np.array([1.0, 1.0, -1.0, 1.0])
    # torch 2.13.0, float64: its EPSILON is float32(1e-12), visible in the first (tiny) pair.
    torch_values = [0.9900990098618194, 1.0, 0.79999999999984, 0.5527864045001762]
    np.testing.assert_allclose(jl.cosine_embedding(x1, x2, y, reduction="none"), torch_values, rtol=1e-14)
    # torch's gradient with respect to x1 (sum reduction), away from the zero vector.
    g = jax.grad(jl.cosine_embedding)(x1, x2, y, reduction="sum")
    np.testing.assert_allclose(g[2:], [[0.24, -0.12], [-8.9443e-02, -2.6833e-01]], rtol=1e-4)
    np.testing.assert_allclose(jl.cosine_embedding(x1[2:], x2[2:], y[2:], margin=0.5, reduction="none"),
                               [0.3, 0.5527864045001762], rtol=1e-12)


@pytest.mark.parametrize("fn, targets", [(jl.cosine_embedding, [1, 0]), (jl.contrastive, [1, -1])])
def test_pair_labels_are_checked(fn, targets):
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match=f"{fn.__name__}: targets must be in"):
        fn(x, x, np.array(targets))


@SETTINGS
@given(hnp.arrays(np.float64, (4, 3), elements=st.floats(-10, 10)),
       hnp.arrays(np.float64, (4, 3), elements=st.floats(-10, 10)),
       st.floats(0.01, 100.0))
def test_cosine_distance_is_in_0_2_and_scale_invariant(p, t, scale):
    d = np.asarray(jl.cosine_distance(p, t, reduction="none"))
    assert np.all((d >= -1e-12) & (d <= 2 + 1e-12))
    np.testing.assert_allclose(jl.cosine_distance(scale * p, t, reduction="none"), d, atol=1e-9)


# -- triplet and contrastive ----------------------------------------------------------------------


def test_triplet_matches_pytorch_with_its_epsilon_and_swap():
    a = np.array([[0.0, 0.0], [1.0, 2.0]])
    pos = np.array([[0.0, 1.0], [1.0, 2.0]])
    neg = np.array([[3.0, 0.0], [1.5, 2.0]])
    # By hand: d(x, y) = ||x - y + 1e-6||; second row d(a, p) = sqrt(2) 1e-6, d(a, n) = sqrt(0.499999^2 + 1e-12).
    by_hand = 1.0 + np.sqrt(2) * 1e-6 - np.sqrt(0.499999**2 + 1e-12)
    np.testing.assert_allclose(by_hand, 0.5000024142125624, rtol=1e-13)  # torch 2.13.0
    torch_values = {2.0: 0.5000024142125624, 1.5: 0.5000025864582418, 1.0: 0.5000020000000001}
    for p, expected in torch_values.items():
        for swap in (False, True):
            np.testing.assert_allclose(
                jl.triplet_margin(a, pos, neg, p=p, swap=swap, reduction="none"), [0.0, expected], rtol=1e-12)
    # The swap matters when the positive is nearer the negative than the anchor is.
    a, pos, neg = np.array([[0.0, 0.0]]), np.array([[2.0, 0.0]]), np.array([[2.5, 0.0]])
    d = lambda x, y: np.linalg.norm(x - y + 1e-6)  # noqa: E731
    plain = max(d(a, pos) - d(a, neg) + 1.0, 0.0)
    swapped = max(d(a, pos) - min(d(a, neg), d(pos, neg)) + 1.0, 0.0)
    assert swapped > plain
    np.testing.assert_allclose(jl.triplet_margin(a, pos, neg), plain, rtol=1e-12)
    np.testing.assert_allclose(jl.triplet_margin(a, pos, neg, swap=True), swapped, rtol=1e-12)


def test_triplet_close_to_optax_whose_epsilon_sits_elsewhere():
    rng = np.random.default_rng(1)
    a, p, n = (rng.normal(size=(5, 3)) for _ in range(3))
    np.testing.assert_allclose(jl.triplet_margin(a, p, n, reduction="none"),
                               optax.losses.triplet_margin_loss(a, p, n), atol=1e-5)


def test_contrastive_gradient_is_finite_at_zero_distance():
    a = jnp.array([[1.0, 2.0], [1.0, 2.0]])
    y = jnp.array([0.0, 1.0])
    np.testing.assert_allclose(jl.contrastive(a, a, y, reduction="none"), [1.0, 0.0])
    for argnum in (0, 1):
        assert finite(jax.grad(jl.contrastive, argnums=argnum)(a, a, y))
        assert finite(jax.hessian(jl.contrastive, argnums=argnum)(a, a, y))


# -- NT-Xent --------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed, temperature", [(0, 0.07), (1, 0.5), (2, 0.07)])
def test_ntxent_equals_optax(seed, temperature):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(8, 4))
    labels = rng.integers(0, 3, 8)  # uneven groups: anchors have 0 to several positives
    expected = optax_ntxent(jnp.asarray(x), jnp.asarray(labels), temperature=temperature)
    assert jl.info_nce is jl.ntxent
    np.testing.assert_allclose(ntxent(x, labels, temperature=temperature), expected, rtol=1e-12)
    np.testing.assert_allclose(ntxent(x, labels, temperature=temperature), ntxent_batch(x, labels, temperature)[1],
                               rtol=1e-12)
    g = ntxent_grad(x, labels, temperature=temperature)
    g_optax = jax.jit(jax.grad(optax.losses.ntxent))(jnp.asarray(x), jnp.asarray(labels), temperature)
    np.testing.assert_allclose(g, g_optax, rtol=1e-9, atol=1e-12)


def test_ntxent_simclr_pairs_in_float32():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(6, 3)).astype(np.float32)
    labels = np.array([0, 1, 2, 0, 1, 2])  # two views of three images
    np.testing.assert_allclose(ntxent(x, labels), optax_ntxent(x, labels), rtol=1e-5)


def test_ntxent_anchor_without_positive():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(5, 3))
    labels = np.array([0, 0, 1, 1, 2])  # anchor 4 has no positive
    per_anchor = ntxent(x, labels, reduction="none")
    assert float(per_anchor[4]) == 0.0
    np.testing.assert_allclose(ntxent(x, labels), optax_ntxent(x, labels), rtol=1e-12)
    assert finite(ntxent_grad(x, labels))
    # No positive pair anywhere: 0 with a zero gradient (optax 0.2.8 gives NaN).
    distinct = np.arange(5)
    assert not finite(optax_ntxent(jnp.asarray(x), jnp.asarray(distinct)))
    assert float(ntxent(x, distinct)) == 0.0
    np.testing.assert_array_equal(ntxent_grad(x, distinct), 0.0)


def test_ntxent_zero_vectors_and_no_negatives_are_finite():
    x = np.zeros((4, 3))
    x[1] = [1.0, 2.0, 3.0]
    labels = np.array([0, 0, 1, 1])
    assert finite(ntxent(x, labels)) and finite(ntxent_grad(x, labels))
    np.testing.assert_allclose(ntxent(x, labels), optax_ntxent(x, labels), rtol=1e-12)
    same = np.zeros(4, int)  # no negatives: each pair is its own softmax, cost 0
    assert float(ntxent(np.random.default_rng(3).normal(size=(4, 3)), same)) == 0.0


def test_ntxent_where_removes_examples_from_the_batch():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(6, 3))
    labels = np.array([0, 1, 0, 1, 2, 2])
    keep = np.array([True, True, False, True, True, True])
    np.testing.assert_allclose(ntxent(x, labels, where=keep), ntxent(x[keep], labels[keep]), rtol=1e-12)
    poisoned = x.copy()
    poisoned[2] = np.nan
    g = ntxent_grad(poisoned, labels, where=keep)
    assert finite(g) and np.all(np.asarray(g)[2] == 0)


@SETTINGS
@given(hnp.arrays(np.float64, (5, 3), elements=st.floats(-5, 5)), st.floats(0.1, 100.0))
def test_ntxent_ignores_the_length_of_embeddings(x, scale):
    labels = np.array([0, 0, 1, 1, 1])
    norms = np.linalg.norm(x, axis=-1)
    if np.any(norms < 1e-3):  # the eps bound on tiny norms is not scale invariant, on purpose (optax)
        return
    np.testing.assert_allclose(ntxent(scale * x, labels), ntxent(x, labels), rtol=1e-8)
    assert float(ntxent(x, labels)) >= 0.0



@pytest.mark.parametrize("loss, args, key", [
    (jl.triplet_margin, (np.zeros((4, 2)), np.ones((4, 2)), -np.ones((4, 2))), "p"),
    (jl.ntxent, (np.eye(4), np.array([0, 0, 1, 1])), "temperature"),
])
def test_options_with_no_per_example_meaning_refuse_an_array_by_name(loss, args, key):
    # One order of the norm for every triplet, one temperature for the batch's logits: an array is refused by
    # name (not jnp's broadcasting error, nor a silent reading along the feature or candidate axis), traced
    # too; one number in any form is accepted.
    with pytest.raises(TypeError, match=rf"{loss.__name__}: {key} must be a single number"):
        loss(*args, **{key: np.full(4, 2.0)})
    with pytest.raises(TypeError, match=rf"{loss.__name__}: {key} must be a single number"):
        jax.jit(lambda v: loss(*args, **{key: v}))(jnp.full(4, 2.0))
    one = loss(*args, **{key: 1.5})
    for form in (np.float64(1.5), jnp.asarray(1.5)):
        np.testing.assert_allclose(loss(*args, **{key: form}), one, rtol=1e-12)
    np.testing.assert_allclose(jax.jit(lambda v: loss(*args, **{key: v}))(1.5), one, rtol=1e-12)
