"""fit beyond arrays and plain callbacks: function models with keys, iterables of batches, callbacks that
act, loggers, every optax optimizer, progress everywhere, and a compiled step with no host round trip."""

from __future__ import annotations

import csv
import io
import os
import re
import struct

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxloss as jl
from jaxloss import models
from jaxloss.train import _loop, _program, _progress
from jaxloss.train._objective import as_loss_call

OPT = optax.adam(5e-2)


def linear(params, inputs):
    return inputs @ params["w"] + params["b"]


def _data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = (x[:, 0] - x[:, 1] + 0.5 * x[:, 2] > 0).astype(np.float32)
    return x, y


X, Y = _data()
TRAIN, VAL = (X[:64], Y[:64]), (X[64:], Y[64:])
P0 = {"w": jnp.zeros(4, jnp.float32), "b": jnp.zeros((), jnp.float32)}


# -- plain functions with key and train ---------------------------------------------------------------


def noisy(params, inputs, *, key, train):
    """b plus a standard normal draw from the step's key in training, b alone in evaluation."""
    noise = jax.random.normal(key, ()) if train else 0.0
    return jnp.zeros(inputs.shape[0]) + params["b"] + noise


def test_a_function_model_gets_a_key_per_step_and_the_mode():
    # mse towards 0 with SGD(0.5) on one full batch: b_new = b - (b + eps) = -eps, the step's draw.
    x, zeros = X[:8], np.zeros(8, np.float32)
    p0 = {"b": jnp.zeros(())}
    firsts = []
    for epochs in (1, 2):
        r = jl.fit(noisy, p0, jl.mse, (x, zeros), val=(x, zeros), optimizer=optax.sgd(0.5), epochs=epochs,
                   batch_size=8, seed=7, progress=False)
        firsts.append(float(r.last_params["b"]))
        # Evaluation mode: no noise, so the validation loss is b^2 exactly.
        np.testing.assert_allclose(r.history["val_loss"][-1], float(r.last_params["b"]) ** 2, rtol=1e-5)
    root = jax.random.fold_in(jax.random.key(7), 1)
    expected = [-float(jax.random.normal(jax.random.fold_in(root, step), ())) for step in (0, 1)]
    np.testing.assert_allclose(firsts, expected, rtol=1e-5)
    assert firsts[0] != firsts[1]


def test_models_contract_lifts_every_kind():
    from jaxloss.models import as_model, is_module

    m = as_model(noisy, {"b": jnp.ones(())})
    assert not is_module(noisy) and m.state == ()
    out, state = m.apply(m.params, m.state, jnp.ones((3, 2)), key=jax.random.key(0), train=False)
    np.testing.assert_array_equal(out, jnp.ones(3))
    with pytest.raises(TypeError, match="fit\\(model, params, loss, train"):
        jl.fit(noisy, jl.mse, TRAIN)


# -- iterables of batches ---------------------------------------------------------------------------


def _batches(n_batches=4, size=16):
    return [(X[i * size:(i + 1) * size], Y[i * size:(i + 1) * size]) for i in range(n_batches)]


def _reference_loop(batches, epochs, optimizer):
    """The same steps written by hand: one jitted optax step per batch, in the given order."""
    @jax.jit
    def step(p, s, x, y):
        g = jax.grad(lambda q: jl.bce(linear(q, x), y))(p)
        u, s = optimizer.update(g, s, p)
        return optax.apply_updates(p, u), s

    p, s = P0, optimizer.init(P0)
    for _ in range(epochs):
        for x, y in batches:
            p, s = step(p, s, x, y)
    return p


