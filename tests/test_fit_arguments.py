"""fit names every bad argument and every bad array before training (issue 25, items 6 and 7).

Each case is a class, not one example: the optimizer table and every optax factory left uncalled, every
registered loss's targets against its own checks, every target kind through fit. These checks raise
before anything is compiled, so the file stays fast; two fits are compiled, to prove that valid inputs
of the binary and multiclass kinds train.
"""

from __future__ import annotations

import functools
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxloss as jl
from jaxloss import _kinds
from jaxloss import models as _models
from jaxloss.train import _checks, _data, _optimizers
from jaxloss.train._objective import as_loss_call, build_metrics, predictions_are_logits

K = 3


def linear(params, inputs):
    return inputs @ params["w"] + params["b"][None]  # (n,) + (1,), or (n, k) + (1, k)


def _data_set(n=48, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    binary = (x[:, 0] > 0).astype(np.float32)
    labels = rng.integers(0, K, n).astype(np.int32)
    return x, binary, labels


X, YB, YM = _data_set()
P1 = {"w": jnp.zeros(4, jnp.float32), "b": jnp.zeros((), jnp.float32)}
PK = {"w": jnp.zeros((4, K), jnp.float32), "b": jnp.zeros(K, jnp.float32)}
QUIET = dict(epochs=1, progress=False)


def _fit(loss, train, params=P1, **kw):
    return jl.fit(linear, params, loss, train, **{**QUIET, **kw})


def _accepts(loss, train, params=P1, val=None, metrics=(), from_logits=None):
    """What fit checks before the first step, on (train, val), without compiling: raises as fit would."""
    model = _models.as_model(linear, params)
    call = as_loss_call(loss, linear)
    train_data = _data.as_data(train, "train")
    val_data = None if val is None else _data.as_data(val, "val")
    example = _checks._batch(train_data, 32)
    _checks.before_training(model, call, train_data, val_data, example, batch_size=32)
    if metrics:
        predictions = jax.eval_shape(linear, params, example[0])
        return build_metrics(metrics, loss, from_logits, predictions, example[1])
    return ()


# -- the optimizer: names, factories, numbers, schedules ----------------------------------------------


@pytest.mark.parametrize("name", list(_optimizers.OPTIMIZERS))
def test_every_optimizer_name_builds_one_optax_transformation(name):
    opt = _optimizers.optimizer_argument("fit", "optimizer", name)
    assert hasattr(opt, "init") and hasattr(opt, "update")
    # One object per name (compiled programs are reused); case and an optax. prefix do not matter.
    assert _optimizers.optimizer_argument("fit", "optimizer", name.upper()) is opt
    assert _optimizers.optimizer_argument("fit", "optimizer", f"optax.{name}") is opt


@pytest.mark.parametrize("name, rate", [("adam", 1e-3), ("sgd", 1e-2), ("rmsprop", 1e-3), ("lion", 1e-3)])
def test_named_optimizers_use_the_documented_learning_rate(name, rate):
    opt = _optimizers.by_name(name)
    params = {"w": jnp.zeros(2, jnp.float32)}  # at zero, weight decay (lion's) adds nothing
    updates, _ = opt.update({"w": jnp.ones(2, jnp.float32)}, opt.init(params), params)
    # The first step of Adam, Lion and SGD on a unit gradient is -rate; RMSprop's is -rate / sqrt(1 - 0.9).
    expected = rate / np.sqrt(0.1) if name == "rmsprop" else rate
    np.testing.assert_allclose(updates["w"], -expected, rtol=1e-4)
    assert f'``"{name}"``' in jl.fit.__doc__


def test_a_misspelt_optimizer_name_names_the_close_ones():
    with pytest.raises(ValueError, match=r"fit: optimizer='adma' is not an optimizer name\. Did you mean 'adam'"):
        _fit("bce", (X, YB), optimizer="adma")


@pytest.mark.parametrize("factory", [optax.adam, optax.sgd, optax.adamw, optax.rmsprop, optax.lion])
def test_an_uncalled_optax_factory_says_call_it(factory):
    with pytest.raises(TypeError, match=rf"fit: optimizer=optax\.{factory.__name__} is the function that builds the "
                                        rf"optimizer.*call it: optimizer=optax\.{factory.__name__}\(1e-3\)"):
        _fit("bce", (X, YB), optimizer=factory)
    with pytest.raises(TypeError, match=r"call it: optimizer=optax\.lbfgs\(\)"):
        _fit("bce", (X, YB), optimizer=optax.lbfgs)


@pytest.mark.parametrize("value, pattern", [
    (1e-3, r"fit: optimizer=0\.001 is a number.*optimizer=optax\.adam\(0\.001\)"),
    (optax.exponential_decay(1e-3, 10, 0.9), r"fit: optimizer=.* learning-rate schedule.*optax\.adam\(schedule\)"),
    (lambda params: params, r"fit: optimizer must be an optax transformation.*If it builds an optimizer, call it"),
    (optax.adam(1e-3).init, r"fit: optimizer must be an optax transformation"),
])
def test_other_optimizer_mistakes_name_the_fix(value, pattern):
    with pytest.raises(TypeError, match=pattern):
        _fit("bce", (X, YB), optimizer=value)


def test_a_named_optimizer_is_accepted_by_fit():
    assert _optimizers.optimizer_argument("fit", "optimizer", None) is None
    assert _optimizers.optimizer_argument("fit", "optimizer", "adam") is _optimizers.by_name("adam")


# -- other arguments ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kw, error, pattern", [
    ({"early_stopping": "val_loss"}, TypeError, r"fit: early_stopping .* Pass early_stopping=jl\.EarlyStopping\("
                                                r"monitor='val_loss'"),
    ({"early_stopping": True}, TypeError, r"fit: early_stopping .*jl\.EarlyStopping\(patience=5\)"),
    ({"seed": "a"}, TypeError, r"fit: seed must be an integer .*got str 'a'"),
    ({"seed": 1.5}, TypeError, r"fit: seed must be an integer"),
    ({"val": (X, YB), "val_batch_size": 0}, ValueError, r"fit: val_batch_size=0 is out of range"),
    ({"val": [(X, YB)], "val_batch_size": 8}, ValueError, r"fit: val_batch_size=8 applies to in-memory val"),
    ({"steps_per_epoch": 3}, ValueError, r"fit: steps_per_epoch=3 applies to an iterable train"),
    ({"batch_size": 100, "drop_remainder": True}, ValueError,
     r"fit: drop_remainder=True with batch_size=100 and 48 examples in train leaves no full batch"),
])
def test_arguments_that_do_nothing_or_cannot_work_are_named(kw, error, pattern):
    with pytest.raises(error, match=pattern):
        _fit("bce", (X, YB), **kw)


