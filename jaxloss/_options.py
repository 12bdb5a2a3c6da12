"""Declared options: the one check every keyword option of a loss or a metric goes through (private).

A public function declares its options in its signature: the annotation says what an option holds,
``| None`` that leaving it out is allowed, and (for numbers) a :class:`Hyperparameter` its valid
range. :func:`declare` reads the signature once, when the function is defined (a loss by
``register``, a metric by ``metrics._inputs.compiled`` or its streaming constructor); :func:`check`
runs at every call, at trace time, before anything is computed. So a loss and a metric given the same
wrong option raise the same error, and an option whose default is None is checked like any other
once it is given.

=========================  ======================================================================
annotation                 accepted
=========================  ======================================================================
``bool``                   True or False (``np.bool_`` too); never a string, a number or None
``int``                    a Python or NumPy integer, or a concrete 0-d integer array; never a bool
``float``                  a number or an array of numbers (NumPy scalars become Python numbers,
                           so they are weakly typed as Python's are), traced ones too; every
                           concrete value within its declared range; never a bool or a string
``ArrayLike``              an array of real numbers (or a number); never a string or a complex array
``Literal[...]``           one of the listed values
``X | None``               also None, meaning "not given"; anything else is checked as ``X``
=========================  ======================================================================

Checking a value never changes what a valid one computes: the checked options are returned as given,
but for NumPy scalars and 0-d integer arrays, which become the Python numbers they hold.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import numbers
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np

from jaxloss._arguments import flag_argument, text_argument
from jaxloss._core import bad_positions

__all__ = ["Hyperparameter", "OptionKind", "Option", "declare", "check", "check_positional"]


@dataclasses.dataclass(frozen=True)
class Hyperparameter:
    """One option of a loss: its valid numeric range (and, filled in by ``register``, its default).

    ``low``/``high`` bound the valid values (``None`` means unbounded);
    ``low_open``/``high_open`` make the bound strict. ``slider`` is the range a
    playground slider should span. ``default`` is read from the loss's signature:
    a declaration never repeats it.
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    doc: str = ""
    slider: tuple[float, float] | None = None
    default: Any = None

    def __post_init__(self) -> None:
        def number(x: Any) -> bool:
            return isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_)) and not np.isnan(x)

        for key in ("low", "high"):
            value = getattr(self, key)
            if value is not None and not number(value):
                raise TypeError(f"Hyperparameter: {key} must be a number or None; got {type(value).__name__} {value!r}.")
        for key in ("low_open", "high_open"):
            flag_argument("Hyperparameter", key, getattr(self, key))
        text_argument("Hyperparameter", "doc", self.doc, optional=False)
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"Hyperparameter: low={self.low} is above high={self.high}; the range is empty.")
        if self.slider is not None and not (isinstance(self.slider, tuple) and len(self.slider) == 2
                                            and all(number(v) for v in self.slider)):
            raise TypeError(f"Hyperparameter: slider must be a (low, high) pair of numbers or None; got {self.slider!r}.")

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


class OptionKind(enum.Enum):
    """What an option holds, read from its annotation. The value is how an error message says it."""

    FLAG = "True or False"
    INTEGER = "an integer"
    NUMBER = "a number or an array of numbers"
    ARRAY = "an array of real numbers"
    CHOICE = "one of the listed values"


#: The annotations an option may have, by name (the signatures' annotations are strings: every module
#: uses ``from __future__ import annotations``). Other names are looked up in the function's module.
_NAMED_KINDS = {"bool": OptionKind.FLAG, "int": OptionKind.INTEGER, "float": OptionKind.NUMBER,
                "ArrayLike": OptionKind.ARRAY}
_TYPE_KINDS = {bool: OptionKind.FLAG, int: OptionKind.INTEGER, float: OptionKind.NUMBER, Any: OptionKind.ARRAY}


@dataclasses.dataclass(frozen=True)
class Option:
    """A declared keyword option: its name, kind, whether None (not given) is allowed, range, choices."""

    name: str
    kind: OptionKind
    optional: bool = False
    range: Hyperparameter | None = None
    choices: tuple[Any, ...] = ()
    default: Any = None

    def expected(self) -> str:
        if self.kind is OptionKind.CHOICE:
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        else:
            text = self.kind.value
            if self.range is not None and self.range.describe() != "any value":
                text += f" {self.range.describe()}"
        return text + (" (or None)" if self.optional and None not in self.choices else "")

    def check(self, fn: str, value: Any, where: Any = None) -> Any:
        """``value`` if valid (NumPy scalars as Python numbers), else a ``TypeError`` or ``ValueError``."""
        if value is None:
            if self.optional or None in self.choices:
                return None
            raise TypeError(f"{fn}: {self.name} must be {self.expected()}; got None"
                            + (f" (leave it out for the default, {self.default!r})" if self.default is not None
                               else "") + ".")
        if self.kind is OptionKind.FLAG:
            return flag_argument(fn, self.name, value)
        if self.kind is OptionKind.INTEGER:
            value = _integer(fn, self.name, value)
            if self.range is not None and not self.range.contains(value):
                raise ValueError(f"{fn}: {self.name}={value} is out of range; {self.name} must be "
                                 f"{self.range.describe()}{_doc(self.range)}.")
            return value
        if self.kind is OptionKind.CHOICE:
            try:
                ok = any(value is c or (type(value) is type(c) and value == c) for c in self.choices)
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise ValueError(f"{fn}: {self.name}={value!r} is not valid; choose one of "
                                 + ", ".join(repr(c) for c in self.choices) + ".")
            return value
        if self.kind is OptionKind.ARRAY and self.range is None:
            _real_array(fn, self.name, value)
            return value.item() if isinstance(value, np.generic) else value
        # A number or an array of numbers, every concrete value in range.
        if isinstance(value, np.generic):
            value = value.item()
        _check_range(fn, self.name, self.range or Hyperparameter(), value, where)
        return value


