"""fit: compiled epochs, History, early stopping, callbacks, NaN guard, checkpoints, data parallel."""

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
from jaxloss.train._compiles import CompileMeter
from jaxloss import train

# Compiling the training program dominates these tests' time, so they share a few programs: one
# optimizer object, one metric set, one loss per purpose, one data shape per program.
OPT = optax.adam(5e-2)
SGD = optax.sgd(1.0)
METRICS = ("binary_accuracy", "auc")


def mean_or_nan(predictions, targets):
    """The mean prediction (so SGD(1) moves ``b`` by exactly -1 per step), NaN below ``mean(targets)``."""
    mean = jnp.mean(predictions)
    return mean + jnp.where(mean < jnp.mean(targets), jnp.nan, 0.0)


def linear(params, inputs):
    return inputs @ params["w"] + params["b"]


def _data(n=90, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5], np.float32) + 0.2 * rng.normal(size=n).astype(np.float32) > 0)
    return x, y.astype(np.float32)


X, Y = _data()
P0 = {"w": jnp.zeros(3, jnp.float32), "b": jnp.zeros((), jnp.float32)}


def _fit(**kw):
    options = dict(optimizer=OPT, epochs=4, batch_size=32, val=(X[60:], Y[60:]), progress=False)
    options.update(kw)
    return jl.fit(linear, P0, jl.binary_cross_entropy, (X[:60], Y[:60]), **options)


def test_fit_trains_and_records_history_and_metrics():
    r = _fit(metrics=METRICS, epochs=6)
    assert r.status == "completed" and r.epochs == 6 and "completed 6 epochs" in r.message
    h = r.history
    for key in ("loss", "val_loss", "binary_accuracy", "val_binary_accuracy", "auc", "val_auc"):
        assert h[key].shape == (6,)
    assert h["loss"][-1] < h["loss"][0] and h["val_auc"][-1] > 0.8
    assert list(h["epoch"]) == [1, 2, 3, 4, 5, 6]
    # The validation loss is the loss on the validation data at the final parameters.
    final = float(jl.binary_cross_entropy(linear(r.last_params, X[60:]), Y[60:]))
    np.testing.assert_allclose(h["val_loss"][-1], final, rtol=1e-5)


def test_second_fit_compiles_nothing_new():
    # Counted with JAX's own monitoring events (every trace, lowering and XLA compilation).
    _fit(epochs=1)
    with CompileMeter() as meter:
        r = _fit(epochs=2, seed=3)
    assert meter.lowerings == 0 and meter.compiles == 0
    # Nor do other epochs, monitors, early stopping, progress (chunks of epochs) or NumPy data.
    with CompileMeter() as meter:
        r = _fit(epochs=7, monitor="loss", early_stopping=jl.EarlyStopping(patience=1), progress=True,
                 val=(np.asarray(X[60:]), np.asarray(Y[60:])))
    assert meter.lowerings == 0 and meter.compiles == 0 and r.epochs >= 2


def test_epochs_in_chunks_equal_epoch_by_epoch():
    # Several epochs per compiled call (with early stopping on the device) give exactly what one
    # epoch per call gives (forced by a callback), whether the chunks grow (progress) or not.
    stopping = jl.EarlyStopping(patience=1, min_delta=1e-2)  # stops at epoch 32
    one_by_one = _fit(epochs=40, early_stopping=stopping, callbacks=(lambda end: None,))
    assert one_by_one.status == "early_stopped" and one_by_one.epochs > 16  # inside the sixth chunk of 1, 2, 4, ... epochs
    for r in (_fit(epochs=40, early_stopping=stopping), _fit(epochs=40, early_stopping=stopping, progress=True)):
        assert (r.status, r.message, r.epochs) == (one_by_one.status, one_by_one.message, one_by_one.epochs)
        assert (r.history.best_epoch, r.history.stopped_epoch) == (one_by_one.history.best_epoch,
                                                                   one_by_one.history.stopped_epoch)
        assert list(r.history) == list(one_by_one.history)
        for key in r.history:
            np.testing.assert_array_equal(r.history[key], one_by_one.history[key])
        for a, b in zip(jax.tree.leaves((r.params, r.last_params, r.opt_state)),
                        jax.tree.leaves((one_by_one.params, one_by_one.last_params, one_by_one.opt_state))):
            np.testing.assert_array_equal(a, b)


