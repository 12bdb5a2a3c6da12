"""The cross-entropy candidates the benchmark suite measures (issue 14) give the right numbers.

A faster kernel that computes something else would win the benchmark: each candidate's value and
gradient are checked here against a float64 NumPy reference, at the shapes where its tiling has edges
(rows past the last block, classes past the last chunk, several chunks), with ``-inf`` logits and
logits far from zero. The Pallas kernel runs interpreted on the CPU; that it lowers for NVIDIA GPUs
(to a Triton custom call) is checked with ``jax.export``, which needs no GPU.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import export

from benchmarks._ce_candidates import TRITON_CUSTOM_CALL, one_pass_cross_entropy, pallas_cross_entropy, pallas_tiles

CANDIDATES = {
    "one_pass": one_pass_cross_entropy,
    "pallas": lambda x, y: pallas_cross_entropy(x, y, interpret=True),
}
# (examples, classes): one chunk and a partial row block; exactly one tile; three chunks, the last
# partial (4,096 per chunk); a single example; a single class.
SHAPES = [(37, 1000), (16, 1024), (6, 9000), (1, 5), (3, 1)]


def _reference(x: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-example -log softmax(x)_y and its gradient (softmax - onehot), in float64."""
    x = x.astype(np.float64)
    top = np.max(np.where(np.isfinite(x), x, -np.inf), axis=1, keepdims=True)
    e = np.exp(x - top)
    lse = top[:, 0] + np.log(e.sum(axis=1))
    picked = x[np.arange(len(x)), labels]
    grad = e / e.sum(axis=1, keepdims=True)
    grad[np.arange(len(x)), labels] -= 1.0
    return lse - picked, grad


def _logits(examples: int, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(examples, classes)) * 4.0 + rng.normal(size=(examples, 1)) * 1e3).astype(np.float32)
    labels = rng.integers(0, classes, size=examples)
    if classes > 1:   # a masked-out class (-inf) that is never the label, in every other row
        masked = (labels[::2] + 1) % classes
        x[np.arange(0, examples, 2), masked] = -np.inf
    return x, labels.astype(np.int32)


@pytest.mark.parametrize("name", CANDIDATES)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_candidate_value_and_gradient_match_float64_reference(name, shape):
    x, labels = _logits(*shape, seed=sum(shape))
    want_values, want_grad = _reference(x, labels)
    candidate = CANDIDATES[name]
    values = jax.jit(candidate)(x, labels)
    grad = jax.jit(jax.grad(lambda x, y: jnp.sum(candidate(x, y))))(x, labels)
    # float32 logits near 1e3: the loss is a difference of numbers of that size.
    np.testing.assert_allclose(np.asarray(values), want_values, rtol=1e-5, atol=2e-4)
    np.testing.assert_allclose(np.asarray(grad), want_grad, rtol=1e-4, atol=1e-6)
    assert np.all(np.asarray(grad)[np.isinf(x)] == 0.0)


@pytest.mark.parametrize("name", CANDIDATES)
def test_candidate_label_on_a_masked_class_costs_infinity(name):
    x = np.array([[0.0, -np.inf, 1.0], [2.0, 0.0, -np.inf]], np.float32)
    values = np.asarray(jax.jit(CANDIDATES[name])(x, np.array([1, 0], np.int32)))
    assert values[0] == np.inf and np.isfinite(values[1])


def test_pallas_tiles_are_powers_of_two_of_at_most_16384_elements():
    for examples, classes in [(1, 1), (37, 1000), (16384, 1000), (8192, 32000), (3, 262144), (100000, 2)]:
        rows, chunk = pallas_tiles(examples, classes)
        assert rows & (rows - 1) == 0 and chunk & (chunk - 1) == 0, (examples, classes)
        assert rows * chunk <= 16384 and chunk <= 4096 and chunk >= min(classes, 4096)


@pytest.mark.parametrize("shape", [(16384, 1000), (8192, 32000), (37, 9000)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_pallas_kernel_lowers_to_triton_for_nvidia_gpus(shape):
    exported = export.export(
        jax.jit(jax.value_and_grad(lambda x, y: jnp.mean(pallas_cross_entropy(x, y)))), platforms=["cuda"],
        disabled_checks=[export.DisabledSafetyCheck.custom_call(TRITON_CUSTOM_CALL)],
    )(jax.ShapeDtypeStruct(shape, jnp.float32), jax.ShapeDtypeStruct(shape[:1], jnp.int32))
    assert exported.mlir_module().count(f"@{TRITON_CUSTOM_CALL}") == 1


def test_pallas_candidate_names_a_wrong_shape():
    with pytest.raises(ValueError, match=r"logits must be \(examples, classes\)"):
        pallas_cross_entropy(jnp.zeros((2, 3, 4)), jnp.zeros((2, 3), jnp.int32), interpret=True)


@pytest.mark.parametrize("name", CANDIDATES)
def test_candidate_keeps_bfloat16_and_accumulates_in_float32(name):
    x, labels = _logits(37, 1000, seed=3)
    x = (x - x.max(axis=1, keepdims=True)).astype(jnp.bfloat16)   # logits a bfloat16 model would give
    want_values, want_grad = _reference(np.asarray(x, np.float64), labels)
    candidate = CANDIDATES[name]
    values = jax.jit(candidate)(x, labels)
    grad = jax.jit(jax.grad(lambda x, y: jnp.sum(candidate(x, y).astype(jnp.float32))))(x, labels)
    assert values.dtype == grad.dtype == jnp.bfloat16
    np.testing.assert_allclose(np.asarray(values, np.float64), want_values, rtol=1e-2)
    np.testing.assert_allclose(np.asarray(grad, np.float64), want_grad, atol=1e-2)