def test_drop_remainder_with_an_iterable_is_named():
    with pytest.raises(ValueError, match=r"fit: drop_remainder=True applies to in-memory train.*drop_last"):
        _fit("bce", [(X, YB)], drop_remainder=True)


@pytest.mark.parametrize("loss, pattern", [
    (jl.l2(1e-3), r"fit: loss=l2\(0\.001\) is a regularizer.*jl\.objective\(model, 'mse', regularizers=l2\(0\.001\)\)"),
    (jl.l1(1e-2), r"fit: loss=l1\(0\.01\) is a regularizer"),
    (jl.warmup(10), r"fit: loss=.* is a schedule.*jl\.term\('mse', weight=schedule\)"),
])
def test_a_regularizer_or_a_schedule_is_not_a_loss(loss, pattern):
    with pytest.raises(TypeError, match=pattern):
        _fit(loss, (X, YB))


# -- dtypes and shapes ----------------------------------------------------------------------------------


def test_string_labels_say_how_to_encode_them():
    labels = np.where(YB > 0, "yes", "no")
    with pytest.raises(TypeError, match=r"fit: the targets of train are strings \(dtype <U3, e\.g\. 'no', 'yes'\).*"
                                        r"np\.unique\(labels, return_inverse=True\)"):
        _fit("bce", (X, labels))
    with pytest.raises(TypeError, match=r"fit: the targets of val are strings"):
        _fit("bce", (X, YB), val=(X, labels))
    with pytest.raises(TypeError, match=r"fit: the inputs\['text'\] of train are strings"):
        _accepts("bce", ({"text": np.array(["a"] * 48), "x": X}, YB))
    with pytest.raises(TypeError, match=r"fit: the targets of train are Python objects"):
        _fit("bce", (X, np.array([None] * 48)))


def test_a_feature_count_mismatch_names_the_model_the_data_and_the_shapes():
    pattern = (r"fit: the model linear cannot take the inputs of {}: inputs \(\d+, 3\) float32 \(one batch\), "
               r"parameters .*\(4,\) float32.*\(3,\) and \(4,\).*the features on their last axis")
    with pytest.raises(ValueError, match=pattern.format("train")) as info:
        _fit("bce", (X[:, :3], YB))
    assert len(info.traceback) < 10  # raised here, not from inside the compiled epoch
    with pytest.raises(ValueError, match=pattern.format("val")):
        _fit("bce", (X, YB), val=(X[:, :3], YB))
    with pytest.raises(ValueError, match=pattern.format("train")):  # an iterable: its first batch
        _fit("bce", [(X[:, :3], YB)])