def _doc(spec: Hyperparameter) -> str:
    return f" ({spec.doc})" if spec.doc else ""


def _integer(fn: str, key: str, value: Any) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{fn}: {key} must be an integer; got bool {value!r} (True and False are not counts: "
                        f"pass {int(value)} if you mean it).")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, jax.core.Tracer):
        raise TypeError(f"{fn}: {key} must be a Python value (an integer: it is static, it fixes a shape or a "
                        f"label); got a traced value. Under jax.jit bind it with functools.partial or "
                        f"static_argnames=('{key}',).")
    dtype = getattr(value, "dtype", None)
    if dtype is not None and np.ndim(value) == 0 and np.issubdtype(np.dtype(dtype), np.integer):
        return int(value)
    hint = ""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        hint = f" Pass {int(value)}."
    raise TypeError(f"{fn}: {key} must be an integer; got {type(value).__name__} {value!r}.{hint}")


def _real_array(fn: str, key: str, value: Any) -> None:
    """A number or an array of real numbers (concrete or traced); raises ``TypeError`` otherwise."""
    if isinstance(value, (str, bytes, Mapping)) or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{fn}: {key} must be {OptionKind.ARRAY.value}; got {type(value).__name__} {value!r}.")
    dtype = getattr(value, "dtype", None)
    if dtype is None:
        if isinstance(value, numbers.Real):
            return
        try:
            dtype = np.asarray(value).dtype
        except (TypeError, ValueError):
            dtype = np.dtype(object)
    dtype = np.dtype(dtype)
    if _numeric_kind(dtype) == "complex":
        raise TypeError(f"{fn}: {key} must be real; got dtype {dtype}.")
    if _numeric_kind(dtype) is None:
        raise TypeError(f"{fn}: {key} must be {OptionKind.ARRAY.value}; got {type(value).__name__} {value!r}.")


def _numeric_kind(dtype: Any) -> str | None:
    """"real" for booleans, integers and floats (bfloat16 and friends too), "complex", or None for the rest."""
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        return None
    if jax.numpy.issubdtype(dtype, jax.numpy.complexfloating):
        return "complex"
    if dtype == np.bool_ or jax.numpy.issubdtype(dtype, jax.numpy.number):
        return "real"
    return None


def _concrete_values(fn: str, key: str, value: Any) -> np.ndarray | None:
    """``value`` as a float64 array for checking, None when it is traced (it cannot be checked).

    A hyperparameter is a number or an array of numbers (per example or per class); strings, booleans
    and other objects raise a ``TypeError`` naming it.
    """
    if isinstance(value, jax.core.Tracer):
        return None
    if isinstance(value, (bool, np.bool_, str, bytes)) or (hasattr(value, "dtype") and np.dtype(value.dtype) == bool):
        raise TypeError(f"{fn}: {key} must be a number or an array of numbers; got {type(value).__name__} {value!r}.")
    if isinstance(value, (list, tuple)) and any(isinstance(v, jax.core.Tracer) for v in jax.tree.leaves(value)):
        return None
    if hasattr(value, "dtype") and np.dtype(value.dtype).kind == "c":
        raise TypeError(f"{fn}: {key} must be real; got dtype {value.dtype}.")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{fn}: {key} must be a number or an array of numbers; got {type(value).__name__} "
                        f"{value!r}.") from None
    return arr


def _check_range(fn: str, key: str, spec: Hyperparameter, value: Any, where: Any = None) -> None:
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
    if arr.ndim == 0:
        raise ValueError(f"{fn}: {key}={float(arr):g} is out of range; {key} must be {spec.describe()}{_doc(spec)}.")
    bad = arr[~ok]
    raise ValueError(f"{fn}: {key} must be {spec.describe()} everywhere{_doc(spec)}; got {bad.size} value(s) out of "
                     f"range: {', '.join(f'{v:g}' for v in bad[:5])}{', ...' if bad.size > 5 else ''} at positions "
                     f"{bad_positions(~ok)}.")


