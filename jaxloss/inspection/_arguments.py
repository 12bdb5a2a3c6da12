"""The inspectors' registry-aware argument checks (private): a loss given by name or function, the card's
dtypes and cases. Every wrong argument of :func:`~jaxloss.inspect`, :func:`~jaxloss.check` and
:func:`~jaxloss.grad_curve` is answered, before anything is computed, with the function's name, the
argument's, what arrived and what was expected; the generic checks live in ``jaxloss._arguments``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax.numpy as jnp

from jaxloss import _registry
from jaxloss._arguments import integer_argument


def loss_argument(fn: str, argument: str, value: Any, *, what: str = "a loss name (e.g. 'huber') or a loss function",
                  ) -> Callable[..., Any]:
    """A registered name resolved to its loss, or ``value`` itself when it is callable."""
    if value is None:
        raise TypeError(f"{fn}: {argument} is None; pass {what}.")
    if isinstance(value, str):
        _registry.lookup(value, fn=fn, argument=argument)  # an unknown name raises, naming fn and argument
        return _registry.get(value)
    if not callable(value):
        raise TypeError(f"{fn}: {argument} must be {what}; got {type(value).__name__} {value!r}.")
    return value


def floating_dtypes(fn: str, argument: str, value: Any) -> tuple[Any, ...]:
    """A list or tuple of floating-point dtypes (their names too), each checked."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{fn}: {argument} must be a list of floating-point dtypes, e.g. {argument}=['float32']; got "
                        f"{type(value).__name__} {value!r}.")
    if not value:
        raise ValueError(f"{fn}: {argument} is empty; give at least one floating-point dtype, e.g. ['float32'].")
    out = []
    for d in value:
        try:
            if d is None:  # jnp.dtype(None) is the default float dtype: not what None means
                raise TypeError
            dtype = jnp.dtype(d)
        except TypeError:
            raise ValueError(f"{fn}: {argument} holds {d!r}, which is not a dtype; use float32, bfloat16, float16 or "
                             "float64.") from None
        if not jnp.issubdtype(dtype, jnp.floating):
            raise ValueError(f"{fn}: {argument} holds {dtype.name}, which is not a floating-point dtype: the card "
                             "checks losses of floating-point inputs; use float32, bfloat16, float16 or float64.")
        out.append(d)
    return tuple(out)


def case_indices(fn: str, argument: str, value: Any, count: int) -> list[int]:
    """A list of indices into the ``count`` cases."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{fn}: {argument} must be a list of case indices (0 to {count - 1}), e.g. {argument}=[0]; "
                        f"got {type(value).__name__} {value!r}.")
    return [integer_argument(fn, f"{argument}[{i}]", v, low=0, high=count,
                             meaning=f" (an index into the {count} cases of jaxloss.inspection.stability_cases)")
            for i, v in enumerate(value)]
