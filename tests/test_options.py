"""One validation path for losses and metrics (issue 24, classes 1, 2 and the losses' part of 9).

Every keyword option of every loss and every metric (one-shot functions, streaming constructors,
``metrics.get``) is declared by its annotation and checked by ``jaxloss._options``. The tests below
enumerate the options from the registry and the metrics' signatures, so a new option is covered by
itself:

* flags take True or False only (NumPy booleans too), never strings, numbers or None;
* integers take Python and NumPy integers (and give the same program), never bools, floats or strings;
* numbers take NumPy scalars as Python ones (the same program: weakly typed), never bools or strings;
* an option whose default is None is checked once it is given;
* every positional array argument of every loss refuses None, strings and complex arrays by name;
* a metric and the loss of the same name raise on the same inputs (and both give NaN under ``jit``).

Equal programs are compared as jaxprs (``jax.make_jaxpr``): tracing only, nothing is compiled.
"""

from __future__ import annotations

import functools
import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxloss as jl
from jaxloss import metrics
from jaxloss._options import OptionKind
from jaxloss.metrics import _inputs as metric_inputs

ENTRIES = jl.catalog()

#: Valid values for the options whose default is None (a default says nothing about what a value is).
GIVEN = {"ignore_index": -100, "logit_softcap": 30.0}


def _sample(entry: jl.LossInfo) -> tuple[tuple, dict]:
    return entry.inputs.random(np.random.default_rng(0), 6).cast(np.float32)


def _valid(entry: jl.LossInfo, key: str, args: tuple, kwargs: dict):
    option = entry.options[key]
    if option.default is not None:
        return option.default
    if option.kind is OptionKind.FLAG:  # e.g. multiclass: which value is valid depends on the inputs
        for value in (False, True):
            try:
                _jaxpr(entry.fn, args, {**kwargs, key: value})
                return value
            except ValueError:
                continue
    return GIVEN[key]


LOSS_OPTIONS = [(e.name, key) for e in ENTRIES for key in e.options]


def test_every_loss_option_is_declared():
    """Every keyword option of every loss has a declared kind (the registry raises at import otherwise),
    and every optional option that has no default value to try has one in GIVEN."""
    kinds = {o.kind for e in ENTRIES for o in e.options.values()}
    assert kinds >= {OptionKind.FLAG, OptionKind.INTEGER, OptionKind.NUMBER, OptionKind.ARRAY}
    missing = {k for e in ENTRIES for k, o in e.options.items()
               if o.default is None and o.kind not in (OptionKind.ARRAY, OptionKind.FLAG) and k not in GIVEN}
    assert not missing, missing
    # Options whose default is None are declared optional: None means "not given".
    assert all(o.optional for e in ENTRIES for o in e.options.values() if o.default is None)


def _bad_values(option) -> list:
    none = [] if option.optional else [None]
    if option.kind is OptionKind.FLAG:
        return ["False", "True", 0, 1, 0.0, np.int64(1)] + none
    if option.kind is OptionKind.INTEGER:
        return [True, False, np.bool_(True), "2", 2.5, 2.0, np.float64(2.0), [2], object()] + none
    if option.kind is OptionKind.NUMBER:
        return [True, "1", b"1", object(), 1j, np.complex64(1)] + none
    return ["w", {"a": 1}, object(), np.array([1j, 2j])] + none  # ARRAY


def _expected_error(option) -> str:
    if option.kind is OptionKind.FLAG:
        return "must be True or False"
    if option.kind is OptionKind.INTEGER:
        return "must be (an integer|a Python value)"
    return "must be (a number|an array|real)"


@pytest.mark.parametrize("name, key", LOSS_OPTIONS, ids=[f"{n}-{k}" for n, k in LOSS_OPTIONS])
def test_loss_options_refuse_the_wrong_type(name, key):
    """Class 2: `dice(multiclass="False")` ran as multiclass, `spatial_dims=True` as 1, `ignore_index="pad"`
    ended in an AttributeError. Every option, optional or not, refuses what is not of its kind, naming
    the loss and the option."""
    entry = jl.info(name)
    args, kwargs = _sample(entry)
    option = entry.options[key]
    for bad in _bad_values(option):
        with pytest.raises(TypeError, match=f"{name}: {key} {_expected_error(option)}"):
            entry.fn(*args, **{**kwargs, key: bad})


def _jaxpr(fn, args, kwargs) -> str:
    return str(jax.make_jaxpr(lambda *a: fn(*a, **kwargs))(*args))


