"""Tests for jaxloss.metrics against independent NumPy float64 references.

The references below are written from scikit-learn's definitions (scikit-learn is not a dependency):
ROC AUC as the Mann-Whitney pair count with ties worth 1/2, average precision as scikit-learn's
step sum over distinct thresholds, precision/recall/F over ``unique_labels(y_true, y_pred)``, R^2
with ``force_finite=True``. Masks are checked by equality with slicing, as the losses are.
Shapes are reused across tests to keep the number of compilations (and the runtime) small.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxloss import metrics

N, K = 96, 4  # samples per data set, classes


# --------------------------------------------------------------------------------------------------
# NumPy references (float64)
# --------------------------------------------------------------------------------------------------


def ref_auc(s, y, w):
    pos = y == 1
    sp, sn, wp, wn = s[pos], s[~pos], w[pos], w[~pos]
    wins = (sp[:, None] > sn[None, :]) + 0.5 * (sp[:, None] == sn[None, :])
    return float((wp[:, None] * wn[None, :] * wins).sum() / (wp.sum() * wn.sum()))


def ref_average_precision(s, y, w):
    order = np.argsort(-s, kind="mergesort")
    s, y, w = s[order], y[order], w[order]
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]  # last index of each distinct threshold
    tps = np.cumsum(y * w)[last]
    fps = np.cumsum((1 - y) * w)[last]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tps + fps > 0, tps / (tps + fps), 0.0)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def ref_confusion(pred, true, k, w):
    cm = np.zeros((k, k))
    for p, t, wi in zip(pred, true, w):
        cm[t, p] += wi
    return cm


def ref_prf(pred, true, k, w, average, which, beta=1.0):
    cm = ref_confusion(pred, true, k, w)
    tp, pred_sum, true_sum = np.diag(cm), cm.sum(0), cm.sum(1)
    labels = np.union1d(pred, true) if average != "binary" else np.array([1])
    if average is None:
        labels = np.arange(k)
    tp, pred_sum, true_sum = tp[labels], pred_sum[labels], true_sum[labels]
    if average == "micro":
        tp, pred_sum, true_sum = tp.sum(), pred_sum.sum(), true_sum.sum()

    def div(a, b):
        a, b = np.asarray(a, float), np.asarray(b, float)
        return np.where(b != 0, a / np.where(b != 0, b, 1), 0.0)

    b2 = beta**2
    score = {
        "precision": div(tp, pred_sum),
        "recall": div(tp, true_sum),
        "f": div((1 + b2) * tp, b2 * true_sum + pred_sum),
    }[which]
    if average == "macro":
        return float(score.mean()) if len(labels) else 0.0
    if average == "weighted":
        return float(div((score * true_sum).sum(), true_sum.sum()))
    return score if average is None else float(np.sum(score))


def ref_log_loss(p, y, w, eps):
    if p.ndim == y.ndim + 1:
        p = np.clip(p, eps, 1 - eps)
        losses = -np.log(p[np.arange(len(y)), y])
    else:
        p = np.clip(p, eps, 1 - eps)
        losses = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    return float(np.sum(w * losses) / np.sum(w))


def ref_r2(p, y, w):
    if len(y) < 2:
        return np.nan
    mean = np.sum(w * y) / np.sum(w)
    ss_tot = np.sum(w * (y - mean) ** 2)
    ss_res = np.sum(w * (y - p) ** 2)
    if ss_tot == 0:
        return 1.0 if ss_res == 0 else 0.0
    return float(1 - ss_res / ss_tot)


def ref_ece(conf, correct, w, num_bins):
    edges = np.linspace(0.0, 1.0, num_bins + 1)[1:-1].astype(conf.dtype)
    bins = np.searchsorted(edges, conf)  # (lo, hi] bins, as sklearn's calibration_curve
    total = 0.0
    for b in range(num_bins):
        m = bins == b
        if w[m].sum() > 0:
            acc = np.sum(w[m] * correct[m]) / w[m].sum()
            avg_conf = np.sum(w[m] * conf[m].astype(np.float64)) / w[m].sum()
            total += w[m].sum() * abs(acc - avg_conf)
    return total / w.sum()


# --------------------------------------------------------------------------------------------------
# Data: ties, weights and masks everywhere
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1234)
    probs = rng.dirichlet(np.ones(K), size=N)
    d = {
        "scores": rng.integers(0, 4, size=(N, K)).astype(np.float64),  # many argmax ties
        "probs": probs,
        "labels": rng.integers(0, K, size=N),
        "bscores": rng.integers(0, 9, size=N) / 8.0,  # binary probabilities with many ties
        "blabels": (rng.random(N) < 0.4).astype(np.int64),
        "reg_pred": rng.normal(size=N),
        "reg_true": rng.normal(size=N) * 2 + 1,
        "weights": rng.uniform(0.1, 2.0, size=N),
        "mask": rng.random(N) > 0.3,
    }
    d["labels"][d["labels"] == 3] = 2  # class 3 never a target...
    d["scores"][:, 3] = -1.0  # ...nor predicted: it must not count in macro averages
    return d


def _sliced(d, *keys):
    m = d["mask"]
    return [d[k][m] for k in keys]


def close(a, b, tol=1e-9):
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=tol, atol=tol)


# --------------------------------------------------------------------------------------------------
# One-shot values against the references
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("top_k", [1, 2, 3])
def test_accuracy_reference(data, top_k, weighted):
    s, y, w = data["scores"], data["labels"], data["weights"] if weighted else np.ones(N)
    # One tie rule for every k, the argmax's: a stable descending sort ranks the lower class index first.
    ranks = np.argsort(-s, axis=1, kind="stable")[:, :top_k]
    expected = np.sum(w * (ranks == y[:, None]).any(1)) / w.sum()
    got = metrics.accuracy(s, y, top_k=top_k, weights=w if weighted else None)
    close(got, expected)
    if top_k == 1:  # accuracy_score on the argmax: ties to the lower class index
        close(got, np.sum(w * (s.argmax(1) == y)) / w.sum())
    # Without exact ties, scikit-learn 1.9's top_k_accuracy_score (a stable ascending argsort, reversed)
    # gives the same value: the rules differ only in how they order tied classes.
    untied = s + np.random.default_rng(1).uniform(0, 0.1, s.shape)
    sk_ranks = np.argsort(untied, axis=1, kind="mergesort")[:, ::-1][:, :top_k]
    close(metrics.accuracy(untied, y, top_k=top_k, weights=w if weighted else None),
          np.sum(w * (sk_ranks == y[:, None]).any(1)) / w.sum())


def test_top_k_accuracy_never_falls_as_k_grows(data):
    """Issue 24: with ties, a k = 1 rule (lower index wins) and a k > 1 rule (higher index first) made
    top-2 accuracy lower than top-1 on all-tied scores. One rule for every k: monotone in k."""
    s, y = data["scores"], data["labels"]
    values = [float(metrics.accuracy(s, y, top_k=k)) for k in range(1, K + 1)]
    assert values == sorted(values) and values[-1] == 1.0, values
    tied = np.zeros((3, 3))
    assert [float(metrics.accuracy(tied, np.array([0, 1, 2]), top_k=k)) for k in (1, 2, 3)] == [1 / 3, 2 / 3, 1.0]


@pytest.mark.parametrize("from_logits", [False, True])
def test_binary_accuracy_reference(data, from_logits):
    p, y, w = data["bscores"], data["blabels"], data["weights"]
    x = np.log(p + 1e-3) - np.log1p(-p + 1e-3) if from_logits else p
    expected = np.sum(w * ((p > 0.5) == y)) / w.sum()
    close(metrics.binary_accuracy(x, y, from_logits=from_logits, weights=w), expected)


def test_confusion_matrix_reference(data):
    s, y, w = data["scores"], data["labels"], data["weights"]
    cm = metrics.confusion_matrix(s, y)
    assert cm.dtype == jnp.int32 and cm.shape == (K, K)
    np.testing.assert_array_equal(cm, ref_confusion(s.argmax(1), y, K, np.ones(N)))
    close(metrics.confusion_matrix(s, y, weights=w), ref_confusion(s.argmax(1), y, K, w))
    # integer label predictions need num_classes; binary scores are thresholded
    np.testing.assert_array_equal(
        metrics.confusion_matrix(s.argmax(1), y, num_classes=K), ref_confusion(s.argmax(1), y, K, np.ones(N))
    )
    p, t = data["bscores"], data["blabels"]
    np.testing.assert_array_equal(metrics.confusion_matrix(p, t), ref_confusion((p > 0.5).astype(int), t, 2, np.ones(N)))


PRF = [("precision", metrics.precision, {}), ("recall", metrics.recall, {}), ("f", metrics.f1_score, {}),
       ("f", functools.partial(metrics.fbeta_score, beta=2.0), {"beta": 2.0})]


@pytest.mark.parametrize("average", ["micro", "macro", "weighted", None])
@pytest.mark.parametrize("which,fn,kw", PRF, ids=["precision", "recall", "f1", "f2"])
def test_prf_multiclass_reference(data, which, fn, kw, average):
    s, y, w, m = data["scores"], data["labels"], data["weights"], data["mask"]
    pred = s.argmax(1)
    close(fn(s, y, average=average, weights=w), ref_prf(pred, y, K, w, average, which, **kw))
    if average != "macro":
        return
    # where= is the same as dropping the entries (also for which classes are "present")
    expected = ref_prf(pred[m], y[m], K, w[m], average, which, **kw)
    close(fn(s, y, average=average, weights=w, where=m), expected)


@pytest.mark.parametrize("average", ["binary", "micro", "macro", "weighted"])
@pytest.mark.parametrize("which,fn,kw", PRF, ids=["precision", "recall", "f1", "f2"])
def test_prf_binary_reference(data, which, fn, kw, average):
    p, y, w = data["bscores"], data["blabels"], data["weights"]
    pred = (p > 0.5).astype(int)
    close(fn(p, y, average=average, weights=w), ref_prf(pred, y, 2, w, average, which, **kw))


def test_prf_zero_division_is_zero():
    y = jnp.array([0, 0, 0, 0])
    p = jnp.array([0.1, 0.2, 0.3, 0.4])  # no predicted and no true positives
    for fn in (metrics.precision, metrics.recall, metrics.f1_score):
        assert float(fn(p, y)) == 0.0
    # a class present only in zero-weight samples counts in the macro mean (as scikit-learn)
    scores = jnp.eye(3)[jnp.array([0, 1, 2])]
    got = metrics.recall(scores, jnp.array([0, 1, 1]), average="macro", weights=jnp.array([1.0, 1.0, 0.0]))
    close(got, ref_prf(np.array([0, 1, 2]), np.array([0, 1, 1]), 3, np.array([1.0, 1.0, 0.0]), "macro", "recall"))


def test_ranking_reference(data):
    s, y, m, w = data["bscores"], data["blabels"], data["mask"], data["weights"]
    kw = {"weights": w}
    close(metrics.roc_auc(s, y), ref_auc(s, y, np.ones(N)))
    close(metrics.roc_auc(s, y, **kw), ref_auc(s, y, w))
    close(metrics.average_precision(s, y, **kw), ref_average_precision(s, y, w))
    # masked == sliced, with garbage (NaN) in the dropped entries
    s_nan = np.where(m, s, np.nan)
    close(metrics.roc_auc(s_nan, y, where=m, **kw), ref_auc(s[m], y[m], w[m]))
    close(metrics.average_precision(s_nan, y, where=m, **kw), ref_average_precision(s[m], y[m], w[m]))
    # only the order matters for AUC: logits of the same probabilities give the same value
    close(metrics.roc_auc(np.log(s + 1e-3) - np.log1p(-s + 1e-3), y, **kw), ref_auc(s, y, w))


def test_ranking_one_class_is_nan():
    s = jnp.array([0.2, 0.4, 0.9])
    assert np.isnan(metrics.roc_auc(s, jnp.array([1, 1, 1])))
    assert np.isnan(metrics.roc_auc(s, jnp.array([0, 0, 0])))
    assert np.isnan(metrics.average_precision(s, jnp.array([0, 0, 0])))
    assert float(metrics.average_precision(s, jnp.array([1, 1, 1]))) == 1.0
    assert np.isnan(metrics.roc_auc(jnp.array([0.1, jnp.nan]), jnp.array([0, 1])))


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("multiclass", [False, True])
def test_log_loss_reference(data, multiclass, from_logits):
    w = data["weights"]
    if multiclass:
        p, y = data["probs"], data["labels"]
        x = np.log(p) + 3.0 if from_logits else p  # softmax(log p + c) = p
    else:
        p, y = np.clip(data["bscores"], 0.01, 0.99), data["blabels"]
        x = np.log(p) - np.log1p(-p) if from_logits else p
    eps = np.finfo(np.float64).eps
    close(metrics.log_loss(x, y, from_logits=from_logits, weights=w), ref_log_loss(p, y, w, eps), tol=1e-7)


def test_log_loss_clips_like_sklearn():
    p = jnp.array([0.0, 1.0], jnp.float32)
    y = jnp.array([1, 1])
    eps = np.finfo(np.float32).eps
    close(metrics.log_loss(p, y), -np.log(eps) / 2, tol=1e-6)
    # A bad class index raises eagerly, as the cross-entropy loss does; under jit it makes the value NaN.
    with pytest.raises(ValueError, match=r"log_loss: targets holds class indices outside \[0, 3\): values \[5\]"):
        metrics.log_loss(jnp.eye(3)[:2], jnp.array([0, 5]))
    assert np.isnan(jax.jit(metrics.log_loss)(jnp.eye(3)[:2], jnp.array([0, 5])))


def test_regression_reference(data):
    p, y, w, m = data["reg_pred"], data["reg_true"], data["weights"], data["mask"]
    close(metrics.mean_squared_error(p, y, weights=w), np.sum(w * (p - y) ** 2) / w.sum())
    close(metrics.root_mean_squared_error(p, y, weights=w), np.sqrt(np.sum(w * (p - y) ** 2) / w.sum()))
    close(metrics.mean_absolute_error(p, y, weights=w), np.sum(w * np.abs(p - y)) / w.sum())
    close(metrics.r2_score(p, y, weights=w), ref_r2(p, y, w))
    close(metrics.r2_score(p, y, weights=w, where=m), ref_r2(p[m], y[m], w[m]))


def test_r2_edge_cases():
    y = jnp.array([2.0, 2.0, 2.0])
    assert float(metrics.r2_score(y, y)) == 1.0  # constant target predicted exactly
    assert float(metrics.r2_score(y + 1, y)) == 0.0  # constant target missed
    assert np.isnan(metrics.r2_score(jnp.array([1.0]), jnp.array([2.0])))  # fewer than two samples
    # the two-pass SS_tot does not cancel for targets far from zero (float32)
    p32 = jnp.array([1e4 + 0.5, 1e4 + 1.5, 1e4 + 2.0, 1e4 + 3.5], jnp.float32)
    y32 = jnp.array([1e4 + 0.0, 1e4 + 1.0, 1e4 + 2.0, 1e4 + 3.0], jnp.float32)
    close(metrics.r2_score(p32, y32), ref_r2(np.asarray(p32, np.float64), np.asarray(y32, np.float64), np.ones(4)), tol=1e-5)


@pytest.mark.parametrize("multiclass", [False, True])
def test_ece_reference(data, multiclass):
    w = data["weights"]
    if multiclass:
        p, y = data["probs"], data["labels"]
        conf, correct = p.max(1), (p.argmax(1) == y).astype(float)
    else:
        p, y = data["bscores"], data["blabels"]
        conf, correct = p, y.astype(float)
    close(metrics.expected_calibration_error(p, y, num_bins=10, weights=w), ref_ece(conf, correct, w, 10))


# --------------------------------------------------------------------------------------------------
# Masks, empty input, jit == eager, dtypes
# --------------------------------------------------------------------------------------------------

BINARY = [metrics.binary_accuracy, metrics.precision, metrics.recall, metrics.f1_score, metrics.log_loss,
          metrics.expected_calibration_error]
MULTICLASS = [metrics.accuracy, functools.partial(metrics.f1_score, average="macro"), metrics.log_loss,
              metrics.expected_calibration_error]
REGRESSION = [metrics.mean_squared_error, metrics.root_mean_squared_error, metrics.mean_absolute_error]


def _cases(data):
    for fn in BINARY:
        yield fn, data["bscores"], data["blabels"]
    for fn in MULTICLASS:
        yield fn, data["probs"], data["labels"]
    for fn in REGRESSION + [metrics.r2_score]:
        yield fn, data["reg_pred"], data["reg_true"]


def test_where_equals_slicing_and_empty_is_zero(data):
    m, w = data["mask"], data["weights"]
    for fn, p, y in _cases(data):
        nan_p = np.where(m.reshape(m.shape + (1,) * (p.ndim - 1)), p, np.nan)
        close(fn(nan_p, y, weights=w, where=m), fn(p[m], y[m], weights=w[m]), tol=1e-12)
        if fn is not metrics.r2_score:  # same signature as above: no new compilation
            assert float(fn(p, y, weights=w, where=np.zeros(N, bool))) == 0.0, fn


def test_jit_equals_eager(data):
    w, m = data["weights"], data["mask"]
    # one representative per kind of program (each is a separate compilation)
    cases = [
        (metrics.roc_auc, data["bscores"], data["blabels"]),
        (metrics.average_precision, data["bscores"], data["blabels"]),
        (functools.partial(metrics.accuracy, top_k=2), data["scores"], data["labels"]),
        (metrics.confusion_matrix, data["scores"], data["labels"]),
        (functools.partial(metrics.f1_score, average="macro"), data["probs"], data["labels"]),
        (metrics.expected_calibration_error, data["probs"], data["labels"]),
        (metrics.r2_score, data["reg_pred"], data["reg_true"]),
    ]
    for fn, p, y in cases:
        eager = fn(p, y, weights=w, where=m)
        jitted = jax.jit(fn)(p, y, weights=w, where=m)
        close(jitted, eager, tol=1e-12)


def test_float32_inputs_stay_float32(data):
    p = jnp.asarray(np.clip(data["bscores"], 0.01, 0.99), jnp.float32)  # away from the eps clip
    y = jnp.asarray(data["blabels"])
    for fn in (metrics.roc_auc, metrics.log_loss, metrics.binary_accuracy):
        out = fn(p, y)
        assert out.dtype == jnp.float32
        close(out, fn(np.asarray(p, np.float64), y), tol=1e-5)


def test_vmap_over_tasks(data):
    s = jnp.stack([data["bscores"], 1 - data["bscores"]])
    y = jnp.stack([data["blabels"], data["blabels"]])
    out = jax.vmap(metrics.roc_auc)(s, y)
    close(out[0], ref_auc(data["bscores"], data["blabels"], np.ones(N)))
    close(out[0] + out[1], 1.0)


def test_gradient_of_accuracy_is_zero(data):
    # Why metrics are not trained on: accuracy is piecewise constant in the scores.
    g = jax.grad(lambda s: metrics.accuracy(s, data["labels"]))(jnp.asarray(data["probs"]))
    assert not np.any(np.asarray(g))


# --------------------------------------------------------------------------------------------------
# Streaming: update over batches + merge == one-shot; thresholded AUC within its bound
# --------------------------------------------------------------------------------------------------

STREAMING_CASES = [
    # (name, options, one-shot equivalent, data kind)
    ("accuracy", {}, metrics.accuracy, "multi"),
    ("accuracy", {"top_k": 2}, functools.partial(metrics.accuracy, top_k=2), "multi"),
    ("binary_accuracy", {}, metrics.binary_accuracy, "binary"),
    ("precision", {}, metrics.precision, "binary"),
    ("recall", {}, metrics.recall, "binary"),
    ("f1", {}, metrics.f1_score, "binary"),
    ("f1", {"num_classes": K}, functools.partial(metrics.f1_score, average="macro"), "multi"),
    ("precision", {"num_classes": K, "average": "weighted"},
     functools.partial(metrics.precision, average="weighted"), "multi"),
    ("fbeta", {"beta": 0.5, "num_classes": K, "average": "micro"},
     functools.partial(metrics.fbeta_score, beta=0.5, average="micro"), "multi"),
    ("log_loss", {}, metrics.log_loss, "binary"),
    ("log_loss", {}, metrics.log_loss, "multi"),
    ("mse", {}, metrics.mean_squared_error, "reg"),
    ("rmse", {}, metrics.root_mean_squared_error, "reg"),
    ("mae", {}, metrics.mean_absolute_error, "reg"),
    ("r2", {}, metrics.r2_score, "reg"),
    ("ece", {"num_bins": 10}, functools.partial(metrics.expected_calibration_error, num_bins=10), "binary"),
    ("ece", {}, metrics.expected_calibration_error, "multi"),
    # exact ranking metrics, in buffers of fixed shape (a scan carry): every entry kept
    ("auc", {"capacity": N}, metrics.roc_auc, "binary"),
    ("average_precision", {"capacity": N + 5}, metrics.average_precision, "binary"),
]


def _stream_data(data, kind):
    return {
        "multi": (data["probs"], data["labels"]),
        "binary": (data["bscores"], data["blabels"]),
        "reg": (data["reg_pred"], data["reg_true"]),
    }[kind]


def test_streaming_equals_one_shot(data):
    """update over batches (in a lax.scan, as a training loop does) + merge == one-shot, exactly.

    All metrics run in one jitted program: one compilation instead of one per metric.
    """
    built = [metrics.get(name, **options) for name, options, _, _ in STREAMING_CASES]
    w, mask = data["weights"], data["mask"]
    batches = lambda a: a.reshape((3, N // 3) + a.shape[1:])  # noqa: E731

    def run_one(m, p, y):
        def step(state, batch):
            return m.update(state, *batch[:2], weights=batch[2], where=batch[3]), None

        first, _ = jax.lax.scan(step, m.init(), tuple(batches(a)[:2] for a in (p, y, w, mask)))
        second = m.update(m.init(), batches(p)[2], batches(y)[2], weights=batches(w)[2],
                          where=batches(mask)[2])
        return m.compute(m.merge(first, second)), m.compute(m.merge(second, first))

    @jax.jit
    def run_all(data):
        return [run_one(m, *_stream_data(data, case[3])) for m, case in zip(built, STREAMING_CASES)]

    results = run_all({k: jnp.asarray(v) for k, v in data.items()})
    for (name, options, one_shot, kind), m, (ab, ba) in zip(STREAMING_CASES, built, results):
        p, y = _stream_data(data, kind)
        expected = one_shot(p, y, weights=w, where=mask)
        close(ab, expected, tol=1e-10)
        close(ba, expected, tol=1e-10)
        assert m.name == name
        assert isinstance(m.greater_is_better, bool)


def test_streaming_state_is_a_fixed_pytree(data):
    m = metrics.get("f1", num_classes=K)
    s0 = m.init()
    s1 = m.update(s0, data["probs"][:5], data["labels"][:5])
    assert jax.tree.structure(s0) == jax.tree.structure(s1)
    assert [(a.shape, a.dtype) for a in jax.tree.leaves(s0)] == [(a.shape, a.dtype) for a in jax.tree.leaves(s1)]
    # summing states across devices is merging them (every state but r2's is additive)
    summed = jax.tree.map(jnp.add, s1, s1)
    close(m.compute(summed), m.compute(m.merge(s1, s1)))


@pytest.mark.parametrize("from_logits", [False, True])
def test_streaming_auc_within_bound(from_logits):
    rng = np.random.default_rng(7)
    n = 4000
    y = (rng.random(n) < 0.3).astype(np.int64)
    logits = rng.normal(size=n) + 1.2 * y
    w = rng.uniform(0.5, 1.5, size=n)
    probs = 1 / (1 + np.exp(-logits))
    m = metrics.auc_histogram_metric(num_thresholds=200, from_logits=from_logits)
    state = m.update(m.init(), logits if from_logits else probs, y, weights=w)
    exact = float(metrics.roc_auc(probs, y, weights=w))
    approx, bound = float(m.compute(state)), float(metrics.auc_histogram_bound(state))
    assert abs(approx - exact) <= bound + 1e-12
    assert bound < 0.01  # well-spread probabilities and 200 bins: a useful bound
    # the bound from the state equals half the same-bin pair fraction computed here
    bins = np.clip(np.floor(probs * 200), 0, 199).astype(int)
    same = sum(w[(y == 1) & (bins == b)].sum() * w[(y == 0) & (bins == b)].sum() for b in range(200))
    close(bound, 0.5 * same / (w[y == 1].sum() * w[y == 0].sum()), tol=1e-6)


def test_streaming_auc_is_exact_when_bins_separate_scores():
    # every distinct score in its own bin: the histogram AUC equals the exact one (ties included)
    s = jnp.array([0.05, 0.05, 0.15, 0.35, 0.35, 0.95])
    y = jnp.array([0, 1, 0, 1, 0, 1])
    m = metrics.auc_histogram_metric(num_thresholds=10)
    state = m.update(m.init(), s, y)
    close(m.compute(state), metrics.roc_auc(s, y))


@pytest.mark.parametrize("name, one_shot", [("auc", metrics.roc_auc), ("average_precision", metrics.average_precision)])
def test_exact_ranking_metrics_keep_every_entry(data, name, one_shot):
    """Unsized, the buffers grow with each update (eager loops); sized, a batch that does not fit makes
    the value NaN, never a value of part of the data; the state of capacity 0 grows whatever its metric."""
    p, y, w, mask = data["bscores"], data["blabels"], data["weights"], data["mask"]
    m = metrics.get(name)
    assert m.sized(None) is m and m.sized(N).sized(None) is m and m.greater_is_better
    state = m.init()
    for i in range(0, N, 25):  # uneven batches
        state = m.update(state, p[i:i + 25], y[i:i + 25], weights=w[i:i + 25], where=mask[i:i + 25])
    assert state.capacity == N and int(state.count) == N
    close(m.compute(state), one_shot(p, y, weights=w, where=mask), tol=1e-12)
    small = m.sized(N - 1)
    state = small.update(small.update(small.init(), p[:50], y[:50]), p[50:], y[50:])
    assert bool(state.dropped) and np.isnan(float(small.compute(state)))
    assert np.isnan(float(small.compute(small.update(small.init(), p, y))))  # larger than the buffers at once
    empty = m.sized(N).init()._replace(scores=jnp.zeros(0), positive=jnp.zeros(0, bool), weights=jnp.zeros(0))
    close(m.sized(N).compute(m.sized(N).update(empty, p, y)), one_shot(p, y), tol=1e-12)


def test_exact_auc_ranks_confident_logits_as_they_are():
    """Only the order matters: logits scaled by 30 (sigmoid rounds many to 1 in float32) keep their AUC;
    the histogram's falls, within its bound."""
    rng = np.random.default_rng(3)
    n = 500
    y = (rng.random(n) < 0.4).astype(np.float32)
    logits = (rng.normal(size=n) + 1.2 * y).astype(np.float32)
    exact = [metrics.get("auc", from_logits=True), metrics.get("auc_histogram", from_logits=True)]
    values = {}
    for scale in (1.0, 30.0):
        z = jnp.asarray(scale * logits)
        values[scale] = [float(m.compute(m.update(m.init(), z, y))) for m in exact]
        close(values[scale][0], metrics.roc_auc(z.astype(jnp.float64), y), tol=1e-7)
        hist = exact[1].update(exact[1].init(), z, y)
        assert abs(values[scale][1] - values[scale][0]) <= float(metrics.auc_histogram_bound(hist)) + 1e-7
    close(values[30.0][0], values[1.0][0], tol=1e-7)
    assert values[30.0][1] < values[30.0][0] - 0.01  # the histogram ties the confident scores