def test_partial_last_batch_is_processed():
    # 60 examples, batch 32: one full step and one step of 28; with SGD(1) on a loss that is the mean
    # of the predictions, each step moves b by exactly -1, so two steps per epoch.
    never = np.full(60, -1e9, np.float32)  # mean_or_nan's threshold: never NaN
    r = jl.fit(linear, P0, mean_or_nan, (X[:60], never), optimizer=SGD, epochs=1, batch_size=32, progress=False)
    assert float(r.params["b"]) == pytest.approx(-2.0)
    r = jl.fit(linear, P0, mean_or_nan, (X[:60], never), optimizer=SGD, epochs=1, batch_size=32, progress=False,
               drop_remainder=True)
    assert float(r.params["b"]) == pytest.approx(-1.0)


def test_early_stopping_restores_best_and_marks_history():
    calls = []
    # A monitor that never improves by min_delta: the callback sees every epoch; as in Keras, patience 1
    # stops one epoch after the best.
    r = _fit(epochs=30, early_stopping=jl.EarlyStopping(monitor="val_loss", patience=1, min_delta=10.0),
             callbacks=(lambda end: calls.append((end.epoch, end.logs["loss"])),))
    assert r.status == "early_stopped" and r.history.stopped_epoch == 2 and r.history.best_epoch == 1
    assert "early-stopped at epoch 2" in r.message
    assert [c[0] for c in calls] == [1, 2]
    same = jax.tree.map(lambda a, b: bool(jnp.array_equal(a, b)), r.params, r.best_params)
    later = jax.tree.map(lambda a, b: bool(jnp.array_equal(a, b)), r.last_params, r.best_params)
    assert all(jax.tree.leaves(same)) and not all(jax.tree.leaves(later))
    fig = jl.plot.history(r.history)
    assert len(fig.axes) >= 1
    jl.plot.close(fig) if hasattr(jl, "plot") else None


def test_early_stopping_mode_auto_follows_the_metric():
    r = _fit(epochs=3, metrics=METRICS, early_stopping=jl.EarlyStopping(monitor="val_auc", patience=5))
    assert r.history.mode == "max" and r.history.monitor == "val_auc"


def test_callback_can_stop():
    r = _fit(epochs=10, callbacks=(lambda end: end.epoch == 2,))
    assert r.status == "stopped_by_callback" and r.epochs == 2

    def raiser(end):
        raise jl.StopTraining

    assert _fit(epochs=10, callbacks=(raiser,)).epochs == 1


def test_non_finite_loss_keeps_last_finite_params():
    # Zero inputs: the predictions are b, which SGD(1) moves by -1 per step (two steps per epoch, as
    # above); the loss turns NaN once b < -2.5, at the second step of epoch 2, which the message names.
    x = np.zeros((60, 3), np.float32)
    r = jl.fit(linear, P0, mean_or_nan, (x, np.full(60, -2.5, np.float32)), optimizer=SGD, epochs=5, batch_size=32,
               progress=False)
    assert r.status == "non_finite" and "epoch 2, step 2" in r.message
    assert float(r.params["b"]) == pytest.approx(-3.0)  # after three good steps, nothing after the bad one
    assert bool(jnp.all(jnp.isfinite(r.params["w"])))
    assert r.epochs == 1 and list(r.history["epoch"]) == [1]  # the non-finite epoch is not recorded


def test_keyboard_interrupt_returns_what_was_trained():
    def interrupt(end):
        if end.epoch == 2:
            raise KeyboardInterrupt

    r = _fit(epochs=10, callbacks=(interrupt,))
    assert r.status == "interrupted" and r.epochs == 2


