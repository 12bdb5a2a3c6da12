"""Special cases of the segmentation family (the generic checks are in test_catalog.py).

optax values come from optax 0.2.8, called here on the same inputs.
"""

from __future__ import annotations

import functools

import jax
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jaxloss as jl


SETTINGS = settings(max_examples=15, deadline=None, derandomize=True)


def finite(tree) -> bool:
    return all(bool(np.all(np.isfinite(np.asarray(x)))) for x in jax.tree_util.tree_leaves(tree))


# -- segmentation ---------------------------------------------------------------------------------


def _masks(seed=0, shape=(3, 5, 5)):
    rng = np.random.default_rng(seed)
    return (rng.random(shape) < 0.4).astype(np.float64), (rng.random(shape) < 0.5).astype(np.float64)


def test_dice_is_one_minus_f1_for_hard_predictions():
    pred, mask = _masks()
    tp = (pred * mask).sum((1, 2))
    fp = (pred * (1 - mask)).sum((1, 2))
    fn = ((1 - pred) * mask).sum((1, 2))
    f1 = 2 * tp / (2 * tp + fp + fn)
    np.testing.assert_allclose(jl.dice(pred, mask, from_logits=False, smooth=0.0, reduction="none"), 1 - f1, rtol=1e-12)
    iou = tp / (tp + fp + fn)
    np.testing.assert_allclose(jl.jaccard(pred, mask, from_logits=False, smooth=0.0, reduction="none"), 1 - iou,
                               rtol=1e-12)


@pytest.mark.parametrize("smooth", [0.0, 1.0, 0.3])
def test_tversky_special_cases_are_dice_and_jaccard(smooth):
    rng = np.random.default_rng(1)
    x, (_, mask) = rng.normal(size=(3, 5, 5)), _masks(1)
    # Smooth in numerator and denominator of each ratio: Dice's 2 TP + s is Tversky's TP + s/2.
    np.testing.assert_allclose(jl.tversky(x, mask, alpha=0.5, beta=0.5, smooth=smooth, reduction="none"),
                               jl.dice(x, mask, smooth=2 * smooth, reduction="none"), rtol=1e-12)
    np.testing.assert_allclose(jl.tversky(x, mask, alpha=1.0, beta=1.0, smooth=smooth, reduction="none"),
                               jl.jaccard(x, mask, smooth=smooth, reduction="none"), rtol=1e-12)
    np.testing.assert_allclose(jl.focal_tversky(x, mask, alpha=0.4, beta=0.6, gamma=1.0, smooth=smooth),
                               jl.tversky(x, mask, alpha=0.4, beta=0.6, smooth=smooth), rtol=1e-12)


def test_tversky_equals_optax_dice_loss():
    rng = np.random.default_rng(2)
    x, (_, mask) = rng.normal(size=(3, 5, 5)), _masks(2)
    for alpha, beta, smooth in [(0.5, 0.5, 1.0), (0.3, 0.7, 0.5)]:
        expected = optax.losses.dice_loss(x[..., None], mask[..., None], alpha=alpha, beta=beta, smooth=smooth,
                                          reduction="mean")
        np.testing.assert_allclose(jl.tversky(x, mask, alpha=alpha, beta=beta, smooth=smooth, reduction="none"),
                                   expected, rtol=1e-12)
        np.testing.assert_allclose(jl.dice(x, mask, smooth=2 * smooth, reduction="none") if alpha == beta == 0.5
                                   else expected, expected, rtol=1e-12)
    # Multiclass: label maps, one-hot maps with multiclass=True, and optax on one-hot maps agree.
    logits = rng.normal(size=(2, 4, 4, 3))
    labels = rng.integers(0, 3, (2, 4, 4))
    onehot = np.eye(3)[labels]
    expected = optax.losses.dice_loss(logits, onehot, alpha=0.3, beta=0.7)
    np.testing.assert_allclose(jl.tversky(logits, labels, alpha=0.3, beta=0.7, reduction="none"), expected, rtol=1e-12)
    np.testing.assert_allclose(jl.tversky(logits, onehot, alpha=0.3, beta=0.7, multiclass=True, reduction="none"),
                               expected, rtol=1e-12)