def test_get_names_and_errors():
    for name, ctor in metrics.STREAMING.items():
        m = metrics.get(name, from_logits=True)  # every constructor accepts from_logits
        assert isinstance(m, metrics.Metric)
        assert m.greater_is_better == (m.name not in {"log_loss", "mse", "rmse", "mae", "ece"})
    assert metrics.get("ROC_AUC").name == "auc"
    # same options -> same object (a stable static argument / jit cache key)
    assert metrics.get("auc", from_logits=True) is metrics.get("roc_auc", from_logits=True)
    assert metrics.get("auc") is not metrics.get("auc", from_logits=True)
    with pytest.raises(ValueError, match=r"History adds the 'val_' prefix itself: ask for 'auc'"):
        metrics.get("val_auc")
    with pytest.raises(ValueError, match=r"name='bogus' is not a streaming metric.*accuracy"):
        metrics.get("bogus")
    with pytest.raises(ValueError, match=r"built for binary scores; build it with num_classes=4"):
        m = metrics.get("f1")
        m.update(m.init(), jnp.zeros((3, 4)), jnp.zeros(3, jnp.int32))
    with pytest.raises(ValueError, match=r"average='binary' needs two classes"):
        metrics.get("f1", num_classes=3, average="binary")
    assert metrics.get("auc_histogram").name == "auc_histogram" and metrics.get("auc").sized is not None
    with pytest.raises(TypeError, match=r"auc_metric: unknown option 'num_thresholds'.*auc_histogram_metric"):
        metrics.get("auc", num_thresholds=100)


