"""Registry-driven tests: every registered loss gets all of these for free.

Adding a loss to the registry adds its tests; a loss without a NumPy reference in its family's
module, ``tests/losses/references/<family>.py``, fails ``test_has_reference``.

The battery is compile-bound, so each loss's checks share a few compiled programs
(``tests/losses/_battery.py``): arrays are arguments of cached jitted callables, one sample shape
per input kind (``tests/losses/_inputs.py``), and a loss's items run together on one xdist worker
(``xdist_group``). Eager, op-by-op calls are kept where a test is about them: jit == eager, and the
concrete checks that only an eager call makes (masked garbage must not raise).
"""

from __future__ import annotations

import pathlib
import re

import _battery as battery
import _inputs as inputs
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from references import REFERENCES

import jaxloss as jl
from jaxloss._options import OptionKind
from jaxloss import _kinds

ENTRIES = jl.catalog()
NAMES = [e.name for e in ENTRIES]
HERE = pathlib.Path(__file__).parent


def family_module(family: str) -> str:
    """The file stem of a family's tests and references (``test_<stem>.py``, ``references/<stem>.py``)."""
    return {"surrogate": "surrogates"}.get(family, family)


def entries_with(prop: str) -> list[str]:
    return [e.name for e in ENTRIES if prop in e.properties]


def by_loss(name: str, *values: object) -> object:
    """One parameter set of a loss's test, run on the worker that holds the loss's compiled programs."""
    return pytest.param(name, *values, marks=pytest.mark.xdist_group(name))


def per_loss(names: list[str] | None = None):
    return pytest.mark.parametrize("name", [by_loss(n) for n in (NAMES if names is None else names)])


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


def replaced(args: tuple, argnum: int, x: object) -> tuple:
    a = list(args)
    a[argnum] = x
    return tuple(a)


def examples(entry: jl.LossInfo, s: inputs.Sample) -> int:
    """How many per-example losses the mean divides by (no weights, no mask): sum = mean * this."""
    return int(np.prod(inputs.example_shape(entry, s)))


# -- the catalog itself ---------------------------------------------------------------------------


@per_loss()
def test_has_reference(name):
    module = family_module(jl.info(name).family)
    assert name in REFERENCES, f"{name} has no NumPy reference in tests/losses/references/{module}.py"
    assert REFERENCES[name].__module__ == f"references.{module}", (
        f"{name}: its reference belongs in tests/losses/references/{module}.py (the {jl.info(name).family} family)")


def test_every_family_has_its_test_and_reference_module():
    for family in sorted({e.family for e in ENTRIES}):
        module = family_module(family)
        assert (HERE / f"test_{module}.py").exists(), f"no tests/losses/test_{module}.py for the {family} family"
        assert (HERE / "references" / f"{module}.py").exists(), f"no tests/losses/references/{module}.py"


@per_loss()
def test_metadata_complete(name):
    entry = jl.info(name)
    assert entry.formula and entry.summary and entry.reference
    assert inputs.kind_is_known(entry)
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


def test_named_torch_and_keras_equivalents_are_qualified_names_that_exist_where_installed():
    """Each equivalent is a qualified name of its library; where that library is installed here (PyTorch
    is, on a developer's machine; CI installs neither), the name resolves to a loss of it."""
    import importlib
    import re

    checked = 0
    for entry in ENTRIES:
        for library, name in (("torch", entry.torch), ("keras", entry.keras)):
            if name is None:
                continue
            assert re.fullmatch(rf"{library}(vision)?(\.[A-Za-z_]\w*)+", name), f"{entry.name}: {library}={name!r}"
            module, _, attribute = name.rpartition(".")
            try:
                found = importlib.import_module(module)
            except ImportError:
                continue
            assert hasattr(found, attribute), f"{entry.name}: {name} does not exist in this {library}"
            checked += 1
    assert sum(1 for e in ENTRIES if e.torch) >= 15 and sum(1 for e in ENTRIES if e.keras) >= 12
    assert checked == 0 or checked >= 15, f"only {checked} equivalents were resolved"


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


@pytest.mark.parametrize("name, options", [by_loss(n, "default") for n in NAMES]
                         + [by_loss(n, "non_default") for n in TUNABLE])
