"""fit's fused in-memory path equals a training loop written by hand (issue 25, item 8).

For a function model with dropout, a flax nnx module with Dropout and BatchNorm, and equinox modules
(dropout; BatchNorm with its state), ``jl.fit`` and a plain optax loop written here are run on the same
data and compared: the final parameters, the model state (BatchNorm's running statistics), the epoch
losses and the validation losses. The hand loop uses only the model library's own API (a function's
keywords, ``nnx.split``/``nnx.merge``, ``eqx.partition``/``eqx.combine`` under ``jax.vmap``),
``jax.value_and_grad``, ``optimizer.update`` and ``optax.apply_updates``; the losses are written
here (the weighted mean of squared errors, optax's sigmoid binary cross-entropy), not taken from jaxloss.

What it shares with fit is the key contract, which users rely on for reproducibility (a resumed run, a
second run with the same seed) and which is replicated here on purpose:

* epoch ``e`` (1, 2, ...) visits the examples in the order
  ``jax.random.permutation(fold_in(fold_in(key(seed), 0), e), n)``: the full batches of ``batch_size``
  in that order, then the remainder as one smaller step;
* the optimizer step ``t`` (0, 1, ... over the whole run) gives the model the key
  ``fold_in(fold_in(key(seed), 1), t)`` and runs it in training mode;
* the model libraries receive that key as ``jaxloss.models`` documents: a function model as its
  ``key`` keyword; an nnx module by having the ``i``-th leaf of its ``nnx.RngState`` (in tree order)
  replaced by ``fold_in(key, i)`` (stream keys) or 0 (counts); an equinox module under
  ``jax.vmap(..., axis_name="batch")`` with ``jax.random.split(key, batch size)``, one key per example;
* validation runs in evaluation mode (no dropout, BatchNorm's running statistics) with the parameters
  and state at the end of the epoch.

``history["loss"]`` is the epoch's weighted mean over all its examples: the sum over steps of the
step's loss times its weight (the batch size, or the sum of the batch's ``weights``) over the epoch's
total weight. Everything is float32, as users run it (the suite enables x64).

Tolerances are float32's (rtol 1e-5, atol 1e-6): the two programs are compiled apart (a ``lax.scan``
over steps against one jitted step), so their sums may round differently. No Linear feeding a
BatchNorm has a bias: such a bias has a gradient of zero up to rounding, which Adam (g / (|g| + eps))
turns into steps of random sign, so the two runs would differ there by about the learning rate.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxloss as jl

nnx = pytest.importorskip("flax.nnx")
eqx = pytest.importorskip("equinox")

RTOL, ATOL = 1e-5, 1e-6
ADAM = optax.adam(1e-2)  # one object: each fit below compiles its program once
N_TRAIN, N_VAL, FEATURES, HIDDEN, BATCH = 203, 61, 4, 16, 32  # 203 = 6 * 32 + 11: a remainder step every epoch
_SHUFFLE, _DROPOUT = 0, 1  # the constants of the key contract (module docstring)

_RNG = np.random.default_rng(8)
X = _RNG.normal(size=(N_TRAIN + N_VAL, FEATURES)).astype(np.float32)
Y_REAL = (np.tanh(X @ np.array([1.0, -1.5, 0.5, 0.0])) + 0.1 * _RNG.normal(size=N_TRAIN + N_VAL)).astype(np.float32)
Y_BINARY = (X @ np.array([1.0, -1.0, 0.5, 0.3]) + 0.5 * _RNG.normal(size=N_TRAIN + N_VAL) > 0).astype(np.float32)
WEIGHTS = _RNG.uniform(0.1, 3.0, size=N_TRAIN).astype(np.float32)


def _split(y):
    return (X[:N_TRAIN], y[:N_TRAIN]), (X[N_TRAIN:], y[N_TRAIN:])


# -- the losses, written here ------------------------------------------------------------------------


def _mse(predictions, targets, weights):
    return jnp.sum(weights * (predictions - targets) ** 2) / jnp.sum(weights)


def _bce(logits, targets, weights):
    return jnp.sum(weights * optax.sigmoid_binary_cross_entropy(logits, targets)) / jnp.sum(weights)


# -- the hand-written loop ---------------------------------------------------------------------------


@functools.cache
def _compiled(forward, loss):
    """The hand loop's jitted training step and evaluation pass (one per model and loss)."""
    @jax.jit
    def step(params, state, opt_state, x, y, w, key):
        def objective(p):
            predictions, new_state = forward(p, state, x, key=key, train=True)
            return loss(predictions, y, w), new_state

        (value, state), grads = jax.value_and_grad(objective, has_aux=True)(params)
        updates, opt_state = ADAM.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), state, opt_state, value

    return step, jax.jit(lambda p, s, x: forward(p, s, x, key=None, train=False)[0])


