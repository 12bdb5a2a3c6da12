"""No silent wrong answers, class by class, for every registered loss (issue 11's defects as classes).

Each test runs over the whole registry: hyperparameters (scalars and arrays) out of range, flags that
are not booleans, weights that are negative or not numbers, empty inputs, all-masked inputs and zero
weights, out-of-range targets of every kind (an error eagerly, NaN under ``jit``).
"""

from __future__ import annotations

import functools
import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxloss as jl
from jaxloss import _kinds
from jaxloss._options import OptionKind

ENTRIES = jl.catalog()
NAMES = [e.name for e in ENTRIES]


def sample(name: str, seed: int = 0, n: int = 6) -> _kinds.Sample:
    return jl.info(name).inputs.random(np.random.default_rng(seed), n)


def _cases(kind: str):
    for entry in ENTRIES:
        for key, h in entry.hyperparameters.items():
            if kind == "low" and h.low is not None:
                yield pytest.param(entry.name, key, h.low - 1.0, id=f"{entry.name}-{key}-low")
            if kind == "high" and h.high is not None:
                yield pytest.param(entry.name, key, h.high + 1.0, id=f"{entry.name}-{key}-high")


def _valid_value(h: jl.Hyperparameter) -> float:
    return float(h.default) if h.default is not None else float(h.slider[0] if h.slider else (h.low or 0.0))


@pytest.mark.parametrize("name, key, bad", list(_cases("low")) + list(_cases("high")))
def test_every_concrete_hyperparameter_value_is_checked_scalar_or_array(name, key, bad):
    entry = jl.info(name)
    args, kwargs = sample(name).cast(np.float32)
    good = _valid_value(entry.hyperparameters[key])
    if entry.options[key].kind is OptionKind.INTEGER:  # a count or an index: one integer, never an array
        for value in (int(bad), np.int64(bad)):
            with pytest.raises(ValueError, match=f"{name}: {key}={int(bad)} is out of range; {key} must be"):
                entry.fn(*args, **kwargs, **{key: value})
        with pytest.raises(TypeError, match=f"{name}: {key} must be an integer; got ndarray"):
            entry.fn(*args, **kwargs, **{key: np.array([int(good), int(bad)])})
        return
    for value in (np.array([good, bad]), jnp.array([good, bad]), [good, bad]):
        with pytest.raises(ValueError, match=f"{name}: {key} must be .* everywhere.*out of range: {bad:g}"):
            entry.fn(*args, **kwargs, **{key: value})


HYPERPARAMETERS = [(e.name, key) for e in ENTRIES for key in e.hyperparameters]


@pytest.mark.parametrize("name, key", HYPERPARAMETERS, ids=[f"{n}-{k}" for n, k in HYPERPARAMETERS])
def test_hyperparameters_are_numbers(name, key):
    entry = jl.info(name)
    args, kwargs = sample(name).cast(np.float32)
    for value in ("1", True, object()):
        with pytest.raises(TypeError, match=f"{name}: {key} must be (a number|an integer)"):
            entry.fn(*args, **kwargs, **{key: value})


FLAGS = [(e.name, k) for e in ENTRIES for k, p in inspect.signature(e.fn).parameters.items()
         if isinstance(p.default, bool)]


@pytest.mark.parametrize("name, flag", FLAGS, ids=[f"{n}-{k}" for n, k in FLAGS])
def test_flags_take_booleans_only(name, flag):
    entry = jl.info(name)
    args, kwargs = sample(name).cast(np.float32)
    for value in ("False", "True", 0, 1, None):
        with pytest.raises(TypeError, match=f"{name}: {flag} must be True or False"):
            entry.fn(*args, **kwargs, **{flag: value})


@pytest.mark.parametrize("name", NAMES)
def test_weights_must_be_non_negative_numbers(name):
    entry = jl.info(name)
    s = sample(name)
    args, kwargs = s.cast(np.float32)
    shape = entry.inputs.example_shape(s)
    for bad in (-1.0, np.nan, np.inf):
        w = np.ones(shape, np.float32)
        w.flat[1] = bad
        with pytest.raises(ValueError, match=f"{name}: weights must be finite and >= 0"):
            entry.fn(*args, **kwargs, weights=w)
    with pytest.raises(TypeError, match=f"{name}: weights must be"):
        entry.fn(*args, **kwargs, weights="abc")


