"""Registry-driven tests: every registered loss gets all of these for free.

Adding a loss to the registry adds its tests; a loss without a NumPy reference
in ``tests/references.py`` fails ``test_has_reference``.
"""

from __future__ import annotations

import functools
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxloss as jl
from jaxloss import _samples
from references import REFERENCES

ENTRIES = jl.catalog()
NAMES = [e.name for e in ENTRIES]
HALF = (jnp.float16, jnp.bfloat16)


def entries_with(prop: str) -> list[str]:
    return [e.name for e in ENTRIES if prop in e.properties]


def per_loss(names: list[str] | None = None):
    return pytest.mark.parametrize("name", NAMES if names is None else names)


def sample(name: str, seed: int = 0, n: int = 6) -> _samples.Sample:
    return _samples.random_inputs(jl.info(name).inputs, np.random.default_rng(seed), n)


def non_default_options(entry: jl.LossInfo) -> dict:
    """One in-range, non-default value per hyperparameter that has a slider."""
    out = {}
    for key, h in entry.hyperparameters.items():
        if h.slider is None:
            continue
        lo, hi = h.slider
        value = lo + 0.37 * (hi - lo)
        if h.contains(value):
            out[key] = value
    return out


def diff_args(entry: jl.LossInfo, args: tuple) -> tuple[int, ...]:
    return tuple(i for i in entry.differentiable_args if np.issubdtype(np.asarray(args[i]).dtype, np.floating))


def loss_of(entry: jl.LossInfo, args: tuple, kwargs: dict, argnum: int = 0, **options):
    """The loss as a function of one positional argument."""

    def f(x):
        a = list(args)
        a[argnum] = x
        return entry.fn(*a, **kwargs, **options)

    return f


# -- the catalog itself ---------------------------------------------------------------------------


@per_loss()
def test_has_reference(name):
    assert name in REFERENCES, f"{name} has no NumPy reference in tests/references.py"


@per_loss()
def test_metadata_complete(name):
    entry = jl.info(name)
    assert entry.formula and entry.summary and entry.reference
    assert entry.inputs in _samples.KINDS
    assert jl.get(name) is entry.fn
    for alias in entry.aliases:
        assert jl.get(alias) is entry.fn
    doc = entry.fn.__doc__ or ""
    assert "Args:" in doc and ">>>" in doc, f"{name}: docstring needs Args and an example"
    params = entry.fn.__wrapped__.__code__.co_varnames  # type: ignore[attr-defined]
    for key in entry.hyperparameters:
        assert key in params, f"{name}: registered hyperparameter {key} is not an argument"


@per_loss([e.name for e in ENTRIES if e.optax])
def test_named_optax_equivalent_exists(name):
    import optax

    assert hasattr(optax.losses, jl.info(name).optax), f"{name}: optax has no losses.{jl.info(name).optax}"


def test_get_unknown_name_lists_known_names():
    with pytest.raises(KeyError, match="Did you mean 'huber'") as err:
        jl.get("hubert")
    assert "mean_squared_error" in str(err.value)


def test_options_are_keyword_only():
    import inspect

    for entry in ENTRIES:
        sig = inspect.signature(entry.fn)
        n_positional = sum(p.kind is p.POSITIONAL_OR_KEYWORD for p in sig.parameters.values())
        for p in sig.parameters.values():
            if p.name in entry.hyperparameters or p.name in ("weights", "where", "reduction"):
                assert p.kind is p.KEYWORD_ONLY, f"{entry.name}: {p.name} must be keyword-only"
        assert n_positional >= 2, entry.name


# -- values ---------------------------------------------------------------------------------------


TUNABLE = [e.name for e in ENTRIES if non_default_options(e)]