def test_values_match_reference(name, options):
    entry = jl.info(name)
    kw = {} if options == "default" else non_default_options(entry)
    for seed in range(3):
        args, kwargs = inputs.sample(entry, seed).cast(np.float64)
        expected = REFERENCES[name](*args, **kwargs, **kw)
        none, mean, total = battery.values(name, args, kwargs, **kw)
        np.testing.assert_allclose(np.asarray(none), expected, rtol=1e-10, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(float(mean), expected.mean(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(float(total), expected.sum(), rtol=1e-10, atol=1e-12)


@per_loss()
def test_none_gives_one_value_per_example(name):
    entry = jl.info(name)
    s = inputs.sample(entry)
    args, kwargs = s.cast(np.float32)
    none, mean, _ = battery.values(name, args, kwargs)
    assert none.shape == inputs.example_shape(entry, s)
    assert mean.shape == ()


# -- gradients: reverse, forward, Hessian, against finite differences ---------------------------


def _directional_fd(f, x, v, h=1e-6):
    return (f(x + h * v) - f(x - h * v)) / (2 * h)


@per_loss()
def test_gradients_match_finite_differences(name):
    entry = jl.info(name)
    args, kwargs = inputs.sample(entry, seed=1).cast(np.float64)
    rng = np.random.default_rng(2)
    for argnum in battery.diff_args(entry, args):

        def f(z, argnum=argnum):
            return battery.values(name, replaced(args, argnum, z), kwargs)[1]

        def grad_f(z, argnum=argnum):
            return battery.grad(name, replaced(args, argnum, z), kwargs, argnum=argnum)

        x = jnp.asarray(args[argnum])
        grad = grad_f(x)
        directions = [jnp.asarray(rng.normal(size=x.shape)) for _ in range(3)]
        hess, forward = battery.hessian_and_jvps(name, args, kwargs, jnp.stack(directions), argnum=argnum)
        for v, jvp in zip(directions, forward):
            fd = _directional_fd(f, x, v)
            np.testing.assert_allclose(float(jnp.vdot(grad, v)), float(fd), rtol=1e-5, atol=1e-8, err_msg=f"{name} reverse")
            np.testing.assert_allclose(float(jvp), float(fd), rtol=1e-5, atol=1e-8, err_msg=f"{name} forward")
            fd_hv = _directional_fd(grad_f, x, v, h=1e-5)
            np.testing.assert_allclose(
                np.asarray(hess @ v.reshape(-1)), np.asarray(fd_hv).reshape(-1), rtol=1e-4, atol=1e-6,
                err_msg=f"{name} Hessian")


@per_loss(entries_with("smooth"))
def test_smooth_losses_have_exact_second_derivative_at_zero(name):
    """At zero error / zero logits, where kinks hide in the formulas (the Hessian of the sum, as
    mean * examples, so that the gradient test's programs serve)."""
    entry = jl.info(name)
    s = inputs.sample(entry)
    args, kwargs = s.cast(np.float64)
    if entry.task == "regression" or entry.family == "regression":
        x = np.array(args[1], dtype=np.float64)
    else:
        x = np.zeros_like(args[0])
    args = replaced(args, 0, x)
    count = examples(entry, s)
    hess, _ = battery.hessian_and_jvps(name, args, kwargs, jnp.zeros((3, *x.shape)))
    hess_diag = np.diagonal(np.asarray(hess)) * count

    def grad_f(z):
        return battery.grad(name, replaced(args, 0, z), kwargs) * count

    fd_diag = []
    for i in range(x.size):
        e = np.zeros(x.size)
        e[i] = 1.0
        fd_diag.append(_directional_fd(lambda z: jnp.vdot(grad_f(z), e.reshape(x.shape)), x, e.reshape(x.shape), h=1e-4))
    np.testing.assert_allclose(hess_diag, np.asarray(fd_diag), rtol=1e-4, atol=1e-6)


# -- jit, vmap, grad agree ------------------------------------------------------------------------


@per_loss()
def test_jit_vmap_and_grad_agree(name):
    """The one eager check of every loss: op-by-op values and gradients equal the compiled ones."""
    entry = jl.info(name)
    s = inputs.sample(entry)
    args, kwargs = s.cast(np.float32)
    eager = entry.fn(*args, **kwargs, reduction="none")
    np.testing.assert_allclose(battery.values(name, args, kwargs)[0], eager, rtol=1e-6, atol=1e-6)
    # Keyword arrays with one entry per example (Sample.example_kwargs) are mapped with the args.
    per_example_kw = {k: kwargs[k] for k in s.example_kwargs}
    options = {k: v for k, v in kwargs.items() if k not in s.example_kwargs}
    vmapped = jax.jit(jax.vmap(lambda a, kw: entry.fn(*a, **kw, **options, reduction="none")))(tuple(args), per_example_kw)
    np.testing.assert_allclose(vmapped, eager, rtol=1e-6, atol=1e-6)
    # The pattern of a training loop: predictions traced, everything else closed over as constants.
    closed = jax.jit(lambda x: entry.fn(x, *args[1:], **kwargs, reduction="none"))(args[0])
    np.testing.assert_allclose(closed, eager, rtol=1e-6, atol=1e-6)
    g_eager = jax.grad(entry.fn)(*args, **kwargs)
    np.testing.assert_allclose(battery.grad(name, args, kwargs), g_eager, rtol=1e-5, atol=1e-7)


@per_loss()
def test_second_call_does_not_recompile(name):
    entry = jl.info(name)
    first = inputs.sample(entry, 0).cast(np.float32)
    battery.values(name, *first)
    program = battery.values_program(name, *first)
    compiled = program._cache_size()
    battery.values(name, *inputs.sample(entry, 1).cast(np.float32))  # new values, same shapes
    assert program._cache_size() == compiled


# -- weights, where, reduction --------------------------------------------------------------------


def _row_mask(entry, s, rng):
    n = np.asarray(s.args[0]).shape[0]
    rows = rng.random(n) < 0.5
    rows[0], rows[-1] = True, False
    ndim = len(inputs.example_shape(entry, s))
    return rows, rows.reshape((n,) + (1,) * (ndim - 1))


@per_loss()
def test_where_equals_slicing_and_blocks_nan(name):
    entry = jl.info(name)
    s = inputs.sample(entry, seed=3)
    args, kwargs = s.cast(np.float64)
    rows, where = _row_mask(entry, s, np.random.default_rng(3))
    sliced = tuple(np.asarray(a)[rows] for a in args)
    sliced_kwargs = {k: np.asarray(v)[rows] if k in s.example_kwargs else v for k, v in kwargs.items()}
    _, masked_mean, masked_sum = battery.values(name, args, kwargs, where=where)
    _, sliced_mean, sliced_sum = battery.values(name, sliced, sliced_kwargs)  # the one second shape
    np.testing.assert_allclose(masked_mean, sliced_mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(masked_sum, sliced_sum, rtol=1e-12, atol=1e-12)
    # Garbage in the excluded examples changes nothing, not even the gradient.
    poisoned = []
    for a in args:
        a = np.array(a)
        if np.issubdtype(a.dtype, np.floating):
            a[~rows] = np.nan
        else:
            a[~rows] = -100  # an invalid label
        poisoned.append(a)
    # Eager on purpose: the concrete input checks must ignore the excluded examples.
    dirty = entry.fn(*poisoned, **kwargs, where=where)
    np.testing.assert_allclose(dirty, masked_mean, rtol=1e-12)
    np.testing.assert_allclose(battery.values(name, tuple(poisoned), kwargs, where=where)[1], masked_mean, rtol=1e-12)
    for argnum in battery.diff_args(entry, args):
        g = battery.grad(name, tuple(poisoned), kwargs, argnum=argnum, where=where)
        assert np.all(np.isfinite(g)), f"{name}: NaN leaked into the gradient through where"
        assert np.all(np.asarray(g)[~rows] == 0)


@per_loss()
def test_all_false_mask_gives_zero(name):
    entry = jl.info(name)
    s = inputs.sample(entry)
    args, kwargs = s.cast(np.float32)
    where = np.zeros(inputs.example_shape(entry, s), bool)
    assert float(battery.values(name, args, kwargs, where=where)[1]) == 0.0
    for argnum in battery.diff_args(entry, args):
        g = battery.grad(name, args, kwargs, argnum=argnum, where=where)
        assert np.all(np.asarray(g) == 0)


@per_loss()
def test_weights_give_the_weighted_mean(name):
    entry = jl.info(name)
    args, kwargs = inputs.sample(entry, seed=4).cast(np.float64)
    per_example = REFERENCES[name](*args, **kwargs)
    w = np.random.default_rng(4).uniform(0.1, 2.0, per_example.shape)
    none, mean, total = battery.values(name, args, kwargs, weights=w)
    np.testing.assert_allclose(mean, np.sum(w * per_example) / np.sum(w), rtol=1e-10)
    np.testing.assert_allclose(total, np.sum(w * per_example), rtol=1e-10)
    np.testing.assert_allclose(none, w * per_example, rtol=1e-10, atol=1e-14)
    # Zero weight on every example: 0, not NaN.
    assert float(battery.values(name, args, kwargs, weights=np.zeros_like(w))[1]) == 0.0


# -- dtypes ---------------------------------------------------------------------------------------


@per_loss()
@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16, jnp.float32, jnp.float64], ids=lambda d: jnp.dtype(d).name)
def test_dtype_is_kept_and_half_precision_is_accurate(name, dtype):
    entry = jl.info(name)
    args, kwargs = inputs.sample(entry, seed=5).cast(dtype)
    out = battery.values(name, args, kwargs)[0]
    assert out.dtype == jnp.dtype(dtype)
    grads = battery.grad(name, args, kwargs)
    assert grads.dtype == jnp.dtype(dtype)
    # The same (rounded) inputs computed in float64.
    exact = battery.values(name, tuple(np.asarray(a).astype(np.float64) if battery.floating(a) else a for a in args),
                           kwargs)[0]
    np.testing.assert_allclose(np.asarray(out, np.float64), exact, rtol=1e-2, atol=1e-3 * (1 + np.abs(exact).max()))


# -- stability at hard inputs ---------------------------------------------------------------------


# float16 has the narrow range (an input or a loss above 65504 overflows); bfloat16 has float32's range
# and is computed in float32, so its hard-input card adds little here: random bfloat16 inputs are
# checked by the dtype test, and `jaxloss check` runs the bfloat16 battery too.
@per_loss()
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float16], ids=lambda d: jnp.dtype(d).name)
def test_stable_at_hard_inputs(name, dtype, record_property):
    """The stability card's battery (jaxloss.check), every hard input of the loss in one card: value,
    jit value, gradient, forward derivative and (float32) Hessian all finite. The card skips a row,
    with its reason, only for options the loss does not take, inputs promised finite only under a
    property it does not claim, and inputs or values that overflow the dtype: those rows are counted
    apart (``tests/count_checks.py``), not as checks."""
    card = jl.check(name, dtypes=[dtype])
    assert card.ok, str(card)
    assert [r.case for r in card.rows] == [c.description for c in inputs.hard(name)]
    for row in card.rows:
        check_id = f"{row.dtype}-{name}-{row.case.replace(' ', '_')}"
        if row.skipped:
            record_property("skipped_check", ("test_stable_at_hard_inputs", check_id, "", row.detail))
        else:
            record_property("check", ("test_stable_at_hard_inputs", check_id, ""))


