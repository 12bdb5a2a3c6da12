"""Edges, class by class, for every registered loss (issue 24, classes 3, 5 and 6).

* Special values of every hyperparameter (its closed bounds, 0, 1, 2, its default, its slider's ends)
  give the same value and gradient whether the number arrives as a Python float, a NumPy scalar, a
  0-d array or a traced value: a loss may not take a shortcut that only the Python form takes.
* Every kink a docstring documents has the documented (sub)gradient, PyTorch's where the loss
  declares a PyTorch equivalent.
* Array options broadcast as the declared PyTorch equivalent does, or raise; never NumPy's rule
  where PyTorch's differs (``gaussian_nll``'s variance, against a float64 NumPy reference of
  PyTorch's rule).
* NaN in an excluded entry (``where=False``) of an array hyperparameter reaches neither the value nor
  any gradient, the hyperparameter's own included; nor does NaN in an excluded example of a loss of
  one's own (optax's convention) inside ``jl.term`` or ``jl.objective``.

The tests derive their cases from the registry (``jl.catalog()``): the special values from each
``Hyperparameter``, the array options from each signature. One program is compiled per (loss, option):
the concrete forms are constants of its trace (the loss sees them as an eager call would), the traced
form its argument. Defects found in modules these tests do not own are strict expected failures
(``KNOWN``), each with the change that fixes it.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from references.regression import torch_gaussian_nll

import jaxloss as jl
from jaxloss import _kinds

ENTRIES = jl.catalog()

#: Defects these tests find, each an expected failure (strict: fixing it makes the case pass, and then its
#: line here must go), with the change that fixes it. Empty: every case of issue 24 passes.
KNOWN: dict[tuple[str, str, str], str] = {}


def _cases(kind: str, pairs: list[tuple[str, str]]) -> list:
    return [pytest.param(n, k, id=f"{n}-{k}", marks=pytest.mark.xfail(reason=KNOWN[kind, n, k], strict=True))
            if (kind, n, k) in KNOWN else pytest.param(n, k, id=f"{n}-{k}") for n, k in pairs]


def _is_integer(h: jl.Hyperparameter) -> bool:
    return isinstance(h.default, (int, np.integer)) and not isinstance(h.default, bool)


def special_values(h: jl.Hyperparameter) -> list[float]:
    """The values where a loss may branch: closed bounds, 0, 1, 2, the default, the slider's ends (valid ones)."""
    candidates = [h.low if not h.low_open else None, h.high if not h.high_open else None, 0.0, 1.0, 2.0,
                  h.default, *(h.slider or ())]
    values = sorted({float(v) for v in candidates if v is not None and h.contains(v)})
    return [v for v in values if float(v).is_integer()] if _is_integer(h) else values


def _stacked_sample(entry: jl.LossInfo, n: int = 3) -> _kinds.Sample:
    """A random sample with the kind's hard inputs appended along the example axis (where they share its
    options), so that one call sees moderate and extreme inputs alike (+-1e4 logits, -inf, zeros, ties)."""
    rng = np.random.default_rng(0)
    s = entry.inputs.random(rng, n)
    static = {k: v for k, v in s.kwargs.items() if k not in s.example_kwargs}
    args, example_kwargs = [list(map(np.asarray, s.args))], [{k: np.asarray(s.kwargs[k]) for k in s.example_kwargs}]
    for h in entry.inputs.hard_cases(rng, n):
        h_static = {k: v for k, v in h.kwargs.items() if k not in h.example_kwargs}
        same_options = h_static.keys() == static.keys() and all(
            np.array_equal(np.asarray(h_static[k]), np.asarray(static[k])) for k in static)
        same_shapes = [np.shape(a)[1:] for a in h.args] == [np.shape(a)[1:] for a in s.args]
        if same_options and same_shapes and set(h.example_kwargs) == set(s.example_kwargs):
            args.append(list(map(np.asarray, h.args)))
            example_kwargs.append({k: np.asarray(h.kwargs[k]) for k in h.example_kwargs})
    stacked = tuple(np.concatenate([a[i] for a in args]) for i in range(len(s.args)))
    kwargs = {**static, **{k: np.concatenate([e[k] for e in example_kwargs]) for k in s.example_kwargs}}
    return dataclasses.replace(s, args=stacked, kwargs=kwargs)


def _assert_same(expected: Any, got: Any, what: str, *, rtol: float = 1e-7, atol: float = 1e-10) -> None:
    """Equal to ``rtol``, NaN and infinities in the same places (NaN nowhere the expected has none)."""
    e, g = np.asarray(expected, np.float64), np.asarray(got, np.float64)
    assert e.shape == g.shape, f"{what}: shape {g.shape}, expected {e.shape}"
    new_nan = np.isnan(g) & ~np.isnan(e)
    assert not new_nan.any(), f"{what}: NaN at {np.argwhere(new_nan)[:5].tolist()}"
    np.testing.assert_allclose(g, e, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)


