"""Compiled programs shared by the registry-driven battery: one jitted callable per (loss, dtype, what, options).

The battery is compile-bound: a fresh ``jax.jit`` per test, or eager calls running op by op, compile
hundreds of small programs per loss. Here each loss gets a handful of jitted callables, made on first
use and reused by every test of that loss (and every seed, reduction and mask of one shape):

- :func:`values`: the per-example losses and the ``"mean"`` and ``"sum"`` reductions in one program;
- :func:`grad`: the gradient of the mean (or sum) with respect to one positional argument;
- :func:`hessian_and_jvps`: the Hessian and forward derivatives along several directions.

Arrays are arguments, never closed-over constants (a constant is baked into the program, so new
values would compile again); options (hyperparameters, ``from_logits``) are static, as a user's
training step closes over them. ``where=`` and ``weights=`` are arguments too (``None`` is its own
program). The battery's items are grouped per loss (``xdist_group``, and ordered by loss in
``tests/losses/conftest.py``), so a worker compiles a loss's programs once and frees them when it
moves to the next loss.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import jaxloss as jl

_CACHE: dict[tuple, Callable[..., Any]] = {}
_CURRENT: list[str] = []
_SEEN: list[str] = []

#: Every this many losses, JAX's own caches are emptied too (the op-by-op programs of the eager checks
#: and the stability card's): they are shared by losses of one input kind, but unbounded they hold
#: about 2 GB by the end of the battery.
CLEAR_EVERY = 8


def _cached(name: str, key: tuple, make: Callable[[], Callable[..., Any]]) -> Callable[..., Any]:
    if _CURRENT != [name]:
        # A new loss: the previous one's programs are not needed again (its tests ran together).
        _CACHE.clear()
        _CURRENT[:] = [name]
        _SEEN.append(name)
        if len(_SEEN) % CLEAR_EVERY == 0:
            jax.clear_caches()
    f = _CACHE.get((name, *key))
    if f is None:
        f = _CACHE[(name, *key)] = make()
    return f


def split_kwargs(kwargs: dict[str, Any]) -> tuple[dict[str, Any], tuple[tuple[str, Any], ...]]:
    """A sample's keywords as (arrays, traced; static options, hashable)."""
    arrays = {k: v for k, v in kwargs.items() if isinstance(v, (np.ndarray, jax.Array))}
    static = tuple(sorted((k, v) for k, v in kwargs.items() if k not in arrays))
    return arrays, static


def _dtype_key(args: tuple) -> str:
    return "-".join(str(np.asarray(a).dtype) if not isinstance(a, jax.Array) else str(a.dtype) for a in args)


def values(name: str, args: tuple, kwargs: dict[str, Any] | None = None, *, where: Any = None, weights: Any = None,
           **options: Any) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(loss(reduction="none"), loss(), loss(reduction="sum"))``, by the loss's cached program."""
    arrays, static = split_kwargs({**(kwargs or {}), **options})
    fn = jl.info(name).fn

    def make() -> Callable[..., Any]:
        @jax.jit
        def run(args: tuple, arrays: dict, where: Any, weights: Any) -> tuple[jax.Array, jax.Array, jax.Array]:
            call = functools.partial(fn, *args, **arrays, **dict(static), where=where, weights=weights)
            return call(reduction="none"), call(), call(reduction="sum")

        return run

    return _cached(name, ("values", _dtype_key(args), static), make)(tuple(args), arrays, where, weights)


def values_program(name: str, args: tuple, kwargs: dict[str, Any] | None = None, **options: Any) -> Any:
    """The jitted callable behind :func:`values` (to count its compilations)."""
    _, static = split_kwargs({**(kwargs or {}), **options})
    return _CACHE.get((name, "values", _dtype_key(args), static))


def _loss_of(fn: Callable[..., Any], argnum: int, static: tuple, reduction: str) -> Callable[..., Any]:
    def f(x: jax.Array, args: tuple, arrays: dict, where: Any, weights: Any) -> jax.Array:
        a = list(args)
        a[argnum] = x
        return fn(*a, **arrays, **dict(static), where=where, weights=weights, reduction=reduction)

    return f


def grad(name: str, args: tuple, kwargs: dict[str, Any] | None = None, *, argnum: int = 0, where: Any = None,
         weights: Any = None, reduction: str = "mean", **options: Any) -> jax.Array:
    """The gradient of the reduced loss with respect to ``args[argnum]``, by the loss's cached program."""
    arrays, static = split_kwargs({**(kwargs or {}), **options})
    fn = jl.info(name).fn

    def make() -> Callable[..., Any]:
        return jax.jit(jax.grad(_loss_of(fn, argnum, static, reduction)))

    run = _cached(name, ("grad", _dtype_key(args), static, argnum, reduction), make)
    return run(jnp.asarray(args[argnum]), tuple(args), arrays, where, weights)


def hessian_and_jvps(name: str, args: tuple, kwargs: dict[str, Any] | None, directions: jax.Array, *,
                     argnum: int = 0, **options: Any) -> tuple[jax.Array, jax.Array]:
    """The Hessian of the mean loss in ``args[argnum]`` (flattened to a matrix) and its forward
    derivatives along each of ``directions`` (stacked on axis 0), in one program."""
    arrays, static = split_kwargs({**(kwargs or {}), **options})
    fn = jl.info(name).fn

    def make() -> Callable[..., Any]:
        f = _loss_of(fn, argnum, static, "mean")

        @jax.jit
        def run(x: jax.Array, args: tuple, arrays: dict, directions: jax.Array) -> tuple[jax.Array, jax.Array]:
            g = functools.partial(f, args=args, arrays=arrays, where=None, weights=None)
            hess = jax.hessian(g)(x).reshape(x.size, x.size)
            jvps = jax.vmap(lambda v: jax.jvp(g, (x,), (v,))[1])(directions)
            return hess, jvps

        return run

    run = _cached(name, ("hessian_and_jvps", _dtype_key(args), static, argnum), make)
    return run(jnp.asarray(args[argnum]), tuple(args), arrays, directions)


def floating(a: Any) -> bool:
    """Whether an argument is a floating array (bfloat16 included)."""
    dtype = np.asarray(a).dtype
    return bool(np.issubdtype(dtype, np.floating)) or dtype == jnp.bfloat16


def diff_args(entry: jl.LossInfo, args: tuple) -> tuple[int, ...]:
    """The positional arguments the loss is differentiable in, among the floating ones."""
    return tuple(i for i in entry.differentiable_args if np.issubdtype(np.asarray(args[i]).dtype, np.floating))
