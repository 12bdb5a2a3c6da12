"""Composing losses: weighted sums, schedules, objectives over parameters, regularizers.

Everything here stays a pure function with the loss signature, so a composite
works under ``jit``, ``grad`` and ``vmap`` like any single loss.

**Composites.** Two spellings of the same thing:

>>> import jax, jax.numpy as jnp, jaxloss as jl
>>> loss = 0.7 * jl.term("mse") + 0.3 * jl.term("huber", delta=0.5)
>>> loss
0.7 * mean_squared_error + 0.3 * huber(delta=0.5)
>>> same = jl.combine({"mean_squared_error": ("mse", 0.7), "huber": (jl.huber, 0.3, {"delta": 0.5})})
>>> p, t = jnp.array([0.5, 2.0, -1.0]), jnp.zeros(3)
>>> bool(jnp.isclose(loss(p, t), same(p, t)))
True

A call gives the total; ``with_terms=True`` (or :meth:`Composite.with_terms`)
gives ``(total, {term name: unweighted term value})``, the shape
``jax.value_and_grad(..., has_aux=True)`` expects:

>>> (total, terms), grad = jax.value_and_grad(loss.with_terms, has_aux=True)(p, t)
>>> {k: round(float(v), 4) for k, v in sorted(terms.items())}
{'huber': 0.4583, 'mean_squared_error': 1.75}

Every keyword the composite is called with (``weights=``, ``where=``,
``reduction=``) is passed to every term; ``reduction="none"`` gives the
weighted sum of the terms' per-example losses, which must then agree in shape.
A weight may be a schedule, a callable ``step -> weight`` (an optax schedule
works too); the step is then passed explicitly, ``loss(p, t, step=step)``, so the
composite stays pure (see :func:`linear_schedule`, :func:`warmup`,
:func:`cyclical_schedule`). ``composite.stop_gradient("name")`` keeps a term's
value in the total but blocks its gradient.

**Objectives: the batch convention.** :func:`objective` lifts a loss (single or
composite) to ``objective(params, batch, *, step=None) -> scalar`` given
``model(params, inputs) -> predictions``. A *batch* is either

* a tuple or list ``(inputs, targets)``, or
* a dict with the keys ``"inputs"`` and ``"targets"`` and, optionally,
  ``"weights"`` (per-example weights) and ``"where"`` (a boolean per-example
  mask, e.g. for padded batches), passed to the loss as ``weights=``/``where=``.

``inputs`` and ``targets`` may be any arrays or pytrees the model and the loss
accept; the leading axis indexes examples. The training loop, the inspection
tools and the benchmarks all use this convention.

>>> def model(params, x):
...     return x @ params["w"] + params["b"]
>>> params = {"w": jnp.ones((2,)), "b": jnp.zeros(())}
>>> batch = {"inputs": jnp.array([[1.0, 2.0], [0.0, 1.0]]), "targets": jnp.array([3.0, 0.0])}
>>> obj = jl.objective(model, "mse", regularizers=jl.l2(0.1, mask=lambda path, leaf: leaf.ndim > 0))
>>> total, parts = obj.with_terms(params, batch)
>>> {k: round(float(v), 4) for k, v in parts.items()}
{'loss': 0.5, 'l2': 0.1}

Regularizers (:func:`l2`, :func:`l1`) take any pytree of parameters and a mask:
a pytree of booleans with the parameters' structure (or a prefix of it), or a
predicate ``(path, leaf) -> bool`` where ``path`` is the leaf's key path as
``"layer/w"``. ``l2(scale)`` is ``0.5 * scale * sum(w^2)`` so that its gradient
is ``scale * w``: the weight decay of SGD and ``optax.add_decayed_weights``.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jaxloss import _registry
from jaxloss import models as _models

__all__ = [
    "Composite", "term", "combine", "Schedule", "linear_schedule", "warmup", "cyclical_schedule",
    "Objective", "objective", "Regularizer", "l2", "l1", "unpack_batch",
]

ArrayLike = Any
Weight = Any  # a number or a callable step -> number


# -- schedules ------------------------------------------------------------------------------------


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
            return Schedule(lambda s: other * self._fn(s), f"{_fmt_number(other)} * {self.description}")
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

    return Schedule(fn, f"linear({_fmt_number(start)}->{_fmt_number(end)} over {steps} steps"
                    + (f" from {begin}" if begin else "") + ")")


def warmup(steps: int, *, peak: float = 1.0, delay: int = 0) -> Schedule:
    """0 for ``delay`` steps, then linearly up to ``peak`` over ``steps`` steps (a KL warm-up).

    Bowman et al., Generating Sentences from a Continuous Space, 2016 (KL annealing).

    >>> import jaxloss as jl
    >>> [float(jl.warmup(10)(k)) for k in (0, 5, 10, 20)]
    [0.0, 0.5, 1.0, 1.0]
    """
    s = linear_schedule(0.0, peak, steps, begin=delay)
    s.description = f"warmup({steps}" + (f", peak={_fmt_number(peak)}" if peak != 1.0 else "") + (
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

    return Schedule(fn, f"cyclical(period={period}, ratio={_fmt_number(ratio)})")


# -- composites -----------------------------------------------------------------------------------


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
        return f"{_fmt_number(self.weight)} * {body}"


def _fmt_number(x: Any) -> str:
    return f"{float(x):g}"


def _fmt_option(v: Any) -> str:
    if isinstance(v, float):
        return repr(v)
    if hasattr(v, "shape") and getattr(v, "ndim", 0) > 0:
        return f"array{tuple(v.shape)}"
    return repr(v) if not hasattr(v, "shape") else _fmt_number(v)


def _resolve(loss: str | Callable[..., Any]) -> tuple[str, Callable[..., Any]]:
    """(default name, function) for a registry name or a loss function."""
    if isinstance(loss, str):
        entry = _registry.info(loss)
        return entry.name, entry.fn
    if isinstance(loss, Composite):
        raise TypeError("term: pass a loss function or name, not a composite; add composites with +.")
    if isinstance(loss, Regularizer):
        raise TypeError(_REGULARIZER_IS_NOT_A_TERM.format(reg=loss))
    if not callable(loss):
        raise TypeError(f"term: expected a loss function or a registered loss name; got {type(loss).__name__}.")
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
            raise TypeError(_REGULARIZER_IS_NOT_A_TERM.format(reg=other))
        if isinstance(other, Composite):
            return Composite(self.terms + other.terms)
        if callable(other) or isinstance(other, str):
            return self + term(other)
        return NotImplemented

    def __radd__(self, other: Any) -> Composite:
        if isinstance(other, numbers.Number) and other == 0:  # sum([...]) starts at 0
            return self
        if isinstance(other, Regularizer):
            raise TypeError(_REGULARIZER_IS_NOT_A_TERM.format(reg=other))
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
            kw = dict(t.options)
            if weights is not None:
                kw["weights"] = weights
            if where is not None:
                kw["where"] = where
            value = t.fn(*call_args, **kw, reduction=reduction)
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
            weight = repr(t.weight) if callable(t.weight) else _fmt_number(t.weight)
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
                    (f"{_fmt_number(const)} * " if const != 1 else "") + getattr(schedule, "__name__", "schedule"))


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
    default, fn = _resolve(loss)
    return Composite([_Term(name or default, fn, weight, dict(options), stop_gradient, select)])


def combine(terms: Mapping[str, Any], *, stop_gradient: Sequence[str] = ()) -> Composite:
    """A composite from ``{name: loss}``, ``{name: (loss, weight)}`` or ``{name: (loss, weight, options)}``.

    ``loss`` is a registered name or a function; ``weight`` a number or a
    schedule; ``options`` a dict of the loss's options. ``stop_gradient`` names
    the terms whose gradient is blocked.
    """
    built = []
    for key, spec in terms.items():
        if isinstance(spec, Composite):
            if len(spec.terms) != 1:
                raise TypeError(f"combine: term {key!r} is a composite of {len(spec.terms)} terms; give one loss.")
            built.append(dataclasses.replace(spec.terms[0], name=key))
            continue
        if not isinstance(spec, tuple):
            spec = (spec,)
        if not 1 <= len(spec) <= 3:
            raise TypeError(f"combine: term {key!r} must be loss, (loss, weight) or (loss, weight, options); got {spec!r}.")
        loss, weight, options = (spec + (1.0, {}))[:3] if len(spec) == 1 else (spec + ({},))[:3]
        built.append(term(loss, name=key, weight=weight, **dict(options)).terms[0])
    composite = Composite(built)
    return composite.stop_gradient(*stop_gradient) if stop_gradient else composite


# -- regularizers ---------------------------------------------------------------------------------


def _path_string(path: tuple[Any, ...]) -> str:
    parts = []
    if path and isinstance(path[-1], jax.tree_util.GetAttrKey) and path[-1].name == "value":
        path = path[:-1]  # a flax nnx Variable's value: name the variable ("l1/kernel")
    for key in path:
        for attr in ("key", "name", "idx"):
            if hasattr(key, attr):
                parts.append(str(getattr(key, attr)))
                break
        else:
            parts.append(str(key))
    return "/".join(parts)


def _selected_leaves(params: Any, mask: Any, *, fn: str) -> list[jax.Array]:
    if mask is None:
        return [jnp.asarray(x) for x in jax.tree_util.tree_leaves(params)]
    if callable(mask):
        flat, _ = jax.tree_util.tree_flatten_with_path(params)
        return [jnp.asarray(leaf) for path, leaf in flat if mask(_path_string(path), leaf)]
    chosen: list[jax.Array] = []

    def visit(m: Any, sub: Any) -> None:
        if not isinstance(m, (bool, jnp.bool_)) and not (hasattr(m, "dtype") and jnp.ndim(m) == 0):
            raise TypeError(f"{fn}: mask leaves must be booleans (True = regularize); got {m!r}.")
        if bool(m):
            chosen.extend(jnp.asarray(x) for x in jax.tree_util.tree_leaves(sub))

    try:
        jax.tree_util.tree_map(visit, mask, params)
    except ValueError as err:
        raise ValueError(
            f"{fn}: the mask must have the parameters' structure (or a prefix of it); "
            f"got mask {jax.tree_util.tree_structure(mask)} for parameters "
            f"{jax.tree_util.tree_structure(params)}. ({err})"
        ) from None
    return chosen


_REGULARIZER_IS_NOT_A_TERM = (
    "{reg!r} is a penalty on the parameters, not a loss of (predictions, targets), so it cannot be a term "
    "of a composite. Lift the loss over the model and add it there: "
    "jl.objective(model, loss, regularizers={reg!r}).")


@dataclasses.dataclass(frozen=True)
class Regularizer:
    """A penalty on parameters: ``regularizer(params, *, step=None) -> scalar``. Build with :func:`l2` or :func:`l1`.

    ``scale`` is a number or a schedule ``step -> scale`` (``jl.l2(jl.warmup(100) * 1e-4)``); a
    scheduled regularizer needs the step, which :class:`Objective` and ``fit`` pass. Regularizers do
    not take part in the term algebra (``0.5 * jl.l2(...)``, ``loss + jl.l2(...)`` raise): put the
    factor in the scale, and add regularizers with ``jl.objective(model, loss, regularizers=...)``.
    """

    kind: str
    scale: Weight
    mask: Any = None

    def scale_at(self, step: Any) -> Any:
        """The scale at ``step`` (the number itself when it is not a schedule)."""
        if not callable(self.scale):
            return self.scale
        if step is None:
            raise ValueError(f"{self!r}: the scale is a schedule; pass the training step, e.g. "
                             "objective(params, batch, step=step) (jl.fit passes it).")
        return self.scale(step)

    def __call__(self, params: Any, *, step: Any = None) -> jax.Array:
        leaves = _selected_leaves(params, self.mask, fn=self.kind)
        scale = self.scale_at(step)
        if not leaves:
            return jnp.zeros(())
        if self.kind == "l2":
            # 0.5 * scale * |w|^2: the gradient is scale * w, SGD's weight decay.
            total = sum(jnp.sum(jnp.square(_up(x))) for x in leaves)
            return 0.5 * scale * total
        total = sum(jnp.sum(jnp.abs(_up(x))) for x in leaves)
        return scale * total

    def __repr__(self) -> str:
        mask = "" if self.mask is None else (f", mask={getattr(self.mask, '__name__', 'pytree')}")
        scale = repr(self.scale) if callable(self.scale) else _fmt_number(self.scale)
        return f"{self.kind}({scale}{mask})"

    def _no_sum(self, other: Any) -> Any:
        raise TypeError(_REGULARIZER_IS_NOT_A_TERM.format(reg=self))

    def _no_product(self, other: Any) -> Any:
        raise TypeError(
            f"{self!r} * {other!r}: a regularizer's factor goes into its scale, e.g. "
            f"jl.{self.kind}(jl.warmup(100) * 1e-4) for a scheduled scale; regularizers are added with "
            f"jl.objective(model, loss, regularizers=...).")

    __add__ = __radd__ = _no_sum
    __mul__ = __rmul__ = __truediv__ = _no_product


def _up(x: jax.Array) -> jax.Array:
    return x.astype(jnp.float32) if x.dtype in (jnp.float16, jnp.bfloat16) else x


def _check_scale(fn: str, scale: Any) -> Weight:
    if isinstance(scale, Composite) or isinstance(scale, Regularizer):
        raise TypeError(f"{fn}: scale must be a number or a schedule step -> scale; got {scale!r}.")
    if callable(scale):
        return scale
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real) and not (hasattr(scale, "shape") and jnp.ndim(scale) == 0):
        raise TypeError(f"{fn}: scale must be a number or a schedule step -> scale (e.g. jl.warmup(100) * 1e-4); "
                        f"got {type(scale).__name__} {scale!r}.")
    if isinstance(scale, jax.core.Tracer):
        return scale
    if not float(scale) >= 0:
        raise ValueError(f"{fn}: scale must be >= 0; got {float(scale)}.")
    return scale


def l2(scale: Weight, *, mask: Any = None) -> Regularizer:
    """L2 penalty (weight decay) ``0.5 * scale * sum(w^2)`` over the masked leaves.

    ``scale``: a number >= 0, or a schedule ``step -> scale`` such as ``jl.warmup(100) * 1e-4``.
    ``mask``: None (every leaf), a pytree of booleans shaped like the parameters
    (or a prefix), or a predicate ``(path, leaf) -> bool`` (``path`` like ``"dense/w"``).

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> params = {"w": jnp.array([1.0, 2.0]), "b": jnp.array(3.0)}
    >>> float(jl.l2(1.0, mask={"w": True, "b": False})(params))
    2.5
    >>> float(jl.l2(jl.warmup(100) * 1.0, mask={"w": True, "b": False})(params, step=50))
    1.25
    """
    return Regularizer("l2", _check_scale("l2", scale), mask)


def l1(scale: Weight, *, mask: Any = None) -> Regularizer:
    """L1 penalty ``scale * sum(|w|)`` over the masked leaves (scale and mask as in :func:`l2`).

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> params = {"w": jnp.array([1.0, -2.0]), "b": jnp.array(3.0)}
    >>> float(jl.l1(0.5, mask=lambda path, leaf: path == "w")(params))
    1.5
    """
    return Regularizer("l1", _check_scale("l1", scale), mask)


# -- objectives -----------------------------------------------------------------------------------


def unpack_batch(batch: Any) -> tuple[Any, Any, dict[str, Any]]:
    """``(inputs, targets, {"weights": ..., "where": ...})`` from a batch (see the module docstring)."""
    if isinstance(batch, Mapping):
        missing = [k for k in ("inputs", "targets") if k not in batch]
        extra = [k for k in batch if k not in ("inputs", "targets", "weights", "where")]
        if missing or extra:
            raise ValueError(
                f"objective: a dict batch needs the keys 'inputs' and 'targets' (optional 'weights', 'where'); "
                f"got keys {sorted(batch)}" + (f", missing {missing}" if missing else "")
                + (f", unknown {extra}" if extra else "") + "."
            )
        return batch["inputs"], batch["targets"], {k: batch[k] for k in ("weights", "where") if batch.get(k) is not None}
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch[0], batch[1], {}
    raise ValueError(
        f"objective: a batch is (inputs, targets) or a dict with 'inputs' and 'targets'; got "
        f"{type(batch).__name__}" + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "") + "."
    )


class Objective:
    """``objective(params, batch, *, step=None) -> scalar``: a loss lifted over a model's parameters.

    Attributes: ``model`` (as given), ``loss``, ``regularizers`` (name -> :class:`Regularizer`),
    ``options`` (passed to the loss). The model may be any model :func:`jaxloss.models.as_model`
    takes: a function ``model(params, inputs)``, a flax nnx or an equinox module (then ``params`` is
    its parameter pytree, ``jaxloss.models.as_model(module).params``, and calls run in evaluation mode
    with the module's own state).
    """

    def __init__(self, model: Any, loss: Any, regularizers: Mapping[str, Regularizer],
                 options: Mapping[str, Any]):
        self.model = model
        self.loss = loss
        self.regularizers = dict(regularizers)
        self.options = dict(options)
        self.lifted = _models.as_model(model)

    def predictions(self, params: Any, batch: Any) -> Any:
        inputs, _, _ = unpack_batch(batch)
        return self.lifted.predict(params, inputs)

    def loss_terms(self, predictions: Any, targets: Any, *, step: Any = None, reduction: str = "mean",
                   **extra: Any) -> tuple[jax.Array, dict[str, jax.Array]]:
        """The lifted loss on given predictions, ``(value, {term: value})``, without regularizers."""
        kw = {**self.options, **extra, "reduction": reduction}
        if isinstance(self.loss, Composite):
            return self.loss.with_terms(predictions, targets, step=step, **kw)
        value = self.loss(predictions, targets, **kw)
        return value, {"loss": value}

    def add_regularizers(self, total: jax.Array, parts: dict[str, jax.Array], params: Any, *,
                         step: Any = None) -> tuple[jax.Array, dict[str, jax.Array]]:
        """``total`` and ``parts`` with every regularizer's value added (``fit`` calls this)."""
        parts = dict(parts)
        for name, reg in self.regularizers.items():
            value = jnp.asarray(reg(params, step=step) if isinstance(reg, Regularizer) else reg(params))
            parts[name] = value
            total = total + value.astype(total.dtype)
        return total, parts

    def scheduled_weights(self, step: Any) -> dict[str, jax.Array]:
        """The value at ``step`` of every scheduled weight: composite terms and regularizer scales."""
        weights = self.loss.scheduled_weights(step) if isinstance(self.loss, Composite) else {}
        weights.update({name: jnp.asarray(reg.scale_at(step)) for name, reg in self.regularizers.items()
                        if isinstance(reg, Regularizer) and callable(reg.scale)})
        return weights

    def _loss_terms(self, params: Any, batch: Any, step: Any, reduction: str) -> tuple[jax.Array, dict[str, jax.Array]]:
        inputs, targets, extra = unpack_batch(batch)
        return self.loss_terms(self.lifted.predict(params, inputs), targets, step=step, reduction=reduction, **extra)

    def with_terms(self, params: Any, batch: Any, *, step: Any = None) -> tuple[jax.Array, dict[str, jax.Array]]:
        """``(total, {term or regularizer name: value})``, for ``value_and_grad(..., has_aux=True)``."""
        total, parts = self._loss_terms(params, batch, step, "mean")
        return self.add_regularizers(total, parts, params, step=step)

    def __call__(self, params: Any, batch: Any, *, step: Any = None) -> jax.Array:
        return self.with_terms(params, batch, step=step)[0]

    def per_example(self, params: Any, batch: Any, *, step: Any = None) -> jax.Array:
        """The loss's per-example values (``reduction="none"``), without regularizers."""
        return self._loss_terms(params, batch, step, "none")[0]

    def __repr__(self) -> str:
        loss = repr(self.loss) if isinstance(self.loss, Composite) else _resolve(self.loss)[0]
        regs = "".join(f" + {r!r}" for r in self.regularizers.values())
        return f"objective({self.lifted.name}, {loss}{regs})"


def objective(model: Any, loss: Any, *,
              regularizers: Regularizer | Sequence[Regularizer] | Mapping[str, Regularizer] | None = None,
              **options: Any) -> Objective:
    """Lifts ``loss`` to ``objective(params, batch, *, step=None)`` through ``model``.

    ``model`` is a function ``model(params, inputs) -> predictions`` or a flax nnx / equinox module
    (see :mod:`jaxloss.models`); ``loss`` is a registered name, a loss function or a
    :class:`Composite`; ``options`` go to the loss; ``regularizers`` (one, a list, or a dict name ->
    regularizer) are added to the total and appear in :meth:`Objective.with_terms` under their names
    (``"l2"``, ``"l1"``, ...). The batch convention is in this module's docstring.
    """
    if isinstance(loss, str):
        loss = _registry.get(loss)
    if isinstance(loss, Regularizer):
        raise TypeError(f"objective: {loss!r} is a regularizer; pass it as regularizers={loss!r} and give a loss.")
    if not callable(loss):
        raise TypeError(f"objective: loss must be a loss function, a name or a composite; got {type(loss).__name__}.")
    if regularizers is None:
        regs: dict[str, Regularizer] = {}
    elif isinstance(regularizers, Regularizer):
        regs = {regularizers.kind: regularizers}
    elif isinstance(regularizers, Mapping):
        regs = dict(regularizers)
    else:
        regs = {}
        for r in regularizers:
            key = r.kind if r.kind not in regs else f"{r.kind}_{len(regs)}"
            regs[key] = r
    for key, r in regs.items():
        if not callable(r):
            raise TypeError(f"objective: regularizer {key!r} must be callable params -> scalar; got {r!r}.")
    return Objective(model, loss, regs, options)
