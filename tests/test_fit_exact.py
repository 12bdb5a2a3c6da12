"""fit's numbers do not depend on how the data is cut (issue 25, item 4).

* ``loss``, ``val_loss`` and each ``loss/<term>`` are the weighted means the loss defines over the whole
  epoch and the whole validation set, at every batch and chunk size, with per-example ``weights`` and
  with a ``where`` mask that drops half: before, chunks were combined by their sizes (a weighted 0.527
  reported 0.529; a mask that dropped half gave 0.266 for 0.532).
* ``val_auc`` and ``val_average_precision`` are scikit-learn's on the whole validation set, at any logit
  scale: before, a 200-bin histogram gave 0.788 at logit scale 30 for 0.836 at scale 1 (same ranking),
  and early stopping on ``val_auc`` stopped a model for growing confident.
* The histogram stays available as ``auc_histogram``, within its bound.

Every reference is NumPy float64, computed here from the model's parameters: the weighted mean of the
losses' formulas, the Mann-Whitney statistic with ties counted 1/2 (all pairs), and average precision as
scikit-learn's step-wise sum over distinct thresholds. Programs are reused where shapes repeat.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxloss as jl
from jaxloss import metrics

N_TRAIN, N_VAL = 61, 53  # neither a multiple of 7: every cut has a last partial batch
RNG = np.random.default_rng(25)
X = RNG.normal(size=(N_TRAIN + N_VAL, 3)).astype(np.float32)
Y = (X @ np.array([1.0, -1.5, 0.5]) + RNG.normal(size=N_TRAIN + N_VAL) > 0).astype(np.float32)
WEIGHTS = RNG.uniform(0.2, 2.0, size=N_TRAIN + N_VAL).astype(np.float32)
HALF = np.zeros(N_TRAIN + N_VAL, bool)
HALF[RNG.permutation(N_TRAIN + N_VAL)[: (N_TRAIN + N_VAL) // 2]] = True  # keeps half, whole chunks dropped too
P0 = {"w": jnp.asarray([0.3, -0.2, 0.1], jnp.float32), "b": jnp.asarray(0.1, jnp.float32)}
ADAM = optax.adam(5e-2)
FROZEN = optax.sgd(0.0)  # parameters that do not move: the training loss has one reference for any batching


def linear(params, inputs):
    return inputs @ params["w"] + params["b"]


def _data(part, extra):
    rows = slice(0, N_TRAIN) if part == "train" else slice(N_TRAIN, None)
    chosen = {"weights": WEIGHTS[rows]} if extra == "weights" else {"where": HALF[rows]}
    return {"inputs": X[rows], "targets": Y[rows], **chosen}


def _weighted_mean(values, data):
    w = np.asarray(data.get("weights", np.ones(len(values))), np.float64) * data.get("where", True)
    return float(np.sum(w * values) / np.sum(w))


def _logits(params, x):
    return np.asarray(linear(params, x), np.float64)  # the model's float32 logits, then float64


def _bce(z, y):
    return np.logaddexp(0.0, z) - y * z  # log(1 + e^z) - y z: stable for large |z|


def _hinge(z, y):
    return np.maximum(0.0, 1.0 - (2.0 * y - 1.0) * z)  # labels {0, 1} read as {-1, 1}


def _mann_whitney(scores, labels, weights=None):
    """P(positive scores above negative), ties 1/2, over every pair (Hanley & McNeil, 1982)."""
    w = np.ones(len(scores)) if weights is None else np.asarray(weights, np.float64)
    pos, neg = labels > 0.5, labels <= 0.5
    diff = scores[pos][:, None] - scores[neg][None, :]
    pairs = (diff > 0) + 0.5 * (diff == 0)
    return float(w[pos] @ pairs @ w[neg] / (w[pos].sum() * w[neg].sum()))


def _average_precision(scores, labels):
    """scikit-learn's step-wise sum: sum_n (R_n - R_{n-1}) P_n over the distinct thresholds, high to low."""
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], labels[order]
    last = np.r_[s[1:] != s[:-1], True]  # the last entry of each distinct threshold
    tp, seen = np.cumsum(y)[last], np.arange(1, len(y) + 1)[last]
    recall = tp / tp[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * tp / seen))


# -- (a) the losses: weighted means over the whole set, at every cut --------------------------------


@pytest.mark.parametrize("extra", ["weights", "where"])
def test_val_loss_is_the_weighted_mean_of_the_whole_set_at_every_chunk_size(extra):
    train, val = _data("train", extra), _data("val", extra)
    runs = [jl.fit(linear, P0, jl.bce, train, val=val, val_batch_size=size, optimizer=ADAM, epochs=3,
                   batch_size=16, progress=False) for size in (1, 7, N_VAL)]
    for r in runs[1:]:  # the same training batches: the same training losses; every epoch's val_loss alike
        np.testing.assert_allclose(r.history["loss"], runs[0].history["loss"], rtol=1e-6)
        np.testing.assert_allclose(r.history["val_loss"], runs[0].history["val_loss"], rtol=1e-5)
    for r in runs:
        expected = _weighted_mean(_bce(_logits(r.last_params, val["inputs"]), val["targets"]), val)
        np.testing.assert_allclose(r.history["val_loss"][-1], expected, rtol=1e-5)
    if extra == "where":  # the defect: chunks the mask empties counted as 0 by their size
        assert runs[0].history["val_loss"][-1] > 0.3