def _empty(name: str) -> tuple[tuple, dict]:
    """The loss's inputs with zero examples (axis 0 of every per-example array sliced to nothing)."""
    s = sample(name)
    args, kwargs = s.cast(np.float32)
    args = tuple(np.asarray(a)[:0] for a in args)
    kwargs = {k: (np.asarray(v)[:0] if k in s.example_kwargs else v) for k, v in kwargs.items()}
    return args, kwargs


@pytest.mark.parametrize("name", NAMES)
def test_no_example_means_zero(name):
    """The one rule: a mean over nothing is 0, never NaN (all-false masks and all-zero weights are
    tested for every loss in test_catalog.py; here the batch itself is empty)."""
    entry = jl.info(name)
    args, kwargs = _empty(name)

    @jax.jit  # one program per loss: op-by-op calls on empty shapes would compile every operation
    def results(*a):
        return (entry.fn(*a, **kwargs), entry.fn(*a, **kwargs, reduction="sum"),
                entry.fn(*a, **kwargs, reduction="none"), jax.grad(lambda x: entry.fn(x, *a[1:], **kwargs))(a[0]))

    mean, total, none, g = results(*args)
    assert float(mean) == 0.0 and float(total) == 0.0 and np.size(none) == 0 and g.shape == np.shape(args[0])
    assert float(entry.fn(*args, **kwargs)) == 0.0  # eagerly too


# -- targets out of range ---------------------------------------------------------------------------

# The value a target of each kind must never take, and where it goes (positional index of the targets).
BAD_TARGETS = {
    _kinds.BINARY_LOGITS: (1, 2.0), _kinds.SIGNED_BINARY: (1, 2.0), _kinds.MULTILABEL_LOGITS: (1, 1.5),
    _kinds.PAIRWISE_SCORES: (2, 0.5), _kinds.DISTANCES: (1, 0.0), _kinds.EMBEDDING_PAIRS: (2, 0.0),
    _kinds.EMBEDDING_PAIRS_BINARY: (2, 2.0), _kinds.SEGMENTATION_BINARY: (1, 1.5), _kinds.CLASS_DISTRIBUTION: (1, -0.5),
    _kinds.NONNEGATIVE_MEASURE: (1, -1.0), _kinds.COUNT_REGRESSION: (1, -1.0), _kinds.RANKING_LISTS: (1, -1.0),
    _kinds.MULTILABEL_INDICES: (1, 7), _kinds.CTC: (1, 9),
}
# Kinds whose targets take any value for some of their losses (documented conventions):
# RankNet reads only the order of the relevance; MSLE clips negative values to 0 and MAPE divides by
# max(|t|, eps), as Keras does.
ANY_TARGETS = {"pairwise_logistic"}
TARGET_CASES = [e.name for e in ENTRIES if e.inputs in BAD_TARGETS and e.name not in ANY_TARGETS]


@pytest.mark.parametrize("name", TARGET_CASES)
def test_targets_out_of_range_raise_eagerly_and_poison_under_jit(name):
    entry = jl.info(name)
    s = sample(name)
    args, kwargs = s.cast(np.float32)
    index, bad = BAD_TARGETS[entry.inputs]
    targets = np.array(args[index])
    targets.reshape(targets.shape[0], -1)[1, 0] = bad
    args = args[:index] + (targets,) + args[index + 1:]
    with pytest.raises(ValueError, match=f"{name}: .*(targets|relevance)"):
        entry.fn(*args, **kwargs)
    per_example = np.asarray(jax.jit(functools.partial(entry.fn, reduction="none", **kwargs))(*args))
    flat = per_example.reshape(per_example.shape[0], -1)
    assert np.isnan(flat[1]).any(), per_example
    assert np.all(np.isfinite(np.delete(flat, 1, axis=0)))
    assert np.isnan(float(jax.jit(functools.partial(entry.fn, **kwargs))(*args)))
    g = np.asarray(jax.jit(jax.grad(lambda x: entry.fn(x, *args[1:], **kwargs)))(jnp.asarray(args[0])))
    assert np.isnan(g).any()


def test_gaussian_nll_rejects_a_negative_variance():
    p, t = jnp.ones(3), jnp.zeros(3)
    with pytest.raises(ValueError, match=r"gaussian_nll: variance must be >= 0; got \[-1.0\]"):
        jl.gaussian_nll(p, t, variance=jnp.array([1.0, -1.0, 0.0]))
    values = jax.jit(lambda v: jl.gaussian_nll(p, t, variance=v, reduction="none"))(jnp.array([1.0, -1.0, 0.0]))
    assert np.isnan(values[1]) and np.isfinite(np.asarray(values)[[0, 2]]).all()
    g = jax.jit(jax.grad(lambda q, v: jl.gaussian_nll(q, t, variance=v)))(p, jnp.array([1.0, -1.0, 0.0]))
    assert np.isnan(g[1]) and np.isfinite(np.asarray(g)[[0, 2]]).all()
    # An excluded entry may hold anything.
    assert np.isfinite(float(jl.gaussian_nll(p, t, variance=jnp.array([1.0, -1.0, 1.0]),
                                             where=jnp.array([True, False, True]))))