@pytest.mark.parametrize("loss", [jl.dice, jl.jaccard, jl.tversky, jl.focal_tversky])
def test_empty_masks_are_finite(loss):
    empty = np.zeros((2, 4, 4))
    for x, from_logits in [(np.full((2, 4, 4), -1e4), True), (empty, False)]:
        for smooth in (1.0, 0.0):
            f = functools.partial(loss, targets=empty, from_logits=from_logits, smooth=smooth)
            value, g, h = jax.jit(lambda x: (f(x, reduction="none"), jax.grad(f)(x), jax.hessian(f)(x)))(x)
            np.testing.assert_allclose(value, 0.0, atol=1e-12)  # empty predicted empty: perfect
            assert finite(g) and finite(h)
    # A false alarm on an empty mask costs, finitely.
    x = np.random.default_rng(3).normal(size=(2, 4, 4))
    value = loss(x, empty, reduction="none")
    assert np.all(np.asarray(value) > 0) and finite(jax.grad(loss)(x, empty))


def test_focal_tversky_gradient_is_finite_at_a_perfect_prediction():
    _, mask = _masks(4, (2, 4, 4))
    g = jax.grad(jl.focal_tversky)(mask.copy(), mask, from_logits=False, gamma=0.5)
    assert finite(g)
    assert finite(jax.jvp(lambda p: jl.focal_tversky(p, mask, from_logits=False, gamma=0.5), (mask,),
                          (np.ones_like(mask),)))


def test_segmentation_shape_errors_and_volumes():
    x = np.zeros((2, 4, 4, 3))
    with pytest.raises(ValueError, match=r"dice: .*predictions \(2, 4, 4, 3\) and targets \(2, 4\)"):
        jl.dice(x, np.zeros((2, 4), np.int32))
    with pytest.raises(ValueError, match=r"dice: targets must be in \[0, 1\]"):
        jl.dice(np.zeros((2, 4, 4)), np.full((2, 4, 4), 2.0))
    with pytest.raises(ValueError, match=r"dice: targets holds class indices outside \[0, 3\)"):
        jl.dice(x, np.full((2, 4, 4), 3, np.int32))
    # One value per volume with spatial_dims=3.
    vol, mask = np.zeros((2, 3, 4, 4)), _masks(5, (2, 3, 4, 4))[1]
    assert jl.dice(vol, mask, spatial_dims=3, reduction="none").shape == (2,)


@SETTINGS
@given(hnp.arrays(np.float64, (2, 3, 3), elements=st.floats(0, 1)),
       hnp.arrays(np.float64, (2, 3, 3), elements=st.floats(0, 1)),
       st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.floats(0.0, 2.0))
def test_overlap_losses_in_unit_interval_and_tversky_swap_symmetry(p, t, alpha, beta, smooth):
    for loss in (jl.dice, jl.jaccard):
        v = np.asarray(loss(p, t, from_logits=False, smooth=smooth, reduction="none"))
        assert np.all((v >= 0) & (v <= 1 + 1e-12))
    # Swapping prediction and target swaps false positives and false negatives.
    np.testing.assert_allclose(
        jl.tversky(p, t, alpha=alpha, beta=beta, smooth=smooth, from_logits=False, reduction="none"),
        jl.tversky(t, p, alpha=beta, beta=alpha, smooth=smooth, from_logits=False, reduction="none"), atol=1e-12)



@pytest.mark.parametrize("loss, key", [(jl.dice, "smooth"), (jl.jaccard, "smooth"), (jl.tversky, "alpha"),
                                       (jl.tversky, "beta"), (jl.focal_tversky, "gamma")])
def test_an_option_per_image_is_read_per_image(loss, key):
    # Two images of 2 x 2 pixels: an option of shape (2,) is one value per image, never per pixel column, and an
    # (N, 1) option is refused by name (NumPy's broadcasting would make an (N, N) table of it).
    rng = np.random.default_rng(0)
    x, t = rng.normal(size=(2, 2, 2)), (rng.uniform(size=(2, 2, 2)) > 0.5).astype(float)
    values = np.array([0.3, 1.7])
    got = loss(x, t, **{key: values}, reduction="none")
    expected = [loss(x, t, **{key: float(v)}, reduction="none")[i] for i, v in enumerate(values)]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    with pytest.raises(ValueError, match=rf"{loss.__name__}: {key} of shape \(2, 1\)"):
        loss(x, t, **{key: values[:, None]})
