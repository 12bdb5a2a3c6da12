"""Composites: weighted sums of losses with the loss signature, built with ``term`` and arithmetic."""

from __future__ import annotations

import dataclasses
import functools
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jaxloss import _registry
from jaxloss._arguments import callable_argument, flag_argument, text_argument
from jaxloss.compose._calling import call_loss
from jaxloss.compose._regularizers import REGULARIZER_IS_NOT_A_TERM, Regularizer
from jaxloss.compose._schedules import Schedule, Weight, fmt_number

__all__ = ["Composite", "term", "combine", "resolve"]


@dataclasses.dataclass(frozen=True)
class _Term:
    name: str
    fn: Callable[..., jax.Array]
    weight: Weight = 1.0
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    stop_gradient: bool = False
    select: Callable[..., tuple[Any, ...]] | None = None

    def weight_at(self, step: Any) -> Any:
        if not callable(self.weight):
            return self.weight
        if step is None:
            raise ValueError(
                f"composite: the weight of term {self.name!r} is a schedule ({self.weight!r}); pass the "
                f"training step explicitly, e.g. loss(predictions, targets, step=step) (jl.fit passes it)."
            )
        return self.weight(step)

    def formula(self) -> str:
        opts = ", ".join(f"{k}={_fmt_option(v)}" for k, v in self.options.items())
        body = f"{self.name}({opts})" if opts else self.name
        if self.stop_gradient:
            body = f"stop_gradient({body})"
        if callable(self.weight):
            return f"{self.weight!r} * {body}"
        if self.weight == 1:
            return body
        return f"{fmt_number(self.weight)} * {body}"



def _fmt_option(v: Any) -> str:
    if isinstance(v, float):
        return repr(v)
    if hasattr(v, "shape") and getattr(v, "ndim", 0) > 0:
        return f"array{tuple(v.shape)}"
    return repr(v) if not hasattr(v, "shape") else fmt_number(v)


def resolve(loss: str | Callable[..., Any], *, fn: str = "term", argument: str = "loss",
            ) -> tuple[str, Callable[..., Any]]:
    """(default name, function) for a registry name or a loss function; errors name ``fn`` and ``argument``."""
    if loss is None:
        raise TypeError(f"{fn}: {argument} is None; pass a loss name (e.g. 'huber') or a loss function.")
    if isinstance(loss, str):
        entry = _registry.lookup(loss, fn=fn, argument=argument)
        return entry.name, entry.fn
    if isinstance(loss, Composite):
        raise TypeError(f"{fn}: {argument} is a composite ({loss!r}); pass a loss function or name, and add "
                        "composites with +.")
    if isinstance(loss, Regularizer):
        raise TypeError(f"{fn}: {argument}=" + REGULARIZER_IS_NOT_A_TERM.format(reg=loss))
    if not callable(loss):
        raise TypeError(f"{fn}: {argument} must be a loss function or a registered loss name (e.g. 'huber'); got "
                        f"{type(loss).__name__} {loss!r}.")
    entry = getattr(loss, "info", None)
    if isinstance(entry, _registry.LossInfo):
        return entry.name, loss
    return getattr(loss, "__name__", "loss"), loss