# -- claimed properties ---------------------------------------------------------------------------


@per_loss(entries_with("nonnegative"))
def test_property_nonnegative(name):
    entry = jl.info(name)
    for seed in range(17):  # 102 random examples (formerly 5 samples of 20)
        args, kwargs = inputs.sample(entry, seed).cast(np.float64)
        assert np.all(np.asarray(battery.values(name, args, kwargs)[0]) >= -1e-12)


@per_loss(entries_with("zero_at_target"))
def test_property_zero_at_target(name):
    entry = jl.info(name)
    s = inputs.perfect(entry)
    assert s is not None, f"{name} claims zero_at_target but its input kind has no perfect inputs"
    args, kwargs = s.cast(np.float64)
    np.testing.assert_allclose(battery.values(name, args, kwargs)[0], 0.0, atol=1e-9)


@per_loss(entries_with("convex"))
def test_property_convex_along_random_lines(name):
    entry = jl.info(name)
    rng = np.random.default_rng(8)
    for seed in range(4):
        args, kwargs = inputs.sample(entry, seed).cast(np.float64)
        x = np.asarray(args[0])
        d = rng.normal(size=x.shape)
        steps = np.linspace(-2, 2, 41)
        values = np.array([float(battery.values(name, replaced(args, 0, x + s * d), kwargs)[2]) for s in steps])
        second = values[:-2] - 2 * values[1:-1] + values[2:]
        assert np.all(second >= -1e-9 * (1 + np.abs(values).max())), f"{name} is not convex along a line"


