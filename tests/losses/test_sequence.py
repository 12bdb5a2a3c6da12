"""Special cases of the sequence family (CTC), beyond the registry-driven suite.
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
from references.sequence import np_ctc_single


# -- CTC ------------------------------------------------------------------------------------------


def _torch_case():
    """The inputs the PyTorch values below were computed from."""
    rng = np.random.default_rng(2024)
    logits = rng.normal(size=(3, 6, 4)) * 2
    labels = np.array([[1, 2, 2], [3, 1, 0], [2, 0, 0]], np.int32)
    label_pad = np.array([[0, 0, 0], [0, 0, 1], [0, 1, 1]], np.float64)  # target_lengths (3, 2, 1)
    frame_pad = np.zeros((3, 6))
    frame_pad[1, 5:] = 1.0  # input_lengths (6, 5, 4)
    frame_pad[2, 4:] = 1.0
    return logits, labels, label_pad, frame_pad


def test_ctc_equals_torch_2_13():
    # Provenance: torch 2.13.0 (CPU), float64, on _torch_case():
    #   torch.nn.functional.ctc_loss(torch.log_softmax(torch.tensor(logits), -1).transpose(0, 1),
    #       torch.tensor(labels), input_lengths=(6, 5, 4), target_lengths=(3, 2, 1), blank=0, reduction=...)
    torch_none = [6.263156420555176, 6.107901700471256, 2.396427490501994]
    torch_mean = 2.512699049196449  # torch's 'mean': each loss / target length, then the mean
    # Same, with blank=3 and labels [[0, 0, 1], [2, 1, 0], [1, 0, 0]].
    torch_blank3 = [5.204050313204413, 4.640561549511457, 3.8601393688619146]
    logits, labels, label_pad, frame_pad = _torch_case()
    kw = dict(logit_paddings=frame_pad, label_paddings=label_pad)
    np.testing.assert_allclose(jl.ctc(logits, labels, **kw, reduction="none"), torch_none, rtol=1e-12)
    np.testing.assert_allclose(jl.ctc(logits, labels, **kw, normalize_by_label_length=True), torch_mean, rtol=1e-12)
    np.testing.assert_allclose(jl.ctc(logits, labels, **kw), np.mean(torch_none), rtol=1e-12)
    labels3 = np.array([[0, 0, 1], [2, 1, 0], [1, 0, 0]], np.int32)
    np.testing.assert_allclose(jl.ctc(logits, labels3, **kw, blank_id=3, reduction="none"), torch_blank3, rtol=1e-12)
    # optax uses the same padding convention and returns per-sequence values.
    np.testing.assert_allclose(optax.ctc_loss(logits, frame_pad, labels, label_pad), torch_none, rtol=1e-9)


@pytest.mark.parametrize("blank_id", [0, 2])
def test_ctc_matches_numpy_forward_algorithm(blank_id):
    rng = np.random.default_rng(blank_id)
    b, t, k, n = 5, 7, 5, 3
    logits = rng.normal(size=(b, t, k)) * 3
    others = [c for c in range(k) if c != blank_id]
    labels = rng.choice(others, (b, n)).astype(np.int32)
    labels[0] = others[0]  # all repeats: needs 2n - 1 frames
    label_pad = np.zeros((b, n))
    label_pad[1, 2:] = 1.0
    label_pad[2, :] = 1.0  # empty label sequence
    frame_pad = np.zeros((b, t))
    frame_pad[3, 5:] = 1.0
    frame_pad[4, 1:3] = 1.0  # padded frames in the middle are skipped too
    got = jl.ctc(logits, labels, logit_paddings=frame_pad, label_paddings=label_pad, blank_id=blank_id,
                 reduction="none")
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = [np_ctc_single(log_p[i][frame_pad[i] == 0], labels[i][label_pad[i] == 0], blank_id) for i in range(b)]
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_ctc_without_paddings_and_with_extra_batch_axes():
    logits, labels, label_pad, _ = _torch_case()
    flat = jl.ctc(logits, labels, label_paddings=label_pad, reduction="none")
    nested = jl.ctc(logits[None], labels[None], label_paddings=label_pad[None], reduction="none")
    np.testing.assert_allclose(jl.ctc(logits, np.maximum(labels, 1)[:, :1], reduction="none"),
                               jl.ctc(logits, np.maximum(labels, 1), label_paddings=np.array([[0, 1, 1.0]] * 3),
                                      reduction="none"), rtol=1e-12)
    assert nested.shape == (1, 3)
    np.testing.assert_allclose(nested[0], flat, rtol=1e-12)


def test_ctc_impossible_alignment_is_inf_or_zero():
    logits, _, _, _ = _torch_case()
    labels = np.array([[1, 1, 1], [1, 2, 3], [1, 2, 3]], np.int32)
    frame_pad = np.zeros((3, 6))
    frame_pad[0, 4:] = 1.0  # [1, 1, 1] needs 5 frames: impossible with 4
    kw = dict(logit_paddings=frame_pad, label_paddings=np.zeros((3, 3)))
    values = jl.ctc(logits, labels, **kw, reduction="none")
    assert np.isinf(values[0]) and values[0] > 0 and np.all(np.isfinite(values[1:]))  # as torch: inf
    zeroed = jl.ctc(logits, labels, **kw, zero_infinity=True, reduction="none")
    assert zeroed[0] == 0.0
    np.testing.assert_allclose(zeroed[1:], values[1:], rtol=1e-12)
    g = jax.grad(lambda x: jl.ctc(x, labels, **kw, zero_infinity=True))(logits)
    assert np.all(np.isfinite(g)) and np.all(g[0] == 0)
    # The possible sequences keep their own gradient.
    g_rest = jax.grad(lambda x: jl.ctc(x, labels[1:], logit_paddings=frame_pad[1:],
                                       label_paddings=np.zeros((2, 3)), reduction="sum"))(logits[1:])
    np.testing.assert_allclose(g[1:] * 3, g_rest, rtol=1e-10)


def test_ctc_gradient_matches_finite_differences_float64():
    rng = np.random.default_rng(5)
    logits = rng.normal(size=(2, 4, 3))
    labels = np.array([[1, 1], [2, 1]], np.int32)
    kw = dict(logit_paddings=np.array([[0, 0, 0, 0], [0, 0, 0, 1.0]]), label_paddings=np.zeros((2, 2)))
    f = lambda x: jl.ctc(x, labels, **kw, reduction="sum")  # noqa: E731
    g = jax.grad(f)(logits)
    for _ in range(3):
        v = rng.normal(size=logits.shape)
        h = 1e-6
        fd = (f(logits + h * v) - f(logits - h * v)) / (2 * h)
        np.testing.assert_allclose(float(jnp.vdot(g, v)), float(fd), rtol=1e-6)
    assert np.all(g[1, 3] == 0)  # a padded frame gets no gradient


def test_ctc_neg_inf_logits_equal_dropping_the_class():
    logits, labels, label_pad, frame_pad = _torch_case()
    masked = logits.copy()
    masked[:, :, 3] = -np.inf  # class 3 masked out (and removed from the labels)
    labels = np.where(labels == 3, 1, labels).astype(np.int32)
    kw = dict(logit_paddings=frame_pad, label_paddings=label_pad)
    got = jl.ctc(masked, labels, **kw, reduction="none")
    np.testing.assert_allclose(got, jl.ctc(logits[..., :3], labels, **kw, reduction="none"), rtol=1e-12)
    g = jax.grad(lambda x: jl.ctc(x, labels, **kw))(jnp.asarray(masked))
    assert np.all(np.isfinite(g)) and np.all(g[..., 3] == 0)


def test_ctc_bad_inputs():
    logits, labels, label_pad, frame_pad = _torch_case()
    with pytest.raises(ValueError, match="ctc: targets hold values \\[0\\]"):
        jl.ctc(logits, np.array([[1, 0, 2], [1, 1, 1], [1, 1, 1]], np.int32))  # the blank at a real position
    with pytest.raises(ValueError, match="right-padded"):
        jl.ctc(logits, labels, label_paddings=np.array([[1, 0, 0], [0, 0, 0], [0, 0, 0]], float))
    with pytest.raises(ValueError, match="logit_paddings must have shape \\(3, 6\\)"):
        jl.ctc(logits, labels, logit_paddings=np.zeros((3, 5)))
    with pytest.raises(ValueError, match="blank_id=4"):
        jl.ctc(logits, labels, blank_id=4)
    # Under jit a bad label gives NaN for its sequence only.
    bad = np.array(labels)
    bad[0, 0] = 7
    out = jax.jit(lambda y: jl.ctc(logits, y, label_paddings=label_pad, reduction="none"))(bad)
    assert np.isnan(out[0]) and np.all(np.isfinite(out[1:]))


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_ctc_is_nonnegative_and_matches_numpy_for_any_logits(seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(3, 6, 4)) * rng.uniform(0.1, 10)
    labels = rng.integers(1, 4, (3, 3)).astype(np.int32)
    got = np.asarray(jl.ctc(logits, labels, reduction="none"))
    log_p = logits - logits.max(-1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(-1, keepdims=True))
    expected = [np_ctc_single(log_p[i], labels[i]) for i in range(3)]
    assert np.all(got >= 0)
    np.testing.assert_allclose(got, expected, rtol=1e-8)

