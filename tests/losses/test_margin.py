"""Special cases of the margin family, beyond the registry-driven suite.

Provenance of the numbers: PyTorch's documented examples, values hand-computed with
NumPy below, and values printed by torch 2.13.0 (CPU, float64) where noted.
"""

from __future__ import annotations

import hypothesis.extra.numpy as hnp
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxloss as jl


finite = st.floats(-1e3, 1e3, allow_nan=False, width=64)

signs = st.sampled_from([-1.0, 1.0])


# -- PyTorch's margin losses: documented examples and hand-computed values -----------------------


def test_multi_margin_pytorch_documented_example():
    # torch.nn.MultiMarginLoss docs: 0.25 * ((1 - (0.8 - 0.1)) + (1 - (0.8 - 0.2)) + (1 - (0.8 - 0.4))).
    x, y = np.array([[0.1, 0.2, 0.4, 0.8]]), np.array([3])
    expected = 0.25 * ((1 - (0.8 - 0.1)) + (1 - (0.8 - 0.2)) + (1 - (0.8 - 0.4)))
    np.testing.assert_allclose(jl.multi_margin(x, y), expected, rtol=1e-12)


def test_multi_margin_p2_and_class_weights_match_torch():
    # torch 2.13.0: F.multi_margin_loss(x, y, p=2, weight=w, reduction="none") -> [0.6100, 0.0850];
    # the class weight multiplies the squared hinge (not the hinge before squaring).
    x = np.array([[0.1, 0.2, 0.4, 0.8], [1.0, -1.0, 0.5, 0.3]])
    y = np.array([3, 0])
    w = np.array([1.0, 2.0, 3.0, 4.0])
    hand = np.array([4 * (0.3**2 + 0.4**2 + 0.6**2) / 4, 1 * (0.0 + 0.5**2 + 0.3**2) / 4])
    got = jl.multi_margin(x, y, p=2, class_weights=w, reduction="none")
    np.testing.assert_allclose(got, hand, rtol=1e-12)
    np.testing.assert_allclose(got, [0.61, 0.085], rtol=1e-12)
    # "mean" divides by the number of examples, not by the sum of the class weights (torch: 0.3475).
    np.testing.assert_allclose(jl.multi_margin(x, y, p=2, class_weights=w), 0.3475, rtol=1e-12)


def test_multi_margin_is_weston_watkins_and_multiclass_hinge_is_crammer_singer():
    x = np.array([[3.0, 2.5, 2.8, -1.0]])
    y = np.array([0])
    # Weston-Watkins: every wrong class within the margin, summed, divided by C.
    ww = (max(0, 1 - 3 + 2.5) + max(0, 1 - 3 + 2.8) + max(0, 1 - 3 - 1.0)) / 4
    # Crammer-Singer: only the strongest wrong class.
    cs = max(0, 1 - 3 + 2.8)
    np.testing.assert_allclose(jl.multi_margin(x, y), ww, rtol=1e-12)
    np.testing.assert_allclose(jl.multiclass_hinge(x, y), cs, rtol=1e-12)
    assert jl.get("weston_watkins") is jl.multi_margin and jl.get("crammer_singer") is jl.multiclass_hinge


@settings(max_examples=25, deadline=None)
@given(hnp.arrays(np.float64, (4, 2), elements=finite), st.lists(st.integers(0, 1), min_size=4, max_size=4))
def test_with_two_classes_weston_watkins_is_crammer_singer_over_c(x, labels):
    y = np.array(labels, np.int32)
    np.testing.assert_allclose(
        jl.multi_margin(x, y, reduction="none"), np.asarray(jl.multiclass_hinge(x, y, reduction="none")) / 2,
        rtol=1e-12, atol=1e-12)


def test_multi_margin_rejects_p_other_than_1_or_2():
    # p is declared an int (PyTorch's MultiMarginLoss takes p=1 or p=2): a float is refused by its type.
    with pytest.raises(TypeError, match="multi_margin: p must be an integer; got float 1.5"):
        jl.multi_margin(np.zeros((2, 3)), np.array([0, 1]), p=1.5)
    with pytest.raises(ValueError, match=r"multi_margin: p=3 is out of range; p must be in \[1, 2\]"):
        jl.multi_margin(np.zeros((2, 3)), np.array([0, 1]), p=3)