def test_predictions_the_loss_cannot_take_name_the_loss_and_the_shapes():
    # One score per example for a multiclass loss: the loss's own message, raised before training.
    with pytest.raises(ValueError, match=r"fit: the loss softmax_cross_entropy cannot take the model's predictions "
                                         r"\(\d+,\) float32 and the targets of train \(\d+,\) int32: "
                                         r"softmax_cross_entropy:"):
        _fit("softmax_cross_entropy", (X, YM))
    # Float labels for a loss that takes class indices: the loss's own TypeError, named before training.
    with pytest.raises(TypeError, match=r"fit: the loss nll cannot take .*astype\(jnp\.int32\)"):
        _fit("nll", (X, YM.astype(np.float32)), params=PK)


# -- the targets' values: every registered loss, held to its own checks ---------------------------------


def _candidates(t):
    values = (-1, 0, 0.5, 1, 2, _kinds.NUM_CLASSES, _kinds.NUM_CLASSES + 2)
    return [v for v in values if np.issubdtype(t.dtype, np.floating) or float(v).is_integer()]


CHECKED = [e for e in jl.catalog() if e.inputs not in (_kinds.CTC, _kinds.LINEAR_HEAD)]


@pytest.mark.parametrize("entry", CHECKED, ids=lambda e: e.name)
def test_the_targets_table_agrees_with_every_losss_own_checks(entry):
    # Each candidate value, planted in one entry of the kind's sample: fit rejects it exactly when the
    # loss, called eagerly, rejects it. Never a valid input refused, never an invalid one let through.
    sample = entry.inputs.random(np.random.default_rng(0), 4)
    *args, targets = sample.args
    targets = np.asarray(targets)
    predictions = jax.ShapeDtypeStruct(np.shape(args[0]), jnp.float32)
    rule = _checks.target_rule(entry, {}, targets, predictions)
    k = int(np.shape(args[0])[-1])
    disagree = []
    for v in _candidates(targets):
        t = targets.copy()
        t.flat[0] = v
        try:
            entry.fn(*args, t, **sample.kwargs)
            loss_ok = True
        except ValueError:
            loss_ok = False
        try:
            _checks._check_values("the targets", "train", entry.name, t, rule, k, None, None)
            fit_ok = True
        except ValueError as err:
            fit_ok = False
            assert entry.name in str(err) and "the targets of train" in str(err)
        if loss_ok != fit_ok:
            disagree.append(f"{v}: the loss {'accepts' if loss_ok else 'rejects'} it, fit's check "
                            f"{'accepts' if fit_ok else 'rejects'} it")
    assert not disagree, f"{entry.name} ({entry.inputs.name}, rule {rule}): " + "; ".join(disagree)


def test_every_input_kind_has_a_targets_rule():
    assert set(_checks.TARGETS) == set(_kinds.ALL)
    assert set(_checks.OVERRIDES) <= {e.name for e in jl.catalog()}


@pytest.mark.parametrize("entry", CHECKED, ids=lambda e: e.name)
def test_every_losss_valid_samples_pass(entry):
    rng = np.random.default_rng(1)
    samples = [entry.inputs.random(rng, 4)] + ([entry.inputs.perfect(rng, 4)] if entry.inputs.perfect else [])
    for sample in samples + entry.inputs.hard(rng, 4):
        *args, targets = sample.args
        targets = np.asarray(targets)
        if not np.isfinite(targets).all() if np.issubdtype(targets.dtype, np.floating) else False:
            continue
        options = {k: v for k, v in sample.kwargs.items() if k not in ("where", "weights")}
        predictions = jax.ShapeDtypeStruct(np.shape(args[0]), jnp.float32)
        rule = _checks.target_rule(entry, options, targets, predictions)
        where = sample.kwargs.get("where")
        keep = None if where is None else _checks._entry_mask(where, targets.shape)
        _checks._check_values("the targets", "train", entry.name, targets, rule, int(np.shape(args[0])[-1]), keep,
                              options.get("ignore_index"))


BINARY = [e for e in jl.catalog() if e.inputs in (_kinds.BINARY_LOGITS, _kinds.SIGNED_BINARY)]
CLASSES = [e for e in jl.catalog() if e.inputs in (_kinds.CLASS_LOGITS, _kinds.CLASS_LOG_PROBS)]