def _numpy_forms(option, value) -> list:
    if option.kind is OptionKind.FLAG:
        return [np.bool_(value)]
    if option.kind is OptionKind.INTEGER:
        return [np.int64(value), np.int32(value), np.asarray(value, np.int64), jnp.asarray(value, jnp.int32)]
    if option.kind is OptionKind.NUMBER:  # (np.float32(0.3) is another number than 0.3: compared where equal)
        return [np.float64(value)] + ([np.float32(value)] if float(np.float32(value)) == value else [])
    return []


NUMPY_CASES = [(n, k) for n, k in LOSS_OPTIONS if jl.info(n).options[k].kind is not OptionKind.ARRAY]


@pytest.mark.parametrize("name, key", NUMPY_CASES, ids=[f"{n}-{k}" for n, k in NUMPY_CASES])
def test_loss_options_take_numpy_scalars_as_python_ones(name, key):
    """Class 2: `spatial_dims=np.int64(2)` and `chunk_size=np.int64(...)` were rejected. A NumPy scalar (and
    a concrete 0-d integer array) is accepted wherever a Python one is, and gives the very same program
    (NumPy floats become Python floats, weakly typed: a float32 loss stays float32)."""
    entry = jl.info(name)
    args, kwargs = _sample(entry)
    option = entry.options[key]
    value = _valid(entry, key, args, kwargs)
    if option.kind is OptionKind.NUMBER and option.range is not None and not option.range.contains(value):
        pytest.skip(f"{key}'s default {value!r} is not a number of its range")
    reference = _jaxpr(entry.fn, args, {**kwargs, key: value})
    for form in _numpy_forms(option, value):
        assert _jaxpr(entry.fn, args, {**kwargs, key: form}) == reference, (key, form)


OPTIONAL = [(n, k) for n, k in LOSS_OPTIONS if jl.info(n).options[k].optional]


@pytest.mark.parametrize("name, key", OPTIONAL, ids=[f"{n}-{k}" for n, k in OPTIONAL])
def test_optional_options_are_checked_when_given(name, key):
    """An option whose default is None may be left out or passed as None; anything else is checked as an
    option of its kind: a string is never taken for a flag, an index or an array."""
    entry = jl.info(name)
    args, kwargs = _sample(entry)
    with pytest.raises(TypeError, match=f"{name}: {key} "):
        entry.fn(*args, **{**kwargs, key: "False"})


POSITIONAL = [(e.name, i, k) for e in ENTRIES for i, (k, p) in enumerate(inspect.signature(e.fn).parameters.items())
              if p.kind is p.POSITIONAL_OR_KEYWORD]


@pytest.mark.parametrize("name, index, argument", POSITIONAL, ids=[f"{n}-{a}" for n, _, a in POSITIONAL])
def test_array_arguments_refuse_none_strings_and_complex_by_name(name, index, argument):
    """Class 9: `targets=None` or a string in focal, cosine_embedding, contrastive, ntxent, dice, jaccard,
    tversky and focal_tversky gave a raw JAX message naming neither. Every array argument of every loss
    is checked at the boundary, by its name; complex arrays are refused too (class 8: KL returned 0.0)."""
    entry = jl.info(name)
    args, kwargs = _sample(entry)
    for bad, message in ((None, "is None"), ("abc", "must be an array"), (b"abc", "must be an array"),
                         (np.asarray(args[index]).astype(np.complex64), "must be real")):
        call = args[:index] + (bad,) + args[index + 1:]
        with pytest.raises(TypeError, match=f"{name}: {argument} {message}"):
            entry.fn(*call, **kwargs)


# -- metrics ----------------------------------------------------------------------------------------

#: Every one-shot metric function and streaming constructor, from the package's own lists.
ONE_SHOT = [getattr(metrics, n) for n in metrics.__all__
            if inspect.isfunction(getattr(metrics, n)) and not n.endswith("_metric") and n != "get"
            and "targets" in inspect.signature(getattr(metrics, n)).parameters]
CONSTRUCTORS = sorted(set(metrics.STREAMING.values()), key=lambda c: c.__name__)
METRIC_OPTIONS = [(f, key) for f in ONE_SHOT + CONSTRUCTORS for key in metric_inputs.declare(f)]

#: Inputs each one-shot metric takes: binary scores, class scores or regression values.
_P, _Y = np.array([0.9, 0.2, 0.6, 0.4]), np.array([1, 0, 0, 1])
_S, _C = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.2, 0.5, 0.3]]), np.array([0, 2, 1])
CLASS_SCORES = {"accuracy"}