def test_checkpoint_and_resume_give_the_uninterrupted_result(tmp_path):
    full = _fit(epochs=4)
    _fit(epochs=2, checkpoint_dir=tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["epoch_000001", "epoch_000002", "latest"]  # tests/test_checkpoints.py
    json.loads((tmp_path / "epoch_000002" / "state.json").read_text())
    resumed = _fit(epochs=4, resume_from=tmp_path)
    np.testing.assert_allclose(resumed.history["loss"], full.history["loss"], rtol=1e-6)
    for a, b in zip(jax.tree.leaves(resumed.params), jax.tree.leaves(full.params)):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_history_round_trips_through_json_and_csv(tmp_path):
    h = _fit(epochs=2, metrics=METRICS).history
    for back in (jl.History.from_json(h.to_json()), jl.History.from_csv(h.to_csv()),
                 jl.History.from_json(h.to_json(tmp_path / "h.json")), jl.History.from_csv(h.to_csv(tmp_path / "h.csv"))):
        assert set(back) == set(h)
        for key in h:
            np.testing.assert_allclose(back[key], h[key])


def test_objective_and_composite_terms():
    objective = jl.objective(linear, jl.binary_cross_entropy)
    assert train.is_objective(objective)
    r = jl.fit(linear, P0, objective, (X, Y), optimizer=OPT, epochs=2, batch_size=30, progress=False)
    assert r.status == "completed" and r.history["loss"][-1] < r.history["loss"][0]


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="monitor='val_auc' is not recorded"):
        _fit(monitor="val_auc")
    with pytest.raises(ValueError, match="same number of examples"):
        jl.fit(linear, P0, jl.mse, (X[:10], Y[:9]), progress=False)
    with pytest.raises(ValueError, match="mode="):
        jl.EarlyStopping(mode="up")
    with pytest.raises(TypeError, match=r"^EarlyStopping: min_delta must be a number; got bool True"):
        jl.EarlyStopping(min_delta=True)
    with pytest.raises(TypeError, match=r"^History: values\['loss'\]\[1\] must be a number"):
        jl.History({"loss": [1.0, "x"]})
    with pytest.raises(ValueError, match=r"^History: best_epoch=0 is out of range"):
        jl.History({"loss": [1.0]}, best_epoch=0)
    with pytest.raises(TypeError, match=r"^CSVLogger: path must be"):
        jl.CSVLogger(None)
    with pytest.raises(ValueError, match=r"^trajectory: optimizer='sdg' is not an optimizer name. Did you mean 'sgd'"):
        train.trajectory(lambda p: p ** 2, 1.0, "sdg", 3)
    # NumPy integers and floats are numbers (EarlyStopping refused them), and a History keeps them as Python's.
    assert jl.EarlyStopping(patience=np.int64(2), min_delta=np.float32(0.1)).patience == 2
    assert type(jl.History({"loss": np.ones(2)}, best_epoch=np.int64(1)).best_epoch) is int


def test_data_parallel_equals_single_device():
    code = textwrap.dedent("""
        import os
        os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"
        import jax, jax.numpy as jnp, numpy as np, optax, jaxloss as jl
        assert jax.local_device_count() == 4
        rng = np.random.default_rng(0)
        x = rng.normal(size=(96, 3)).astype(np.float32)
        y = (x[:, 0] - x[:, 1] > 0).astype(np.float32)
        model = lambda p, i: i @ p["w"] + p["b"]
        p0 = {"w": jnp.zeros(3), "b": jnp.zeros(())}
        opt = optax.adam(0.05)
        kw = dict(optimizer=opt, epochs=3, batch_size=32, val=(x[:40], y[:40]), progress=False, metrics=("auc",))
        a = jl.fit(model, p0, jl.binary_cross_entropy, (x, y), data_parallel=True, **kw)
        b = jl.fit(model, p0, jl.binary_cross_entropy, (x, y), data_parallel=False, **kw)
        assert len(a.params["w"].sharding.device_set) == 4
        np.testing.assert_allclose(a.history["loss"], b.history["loss"], rtol=1e-5)
        np.testing.assert_allclose(a.params["w"], b.params["w"], rtol=1e-5, atol=1e-6)
        print("OK")
    """)
    # JAX_PLATFORMS=cpu: virtual devices are CPU devices; on a GPU machine JAX would otherwise pick the GPU.
    # The suite's XLA flags (conftest) come with the environment; the code above appends its own.
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0 and "OK" in out.stdout, out.stderr[-3000:]


def test_nothing_keeps_a_finished_runs_arrays_alive():
    # Three runs of three models (three compiled programs, which JAX's cache keeps) with 1 MiB of
    # parameters each: once the caller drops the results, no array of theirs is live.
    import gc

    x = np.random.default_rng(0).normal(size=(16, 512)).astype(np.float32)
    y = np.zeros((16, 512), np.float32)

    def live():
        gc.collect()
        return {id(a) for a in jax.live_arrays()}

    before = live()
    for scale in (1.0, 2.0, 3.0):
        def model(p, inputs, scale=scale):
            return scale * inputs @ p["w"]
        params = {"w": jnp.full((512, 512), scale, jnp.float32)}
        r = jl.fit(model, params, jl.mse, (x, y), optimizer=OPT, epochs=1, batch_size=16, progress=False)
        del r, params, model
    gc.collect()
    left = [a.shape for a in jax.live_arrays() if id(a) not in before and a.nbytes >= 2 ** 20]
    assert not left, f"{len(left)} arrays of 1 MiB or more outlive their runs: {left}"