def test_a_list_of_batches_trains_like_a_hand_written_loop():
    batches = _batches()
    r = jl.fit(linear, P0, jl.bce, batches, val=VAL, optimizer=OPT, epochs=3, progress=False, metrics=("auc",))
    assert r.status == "completed" and r.steps == 12 and r.epochs == 3
    expected = _reference_loop(batches, 3, OPT)
    for a, b in zip(jax.tree.leaves(r.last_params), jax.tree.leaves(expected)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(r.history["val_loss"][-1], jl.bce(linear(r.last_params, VAL[0]), VAL[1]), rtol=1e-5)


def test_a_generator_is_cut_into_epochs_or_runs_out():
    def stream():
        while True:
            yield from _batches()

    r = jl.fit(linear, P0, jl.bce, stream(), optimizer=OPT, epochs=3, steps_per_epoch=4, progress=False)
    expected = _reference_loop(_batches(), 3, OPT)
    np.testing.assert_allclose(r.last_params["w"], expected["w"], rtol=1e-5, atol=1e-6)
    once = jl.fit(linear, P0, jl.bce, iter(_batches()), optimizer=OPT, epochs=3, progress=False)
    assert once.status == "data_exhausted" and once.epochs == 1 and "ran out after epoch 1" in once.message
    with pytest.raises(TypeError, match="re-iterable"):
        jl.fit(linear, P0, jl.bce, TRAIN, val=iter(_batches()), progress=False)


def test_dict_batches_carry_weights_and_masks():
    # A mask that drops half of each batch equals training on the kept half.
    mask = np.arange(64) % 2 == 0
    masked = {"inputs": X[:64], "targets": Y[:64], "where": mask}
    kept = (X[:64][mask], Y[:64][mask])
    opt = optax.sgd(0.1)
    a = jl.fit(linear, P0, jl.bce, masked, optimizer=opt, epochs=2, batch_size=64, progress=False)
    b = jl.fit(linear, P0, jl.bce, kept, optimizer=opt, epochs=2, batch_size=32, progress=False)
    np.testing.assert_allclose(a.last_params["w"], b.last_params["w"], rtol=1e-5)


def test_a_per_example_loss_is_averaged():
    def per_example(predictions, targets):  # optax's convention: no reduction
        return optax.sigmoid_binary_cross_entropy(predictions, targets)

    opt = optax.sgd(0.1)
    a = jl.fit(linear, P0, per_example, TRAIN, optimizer=opt, epochs=2, batch_size=32, progress=False)
    b = jl.fit(linear, P0, jl.bce, TRAIN, optimizer=opt, epochs=2, batch_size=32, progress=False)
    np.testing.assert_allclose(a.history["loss"], b.history["loss"], rtol=1e-6)


# -- callbacks ----------------------------------------------------------------------------------------


def test_callbacks_see_the_state_and_loggers_write_it(tmp_path):
    seen = []

    class Recorder(jl.Callback):
        def on_train_begin(self):
            seen.append("begin")

        def on_epoch_end(self, end):
            seen.append((end.epoch, end.step, float(linear(end.params, X[:1])[0]), sorted(end.logs)))

        def on_train_end(self, result):
            seen.append(("end", result.status))

    path = tmp_path / "log.csv"
    r = jl.fit(linear, P0, jl.bce, TRAIN, val=VAL, optimizer=OPT, epochs=3, batch_size=32, progress=False,
               metrics=("auc",), callbacks=[Recorder(), jl.CSVLogger(path)])
    assert seen[0] == "begin" and seen[-1] == ("end", "completed")
    assert [s[:2] for s in seen[1:-1]] == [(1, 2), (2, 4), (3, 6)]
    np.testing.assert_allclose(seen[-2][2], linear(r.last_params, X[:1])[0], rtol=1e-6)
    with path.open() as f:
        rows = list(csv.DictReader(f))
    assert [int(row["epoch"]) for row in rows] == [1, 2, 3]
    np.testing.assert_allclose([float(row["val_auc"]) for row in rows], r.history["val_auc"])


def _tensorboard_scalars(directory):
    """Reads scalars back from TFRecord event files: (tag, step, value) (length, CRC, payload, CRC)."""
    from tensorboardX.proto import event_pb2

    out = []
    for name in sorted(os.listdir(directory)):
        data = (directory / name).read_bytes()
        offset = 0
        while offset < len(data):
            (length,) = struct.unpack("<Q", data[offset:offset + 8])
            event = event_pb2.Event.FromString(data[offset + 12:offset + 12 + length])
            offset += 12 + length + 4
            out += [(v.tag, event.step, v.simple_value) for v in event.summary.value]
    return out


def test_tensorboard_logger_writes_train_and_validation_scalars(tmp_path):
    pytest.importorskip("tensorboardX")
    r = jl.fit(linear, P0, jl.bce, TRAIN, val=VAL, optimizer=OPT, epochs=2, batch_size=32, progress=False,
               callbacks=[jl.TensorBoardLogger(tmp_path)])
    train = _tensorboard_scalars(tmp_path / "train")
    validation = _tensorboard_scalars(tmp_path / "validation")
    assert [t[:2] for t in train] == [("epoch_loss", 1), ("epoch_loss", 2)]
    np.testing.assert_allclose([t[2] for t in validation], r.history["val_loss"], rtol=1e-6)


# -- optimizers that read the value, or evaluate elsewhere ----------------------------------------------


def test_lbfgs_gets_the_value_and_its_function():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = x @ np.array([1.0, -2.0, 0.5, 3.0], np.float32) + 0.5
    r = jl.fit(linear, P0, jl.mse, (x, y), optimizer=optax.lbfgs(), epochs=15, batch_size=64, progress=False)
    np.testing.assert_allclose(r.last_params["w"], [1.0, -2.0, 0.5, 3.0], atol=1e-3)
    assert r.history["loss"][-1] < 1e-5


def test_reduce_on_plateau_gets_the_value():
    opt = optax.chain(optax.sgd(0.0), optax.contrib.reduce_on_plateau(patience=1, factor=0.5))
    r = jl.fit(linear, P0, jl.bce, TRAIN, optimizer=opt, epochs=3, batch_size=64, progress=False)
    # A flat loss (rate 0): the plateau logic halves the scale once patience runs out.
    scale = float(r.opt_state[1].scale)
    assert scale < 1.0


def test_schedule_free_validates_and_returns_its_evaluation_parameters():
    opt = optax.contrib.schedule_free_adamw(5e-2)
    r = jl.fit(linear, P0, jl.bce, TRAIN, val=VAL, optimizer=opt, epochs=3, batch_size=32, progress=False)
    evaluation = optax.contrib.schedule_free_eval_params(r.opt_state, r.last_params)
    np.testing.assert_allclose(r.params["w"], evaluation["w"], rtol=1e-6)
    assert not np.allclose(r.params["w"], r.last_params["w"])
    np.testing.assert_allclose(r.history["val_loss"][-1], jl.bce(linear(evaluation, VAL[0]), VAL[1]), rtol=1e-5)


# -- non-finite steps ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16, jnp.float32])
def test_a_step_that_overflows_the_parameters_keeps_the_last_finite_ones(dtype):
    params = {"w": jnp.zeros(4, dtype), "b": jnp.zeros((), dtype)}
    big = 1e4 if dtype == jnp.float16 else 1e36  # one step of this rate overflows the dtype
    r = jl.fit(linear, params, jl.mse, (X[:32], 100 * np.ones(32, np.float32)), optimizer=optax.sgd(big), epochs=3,
               batch_size=32, progress=False)
    assert r.status == "non_finite"
    for leaf in jax.tree.leaves((r.params, r.last_params, r.opt_state)):
        assert bool(jnp.all(jnp.isfinite(leaf)))


# -- progress -----------------------------------------------------------------------------------------


def test_progress_shows_every_epoch_in_logs(capsys):
    jl.fit(linear, P0, jl.bce, TRAIN, val=VAL, optimizer=OPT, epochs=5, batch_size=32, progress="lines",
           metrics=("auc",), monitor="val_auc")
    lines = capsys.readouterr().err.strip().splitlines()
    assert [int(re.match(r"epoch (\d+)/5", l).group(1)) for l in lines[:-1]] == [1, 2, 3, 4, 5]
    assert "val_auc" in lines[0] and "loss" in lines[0] and lines[-1].startswith("completed 5 epochs")


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_and_notebook_displays():
    stream = _Terminal()
    assert _progress.choose_display(True, stream) == "bar"
    assert _progress.choose_display(True, io.StringIO()) == "lines"
    bar = _progress.Progress("bar", 3, monitor="val_loss", stream=stream)
    for epoch in (1, 2, 3):
        bar.epoch(epoch, {"loss": 0.5 / epoch, "val_loss": 0.6 / epoch})
    bar.close("completed 3 epochs.")
    text = stream.getvalue()
    assert "epoch 1/3" in text and "epoch 3/3" in text and "val_loss 0.2" in text and text.endswith("\n")

    shown = []

    class Handle:
        def update(self, obj):
            shown.append(obj.data)

    def show(obj, display_id):
        shown.append(obj.data)
        return Handle()

    notebook = _progress.Progress("notebook", 2, monitor="loss", show=show)
    notebook.epoch(1, {"loss": 0.5})
    notebook.epoch(2, {"loss": 0.25})
    notebook.close("completed 2 epochs.")
    assert '<progress value="1" max="2"' in shown[0] and "completed 2 epochs." in shown[-1]
    with pytest.raises(ValueError, match="progress='tqdm'"):
        _progress.choose_display("tqdm")


# -- no host round trip per step ------------------------------------------------------------------------


def test_the_compiled_epochs_have_no_conditional_and_one_data_dependent_loop():
    """On a GPU a conditional's predicate and a while loop's condition are read by the host. The
    program has no conditional, and every loop but the epoch loop has a trip count known to XLA."""
    jl.fit(linear, P0, jl.bce, TRAIN, val=VAL, optimizer=OPT, epochs=1, batch_size=16, progress=False,
           metrics=("auc",))
    model = models.as_model(linear, P0)
    run = _loop.Run.prepare(model, as_loss_call(jl.bce, linear), jl.bce, TRAIN, optimizer=OPT, epochs=1,
                            batch_size=16, val=VAL, val_batch_size=None, steps_per_epoch=None, metrics=("auc",),
                            from_logits=None, monitor=None, early_stopping=None, seed=0, resume_from=None,
                            opt_state=None, drop_remainder=False, data_parallel=None)
    hlo = _program.run.lower(run.setup, run.state, 1, 1, run.controls, run.train_data,
                             run.val_data).compile().as_text()
    assert " conditional(" not in hlo
    loops = re.findall(r"= .* while\(.*", hlo)
    unknown = [loop for loop in loops if "known_trip_count" not in loop]
    assert len(loops) >= 2 and len(unknown) == 1, unknown