@pytest.mark.parametrize("entry", BINARY, ids=lambda e: e.name)
@pytest.mark.parametrize("labels", ["0,1,2", "2*y-1"])
def test_binary_losses_name_labels_they_do_not_take(entry, labels):
    y = YM.astype(np.float32) if labels == "0,1,2" else 2 * YB - 1
    if entry.inputs is _kinds.SIGNED_BINARY and labels == "2*y-1":
        _accepts(entry.fn, (X, y))  # hinge and its kin take {-1, 1}
        return
    with pytest.raises(ValueError, match=rf"fit: the targets of train hold values that {entry.name} does not take"):
        _fit(entry.fn, (X, y))
    with pytest.raises(ValueError, match=rf"fit: the targets of val hold values that {entry.name} does not take"):
        _fit(entry.fn, (X, YB if entry.name != "soft_margin" else 2 * YB - 1), val=(X, y))


@pytest.mark.parametrize("entry", CLASSES, ids=lambda e: e.name)
def test_class_losses_name_a_label_past_the_last_class(entry):
    y = YM.copy()
    y[5] = K
    with pytest.raises(ValueError, match=rf"fit: the targets of train hold values that {entry.name} does not take: its "
                                         rf"targets are class indices in \[0, {K - 1}\]; found \[{K}\] at 1 of 48 "
                                         rf"entries \(positions \[5\]\)\. The model gives {K} class scores"):
        _fit(entry.fn, (X, y), params=PK)
    y[5] = -1
    with pytest.raises(ValueError, match=r"found \[-1\].*Negative labels: exclude padding with ignore_index="):
        _fit(entry.fn, (X, y), params=PK)
    _accepts(entry.fn, {"inputs": X, "targets": y, "where": y >= 0}, params=PK)  # excluded by the mask: fine


def test_ignore_index_and_where_are_honoured():
    y = YM.copy()
    y[:4] = -100
    ce = functools.partial(jl.softmax_cross_entropy, ignore_index=-100)
    _accepts(ce, (X, y), params=PK)
    _accepts(jl.term("softmax_cross_entropy", ignore_index=-100), (X, y), params=PK)
    _accepts(jl.objective(linear, "softmax_cross_entropy", ignore_index=-100), (X, y), params=PK)
    with pytest.raises(ValueError, match=r"found \[-100\] at 4 of 48"):
        _accepts(jl.softmax_cross_entropy, (X, y), params=PK)
    yb = 2 * YB - 1
    _accepts("bce", {"inputs": X, "targets": yb, "where": yb > 0})  # the -1 entries are excluded


def test_composite_terms_are_checked_and_a_loss_of_your_own_is_not():
    y = YM.astype(np.float32)  # {0, 1, 2}
    with pytest.raises(ValueError, match=r"fit: the targets of train hold values that term 'binary_cross_entropy' "
                                         r"\(binary_cross_entropy\) does not take"):
        _accepts(jl.term("bce") + 0.1 * jl.term(lambda p, t: jnp.mean((p - t) ** 2), name="mine"), (X, y))
    with pytest.raises(ValueError, match=r"values that hinge does not take"):
        _accepts(jl.objective(linear, "hinge", regularizers=jl.l2(1e-3)), (X, y))
    _accepts(lambda p, t: jnp.mean((p - t) ** 2), (X, y))  # its targets cannot be known: not refused


def test_probability_targets_and_one_hot_vectors_are_checked_as_probabilities():
    one_hot = np.eye(K, dtype=np.float32)[YM]
    _accepts("softmax_cross_entropy", (X, one_hot), params=PK)
    _accepts("kl_divergence", (X, one_hot), params=PK)
    one_hot[2, 0] = -0.5
    with pytest.raises(ValueError, match=r"values that softmax_cross_entropy does not take: its targets are >= 0"):
        _accepts("softmax_cross_entropy", (X, one_hot), params=PK)


# -- non-finite values ----------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["inputs", "targets", "weights"])
@pytest.mark.parametrize("what", ["train", "val"])
def test_non_finite_values_are_named_before_training(where, what):
    arrays = {"inputs": X.copy(), "targets": YB.copy(), "weights": np.ones(48, np.float32)}
    arrays[where][[3, 7]] = [np.nan, np.inf] if where != "inputs" else np.nan
    bad, good = arrays, {"inputs": X, "targets": YB}
    train, val = (bad, good) if what == "train" else (good, bad)
    with pytest.raises(ValueError, match=rf"fit: the {where} of {what} hold \d+ non-finite values \(NaN or inf\) "
                                         rf"in 2 of its 48 examples \(examples \[3, 7\]\)"):
        _fit("bce", train, val=val)


