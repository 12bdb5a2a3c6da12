"""Argument checks shared by every layer (private): each wrong argument of a public function is answered,
before anything is built or computed, with the function's name, the argument's, what arrived and what was
expected.

These are the generic checks (integers, numbers, arrays, flags, strings, choices, callables, pytrees of
arrays); the registry-aware one, a loss given by name or function, is ``inspection._arguments.loss_argument``.
A keyword option of a loss or a metric goes through ``_options`` instead.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["array_argument", "check_input", "integer_argument", "real_argument", "flag_argument", "text_argument",
           "choice_argument", "callable_argument", "path_argument"]


def array_argument(fn: str, argument: str, value: Any, *, real: bool = True) -> jax.Array:
    """``value`` as an array of numbers (None, strings, complex numbers and objects raise)."""
    if value is None:
        raise TypeError(f"{fn}: {argument} is None; pass an array.")
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{fn}: {argument} must be an array of numbers; got the string {value!r}.")
    try:
        arr = value if isinstance(value, jax.Array) else jnp.asarray(value)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{fn}: {argument} must be an array of numbers; got {type(value).__name__} ({err}).") from None
    if real and jnp.issubdtype(arr.dtype, jnp.complexfloating):
        raise TypeError(f"{fn}: {argument} must be real; got dtype {arr.dtype}.")
    return arr


def check_input(fn: str, argument: str, value: Any) -> None:
    """A positional input of :func:`~jaxloss.inspect`: an array, or a pytree (parameters, a batch) of arrays."""
    if value is None:
        raise TypeError(f"{fn}: {argument} is None; pass an array (or a pytree of arrays, such as parameters).")
    for path, leaf in jax.tree_util.tree_flatten_with_path(value)[0]:
        where = f"{argument}{jax.tree_util.keystr(path)}"
        if isinstance(leaf, (str, bytes)):
            raise TypeError(f"{fn}: {where} must be an array of numbers; got the string {leaf!r}.")
        if not isinstance(leaf, (jax.Array, np.ndarray, np.generic, numbers.Number)):
            array_argument(fn, where, leaf, real=False)  # lists of numbers are arrays; anything else raises


def integer_argument(fn: str, argument: str, value: Any, *, low: int | None = None, high: int | None = None,
                     meaning: str = "") -> int:
    """``value`` as a Python int (a NumPy integer too; never a bool or a float) in ``[low, high)``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{fn}: {argument} must be an integer{meaning}; got {type(value).__name__} {value!r}.")
    if (low is not None and value < low) or (high is not None and value >= high):
        bounds = (f">= {low}" if high is None else f"in [{low}, {high - 1}]") if low is not None else f"< {high}"
        raise ValueError(f"{fn}: {argument}={int(value)} is out of range; {argument} must be {bounds}{meaning}.")
    return int(value)


def real_argument(fn: str, argument: str, value: Any, meaning: str = "") -> float:
    """``value`` as a Python float: a real number or a 0-d real array (never a bool or a string)."""
    if isinstance(value, (bool, np.bool_, str, bytes)) or value is None:
        raise TypeError(f"{fn}: {argument} must be a number{meaning}; got {type(value).__name__} {value!r}.")
    arr = np.asarray(value) if isinstance(value, (np.ndarray, np.generic, jax.Array)) else None
    if arr is not None and (arr.ndim != 0 or not np.issubdtype(arr.dtype, np.number)
                            or np.issubdtype(arr.dtype, np.complexfloating)):
        raise TypeError(f"{fn}: {argument} must be a number{meaning}; got an array of shape {arr.shape}, dtype {arr.dtype}.")
    if arr is None and not isinstance(value, numbers.Real):
        raise TypeError(f"{fn}: {argument} must be a number{meaning}; got {type(value).__name__} {value!r}.")
    return float(value)


def flag_argument(fn: str, argument: str, value: Any, *, optional: bool = False) -> bool | None:
    """True or False (``np.bool_`` too; never a string or a number), or None where ``optional``."""
    if value is None and optional:
        return None
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{fn}: {argument} must be True or False{' or None' if optional else ''}; got "
                        f"{type(value).__name__} {value!r}"
                        + (" (a non-empty string is true in Python)" if isinstance(value, str) else "") + ".")
    return bool(value)


def text_argument(fn: str, argument: str, value: Any, *, optional: bool = True) -> str | None:
    """A string (a title, a label), or None where ``optional``."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{fn}: {argument} must be a string{' or None' if optional else ''}; got "
                        f"{type(value).__name__} {value!r}.")
    return value


def choice_argument(fn: str, argument: str, value: Any, choices: Sequence[str]) -> str:
    """One of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise (ValueError if isinstance(value, str) else TypeError)(
            f"{fn}: {argument}={value!r}; choose one of {', '.join(repr(c) for c in choices)}.")
    return value


def callable_argument(fn: str, argument: str, value: Any, what: str) -> Callable[..., Any]:
    if not callable(value):
        raise TypeError(f"{fn}: {argument} must be {what}; got {type(value).__name__} {value!r}.")
    return value


def path_argument(fn: str, argument: str, value: Any, *, what: str = "a file path") -> str | bytes:
    """``value`` as a path (``os.fspath``: a string, bytes or an ``os.PathLike``); never None or empty."""
    if not isinstance(value, (str, bytes, os.PathLike)):
        raise TypeError(f"{fn}: {argument} must be {what} (a string or a pathlib.Path); got {type(value).__name__} "
                        f"{value!r}.")
    path = os.fspath(value)
    if not path:
        raise ValueError(f"{fn}: {argument} is empty; give {what}.")
    return path
