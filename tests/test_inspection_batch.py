"""jl.inspect on losses whose examples interact, and its finite-difference check (issue 24, class 7).

Per-example gradients obey ``gradient = sum_i c_i grad l_i`` for every registered loss: each example's
gradient is taken within the batch (a row of the Jacobian of the per-example losses), so a batch loss
such as ntxent, whose anchors are scored against the rest of the batch, is not differentiated one
lonely example at a time. Whether examples interact is measured, not listed; here it is checked against
the definition: ``loss(batch, reduction="none")`` differs from the losses of the examples called alone.
The finite-difference column measures errors relative to the gradient's scale, so exact zeros in a
correct float64 gradient read as agreement, and a wrong gradient (a planted ``custom_vjp``) still reads
as wrong.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxloss as jl
from jaxloss.inspection import _numerics

N = 4


def _cases():
    for entry in jl.catalog():
        yield pytest.param(entry.name, None, id=entry.name)
    # ntxent on one batch (n, d): every anchor is scored against the others.
    yield pytest.param("ntxent", "one batch", id="ntxent-one-batch")


def _inputs(name: str, variant: str | None) -> tuple[list[jax.Array], dict]:
    sample = jl.info(name).inputs.random(np.random.default_rng(3), N)
    args = [jnp.asarray(a) for a in sample.args]
    if variant == "one batch":
        args = [a[0] for a in args]
    return args, dict(sample.kwargs)


def _called_alone_differs(fn, args: list[jax.Array], kwargs: dict) -> bool:
    """The definition of interacting examples: the batch's per-example losses differ from the losses of
    its examples (axis 0) called one at a time (with their slices of per-example options: CTC's paddings)."""
    n = args[0].shape[0]
    whole = np.asarray(fn(*args, **kwargs, reduction="none"))
    per_example = jl.info(fn).inputs.random(np.random.default_rng(0), N).example_kwargs

    def alone(i):
        options = {k: v[i:i + 1] if k in per_example else v for k, v in kwargs.items()}
        return np.asarray(fn(*[a[i:i + 1] for a in args], **options, reduction="none"))

    alone = [alone(i) for i in range(n)]
    return not np.allclose(np.concatenate(alone), whole, rtol=1e-12, atol=1e-12)


@pytest.fixture
def no_hessian(monkeypatch):
    """The Hessian is not what these tests check: skipping it saves a compile per loss."""
    monkeypatch.setattr(_numerics, "FULL_HESSIAN_LIMIT", -1)
    monkeypatch.setattr(_numerics, "DIAGONAL_HESSIAN_LIMIT", -1)


@pytest.mark.parametrize("name, variant", list(_cases()))
def test_gradient_is_the_weighted_sum_of_per_example_gradients(name, variant, no_hessian):
    fn = jl.get(name)
    args, kwargs = _inputs(name, variant)
    probe = np.asarray(fn(*args, **kwargs, reduction="none"))
    n = probe.shape[0]
    # One weight per example (constant over the example's other axes), one example excluded.
    w = np.random.default_rng(4).uniform(0.5, 2.0, n)
    weights = np.broadcast_to(w.reshape((n,) + (1,) * (probe.ndim - 1)), probe.shape).copy()
    where = np.ones(probe.shape, bool)
    where[1] = False
    r = jl.inspect(fn, *args, **kwargs, weights=jnp.asarray(weights), where=jnp.asarray(where))

    assert r.examples_interact == _called_alone_differs(fn, args, kwargs)
    assert r.per_example_full == r.examples_interact
    c = r.effective_weights.reshape(n, -1)
    np.testing.assert_allclose(c, c[:, :1] * np.ones_like(c))  # one effective weight per example
    c = c[:, 0]
    g = r.per_example_gradients
    x = np.asarray(args[0])
    if r.per_example_full:
        assert g.shape == (n,) + x.shape
        total = np.einsum("i,i...->...", c, g)
    else:
        assert g.shape == x.shape
        total = c.reshape((n,) + (1,) * (x.ndim - 1)) * g
    np.testing.assert_allclose(total, r.gradient, rtol=1e-10, atol=1e-13)

    # Each per-example gradient is the row of the Jacobian of the unweighted per-example losses.
    def rows(v):
        values = fn(v, *args[1:], **kwargs, where=jnp.asarray(where), reduction="none")
        return jnp.sum(values.reshape(n, -1), axis=1)

    jac = np.asarray(jax.jit(jax.jacrev(rows))(args[0]))
    expected = jac if r.per_example_full else np.stack([jac[i, i] for i in range(n)])
    np.testing.assert_allclose(g, expected, rtol=1e-10, atol=1e-13)
    assert r.fd_max_relative_error < 1e-7, (r.fd_max_relative_error, r.fd_index)


def test_ntxent_on_one_batch_has_nonzero_per_example_gradients_and_says_so():
    """The issue's case: each anchor differentiated alone had no pair, so every row was 0."""
    x = jnp.asarray(np.random.default_rng(0).normal(size=(6, 3)))
    labels = jnp.array([0, 0, 1, 1, 2, 2])
    r = jl.inspect("ntxent", x, labels)
    assert r.examples_interact and r.per_example_full
    assert r.per_example_gradients.shape == (6, 6, 3) and np.all(r.per_example_gradient_norms > 0)
    np.testing.assert_allclose(np.sum(r.per_example_gradients, axis=0) / 6, r.gradient, rtol=1e-10, atol=1e-14)
    assert any("examples interact within the batch" in note for note in r.notes)
    assert "examples interact within the batch" in str(r)
    # The dominant examples are ranked by their weighted part of the gradient, which sums to it.
    assert len(r.dominant) == 3 and sum(share for *_, share in r.dominant) <= 1.0


def test_an_unregistered_batch_loss_is_measured_too():
    """A user's own batch loss (each example against the batch mean) is detected without a declaration."""
    def centred(p, t, *, batch=True, reduction="mean"):
        centre = jnp.mean(p, axis=0, keepdims=True) if batch else jnp.zeros((1, p.shape[1]))
        values = jnp.sum((p - centre - t) ** 2, axis=-1)
        return {"none": values, "sum": jnp.sum(values), "mean": jnp.mean(values)}[reduction]

    p = jnp.asarray(np.random.default_rng(1).normal(size=(5, 2)))
    r = jl.inspect(centred, p, jnp.zeros((5, 2)))
    assert r.examples_interact and r.per_example_gradients.shape == (5, 5, 2)
    np.testing.assert_allclose(np.mean(r.per_example_gradients, axis=0), r.gradient, rtol=1e-10, atol=1e-14)
    # The same loss around a fixed centre: independent examples, each gradient in its own slice.
    r = jl.inspect(centred, p, jnp.zeros((5, 2)), batch=False)
    assert r.examples_interact is False and r.per_example_gradients.shape == (5, 2)
    np.testing.assert_allclose(r.per_example_gradients, 2 * p, rtol=1e-12)


def test_an_empty_batch_is_reported_without_per_example_gradients():
    r = jl.inspect("mse", jnp.zeros((0, 3)), jnp.zeros((0, 3)))
    assert r.value == 0.0 and r.gradient.shape == (0, 3) and r.per_example_gradients is None
    assert r.fd_max_relative_error == 0.0 and "0 of 0 entries" in r.fd_note


def test_a_shared_argument_gets_jacobian_rows():
    """Differentiating an argument with no example axis (a shared weight): rows over the whole argument."""
    def linear(x, y, w, *, reduction="mean"):
        values = (x @ w - y) ** 2
        return {"none": values, "sum": jnp.sum(values), "mean": jnp.mean(values)}[reduction]

    rng = np.random.default_rng(2)
    x, y, w = (jnp.asarray(a) for a in (rng.normal(size=(5, 3)), rng.normal(size=5), rng.normal(size=3)))
    r = jl.inspect(linear, x, y, w, argnum=2)
    assert r.per_example_full and r.examples_interact is None and r.per_example_gradients.shape == (5, 3)
    expected = jax.vmap(jax.grad(lambda w, xi, yi: (xi @ w - yi) ** 2), in_axes=(None, 0, 0))(w, x, y)
    np.testing.assert_allclose(r.per_example_gradients, expected, rtol=1e-12)
    np.testing.assert_allclose(np.mean(r.per_example_gradients, axis=0), r.gradient, rtol=1e-12)


def test_an_objective_over_a_batch_loss_differentiates_each_example_within_the_batch():
    """An objective lifting ntxent: per-example gradients over the parameters sum to the gradient, and an
    objective's per-example losses are unweighted (the effective weights carry ``weights``), as a loss's."""
    rng = np.random.default_rng(5)
    params = {"w": jnp.asarray(rng.normal(size=(3, 2)))}
    x = jnp.asarray(rng.normal(size=(6, 3)))
    batch = {"inputs": x, "targets": jnp.array([0, 0, 1, 1, 2, 2]), "weights": jnp.asarray(rng.uniform(0.5, 2, 6))}
    obj = jl.objective(lambda p, x: x @ p["w"], "ntxent")
    r = jl.inspect(obj, params, batch)
    assert r.examples_interact is True and r.per_example_gradients.shape == (6, 6)
    assert np.all(r.per_example_gradient_norms > 0)
    np.testing.assert_allclose(r.effective_weights @ r.per_example_gradients, r.gradient["w"].reshape(-1),
                               rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(np.sum(r.effective_weights * r.per_example_losses), r.value, rtol=1e-12)
    # A per-example loss through the same model: independent examples, the same identity.
    obj = jl.objective(lambda p, x: x @ p["w"], "cosine_distance")
    r = jl.inspect(obj, params, {**batch, "targets": jnp.asarray(rng.normal(size=(6, 2)))})
    assert r.examples_interact is False
    np.testing.assert_allclose(r.effective_weights @ r.per_example_gradients, r.gradient["w"].reshape(-1),
                               rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(np.sum(r.effective_weights * r.per_example_losses), r.value, rtol=1e-12)


# -- the finite-difference column --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["hinge", "multiclass_hinge", "nll", "sparsemax_loss", "ctc"])
def test_correct_float64_gradients_with_zero_entries_read_as_exact(name):
    args, kwargs = _inputs(name, None)
    r = jl.inspect(name, *args, **kwargs)
    assert np.any(r.gradient == 0)  # the case the old floor read as relative errors of 1e-4
    assert r.fd_max_relative_error < 1e-8, (r.fd_max_relative_error, r.fd_index)


def test_a_zero_gradient_reads_as_exact():
    r = jl.inspect("hinge", jnp.full((4, 3), 5.0), jnp.ones((4, 3)))  # every margin met: loss and gradient 0
    assert not np.any(r.gradient) and r.fd_max_relative_error < 1e-8


def _planted(wrong):
    """mse whose custom_vjp returns ``wrong(true gradient, residual)`` instead of the gradient."""
    @jax.custom_vjp
    def loss(p, t):
        return jnp.mean((p - t) ** 2)

    def forward(p, t):
        return loss(p, t), (p, t)

    def backward(res, ct):
        p, t = res
        true = 2 * (p - t) / p.size
        return ct * wrong(true, p - t), jnp.zeros_like(t)

    loss.defvjp(forward, backward)
    return lambda p, t, reduction="mean": loss(p, t) if reduction == "mean" else (
        jnp.sum((p - t) ** 2) if reduction == "sum" else (p - t) ** 2)


@pytest.mark.parametrize("wrong, where", [
    (lambda g, e: 1.5 * g, "every entry 1.5 times too large"),
    (lambda g, e: -g, "the sign flipped"),
    (lambda g, e: g + jnp.where(e == 0, 0.3, 0.0), "a gradient where the true one is exactly 0"),
    (lambda g, e: g.at[0, 1].set(0.0), "one entry dropped to 0"),
])
def test_a_wrong_gradient_is_flagged(wrong, where):
    p = jnp.array([[0.5, -1.0, 2.0], [0.0, 0.25, -0.5]])  # the error of entry (1, 0) is exactly 0
    t = jnp.zeros((2, 3))
    r = jl.inspect(_planted(wrong), p, t)
    assert r.fd_max_relative_error > 0.1, where
    correct = jl.inspect(_planted(lambda g, e: g), p, t)
    assert correct.fd_max_relative_error < 1e-8
    if where.startswith("a gradient where"):
        assert r.fd_index == (1, 0)


def test_float32_differences_say_they_are_approximate():
    with jax.enable_x64(False):
        r = jl.inspect("huber", jnp.array([0.5, 2.0, -3.0], jnp.float32), jnp.zeros(3, jnp.float32))
    assert "float32: approximate" in r.fd_note and r.fd_max_relative_error < 1e-2