@per_loss(entries_with("bounded_gradient"))
def test_property_bounded_gradient(name):
    entry = jl.info(name)
    s = inputs.sample(entry)
    args, kwargs = s.cast(np.float64)
    norms = []
    for scale in (1e2, 1e4, 1e6):
        g = battery.grad(name, replaced(args, 0, np.asarray(args[0]) * scale), kwargs) * examples(entry, s)  # of the sum
        norms.append(float(jnp.max(jnp.abs(g))))
    assert norms[2] <= 1.01 * norms[0] + 1e-9, f"{name}: gradient grows with the error: {norms}"


@per_loss(entries_with("symmetric"))
def test_property_symmetric(name):
    entry = jl.info(name)
    args, kwargs = inputs.sample(entry).cast(np.float64)
    t = np.asarray(args[1])
    e = np.random.default_rng(9).uniform(0.1, 0.5, t.shape)
    plus = battery.values(name, (t + e, t, *args[2:]), kwargs)[0]
    minus = battery.values(name, (t - e, t, *args[2:]), kwargs)[0]
    np.testing.assert_allclose(plus, minus, rtol=1e-9, atol=1e-12)


@per_loss(entries_with("proper_scoring_rule"))
def test_property_proper_scoring_rule(name):
    """The expected loss under a target distribution q is stationary at the prediction q."""
    entry = jl.info(name)
    rng = np.random.default_rng(10)
    n = inputs.N
    if inputs.is_kind(entry, _kinds.CLASS_LOGITS):
        k = inputs.NUM_CLASSES
        q = rng.dirichlet(np.ones(k), n)
        labels = [np.full(n, c, np.int32) for c in range(k)]

        def expected(x):
            per_class = jnp.stack([entry.fn(x, y, reduction="none") for y in labels], -1)
            return jnp.sum(q * per_class)

        x_star = jnp.asarray(np.log(q))
    elif inputs.is_kind(entry, _kinds.BINARY_LOGITS):
        q = rng.uniform(0.05, 0.95, (n, 3))

        def expected(x):
            return jnp.sum(q * entry.fn(x, np.ones_like(q), reduction="none")
                           + (1 - q) * entry.fn(x, np.zeros_like(q), reduction="none"))

        x_star = jnp.asarray(np.log(q / (1 - q)))
    else:
        raise AssertionError(f"no proper-scoring check for inputs {inputs.kind_name(entry)!r}")
    value_and_grad = jax.jit(jax.value_and_grad(expected))
    np.testing.assert_allclose(value_and_grad(x_star)[1], 0.0, atol=1e-9)
    # And it is a minimum, not just a stationary point.
    bump = jnp.asarray(rng.normal(size=x_star.shape)) * 0.1
    assert float(value_and_grad(x_star + bump)[0]) > float(value_and_grad(x_star)[0])