@pytest.mark.parametrize("name, options", [(n, "default") for n in NAMES] + [(n, "non_default") for n in TUNABLE])
def test_values_match_reference(name, options):
    entry = jl.info(name)
    kw = {} if options == "default" else non_default_options(entry)
    for seed in range(3):
        s = sample(name, seed)
        args, kwargs = s.cast(np.float64)
        expected = REFERENCES[name](*args, **kwargs, **kw)
        got = np.asarray(entry.fn(*args, **kwargs, **kw, reduction="none"))
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(float(entry.fn(*args, **kwargs, **kw)), expected.mean(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(
            float(entry.fn(*args, **kwargs, **kw, reduction="sum")), expected.sum(), rtol=1e-10, atol=1e-12)


@per_loss()
def test_none_gives_one_value_per_example(name):
    entry = jl.info(name)
    s = sample(name)
    args, kwargs = s.cast(np.float32)
    out = entry.fn(*args, **kwargs, reduction="none")
    assert out.shape == _samples.example_shape(entry.inputs, s)
    assert entry.fn(*args, **kwargs).shape == ()


# -- gradients: reverse, forward, Hessian, against finite differences ---------------------------


def _directional_fd(f, x, v, h=1e-6):
    return (f(x + h * v) - f(x - h * v)) / (2 * h)


@per_loss()
def test_gradients_match_finite_differences(name):
    entry = jl.info(name)
    s = sample(name, seed=1)
    args, kwargs = s.cast(np.float64)
    rng = np.random.default_rng(2)
    for argnum in diff_args(entry, args):
        f = jax.jit(loss_of(entry, args, kwargs, argnum))
        grad_f = jax.jit(jax.grad(f))
        x = jnp.asarray(args[argnum])
        grad = grad_f(x)
        hess = jax.jit(jax.hessian(f))(x).reshape(x.size, x.size)
        forward = jax.jit(lambda x, v: jax.jvp(f, (x,), (v,))[1])
        for _ in range(3):
            v = jnp.asarray(rng.normal(size=x.shape))
            fd = _directional_fd(f, x, v)
            np.testing.assert_allclose(float(jnp.vdot(grad, v)), float(fd), rtol=1e-5, atol=1e-8, err_msg=f"{name} reverse")
            np.testing.assert_allclose(float(forward(x, v)), float(fd), rtol=1e-5, atol=1e-8, err_msg=f"{name} forward")
            fd_hv = _directional_fd(grad_f, x, v, h=1e-5)
            np.testing.assert_allclose(
                np.asarray(hess @ v.reshape(-1)), np.asarray(fd_hv).reshape(-1), rtol=1e-4, atol=1e-6,
                err_msg=f"{name} Hessian")


@per_loss(entries_with("smooth"))
def test_smooth_losses_have_exact_second_derivative_at_zero(name):
    """At zero error / zero logits, where kinks hide in the formulas."""
    entry = jl.info(name)
    args, kwargs = sample(name).cast(np.float64)
    args = list(args)
    if entry.task == "regression" or entry.family == "regression":
        args[0] = np.array(args[1], dtype=np.float64)
    else:
        args[0] = np.zeros_like(args[0])
    f = loss_of(entry, tuple(args), kwargs, 0, reduction="sum")
    x = jnp.asarray(args[0])
    hess_diag = jnp.diagonal(jax.hessian(f)(x).reshape(x.size, x.size))
    grad_f = jax.jit(jax.grad(f))
    fd_diag = []
    for i in range(x.size):
        e = np.zeros(x.size)
        e[i] = 1.0
        fd_diag.append(_directional_fd(lambda z: jnp.vdot(grad_f(z), e.reshape(x.shape)), x, e.reshape(x.shape), h=1e-4))
    np.testing.assert_allclose(np.asarray(hess_diag), np.asarray(fd_diag), rtol=1e-4, atol=1e-6)


# -- jit, vmap, grad agree ------------------------------------------------------------------------


@per_loss()
def test_jit_vmap_and_grad_agree(name):
    entry = jl.info(name)
    args, kwargs = sample(name).cast(np.float32)
    eager = entry.fn(*args, **kwargs, reduction="none")
    jitted = jax.jit(functools.partial(entry.fn, **kwargs, reduction="none"))
    np.testing.assert_allclose(jitted(*args), eager, rtol=1e-6, atol=1e-6)
    # Keyword arrays with one entry per example (Sample.example_kwargs) are mapped with the args.
    s_kw = sample(name).example_kwargs
    per_example_kw = {k: kwargs[k] for k in s_kw}
    options = {k: v for k, v in kwargs.items() if k not in s_kw}
    vmapped = jax.vmap(lambda a, kw: entry.fn(*a, **kw, **options, reduction="none"))(tuple(args), per_example_kw)
    np.testing.assert_allclose(vmapped, eager, rtol=1e-6, atol=1e-6)
    # The pattern of a training loop: predictions traced, everything else closed over as constants.
    closed = jax.jit(lambda x: entry.fn(x, *args[1:], **kwargs, reduction="none"))(args[0])
    np.testing.assert_allclose(closed, eager, rtol=1e-6, atol=1e-6)
    g_eager = jax.grad(entry.fn)(*args, **kwargs)
    g_jit = jax.jit(jax.grad(functools.partial(entry.fn, **kwargs)))(*args)
    np.testing.assert_allclose(g_jit, g_eager, rtol=1e-5, atol=1e-7)


@per_loss()
def test_second_call_does_not_recompile(name):
    entry = jl.info(name)
    f = jax.jit(functools.partial(entry.fn, **sample(name).kwargs))
    f(*sample(name, 0).cast(np.float32)[0])
    f(*sample(name, 1).cast(np.float32)[0])
    assert f._cache_size() == 1


# -- weights, where, reduction --------------------------------------------------------------------


def _row_mask(entry, s, rng):
    n = np.asarray(s.args[0]).shape[0]
    rows = rng.random(n) < 0.5
    rows[0], rows[-1] = True, False
    ndim = len(_samples.example_shape(entry.inputs, s))
    return rows, rows.reshape((n,) + (1,) * (ndim - 1))


@per_loss()
def test_where_equals_slicing_and_blocks_nan(name):
    entry = jl.info(name)
    s = sample(name, seed=3)
    args, kwargs = s.cast(np.float64)
    rows, where = _row_mask(entry, s, np.random.default_rng(3))
    sliced = tuple(np.asarray(a)[rows] for a in args)
    sliced_kwargs = {k: np.asarray(v)[rows] if k in s.example_kwargs else v for k, v in kwargs.items()}
    for reduction in ("mean", "sum"):
        np.testing.assert_allclose(
            entry.fn(*args, **kwargs, where=where, reduction=reduction),
            entry.fn(*sliced, **sliced_kwargs, reduction=reduction), rtol=1e-12, atol=1e-12)
    # Garbage in the excluded examples changes nothing, not even the gradient.
    poisoned = []
    for i, a in enumerate(args):
        a = np.array(a)
        if np.issubdtype(a.dtype, np.floating):
            a[~rows] = np.nan
        else:
            a[~rows] = -100  # an invalid label
        poisoned.append(a)
    clean = entry.fn(*args, **kwargs, where=where)
    dirty = entry.fn(*poisoned, **kwargs, where=where)
    np.testing.assert_allclose(dirty, clean, rtol=1e-12)
    for argnum in diff_args(entry, args):
        g = jax.grad(loss_of(entry, tuple(poisoned), kwargs, argnum, where=where))(jnp.asarray(poisoned[argnum]))
        assert np.all(np.isfinite(g)), f"{name}: NaN leaked into the gradient through where"
        assert np.all(np.asarray(g)[~rows] == 0)


@per_loss()
def test_all_false_mask_gives_zero(name):
    entry = jl.info(name)
    s = sample(name)
    args, kwargs = s.cast(np.float32)
    where = np.zeros(_samples.example_shape(entry.inputs, s), bool)
    assert float(entry.fn(*args, **kwargs, where=where)) == 0.0
    for argnum in diff_args(entry, args):
        g = jax.grad(loss_of(entry, args, kwargs, argnum, where=where))(jnp.asarray(args[argnum]))
        assert np.all(np.asarray(g) == 0)


@per_loss()
def test_weights_give_the_weighted_mean(name):
    entry = jl.info(name)
    s = sample(name, seed=4)
    args, kwargs = s.cast(np.float64)
    per_example = REFERENCES[name](*args, **kwargs)
    w = np.random.default_rng(4).uniform(0.1, 2.0, per_example.shape)
    np.testing.assert_allclose(
        entry.fn(*args, **kwargs, weights=w), np.sum(w * per_example) / np.sum(w), rtol=1e-10)
    np.testing.assert_allclose(entry.fn(*args, **kwargs, weights=w, reduction="sum"), np.sum(w * per_example), rtol=1e-10)
    np.testing.assert_allclose(entry.fn(*args, **kwargs, weights=w, reduction="none"), w * per_example, rtol=1e-10, atol=1e-14)
    # Zero weight on every example: 0, not NaN.
    assert float(entry.fn(*args, **kwargs, weights=np.zeros_like(w))) == 0.0


# -- dtypes ---------------------------------------------------------------------------------------


@per_loss()
@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16, jnp.float32, jnp.float64], ids=lambda d: jnp.dtype(d).name)
def test_dtype_is_kept_and_half_precision_is_accurate(name, dtype):
    entry = jl.info(name)
    s = sample(name, seed=5)
    args, kwargs = s.cast(dtype)
    out = entry.fn(*args, **kwargs, reduction="none")
    assert out.dtype == jnp.dtype(dtype)
    grads = jax.grad(entry.fn)(*args, **kwargs)
    assert grads.dtype == jnp.dtype(dtype)
    # The same (rounded) inputs computed in float64.
    exact = entry.fn(*[np.asarray(a).astype(np.float64) if np.issubdtype(np.asarray(a).dtype, np.floating)
                        or np.asarray(a).dtype == jnp.bfloat16 else a for a in args], **kwargs, reduction="none")
    np.testing.assert_allclose(np.asarray(out, np.float64), exact, rtol=1e-2, atol=1e-3 * (1 + np.abs(exact).max()))