# --------------------------------------------------------------------------------------------------
# Errors a person can act on
# --------------------------------------------------------------------------------------------------


def test_bad_input_messages():
    s, y = jnp.zeros((5, 3)), jnp.zeros(5, jnp.int32)
    with pytest.raises(ValueError, match=r"accuracy: integer class-index targets must have the predictions' shape without its class axis, \(5,\); got targets of shape \(4,\) for predictions of shape \(5, 4\)"):
        metrics.accuracy(jnp.zeros((5, 4)), jnp.zeros(4, jnp.int32))
    with pytest.raises(TypeError, match=r"accuracy: targets must hold integer class indices; got dtype float"):
        metrics.accuracy(s, jnp.zeros(5))
    with pytest.raises(ValueError, match=r"accuracy: top_k=4 is out of range; top_k must be in \[1, 3\]"):
        metrics.accuracy(s, y, top_k=4)
    with pytest.raises(TypeError, match=r"accuracy: top_k must be a Python value.*static_argnames"):
        jax.jit(metrics.accuracy)(s, y, top_k=2)
    with pytest.raises(ValueError, match=r"roc_auc: scores and targets must have the same shape; got scores \(5, 3\) and targets \(5,\)"):
        metrics.roc_auc(s, y)
    with pytest.raises(ValueError, match=r"binary_accuracy: predictions and targets must have the same shape; got predictions \(4,\) and targets \(5,\)"):
        metrics.binary_accuracy(jnp.zeros(4), jnp.zeros(5))
    with pytest.raises(ValueError, match=r"mean_absolute_error: weights of shape \(3,\) does not broadcast to the per-example loss shape \(5,\)"):
        metrics.mean_absolute_error(jnp.zeros(5), jnp.zeros(5), weights=jnp.ones(3))
    with pytest.raises(TypeError, match=r"log_loss: where must be a boolean mask \(True = include\); got dtype int"):
        metrics.log_loss(jnp.zeros(5), jnp.zeros(5), where=jnp.ones(5, jnp.int32))
    with pytest.raises(ValueError, match=r"f1_score: average='binary' needs two classes but the input has 3"):
        metrics.f1_score(s, y)
    with pytest.raises(ValueError, match=r"precision: average='samples' is not valid; choose one of"):
        metrics.precision(s, y, average="samples")
    with pytest.raises(ValueError, match=r"confusion_matrix: num_classes=4 but predictions has 3 class scores"):
        metrics.confusion_matrix(s, y, num_classes=4)
    with pytest.raises(TypeError, match=r"confusion_matrix: targets must hold integer"):
        metrics.confusion_matrix(jnp.zeros(5, jnp.int32), jnp.zeros(5))


