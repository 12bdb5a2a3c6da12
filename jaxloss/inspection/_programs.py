"""The inspectors' compiled programs, cached (private): the stability card's and the gradient curve's.

One jitted program per (loss, dtype, input shapes, static options) computes, for every
differentiable argument, the value under ``jit``, the gradient, the forward derivative (``jvp``
along ones) and, in float32, the Hessian. Arrays (positional and keyword) are the program's
arguments, so the hard inputs of one shape share it, within one :func:`~jaxloss.check` and
across calls; other options (scalars, strings) are part of the key. The cache is bounded.

A loss whose Python code needs concrete values of its non-differentiated inputs (it cannot be
traced with them as arguments) gets them as constants instead, one program per call, as before.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

#: Programs kept (least recently used dropped first): a loss needs a few per dtype, and the tests
#: that check one case at a time meet the cases of a loss one after another.
MAX_PROGRAMS = 64

# key -> (loss, program); the loss is held so that its id in the key cannot be reused while cached.
_PROGRAMS: collections.OrderedDict[tuple[Any, ...], tuple[Any, Callable[..., Any] | None]] = collections.OrderedDict()


def _is_array(a: Any) -> bool:
    return isinstance(a, (np.ndarray, jax.Array, np.generic))


def _spec(a: Any) -> tuple[Any, ...]:
    if _is_array(a):
        return ("array", tuple(np.shape(a)), jnp.dtype(a.dtype).name)
    return ("static", type(a).__name__, a)


def _body(fn: Any, args: Sequence[Any], kwargs: dict[str, Any], argnums: tuple[int, ...],
          hessian: bool) -> dict[int, dict[str, jax.Array]]:
    out = {}
    for argnum in argnums:

        def f(x: jax.Array, argnum: int = argnum) -> jax.Array:
            a = list(args)
            a[argnum] = x
            return fn(*a, **kwargs)

        x = jnp.asarray(args[argnum])
        results = {"jit value": f(x), "gradient": jax.grad(f)(x),
                   "forward derivative": jax.jvp(f, (x,), (jnp.ones_like(x),))[1]}
        if hessian:
            results["Hessian"] = jax.hessian(f)(x)
        out[argnum] = results
    return out


def _with_constants(fn: Any, args: Sequence[Any], kwargs: dict[str, Any], argnums: tuple[int, ...],
                    hessian: bool) -> dict[int, dict[str, jax.Array]]:
    """The uncached way: every input but the differentiated one a constant of the program."""
    out = {}
    for argnum in argnums:
        program = jax.jit(lambda x, argnum=argnum: _body(
            fn, [x if i == argnum else a for i, a in enumerate(args)], kwargs, (argnum,), hessian)[argnum])
        out[argnum] = program(jnp.asarray(args[argnum]))
    return out


#: The errors of a loss whose Python code needs concrete values where a program traces them.
NEEDS_CONSTANTS = (jax.errors.ConcretizationTypeError, jax.errors.TracerBoolConversionError,
                   jax.errors.TracerArrayConversionError, jax.errors.TracerIntegerConversionError)


def remember(key: tuple[Any, ...], owner: Any, program: Callable[..., Any] | None) -> None:
    """Keeps ``program`` (None: the owner needs its inputs as constants) under ``key``; bounded. An
    unhashable key (an array option) is not kept, as :func:`recall` never finds one."""
    try:
        _PROGRAMS[key] = (owner, program)
    except TypeError:
        return
    while len(_PROGRAMS) > MAX_PROGRAMS:
        _PROGRAMS.popitem(last=False)


def recall(key: tuple[Any, ...]) -> tuple[bool, Callable[..., Any] | None]:
    """(found, program) for ``key``; an unhashable key is never found."""
    try:
        cached = _PROGRAMS.get(key)
    except TypeError:
        return False, None
    if cached is None:
        return False, None
    _PROGRAMS.move_to_end(key)
    return True, cached[1]


def derivatives(fn: Any, args: Sequence[Any], kwargs: dict[str, Any], argnums: tuple[int, ...], *,
                hessian: bool) -> dict[int, dict[str, jax.Array]]:
    """``{argnum: {"jit value", "gradient", "forward derivative"[, "Hessian"]}}`` of ``fn(*args, **kwargs)``."""
    try:
        key = ("derivatives", id(fn), argnums, hessian, tuple(_spec(a) for a in args),
               tuple(sorted((k, _spec(v)) for k, v in kwargs.items())))
        hash(key)
    except TypeError:  # an unhashable option: no cache
        return _with_constants(fn, args, kwargs, argnums, hessian)
    array_kwargs = {k: v for k, v in kwargs.items() if _is_array(v)}
    found, cached = recall(key)
    if found:
        if cached is None:  # this loss needs its inputs as constants
            return _with_constants(fn, args, kwargs, argnums, hessian)
        return cached([a for a in args if _is_array(a)], array_kwargs)

    array_args = [i for i, a in enumerate(args) if _is_array(a)]
    static_kwargs = {k: v for k, v in kwargs.items() if not _is_array(v)}
    static_args = [None if _is_array(a) else a for a in args]  # the arrays come as arguments

    @jax.jit
    def program(arrays: list[Any], array_kwargs: dict[str, Any]) -> dict[int, dict[str, jax.Array]]:
        full = list(static_args)
        for i, a in zip(array_args, arrays):
            full[i] = a
        return _body(fn, full, {**static_kwargs, **array_kwargs}, argnums, hessian)

    try:
        result = program([args[i] for i in array_args], array_kwargs)
    except NEEDS_CONSTANTS:
        program, result = None, _with_constants(fn, args, kwargs, argnums, hessian)
    remember(key, fn, program)
    return result


def clear() -> None:
    """Drops every cached program."""
    _PROGRAMS.clear()