# -- metrics ------------------------------------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from jaxloss import metrics  # noqa: E402


def sklearn_prf(y_true, y_pred, average):
    """scikit-learn 1.9's precision_recall_fscore_support over the labels present in either array."""
    labels = np.union1d(y_true, y_pred)
    tp = np.array([np.sum((y_pred == c) & (y_true == c)) for c in labels], float)
    pred = np.array([np.sum(y_pred == c) for c in labels], float)
    true = np.array([np.sum(y_true == c) for c in labels], float)
    if average == "micro":
        tp, pred, true = tp.sum(), pred.sum(), true.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(pred > 0, tp / np.where(pred > 0, pred, 1), 0.0)
        r = np.where(true > 0, tp / np.where(true > 0, true, 1), 0.0)
        f = np.where(pred + true > 0, 2 * tp / np.where(pred + true > 0, pred + true, 1), 0.0)
    if average == "macro":
        return p.mean(), r.mean(), f.mean()
    if average == "weighted":
        return tuple(np.sum(true * v) / true.sum() for v in (p, r, f))
    return p, r, f


@settings(max_examples=30, deadline=None, derandomize=True)
@given(data=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=16, max_size=16),
       average=st.sampled_from(["macro", "micro", "weighted"]))
def test_integer_label_metrics_infer_the_classes_as_scikit_learn(data, average):
    y_pred, y_true = (np.array(v, np.int32) for v in zip(*data))
    expected = sklearn_prf(y_true, y_pred, average)
    got = (metrics.precision(y_pred, y_true, average=average), metrics.recall(y_pred, y_true, average=average),
           metrics.f1_score(y_pred, y_true, average=average))
    np.testing.assert_allclose(np.asarray(got, np.float64), expected, rtol=1e-6, atol=1e-7)


def test_integer_label_metrics_never_drop_a_class():
    y_pred, y_true = jnp.array([0, 1, 2, 2, 1]), jnp.array([0, 1, 2, 0, 2])
    # scikit-learn 1.9: f1_score([0, 1, 2, 0, 2], [0, 1, 2, 2, 1], average="macro") = 0.6111111111111112
    assert float(metrics.f1_score(y_pred, y_true, average="macro")) == pytest.approx(0.6111111111111112)
    np.testing.assert_array_equal(metrics.confusion_matrix(y_pred, y_true), [[1, 0, 1], [0, 1, 0], [0, 1, 1]])
    with pytest.raises(ValueError, match="average='binary' needs two classes but the input has 3"):
        metrics.f1_score(y_pred, y_true)
    with pytest.raises(ValueError, match=r"num_classes=2 but predictions or targets hold the label 2"):
        metrics.confusion_matrix(y_pred, y_true, num_classes=2)
    with pytest.raises(TypeError, match="under jit need num_classes="):
        jax.jit(lambda p, t: metrics.f1_score(p, t, average="macro"))(y_pred, y_true)
    # Under jit with too few classes, a label that cannot be counted poisons the metric.
    assert np.isnan(float(jax.jit(lambda p, t: metrics.f1_score(p, t, average="macro", num_classes=2))(y_pred, y_true)))
    m = metrics.get("f1", num_classes=2)
    assert np.isnan(float(m.compute(jax.jit(m.update)(m.init(), jax.nn.one_hot(y_pred, 2), y_true))))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(scores=st.lists(st.lists(st.integers(0, 2).map(float), min_size=5, max_size=5), min_size=1, max_size=8),
       k=st.integers(1, 4), seed=st.integers(0, 100))