def _hand_fit(forward, params, state, loss, train, *, epochs, seed, val=None):
    """Adam on ``loss`` by hand: ``forward(params, state, x, key=, train=) -> (predictions, state)``.

    Returns the final parameters and state, the epoch losses and (with ``val``) the validation losses.
    """
    x, y = train[0], train[1]
    w = np.ones(len(x), np.float32) if len(train) == 2 else train[2]
    step, evaluate = _compiled(forward, loss)
    opt_state, t, losses, val_losses = ADAM.init(params), 0, [], []
    root = jax.random.key(seed)
    n = len(x)
    full = n // BATCH
    for epoch in range(1, epochs + 1):
        order = np.asarray(jax.random.permutation(jax.random.fold_in(jax.random.fold_in(root, _SHUFFLE), epoch), n))
        batches = [order[i * BATCH:(i + 1) * BATCH] for i in range(full)] + [order[full * BATCH:]]
        numerator = 0.0
        for idx in batches:
            key = jax.random.fold_in(jax.random.fold_in(root, _DROPOUT), t)
            params, state, opt_state, value = step(params, state, opt_state, x[idx], y[idx], w[idx], key)
            numerator += float(value) * float(np.sum(w[idx], dtype=np.float64))
            t += 1
        losses.append(numerator / float(np.sum(w, dtype=np.float64)))
        if val is not None:
            predictions = evaluate(params, state, val[0])
            val_losses.append(float(loss(predictions, val[1], jnp.ones(len(val[1]), jnp.float32))))
    return params, state, losses, val_losses


# -- a function model --------------------------------------------------------------------------------


def _mlp_params():
    rng = np.random.default_rng(1)
    return {"w1": (rng.normal(size=(FEATURES, HIDDEN)) / 2).astype(np.float32), "b1": np.zeros(HIDDEN, np.float32),
            "w2": (rng.normal(size=HIDDEN) / 4).astype(np.float32), "b2": np.float32(0.0)}


def mlp(params, inputs, *, key=None, train=False):
    h = jnp.tanh(inputs @ params["w1"] + params["b1"][None, :])
    if train:  # inverted dropout, rate 0.25
        h = jnp.where(jax.random.bernoulli(key, 0.75, h.shape), h / 0.75, 0.0)
    return h @ params["w2"] + params["b2"]


def _function_forward(params, state, x, *, key, train):
    return mlp(params, x, key=key, train=train), state


def _function_case(weighted):
    train, val = _split(Y_REAL)
    params = jax.tree.map(jnp.asarray, _mlp_params())
    if weighted:
        data = {"inputs": train[0], "targets": train[1], "weights": WEIGHTS}
        r = jl.fit(mlp, params, jl.mse, data, optimizer=ADAM, epochs=2, batch_size=BATCH, seed=5, progress=False)
        hand = _hand_fit(_function_forward, params, (), _mse, (*train, WEIGHTS), epochs=2, seed=5)
    else:
        r = jl.fit(mlp, params, jl.mse, train, val=val, optimizer=ADAM, epochs=3, batch_size=BATCH, seed=3,
                   progress=False)
        hand = _hand_fit(_function_forward, params, (), _mse, train, epochs=3, seed=3, val=val)
    return r, (r.params, r.model_state), hand


# -- a flax nnx module -------------------------------------------------------------------------------


class NnxNet(nnx.Module):
    def __init__(self, rngs):
        self.hidden = nnx.Linear(FEATURES, HIDDEN, use_bias=False, rngs=rngs)  # no bias before BatchNorm
        self.norm = nnx.BatchNorm(HIDDEN, rngs=rngs)
        self.drop = nnx.Dropout(0.25, rngs=rngs)
        self.out = nnx.Linear(HIDDEN, 1, rngs=rngs)

    def __call__(self, x):
        return self.out(self.drop(nnx.relu(self.norm(self.hidden(x)))))[..., 0]


