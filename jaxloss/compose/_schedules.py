"""Schedules: term weights and regularizer scales that follow the training step."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

__all__ = ["Schedule", "linear_schedule", "warmup", "cyclical_schedule", "Weight", "fmt_number"]

Weight = Any  # a number or a callable step -> number


def fmt_number(x: Any) -> str:
    return f"{float(x):g}"


class Schedule:
    """A term weight that changes with the training step: ``schedule(step) -> weight``.

    Any callable ``step -> number`` works as a weight (optax schedules included);
    this class adds a readable ``repr`` and products with constants.
    """

    def __init__(self, fn: Callable[[Any], Any], description: str):
        self._fn = fn
        self.description = description

    def __call__(self, step: Any) -> jax.Array:
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
    if steps <= 0:
        raise ValueError(f"linear_schedule: steps must be > 0; got {steps}.")

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
    if period <= 0 or not 0 < ratio <= 1:
        raise ValueError(f"cyclical_schedule: need period > 0 and ratio in (0, 1]; got {period}, {ratio}.")

    def fn(step: jax.Array) -> jax.Array:
        phase = jnp.mod(step, period) / (ratio * period)
        return peak * jnp.clip(phase, 0.0, 1.0)

    return Schedule(fn, f"cyclical(period={period}, ratio={fmt_number(ratio)})")