# -- stability at hard inputs ---------------------------------------------------------------------


def hard_cases():
    params = []
    for entry in ENTRIES:
        for i, case in enumerate(jl.inspection.stability_cases(entry.name)):
            params.append(pytest.param(entry.name, i, id=f"{entry.name}-{case.description.replace(' ', '_')}"))
    return params


# float16 has the narrow range (an input or a loss above 65504 overflows); bfloat16 has float32's range
# and is computed in float32, so its hard-input card adds little here: random bfloat16 inputs are
# checked by the dtype test, and `jaxloss check` runs the bfloat16 battery too.
@pytest.mark.parametrize("name, case_index", hard_cases())
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float16], ids=lambda d: jnp.dtype(d).name)
def test_stable_at_hard_inputs(name, case_index, dtype):
    """The stability card's battery (jaxloss.check): value, jit value, gradient, forward derivative and
    (float32) Hessian all finite; skipped only for options the loss does not take, inputs promised finite
    only under a property it does not claim, and inputs or values that overflow the dtype."""
    card = jl.check(name, cases=[case_index], dtypes=[dtype])
    (row,) = card.rows
    if row.skipped:
        pytest.skip(row.detail)
    assert card.ok, str(card)


# -- claimed properties ---------------------------------------------------------------------------


@per_loss(entries_with("nonnegative"))
def test_property_nonnegative(name):
    entry = jl.info(name)
    for seed in range(5):
        args, kwargs = sample(name, seed, n=20).cast(np.float64)
        assert np.all(np.asarray(entry.fn(*args, **kwargs, reduction="none")) >= -1e-12)