class Composite:
    """A weighted sum of losses with the loss signature.

    ``composite(*args, step=None, weights=None, where=None, reduction="mean",
    with_terms=False)``: every positional argument (predictions, targets, ...)
    goes to every term (or through the term's ``select``); ``weights``,
    ``where`` and ``reduction`` go to every term. Build one with :func:`term`
    and arithmetic, or with :func:`combine`.
    """

    def __init__(self, terms: Sequence[_Term]):
        names = [t.name for t in terms]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(
                f"composite: term names must be unique; {duplicates} appear twice. Name them, e.g. "
                f"jl.term(loss, name='ce_aux')."
            )
        if not terms:
            raise ValueError("composite: needs at least one term.")
        self.terms: tuple[_Term, ...] = tuple(terms)

    # The algebra --------------------------------------------------------------------------------

    def __add__(self, other: Any) -> Composite:
        if isinstance(other, Regularizer):
            raise TypeError(REGULARIZER_IS_NOT_A_TERM.format(reg=other))
        if isinstance(other, Composite):
            return Composite(self.terms + other.terms)
        if callable(other) or isinstance(other, str):
            return self + term(other)
        return NotImplemented

    def __radd__(self, other: Any) -> Composite:
        if isinstance(other, numbers.Number) and other == 0:  # sum([...]) starts at 0
            return self
        if isinstance(other, Regularizer):
            raise TypeError(REGULARIZER_IS_NOT_A_TERM.format(reg=other))
        if callable(other) or isinstance(other, str):
            return term(other) + self
        return NotImplemented

    def __mul__(self, factor: Any) -> Composite:
        if isinstance(factor, numbers.Real) or hasattr(factor, "shape") and getattr(factor, "ndim", 1) == 0:
            return Composite([dataclasses.replace(t, weight=_times(factor, t.weight)) for t in self.terms])
        if callable(factor) and not isinstance(factor, Composite):
            return Composite([dataclasses.replace(t, weight=_times(factor, t.weight)) for t in self.terms])
        return NotImplemented

    __rmul__ = __mul__

    def __truediv__(self, divisor: Any) -> Composite:
        if isinstance(divisor, numbers.Real):
            return self * (1.0 / divisor)
        return NotImplemented

    def stop_gradient(self, *names: str) -> Composite:
        """A copy where the named terms (all, if none named) count in the value but not the gradient."""
        self._check_names(names)
        chosen = set(names) if names else set(self.names)
        return Composite([dataclasses.replace(t, stop_gradient=t.stop_gradient or t.name in chosen) for t in self.terms])

    def _check_names(self, names: Iterable[str]) -> None:
        unknown = [n for n in names if n not in self.names]
        if unknown:
            raise KeyError(f"composite: no term named {unknown}; the terms are {list(self.names)}.")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.terms)

    def weights(self, step: Any = None) -> dict[str, Any]:
        """Each term's weight at ``step``."""
        return {t.name: t.weight_at(step) for t in self.terms}

    def scheduled_weights(self, step: Any) -> dict[str, jax.Array]:
        """The weight at ``step`` of each term whose weight is a schedule (what ``fit`` records)."""
        return {t.name: jnp.asarray(t.weight_at(step)) for t in self.terms if callable(t.weight)}

    # Evaluation ---------------------------------------------------------------------------------

    def __call__(self, *args: Any, step: Any = None, weights: Any = None, where: Any = None,
                 reduction: str = "mean", with_terms: bool = False) -> Any:
        total, parts = self.with_terms(*args, step=step, weights=weights, where=where, reduction=reduction)
        return (total, parts) if with_terms else total

    def with_terms(self, *args: Any, step: Any = None, weights: Any = None, where: Any = None,
                   reduction: str = "mean") -> tuple[jax.Array, dict[str, jax.Array]]:
        """``(total, {name: unweighted term value})``, for ``value_and_grad(..., has_aux=True)``."""
        if reduction not in _registry.REDUCTIONS:
            raise ValueError(f"composite: reduction={reduction!r} is not valid; choose one of 'mean', 'sum', 'none'.")
        parts: dict[str, jax.Array] = {}
        for t in self.terms:
            call_args = t.select(*args) if t.select is not None else args
            value = call_loss(t.fn, *call_args, reduction=reduction, weights=weights, where=where,
                              name=f"composite term {t.name!r}", **t.options)
            parts[t.name] = jax.lax.stop_gradient(value) if t.stop_gradient else value
        if reduction == "none":
            shapes = {name: tuple(jnp.shape(v)) for name, v in parts.items()}
            if len(set(shapes.values())) > 1:
                listing = ", ".join(f"{n} -> {s}" for n, s in shapes.items())
                raise ValueError(
                    f"composite: a composite of incompatible losses: with reduction='none' every term must give "
                    f"the same per-example shape, but {listing}. Reduce the extra axis inside one term (a "
                    f"custom loss) or use reduction='mean'/'sum'."
                )
        total = None
        for t in self.terms:
            contribution = jnp.asarray(t.weight_at(step)) * parts[t.name]
            total = contribution if total is None else total + contribution
        dtype = jnp.result_type(*parts.values())
        return jnp.asarray(total).astype(dtype), parts

    # Description --------------------------------------------------------------------------------

    def __repr__(self) -> str:
        return " + ".join(t.formula() for t in self.terms)

    @property
    def __name__(self) -> str:  # so that tools printing fn.__name__ print the formula
        return repr(self)

    def properties(self) -> frozenset[str]:
        """Registry properties every term claims that survive a sum with non-negative weights."""
        kept = {"nonnegative", "zero_at_target", "convex", "bounded_gradient", "symmetric", "smooth"}
        for t in self.terms:
            entry = getattr(t.fn, "info", None)
            props = entry.properties if isinstance(entry, _registry.LossInfo) else frozenset()
            kept &= set(props)
            if t.stop_gradient:
                kept -= {"convex", "smooth", "bounded_gradient"}
            if not callable(t.weight) and float(t.weight) < 0:
                return frozenset()
        return frozenset(kept)

    def describe(self) -> str:
        """A registry-like description: the formula, each term and the properties that survive."""
        lines = [f"composite: {self!r}"]
        for t in self.terms:
            entry = getattr(t.fn, "info", None)
            weight = repr(t.weight) if callable(t.weight) else fmt_number(t.weight)
            lines.append(f"  {t.name}: weight {weight}" + ("  [stop_gradient]" if t.stop_gradient else ""))
            if isinstance(entry, _registry.LossInfo):
                opts = {**entry.defaults(), **t.options}
                lines.append(f"    {entry.name} ({entry.family}, {entry.task}): {entry.formula}")
                if opts:
                    lines.append("    options: " + ", ".join(f"{k}={_fmt_option(v)}" for k, v in opts.items()))
                lines.append(f"    inputs: {entry.inputs}; properties: {', '.join(sorted(entry.properties)) or '-'}")
            else:
                lines.append(f"    custom loss {getattr(t.fn, '__name__', t.fn)!r} (not in the registry)")
        props = self.properties()
        lines.append("properties (assuming non-negative weights): " + (", ".join(sorted(props)) or "-"))
        return "\n".join(lines)


