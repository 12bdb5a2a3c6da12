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
from jaxloss import _samples

ENTRIES = jl.catalog()
NAMES = [e.name for e in ENTRIES]


def sample(name: str, seed: int = 0, n: int = 6) -> _samples.Sample:
    return _samples.random_inputs(jl.info(name).inputs, np.random.default_rng(seed), n)


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
    for value in (np.array([good, bad]), jnp.array([good, bad]), [good, bad]):
        with pytest.raises(ValueError, match=f"{name}: {key} must be .* everywhere.*out of range: {bad:g}"):
            entry.fn(*args, **kwargs, **{key: value})


HYPERPARAMETERS = [(e.name, key) for e in ENTRIES for key in e.hyperparameters]


@pytest.mark.parametrize("name, key", HYPERPARAMETERS, ids=[f"{n}-{k}" for n, k in HYPERPARAMETERS])
def test_hyperparameters_are_numbers(name, key):
    entry = jl.info(name)
    args, kwargs = sample(name).cast(np.float32)
    for value in ("1", True, object()):
        with pytest.raises(TypeError, match=f"{name}: {key} must be a number"):
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
    shape = _samples.example_shape(entry.inputs, s)
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
    """The one rule: a mean over nothing (empty batch, all masked, all weights 0) is 0, never NaN."""
    entry = jl.info(name)
    args, kwargs = _empty(name)
    assert float(entry.fn(*args, **kwargs)) == 0.0
    assert float(entry.fn(*args, **kwargs, reduction="sum")) == 0.0
    assert np.size(entry.fn(*args, **kwargs, reduction="none")) == 0
    g = jax.grad(lambda x: entry.fn(x, *args[1:], **kwargs))(jnp.asarray(args[0]))
    assert g.shape == np.shape(args[0])
    # All masked and all weights 0: the same 0.
    s = sample(name)
    full_args, full_kwargs = s.cast(np.float32)
    shape = _samples.example_shape(entry.inputs, s)
    assert float(entry.fn(*full_args, **full_kwargs, where=np.zeros(shape, bool))) == 0.0
    assert float(entry.fn(*full_args, **full_kwargs, weights=np.zeros(shape, np.float32))) == 0.0


# -- targets out of range ---------------------------------------------------------------------------

# The value a target of each kind must never take, and where it goes (positional index of the targets).
BAD_TARGETS = {
    "binary_logits": (1, 2.0), "signed_binary": (1, 2.0), "multilabel_logits": (1, 1.5),
    "pairwise_scores": (2, 0.5), "distances": (1, 0.0), "embedding_pairs": (2, 0.0),
    "embedding_pairs_binary": (2, 2.0), "segmentation_binary": (1, 1.5),
}
TARGET_CASES = [e.name for e in ENTRIES if e.inputs in BAD_TARGETS]


@pytest.mark.parametrize("name", TARGET_CASES)
def test_targets_out_of_range_raise_eagerly_and_poison_under_jit(name):
    entry = jl.info(name)
    s = sample(name)
    args, kwargs = s.cast(np.float32)
    index, bad = BAD_TARGETS[entry.inputs]
    targets = np.array(args[index], dtype=np.float32)
    targets.reshape(targets.shape[0], -1)[1, 0] = bad
    args = args[:index] + (targets,) + args[index + 1:]
    with pytest.raises(ValueError, match=f"{name}: .*targets"):
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
