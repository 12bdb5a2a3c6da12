"""The engine's programs and host loop: evaluate and predict, step callbacks, max_steps, the learning rate
in History, one optimizer step for fit, trajectories and the playground, compiles counted by JAX.

Every fit here is small (a linear model, 150 examples) and shares one optimizer and shapes, so the
file compiles a handful of programs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxloss as jl
from jaxloss.train._compiles import CompileMeter

RNG = np.random.default_rng(3)
X = RNG.normal(size=(150, 4)).astype(np.float32)
Y = (X @ np.array([1.0, -2.0, 0.5, 0.0], np.float32) > 0).astype(np.float32)
W = RNG.uniform(0.1, 2.0, size=150).astype(np.float32)
P0 = {"w": jnp.zeros(4, jnp.float32), "b": jnp.zeros((), jnp.float32)}
OPT = optax.adam(5e-2)
LR_OPT = optax.inject_hyperparams(optax.sgd)(learning_rate=optax.linear_schedule(0.5, 0.05, 12))


def linear(params, inputs):
    return inputs @ params["w"] + params["b"]


def _sigmoid_bce(logits, y):  # the reference: NumPy, float64
    logits = np.asarray(logits, np.float64)
    return np.maximum(logits, 0) - logits * y + np.log1p(np.exp(-np.abs(logits)))


def _fit(**kw):
    options = dict(optimizer=OPT, epochs=3, batch_size=32, progress=False)
    options.update(kw)
    return jl.fit(linear, P0, jl.bce, (X, Y), **options)


# -- evaluate and predict ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained():
    return _fit(val=(X, Y), metrics=["binary_accuracy", "auc"])


@pytest.mark.parametrize("batch_size", [1, 7, 4096])
def test_evaluate_is_the_weighted_mean_and_metrics_whatever_the_batch_size(trained, batch_size):
    params = trained.params
    logits = np.asarray(linear(params, X), np.float64)
    got = jl.evaluate(linear, params, jl.bce, {"inputs": X, "targets": Y, "weights": W},
                      metrics=["binary_accuracy", "auc"], batch_size=batch_size)
    expected = np.sum(W * _sigmoid_bce(logits, Y)) / np.sum(W)
    np.testing.assert_allclose(got["loss"], expected, rtol=2e-5)
    # The metrics equal fit's on the same data (fit's val_ values at the last epoch: same parameters).
    plain = jl.evaluate(linear, params, jl.bce, (X, Y), metrics=["binary_accuracy", "auc"], batch_size=batch_size)
    assert sorted(plain) == ["auc", "binary_accuracy", "loss"]
    np.testing.assert_allclose(plain["loss"], trained.history["val_loss"][-1], rtol=1e-5)
    np.testing.assert_allclose(plain["auc"], trained.history["val_auc"][-1], rtol=1e-6)
    np.testing.assert_allclose(plain["binary_accuracy"], np.mean((logits > 0) == Y), rtol=1e-6)


def test_evaluate_takes_iterables_and_predict_chunks(trained):
    params = trained.params
    whole = jl.evaluate(linear, params, jl.bce, (X, Y), metrics=["auc"])
    pieces = jl.evaluate(linear, params, jl.bce, [(X[:100], Y[:100]), (X[100:], Y[100:])], metrics=["auc"])
    np.testing.assert_allclose(pieces["loss"], whole["loss"], rtol=1e-6)
    np.testing.assert_allclose(pieces["auc"], whole["auc"], rtol=1e-6)
    expected = np.asarray(linear(params, X))
    for batch_size in (1, 64, 1000):
        np.testing.assert_allclose(jl.predict(linear, params, X, batch_size=batch_size), expected, rtol=1e-6,
                                   atol=1e-6)
    np.testing.assert_allclose(jl.predict(linear, params, [X[:10], X[10:]]), expected, rtol=1e-6, atol=1e-6)


def test_evaluate_and_predict_name_bad_arguments():
    with pytest.raises(TypeError, match="evaluate: with a function model the call is evaluate"):
        jl.evaluate(linear, jl.bce, (X, Y))
    with pytest.raises(TypeError, match="evaluate: batch_size"):
        jl.evaluate(linear, P0, jl.bce, (X, Y), batch_size="all")
    with pytest.raises(ValueError, match="evaluate: batch_size"):
        jl.evaluate(linear, P0, jl.bce, (X, Y), batch_size=0)
    with pytest.raises(TypeError, match="predict: with a function model the call is predict"):
        jl.predict(linear, X)
    with pytest.raises(ValueError, match="predict: inputs yielded no batch"):
        jl.predict(linear, P0, [])


# -- step-level callbacks, max_steps ----------------------------------------------------------------------


class _Steps(jl.Callback):
    def __init__(self, stop_at=None):
        self.seen, self.stop_at = [], stop_at

    def on_step_end(self, step):
        self.seen.append((step.epoch, step.step, float(step.loss)))
        return self.stop_at is not None and step.step >= self.stop_at


def test_step_callbacks_see_every_step_and_change_nothing():
    fused = _fit()
    watcher = _Steps()
    stepped = _fit(callbacks=[watcher])
    # 150 examples in batches of 32: 5 steps an epoch (4 full, one of 22), 15 in all.
    assert [s[:2] for s in watcher.seen] == [(e, 5 * (e - 1) + i) for e in (1, 2, 3) for i in range(1, 6)]
    assert all(np.isfinite(s[2]) for s in watcher.seen)
    # The same batches in the same order as the fused epochs: the same run.
    np.testing.assert_allclose(stepped.history["loss"], fused.history["loss"], rtol=1e-6)
    for a, b in zip(jax.tree.leaves(stepped.params), jax.tree.leaves(fused.params)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    stopped = _fit(callbacks=[_Steps(stop_at=7)])
    assert stopped.status == "stopped_by_callback" and stopped.steps == 7 and stopped.epochs == 2


@pytest.mark.parametrize("max_steps", [7, 10, 40])
def test_max_steps_is_a_budget_of_optimizer_steps(max_steps):
    r = _fit(epochs=5, max_steps=max_steps)
    assert r.steps == min(max_steps, 25)
    if max_steps >= 25:
        assert r.status == "completed" and r.epochs == 5
    else:
        assert r.status == "max_steps" and f"max_steps={max_steps}" in r.message
        assert r.epochs == -(-max_steps // 5)  # the epoch the budget ran out in is recorded
    # The steps taken are the first steps of the unbudgeted run.
    full = _fit(epochs=-(-max_steps // 5) if max_steps < 25 else 5, callbacks=[_Steps(stop_at=max_steps)])
    for a, b in zip(jax.tree.leaves(r.params), jax.tree.leaves(full.params)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_max_steps_is_checked():
    with pytest.raises(ValueError, match="fit: max_steps"):
        _fit(max_steps=0)
    with pytest.raises(TypeError, match="fit: max_steps"):
        _fit(max_steps=2.5)


# -- the learning rate in History -------------------------------------------------------------------------


def test_history_records_the_learning_rate_the_optimizer_exposes():
    r = _fit(optimizer=LR_OPT, epochs=2)
    # 5 steps an epoch: the rate of each epoch's last step (steps 4 and 9, counted from 0).
    schedule = optax.linear_schedule(0.5, 0.05, 12)
    np.testing.assert_allclose(r.history["learning_rate"], [schedule(4), schedule(9)], rtol=1e-6)
    assert "learning_rate" not in _fit(epochs=1).history


# -- one optimizer step, compiles counted by JAX ---------------------------------------------------------


def test_fit_trajectory_and_one_step_agree():
    # Full-batch fit (one step an epoch, no shuffling effect) and a trajectory on the same objective take
    # the same steps: both go through the one optimizer step.
    full = jl.fit(linear, P0, jl.bce, (X, Y), optimizer=OPT, epochs=4, batch_size=150, progress=False)
    path = jl.trajectory(lambda p: jl.bce(linear(p, X), Y), P0, OPT, 4)
    for a, b in zip(jax.tree.leaves(full.params), jax.tree.leaves(path.params)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(full.history["loss"][1:], path.losses[1:], rtol=1e-5)


def test_an_equal_setup_compiles_nothing():
    _fit(epochs=1)
    with CompileMeter() as meter:
        _fit(epochs=2, seed=5)
    assert meter.lowerings == 0 and meter.compiles == 0
