"""The registry: the one list of losses in jaxloss, with each loss's metadata.

Every loss is registered exactly once, by decorating its function with
:func:`register`. Tests, the README catalog table, the benchmarks, the stability
card and the "gradient descent on each loss" demo all iterate over
:func:`catalog`; nothing else keeps a hand-written list of losses.

The decorator also validates, at call time and before any computation, what
every loss shares: ``reduction``, every flag (a bool option: True or False, never
a string), and the range of every concrete value of each declared hyperparameter,
number or array (traced values are skipped, so hyperparameters may be traced or
differentiated).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np

from jaxloss import _core, _optax_names

__all__ = ["Hyperparameter", "LossInfo", "register", "catalog", "get", "info", "PROPERTIES"]

REDUCTIONS = ("mean", "sum", "none")

#: The properties a loss may claim. Each one is checked numerically, for every
#: loss that claims it, by the registry-driven tests.
PROPERTIES = {
    "nonnegative": "the loss is >= 0 for every input",
    "zero_at_target": "the loss is 0 at a perfect prediction",
    "convex": "convex in the predictions",
    "bounded_gradient": "the gradient stays bounded as the error grows (robust to outliers)",
    "symmetric": "an error of +e costs the same as an error of -e",
    "proper_scoring_rule": "the expected loss is minimised by predicting the true distribution",
    "smooth": "twice differentiable everywhere",
}


@dataclasses.dataclass(frozen=True)
class Hyperparameter:
    """One option of a loss: its default and its valid numeric range.

    ``low``/``high`` bound the valid values (``None`` means unbounded);
    ``low_open``/``high_open`` make the bound strict. ``slider`` is the range a
    playground slider should span.
    """

    default: Any
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    doc: str = ""
    slider: tuple[float, float] | None = None

    def describe(self) -> str:
        """The valid range as text, for example ``"> 0"`` or ``"in [0, 1]"``."""
        if self.low is not None and self.high is not None:
            left = "(" if self.low_open else "["
            right = ")" if self.high_open else "]"
            return f"in {left}{_fmt(self.low)}, {_fmt(self.high)}{right}"
        if self.low is not None:
            return (">" if self.low_open else ">=") + f" {_fmt(self.low)}"
        if self.high is not None:
            return ("<" if self.high_open else "<=") + f" {_fmt(self.high)}"
        return "any value"

    def contains(self, value: Any) -> Any:
        """Whether ``value`` is valid: a bool for a number, a boolean array of the same shape for an array."""
        value = np.asarray(value, dtype=np.float64)
        ok = ~np.isnan(value)
        if self.low is not None:
            ok &= (value > self.low) if self.low_open else (value >= self.low)
        if self.high is not None:
            ok &= (value < self.high) if self.high_open else (value <= self.high)
        return bool(ok) if ok.ndim == 0 else ok


def _fmt(x: float) -> str:
    return f"{x:g}"


@dataclasses.dataclass(frozen=True)
class LossInfo:
    """A registry entry: a loss and what it says about itself.

    Attributes:
      name: canonical name, the function's name.
      fn: the loss function itself.
      aliases: other names :func:`get` accepts.
      family: the module family (``"regression"``, ``"classification"``, ...).
      task: what the loss is for (``"regression"``, ``"binary"``, ``"multiclass"``, ...).
      formula: the per-example formula, in plain text.
      summary: one line, "use it when ...".
      hyperparameters: option name -> :class:`Hyperparameter`.
      properties: the properties it claims (keys of :data:`PROPERTIES`).
      inputs: the kind of inputs it takes (see ``jaxloss._samples``), used to
        build test, benchmark and stability inputs.
      toy_problem: the kind of small problem that demonstrates it in training.
      reference: where the definition comes from.
      differentiable_args: positional arguments that are differentiable.
      optax: name of the optax function it corresponds to, if any.
      also_inputs: other input kinds it takes as well (focal: binary logits and class logits).
    """

    name: str
    fn: Callable[..., jax.Array]
    aliases: tuple[str, ...]
    family: str
    task: str
    formula: str
    summary: str
    hyperparameters: Mapping[str, Hyperparameter]
    properties: frozenset[str]
    inputs: str
    toy_problem: str
    reference: str = ""
    differentiable_args: tuple[int, ...] = (0,)
    optax: str | None = None
    also_inputs: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"LossInfo({self.name!r}, family={self.family!r}, task={self.task!r})"

    def accepts(self, kind: str) -> bool:
        """Whether the loss takes inputs of ``kind`` (its own, or one of ``also_inputs``)."""
        return kind == self.inputs or kind in self.also_inputs

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name,) + self.aliases

    def defaults(self) -> dict[str, Any]:
        """The default value of every hyperparameter."""
        return {k: h.default for k, h in self.hyperparameters.items()}

    def takes_logits(self, options: Mapping[str, Any] | None = None) -> bool | None:
        """Whether the predictions are logits with these ``options`` (the defaults when None).

        True for scores that a sigmoid or softmax turns into probabilities (logits, margins,
        log-probabilities), False for values and probabilities, None where predictions are neither
        (embeddings, distances). A ``from_logits`` option decides for the losses that have one.
        Metrics that threshold or calibrate predictions read it (``fit`` builds them with it).
        """
        from jaxloss import _samples

        parameters = inspect.signature(self.fn).parameters
        if "from_logits" in parameters:
            flag = (options or {}).get("from_logits", parameters["from_logits"].default)
            if isinstance(flag, bool):
                return flag
        return _samples.kind(self.inputs).logits


_ENTRIES: dict[str, LossInfo] = {}
_BY_NAME: dict[str, str] = {}


def _concrete_values(fn: str, key: str, value: Any) -> np.ndarray | None:
    """``value`` as a float64 array for checking, None when it is traced (checked nowhere: see below).

    A hyperparameter is a number or an array of numbers (per example or per class); strings, booleans
    and other objects raise a ``TypeError`` naming it.
    """
    if isinstance(value, jax.core.Tracer):
        return None
    if isinstance(value, (bool, np.bool_, str, bytes)) or (hasattr(value, "dtype") and np.dtype(value.dtype) == bool):
        raise TypeError(f"{fn}: {key} must be a number or an array of numbers; got {type(value).__name__} {value!r}.")
    if isinstance(value, (list, tuple)) and any(isinstance(v, jax.core.Tracer) for v in jax.tree.leaves(value)):
        return None
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{fn}: {key} must be a number or an array of numbers; got {type(value).__name__} "
                        f"{value!r}.") from None
    return arr


def _check_hyperparameter(fn: str, key: str, spec: Hyperparameter, value: Any, where: Any = None) -> None:
    """Every concrete value of ``value`` (a number or an array) must be in ``spec``'s range.

    Entries that a concrete ``where`` mask excludes are not checked (they may hold anything, NaN
    included, as excluded inputs may).
    """
    arr = _concrete_values(fn, key, value)
    if arr is None:
        return
    ok = np.asarray(spec.contains(arr))
    if where is not None and arr.ndim and not isinstance(where, jax.core.Tracer):
        mask = np.asarray(where)
        if mask.dtype == bool and mask.ndim <= arr.ndim:
            try:
                excluded = ~mask.reshape(mask.shape + (1,) * (arr.ndim - mask.ndim))
                ok = ok | np.broadcast_to(excluded, arr.shape)
            except ValueError:
                pass
    if ok.all():
        return
    doc = f" ({spec.doc})" if spec.doc else ""
    if arr.ndim == 0:
        raise ValueError(f"{fn}: {key}={float(arr):g} is out of range; {key} must be {spec.describe()}{doc}.")
    bad = arr[~ok]
    raise ValueError(f"{fn}: {key} must be {spec.describe()} everywhere{doc}; got {bad.size} value(s) out of range: "
                     f"{', '.join(f'{v:g}' for v in bad[:5])}{', ...' if bad.size > 5 else ''} at positions "
                     f"{_positions(~ok)}.")


def _positions(bad: np.ndarray) -> list:
    where = np.argwhere(bad)[:5]
    return where[:, 0].tolist() if bad.ndim == 1 else [tuple(i) for i in where.tolist()]


def _check_flag(fn: str, key: str, value: Any) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{fn}: {key} must be True or False; got {type(value).__name__} {value!r}"
                        + (" (a non-empty string is true in Python)" if isinstance(value, str) else "") + ".")


def register(
    *,
    family: str,
    task: str,
    formula: str,
    summary: str,
    inputs: str,
    toy_problem: str,
    aliases: tuple[str, ...] = (),
    hyperparameters: Mapping[str, Hyperparameter] | None = None,
    properties: tuple[str, ...] = (),
    reference: str = "",
    differentiable_args: tuple[int, ...] = (0,),
    optax: str | None = None,
    also_inputs: tuple[str, ...] = (),
) -> Callable[[Callable[..., jax.Array]], Callable[..., jax.Array]]:
    """Registers a loss function under its own name (and aliases).

    Returns a decorator. The decorated function is wrapped so that
    ``reduction`` and the hyperparameters declared here are validated before the
    loss runs; its signature and docstring are kept.
    """
    hyperparameters = dict(hyperparameters or {})
    unknown = set(properties) - set(PROPERTIES)
    if unknown:
        raise ValueError(f"register: unknown properties {sorted(unknown)}; known: {sorted(PROPERTIES)}")

    def decorate(fn: Callable[..., jax.Array]) -> Callable[..., jax.Array]:
        name = fn.__name__
        flags = tuple(k for k, p in inspect.signature(fn).parameters.items() if isinstance(p.default, bool))

        @functools.wraps(fn)
        def loss(*args: Any, **kwargs: Any) -> jax.Array:
            reduction = kwargs.get("reduction", "mean")
            if not isinstance(reduction, str) or reduction not in REDUCTIONS:
                raise ValueError(
                    f"{name}: reduction={reduction!r} is not valid; choose one of "
                    + ", ".join(repr(r) for r in REDUCTIONS) + "."
                )
            for key in flags:
                if key in kwargs:
                    _check_flag(name, key, kwargs[key])
            if kwargs.get("weights") is not None:  # before any computation, not at the reduction
                _core.weight_array(kwargs["weights"], fn=name)
            # Every concrete value is checked, scalar or array; traced values (a hyperparameter that is
            # scheduled or differentiated under jit) cannot be, and are the caller's responsibility.
            for key, spec in hyperparameters.items():
                if kwargs.get(key) is not None:
                    _check_hyperparameter(name, key, spec, kwargs[key], kwargs.get("where"))
            return fn(*args, **kwargs)

        entry = LossInfo(
            name=name, fn=loss, aliases=tuple(aliases), family=family, task=task,
            formula=formula, summary=summary, hyperparameters=hyperparameters,
            properties=frozenset(properties), inputs=inputs, toy_problem=toy_problem,
            reference=reference, differentiable_args=differentiable_args, optax=optax,
            also_inputs=tuple(also_inputs),
        )
        for key in entry.names:
            if key in _BY_NAME:
                raise ValueError(f"register: the name {key!r} is already taken by {_BY_NAME[key]!r}")
        _ENTRIES[name] = entry
        for key in entry.names:
            _BY_NAME[key] = name
        loss.info = entry  # type: ignore[attr-defined]
        return loss

    return decorate


def catalog(*, family: str | None = None, task: str | None = None) -> tuple[LossInfo, ...]:
    """All registered losses, in registration order, optionally filtered.

    >>> import jaxloss as jl
    >>> "huber" in [entry.name for entry in jl.catalog(family="regression")]
    True
    """
    _load_all()
    return tuple(
        e for e in _ENTRIES.values()
        if (family is None or e.family == family) and (task is None or e.task == task)
    )


def info(name_or_loss: str | Callable[..., Any]) -> LossInfo:
    """The registry entry of a loss, given its name, an alias, or the function."""
    _load_all()
    if callable(name_or_loss):
        entry = getattr(name_or_loss, "info", None)
        if isinstance(entry, LossInfo):
            return entry
        raise KeyError(f"{getattr(name_or_loss, '__name__', name_or_loss)!r} is not a registered jaxloss loss")
    key = str(name_or_loss)
    normalized = key.strip().lower().replace("-", "_").replace(" ", "_")
    for candidate in (key, normalized):
        if candidate in _BY_NAME:
            return _ENTRIES[_BY_NAME[candidate]]
    optax_name = normalized.removeprefix("optax.losses.").removeprefix("optax.")
    if optax_name in _optax_names.EQUIVALENTS:
        return _ENTRIES[_optax_names.EQUIVALENTS[optax_name][0]]
    if optax_name in _optax_names.MISSING:
        raise KeyError(f"optax.losses.{optax_name} has no jaxloss equivalent: {_optax_names.MISSING[optax_name]}.")
    close = difflib.get_close_matches(normalized, list(_BY_NAME), n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise KeyError(
        f"jaxloss has no loss named {key!r}.{hint} Known names: {', '.join(sorted(_BY_NAME))}."
    )


def get(name: str) -> Callable[..., jax.Array]:
    """Returns a loss function by canonical name, alias, or optax name.

    An optax name (``softmax_cross_entropy_with_integer_labels``, ``huber_loss``...) gives the
    jaxloss loss that equals it (with the option that makes it so, as a ``functools.partial``); one
    we lack raises a ``KeyError`` that says so and what to use. optax returns per-example values:
    pass ``reduction="none"`` for the same array.

    >>> import jaxloss as jl
    >>> jl.get("mse") is jl.mean_squared_error
    True
    >>> jl.get("softmax_cross_entropy_with_integer_labels") is jl.softmax_cross_entropy
    True
    """
    entry = info(name)
    normalized = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    optax_name = normalized.removeprefix("optax.losses.").removeprefix("optax.")
    if normalized not in _BY_NAME and optax_name in _optax_names.EQUIVALENTS:
        options = _optax_names.EQUIVALENTS[optax_name][1]
        if options:
            return functools.partial(entry.fn, **options)
    return entry.fn


def _load_all() -> None:
    # Registration happens when the loss modules are imported; importing the
    # package imports them all, this only guards direct use of this module.
    import jaxloss.losses  # noqa: F401
