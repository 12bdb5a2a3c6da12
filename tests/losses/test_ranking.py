"""Special cases of the ranking family, beyond the registry-driven suite.

Provenance of the numbers: values hand-computed with NumPy below; optax 0.2.8
is called directly where a ranking loss matches it.
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


finite = st.floats(-1e3, 1e3, allow_nan=False, width=64)


# -- ranking: item masks ------------------------------------------------------------------------


RANKING = [jl.pairwise_logistic, jl.listwise_softmax]


def _ragged():
    rng = np.random.default_rng(1)
    lengths = [5, 3, 1, 4]
    scores = rng.normal(size=(4, 5)) * 2
    relevance = rng.integers(0, 4, (4, 5)).astype(np.float64)
    items = np.arange(5)[None, :] < np.array(lengths)[:, None]
    return scores, relevance, items, lengths


@pytest.mark.parametrize("loss", RANKING, ids=lambda f: f.__name__)
def test_masked_items_equal_removed_items(loss):
    scores, relevance, items, lengths = _ragged()
    # Garbage in the padding changes nothing.
    scores = np.where(items, scores, np.nan)
    relevance = np.where(items, relevance, np.nan)
    got = np.asarray(loss(scores, relevance, where=items, reduction="none"))
    for k, n in enumerate(lengths):
        np.testing.assert_allclose(got[k], loss(scores[k, :n], relevance[k, :n]), rtol=1e-12, atol=1e-15)
    g = np.asarray(jax.grad(loss)(scores, relevance, where=items))
    assert np.all(np.isfinite(g)) and np.all(g[~items] == 0)


@pytest.mark.parametrize("loss", RANKING, ids=lambda f: f.__name__)
def test_all_masked_list_gives_zero_with_finite_gradient(loss):
    scores, relevance, items, _ = _ragged()
    items[1] = False
    none = np.asarray(loss(scores, relevance, where=items, reduction="none"))
    assert none[1] == 0.0
    # The empty list does not count in the mean.
    keep = [0, 2, 3]
    np.testing.assert_allclose(loss(scores, relevance, where=items), none[keep].mean(), rtol=1e-12)
    g = np.asarray(jax.grad(loss)(scores * 1e4, relevance, where=items))
    assert np.all(np.isfinite(g)) and np.all(g[1] == 0)
    nothing = np.zeros_like(items)
    assert float(loss(scores, relevance, where=nothing)) == 0.0
    assert np.all(np.asarray(jax.grad(loss)(scores, relevance, where=nothing)) == 0)


@pytest.mark.parametrize("loss", RANKING, ids=lambda f: f.__name__)
def test_list_masks_of_every_shape_agree(loss):
    scores, relevance, _, _ = _ragged()
    lists = np.array([True, False, True, True])
    full_rows = np.repeat(lists[:, None], 5, axis=1)
    expected = loss(scores[lists], relevance[lists])
    for where in (lists, lists[:, None], full_rows):
        np.testing.assert_allclose(loss(scores, relevance, where=where), expected, rtol=1e-12)
    with pytest.raises(ValueError, match=r"where of shape \(3,\) fits neither the lists nor the items"):
        loss(scores, relevance, where=np.ones(3, bool))


def test_pairwise_logistic_hand_computed():
    s = np.array([0.5, 2.0, -1.0, 0.0])
    r = np.array([2.0, 0.0, 1.0, 0.0])
    # Pairs with r_i > r_j: (0,1), (0,2), (0,3), (2,1), (2,3); ties (1,3) do not count.
    pairs = [(0, 1), (0, 2), (0, 3), (2, 1), (2, 3)]
    terms = {p: np.log1p(np.exp(-(s[p[0]] - s[p[1]]))) for p in pairs}
    np.testing.assert_allclose(jl.pairwise_logistic(s, r), np.mean(list(terms.values())), rtol=1e-12)
    gaps = {p: r[p[0]] - r[p[1]] for p in pairs}
    weighted = sum(gaps[p] * terms[p] for p in pairs) / sum(gaps.values())
    np.testing.assert_allclose(jl.pairwise_logistic(s, r, gap_weighted=True), weighted, rtol=1e-12)
    # Integer relevance is accepted; a list of ties has no pair and costs 0 (and counts in the mean).
    assert float(jl.pairwise_logistic(s, np.ones(4, np.int32))) == 0.0
    both = jl.pairwise_logistic(np.stack([s, s]), np.stack([r, np.ones(4)]), reduction="none")
    np.testing.assert_allclose(both, [np.mean(list(terms.values())), 0.0], rtol=1e-12)


def test_listwise_softmax_hand_computed_and_normalisation():
    s = np.array([1.0, -0.5, 2.0])
    r = np.array([3.0, 0.0, 1.0])
    log_p = s - np.log(np.exp(s).sum())
    np.testing.assert_allclose(jl.listwise_softmax(s, r), -(r / r.sum() * log_p).sum(), rtol=1e-12)
    np.testing.assert_allclose(jl.listwise_softmax(s, r, normalize=False), -(r * log_p).sum(), rtol=1e-12)
    assert float(jl.listwise_softmax(s, np.zeros(3))) == 0.0  # no relevant item
    with pytest.raises(ValueError, match=r"listwise_softmax: relevance must be >= 0.*\[-1.0\]"):
        jl.listwise_softmax(s, np.array([1.0, -1.0, 0.0]))


# -- ranking: against optax 0.2.8 ---------------------------------------------------------------


def test_listwise_softmax_matches_optax_documented_examples():
    # optax.losses._ranking module docstring: 1.408, gradients [-0.755, 0.09, 0.665], masked batch 0.497.
    s, r = jnp.array([2.0, 1.0, 3.0]), jnp.array([1.0, 0.0, 0.0])
    np.testing.assert_allclose(jl.listwise_softmax(s, r), 1.408, atol=5e-4)
    np.testing.assert_allclose(jax.grad(jl.listwise_softmax)(s, r), [-0.755, 0.09, 0.665], atol=5e-4)
    s = jnp.array([[2.0, 1.0, 0.0], [1.0, 0.5, 1.5]])
    r = jnp.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    where = jnp.array([[True, True, False], [True, True, True]])
    np.testing.assert_allclose(jl.listwise_softmax(s, r, where=where), 0.497, atol=5e-4)


def test_listwise_softmax_equals_optax_ranking_softmax_loss():
    rng = np.random.default_rng(2)
    s = rng.normal(size=(6, 5)) * 2
    r = rng.integers(0, 4, (6, 5)).astype(np.float64)
    items = rng.random((6, 5)) < 0.7
    items[0] = False  # an all-masked list: 0 in both
    items[1, 0] = True
    # optax does not normalise the labels: normalize=False is its definition.
    for where in (None, items):
        np.testing.assert_allclose(
            jl.listwise_softmax(s, r, normalize=False, where=where, reduction="none"),
            optax.losses.ranking_softmax_loss(s, r, where=where, reduce_fn=None), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(
            jl.listwise_softmax(s, r, normalize=False, where=where),
            optax.losses.ranking_softmax_loss(s, r, where=where), rtol=1e-12)
        np.testing.assert_allclose(
            jax.grad(jl.listwise_softmax)(s, r, normalize=False, where=where),
            jax.grad(optax.losses.ranking_softmax_loss)(s, r, where=where), rtol=1e-10, atol=1e-12)
    # ListNet (the default) is optax's loss on relevance normalised per list.
    mass = np.where(items, r, 0).sum(-1, keepdims=True)
    q = np.where(mass > 0, r / np.where(mass > 0, mass, 1), 0)
    np.testing.assert_allclose(
        jl.listwise_softmax(s, r, where=items, reduction="none"),
        optax.losses.ranking_softmax_loss(s, q, where=items, reduce_fn=None), rtol=1e-12, atol=1e-12)


# -- ranking: properties for all inputs (hypothesis) --------------------------------------------


relevance_lists = hnp.arrays(np.float64, (2, 4), elements=st.integers(0, 3).map(float))


@settings(max_examples=25, deadline=None)
@given(hnp.arrays(np.float64, (2, 4), elements=finite), relevance_lists, st.floats(-100, 100),
       st.permutations(range(4)))
def test_ranking_losses_ignore_shifts_and_item_order(s, r, shift, order):
    for loss in RANKING:
        base = np.asarray(loss(s, r, reduction="none"))
        np.testing.assert_allclose(loss(s + shift, r, reduction="none"), base, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(loss(s[:, order], r[:, order], reduction="none"), base, rtol=1e-9, atol=1e-9)
        assert np.all(base >= 0)


@settings(max_examples=25, deadline=None)
@given(hnp.arrays(np.float64, (4,), elements=finite), relevance_lists.map(lambda a: a[0]))
def test_pairwise_logistic_only_uses_the_order_of_relevance(s, r):
    # Any strictly increasing map of the labels gives the same loss (without gap weights).
    np.testing.assert_allclose(jl.pairwise_logistic(s, r), jl.pairwise_logistic(s, np.exp(r) - 7.0), rtol=1e-12)