def _nnx_case():
    train, val = _split(Y_BINARY)
    module = NnxNet(nnx.Rngs(0))
    graphs = {}
    for mode in (True, False):
        copy = nnx.clone(module)
        copy.train() if mode else copy.eval()
        graphs[mode] = nnx.split(copy, nnx.Param, nnx.BatchStat, nnx.RngState)[0]
    _, params, stats, rngs = nnx.split(module, nnx.Param, nnx.BatchStat, nnx.RngState)
    # The contract's index of each RngState leaf: here the dropout stream's count (0) and key (1).
    paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(rngs)[0]]
    assert [p.split("]")[2] for p in paths] == ["['count'", "['key'"], paths

    def forward(params, stats, x, *, key, train):
        live = nnx.merge(graphs[train], params, stats, rngs, copy=True)  # Variables of this trace
        if key is not None:
            live.drop.rngs.count.set_value(jnp.zeros((), jnp.uint32))
            live.drop.rngs.key.set_value(jax.random.fold_in(key, 1))
        return live(x), nnx.state(live, nnx.BatchStat)

    r = jl.fit(module, jl.bce, train, val=val, optimizer=ADAM, epochs=3, batch_size=BATCH, seed=11, progress=False)
    trained = r.model
    hand = _hand_fit(forward, params, stats, _bce, train, epochs=3, seed=11, val=val)
    return r, (nnx.state(trained, nnx.Param), nnx.state(trained, nnx.BatchStat)), hand


# -- equinox modules ---------------------------------------------------------------------------------


class EqxDropoutNet(eqx.Module):
    hidden: eqx.nn.Linear
    drop: eqx.nn.Dropout
    out: eqx.nn.Linear

    def __init__(self, key):
        k1, k2 = jax.random.split(key)
        self.hidden = eqx.nn.Linear(FEATURES, HIDDEN, dtype=jnp.float32, key=k1)
        self.drop = eqx.nn.Dropout(0.25)
        self.out = eqx.nn.Linear(HIDDEN, "scalar", dtype=jnp.float32, key=k2)

    def __call__(self, x, *, key=None):
        return self.out(self.drop(jnp.tanh(self.hidden(x)), key=key))


class EqxNormNet(eqx.Module):
    hidden: eqx.nn.Linear
    norm: eqx.nn.BatchNorm
    drop: eqx.nn.Dropout
    out: eqx.nn.Linear

    def __init__(self, key):
        k1, k2 = jax.random.split(key)
        self.hidden = eqx.nn.Linear(FEATURES, HIDDEN, use_bias=False, dtype=jnp.float32, key=k1)  # before BatchNorm
        self.norm = eqx.nn.BatchNorm(HIDDEN, axis_name="batch", mode="batch", dtype=jnp.float32)
        self.drop = eqx.nn.Dropout(0.25)
        self.out = eqx.nn.Linear(HIDDEN, "scalar", dtype=jnp.float32, key=k2)

    def __call__(self, x, state, *, key=None):
        h, state = self.norm(self.hidden(x), state)
        return self.out(self.drop(jax.nn.relu(h), key=key)), state


def _equinox_case(stateful):
    train, val = _split(Y_BINARY)
    if stateful:
        model, state = eqx.nn.make_with_state(EqxNormNet)(jax.random.key(2))
    else:
        model, state = EqxDropoutNet(jax.random.key(2)), None
    params, static = eqx.partition(model, eqx.is_inexact_array)

    def forward(params, state, x, *, key, train):
        live = eqx.nn.inference_mode(eqx.combine(params, static), value=not train)
        keys = None if key is None else jax.random.split(key, x.shape[0])  # one key per example
        if stateful:
            return jax.vmap(lambda xi, ki: live(xi, state, key=ki), axis_name="batch", out_axes=(0, None))(x, keys)
        return jax.vmap(lambda xi, ki: live(xi, key=ki), axis_name="batch")(x, keys), state

    if stateful:
        r = jl.fit((model, state), jl.bce, train, val=val, optimizer=ADAM, epochs=3, batch_size=BATCH, seed=7,
                   progress=False)
        trained, trained_state = r.model
        hand = _hand_fit(forward, params, state, _bce, train, epochs=3, seed=7, val=val)
    else:
        r = jl.fit(model, jl.bce, train, optimizer=ADAM, epochs=3, batch_size=BATCH, seed=7, progress=False)
        trained, trained_state = r.model, None
        hand = _hand_fit(forward, params, state, _bce, train, epochs=3, seed=7)
    hand = (eqx.filter(eqx.combine(hand[0], static), eqx.is_inexact_array),) + hand[1:]
    return r, (eqx.filter(trained, eqx.is_inexact_array), trained_state), hand