def _times(factor: Any, weight: Weight) -> Weight:
    if not callable(factor) and not callable(weight):
        return factor * weight
    if callable(factor) and callable(weight):
        return Schedule(lambda s: factor(s) * weight(s), f"({factor!r} * {weight!r})")
    schedule, const = (factor, weight) if callable(factor) else (weight, factor)
    if isinstance(schedule, Schedule):
        return schedule if const == 1 else schedule * const
    return Schedule(lambda s: const * schedule(s),
                    (f"{fmt_number(const)} * " if const != 1 else "") + getattr(schedule, "__name__", "schedule"))


def term(loss: str | Callable[..., Any], *, name: str | None = None, weight: Weight = 1.0,
         stop_gradient: bool = False, select: Callable[..., tuple[Any, ...]] | None = None,
         **options: Any) -> Composite:
    """One loss as a composite term, ready for ``0.7 * term(a) + 0.3 * term(b)``.

    Args:
      loss: a registered loss name or alias, or any function with the loss signature.
      name: the term's name in the breakdown (default: the loss's canonical name).
      weight: a number, or a schedule ``step -> weight``.
      stop_gradient: count the term in the value but not in the gradient.
      select: optional ``select(*args) -> args for this loss``, for terms that
        read only part of the inputs (e.g. the KL term of a VAE reading
        ``predictions["mean"], predictions["log_var"]``).
      **options: the loss's own options (``delta=1.0``, ``label_smoothing=0.1``...).
    """
    return _term("term", "", loss, name=name, weight=weight, stop_gradient=stop_gradient, select=select,
                 options=options)


