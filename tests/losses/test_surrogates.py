"""Special cases of the surrogate family (losses that stand in for a metric), beyond the registry-driven suite."""

from __future__ import annotations

import math

import jax
import numpy as np

import jaxloss as jl


def test_soft_f1_of_hard_predictions_is_one_minus_f1():
    # Hand-computed: TP = 2, FP = 1, FN = 1, so F1 = 2 TP / (2 TP + FP + FN) = 4 / 6 (smooth -> 0).
    p = np.array([[1.0, 1.0, 1.0, 0.0, 0.0]])
    t = np.array([[1.0, 1.0, 0.0, 1.0, 0.0]])
    np.testing.assert_allclose(jl.soft_f1(p, t, from_logits=False, smooth=1e-12), 1 - 4 / 6, rtol=1e-9)


def test_soft_accuracy_is_the_expected_error_rate():
    # One minus the softmax probability of the true class: for two equal logits it is 1/2.
    x = np.array([[0.0, 0.0], [math.log(3.0), 0.0]])
    np.testing.assert_allclose(jl.soft_accuracy(x, np.array([0, 0]), reduction="none"), [0.5, 0.25], rtol=1e-12)


def test_pairwise_auc_counts_only_positive_negative_pairs_and_is_bounded_in_slope():
    s = np.array([[2.0, -1.0, 0.5, 0.0]])
    t = np.array([[1.0, 0.0, 1.0, 0.0]])
    pairs = [(0, 1), (0, 3), (2, 1), (2, 3)]
    expected = np.mean([math.log1p(math.exp(-(s[0, i] - s[0, j]))) for i, j in pairs])
    np.testing.assert_allclose(jl.pairwise_auc(s, t), expected, rtol=1e-12)
    # A set without negatives has no pairs: 0, with a zero gradient.
    g = jax.grad(jl.pairwise_auc)(s, np.ones_like(t))
    assert float(jl.pairwise_auc(s, np.ones_like(t))) == 0.0 and np.all(np.asarray(g) == 0)