def _metric_inputs(f):
    if f.__name__ in CLASS_SCORES:
        return _S, _C
    return _P, _Y


def _metric_valid(f, key):
    option = metric_inputs.declare(f)[key]
    if option.default is not None:
        return option.default
    return {"beta": 2.0, "num_classes": 2, "epsilon": 1e-7, "average": "binary"}.get(key)


def test_every_metric_is_enumerated():
    names = {f.__name__ for f in ONE_SHOT}
    assert names >= {"accuracy", "binary_accuracy", "confusion_matrix", "precision", "recall", "f1_score",
                     "fbeta_score", "log_loss", "expected_calibration_error", "roc_auc", "average_precision",
                     "mean_squared_error", "r2_score"}
    assert len(CONSTRUCTORS) == 15


@pytest.mark.parametrize("f, key", METRIC_OPTIONS, ids=[f"{f.__name__}-{k}" for f, k in METRIC_OPTIONS])
def test_metric_options_go_through_the_losses_checks(f, key):
    """Class 1: metrics took `from_logits="False"` as True (F1 0.667 for scikit-learn's 0.8), an `epsilon`
    that inverts the clip, `threshold=1.5` on probabilities. Every option of every metric and streaming
    constructor is checked as the losses' are: types, ranges, None only where declared; NumPy scalars
    accepted and equal to Python ones."""
    option = metric_inputs.declare(f)[key]
    constructor = f in CONSTRUCTORS
    args = () if constructor else _metric_inputs(f)
    required = {"beta": 2.0} if "beta" in inspect.signature(f).parameters and key != "beta" and not constructor else {}
    label = f.__name__
    if option.kind is OptionKind.CHOICE:
        for bad in ("bogus", 1, True):
            with pytest.raises(ValueError, match=f"{label}: {key}=.* is not valid; choose one of"):
                f(*args, **required, **{key: bad})
        return
    for bad in _bad_values(option):
        with pytest.raises(TypeError, match=f"{label}: {key} {_expected_error(option)}"):
            f(*args, **required, **{key: bad})
    if option.range is not None:  # just outside each bound
        spec = option.range
        outside = [v for v in (spec.low - (1 if option.kind is OptionKind.INTEGER else 0.5) if spec.low is not None
                               else None, spec.high + 1 if spec.high is not None and np.isfinite(spec.high) else None)
                   if v is not None]
        outside += [spec.low] * int(spec.low is not None and spec.low_open) + [spec.high] * int(
            spec.high is not None and spec.high_open and bool(np.isfinite(spec.high)))
        for bad in outside:
            bad = int(bad) if option.kind is OptionKind.INTEGER else float(bad)
            with pytest.raises(ValueError, match=f"{label}: {key}={bad:g} is out of range"):
                f(*args, **required, **{key: bad})
    value = _metric_valid(f, key)
    if value is None:
        return
    for form in _numpy_forms(option, value)[:2]:
        if constructor and float(form) == value:  # (np.float32(1e-7) is another number than 1e-7)
            assert f(**{key: form}) is f(**{key: value})  # the same memoized Metric: NumPy scalars normalised
        elif not constructor:
            np.testing.assert_array_equal(np.asarray(f(*args, **required, **{key: form})),
                                          np.asarray(f(*args, **required, **{key: value})))


def test_metrics_get_checks_options_as_the_constructors_do():
    for name in metrics.STREAMING:
        with pytest.raises(TypeError, match="from_logits must be True or False"):
            metrics.get(name, from_logits="False")
    assert metrics.get("f1", from_logits=np.bool_(True)) is metrics.get("f1", from_logits=True)
    with pytest.raises(ValueError, match=r"f1_metric: threshold=1.5 is out of range; threshold must be in \[0, 1\]"):
        metrics.get("f1", threshold=1.5)


def test_f1_with_a_string_flag_no_longer_differs_from_scikit_learn():
    """The issue's example: F1 0.667 instead of scikit-learn's 0.8 for from_logits="False"."""
    p, y = np.array([0.9, 0.8, 0.3, 0.6, 0.7]), np.array([1, 0, 1, 1, 1])
    # scikit-learn 1.9: f1_score([1, 0, 1, 1, 1], [1, 1, 0, 1, 1]) = 2 tp / (2 tp + fp + fn) = 6 / 8
    assert float(metrics.f1_score(p, y, from_logits=False)) == pytest.approx(0.75)
    with pytest.raises(TypeError, match="f1_score: from_logits must be True or False"):
        metrics.f1_score(p, y, from_logits="False")