CASES = {  # each runs once per session (functools.cache), whichever tests ask for it
    "function": functools.cache(functools.partial(_function_case, weighted=False)),
    "function_weighted": functools.cache(functools.partial(_function_case, weighted=True)),
    "nnx": functools.cache(_nnx_case),
    "equinox": functools.cache(functools.partial(_equinox_case, stateful=False)),
    "equinox_state": functools.cache(functools.partial(_equinox_case, stateful=True)),
}
WITH_VAL = ("function", "nnx", "equinox_state")
WITH_STATE = ("nnx", "equinox_state")


@pytest.fixture(scope="module")
def case(request):
    """``(name, fit's result, (fit's params, fit's model state), hand loop's (params, state, losses, val_losses))``."""
    result, trained, hand = CASES[request.param]()
    assert result.status == "completed", result.message
    return request.param, result, trained, hand


def _assert_trees_close(actual, expected):
    got, want = jax.tree_util.tree_flatten_with_path(actual)[0], jax.tree_util.tree_flatten_with_path(expected)[0]
    assert [jax.tree_util.keystr(p) for p, _ in got] == [jax.tree_util.keystr(p) for p, _ in want]
    for (path, a), (_, b) in zip(got, want):
        if not jnp.issubdtype(jnp.result_type(b), jnp.inexact):  # equinox's BatchNorm counter: exact
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=jax.tree_util.keystr(path))
            continue
        assert jnp.result_type(a) == jnp.result_type(b) == jnp.float32, jax.tree_util.keystr(path)
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=RTOL, atol=ATOL,
                                   err_msg=jax.tree_util.keystr(path))


# -- the comparisons ---------------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(CASES), indirect=True)
def test_final_parameters_equal_the_hand_loop(case):
    _, _, (params, _), hand = case
    _assert_trees_close(params, hand[0])


@pytest.mark.parametrize("case", WITH_STATE, indirect=True)
def test_model_state_equals_the_hand_loop(case):
    _, _, (_, state), hand = case
    _assert_trees_close(state, hand[1])
    # The running statistics moved (BatchNorm initialises them to 0 and 1): the comparison is not vacuous.
    floats = [v for v in jax.tree.leaves(state) if jnp.issubdtype(jnp.result_type(v), jnp.floating)]
    assert floats and not any(np.allclose(v, 0) or np.allclose(v, 1) for v in floats)


@pytest.mark.parametrize("case", list(CASES), indirect=True)
def test_epoch_losses_are_the_hand_loops_weighted_means(case):
    name, result, _, hand = case
    assert len(result.history["loss"]) == (2 if name == "function_weighted" else 3)
    np.testing.assert_allclose(result.history["loss"], hand[2], rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("case", WITH_VAL, indirect=True)
def test_val_losses_are_the_hand_loops_evaluation_passes(case):
    _, result, _, hand = case
    np.testing.assert_allclose(result.history["val_loss"], hand[3], rtol=RTOL, atol=ATOL)


def test_the_comparison_sees_the_shuffles_and_keys():
    """The comparisons above can fail: the same hand loop with seed 4 instead of fit's 3 ends elsewhere."""
    train, val = _split(Y_REAL)
    _, (params, _), _ = CASES["function"]()
    other = _hand_fit(_function_forward, jax.tree.map(jnp.asarray, _mlp_params()), (), _mse, train, epochs=3, seed=4,
                      val=val)
    with pytest.raises(AssertionError):
        _assert_trees_close(params, other[0])