def test_top_k_accuracy_breaks_ties_as_its_reference(scores, k, seed):
    s = np.array(scores)
    y = np.random.default_rng(seed).integers(0, 5, len(s))
    # One rule for every k (issue 24: top-2 fell below top-1 when k = 1 and k > 1 broke ties differently):
    # accuracy_score(y, argmax)'s, the lower class index first, i.e. a stable descending sort.
    expected = np.mean((np.argsort(-s, axis=1, kind="stable")[:, :k] == y[:, None]).any(1))
    assert float(metrics.accuracy(s, y, top_k=k)) == pytest.approx(expected)
    if k == 1:
        assert float(metrics.accuracy(s, y)) == pytest.approx(np.mean(s.argmax(1) == y))
    if k < 5:
        assert float(metrics.accuracy(s, y, top_k=k + 1)) >= float(metrics.accuracy(s, y, top_k=k))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_loss_metric_equals_the_losses_at_zero_and_one(dtype):
    p = np.array([0.0, 1.0, 0.3, 1.0, 0.0, 1e-12], dtype)
    y = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0], dtype)
    loss = float(jl.bce(p, y, from_logits=False))
    assert np.isfinite(loss) and loss > 5
    np.testing.assert_allclose(float(metrics.log_loss(p, y)), loss, rtol=1e-5)
    q = np.array([[0.0, 1.0, 0.0], [0.5, 0.5, 0.0], [1.0, 0.0, 0.0]], dtype)
    labels = np.array([0, 2, 0])
    np.testing.assert_allclose(float(metrics.log_loss(q, labels)), float(jl.cross_entropy(q, labels, from_logits=False)),
                               rtol=1e-5)
    m = metrics.get("log_loss")
    np.testing.assert_allclose(float(m.compute(m.update(m.init(), p, y))), loss, rtol=1e-5)


# -- inspection -----------------------------------------------------------------------------------------

COMPOSABLE = [e.name for e in ENTRIES if e.inputs in (_kinds.REGRESSION, _kinds.BINARY_LOGITS, _kinds.SIGNED_BINARY,
                                                      _kinds.CLASS_LOGITS)]
# One loss per kind of input: the kind decides what an error is (second derivatives compile slowly).
PER_KIND = list({jl.info(n).inputs: n for n in reversed(COMPOSABLE)}.values())