# -- bad input (raised before anything computes: eager calls cost nothing here) --------------------


@per_loss()
def test_bad_reduction_lists_the_choices(name):
    entry = jl.info(name)
    args, kwargs = inputs.sample(entry).cast(np.float32)
    with pytest.raises(ValueError, match=f"{name}: reduction='avg'.*'mean', 'sum', 'none'"):
        entry.fn(*args, **kwargs, reduction="avg")


@per_loss()
def test_shape_mismatch_names_the_shapes(name):
    entry = jl.info(name)
    args, kwargs = inputs.sample(entry).cast(np.float32)
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
    args, kwargs = inputs.sample(entry).cast(np.float32)
    bad = list(args)
    bad[0] = np.round(np.asarray(args[0])).astype(np.int32)
    with pytest.raises(TypeError, match=f"{name}: .*floating point.*got dtype int32"):
        entry.fn(*bad, **kwargs)


@per_loss()
def test_non_boolean_where_is_a_type_error(name):
    entry = jl.info(name)
    s = inputs.sample(entry)
    args, kwargs = s.cast(np.float32)
    with pytest.raises(TypeError, match="where must be a boolean mask"):
        entry.fn(*args, **kwargs, where=np.ones(inputs.example_shape(entry, s)))


def _out_of_range_cases():
    for entry in ENTRIES:
        for key, h in entry.hyperparameters.items():
            if h.low is not None:
                yield pytest.param(entry.name, key, h.low - 1.0, id=f"{entry.name}-{key}-low",
                                   marks=pytest.mark.xdist_group(entry.name))
            if h.high is not None:
                yield pytest.param(entry.name, key, h.high + 1.0, id=f"{entry.name}-{key}-high",
                                   marks=pytest.mark.xdist_group(entry.name))