# -- a metric and the loss of the same name raise on the same inputs ----------------------------------

_sigmoid_ok = np.array([0.9, 0.2, 0.6, 0.4])

#: (metric, loss) pairs reading the same inputs the same way, by input form: binary probabilities,
#: binary logits, class probabilities, class logits, regression values. Each lists the options that make
#: the metric and the loss read the predictions alike.
PAIRS = [
    ("log_loss", {"from_logits": False}, "binary_cross_entropy", {"from_logits": False}, "binary"),
    ("log_loss", {"from_logits": True}, "binary_cross_entropy", {"from_logits": True}, "binary"),
    ("log_loss", {"from_logits": False}, "softmax_cross_entropy", {"from_logits": False}, "classes"),
    ("log_loss", {"from_logits": True}, "softmax_cross_entropy", {"from_logits": True}, "classes"),
    ("expected_calibration_error", {"from_logits": False}, "binary_cross_entropy", {"from_logits": False}, "binary"),
    ("expected_calibration_error", {"from_logits": False}, "softmax_cross_entropy", {"from_logits": False},
     "classes"),
    ("binary_accuracy", {}, "binary_cross_entropy", {"from_logits": True}, "binary-targets"),
    ("precision", {}, "binary_cross_entropy", {"from_logits": True}, "binary-targets"),
    ("recall", {}, "binary_cross_entropy", {"from_logits": True}, "binary-targets"),
    ("f1_score", {}, "binary_cross_entropy", {"from_logits": True}, "binary-targets"),
    ("fbeta_score", {"beta": 2.0}, "binary_cross_entropy", {"from_logits": True}, "binary-targets"),
    ("confusion_matrix", {}, "binary_cross_entropy", {"from_logits": True}, "binary-targets"),
    ("roc_auc", {}, "binary_cross_entropy", {"from_logits": True}, "binary-targets"),
    ("average_precision", {}, "binary_cross_entropy", {"from_logits": True}, "binary-targets"),
    ("accuracy", {}, "softmax_cross_entropy", {"from_logits": True}, "class-targets"),
    ("confusion_matrix", {}, "softmax_cross_entropy", {"from_logits": True}, "class-targets"),
    ("f1_score", {"average": "macro"}, "softmax_cross_entropy", {"from_logits": True}, "class-targets"),
    ("mean_squared_error", {}, "mean_squared_error", {}, "regression"),
    ("mean_absolute_error", {}, "mean_absolute_error", {}, "regression"),
]
#: Metrics with no loss reading the same inputs (R^2, RMSE: the loss of the name is MSE's root/ratio).
NO_LOSS = {"r2_score", "root_mean_squared_error"}


def _inputs_of(form: str, good: bool, which: str):
    """Good inputs of a form, or one bad variant (``which``): a target or a probability out of range."""
    if form in ("binary", "binary-targets"):
        p, y = np.array([0.9, 0.2, 0.6, 0.4]), np.array([1.0, 0.0, 0.0, 1.0])
        variants = {"target-high": (p, np.array([1.0, 0.0, 2.0, 1.0])), "target-low": (p, np.array([1.0, -0.5, 0, 1])),
                    "probability-high": (np.array([0.9, 1.5, 0.6, 0.4]), y),
                    "probability-low": (np.array([0.9, -0.1, 0.6, 0.4]), y)}
    elif form in ("classes", "class-targets"):
        p, y = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.2, 0.5, 0.3]]), np.array([0, 2, 1])
        variants = {"target-high": (p, np.array([0, 3, 1])), "target-low": (p, np.array([0, -1, 1])),
                    "probability-high": (np.array([[0.7, 0.2, 0.1], [0.1, 1.3, 0.6], [0.2, 0.5, 0.3]]), y),
                    "probability-low": (np.array([[0.7, 0.2, 0.1], [0.1, -0.3, 0.6], [0.2, 0.5, 0.3]]), y)}
    else:
        p, y = np.array([0.5, 2.0, -1.0]), np.array([0.0, 1.0, 1.0])
        variants = {}
    return (p, y) if good else variants.get(which)


BAD = ["target-high", "target-low", "probability-high", "probability-low"]


def test_every_metric_is_paired_with_its_loss_or_says_why_not():
    paired = {m for m, *_ in PAIRS}
    assert paired | NO_LOSS == {f.__name__ for f in ONE_SHOT}, {f.__name__ for f in ONE_SHOT} - paired - NO_LOSS