@pytest.mark.parametrize("extra", ["weights", "where"])
def test_training_loss_and_its_terms_are_weighted_means_at_every_batch_size(extra):
    train, val = _data("train", extra), _data("val", extra)
    loss = jl.term("bce") + 0.5 * jl.term("hinge")
    z_train, z_val = _logits(P0, train["inputs"]), _logits(P0, val["inputs"])
    expected = {}
    for prefix, z, data in (("", z_train, train), ("val_", z_val, val)):
        bce, hinge = (_weighted_mean(f(z, data["targets"]), data) for f in (_bce, _hinge))
        expected.update({prefix + "loss": bce + 0.5 * hinge, prefix + "loss/binary_cross_entropy": bce,
                         prefix + "loss/hinge": hinge})
    for size in (1, 7, N_TRAIN):
        r = jl.fit(linear, P0, loss, train, val=val, val_batch_size=size, optimizer=FROZEN, epochs=1,
                   batch_size=size, progress=False)
        for key, value in expected.items():
            np.testing.assert_allclose(r.history[key][-1], value, rtol=2e-6, err_msg=f"{key}, batch size {size}")


# -- (b) AUC and average precision: exact, whatever the logits' scale --------------------------------


def scaled(params, inputs):
    return params["scale"] * (inputs @ params["w"] + params["b"])


def test_val_auc_and_average_precision_are_exact_at_any_logit_scale():
    val = _data("val", "weights")
    del val["weights"]
    values = {}
    for scale in (1.0, 30.0):  # one program: the scale is a parameter
        params = {**P0, "scale": jnp.asarray(scale, jnp.float32)}
        r = jl.fit(scaled, params, jl.bce, _data("train", "weights"), val=val, val_batch_size=7, optimizer=FROZEN,
                   epochs=1, batch_size=N_TRAIN, progress=False, metrics=("auc", "average_precision"))
        z = np.asarray(scaled(params, val["inputs"]), np.float64)
        values[scale] = (r.history["val_auc"][-1], r.history["val_average_precision"][-1])
        np.testing.assert_allclose(values[scale], (_mann_whitney(z, val["targets"]),
                                                   _average_precision(z, val["targets"])), rtol=1e-6)
    np.testing.assert_allclose(values[30.0], values[1.0], rtol=1e-6)  # the same ranking, the same values


NOISE = np.random.default_rng(4).normal(size=(N_TRAIN + N_VAL, 1)).astype(np.float32)  # unrelated to Y


def _confident():
    """Moves ``a`` (how much of the noise column the ranking forgets) and ``s`` (the log of the logits'
    scale) one fixed step per optimizer step, whatever the gradient: the ranking improves while the model
    grows confident."""
    def update(grads, state, params=None):
        return {"a": jnp.full_like(grads["a"], 0.03), "s": jnp.full_like(grads["s"], 0.4)}, state
    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


def growing(params, inputs):
    noise = 3.0 * jnp.clip(1.0 - params["a"], 0.0, 1.0)
    return jnp.exp(params["s"]) * (inputs[:, :3] @ jnp.asarray([1.0, -1.5, 0.5]) + noise * inputs[:, 3])


def test_early_stopping_on_val_auc_does_not_punish_confidence():
    """A ranking that improves every epoch while the logits grow to e^4 times their first scale: exact AUC
    follows the ranking and training runs on; the histogram ties the confident scores in its end bins, its
    AUC falls, and early stopping on it stops the run (the issue's defect), within the histogram's bound."""
    train, val, epochs = _data("train", "weights"), _data("val", "weights"), 10
    train["inputs"], val["inputs"] = np.c_[train["inputs"], NOISE[:N_TRAIN]], np.c_[val["inputs"], NOISE[N_TRAIN:]]
    params = {"a": jnp.zeros((), jnp.float32), "s": jnp.zeros((), jnp.float32)}
    optimizer = _confident()
    kw = dict(val=val, optimizer=optimizer, epochs=epochs, batch_size=N_TRAIN, val_batch_size=7, progress=False,
              metrics=("auc", "auc_histogram"), from_logits=True)
    stop = dict(patience=2, restore_best=True)
    exact = jl.fit(growing, params, jl.bce, train, **kw, early_stopping=jl.EarlyStopping(monitor="val_auc", **stop))
    binned = jl.fit(growing, params, jl.bce, train, **kw,
                    early_stopping=jl.EarlyStopping(monitor="val_auc_histogram", **stop))
    at_epoch = [{"a": jnp.float32(0.03 * k), "s": jnp.float32(0.4 * k)} for k in range(1, epochs + 1)]
    reference = [_mann_whitney(np.asarray(growing(p, val["inputs"]), np.float64), val["targets"], val["weights"])
                 for p in at_epoch]
    assert np.all(np.diff(reference) >= 0) and reference[-1] > reference[0] + 0.05  # the ranking improves
    np.testing.assert_allclose(exact.history["val_auc"], reference, rtol=1e-6)
    assert exact.status == "completed" and exact.history.best_epoch == epochs
    assert binned.status == "early_stopped" and binned.history.best_epoch < epochs - 2
    assert binned.history["val_auc_histogram"][-1] < binned.history["val_auc"][-1] - 0.01

    # (c) the histogram approximation is still there, under its own name, within its bound
    m = metrics.get("auc_histogram", from_logits=True)
    last = len(binned.history["val_auc"])
    z = growing(at_epoch[last - 1], val["inputs"])
    state = m.update(m.init(), z, val["targets"], weights=val["weights"])
    np.testing.assert_allclose(binned.history["val_auc_histogram"][-1], m.compute(state), rtol=1e-6)
    bound = float(metrics.auc_histogram_bound(state))
    assert abs(binned.history["val_auc_histogram"][-1] - reference[last - 1]) <= bound + 1e-7
