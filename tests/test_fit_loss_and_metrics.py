"""fit with composed losses: correct metrics, schedules that follow the step, Keras's early stopping."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxloss as jl
from jaxloss import metrics
from jaxloss.train import _early_stopping
from jaxloss.train._state import Tracker

OPT = optax.adam(5e-2)
BINARY_METRICS = ("binary_accuracy", "auc", "log_loss", "f1")


def linear(params, inputs):
    return inputs @ params["w"] + params["b"][None]  # (n,) + (1,), or (n, k) + (1, k)


def _binary(n=120, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    y = (x @ np.array([1.5, -2.0, 0.5], np.float32) + 0.3 * rng.normal(size=n).astype(np.float32) > 0)
    return x, y.astype(np.float32)


def _multiclass(n=150, k=3, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    w = rng.normal(size=(4, k)).astype(np.float32)
    y = np.argmax(x @ w + 0.5 * rng.normal(size=(n, k)), axis=1).astype(np.int32)
    return x, y


X, Y = _binary()
XM, YM = _multiclass()
P0 = {"w": jnp.zeros(3, jnp.float32), "b": jnp.zeros((), jnp.float32)}
PM = {"w": jnp.zeros((4, 3), jnp.float32), "b": jnp.zeros(3, jnp.float32)}


def _fit(loss, *, params=P0, data=(X, Y), metric_names=BINARY_METRICS, **kw):
    x, y = data
    options = dict(optimizer=OPT, epochs=5, batch_size=40, val=(x[80:], y[80:]), progress=False,
                   metrics=metric_names)
    options.update(kw)
    return jl.fit(linear, params, loss, (x[:80], y[:80]), **options)


def _same_history(a, b):
    for key in ("loss", "val_loss") + tuple("val_" + m for m in BINARY_METRICS):
        if key in a.history:
            np.testing.assert_allclose(a.history[key], b.history[key], rtol=1e-5, atol=1e-6, err_msg=key)


def test_metrics_are_the_same_for_a_loss_a_one_term_composite_and_an_objective():
    bare = _fit(jl.binary_cross_entropy)
    composite = _fit(1.0 * jl.term("bce"))
    objective = _fit(jl.objective(linear, "bce"))
    _same_history(bare, composite)
    _same_history(bare, objective)
    # The defect this guards against: thresholding logits at 0.5 as if they were probabilities.
    assert bare.history["val_binary_accuracy"][-1] > 0.8


def test_every_reported_metric_equals_jaxloss_metrics_on_the_final_parameters():
    for loss in (jl.binary_cross_entropy, jl.term("bce") + 0.5 * jl.term("hinge")):
        r = _fit(loss)
        logits, labels = linear(r.last_params, X[80:]), Y[80:]
        h = r.history
        np.testing.assert_allclose(h["val_binary_accuracy"][-1], metrics.binary_accuracy(logits, labels, from_logits=True),
                                   rtol=1e-6)
        np.testing.assert_allclose(h["val_log_loss"][-1], metrics.log_loss(logits, labels, from_logits=True), rtol=1e-5)
        np.testing.assert_allclose(h["val_f1"][-1], metrics.f1_score(logits, labels, from_logits=True), rtol=1e-6)
        # The AUC in fit is exact (every validation score, sorted), no longer a histogram within 0.02.
        np.testing.assert_allclose(h["val_auc"][-1], metrics.roc_auc(logits, labels), rtol=1e-6)


def test_multiclass_metrics_follow_the_loss_and_count_its_classes():
    names = ("accuracy", "log_loss", "f1", "precision")
    r = _fit(jl.softmax_cross_entropy, params=PM, data=(XM, YM), metric_names=names, batch_size=50)
    logits, labels = linear(r.last_params, XM[80:]), YM[80:]
    h = r.history
    np.testing.assert_allclose(h["val_log_loss"][-1], metrics.log_loss(logits, labels, from_logits=True), rtol=1e-5)
    # The log loss metric is the cross-entropy itself (the defect: 2.96 against a true 0.56).
    np.testing.assert_allclose(h["val_log_loss"][-1], h["val_loss"][-1], rtol=1e-5)
    np.testing.assert_allclose(h["val_accuracy"][-1], metrics.accuracy(logits, labels), rtol=1e-6)
    np.testing.assert_allclose(h["val_f1"][-1], metrics.f1_score(logits, labels, average="macro", num_classes=3),
                               rtol=1e-6)
    np.testing.assert_allclose(h["val_precision"][-1],
                               metrics.precision(logits, labels, average="macro", num_classes=3), rtol=1e-6)


def test_probability_losses_build_probability_metrics():
    # bce on probabilities: the model outputs sigmoid(logits), the metrics must not apply another sigmoid.
    def probabilities(params, inputs):
        return jax.nn.sigmoid(linear(params, inputs))

    r = jl.fit(probabilities, P0, functools.partial(jl.bce, from_logits=False), (X[:80], Y[:80]), val=(X[80:], Y[80:]),
               optimizer=OPT, epochs=3, batch_size=40, progress=False, metrics=("log_loss",))
    np.testing.assert_allclose(r.history["val_log_loss"][-1], r.history["val_loss"][-1], rtol=1e-5)


def test_unknown_predictions_ask_for_from_logits():
    def my_loss(predictions, targets):
        return jnp.mean(jax.nn.softplus(-(2 * targets - 1) * predictions))

    with pytest.raises(ValueError, match=r"from_logits=True"):
        _fit(my_loss, epochs=1)
    r = _fit(my_loss, epochs=1, from_logits=True)
    logits = linear(r.last_params, X[80:])
    np.testing.assert_allclose(r.history["val_log_loss"][-1], metrics.log_loss(logits, Y[80:], from_logits=True),
                               rtol=1e-5)
    # Metrics that do not read probabilities need nothing.
    assert _fit(my_loss, epochs=1, metric_names=("mse",)).status == "completed"


def test_composite_terms_that_disagree_are_named():
    mixed = jl.term("bce") + jl.term("mse")
    with pytest.raises(ValueError, match=r"\['binary_cross_entropy'\] take logits.*\['mean_squared_error'\]"):
        _fit(mixed, epochs=1)
    assert _fit(mixed, epochs=1, from_logits=True).status == "completed"


def test_registry_says_what_predictions_are():
    assert jl.info("cross_entropy").takes_logits() is True
    assert jl.info("bce").takes_logits({"from_logits": False}) is False
    assert jl.info("hinge").takes_logits() is True  # margins: thresholded at 0
    for name in ("quantile", "poisson_nll", "gaussian_nll", "laplace_nll", "generalized_kl_divergence", "mse"):
        assert jl.info(name).takes_logits() is False, name
    assert jl.info("triplet_margin").takes_logits() is None


# -- schedules --------------------------------------------------------------------------------------


def test_scheduled_weights_follow_the_global_step_and_are_recorded():
    steps = 2  # 80 examples, batch 40
    warm = jl.term("bce") + jl.warmup(5) * jl.term("hinge")
    r = _fit(warm, epochs=4, metric_names=())
    assert r.status == "completed" and r.steps == 8
    # Recorded at each epoch's last step: steps 1, 3, 5, 7 of warmup(5).
    np.testing.assert_allclose(r.history["weight/hinge"], [min(1.0, (steps * e - 1) / 5) for e in (1, 2, 3, 4)],
                               rtol=1e-6)
    assert {"loss/binary_cross_entropy", "loss/hinge", "val_loss/hinge"} <= set(r.history)


def test_a_regularizer_takes_a_schedule_and_objectives_pass_the_step():
    objective = jl.objective(linear, jl.term("bce") + jl.warmup(4) * jl.term("hinge"),
                             regularizers=jl.l2(jl.warmup(4) * 0.1))
    r = _fit(objective, epochs=3, metric_names=())
    np.testing.assert_allclose(r.history["weight/l2"], [0.1 * min(1.0, (2 * e - 1) / 4) for e in (1, 2, 3)], rtol=1e-6)
    np.testing.assert_allclose(r.history["weight/hinge"], r.history["weight/l2"] / 0.1, rtol=1e-6)
    params = r.last_params
    expected_l2 = 0.5 * 0.1 * float(jnp.sum(params["w"] ** 2) + params["b"] ** 2)
    total, parts = objective.with_terms(params, (X[80:], Y[80:]), step=100)
    np.testing.assert_allclose(parts["l2"], expected_l2, rtol=1e-5)


def test_regularizers_are_not_terms():
    with pytest.raises(TypeError, match=r"jl.objective\(model, loss, regularizers=l2\(0.0001\)\)"):
        jl.term("mse") + jl.l2(1e-4)
    with pytest.raises(TypeError, match="regularizers="):
        jl.mse + jl.l2(1e-4)
    with pytest.raises(TypeError, match="regularizers="):
        jl.term(jl.l2(1e-4))
    with pytest.raises(TypeError, match=r"jl.l2\(jl.warmup\(100\) \* 1e-4\)"):
        jl.warmup(100) * jl.l2(1e-4)
    with pytest.raises(TypeError, match="goes into its scale"):
        0.5 * jl.l1(1e-4)
    with pytest.raises(ValueError, match="scale must be >= 0"):
        jl.l2(-1.0)
    with pytest.raises(TypeError, match="scale must be a number or a schedule"):
        jl.l2("0.1")
    with pytest.raises(ValueError, match="the scale is a schedule; pass the training step"):
        jl.l2(jl.warmup(10))({"w": jnp.ones(2)})
    assert repr(jl.l2(jl.warmup(100) * 1e-4)) == "l2(0.0001 * warmup(100))"


# -- early stopping: Keras's rule -------------------------------------------------------------------


def keras_early_stopping(values, *, mode, patience, min_delta, baseline, start_from_epoch):
    """Keras 3's ``EarlyStopping.on_epoch_end`` over a sequence of monitored values (a reference port).

    Returns (stopped epoch, best epoch), 1-based, None when it never stopped / nothing was monitored.
    """
    delta = -abs(min_delta) if mode == "min" else abs(min_delta)

    def improves(current, reference):
        if reference is None:
            return True
        return (current - delta < reference) if mode == "min" else (current - delta > reference)

    wait, best, best_epoch = 0, None, None
    for epoch, current in enumerate(values):
        if epoch < start_from_epoch:
            continue
        wait += 1
        if improves(current, best):
            best, best_epoch = current, epoch + 1
            if baseline is None or improves(current, baseline):
                wait = 0
            continue
        if wait >= patience and epoch > 0:
            return epoch + 1, best_epoch
    return None, best_epoch


_TRACK = jax.jit(_early_stopping.track)


def ours(values, *, mode, patience, min_delta, baseline, start_from_epoch):
    stopping = jl.EarlyStopping(mode=mode, patience=patience, min_delta=min_delta, baseline=baseline,
                                start_from_epoch=start_from_epoch)
    controls = _early_stopping.Tracking.of(0, mode, stopping)
    tracker = Tracker.start()
    for epoch, value in enumerate(values, start=1):
        tracker, _ = _TRACK(tracker, jnp.asarray(value), jnp.bool_(True), jnp.int32(epoch), controls)
        if bool(tracker.stopped):
            return epoch, int(tracker.best_epoch) or None
    return None, int(tracker.best_epoch) or None


@settings(max_examples=150, deadline=None, derandomize=True)
@given(values=st.lists(st.integers(0, 4).map(float), min_size=1, max_size=12),
       mode=st.sampled_from(["min", "max"]), patience=st.integers(0, 3), min_delta=st.sampled_from([0.0, 0.5, 1.0]),
       baseline=st.sampled_from([None, 1.5, 2.0, 3.5]), start_from_epoch=st.integers(0, 3))
def test_early_stopping_follows_keras_step_by_step(values, mode, patience, min_delta, baseline, start_from_epoch):
    kw = dict(mode=mode, patience=patience, min_delta=min_delta, baseline=baseline, start_from_epoch=start_from_epoch)
    assert ours(values, **kw) == keras_early_stopping(values, **kw)


def test_early_stopping_in_fit_stops_where_keras_does():
    # A flat loss (SGD with rate 0): the first epoch is the best, then patience epochs without improvement.
    flat = dict(optimizer=optax.sgd(0.0), epochs=10, metric_names=(), val=None)
    r = _fit(jl.bce, early_stopping=jl.EarlyStopping(patience=2), **flat)
    assert (r.status, r.epochs, r.history.best_epoch, r.history.stopped_epoch) == ("early_stopped", 3, 1, 3)
    assert "not improved for 2 epochs" in r.message
    r = _fit(jl.bce, early_stopping=jl.EarlyStopping(patience=2, start_from_epoch=2), **flat)
    assert (r.epochs, r.history.best_epoch) == (5, 3)
    # A baseline never reached: stop after patience epochs even though epoch 1 "improved".
    r = _fit(jl.bce, early_stopping=jl.EarlyStopping(patience=1, baseline=1e-3), **flat)
    assert r.epochs == 2
    with pytest.raises(ValueError, match="patience"):
        jl.EarlyStopping(patience=-1)
    with pytest.raises(ValueError, match="baseline"):
        jl.EarlyStopping(baseline=float("nan"))