@per_loss(entries_with("zero_at_target"))
def test_property_zero_at_target(name):
    entry = jl.info(name)
    s = _samples.perfect_inputs(entry.inputs, np.random.default_rng(7))
    assert s is not None, f"{name} claims zero_at_target but its input kind has no perfect inputs"
    args, kwargs = s.cast(np.float64)
    np.testing.assert_allclose(entry.fn(*args, **kwargs, reduction="none"), 0.0, atol=1e-9)


@per_loss(entries_with("convex"))
def test_property_convex_along_random_lines(name):
    entry = jl.info(name)
    rng = np.random.default_rng(8)
    for seed in range(4):
        args, kwargs = sample(name, seed).cast(np.float64)
        f = loss_of(entry, args, kwargs, 0, reduction="sum")
        x = np.asarray(args[0])
        d = rng.normal(size=x.shape)
        steps = np.linspace(-2, 2, 41)
        values = np.array([float(f(x + s * d)) for s in steps])
        second = values[:-2] - 2 * values[1:-1] + values[2:]
        assert np.all(second >= -1e-9 * (1 + np.abs(values).max())), f"{name} is not convex along a line"


@per_loss(entries_with("bounded_gradient"))
def test_property_bounded_gradient(name):
    entry = jl.info(name)
    args, kwargs = sample(name).cast(np.float64)
    norms = []
    for scale in (1e2, 1e4, 1e6):
        a = list(args)
        a[0] = np.asarray(args[0]) * scale
        g = jax.grad(loss_of(entry, tuple(a), kwargs, 0, reduction="sum"))(jnp.asarray(a[0]))
        norms.append(float(jnp.max(jnp.abs(g))))
    assert norms[2] <= 1.01 * norms[0] + 1e-9, f"{name}: gradient grows with the error: {norms}"


@per_loss(entries_with("symmetric"))
def test_property_symmetric(name):
    entry = jl.info(name)
    args, kwargs = sample(name).cast(np.float64)
    t = np.asarray(args[1])
    e = np.random.default_rng(9).uniform(0.1, 0.5, t.shape)
    plus = entry.fn(t + e, t, *args[2:], **kwargs, reduction="none")
    minus = entry.fn(t - e, t, *args[2:], **kwargs, reduction="none")
    np.testing.assert_allclose(plus, minus, rtol=1e-9, atol=1e-12)


