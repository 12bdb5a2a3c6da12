"""What fit hands out is the caller's own; a plain function imports no flax or equinox; the compilation cache.

Issue 25. A: nothing a caller or a callback does to ``result.params``, ``result.opt_state``,
``result.model``, ``result.history`` or to what a callback receives changes the result or the run. Each
model kind is fitted once per module (module-scoped fixtures), with a callback that meddles, and once
without it: the two runs must agree. B and C run in fresh interpreters.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxloss as jl
from jaxloss import _compilation_cache, models
from jaxloss.train._callbacks import StepEnd

OPT = optax.adam(3e-2)
rng = np.random.default_rng(0)
X = rng.normal(size=(64, 4)).astype(np.float32)
Y = (X[:, 0] - X[:, 1] > 0).astype(np.float32)
EPOCHS = 3


def _numpy(x):
    return np.asarray(jax.random.key_data(x) if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else x)


def _leaves_equal(a, b):
    a, b = jax.tree.leaves(a), jax.tree.leaves(b)
    assert len(a) == len(b)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(_numpy(u), _numpy(v))


def _fit_twice(model, *params, meddle):
    """The same fit with a meddling callback and with none (both per epoch: one compiled program).

    Returns (meddled result, clean result, what an observer after the meddler saw, what it saw clean)."""
    seen, clean_seen = [], []

    def observe(into):
        return lambda end: into.append((end.epoch, end.params, end.opt_state, end.model_state, end.history))

    kw = dict(optimizer=OPT, epochs=EPOCHS, batch_size=16, progress=False)
    meddled = jl.fit(model(), *params, "bce", (X, Y), callbacks=[meddle, observe(seen)], **kw)
    clean = jl.fit(model(), *params, "bce", (X, Y), callbacks=[observe(clean_seen)], **kw)
    return meddled, clean, seen, clean_seen


def _same_runs(runs):
    meddled, clean, seen, clean_seen = runs
    assert meddled.status == clean.status == "completed"
    np.testing.assert_array_equal(meddled.history["loss"], clean.history["loss"])
    for name in ("params", "best_params", "last_params", "opt_state", "model_state"):
        _leaves_equal(getattr(meddled, name), getattr(clean, name))
    assert [s[0] for s in seen] == [s[0] for s in clean_seen] == list(range(1, EPOCHS + 1))
    for mine, theirs in zip(seen, clean_seen):
        _leaves_equal(mine[1:4], theirs[1:4])  # the meddler's changes reached no other callback


# -- a plain function --------------------------------------------------------------------------------


def linear(params, inputs):
    return inputs @ params["w"] + params["b"]


def _meddle_plain(end):
    end.params["w"] = 0  # into a copy
    params = end.params
    params["b"] = jnp.float32(100.0)
    end.opt_state[0].mu["w"] = jnp.full(4, 1e3, jnp.float32)  # adam's first moment, a dict in the state
    with pytest.raises(TypeError):
        end.logs["loss"] = 0.0
    with pytest.raises(TypeError, match="read-only.*copy"):
        end.history.append({"epoch": 99, "loss": 0.0})
    with pytest.raises(AttributeError, match="read-only"):
        end.history.best_epoch = 99
    with pytest.raises(AttributeError, match="read-only"):
        end.params = {}
    end.history.copy().append({"epoch": 99, "loss": 0.0})  # a copy of its own can change


@pytest.fixture(scope="module")
def plain():
    p0 = {"w": jnp.zeros(4, jnp.float32), "b": jnp.zeros((), jnp.float32)}
    return _fit_twice(lambda: linear, p0, meddle=_meddle_plain)


def test_a_callback_that_assigns_into_what_it_gets_changes_nothing(plain):
    _same_runs(plain)


def test_every_read_of_a_result_is_a_new_copy(plain):
    result = plain[0]
    for name in ("params", "best_params", "last_params"):
        first = getattr(result, name)
        assert first is not getattr(result, name)
        first["w"] = 0
        first["b"] = jnp.float32(7.0)
        _leaves_equal(getattr(result, name), getattr(plain[1], name))
    state = result.opt_state
    state[0].mu["w"] = jnp.zeros(4)
    _leaves_equal(result.opt_state, plain[1].opt_state)
    assert result.model is None and result.model_state == ()
    with pytest.raises(AttributeError, match="read-only"):
        result.params = {}
    with pytest.raises(AttributeError, match="read-only"):
        result.status = "completed"


def test_history_of_a_result_and_of_a_callback(plain):
    result, _, seen, _ = plain
    history = result.history
    assert isinstance(history, jl.History) and history is not result.history
    np.testing.assert_array_equal(result.history["epoch"], np.arange(1, EPOCHS + 1))
    history.append({"epoch": 9, "loss": 0.0})
    history.best_epoch = 9
    history["loss"][0] = -1.0
    assert result.history.epochs == EPOCHS and result.history.best_epoch != 9
    assert result.history["loss"][0] > 0
    # What a callback received is a snapshot: epoch 1's History still holds one epoch.
    assert [s[4].epochs for s in seen] == list(range(1, EPOCHS + 1))
    np.testing.assert_array_equal(seen[0][4]["loss"], result.history["loss"][:1])
    assert seen[0][4].to_json() != seen[-1][4].to_json()


def test_numpy_leaves_are_copied_and_the_constructor_keywords_are_kept():
    params = {"w": np.zeros(3, np.float32)}
    result = jl.FitResult(params=params, best_params=params, last_params=params, opt_state=(np.zeros(2),),
                          history=jl.History({"epoch": [1], "loss": [1.0]}), status="completed", message="done",
                          epochs=1, steps=4, model_state=(), last_model_state=(), compile_seconds=0.5, rebuild=None)
    params["w"][0] = 5.0  # the caller's array, after the fact
    result.params["w"][1] = 6.0
    result.opt_state[0][0] = 7.0
    np.testing.assert_array_equal(result.params["w"], np.zeros(3))
    np.testing.assert_array_equal(result.opt_state[0], np.zeros(2))
    assert (result.steps, result.compile_seconds, result.ok) == (4, 0.5, True)
    end = jl.EpochEnd(1, {"loss": 1.0}, params, (), (), 4, jl.History({"epoch": [1], "loss": [1.0]}), None)
    end.params["w"][2] = 8.0
    np.testing.assert_array_equal(end.params["w"], [5.0, 0.0, 0.0])
    assert end.model is None and dict(end.logs) == {"loss": 1.0}


def test_step_end_hands_out_copies_and_is_read_only():
    params = {"w": jnp.zeros(3, jnp.float32)}
    end = StepEnd(1, 5, jnp.float32(0.5), params, (), (), None)
    end.params["w"] = 1
    assert end.params is not end.params and end.params["w"] is params["w"]
    assert (end.epoch, end.step, float(end.loss), end.model) == (1, 5, 0.5, None)
    with pytest.raises(AttributeError, match="StepEnd is read-only"):
        end.step = 6


def test_a_history_snapshot_keeps_its_epochs_while_the_run_goes_on():
    history = jl.History({"epoch": [1], "loss": [2.0]}, monitor="loss")
    snapshot = history._snapshot()
    history.append({"epoch": 2, "loss": 1.0, "val_loss": 1.5})
    history.best_epoch = 2
    later = snapshot._snapshot()
    assert list(snapshot) == ["epoch", "loss"] and snapshot.epochs == 1 and snapshot.best_epoch is None
    np.testing.assert_array_equal(later["loss"], [2.0])
    mine = snapshot.copy()
    mine.append({"epoch": 2, "loss": 0.5})
    np.testing.assert_array_equal(history["loss"], [2.0, 1.0])
    np.testing.assert_array_equal(snapshot["loss"], [2.0])
    with pytest.raises(TypeError, match=r"History.extend: this History is read-only.*copy\(\)"):
        snapshot.extend({"loss": [0.0]})


# -- flax nnx, with BatchNorm and Dropout ------------------------------------------------------------

nnx = pytest.importorskip("flax.nnx")


class NnxNet(nnx.Module):
    def __init__(self, rngs):
        self.hidden = nnx.Linear(4, 8, rngs=rngs)
        self.norm = nnx.BatchNorm(8, rngs=rngs)
        self.drop = nnx.Dropout(0.3, rngs=rngs)
        self.out = nnx.Linear(8, 1, rngs=rngs)

    def __call__(self, x):
        return self.out(self.drop(nnx.relu(self.norm(self.hidden(x)))))[..., 0]


def _meddle_nnx(end):
    params = end.params
    params["hidden"]["kernel"][...] = jnp.zeros((4, 8), jnp.float32)  # an nnx Variable, in place
    module = end.model
    assert module.norm.use_running_average and module.drop.deterministic  # evaluation mode
    module.train()
    module(jnp.asarray(X))  # training mode: updates this module's BatchNorm statistics in place
    module.out.kernel[...] = jnp.zeros((8, 1), jnp.float32)


@pytest.fixture(scope="module")
def nnx_runs():
    given = NnxNet(nnx.Rngs(0))
    before = nnx.state(given)
    runs = _fit_twice(lambda: NnxNet(nnx.Rngs(0)), meddle=_meddle_nnx)
    return runs, given, before


def test_nnx_callbacks_that_train_or_assign_change_nothing(nnx_runs):
    _same_runs(nnx_runs[0])


def test_nnx_model_is_new_each_read_in_evaluation_mode_and_owned(nnx_runs):
    (result, clean, _, _), _, _ = nnx_runs
    first, second = result.model, result.model
    assert isinstance(first, NnxNet) and first is not second
    assert first.norm.use_running_average and first.drop.deterministic
    x = jnp.asarray(X)
    np.testing.assert_array_equal(first(x), first(x))  # evaluation: no dropout, running statistics
    state = nnx.state(result.model)
    # Calling one in training mode updates its BatchNorm statistics; fine-tuning changes its parameters.
    first.train()
    first(x)
    assert not np.array_equal(first.norm.mean[...], second.norm.mean[...])
    first.hidden.kernel[...] = first.hidden.kernel[...] + 1.0
    _leaves_equal(nnx.state(result.model), state)
    _leaves_equal(nnx.state(second), state)
    _leaves_equal(result.params, clean.params)
    _leaves_equal(result.model_state, clean.model_state)
    # Assigning into the Variables of result.params changes neither result.params nor result.model.
    params = result.params
    params["out"]["kernel"][...] = jnp.zeros((8, 1), jnp.float32)
    _leaves_equal(result.params, clean.params)
    _leaves_equal(nnx.state(result.model), state)


def test_nnx_module_given_is_untouched_and_trains(nnx_runs):
    (result, _, _, _), given, before = nnx_runs
    _leaves_equal(nnx.state(given), before)
    assert result.history["loss"][-1] < result.history["loss"][0]
    assert float(jnp.abs(result.model.norm.mean[...]).sum()) > 0  # the statistics were carried


# -- equinox, a (module, state) pair with BatchNorm and Dropout ---------------------------------------

eqx = pytest.importorskip("equinox")


class EqxNet(eqx.Module):
    hidden: eqx.nn.Linear
    norm: eqx.nn.BatchNorm
    drop: eqx.nn.Dropout
    out: eqx.nn.Linear

    def __init__(self, key):
        k1, k2 = jax.random.split(key)
        self.hidden = eqx.nn.Linear(4, 8, key=k1)
        self.norm = eqx.nn.BatchNorm(8, axis_name="batch", mode="batch")
        self.drop = eqx.nn.Dropout(0.3)
        self.out = eqx.nn.Linear(8, "scalar", key=k2)

    def __call__(self, x, state, *, key=None):
        h, state = self.norm(self.hidden(x), state)
        return self.out(self.drop(jax.nn.relu(h), key=key)), state


def _index(module):
    return next(leaf for leaf in jax.tree.leaves(module, is_leaf=lambda x: isinstance(x, eqx.nn.StateIndex))
                if isinstance(leaf, eqx.nn.StateIndex))


def _meddle_eqx(end):
    module, state = end.model
    assert module.drop.inference and module.norm.inference
    # eqx.nn.State.set invalidates the State it is called on: on a shared one, it would end the run.
    end.model_state.set(_index(module), jax.tree.map(jnp.zeros_like, state.get(_index(module))))
    state.set(_index(module), state.get(_index(module)))


@pytest.fixture(scope="module")
def eqx_runs():
    return _fit_twice(lambda: eqx.nn.make_with_state(EqxNet)(jax.random.key(0)), meddle=_meddle_eqx)


def test_equinox_callbacks_that_set_the_state_change_nothing(eqx_runs):
    _same_runs(eqx_runs)


def test_equinox_model_is_new_each_read_in_inference_mode(eqx_runs):
    result, clean = eqx_runs[:2]
    (first, state), (second, state2) = result.model, result.model
    assert isinstance(first, EqxNet) and first is not second and first.drop.inference and first.norm.inference
    assert state is not state2 and state is not result.model_state
    state.set(_index(first), state.get(_index(first)))  # invalidates this copy only
    mine = result.model_state
    mine.set(_index(first), state2.get(_index(first)))
    _leaves_equal(result.model_state, clean.model_state)
    _leaves_equal(result.model[1], clean.model_state)
    run = jax.vmap(first, axis_name="batch", in_axes=(0, None), out_axes=(0, None))
    np.testing.assert_array_equal(run(jnp.asarray(X), state2)[0], run(jnp.asarray(X), state2)[0])


# -- B: a plain function imports neither flax nor equinox ----------------------------------------------


def _python(*parts, env=None, timeout=120, suite_cache=False):
    """Runs the code ``parts`` in a fresh interpreter on the CPU; its last stdout line, read as JSON.

    Without the test suite's XLA cache settings (tests/conftest.py) unless ``suite_cache``."""
    code = "\n".join(textwrap.dedent(part) for part in parts)
    base = {k: v for k, v in os.environ.items() if suite_cache or not k.startswith(
        ("JAX_COMPILATION_CACHE", "JAX_PERSISTENT_CACHE", "JAXLOSS_COMPILATION_CACHE"))}
    out = subprocess.run([sys.executable, "-c", code], env={**base, "JAX_PLATFORMS": "cpu", **(env or {})},
                         capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


FIT_PLAIN = """
    import numpy as np, jax.numpy as jnp, optax
    x = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    def mlp(p, x):
        return (jnp.tanh(x @ p["a"]) @ p["b"])[:, 0]
    params = {"a": jnp.full((4, 8), 0.1), "b": jnp.full((8, 1), 0.1)}
    r = jl.fit(mlp, params, "bce", (x, y), optimizer=optax.adam(1e-2), epochs=2, batch_size=16, progress=False)
    assert r.status == "completed", r.message
"""


def test_adapters_name_the_argument_for_a_wrong_type():
    with pytest.raises(TypeError, match=r"nnx_model: module must be a flax.nnx.Module.*function_model"):
        models.nnx_model(linear)
    with pytest.raises(TypeError, match=r"equinox_model: module must be an equinox.Module.*function_model"):
        models.equinox_model(linear)


# -- C: the persistent compilation cache ------------------------------------------------------------


CASES = """
    import json, os, jax
    from jaxloss import _compilation_cache as cc
    def case(env, **config):
        cc._decided = None
        for k in ("JAXLOSS_COMPILATION_CACHE", "JAX_COMPILATION_CACHE_DIR"):
            os.environ.pop(k, None)
        os.environ.update(env)
        jax.config.update("jax_compilation_cache_dir", config.get("dir"))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
        jax.config.update("jax_enable_compilation_cache", config.get("enable", True))
        got = cc.enable_default()
        again = cc.enable_default()
        assert got == again
        return [got, jax.config.jax_compilation_cache_dir, jax.config.jax_persistent_cache_min_compile_time_secs]
    import sys
    messages = []
    blocked = {k: sys.modules.get(k) for k in ("flax.nnx", "equinox")}
    sys.modules["flax.nnx"] = None   # as if flax and equinox were not installed
    sys.modules["equinox"] = None
    from jaxloss import models
    for adapter in (models.nnx_model, models.equinox_model):
        try:
            adapter(object())
        except ImportError as err:
            messages.append(str(err))
    tmp = os.environ["TMP_ROOT"]
    open(os.path.join(tmp, "a-file"), "w").close()
    print(json.dumps({
        "default": case({}),
        "off": case({"JAXLOSS_COMPILATION_CACHE": "off"}),
        "zero": case({"JAXLOSS_COMPILATION_CACHE": "0"}),
        "path": case({"JAXLOSS_COMPILATION_CACHE": os.path.join(tmp, "mine")}),
        "users_env": case({"JAX_COMPILATION_CACHE_DIR": "/elsewhere"}, dir="/elsewhere"),
        "users_config": case({}, dir=os.path.join(tmp, "theirs")),
        "disabled": case({}, enable=False),
        "unwritable": case({"JAXLOSS_COMPILATION_CACHE": os.path.join(tmp, "a-file", "xla")}),
        "adapters": messages,
    }))
"""


def test_cache_default_opt_out_and_deference_to_the_users_setting_and_adapters_without_their_package(tmp_path):
    # One fresh interpreter for both (each costs seconds of start-up): the cache's decision in each case,
    # and what the adapters say where flax and equinox are not installed.
    out = _python(CASES, env={"XDG_CACHE_HOME": str(tmp_path / "xdg"), "TMP_ROOT": str(tmp_path)})
    assert out.pop("adapters") == [
        "nnx_model: module needs the optional package flax, which is not installed: pip install flax",
        "equinox_model: module needs the optional package equinox, which is not installed: pip install equinox"]
    default = str(tmp_path / "xdg" / "jaxloss" / "xla")
    minimum = _compilation_cache.MIN_COMPILE_SECONDS
    assert out["default"] == [default, default, minimum] and os.path.isdir(default)
    assert out["off"] == out["zero"] == out["disabled"] == out["unwritable"] == [None, None, 1.0]
    assert out["path"] == [str(tmp_path / "mine"), str(tmp_path / "mine"), minimum]
    assert out["users_env"] == [None, "/elsewhere", 1.0]
    assert out["users_config"] == [None, str(tmp_path / "theirs"), 1.0]
    assert not (tmp_path / "theirs").exists()


def test_a_plain_fit_imports_no_flax_and_a_second_process_loads_its_programs_from_the_cache(tmp_path):
    # Two fresh interpreters: in each, import jaxloss and a plain function's fit import neither flax nor
    # equinox; the second finds the first's programs in the persistent cache; in the first, an nnx module
    # imported afterwards is recognised and trains.
    head = """
        import json, sys, jax
        hits = []
        jax.monitoring.register_event_listener(
            lambda name, **kw: hits.append(name) if name == "/jax/compilation_cache/cache_hits" else None)
        import jaxloss as jl
        """
    plain = """
        assert not jl.models.is_module(mlp) and not jl.models.is_module((mlp, 1))
        out = {"dir": jax.config.jax_compilation_cache_dir, "hits": len(hits),
               "absent": [m for m in ("flax", "equinox") if m not in sys.modules]}
        """
    nnx = """
        from flax import nnx   # a user holding an nnx module has imported flax
        module = nnx.Linear(4, 1, rngs=nnx.Rngs(0))
        assert jl.models.is_module(module)
        r = jl.fit(module, "bce", (x, y[:, None]), optimizer=optax.adam(1e-2), epochs=1, batch_size=64,
                   progress=False)
        out.update(nnx=r.status, kernel=type(r.model).__name__)
        """
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    first = _python(head, FIT_PLAIN, plain, nnx, "print(json.dumps(out))", env=env)
    second = _python(head, FIT_PLAIN, plain, "print(json.dumps(out))", env=env)
    assert first == {"dir": str(tmp_path / "jaxloss" / "xla"), "hits": 0, "absent": ["flax", "equinox"],
                     "nnx": "completed", "kernel": "Linear"}
    assert second["absent"] == ["flax", "equinox"]
    assert second["hits"] >= 1  # at least the training program, which compiles in more than 0.1 s