def _term(fn: str, where: str, loss: Any, *, name: Any, weight: Any, stop_gradient: Any, select: Any,
          options: Mapping[str, Any]) -> Composite:
    """:func:`term`'s checks and its one-term composite; ``where`` prefixes the arguments' names in messages
    (``"terms['a']"`` for :func:`combine`), so that every error names ``fn`` and the argument."""
    at = (lambda argument: f"{where}'s {argument}") if where else (lambda argument: argument)
    text_argument(fn, at("name"), name)
    flag_argument(fn, at("stop_gradient"), stop_gradient)
    if select is not None:
        callable_argument(fn, at("select"), select, "a function select(*args) -> the arguments of this loss")
    default, loss_fn = resolve(loss, fn=fn, argument=where or "loss")
    if isinstance(loss, str):  # an optax name may stand for a loss with an option set (what jl.get gives)
        got = _registry.get(loss)
        if isinstance(got, functools.partial) and got.func is loss_fn:
            options = {**got.keywords, **options}
    label = name or default
    checked = _checked_weight(fn, at("weight"), weight)
    return Composite([_Term(label, loss_fn, checked, dict(options), bool(stop_gradient), select)])


def _checked_weight(fn: str, argument: str, weight: Any) -> Weight:
    """A term's weight: a real number (or a 0-d array) or a schedule ``step -> weight``."""
    if callable(weight) and not isinstance(weight, (Composite, Regularizer)):
        return weight
    if isinstance(weight, numbers.Real) and not isinstance(weight, bool):
        return weight
    if hasattr(weight, "shape") and jnp.ndim(weight) == 0 and jnp.issubdtype(jnp.result_type(weight), jnp.number):
        return weight
    raise TypeError(f"{fn}: {argument} must be a number or a schedule step -> weight (e.g. jl.warmup(100)); got "
                    f"{type(weight).__name__} {weight!r}.")


_COMBINE_SPEC = "loss, (loss, weight) or (loss, weight, options)"


def combine(terms: Mapping[str, Any], *, stop_gradient: Sequence[str] = ()) -> Composite:
    """A composite from ``{name: loss}``, ``{name: (loss, weight)}`` or ``{name: (loss, weight, options)}``.

    ``loss`` is a registered name or a function; ``weight`` a number or a
    schedule; ``options`` a dict of the loss's options. ``stop_gradient`` names
    the terms whose gradient is blocked.
    """
    if not isinstance(terms, Mapping):
        hint = f" (for one loss: jl.term({terms!r}))" if isinstance(terms, str) else ""
        raise TypeError(f"combine: terms must be a dict {{name: {_COMBINE_SPEC}}}, e.g. {{'fit': ('mse', 0.7)}}; "
                        f"got {type(terms).__name__} {terms!r}{hint}.")
    if not terms:
        raise ValueError("combine: terms is empty; give at least one term, e.g. {'fit': ('mse', 1.0)}.")
    if isinstance(stop_gradient, (str, bytes)) or not isinstance(stop_gradient, (Sequence, set, frozenset)):
        raise TypeError(f"combine: stop_gradient must be a list of term names, e.g. "
                        f"stop_gradient=[{next(iter(terms))!r}]; got {type(stop_gradient).__name__} {stop_gradient!r}.")
    unknown = [n for n in stop_gradient if n not in terms]
    if unknown:
        raise KeyError(f"combine: stop_gradient names {unknown}, which are not terms; the terms are {list(terms)}.")
    built = []
    for key, spec in terms.items():
        where = f"terms[{key!r}]"
        if not isinstance(key, str):
            raise TypeError(f"combine: the keys of terms are the terms' names and must be strings; got "
                            f"{type(key).__name__} {key!r}.")
        if isinstance(spec, Composite):
            if len(spec.terms) != 1:
                raise TypeError(f"combine: {where} is a composite of {len(spec.terms)} terms; give one loss.")
            built.append(dataclasses.replace(spec.terms[0], name=key))
            continue
        if not isinstance(spec, tuple):
            spec = (spec,)
        if not 1 <= len(spec) <= 3:
            raise TypeError(f"combine: {where} must be {_COMBINE_SPEC}; got {spec!r}.")
        loss, weight, options = (spec + (1.0, {}))[:3] if len(spec) == 1 else (spec + ({},))[:3]
        if not isinstance(options, Mapping):
            raise TypeError(f"combine: {where}'s options must be a dict of the loss's options, e.g. {{'delta': 0.5}}; "
                            f"got {type(options).__name__} {options!r}.")
        built.append(_term("combine", where, loss, name=key, weight=weight, stop_gradient=False, select=None,
                           options=dict(options)).terms[0])
    composite = Composite(built)
    return composite.stop_gradient(*stop_gradient) if stop_gradient else composite