def test_margin_ranking_values():
    # torch 2.13.0: F.margin_ranking_loss([1, 2], [2, 1], [1, 1], margin=0.5, reduction="none") -> [1.5, 0.0].
    a, b = np.array([1.0, 2.0, 0.0]), np.array([2.0, 1.0, 0.3])
    y = np.array([1.0, 1.0, -1.0])
    np.testing.assert_allclose(jl.margin_ranking(a, b, y, margin=0.5, reduction="none"), [1.5, 0.0, 0.2], rtol=1e-12)
    # The gradient is -y for the first score and +y for the second while the pair is violated.
    ga, gb = jax.grad(jl.margin_ranking, argnums=(0, 1))(a, b, y, margin=0.5, reduction="sum")
    np.testing.assert_allclose(ga, [-1.0, 0.0, 1.0])
    np.testing.assert_allclose(gb, [1.0, 0.0, -1.0])


@settings(max_examples=25, deadline=None)
@given(hnp.arrays(np.float64, (5,), elements=finite), hnp.arrays(np.float64, (5,), elements=finite),
       hnp.arrays(np.float64, (5,), elements=signs), st.floats(0, 5))
def test_margin_ranking_swapping_the_pair_flips_the_target(a, b, y, margin):
    np.testing.assert_array_equal(
        jl.margin_ranking(a, b, y, margin=margin, reduction="none"),
        jl.margin_ranking(b, a, -y, margin=margin, reduction="none"))


def test_signed_targets_are_checked():
    with pytest.raises(ValueError, match=r"margin_ranking: targets must be in \{-1, 1\}; got values \[0.0\]"):
        jl.margin_ranking(np.zeros(2), np.zeros(2), np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match=r"soft_margin: targets must be in \{-1, 1\}"):
        jl.soft_margin(np.zeros(2), np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"multilabel_soft_margin: targets must be in \[0, 1\]"):
        jl.multilabel_soft_margin(np.zeros((1, 2)), np.array([[1.0, 2.0]]))
    # Excluded entries are not checked.
    assert float(jl.soft_margin(np.zeros(2), np.array([1.0, 2.0]), where=np.array([True, False]))) > 0


def test_soft_margin_values_and_equivalence_with_bce():
    # torch 2.13.0: F.soft_margin_loss([0, 2], [1, -1], reduction="none") -> [0.6931, 2.1269].
    x, y = np.array([0.0, 2.0, -30.0]), np.array([1.0, -1.0, 1.0])
    np.testing.assert_allclose(jl.soft_margin(x, y, reduction="none"), np.log1p(np.exp(-y * x)), rtol=1e-12)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(4, 3)) * 3, rng.choice([-1.0, 1.0], (4, 3))
    np.testing.assert_allclose(
        jl.soft_margin(x, y, reduction="none"), jl.binary_cross_entropy(x, (y + 1) / 2, reduction="none"), rtol=1e-12)


@settings(max_examples=25, deadline=None)
@given(hnp.arrays(np.float64, (6,), elements=finite), hnp.arrays(np.float64, (6,), elements=signs))
def test_soft_margin_depends_on_the_margin_only(x, y):
    np.testing.assert_allclose(
        jl.soft_margin(x, y, reduction="none"), jl.soft_margin(-x, -y, reduction="none"), rtol=1e-12, atol=0)


def test_multilabel_soft_margin_is_bce_averaged_over_classes():
    # torch 2.13.0: F.multilabel_soft_margin_loss(x, t, weight=[1, 2, 3, 4], reduction="none") -> [2.0410, 1.5199].
    x = np.array([[0.1, 0.2, 0.4, 0.8], [1.0, -1.0, 0.5, 0.3]])
    t = np.array([[0.0, 1, 1, 0], [1, 0, 0, 1]])
    w = np.array([1.0, 2.0, 3.0, 4.0])
    bce = np.asarray(jl.binary_cross_entropy(x, t, reduction="none"))
    np.testing.assert_allclose(jl.multilabel_soft_margin(x, t, reduction="none"), bce.mean(-1), rtol=1e-12)
    got = jl.multilabel_soft_margin(x, t, class_weights=w, reduction="none")
    np.testing.assert_allclose(got, (bce * w).sum(-1) / 4, rtol=1e-12)  # divided by C, not by sum(w)
    np.testing.assert_allclose(got, [2.0410, 1.5199], atol=5e-5)


def test_hinge_embedding_values():
    # torch 2.13.0: F.hinge_embedding_loss([0.5, 2, 0.3], [1, -1, -1], reduction="none") -> [0.5, 0.0, 0.7].
    d, y = np.array([0.5, 2.0, 0.3]), np.array([1.0, -1.0, -1.0])
    np.testing.assert_allclose(jl.hinge_embedding(d, y, reduction="none"), [0.5, 0.0, 0.7], rtol=1e-12)
    np.testing.assert_allclose(jl.hinge_embedding(d, y, margin=3.0, reduction="none"), [0.5, 1.0, 2.7], rtol=1e-12)


# -- multilabel_margin: PyTorch's padded target format -------------------------------------------