def _value_and_gradient(call: Callable[[jax.Array], jax.Array], x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Per-example values and the gradient of their sum with respect to ``x``, in one forward pass."""
    values, pullback = jax.vjp(call, x)
    return values, pullback(jnp.ones_like(values))[0]


# -- class 3: special values, however they arrive --------------------------------------------------

SPECIAL = [(e.name, key) for e in ENTRIES for key in e.hyperparameters]


@pytest.mark.parametrize("name, key", SPECIAL, ids=[f"{n}-{k}" for n, k in SPECIAL])
def test_special_values_do_not_depend_on_how_the_number_arrives(name, key):
    entry = jl.info(name)
    h = entry.hyperparameters[key]
    integer = _is_integer(h)
    args, kwargs = _stacked_sample(entry).cast(np.float64)
    x, rest = jnp.asarray(args[0]), args[1:]
    kwargs.pop(key, None)

    def value_and_gradient(x: jax.Array, v: Any) -> tuple[jax.Array, jax.Array]:
        return _value_and_gradient(lambda y: entry.fn(y, *rest, **kwargs, **{key: v}, reduction="none"), x)

    values = special_values(h)
    numbers = [int(v) if integer else v for v in values]
    forms = [{"NumPy scalar": np.int64(n) if integer else np.float64(n), "0-d array": jnp.asarray(n)} for n in numbers]
    refused: dict[tuple[int, str], Exception] = {}

    @jax.jit
    def program(x: jax.Array, traced_numbers: jax.Array) -> dict:
        # Every form of every value in one program. The concrete forms are constants of the trace, so the
        # loss sees each exactly as an eager call would (a Python number, a NumPy scalar, a concrete array);
        # the traced form is an entry of this program's argument.
        out = {}
        for i, number in enumerate(numbers):
            for form, given in (("Python number", number), *forms[i].items(), ("traced", traced_numbers[i])):
                try:
                    out[i, form] = value_and_gradient(x, given)
                except (TypeError, ValueError) as err:
                    refused[i, form] = err
        return out

    results = program(x, jnp.asarray(numbers))
    tried = 0
    for i, number in enumerate(numbers):
        if (i, "Python number") in refused:
            continue  # not a valid value with these inputs (ctc's blank_id 1 is one of the sample's labels)
        expected = results[i, "Python number"]
        for form in ("NumPy scalar", "0-d array", "traced"):
            if (i, form) in refused:
                # An option that selects the algorithm or a shape may refuse a traced value (or an array),
                # if it says so: the loss and the option by name. Never a silent other answer.
                err = refused[i, form]
                assert isinstance(err, TypeError) and f"{name}: {key}" in str(err), \
                    f"{name}: {key}={number} as a {form} raised an unclear {err!r}"
                assert form != "NumPy scalar", err
                continue
            got = results[i, form]
            for part, e, g in (("value", expected[0], got[0]), ("gradient", expected[1], got[1])):
                _assert_same(e, g, f"{name}: {key}={number} as a {form}: {part}")
            tried += 1
    assert tried, f"{name}: no special value of {key} could be tried"


@pytest.mark.parametrize("name, key", [("smooth_l1", "beta"), ("huber", "delta"), ("focal", "gamma")])
def test_special_values_in_float32_keep_the_dtype_and_the_value(name, key):
    """float32 inputs with the value as a Python float, a float32 0-d array and a traced float32."""
    entry = jl.info(name)
    h = entry.hyperparameters[key]
    args, kwargs = _stacked_sample(entry).cast(np.float32)
    x, rest = jnp.asarray(args[0]), args[1:]

    def value_and_gradient(x: jax.Array, v: Any) -> tuple[jax.Array, jax.Array]:
        return _value_and_gradient(lambda y: entry.fn(y, *rest, **kwargs, **{key: v}, reduction="none"), x)

    traced = jax.jit(value_and_gradient)
    for value in special_values(h):
        expected = value_and_gradient(x, value)
        for got in (value_and_gradient(x, jnp.float32(value)), traced(x, jnp.float32(value))):
            assert got[0].dtype == got[1].dtype == jnp.float32
            _assert_same(expected[0], got[0], f"{name}: {key}={value}: value", rtol=1e-6, atol=1e-6)
            _assert_same(expected[1], got[1], f"{name}: {key}={value}: gradient", rtol=1e-6, atol=1e-6)


# Logits where a skipped term and "0 times the term" differ: +inf (the uniform part is inf or NaN), -inf (a
# masked class), sums that overflow float32 (3e38), and ordinary ones.
_LOGITS = np.array([[1.0, np.inf, 0.0], [2.0, -np.inf, 0.5], [3e38, 3e38, -3e38], [1.0, 2.0, 0.5], [-np.inf, 1.0, 2.0],
                    [1.0, 2.0, np.inf]])
_LABELS = np.array([0, 0, 1, 2, 0, 2])
_SOFT = 0.8 * np.eye(3)[_LABELS] + 0.2 / 3
_CLASS_WEIGHTS = np.array([1.0, 2.0, 0.5])
_HIDDEN = np.array([[1.0, 0.5], [-2.0, 1.0], [3.0, 3.0], [0.0, 0.0], [1e4, -1e4], [0.5, -1.0]])
_HEAD = np.array([[1.0, -1.0], [0.5, 2.0], [-3.0, 1.0]])

#: (loss, its arguments after the predictions, fixed options, the option whose 0 is a shortcut when it is a
#: concrete 0 (``_class_inputs.is_zero``)).
ZERO_TERMS = [
    pytest.param(jl.softmax_cross_entropy, (_LABELS,), {}, "label_smoothing", id="softmax_cross_entropy-labels"),
    pytest.param(jl.softmax_cross_entropy, (_SOFT,), {}, "label_smoothing", id="softmax_cross_entropy-probabilities"),
    pytest.param(jl.softmax_cross_entropy, (_LABELS,), {"class_weights": _CLASS_WEIGHTS}, "label_smoothing",
                 id="softmax_cross_entropy-labels-class_weights"),
    pytest.param(jl.softmax_cross_entropy, (_SOFT,), {"class_weights": _CLASS_WEIGHTS}, "label_smoothing",
                 id="softmax_cross_entropy-probabilities-class_weights"),
    pytest.param(jl.poly1_cross_entropy, (_LABELS,), {}, "label_smoothing", id="poly1_cross_entropy"),
    pytest.param(jl.bitempered_logistic, (_LABELS,), {}, "label_smoothing", id="bitempered_logistic-t1-t2-1"),
    pytest.param(jl.bitempered_logistic, (_LABELS,), {"t1": 0.8, "t2": 1.2}, "label_smoothing",
                 id="bitempered_logistic-t1-0.8-t2-1.2"),
    pytest.param(jl.binary_cross_entropy, ((_SOFT > 0.5).astype(float),), {}, "label_smoothing",
                 id="binary_cross_entropy"),
    pytest.param(jl.linear_cross_entropy, (_LABELS,), {"weight": _HEAD, "bias": np.array([0.0, np.inf, 1.0])},
                 "label_smoothing", id="linear_cross_entropy-label_smoothing"),
    pytest.param(jl.linear_cross_entropy, (_LABELS,), {"weight": _HEAD, "bias": np.array([0.0, np.inf, 1.0])},
                 "z_loss", id="linear_cross_entropy-z_loss"),
]


@pytest.mark.parametrize("loss, rest, options, key", ZERO_TERMS)
def test_a_zero_weight_gives_the_same_value_and_gradient_however_it_arrives(loss, rest, options, key):
    """A Python 0 skips a term (``_class_inputs.is_zero``); a 0 that arrives traced, one or one per example,
    must give the same value and gradient, also where ``0 * term`` is NaN (an infinite logit, a sum that
    overflows). A non-zero weight gives the same numbers as a Python number and traced (class weights too)."""
    predictions = _HIDDEN if loss is jl.linear_cross_entropy else _LOGITS
    # One value per example: per entry for the element-wise binary cross-entropy, per row for the others.
    example_shape = predictions.shape if loss is jl.binary_cross_entropy else predictions.shape[:1]

    def value_and_gradient(x: jax.Array, v: Any) -> tuple[jax.Array, jax.Array]:
        return _value_and_gradient(lambda y: loss(y, *rest, **options, **{key: v}, reduction="none"), x)

    dtypes = {"float64": 1e-12, "float32": 1e-6}  # dtype -> rtol

    @jax.jit
    def program(xs: dict, traced: dict) -> dict:
        # Every form in both dtypes: one program. The Python numbers are constants of the trace, as in an eager
        # call; the traced ones are its arguments.
        out = {}
        for dtype, x in xs.items():
            zero, zeros, small = traced[dtype]
            out[dtype] = {"Python 0": value_and_gradient(x, 0.0), "traced 0": value_and_gradient(x, zero),
                          "traced zeros, one per example": value_and_gradient(x, zeros),
                          "Python 0.1": value_and_gradient(x, 0.1), "traced 0.1": value_and_gradient(x, small)}
        return out

    results = program({dtype: jnp.asarray(predictions, dtype) for dtype in dtypes},
                      {dtype: (jnp.zeros((), dtype), jnp.zeros(example_shape, dtype), jnp.asarray(0.1, dtype))
                       for dtype in dtypes})
    for dtype, out in results.items():
        for form, expected in (("traced 0", "Python 0"), ("traced zeros, one per example", "Python 0"),
                               ("traced 0.1", "Python 0.1")):
            for part, e, g in zip(("value", "gradient"), out[expected], out[form]):
                _assert_same(e, g, f"{loss.__name__}: {key} as a {form} in {dtype}: {part}", rtol=dtypes[dtype])


def test_smooth_l1_at_beta_zero_is_the_absolute_error_in_every_form():
    e, z = jnp.array([-1.0, 0.0, 2.0]), jnp.zeros(3)
    for beta in (0.0, 0, np.float32(0.0), np.float64(0.0), jnp.array(0.0), jnp.zeros(3)):
        np.testing.assert_array_equal(jl.smooth_l1(e, z, beta=beta, reduction="none"), [1.0, 0.0, 2.0])
        # PyTorch 2.13: smooth_l1_loss(beta=0) is l1_loss, gradient sign(e) with 0 at e = 0.
        np.testing.assert_array_equal(jax.grad(lambda p: jl.smooth_l1(p, z, beta=beta, reduction="sum"))(e),
                                      [-1.0, 0.0, 1.0])
    jitted = jax.jit(lambda b: (jl.smooth_l1(e, z, beta=b, reduction="none"),
                                jax.grad(lambda p: jl.smooth_l1(p, z, beta=b, reduction="sum"))(e)))
    values, g = jitted(0.0)
    np.testing.assert_array_equal(values, [1.0, 0.0, 2.0])
    np.testing.assert_array_equal(g, [-1.0, 0.0, 1.0])
    # d/dbeta at beta = 0, the one-sided derivative: -1/2 where e != 0 (|e| - beta / 2), 0 where e = 0 (the
    # loss is 0 there for every beta >= 0): -1 in all.
    g_beta = jax.grad(lambda b: jl.smooth_l1(e, z, beta=b, reduction="sum"))(jnp.array(0.0))
    assert float(g_beta) == pytest.approx(-1.0)
    # The second derivative at e = 0 is the quadratic piece's: 1 / beta for smooth_l1, 1 for huber (no |e|
    # there), 0 for the absolute error (beta = 0).
    for fn, options, expected in ((jl.smooth_l1, {"beta": 0.5}, 2.0), (jl.huber, {"delta": 1.5}, 1.0),
                                  (jl.smooth_l1, {"beta": 0.0}, 0.0)):
        h = jax.hessian(lambda p: fn(p, jnp.zeros(1), **options, reduction="sum"))(jnp.zeros(1))
        assert float(h[0, 0]) == expected, (fn.__name__, options)


# -- class 3: documented kinks ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Kink:
    """A point where a loss has no derivative, and the (sub)gradient its docstring promises there."""

    name: str
    doc: str  # the phrase of the docstring that documents it (the test checks it is still there)
    args: Callable[[Any], tuple]  # dtype -> positional arrays; the gradient is taken with respect to args[0]
    expected: Callable[[], np.ndarray]  # the documented gradient of the summed per-example losses
    options: dict = dataclasses.field(default_factory=dict)  # numbers: given as Python, 0-d array and traced
    torch: str = ""  # PyTorch's value at the same point, where the loss declares an equivalent
    # PyTorch's gradient where it differs from the documented one (the case is then an expected failure,
    # strict: when the loss follows PyTorch, its documented value changes and this goes).
    torch_expected: Callable[[], np.ndarray] | None = None
    xfail: str = ""
    static: dict = dataclasses.field(default_factory=dict)  # options that are not numbers (flags), as given


def _a(*rows: Any) -> Callable[[Any], tuple]:
    return lambda dtype: tuple(np.asarray(r, dtype) if np.asarray(r).dtype.kind == "f" else np.asarray(r)
                               for r in rows)


_E = [-1.5, 0.0, 1.5]  # errors at -delta, 0 and +delta for delta = 1.5
_TRIPLET_N = np.array([[3.0, 4.0]])


def _triplet_expected() -> np.ndarray:
    # d(a, p) = ||a - p + 1e-6|| = 0 exactly (a = 0, p = 1e-6): its gradient is taken as 0 (documented), so
    # only -d(a, n) moves the anchor: -(a - n + 1e-6) / ||a - n + 1e-6||. PyTorch 2.13's norm backward is
    # also 0 at a zero norm (masked_fill), giving the same gradient.
    diff = np.zeros((1, 2)) - _TRIPLET_N + 1e-6
    return -diff / np.linalg.norm(diff)


KINKS = [
    Kink("mean_absolute_error", "The gradient at exactly ``p == t`` is 0", _a([0.0, 2.0], [0.0, 2.0]),
         lambda: np.zeros(2), torch="torch.nn.functional.l1_loss: sign(0) = 0"),
    Kink("huber", "gradient at the joins ``|e| = delta`` is ``e``", _a(_E, [0.0, 0.0, 0.0]),
         lambda: np.array(_E), {"delta": 1.5},
         torch="torch.nn.functional.huber_loss(delta=1.5) at e = -1.5, 0, 1.5: -1.5, 0, 1.5"),
    Kink("smooth_l1", "The gradient is ``sign(e)`` at ``|e| = beta`` and 0 at ``e = 0``",
         _a([-0.5, 0.0, 0.5], [0.0, 0.0, 0.0]), lambda: np.array([-1.0, 0.0, 1.0]), {"beta": 0.5},
         torch="torch.nn.functional.smooth_l1_loss(beta=0.5) at e = -0.5, 0, 0.5: -1, 0, 1"),
    Kink("smooth_l1", "``beta = 0`` is exactly the absolute error", _a([-1.0, 0.0, 1.0], [0.0, 0.0, 0.0]),
         lambda: np.array([-1.0, 0.0, 1.0]), {"beta": 0.0},
         torch="torch.nn.functional.smooth_l1_loss(beta=0) is l1_loss: -1, 0, 1"),
    Kink("laplace_nll", "0 at exactly ``p == t``", _a([0.0, 1.0], [0.0, 1.0]), lambda: np.zeros(2),
         {"scale": 2.0}, torch="-torch.distributions.Laplace(p, 2.0).log_prob(t) at p == t: 0"),
    Kink("quantile", "At ``p == t`` the gradient is ``0.5 - tau``", _a([0.0, 1.0], [0.0, 1.0]),
         lambda: np.full(2, 0.5 - 0.9), {"tau": 0.9}),
    Kink("perceptron", "The gradient at exactly ``p = 0`` is the subgradient ``-y / 2``",
         _a([0.0, 0.0], [1.0, -1.0]), lambda: np.array([-0.5, 0.5])),
    Kink("tukey_biweight", "errors beyond ``c`` get exactly zero gradient", _a([-2.0, -1.0, 1.0, 3.0], [0.0] * 4),
         lambda: np.zeros(4)),
    Kink("mean_squared_log_error", "the gradient is 0 for negative predictions", _a([-1.0, -0.5], [1.0, 2.0]),
         lambda: np.zeros(2)),
    Kink("mean_absolute_percentage_error", "The gradient at exactly ``p == t`` is 0 (a subgradient",
         _a([2.0, -3.0], [2.0, -3.0]), lambda: np.zeros(2)),
    Kink("generalized_kl_divergence", "with gradient 0", _a([[0.0, 1.0]], [[1.0, 1.0]]),
         lambda: np.array([[0.0, 0.0]])),  # p = 0 < eps where t = 1: floored (0); t = p = 1: 1 - t/p = 0
    Kink("cosine_distance", "with a zero gradient", _a([[0.0, 0.0]], [[1.0, 2.0]]), lambda: np.zeros((1, 2))),
    Kink("cosine_embedding", "the gradient with respect to an exactly zero vector is 0",
         _a([[0.0, 0.0]], [[1.0, 2.0]], [1.0]), lambda: np.zeros((1, 2)),
         torch="PyTorch's formula gives about 1e6 there (its 1e-12 eps); the docstring says so: deliberate"),
    # x1 = (1, 0) and x2 = (0, 1): cos is exactly 0 = margin in every dtype. torch 2.13,
    # F.cosine_embedding_loss(x1, x2, [-1], margin=0).backward(): x1.grad = (0, 0.999999999999) in float64
    # (its 1e-12 in the norms), (0, 1) in float32.
    Kink("cosine_embedding", "At ``cos == margin`` a dissimilar pair gets the cosine's whole gradient",
         _a([[1.0, 0.0]], [[0.0, 1.0]], [-1.0]), lambda: np.array([[0.0, 1.0]]), {"margin": 0.0},
         torch="torch.nn.functional.cosine_embedding_loss at cos == margin, y = -1: clamp_min's gradient 1"),
    Kink("triplet_margin", "where a difference is exactly ``-1e-6`` the distance's gradient is taken as 0",
         _a([[0.0, 0.0]], [[1e-6, 1e-6]], _TRIPLET_N), _triplet_expected, {"margin": 10.0},
         torch="torch.nn.functional.triplet_margin_loss: the same (norm backward is 0 at a zero norm)"),
    Kink("contrastive", "a double ``where`` makes the gradient 0 for identical embeddings",
         _a([[1.0, 2.0]], [[1.0, 2.0]], [0.0]), lambda: np.zeros((1, 2))),
    # The hinges of the margin and embedding families, at their kinks: PyTorch's gradients where a PyTorch
    # equivalent is declared, each number printed by torch 2.13 (CPU, float64 and float32) for these inputs.
    Kink("margin_ranking", "the gradient is the whole one, ``-y`` for ``a`` and ``+y`` for ``b``",
         _a([1.0, 0.0], [0.5, 0.5], [1.0, -1.0]), lambda: np.array([-1.0, 1.0]), {"margin": 0.5},
         torch="torch 2.13 F.margin_ranking_loss(..., margin=0.5).backward(): a.grad = (-1, 1) (clamp_min)"),
    Kink("hinge_embedding", "At ``x = margin`` a dissimilar pair's gradient is -1",
         _a([1.0, 1.0], [-1.0, 1.0]), lambda: np.array([-1.0, 1.0]), {"margin": 1.0},
         torch="torch 2.13 F.hinge_embedding_loss(d, y, margin=1).backward(): d.grad = (-1, 1)"),
    Kink("multi_margin", "At the kink (``x_i = x_y - margin``) the gradient is 0",
         _a([[0.0, 1.0, -1.0]], [1]), lambda: np.zeros((1, 3)), {"margin": 1.0},
         torch="torch 2.13 F.multi_margin_loss(x, [1]).backward(): x.grad = (0, 0, 0) (its CPU kernel: z > 0)"),
    Kink("multilabel_margin", "At a kink (``x_j - x_i = 1``) the pair's gradient is 0",
         _a([[0.0, 1.0, -1.0]], [[1, -1, 0]]), lambda: np.zeros((1, 3)),
         torch="torch 2.13 F.multilabel_margin_loss(x, [[1, -1, 0]]).backward(): x.grad = (0, 0, 0)"),
    # d(a, p) == d(a, n) exactly (the same two numbers squared, summed in the other order), margin 0: the
    # hinge's argument is exactly 0 in every dtype. torch 2.13's ATen torch.triplet_margin_loss (F's wrapper
    # refuses margin 0): a.grad = (-1.000001000000500, 1.000001000000500) in float64, clamp_min's whole gradient.
    Kink("triplet_margin", "at ``d(a, p) - d(a, n) + margin = 0`` the whole gradient",
         _a([[0.0, 0.0]], [[1.0, 0.0]], [[0.0, 1.0]]), lambda: np.array([[-1.0000010000005, 1.0000010000005]]),
         {"margin": 0.0}, torch="torch.triplet_margin_loss at the hinge: clamp_min passes the whole gradient"),
    # p == a: d(a, n) == d(p, n) exactly. torch 2.13 F.triplet_margin_loss(a, p, n, margin=10, swap=True):
    # a.grad = (1.0071067651865429, 1.1071067931865506) in float64: (1, 1) / sqrt(2) from d(a, p), minus half
    # of d(a, n)'s gradient (torch.min splits a tie).
    Kink("triplet_margin", "half to each distance where ``d(a, n) == d(p, n)``",
         _a([[0.0, 0.0]], [[0.0, 0.0]], [[3.0, 4.0]]), lambda: np.array([[1.0071067651865429, 1.1071067931865506]]),
         {"margin": 10.0}, static={"swap": True},
         torch="torch.nn.functional.triplet_margin_loss(swap=True) at a tie of the swap: torch.min's half"),
    Kink("contrastive", "its gradient at d = margin is 0 from both sides", _a([[0.0, 0.0]], [[3.0, 4.0]], [0.0]),
         lambda: np.zeros((1, 2)), {"margin": 5.0}),
    # No PyTorch equivalent: jnp.maximum's and jnp.max's split at a tie, as optax's hinge_loss and
    # multiclass_hinge_loss (written the same way) give.
    Kink("hinge", "The gradient at exactly ``y p = 1`` is the subgradient ``-y / 2``",
         _a([1.0, -1.0], [1.0, -1.0]), lambda: np.array([-0.5, 0.5])),
    Kink("squared_hinge", "the gradient at ``y p = 1`` is 0 from both sides", _a([1.0, -1.0], [1.0, -1.0]),
         lambda: np.zeros(2)),
    Kink("multiclass_hinge", "so the gradient is half the violated one", _a([[2.0, 1.0, 0.0]], [0]),
         lambda: np.array([[-0.5, 0.5, 0.0]]), {"margin": 1.0}),
]


@pytest.mark.parametrize("kink", [pytest.param(k, marks=pytest.mark.xfail(reason=k.xfail, strict=True))
                                  if k.xfail else k for k in KINKS],
                         ids=[f"{k.name}-{i}" for i, k in enumerate(KINKS)])
def test_documented_kinks_have_their_documented_gradient(kink):
    fn = jl.get(kink.name)
    assert " ".join(kink.doc.split()) in " ".join(inspect.getdoc(fn).split()), \
        f"{kink.name}: the docstring no longer documents {kink.doc!r}"
    dtypes = (np.float64, np.float32)
    inputs = [kink.args(dtype) for dtype in dtypes]
    arrays = [{k: jnp.asarray(v, dtype) for k, v in kink.options.items()} for dtype in dtypes]

    @jax.jit
    def gradients(xs: tuple, traced_options: tuple) -> dict:
        # The gradient at the kink with the options as Python numbers, as concrete 0-d arrays (constants of
        # this trace, as in an eager call) and traced, in float64 and float32: one program.
        out = {}
        for dtype, x, args, concrete, traced in zip(dtypes, xs, inputs, arrays, traced_options):
            for form, options in (("Python", kink.options), ("0-d array", concrete), ("traced", traced)):
                out[np.dtype(dtype).name, form] = jax.grad(
                    lambda y, o=options, a=args: fn(y, *a[1:], **o, **kink.static, reduction="sum"))(x)
        return out

    for (dtype, form), g in gradients(tuple(jnp.asarray(a[0]) for a in inputs), tuple(arrays)).items():
        np.testing.assert_allclose(g, kink.expected(), rtol=1e-6, atol=1e-6,
                                   err_msg=f"{kink.name} {kink.options} as {form} in {dtype}")
    if kink.torch_expected is not None:
        np.testing.assert_allclose(kink.expected(), kink.torch_expected(), err_msg=f"{kink.name}: {kink.torch}")


# -- class 5: broadcasting as the declared equivalent does -------------------------------------------


def array_options(entry: jl.LossInfo) -> list[str]:
    """The keyword options that may hold a number or an array (annotated ``float`` or ``ArrayLike``)."""
    out = []
    for key, p in inspect.signature(entry.fn).parameters.items():
        if p.kind is not p.KEYWORD_ONLY or key in ("weights", "where", "reduction"):
            continue
        annotation = str(p.annotation)
        if key in entry.hyperparameters and _is_integer(entry.hyperparameters[key]):
            continue
        if "ArrayLike" in annotation or annotation.split(" |")[0] == "float":
            out.append(key)
    return out


def _valid_values(entry: jl.LossInfo, key: str, count: int) -> np.ndarray:
    """``count`` distinct valid values of an option (variances and class weights: positive numbers)."""
    h = entry.hyperparameters.get(key)
    if h is None:
        return np.linspace(0.5, 2.0, count)
    lo, hi = h.slider or (h.default, h.default + 1.0)
    values = np.linspace(lo, hi, count + 2)[1:-1]
    assert all(h.contains(v) for v in values), (entry.name, key, values)
    return values


#: How the declared PyTorch equivalent spreads an option of one axis fewer than the predictions, where it
#: takes arrays at all ("row": one value per row, unsqueezed on the last axis; "column": NumPy's
#: right-aligned rule). Options PyTorch takes only as a Python number have no rule of PyTorch's: jaxloss
#: documents NumPy's.
TORCH_RULES = {
    # torch.nn.functional.gaussian_nll_loss (torch 2.13): "if input.size()[:-1] == var.size(): var =
    # torch.unsqueeze(var, -1)". log_variance is jaxloss's own; it follows the same rule.
    ("torch.nn.GaussianNLLLoss", "variance"): "row",
    ("torch.nn.GaussianNLLLoss", "log_variance"): "row",
    # torch.nn.BCEWithLogitsLoss: pos_weight "broadcast ... along the last dimension" (one per class).
    ("torch.nn.BCEWithLogitsLoss", "pos_weight"): "column",
}
ELEMENTWISE_WITH_TORCH = [(e.name, key) for e in ENTRIES if e.torch and e.inputs.example_axes == 0
                          for key in array_options(e)]


@pytest.mark.parametrize("name, key", _cases("broadcast", ELEMENTWISE_WITH_TORCH))
def test_array_options_broadcast_as_the_equivalent_or_raise(name, key):
    """On square (N, N) predictions an (N,) option is per column by NumPy's rule and per row by PyTorch's
    GaussianNLLLoss: the result must be the equivalent's reading (or a ValueError), never the other."""
    entry = jl.info(name)
    s = entry.inputs.random(np.random.default_rng(0), _kinds.FEATURES)  # (3, 3): square
    args, kwargs = s.cast(np.float64)
    args = (5 * args[0],) + args[1:]  # errors and logits large enough that every option matters
    shape = np.shape(args[0])
    assert shape[0] == shape[1]
    values = _valid_values(entry, key, shape[0])
    rule = TORCH_RULES.get((entry.torch, key), "column")
    spread = np.broadcast_to(values[:, None] if rule == "row" else values, shape)
    expected = entry.fn(*args, **kwargs, **{key: spread}, reduction="none")
    other = entry.fn(*args, **kwargs, **{key: np.broadcast_to(values if rule == "row" else values[:, None], shape)},
                     reduction="none")
    assert not np.allclose(expected, other), "the two readings must differ for this test to mean anything"
    try:
        got = entry.fn(*args, **kwargs, **{key: values}, reduction="none")
    except ValueError as err:
        assert f"{name}: {key}" in str(err), err
        return
    np.testing.assert_allclose(got, expected, rtol=1e-12, err_msg=f"{name}: {key} of shape {values.shape} is not "
                                                                   f"read as {entry.torch} reads it ({rule})")


# Predictions' shape, the variance's shape: every shape PyTorch accepts, and some it refuses.
GAUSSIAN_SHAPES = [
    ((3, 3), ()), ((3, 3), (3,)), ((3, 3), (3, 1)), ((3, 3), (1, 3)), ((3, 3), (3, 3)), ((3, 3), (1, 1)),
    ((2, 3), (2,)), ((2, 3), (3,)), ((2, 3), (1,)), ((2, 3, 4), (2, 3)), ((2, 3, 4), (2, 3, 1)),
    ((2, 3, 4), (2, 1, 4)), ((2, 3, 4), (1, 3, 4)), ((2, 3, 4), (3, 4)), ((2, 3, 4), (2, 1, 1)), ((4,), ()),
    ((4,), (1,)), ((4,), (4,)), ((4,), (2,)),
]


@pytest.mark.parametrize("option", ["variance", "log_variance"])
def test_gaussian_nll_spreads_the_variance_by_pytorchs_rule(option):
    rng = np.random.default_rng(0)
    program = jax.jit(lambda p, t, v: jl.gaussian_nll(p, t, **{option: v}, reduction="none"))
    for p_shape, v_shape in GAUSSIAN_SHAPES:
        p, t = rng.normal(size=p_shape), rng.normal(size=p_shape)
        v = rng.uniform(0.5, 2.0, v_shape) if option == "variance" else rng.normal(size=v_shape)
        try:
            expected = torch_gaussian_nll(p, t, **{option: v})
        except ValueError:
            with pytest.raises(ValueError, match=rf"gaussian_nll: {option} of shape {re.escape(str(v_shape))} does "
                                                 r"not fit predictions of shape .*PyTorch's GaussianNLLLoss"):
                jl.gaussian_nll(p, t, **{option: v})
            continue
        np.testing.assert_allclose(jl.gaussian_nll(p, t, **{option: v}, reduction="none"), expected, rtol=1e-12,
                                   err_msg=f"{option} {v_shape} on {p_shape}")
        np.testing.assert_allclose(program(p, t, v), expected, rtol=1e-12)


def test_gaussian_nll_variance_gradient_below_the_clamp_is_the_gradient_at_the_clamp():
    p, t = jnp.ones(4), jnp.zeros(4)
    variance = jnp.array([1e-9, 0.0, 1e-6, 1.0])
    g = jax.grad(lambda v: jl.gaussian_nll(p, t, variance=v, reduction="sum"))(variance)
    # d/dv 0.5 (log v + e^2 / v) = 0.5 (1/v - e^2/v^2) at the clamped v = 1e-6 for the first three entries.
    # PyTorch 2.13 (clamp under no_grad): gaussian_nll_loss(1, 0, var, reduction="sum") gives -499999500000.0
    # for var = 1e-9 and 1e-6 alike.
    at_clamp = 0.5 * (1 / 1e-6 - 1 / 1e-6**2)
    np.testing.assert_allclose(g, [at_clamp, at_clamp, at_clamp, 0.0], rtol=1e-12, atol=1e-12)
    assert at_clamp == pytest.approx(-499999500000.0)
    # jit, float32 and the second derivative (of the clamped value: d^2/dv^2 at 1e-6) agree.
    g32 = jax.jit(jax.grad(lambda v: jl.gaussian_nll(p.astype(jnp.float32), t.astype(jnp.float32), variance=v,
                                                      reduction="sum")))(variance.astype(jnp.float32))
    np.testing.assert_allclose(g32, [at_clamp, at_clamp, at_clamp, 0.0], rtol=1e-5)
    h = jax.grad(jax.grad(lambda v: jl.gaussian_nll(jnp.ones(()), jnp.zeros(()), variance=v)))(1e-9)
    np.testing.assert_allclose(h, 0.5 * (-1 / 1e-6**2 + 2 / 1e-6**3), rtol=1e-9)


# -- class 6: NaN in excluded entries of array hyperparameters ---------------------------------------


PER_EXAMPLE = [(e.name, key) for e in ENTRIES for key in array_options(e)
               if key not in e.inputs.random(np.random.default_rng(0), 2).kwargs]


@pytest.mark.parametrize("name, key", _cases("nan", PER_EXAMPLE))
def test_an_array_hyperparameter_is_per_example_and_nan_where_excluded_reaches_no_gradient(name, key):
    """One value per example (distinct ones): read per example (each example's value is the loss's with
    that example's number) or refused by name; NaN at an excluded example reaches neither the value nor
    the gradient with respect to the predictions or the hyperparameter (equal to a finite fill there)."""
    entry = jl.info(name)
    s = entry.inputs.random(np.random.default_rng(1), 4)
    args, kwargs = s.cast(np.float64)
    shape = entry.inputs.example_shape(s)
    numbers = _valid_values(entry, key, shape[0])
    h = np.broadcast_to(numbers.reshape((-1,) + (1,) * (len(shape) - 1)), shape).copy()
    where = np.ones(shape, bool)
    where[1] = False
    planted = h.copy()
    planted[1] = np.nan

    @jax.jit
    def program(x, v, each):
        value, grads = jax.value_and_grad(lambda y, u: entry.fn(y, *args[1:], **kwargs, **{key: u}, where=where),
                                          argnums=(0, 1))(x, v)
        per_example = entry.fn(x, *args[1:], **kwargs, **{key: v}, where=where, reduction="none")
        one_number = jax.vmap(lambda u: entry.fn(x, *args[1:], **kwargs, **{key: u}, where=where, reduction="none"))
        return value, grads, per_example, one_number(each)

    x = jnp.asarray(args[0])
    try:  # one compilation: the first call traces (and would raise), the second reuses the program
        value, (gx, gh), per_example, by_number = program(x, jnp.asarray(planted), jnp.asarray(numbers))
    except (TypeError, ValueError) as err:
        # It takes no per-example array: it must say so, naming itself and the option (not a broadcasting
        # error of jnp's, which is also what a silent per-class reading raises when the shapes differ).
        assert f"{name}: {key}" in str(err), f"{name}: {key} of one value per example fails unclearly: {err}"
        return
    ref_value, (ref_gx, ref_gh), _, _ = program(x, jnp.asarray(h), jnp.asarray(numbers))
    diagonal = np.stack([np.asarray(by_number)[i, i] for i in range(shape[0])])
    np.testing.assert_allclose(per_example, diagonal, rtol=1e-12, atol=1e-14,
                               err_msg=f"{name}: {key} of one value per example is not read per example")
    for what, got, expected in (("value", value, ref_value), ("gradient w.r.t. the predictions", gx, ref_gx),
                                (f"gradient w.r.t. {key}", gh, ref_gh)):
        assert np.all(np.isfinite(np.asarray(got))), f"{name}: NaN in an excluded {key} entry leaks into the {what}"
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14, err_msg=f"{name}: {what}")
    assert not np.asarray(gh)[1].any() and not np.asarray(gx)[1].any()
    # One value per example with a trailing axis of 1, (N, 1): an error by name, never an (N, N) table of
    # NumPy's broadcasting against the per-example values (traced only, nothing compiled).
    column = numbers.reshape((-1,) + (1,) * len(shape))
    try:
        out = jax.eval_shape(lambda: entry.fn(*args, **kwargs, **{key: column}, reduction="none"))
    except (TypeError, ValueError) as err:
        assert f"{name}: {key}" in str(err), f"{name}: {key} of shape {column.shape} fails unclearly: {err}"
    else:
        assert out.shape == tuple(shape), f"{name}: {key} of shape {column.shape} gives values of shape {out.shape}"