@per_loss(entries_with("proper_scoring_rule"))
def test_property_proper_scoring_rule(name):
    """The expected loss under a target distribution q is stationary at the prediction q."""
    entry = jl.info(name)
    rng = np.random.default_rng(10)
    if entry.inputs == "class_logits":
        k = _samples.NUM_CLASSES
        q = rng.dirichlet(np.ones(k), 4)
        labels = np.arange(k, dtype=np.int32)

        def expected(x):
            per_class = jnp.stack([entry.fn(x, np.full(4, c, np.int32), reduction="none") for c in labels], -1)
            return jnp.sum(q * per_class)

        x_star = jnp.asarray(np.log(q))
    elif entry.inputs == "binary_logits":
        q = rng.uniform(0.05, 0.95, (4, 3))

        def expected(x):
            return jnp.sum(q * entry.fn(x, np.ones_like(q), reduction="none")
                           + (1 - q) * entry.fn(x, np.zeros_like(q), reduction="none"))

        x_star = jnp.asarray(np.log(q / (1 - q)))
    else:
        raise AssertionError(f"no proper-scoring check for inputs {entry.inputs!r}")
    np.testing.assert_allclose(jax.grad(expected)(x_star), 0.0, atol=1e-9)
    # And it is a minimum, not just a stationary point.
    bump = jnp.asarray(rng.normal(size=x_star.shape)) * 0.1
    assert float(expected(x_star + bump)) > float(expected(x_star))


# -- bad input ------------------------------------------------------------------------------------


@per_loss()
def test_bad_reduction_lists_the_choices(name):
    entry = jl.info(name)
    args, kwargs = sample(name).cast(np.float32)
    with pytest.raises(ValueError, match=f"{name}: reduction='avg'.*'mean', 'sum', 'none'"):
        entry.fn(*args, **kwargs, reduction="avg")


@per_loss()
def test_shape_mismatch_names_the_shapes(name):
    entry = jl.info(name)
    args, kwargs = sample(name).cast(np.float32)
    bad = list(args)
    bad[1] = np.asarray(args[1])[:-1]
    with pytest.raises(ValueError) as err:
        entry.fn(*bad, **kwargs)
    message = str(err.value)
    assert message.startswith(f"{name}:"), message
    assert str(tuple(np.shape(bad[1]))) in message and str(tuple(np.shape(args[0]))) in message, message


@per_loss()
def test_integer_predictions_are_a_type_error(name):
    entry = jl.info(name)
    args, kwargs = sample(name).cast(np.float32)
    bad = list(args)
    bad[0] = np.round(np.asarray(args[0])).astype(np.int32)
    with pytest.raises(TypeError, match=f"{name}: .*floating point.*got dtype int32"):
        entry.fn(*bad, **kwargs)


@per_loss()
def test_non_boolean_where_is_a_type_error(name):
    entry = jl.info(name)
    s = sample(name)
    args, kwargs = s.cast(np.float32)
    with pytest.raises(TypeError, match="where must be a boolean mask"):
        entry.fn(*args, **kwargs, where=np.ones(_samples.example_shape(entry.inputs, s)))


def _out_of_range_cases():
    for entry in ENTRIES:
        for key, h in entry.hyperparameters.items():
            if h.low is not None:
                yield pytest.param(entry.name, key, h.low - 1.0, id=f"{entry.name}-{key}-low")
            if h.high is not None:
                yield pytest.param(entry.name, key, h.high + 1.0, id=f"{entry.name}-{key}-high")


@pytest.mark.parametrize("name, key, value", list(_out_of_range_cases()))
def test_hyperparameter_out_of_range(name, key, value):
    entry = jl.info(name)
    args, kwargs = sample(name).cast(np.float32)
    with pytest.raises(ValueError, match=f"{name}: {key}={value:g} is out of range; {key} must be"):
        entry.fn(*args, **kwargs, **{key: value})


LABEL_KINDS = [e.name for e in ENTRIES if e.inputs in ("class_logits", "class_log_probs")]


@per_loss(LABEL_KINDS)
def test_out_of_range_labels(name):
    entry = jl.info(name)
    args, kwargs = sample(name).cast(np.float32)
    labels = np.array(args[1])
    labels[2] = _samples.NUM_CLASSES + 3
    labels[4] = -1
    with pytest.raises(ValueError, match=re.escape(f"values [-1, {_samples.NUM_CLASSES + 3}]")):
        entry.fn(args[0], labels, **kwargs)
    # Under jit the bad examples are NaN in value and gradient; the others are untouched.
    per_example = jax.jit(functools.partial(entry.fn, reduction="none"))(args[0], labels)
    assert np.isnan(per_example[2]) and np.isnan(per_example[4])
    assert np.all(np.isfinite(np.delete(np.asarray(per_example), [2, 4])))
    g = np.asarray(jax.jit(jax.grad(entry.fn))(args[0], labels))
    assert np.isnan(g[2]).any() and np.isnan(g[4]).any()
    assert np.all(np.isfinite(np.delete(g, [2, 4], axis=0)))
    assert np.isnan(float(jax.jit(entry.fn)(args[0], labels)))