def _set_form(x, targets):
    """(1 / C) sum_{j in T} sum_{i not in T} max(0, 1 - (x_j - x_i)) over target lists, by hand."""
    c = x.shape[-1]
    out = []
    for row, t in zip(x, targets):
        t = list(t)
        others = [i for i in range(c) if i not in t]
        out.append(sum(max(0.0, 1 - (row[j] - row[i])) for j in t for i in others) / c)
    return np.array(out)


def test_multilabel_margin_pytorch_documented_example():
    # torch.nn.MultiLabelMarginLoss docs: targets 3 and 0 (the 1 after -1 is not a target):
    # 0.25 * ((1-(0.1-0.2)) + (1-(0.1-0.4)) + (1-(0.8-0.2)) + (1-(0.8-0.4))) = 0.85.
    x, y = np.array([[0.1, 0.2, 0.4, 0.8]]), np.array([[3, 0, -1, 1]])
    hand = 0.25 * ((1 - (0.1 - 0.2)) + (1 - (0.1 - 0.4)) + (1 - (0.8 - 0.2)) + (1 - (0.8 - 0.4)))
    np.testing.assert_allclose(jl.multilabel_margin(x, y), hand, rtol=1e-12)
    np.testing.assert_allclose(hand, 0.85, rtol=1e-12)


def test_multilabel_margin_padding_semantics():
    x = np.array([[0.1, 0.2, 0.4, 0.8]] * 5)
    y = np.array([
        [3, 0, -1, 1],  # the first -1 ends the list: targets {3, 0}
        [3, 0, -1, -1],  # the same list, padded differently
        [-1, 3, 0, 1],  # no target at all
        [0, 1, 2, 3],  # every class a target: no non-target, loss 0
        [3, 0, 0, -1],  # a repeated class counts twice (torch 2.13.0 -> 1.45)
    ])
    got = np.asarray(jl.multilabel_margin(x, y, reduction="none"))
    expected = _set_form(x, [[3, 0], [3, 0], [], [0, 1, 2, 3], [3, 0, 0]])
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    np.testing.assert_allclose(got, [0.85, 0.85, 0.0, 0.0, 1.45], rtol=1e-12)


def test_multilabel_margin_static_shapes_under_jit():
    x = jnp.asarray(np.random.default_rng(0).normal(size=(3, 4)))
    f = jax.jit(lambda x, y: jl.multilabel_margin(x, y))  # a fresh function: its own compile cache
    a = f(x, np.array([[1, -1, -1, -1], [0, 2, -1, -1], [3, 2, 1, -1]]))
    b = f(x, np.array([[-1, -1, -1, -1], [0, -1, 2, -1], [3, -1, -1, -1]]))
    assert f._cache_size() == 1  # a different number of targets per row does not recompile
    np.testing.assert_allclose(a, _set_form(np.asarray(x), [[1], [0, 2], [3, 2, 1]]).mean(), rtol=1e-12)
    np.testing.assert_allclose(b, _set_form(np.asarray(x), [[], [0], [3]]).mean(), rtol=1e-12)


def test_multilabel_margin_bad_indices():
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"multilabel_margin: targets hold class indices outside \[0, 3\).*\[5\]"):
        jl.multilabel_margin(x, np.array([[0, 5, -1], [1, -1, -1]]))
    # After the end of a list anything goes, as in PyTorch.
    jl.multilabel_margin(x, np.array([[0, -1, 7], [1, -1, -1]]))
    # Under jit the bad example is NaN in value and gradient; the other is untouched.
    f = jax.jit(lambda x, y: jl.multilabel_margin(x, y, reduction="none"))
    out = np.asarray(f(x, np.array([[0, 5, -1], [1, -1, -1]])))
    assert np.isnan(out[0]) and np.isfinite(out[1])
    with pytest.raises(TypeError, match="multilabel_margin: targets must hold integer class indices"):
        jl.multilabel_margin(x, np.zeros((2, 3)))



@pytest.mark.parametrize("loss", [jl.multi_margin, jl.multiclass_hinge])
def test_a_margin_per_example_is_read_per_example_when_examples_equal_classes(loss):
    # 3 examples, 3 classes: NumPy's broadcasting would apply a (3,) margin per class, silently.
    x = np.array([[0.2, 1.0, -0.5], [1.5, 0.1, 0.3], [0.0, 0.4, 0.9]])
    y = np.array([1, 0, 2])
    margins = np.array([0.5, 1.0, 2.0])
    got = loss(x, y, margin=margins, reduction="none")
    expected = [loss(x, y, margin=float(m), reduction="none")[i] for i, m in enumerate(margins)]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    with pytest.raises(ValueError, match=rf"{loss.__name__}: margin of shape \(3, 1\)"):
        loss(x, y, margin=margins[:, None])