# -- reading a signature ----------------------------------------------------------------------------


def _atoms(annotation: Any, namespace: Mapping[str, Any]) -> list[Any]:
    """The alternatives of an annotation: ``None``, an :class:`OptionKind`, or ``("choices", values)``."""
    if isinstance(annotation, str):
        text = annotation.strip()
        if text in _NAMED_KINDS:
            return [_NAMED_KINDS[text]]
        if text == "None":
            return [None]
        depth, parts, start = 0, [], 0
        for i, ch in enumerate(text):
            depth += ch in "[("
            depth -= ch in "])"
            if ch == "|" and depth == 0:
                parts.append(text[start:i])
                start = i + 1
        if start:
            return [a for part in parts + [text[start:]] for a in _atoms(part, namespace)]
        annotation = eval(text, dict(namespace), {"typing": typing})  # a name of the module: Average, Reduction
    if annotation is None or annotation is type(None):
        return [None]
    if annotation in _TYPE_KINDS:
        return [_TYPE_KINDS[annotation]]
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return [("choices", typing.get_args(annotation))]
    if origin is typing.Union or origin is types.UnionType:
        return [a for arg in typing.get_args(annotation) for a in _atoms(arg, namespace)]
    raise TypeError(f"an option annotated {annotation!r} has no declared check; annotate it bool, int, float, "
                    "ArrayLike, a Literal or one of these | None (jaxloss/_options.py).")


def declare(fn: Callable[..., Any], *, ranges: Mapping[str, Hyperparameter] | None = None,
            skip: tuple[str, ...] = ("weights", "where", "reduction")) -> dict[str, Option]:
    """The keyword-only options of ``fn`` (but ``skip``), each an :class:`Option` read from its annotation.

    ``ranges`` gives the valid range of numeric options (a loss's ``hyperparameters``). Raises at
    definition time when an annotation has no check, or a range is given to an option that is no number.
    """
    ranges = dict(ranges or {})
    namespace = getattr(inspect.unwrap(fn), "__globals__", {})
    declared = {}
    for key, p in inspect.signature(fn).parameters.items():
        if p.kind is not p.KEYWORD_ONLY or key in skip:
            continue
        label = f"{getattr(fn, '__qualname__', fn)}: option {key!r}"
        try:
            atoms = _atoms(p.annotation, namespace)
        except (TypeError, NameError, SyntaxError) as err:
            raise TypeError(f"{label}: {err}") from None
        optional = None in atoms
        choices = tuple(v for a in atoms if isinstance(a, tuple) for v in a[1])
        kinds = {a for a in atoms if isinstance(a, OptionKind)}
        if choices and kinds or len(kinds) > 1:
            raise TypeError(f"{label} mixes kinds {sorted(k.name for k in kinds)}{' and choices' * bool(choices)}: "
                            "declare one.")
        kind = OptionKind.CHOICE if choices else kinds.pop()
        spec = ranges.pop(key, None)
        if spec is not None and kind not in (OptionKind.NUMBER, OptionKind.ARRAY, OptionKind.INTEGER):
            raise TypeError(f"{label} is {kind.value}; only numbers have a range.")
        default = None if p.default is p.empty else p.default
        declared[key] = Option(key, kind, optional=optional, range=spec,
                               choices=choices + ((None,) if optional and choices else ()), default=default)
    if ranges:
        raise ValueError(f"{getattr(fn, '__qualname__', fn)}: ranges for {sorted(ranges)}, which are not keyword-only "
                         "options of its signature.")
    return declared


def check(fn: str, declared: Mapping[str, Option], options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` checked against ``declared`` (others, e.g. ``weights``, pass through), normalised."""
    where = options.get("where")
    out = dict(options)
    for key, value in options.items():
        spec = declared.get(key)
        if spec is not None:
            out[key] = spec.check(fn, value, where)
    return out


def check_positional(fn: str, name: str, value: Any) -> None:
    """An array argument (predictions, targets, ...): never None, a string or a complex array.

    Lists, tuples and anything with a dtype pass: the function converts and checks them itself (a tuple
    may be a model's several outputs). The message names the function and the argument.
    """
    if value is None:
        raise TypeError(f"{fn}: {name} is None; pass an array.")
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{fn}: {name} must be an array; got the string {value!r}.")
    dtype = getattr(value, "dtype", None)
    if dtype is not None:
        kind = _numeric_kind(dtype)
        if kind == "complex":
            raise TypeError(f"{fn}: {name} must be real; got dtype {np.dtype(dtype)}.")
        if kind is None:
            raise TypeError(f"{fn}: {name} must be an array of numbers; got dtype {dtype}.")
    elif not isinstance(value, (numbers.Number, list, tuple, Mapping)) and not hasattr(value, "__array__") \
            and not hasattr(value, "__jax_array__"):
        raise TypeError(f"{fn}: {name} must be an array; got {type(value).__name__} {value!r}.")
