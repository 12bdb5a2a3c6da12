"""Schedules: term weights and regularizer scales that follow the training step."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["Schedule", "linear_schedule", "warmup", "cyclical_schedule", "Weight", "fmt_number"]

Weight = Any  # a number or a callable step -> number


def fmt_number(x: Any) -> str:
    return f"{float(x):g}"


def _integer(fn: str, name: str, value: Any, *, low: int | None = None) -> int:
    """``value`` as a Python int (a NumPy integer too; never a bool, a float or a string), ``>= low``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{fn}: {name} must be an integer (a number of steps); got {type(value).__name__} {value!r}.")
    if low is not None and value < low:
        raise ValueError(f"{fn}: {name} must be >= {low}; got {value}.")
    return int(value)


def _real(fn: str, name: str, value: Any) -> float:
    """``value`` as a finite Python float (a number or a 0-d real array; never a bool or a string)."""
    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise TypeError(f"{fn}: {name} must be a number; got {type(value).__name__} {value!r}.")
    if isinstance(value, jax.core.Tracer):
        raise TypeError(f"{fn}: {name} must be a concrete number (schedules are built outside jit); got a traced value.")
    arr = np.asarray(value) if isinstance(value, (np.ndarray, np.generic, jax.Array)) else None
    real = arr is not None and (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating))
    if arr is not None and (arr.ndim != 0 or not real):
        raise TypeError(f"{fn}: {name} must be a number; got an array of shape {arr.shape} and dtype {arr.dtype}.")
    if arr is None and not isinstance(value, numbers.Real):
        raise TypeError(f"{fn}: {name} must be a number; got {type(value).__name__} {value!r}.")
    number = float(value)
    if not np.isfinite(number):
        raise ValueError(f"{fn}: {name} must be finite; got {number}.")
    return number


class Schedule:
    """A term weight that changes with the training step: ``schedule(step) -> weight``.

    Any callable ``step -> number`` works as a weight (optax schedules included);
    this class adds a readable ``repr`` and products with constants.
    """

    def __init__(self, fn: Callable[[Any], Any], description: str):
        if not callable(fn):
            raise TypeError(f"Schedule: fn must be a function step -> weight; got {type(fn).__name__} {fn!r}.")
        if not isinstance(description, str):
            raise TypeError(f"Schedule: description must be a string; got {type(description).__name__}.")
        self._fn = fn
        self.description = description

    def __call__(self, step: Any) -> jax.Array:
        if step is None or isinstance(step, (str, bytes, bool, np.bool_)):
            raise TypeError(f"{self.description}: step must be the training step, a number (or a traced one); got "
                            f"{type(step).__name__} {step!r}.")
        return jnp.asarray(self._fn(jnp.asarray(step)))

    def __repr__(self) -> str:
        return self.description

    def __mul__(self, other: Any) -> Schedule:
        if isinstance(other, numbers.Real):
            if other == 1:
                return self
            return Schedule(lambda s: other * self._fn(s), f"{fmt_number(other)} * {self.description}")
        return NotImplemented

    __rmul__ = __mul__


def linear_schedule(start: float, end: float, steps: int, *, begin: int = 0) -> Schedule:
    """``start`` until step ``begin``, then linearly to ``end`` over ``steps`` steps, then ``end``.

    >>> import jaxloss as jl
    >>> s = jl.linear_schedule(0.0, 1.0, 100, begin=50)
    >>> [round(float(s(k)), 2) for k in (0, 50, 75, 150, 1000)]
    [0.0, 0.0, 0.25, 1.0, 1.0]
    """
    fn_name = "linear_schedule"
    start, end = _real(fn_name, "start", start), _real(fn_name, "end", end)
    steps, begin = _integer(fn_name, "steps", steps, low=1), _integer(fn_name, "begin", begin)

    def fn(step: jax.Array) -> jax.Array:
        frac = jnp.clip((step - begin) / steps, 0.0, 1.0)
        return start + (end - start) * frac

    return Schedule(fn, f"linear({fmt_number(start)}->{fmt_number(end)} over {steps} steps"
                    + (f" from {begin}" if begin else "") + ")")


def warmup(steps: int, *, peak: float = 1.0, delay: int = 0) -> Schedule:
    """0 for ``delay`` steps, then linearly up to ``peak`` over ``steps`` steps (a KL warm-up).

    Bowman et al., Generating Sentences from a Continuous Space, 2016 (KL annealing).

    >>> import jaxloss as jl
    >>> [float(jl.warmup(10)(k)) for k in (0, 5, 10, 20)]
    [0.0, 0.5, 1.0, 1.0]
    """
    steps, delay = _integer("warmup", "steps", steps, low=1), _integer("warmup", "delay", delay, low=0)
    peak = _real("warmup", "peak", peak)
    s = linear_schedule(0.0, peak, steps, begin=delay)
    s.description = f"warmup({steps}" + (f", peak={fmt_number(peak)}" if peak != 1.0 else "") + (
        f", delay={delay}" if delay else "") + ")"
    return s


def cyclical_schedule(period: int, *, ratio: float = 0.5, peak: float = 1.0) -> Schedule:
    """Cyclical annealing: in every period, 0 -> ``peak`` over ``ratio * period`` steps, then ``peak``.

    Fu et al., Cyclical Annealing Schedule: A Simple Approach to Mitigating KL
    Vanishing, 2019.

    >>> import jaxloss as jl
    >>> [float(jl.cyclical_schedule(10, ratio=0.5)(k)) for k in (0, 2, 5, 9, 10, 12)]
    [0.0, 0.4, 1.0, 1.0, 0.0, 0.4]
    """
    period = _integer("cyclical_schedule", "period", period, low=1)
    ratio, peak = _real("cyclical_schedule", "ratio", ratio), _real("cyclical_schedule", "peak", peak)
    if not 0 < ratio <= 1:
        raise ValueError(f"cyclical_schedule: ratio must be in (0, 1] (the rising share of each period); got {ratio:g}.")

    def fn(step: jax.Array) -> jax.Array:
        phase = jnp.mod(step, period) / (ratio * period)
        return peak * jnp.clip(phase, 0.0, 1.0)

    return Schedule(fn, f"cyclical(period={period}, ratio={fmt_number(ratio)})")