def _message(f, *args, **kwargs):
    with pytest.raises((TypeError, ValueError)) as err:
        f(*args, **kwargs)
    return f"{err.type.__name__}: {err.value}"


@pytest.mark.parametrize("name", ["mean_absolute_error", "mean_squared_error"])
def test_metrics_and_losses_share_the_input_checks(name):
    """One validation path: a metric and the loss of the same name say the same thing for the same input."""
    import jaxloss

    z = jnp.zeros(5)
    cases = [((jnp.zeros(4), z), {}), ((z, z), {"weights": jnp.array([1.0, -1.0, 1.0, 1.0, 1.0])}),
             ((z, z), {"weights": jnp.ones(3)}), ((z, z), {"weights": jnp.ones(5, bool)}),
             ((z, z), {"where": jnp.ones(5, jnp.int32)}), ((z, z), {"where": jnp.ones(3, bool)}),
             (({"logits": z}, z), {}), (("abc", z), {})]
    for args, kwargs in cases:
        assert _message(getattr(metrics, name), *args, **kwargs) == _message(getattr(jaxloss, name), *args, **kwargs)
    # class scores against class indices: the classification losses' wording, under each function's name
    p, t = jnp.zeros((5, 4)), jnp.zeros(4, jnp.int32)
    assert (_message(metrics.log_loss, p, t).replace("log_loss", "softmax_cross_entropy")
            == _message(jaxloss.softmax_cross_entropy, p, t))