@pytest.mark.parametrize("metric, metric_options, loss, loss_options, form", PAIRS,
                         ids=[f"{m}-{lo}-{f}-{mo.get('from_logits', '')}" for m, mo, lo, _, f in PAIRS])
def test_a_metric_and_its_loss_raise_on_the_same_inputs(metric, metric_options, loss, loss_options, form):
    """Class 1: the log-loss metric returned a negative log loss for targets outside {0, 1} where the loss
    raises, and clipped probabilities above 1 silently. A metric and the loss reading the same inputs
    raise on the same ones (eagerly), and both give NaN for them under jit (never a plausible number)."""
    m = getattr(metrics, metric)
    f = jl.info(loss).fn
    p, y = _inputs_of(form, True, "")
    assert np.isfinite(np.asarray(m(p, y, **metric_options))).all()
    assert np.isfinite(float(f(p, y, **loss_options)))
    for which in BAD:
        bad = _inputs_of(form, False, which)
        if bad is None:
            continue
        p_bad, y_bad = bad
        loss_raises = metric_raises = False
        try:
            f(p_bad, y_bad, **loss_options)
        except ValueError:
            loss_raises = True
        try:
            m(p_bad, y_bad, **metric_options)
        except ValueError:
            metric_raises = True
        assert metric_raises == loss_raises, (which, metric_raises, loss_raises)
        if metric_raises:  # under jit the value cannot raise: NaN, for the metric as for the loss
            jitted = jax.jit(lambda a, b: m(a, b, **metric_options))(p_bad, y_bad)
            out = np.asarray(jitted, np.float64)
            assert np.isnan(out).any() or (out == -1).any(), (which, out)
            assert np.isnan(float(jax.jit(lambda a, b: f(a, b, **loss_options))(p_bad, y_bad)))


def test_log_loss_metric_refuses_what_the_loss_refuses_in_the_issues_examples():
    with pytest.raises(ValueError, match=r"log_loss: targets must be in \[0, 1\]; got values \[2.0\]"):
        metrics.log_loss(np.array([0.9, 0.3]), np.array([2.0, 0.0]))
    with pytest.raises(ValueError, match=r"log_loss: predictions must be probabilities in \[0, 1\].*\[1.5\]"):
        metrics.log_loss(np.array([1.5, 0.3]), np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: predictions must be probabilities in \[0, 1\]"):
        jl.binary_cross_entropy(np.array([1.5, 0.3]), np.array([1.0, 0.0]), from_logits=False)
    with pytest.raises(ValueError, match=r"log_loss: epsilon=0.9 is out of range; epsilon must be in \(0, 0.5\)"):
        metrics.log_loss(np.array([0.9, 0.3]), np.array([1.0, 0.0]), epsilon=0.9)
    with pytest.raises(ValueError, match=r"f1_score: threshold=1.5 is out of range"):
        metrics.f1_score(np.array([0.9, 0.3]), np.array([1, 0]), threshold=1.5)
    m = metrics.log_loss_metric()
    with pytest.raises(ValueError, match=r"log_loss_metric.update: targets must be in \[0, 1\]"):
        m.update(m.init(), np.array([0.9, 0.3]), np.array([2.0, 0.0]))
    # Excluded entries may hold anything, for the metric as for the loss.
    where = np.array([True, False])
    assert np.isfinite(float(metrics.log_loss(np.array([0.9, 1.5]), np.array([1.0, 2.0]), where=where)))
    assert np.isfinite(float(jl.binary_cross_entropy(np.array([0.9, 1.5]), np.array([1.0, 2.0]), from_logits=False,
                                                     where=where)))


def test_confusion_matrix_refuses_a_label_out_of_range_as_documented():
    """Class 8: it filled the matrix with -1 for an out-of-range target where its docstring said it drops it.
    Now: a ValueError eagerly, and under jit a poisoned matrix (the docstring says so)."""
    scores, labels = np.eye(3)[[0, 1, 2]], np.array([0, 5, 2])
    with pytest.raises(ValueError, match=r"confusion_matrix: targets holds class indices outside \[0, 3\)"):
        metrics.confusion_matrix(scores, labels)
    poisoned = jax.jit(metrics.confusion_matrix)(scores, labels)
    assert (np.asarray(poisoned) == -1).all()
    assert "poison the whole matrix" in " ".join(metrics.confusion_matrix.__doc__.split())
    weighted = jax.jit(functools.partial(metrics.confusion_matrix, weights=np.ones(3)))(scores, labels)
    assert np.isnan(np.asarray(weighted)).all()