@pytest.mark.parametrize("name", PER_KIND)
def test_grad_curve_of_a_composite_is_the_sum_of_its_terms_curves(name):
    """A composite's curve reads its terms' kind of input (a one-term composite equals the loss)."""
    e = jnp.linspace(-3.0, 3.0, 7)
    alone, single = jl.grad_curve(name, e), jl.grad_curve(jl.term(name), e)
    for a, b in ((alone.value, single.value), (alone.first, single.first), (alone.second, single.second)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    partner = next(n for n in COMPOSABLE if jl.info(n).inputs == jl.info(name).inputs and n != name)
    both = jl.grad_curve(jl.term(name) + 0.5 * jl.term(partner), e)
    np.testing.assert_allclose(both.first, alone.first + 0.5 * jl.grad_curve(partner, e).first, rtol=1e-6, atol=1e-9)
    other = next(n for n in COMPOSABLE if jl.info(n).inputs != jl.info(name).inputs)
    with pytest.raises(ValueError, match="take different kinds of input"):
        jl.grad_curve(jl.term(name) + jl.term(other), e)


# -- fit: empty and tiny data, corrupted checkpoints -------------------------------------------------

import optax  # noqa: E402

X = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
Y = (X[:, 0] > 0).astype(np.float32)
P0 = {"w": jnp.zeros(3, jnp.float32), "b": jnp.zeros((), jnp.float32)}
OPT = optax.sgd(0.1)


def linear(params, inputs):
    return inputs @ params["w"] + params["b"]


def _fit(**kw):
    options = dict(optimizer=OPT, epochs=2, batch_size=16, progress=False)
    options.update(kw)
    return jl.fit(linear, P0, jl.bce, (X, Y), **options)


def test_fit_empty_and_tiny_data():
    with pytest.raises(ValueError, match="validation data has no examples"):
        _fit(val=(X[:0], Y[:0]))
    with pytest.raises(ValueError, match="training data has no examples"):
        jl.fit(linear, P0, jl.bce, (X[:0], Y[:0]), progress=False)
    one = jl.fit(linear, P0, jl.bce, (X[:1], Y[:1]), optimizer=OPT, epochs=2, batch_size=16, progress=False)
    assert one.status == "completed" and one.steps == 2
    nothing = _fit(epochs=0)
    assert nothing.epochs == 0 and nothing.history["loss"].shape == (0,)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    directory = tmp_path_factory.mktemp("checkpoint")
    _fit(checkpoint_dir=directory, checkpoint_format="npz")
    return directory / "epoch_000002"


def _corrupt(checkpoint, tmp_path, name, data):
    """A copy of the checkpoint with one file changed, and the manifest's sizes and hashes made to fit, so
    the checks behind them are reached (tests/test_checkpoints.py tests the hashes themselves)."""
    import hashlib
    import json
    import shutil

    target = tmp_path / "copy"
    shutil.copytree(checkpoint, target)
    (target / name).write_bytes(data(target / name))
    manifest = json.loads((target / "manifest.json").read_text())
    for file, entry in manifest["files"].items():
        content = (target / file).read_bytes()
        entry.update(bytes=len(content), sha256=hashlib.sha256(content).hexdigest())
    (target / "manifest.json").write_text(json.dumps(manifest))
    return target


CORRUPTIONS = {
    "truncated npz": ("params.npz", lambda p: p.read_bytes()[:40], r"params.npz: it is not a readable .npz"),
    "garbage npz": ("opt_state.npz", lambda p: b"garbage" * 10, r"opt_state.npz: it is not a readable .npz"),
    "wrong arrays": ("params.npz", None, r"params.npz: it has no readable __checkpoint__ entry"),
    "bad json": ("state.json", lambda p: b"{not json", r"state.json: it is not valid JSON"),
    "negative epoch": ("state.json", lambda p: p.read_bytes().replace(b'"epoch": 2', b'"epoch": -5'),
                       r"'epoch' must be >= 0; got -5"),
    "epoch beyond": ("manifest.json", lambda p: p.read_bytes().replace(b'"epoch": 2', b'"epoch": 15'),
                     r"manifest.json: it was written after epoch 15, beyond this run's epochs=4"),
    "history mismatch": ("history.json", lambda p: p.read_bytes().replace(b'"epoch": [', b'"epoch": [7, '),
                         r"history.json: it records 3 epochs; the checkpoint \(manifest.json\) is of epoch 2"),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_a_corrupted_checkpoint_names_the_file_and_the_problem(checkpoint, tmp_path, case):
    name, data, message = CORRUPTIONS[case]
    if data is None:  # a valid npz with other arrays
        def data(path):
            import io

            buffer = io.BytesIO()
            np.savez(buffer, something=np.zeros(3))
            return buffer.getvalue()
    target = _corrupt(checkpoint, tmp_path, name, data)
    with pytest.raises(ValueError, match=message) as error:
        _fit(epochs=4, resume_from=target)
    assert "allow_pickle" not in str(error.value)


def test_a_checkpoint_for_another_model_says_so(checkpoint):
    with pytest.raises(ValueError, match=r"params.npz: params\['w'\] is float32\[3\]; the run expects float32\[4\]"):
        jl.fit(linear, {"w": jnp.zeros(4, jnp.float32), "b": jnp.zeros((), jnp.float32)}, jl.bce,
               (np.ones((8, 4), np.float32), np.ones(8, np.float32)), optimizer=OPT, epochs=4, progress=False,
               resume_from=checkpoint)
    with pytest.raises(FileNotFoundError, match="not a directory"):
        _fit(resume_from=str(checkpoint) + "-missing")


def test_inspect_differentiates_a_pytree_argument_and_names_its_entries():
    def loss(params, x, y):
        return jnp.mean((x @ params["w"] + params["b"] - y) ** 2)

    p = {"w": jnp.array([1.0, -1.0, 0.5]), "b": jnp.array(0.2)}
    x = jnp.asarray(np.random.default_rng(0).normal(size=(5, 3)))
    y = jnp.zeros(5)
    r = jl.inspect(loss, p, x, y)
    g = jax.grad(loss)(p, x, y)
    np.testing.assert_allclose(r.gradient["w"], g["w"], rtol=1e-6)
    from jax.flatten_util import ravel_pytree

    flat, unravel = ravel_pytree(p)  # entries b, w[0], w[1], w[2]
    np.testing.assert_allclose(r.hessian, jax.hessian(lambda v: loss(unravel(v), x, y))(flat), rtol=1e-6)
    assert r.entry_names == ["b", "w[0]", "w[1]", "w[2]"]
    assert r.fd_max_relative_error < 1e-5 and r.wrt == "params"
    assert "w [" in str(r) and "at " + r.entry_names[r.fd_index[0]] in str(r)
    objective = jl.inspect(jl.objective(lambda q, i: i @ q["w"] + q["b"], "mse"), p, (x, y))
    assert objective.entry_names == r.entry_names


# -- stability leftovers ----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype, huge", [(jnp.float32, 1e20), (jnp.float64, 1e300)])
def test_general_robust_at_alpha_two_overflows_like_mse(dtype, huge):
    e, t = jnp.array([huge, 1.0], dtype), jnp.zeros(2, dtype)
    robust = jl.general_robust(e, t, alpha=2.0, reduction="none")
    np.testing.assert_array_equal(robust, jl.mse(e, t, reduction="none") / 2)  # e^2 / 2: inf, then 0.5
    g = jax.grad(lambda x: jl.general_robust(x, t, alpha=2.0))(e)
    assert np.all(np.isfinite(np.asarray(g)))


def test_focal_with_an_impossible_true_class_has_cross_entropys_gradient():
    x, y = jnp.array([[-jnp.inf, 1.0, 2.0], [0.5, 0.0, -1.0]]), jnp.array([0, 1])
    per_example = jl.focal(x, y, gamma=2.0, reduction="none")
    assert np.isinf(per_example[0]) and np.isfinite(per_example[1])
    g_focal = jax.grad(lambda v: jnp.sum(jl.focal(v, y, reduction="none")[:1]))(x)
    g_ce = jax.grad(lambda v: jnp.sum(jl.cross_entropy(v, y, reduction="none")[:1]))(x)
    np.testing.assert_allclose(g_focal, g_ce, rtol=1e-6)


def test_excluded_entries_may_hold_anything_in_array_hyperparameters():
    p, t, where = jnp.ones(3), jnp.zeros(3), jnp.array([True, False, False])
    for name, key in (("student_t_nll", "scale"), ("laplace_nll", "scale"), ("huber", "delta"), ("quantile", "tau")):
        fn = jl.get(name)
        value = fn(p, t, **{key: jnp.array([0.5, jnp.nan, -1.0])}, where=where)
        np.testing.assert_allclose(value, fn(p[:1], t[:1], **{key: jnp.array([0.5])}), rtol=1e-6)
        g = jax.grad(lambda q: fn(q, t, **{key: jnp.array([0.5, jnp.nan, -1.0])}, where=where))(p)
        assert np.all(np.isfinite(np.asarray(g))) and float(g[1]) == 0.0
        with pytest.raises(ValueError, match=f"{name}: {key} must be"):
            fn(p, t, **{key: jnp.array([0.5, jnp.nan, -1.0])}, where=jnp.array([True, True, False]))


# -- random shapes, weights and masks against the NumPy references ------------------------------------

from references import REFERENCES  # noqa: E402


_WEIGHTED = {}


def _weighted_program(name):
    """One compiled program per loss (mean and per-example values with weights and a mask)."""
    if name not in _WEIGHTED:
        fn = jl.info(name).fn
        _WEIGHTED[name] = jax.jit(lambda args, kwargs, w, m: (fn(*args, **kwargs, weights=w, where=m),
                                                             fn(*args, **kwargs, weights=w, where=m, reduction="none")))
    return _WEIGHTED[name]


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=4, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**16), zero_share=st.sampled_from([0.0, 0.3, 1.0]), mask_share=st.sampled_from([0.0, 0.5, 1.0]))
def test_random_weights_and_masks_match_the_reference(name, seed, zero_share, mask_share):
    """sum(w m l) / sum(w m) against the NumPy float64 reference, 0 when nothing is left (random inputs,
    weights with zeros, masks, including all-zero weights and all-false masks)."""
    entry = jl.info(name)
    rng = np.random.default_rng(seed)
    s = entry.inputs.random(rng, 6)
    args, kwargs = s.cast(np.float64)
    per_example = np.asarray(REFERENCES[name](*args, **kwargs), np.float64)
    w = rng.uniform(0.1, 2.0, per_example.shape) * (rng.uniform(size=per_example.shape) >= zero_share)
    m = rng.uniform(size=per_example.shape) >= mask_share
    effective = w * m
    total = effective.sum()
    expected = np.sum(effective * per_example) / total if total > 0 else 0.0
    array_kwargs = {k: v for k, v in kwargs.items() if k in s.example_kwargs}
    static = {k: v for k, v in kwargs.items() if k not in s.example_kwargs}
    program = _weighted_program(name) if not static else jax.jit(
        lambda a, k, w_, m_: (entry.fn(*a, **k, **static, weights=w_, where=m_),
                              entry.fn(*a, **k, **static, weights=w_, where=m_, reduction="none")))
    mean, none = program(args, array_kwargs, w, m)
    np.testing.assert_allclose(float(mean), expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(none, effective * per_example, rtol=1e-9, atol=1e-12)