def test_non_finite_values_excluded_by_where_are_accepted():
    x, y = X.copy(), YB.copy()
    x[3], y[7] = np.nan, np.nan
    keep = np.ones(48, bool)
    keep[[3, 7]] = False
    _accepts("bce", {"inputs": x, "targets": y, "where": keep}, val={"inputs": x, "targets": y, "where": keep})


def test_an_iterables_first_batch_is_checked():
    y = YB.copy()
    y[0] = 2.0
    with pytest.raises(ValueError, match=r"the targets of train hold values that binary_cross_entropy"):
        _fit("bce", iter([(X, y)]))
    with pytest.raises(ValueError, match=r"the targets of val hold values"):
        _fit("bce", (X, YB), val=[(X, y)])


def test_the_checks_cost_one_vectorised_pass():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1_000_000, 4)).astype(np.float32)
    y = rng.integers(0, K, 1_000_000).astype(np.int32)
    start = time.perf_counter()
    _accepts("softmax_cross_entropy", (x, y), params=PK, val=(x, y))
    assert time.perf_counter() - start < 1.0  # about 0.05 s: min and max, no per-example loop


# -- metrics --------------------------------------------------------------------------------------------


P_BIN = jax.ShapeDtypeStruct((8,), jnp.float32)


def test_accuracy_on_one_score_per_target_is_binary_accuracy():
    (m,) = build_metrics(["accuracy"], "bce", None, P_BIN, jax.ShapeDtypeStruct((8,), jnp.float32))
    assert m.name == "accuracy"
    logits, labels = jnp.array([2.0, -1.0, 0.5, -3.0]), jnp.array([1.0, 1.0, 0.0, 0.0])
    expected = jl.metrics.binary_accuracy(logits, labels, from_logits=True)
    np.testing.assert_allclose(m.compute(m.update(m.init(), logits, labels)), expected)
    # Class scores and class indices: the multiclass accuracy, as before.
    (m,) = build_metrics(["accuracy"], "softmax_cross_entropy", None, jax.ShapeDtypeStruct((8, K), jnp.float32),
                         jax.ShapeDtypeStruct((8,), jnp.int32))
    assert m is jl.metrics.get("accuracy")


def test_accuracy_with_a_loss_of_your_own_asks_for_from_logits():
    with pytest.raises(ValueError, match=r"fit: metrics\[0\]='accuracy' on one score per target is binary accuracy.*"
                                         r"from_logits=True"):
        build_metrics(["accuracy"], lambda p, t: jnp.mean(p), None, P_BIN, P_BIN)
    (m,) = build_metrics(["accuracy"], lambda p, t: jnp.mean(p), False, P_BIN, P_BIN)
    assert m.name == "accuracy"


def test_a_metric_that_cannot_read_the_predictions_is_named_before_training():
    one_hot = jax.ShapeDtypeStruct((8, K), jnp.float32)
    with pytest.raises(TypeError, match=r"fit: metrics\[0\]='accuracy' cannot read the model's predictions "
                                        r"\(\(8, 3\) float32\) and the targets \(\(8, 3\) float32\):.*argmax"):
        build_metrics(["accuracy"], "softmax_cross_entropy", None, one_hot, one_hot)


@pytest.mark.parametrize("loss", ["bce", "binary_cross_entropy", "sigmoid_binary_cross_entropy"])
def test_a_loss_given_by_name_tells_metrics_it_takes_logits(loss):
    assert predictions_are_logits(loss) is True
    (m,) = build_metrics(["binary_accuracy"], loss, None, P_BIN, P_BIN)
    assert m.name == "binary_accuracy"


# -- valid inputs of each kind train (the only compiled fits here) --------------------------------------


def test_valid_binary_labels_train_with_a_named_optimizer_and_accuracy():
    r = _fit("bce", (X, YB), val=(X, YB), optimizer="adam", metrics=["accuracy", "binary_accuracy"], epochs=2)
    assert r.status == "completed"
    np.testing.assert_allclose(r.history["accuracy"], r.history["binary_accuracy"])


def test_valid_class_indices_and_one_hot_targets_train():
    r = _fit("softmax_cross_entropy", {"inputs": X, "targets": np.where(YM == 0, -1, YM), "where": YM != 0},
             params=PK, val=(X, YM), metrics=["accuracy"], optimizer="sgd", epochs=2)
    assert r.status == "completed" and np.isfinite(r.history["val_loss"]).all()
