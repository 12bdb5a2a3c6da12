"""``fit``'s ``optimizer`` argument: an optax transformation, or an optax optimizer named by a string.

A name builds the optax optimizer of that name with the default learning rate of :data:`OPTIMIZERS`
(Keras's default for the same optimizer where Keras has it: 1e-3 for Adam and its relatives, RMSprop,
Adagrad, Adadelta, Adafactor and Lion, 1e-2 for SGD), and every other option at optax's default
(``adamw``'s weight decay is optax's 1e-4, not Keras's 4e-3). Names are case-insensitive and may carry
an ``optax.`` prefix. One name gives one object, so a second ``fit`` with the same name reuses the
compiled programs of the first. For another learning rate, build the optimizer: ``optax.adam(3e-4)``.

Anything else is answered with what arrived and the fix: an optax factory not called (``optax.adam``
instead of ``optax.adam(1e-3)``), a learning rate given alone (``optimizer=1e-3``), a schedule given
where the optimizer goes, or a misspelt name (with the close names).
"""

from __future__ import annotations

import difflib
import functools
import inspect
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
import optax

__all__ = ["OPTIMIZERS", "optimizer_argument", "by_name"]

#: Optimizer name -> (optax factory, default learning rate). None: the optimizer's own default (L-BFGS's
#: line search chooses the step).
OPTIMIZERS: dict[str, tuple[Callable[..., optax.GradientTransformation], float | None]] = {
    "adam": (optax.adam, 1e-3),
    "adamw": (optax.adamw, 1e-3),
    "adamax": (optax.adamax, 1e-3),
    "nadam": (optax.nadam, 1e-3),
    "nadamw": (optax.nadamw, 1e-3),
    "radam": (optax.radam, 1e-3),
    "amsgrad": (optax.amsgrad, 1e-3),
    "adabelief": (optax.adabelief, 1e-3),
    "adan": (optax.adan, 1e-3),
    "lamb": (optax.lamb, 1e-3),
    "lion": (optax.lion, 1e-3),
    "novograd": (optax.novograd, 1e-3),
    "yogi": (optax.yogi, 1e-3),
    "sgd": (optax.sgd, 1e-2),
    "rmsprop": (optax.rmsprop, 1e-3),
    "adagrad": (optax.adagrad, 1e-3),
    "adadelta": (optax.adadelta, 1e-3),
    "adafactor": (optax.adafactor, 1e-3),
    "lbfgs": (optax.lbfgs, None),
}


def _describe(name: str) -> str:
    rate = OPTIMIZERS[name][1]
    return f"optax.{name}({'' if rate is None else f'{rate:g}'})"


@functools.cache
def by_name(name: str) -> optax.GradientTransformation:
    """The optimizer called ``name`` in :data:`OPTIMIZERS` (one object per name), at its default learning rate."""
    factory, rate = OPTIMIZERS[name]
    return factory() if rate is None else factory(learning_rate=rate)


def _is_transformation(value: Any) -> bool:
    return hasattr(value, "init") and hasattr(value, "update") and not isinstance(value, type)


def _required(fn: Callable[..., Any]) -> list[str] | None:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    return [p.name for p in parameters if p.default is p.empty
            and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def optimizer_argument(fn: str, argument: str, value: Any) -> optax.GradientTransformation | None:
    """``value`` as an optax transformation (None stays None), with an error naming the fix otherwise."""
    if value is None or _is_transformation(value):
        return value
    names = ", ".join(repr(n) for n in OPTIMIZERS)
    if isinstance(value, str):
        key = value.strip().lower().removeprefix("optax.")
        if key in OPTIMIZERS:
            return by_name(key)
        close = sorted(difflib.get_close_matches(key, list(OPTIMIZERS), n=3, cutoff=0.6),
                       key=lambda c: (sorted(c) != sorted(key), abs(len(c) - len(key))))  # swapped letters first
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"{fn}: {argument}={value!r} is not an optimizer name.{hint} Known names (each with its "
                         f"default learning rate, e.g. 'adam' is {_describe('adam')}): {names}; or pass any optax "
                         "transformation, e.g. optax.adam(3e-4).")
    if isinstance(value, (numbers.Real, np.number)) and not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{fn}: {argument}={value!r} is a number; a learning rate goes into an optimizer: "
                        f"{argument}=optax.adam({value!r}) (or {argument}='adam' for {_describe('adam')}).")
    if callable(value):
        label = getattr(value, "__name__", type(value).__name__)
        module = getattr(value, "__module__", "") or ""
        required = _required(value)
        if module.startswith("optax") and required is not None and "learning_rate" in required + list(
                inspect.signature(value).parameters):
            example = "1e-3" if "learning_rate" in required else ""
            raise TypeError(f"{fn}: {argument}=optax.{label} is the function that builds the optimizer, not the "
                            f"optimizer; call it: {argument}=optax.{label}({example}).")
        if required is not None and len(required) == 1 and required[0] in ("count", "step"):
            raise TypeError(f"{fn}: {argument}={label} looks like a learning-rate schedule (a function of the "
                            f"{required[0]}); give it to an optimizer: {argument}=optax.adam(schedule).")
        raise TypeError(f"{fn}: {argument} must be an optax transformation (e.g. optax.adam(1e-3)), an optimizer "
                        f"name ({names}) or None; got the function {label}. If it builds an optimizer, call it.")
    raise TypeError(f"{fn}: {argument} must be an optax transformation (e.g. optax.adam(1e-3)), an optimizer name "
                    f"({names}) or None; got {type(value).__name__} {value!r}.")
