"""fit with real models: random keys per step, train/eval mode, mutable state, flax nnx and equinox modules."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxloss as jl

OPT = optax.adam(3e-2)


def _data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = (x[:, 0] - x[:, 1] + 0.5 * x[:, 2] > 0).astype(np.float32)
    return x, y


X, Y = _data()
TRAIN, VAL = (X[:64], Y[:64]), (X[64:], Y[64:])


def _numpy(x):
    return np.asarray(jax.random.key_data(x) if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else x)


def _leaves_equal(a, b):
    a, b = jax.tree.leaves(a), jax.tree.leaves(b)
    assert len(a) == len(b)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(_numpy(u), _numpy(v))


# -- flax nnx -----------------------------------------------------------------------------------------

nnx = pytest.importorskip("flax.nnx")


class NnxNet(nnx.Module):
    def __init__(self, rngs):
        self.hidden = nnx.Linear(4, 16, rngs=rngs)
        self.norm = nnx.BatchNorm(16, rngs=rngs)
        self.drop = nnx.Dropout(0.3, rngs=rngs)
        self.out = nnx.Linear(16, 1, rngs=rngs)

    def __call__(self, x):
        return self.out(self.drop(nnx.relu(self.norm(self.hidden(x)))))[..., 0]


def _nnx_fit(module, **kw):
    options = dict(optimizer=OPT, epochs=6, batch_size=16, val=VAL, progress=False, metrics=("binary_accuracy",))
    options.update(kw)
    return jl.fit(module, jl.bce, TRAIN, **options)


def test_nnx_module_with_dropout_and_batchnorm_trains_and_comes_back():
    module = NnxNet(nnx.Rngs(0))
    before = nnx.state(module)
    r = _nnx_fit(module)
    assert r.status == "completed" and r.history["loss"][-1] < r.history["loss"][0]
    trained = r.model
    assert isinstance(trained, NnxNet) and trained is not module
    _leaves_equal(nnx.state(module), before)  # the module given is untouched
    assert float(jnp.abs(trained.norm.mean[...]).sum()) > 0  # BatchNorm statistics were carried
    # Evaluation mode is deterministic, and it is what validation used.
    trained.eval()
    logits = trained(jnp.asarray(VAL[0]))
    np.testing.assert_array_equal(logits, trained(jnp.asarray(VAL[0])))
    np.testing.assert_allclose(r.history["val_loss"][-1], jl.bce(logits, VAL[1]), rtol=1e-5)
    # Training mode draws dropout masks: two calls differ.
    trained.train()
    assert not np.array_equal(trained(jnp.asarray(VAL[0])), trained(jnp.asarray(VAL[0])))


def test_nnx_resume_equals_an_uninterrupted_run(tmp_path):
    full = _nnx_fit(NnxNet(nnx.Rngs(1)), epochs=4)
    _nnx_fit(NnxNet(nnx.Rngs(1)), epochs=2, checkpoint_dir=tmp_path)
    resumed = _nnx_fit(NnxNet(nnx.Rngs(1)), epochs=4, resume_from=tmp_path)
    np.testing.assert_allclose(resumed.history["loss"], full.history["loss"], rtol=1e-6)
    _leaves_equal(nnx.state(resumed.model), nnx.state(full.model))


def test_nnx_objective_with_regularizer():
    module = NnxNet(nnx.Rngs(2))
    objective = jl.objective(module, "bce", regularizers=jl.l2(1e-2, mask=lambda path, leaf: path.endswith("kernel")))
    r = jl.fit(module, objective, TRAIN, optimizer=OPT, epochs=2, batch_size=32, progress=False)
    assert r.status == "completed" and r.history["loss/l2"][-1] > 0
    with pytest.raises(ValueError, match="another model"):
        jl.fit(NnxNet(nnx.Rngs(2)), objective, TRAIN, progress=False)


# -- equinox ------------------------------------------------------------------------------------------

eqx = pytest.importorskip("equinox")


class EqxNet(eqx.Module):
    hidden: eqx.nn.Linear
    norm: eqx.nn.BatchNorm
    drop: eqx.nn.Dropout
    out: eqx.nn.Linear

    def __init__(self, key):
        k1, k2 = jax.random.split(key)
        self.hidden = eqx.nn.Linear(4, 16, key=k1)
        self.norm = eqx.nn.BatchNorm(16, axis_name="batch", mode="batch")
        self.drop = eqx.nn.Dropout(0.3)
        self.out = eqx.nn.Linear(16, "scalar", key=k2)

    def __call__(self, x, state, *, key=None):
        h, state = self.norm(self.hidden(x), state)
        return self.out(self.drop(jax.nn.relu(h), key=key)), state


def test_equinox_mlp_trains_as_it_is():
    mlp = eqx.nn.MLP(4, "scalar", 16, 2, key=jax.random.key(0))
    r = jl.fit(mlp, jl.bce, TRAIN, val=VAL, optimizer=OPT, epochs=6, batch_size=16, progress=False)
    assert r.status == "completed" and r.history["loss"][-1] < 0.7 * r.history["loss"][0]
    trained = r.model
    assert isinstance(trained, eqx.nn.MLP)
    logits = jax.vmap(trained)(jnp.asarray(VAL[0]))
    np.testing.assert_allclose(r.history["val_loss"][-1], jl.bce(logits, VAL[1]), rtol=1e-5)


def test_equinox_module_with_state_dropout_and_batchnorm():
    model, state = eqx.nn.make_with_state(EqxNet)(jax.random.key(0))
    r = jl.fit((model, state), jl.bce, TRAIN, val=VAL, optimizer=OPT, epochs=6, batch_size=16, progress=False)
    assert r.status == "completed" and r.history["loss"][-1] < r.history["loss"][0]
    trained, new_state = r.model
    assert isinstance(trained, EqxNet)
    assert not all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(new_state), jax.tree.leaves(state)))
    inference = eqx.nn.inference_mode(trained)
    run = jax.vmap(inference, axis_name="batch", in_axes=(0, None), out_axes=(0, None))
    logits, _ = run(jnp.asarray(VAL[0]), new_state)
    np.testing.assert_array_equal(logits, run(jnp.asarray(VAL[0]), new_state)[0])
    np.testing.assert_allclose(r.history["val_loss"][-1], jl.bce(logits, VAL[1]), rtol=1e-5)
