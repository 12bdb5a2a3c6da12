"""Everything the inspector reads from input kinds, in one place (private).

A loss's input kind is an object (``LossInfo.inputs``, a ``jaxloss._kinds.InputKind``); this module
is the only one of the inspection package that reads kinds: which kind a loss or a composite takes,
the (prediction, target) pair at one point of :func:`~jaxloss.grad_curve` (``kind.curve_inputs``),
and the stability card's hard inputs (``kind.hard``). Users may name a kind by its name.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxloss import _kinds, _registry
from jaxloss.compose import Composite
from jaxloss.compose._calling import call_loss

#: One call's inputs (positional arrays, keyword options, description, the property it needs).
Sample = _kinds.Sample


def _as_kind(kind: Any, caller: str = "check") -> _kinds.InputKind:
    if isinstance(kind, _kinds.InputKind):
        return kind
    if not isinstance(kind, str):
        raise TypeError(f"{caller}: kind must be an input kind's name (one of {', '.join(k.name for k in _kinds.ALL)}) "
                        f"or None; got {type(kind).__name__} {kind!r}.")
    try:
        return _kinds.by_name(kind)
    except KeyError as err:
        raise KeyError(f"{caller}: kind={kind!r}: {err.args[0]}") from None


def _names(kinds: dict[str, Any]) -> dict[str, str | None]:
    return {k: getattr(v, "name", v) for k, v in kinds.items()}


def _common_kind(fn: Composite) -> _kinds.InputKind | None:
    """The input kind every registered term of ``fn`` takes (a term's own kind first), or None."""
    entries = [t.fn.info for t in fn.terms if isinstance(getattr(t.fn, "info", None), _registry.LossInfo)]
    if len(entries) != len(fn.terms):
        return None
    for candidate in dict.fromkeys(e.inputs for e in entries):
        if all(e.accepts(candidate) for e in entries):
            return candidate
    return None


def _curve_kind(fn: Any) -> _kinds.InputKind:
    """The input kind that says what an error is: the loss's, or the one its composite's terms share."""
    if isinstance(fn, Composite):
        kinds = {t.name: t.fn.info.inputs for t in fn.terms if isinstance(getattr(t.fn, "info", None), _registry.LossInfo)}
        if not kinds:
            return _kinds.REGRESSION
        common = _common_kind(fn) if len(kinds) == len(fn.terms) else (
            next(iter(set(kinds.values()))) if len(set(kinds.values())) == 1 else None)
        if common is None:
            raise ValueError(f"grad_curve: the terms of {fn!r} take different kinds of input ({_names(kinds)}), so one "
                             "error cannot describe them all; draw each term's curve on its own.")
        return common
    entry = getattr(fn, "info", None)
    return entry.inputs if isinstance(entry, _registry.LossInfo) else _kinds.REGRESSION


def curve_point(fn: Any, *, target: float | None, num_classes: int, options: dict[str, Any]) -> tuple[str, Any]:
    """(input kind's name, ``point(v) -> scalar``): the loss at the curve position ``v`` of its kind
    (``InputKind.curve_inputs``: the error, the logit, or the true class's logit)."""
    kind = _curve_kind(fn)

    def point(v: jax.Array) -> jax.Array:
        predictions, targets = kind.curve_inputs(v, target=target, num_classes=num_classes)
        return jnp.sum(call_loss(fn, predictions, targets, **options, reduction="none"))

    return kind.name, point


def kind_of(fn: Any, kind: Any, caller: str = "check") -> tuple[str, str]:
    """(name, input kind's name) of a registered loss or a composite of losses of one kind."""
    if kind is not None:
        return getattr(fn, "__name__", "loss"), _as_kind(kind, caller).name
    if isinstance(fn, Composite):
        common = _common_kind(fn)
        if common is None:
            kinds = {t.name: getattr(getattr(t.fn, "info", None), "inputs", None) for t in fn.terms}
            raise ValueError(f"{caller}: the terms of {fn!r} take no kind of input in common ({_names(kinds)}); pass kind=.")
        return repr(fn), common.name
    entry = getattr(fn, "info", None)
    if not isinstance(entry, _registry.LossInfo):
        raise ValueError(
            f"{caller}: name_or_loss={getattr(fn, '__name__', type(fn).__name__)!r} is not a registered jaxloss loss, "
            f"so its input kind is unknown; pass kind=, the kind of inputs it takes (e.g. kind='regression'; one of "
            f"{', '.join(k.name for k in _kinds.ALL)}).")
    return entry.name, entry.inputs.name


def hard_inputs(kind: Any, seed: int) -> list[Sample]:
    """The kind's hard inputs (``InputKind.hard``), from a generator seeded with ``seed``."""
    return _as_kind(kind).hard(np.random.default_rng(seed))


def curve_axis(fn: Any) -> str | None:
    """What the x axis of ``fn``'s gradient curve is (``InputKind.curve_axis``)."""
    return _curve_kind(fn).curve_axis