# --------------------------------------------------------------------------------------------------
# Agreement with the losses of the same name
# --------------------------------------------------------------------------------------------------


def test_metric_agrees_with_loss_of_same_name(data):
    import jaxloss

    w, m = data["weights"], data["mask"]
    p, y = data["reg_pred"], data["reg_true"]
    for name in ("mean_absolute_error", "mean_squared_error"):
        loss = getattr(jaxloss, name)
        close(getattr(metrics, name)(p, y, weights=w, where=m), loss(p, y, weights=w, where=m))
    logits = data["reg_pred"] * 3  # log loss is binary cross-entropy
    close(metrics.log_loss(logits, data["blabels"], from_logits=True, weights=w, where=m),
          jaxloss.binary_cross_entropy(logits, data["blabels"], from_logits=True, weights=w, where=m))
    logits = np.log(data["probs"])  # and softmax cross-entropy for class labels
    close(metrics.log_loss(logits, data["labels"], from_logits=True, weights=w, where=m),
          jaxloss.softmax_cross_entropy(logits, data["labels"], from_logits=True, weights=w, where=m))


# --------------------------------------------------------------------------------------------------
# Properties that hold for every input
# --------------------------------------------------------------------------------------------------

_n = 12
_scores = st.lists(st.integers(-3, 3), min_size=_n, max_size=_n).map(lambda v: np.array(v, np.float64) / 2)
_labels = st.lists(st.integers(0, 1), min_size=_n, max_size=_n).map(np.array)
_weights = st.lists(st.floats(0.1, 3.0), min_size=_n, max_size=_n).map(np.array)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(_scores, _labels, _weights)
def test_auc_properties(s, y, w):
    auc = float(metrics.roc_auc(s, y, weights=w))
    if y.min() == y.max():
        assert np.isnan(auc)
        return
    assert 0.0 <= auc <= 1.0
    close(auc, ref_auc(s, y, w))
    close(metrics.roc_auc(-s, y, weights=w), 1.0 - auc)
    close(metrics.average_precision(s, y, weights=w), ref_average_precision(s, y, w))


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.lists(st.integers(-4, 4), min_size=_n * 3, max_size=_n * 3), st.lists(st.integers(0, 2), min_size=_n, max_size=_n))
def test_accuracy_invariant_to_monotone_transforms(v, t):
    logits = np.array(v, np.float64).reshape(_n, 3) / 2
    t = np.array(t)
    base = float(metrics.accuracy(logits, t))
    for transformed in (np.exp(logits), 3 * logits + 1, jax.nn.softmax(logits)):
        close(metrics.accuracy(transformed, t), base)
    close(metrics.accuracy(logits, t, top_k=3), 1.0)