# -- class 6: a loss of one's own in term and objective ------------------------------------------------


def _squared_error(p, t):  # optax's convention: per-example values, no reduction, no where
    return (p - t) ** 2


def _cross_entropy(logits, labels):  # per-example values over a class axis
    return -jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], axis=-1)[:, 0]


USER_LOSSES = [
    pytest.param(_squared_error, "mse", np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]),
                 np.array([[0.5, 1.0], [np.nan, np.nan], [4.0, 7.0]]), id="squared-error"),
    pytest.param(_cross_entropy, "softmax_cross_entropy", np.array([[1.0, 2.0, 0.5], [np.nan, 0.0, np.inf],
                                                                    [0.1, -1.0, 3.0]]),
                 np.array([2, 0, 1]), id="cross-entropy-over-classes"),
]


@pytest.mark.parametrize("user, registered, predictions, targets", USER_LOSSES)
def test_nan_in_an_excluded_example_reaches_no_gradient_through_a_users_loss(user, registered, predictions, targets):
    where = np.array([True, False, True])
    if registered == "mse":
        where = np.broadcast_to(where[:, None], predictions.shape)
    losses = {"term": jl.term(user), "sum of terms": jl.term(user) + jl.term(registered, weight=0.0),
              "registered": jl.get(registered)}

    @jax.jit
    def program(p: jax.Array) -> dict:
        out = {}
        for label, loss in losses.items():
            for reduction in ("mean", "sum"):
                out[label, reduction] = jax.value_and_grad(
                    lambda q, f=loss, r=reduction: f(q, targets, where=where, reduction=r))(p)
            out[label, "none"] = (loss(p, targets, where=where, reduction="none"),)
        return out

    results = program(jnp.asarray(predictions))
    for (label, reduction), got in results.items():
        expected = results["registered", reduction]
        for part, g, e in zip(("value", "gradient"), got, expected):
            assert np.all(np.isfinite(np.asarray(g))), f"{label} of {user.__name__}, {reduction}: NaN in the {part}"
            np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-15, err_msg=f"{label}, {reduction}: {part}")
    assert not np.asarray(results["term", "mean"][1])[1].any()  # the excluded example's gradient is 0

    # An objective: the model's predictions pass through the user's loss; NaN in an excluded target.
    def model(params, inputs):
        return inputs * params["scale"]

    batch = {"inputs": predictions, "targets": targets, "where": where}
    if registered == "softmax_cross_entropy":
        batch["inputs"] = np.where(np.isfinite(predictions), predictions, 0.0)
    objectives = {"function": jl.objective(model, user), "term": jl.objective(model, jl.term(user)),
                  "registered": jl.objective(model, registered)}
    grads = jax.jit(lambda params: {k: jax.value_and_grad(o)(params, batch) for k, o in objectives.items()})(
        {"scale": jnp.asarray(0.5)})
    for label, (value, g) in grads.items():
        assert np.isfinite(float(g["scale"])), f"NaN leaks into the objective's gradient through {label}"
        np.testing.assert_allclose(value, grads["registered"][0], rtol=1e-12)
        np.testing.assert_allclose(g["scale"], grads["registered"][1]["scale"], rtol=1e-12)


def test_a_users_loss_that_takes_where_itself_gets_it_unchanged():
    seen = {}

    def masked(p, t, where=None):
        seen["where"] = where
        seen["p"] = p
        return jnp.where(where, (p - t) ** 2, 0.0)

    p, t, where = jnp.array([1.0, 2.0]), jnp.array([0.0, 5.0]), jnp.array([True, False])
    np.testing.assert_allclose(jl.term(masked)(p, t, where=where), 1.0)
    assert seen["where"] is where and seen["p"] is p