@pytest.mark.parametrize("name, key, value", list(_out_of_range_cases()))
def test_hyperparameter_out_of_range(name, key, value):
    entry = jl.info(name)
    args, kwargs = inputs.sample(entry).cast(np.float32)
    if entry.options[key].kind is OptionKind.INTEGER:  # a count or an index is an integer, never 0.0
        value = int(value)
    with pytest.raises(ValueError, match=f"{name}: {key}={value:g} is out of range; {key} must be"):
        entry.fn(*args, **kwargs, **{key: value})


LABEL_KINDS = [e.name for e in ENTRIES if inputs.is_kind(e, _kinds.CLASS_LOGITS, _kinds.CLASS_LOG_PROBS)]


@per_loss(LABEL_KINDS)
def test_out_of_range_labels(name):
    entry = jl.info(name)
    args, kwargs = inputs.sample(entry).cast(np.float32)
    labels = np.array(args[1])
    labels[2] = inputs.NUM_CLASSES + 3
    labels[4] = -1
    with pytest.raises(ValueError, match=re.escape(f"values [-1, {inputs.NUM_CLASSES + 3}]")):
        entry.fn(args[0], labels, **kwargs)
    # Under jit the bad examples are NaN in value and gradient; the others are untouched.
    per_example, mean, _ = battery.values(name, (args[0], labels), kwargs)
    assert np.isnan(per_example[2]) and np.isnan(per_example[4])
    assert np.all(np.isfinite(np.delete(np.asarray(per_example), [2, 4])))
    g = np.asarray(battery.grad(name, (args[0], labels), kwargs))
    assert np.isnan(g[2]).any() and np.isnan(g[4]).any()
    assert np.all(np.isfinite(np.delete(g, [2, 4], axis=0)))
    assert np.isnan(float(mean))


# -- precision on either label -------------------------------------------------------------------------

_LABEL_FLIPS = {_kinds.BINARY_LOGITS: lambda t: 1.0 - t, _kinds.SIGNED_BINARY: lambda t: -t}


@pytest.mark.parametrize("name", [e.name for e in jl.catalog() if e.inputs in _LABEL_FLIPS])
def test_binary_losses_are_as_precise_on_either_label(name):
    """Flipping the label and the logit's sign leaves a binary loss unchanged, to float32's relative
    precision, also where the loss is tiny (confident and right). A formula that cancels for one label
    fails here: ``(1 - t) x + softplus(-x)`` gives 0 at t = 0, x = -20, where the loss is 2.06e-9."""
    entry = jl.info(name)
    x = np.linspace(-40.0, 40.0, 81, dtype=np.float32)
    t = np.ones_like(x)
    same = entry.fn(jnp.asarray(x), jnp.asarray(t), reduction="none")
    flipped = entry.fn(jnp.asarray(-x), jnp.asarray(_LABEL_FLIPS[entry.inputs](t)), reduction="none")
    np.testing.assert_allclose(np.asarray(flipped), np.asarray(same), rtol=2e-6, atol=0)
