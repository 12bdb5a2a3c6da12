"""The stability card: a loss's hard inputs through value, ``grad``, ``jvp``, the Hessian and ``jit``."""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxloss import _registry
from jaxloss._arguments import integer_argument
from jaxloss.compose import Composite
from jaxloss.inspection._arguments import case_indices, floating_dtypes, loss_argument
from jaxloss.inspection._format import arg_name, nonfinite
from jaxloss.inspection._kinds_view import Sample, hard_inputs, kind_of
from jaxloss.inspection._programs import derivatives


@dataclasses.dataclass
class CardRow:
    """One hard input in one dtype: ``status`` is ``"ok"``, ``"skipped"`` or ``"FLAGGED"``."""

    case: str
    dtype: str
    status: str
    detail: str = ""

    @property
    def skipped(self) -> bool:
        return self.status == "skipped"


@dataclasses.dataclass
class Card:
    """The stability card of one loss: one row per (hard input, dtype)."""

    name: str
    kind: str
    rows: list[CardRow]

    @property
    def flagged(self) -> list[CardRow]:
        return [r for r in self.rows if r.status == "FLAGGED"]

    @property
    def ok(self) -> bool:
        return not self.flagged

    def summary(self) -> str:
        counts = {s: sum(r.status == s for r in self.rows) for s in ("ok", "skipped", "FLAGGED")}
        verdict = "stable" if self.ok else f"{counts['FLAGGED']} FLAGGED"
        return f"{self.name}: {verdict} ({counts['ok']} ok, {counts['skipped']} skipped) on {self.kind} hard inputs"

    def __str__(self) -> str:
        width = max([len(r.case) for r in self.rows] + [4])
        lines = [f"stability card: {self.name} (inputs: {self.kind})", ""]
        for r in self.rows:
            lines.append(f"  {r.case:<{width}}  {r.dtype:<8}  {r.status:<7}  {r.detail}".rstrip())
        lines += ["", self.summary()]
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        esc = html.escape
        color = {"ok": "#009E73", "skipped": "#777777", "FLAGGED": "#D55E00"}
        body = "".join(f"<tr><td>{esc(r.case)}</td><td>{esc(r.dtype)}</td><td style='color:{color[r.status]}'>"
                       f"<b>{esc(r.status)}</b></td><td>{esc(r.detail)}</td></tr>" for r in self.rows)
        return (f"<div><b>stability card: {esc(self.name)}</b><table><tr><th>input</th><th>dtype</th>"
                f"<th>status</th><th>detail</th></tr>{body}</table><p>{esc(self.summary())}</p></div>")


_WHAT = "a registered loss's name (e.g. 'huber'), a loss function or a composite"


def stability_cases(name_or_loss: Any, *, kind: Any = None, seed: int = 6) -> list[Sample]:
    """The hard inputs :func:`check` runs for a loss (its input kind's ``hard`` inputs)."""
    fn = loss_argument("stability_cases", "name_or_loss", name_or_loss, what=_WHAT)
    seed = integer_argument("stability_cases", "seed", seed, low=0)
    return hard_inputs(kind_of(fn, kind, "stability_cases")[1], seed)


def _finite_everywhere(tree: Any) -> tuple[bool, str]:
    problems = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        problems += nonfinite(jax.tree_util.keystr(path).strip("[]'") or "value", leaf, limit=2)
    return not problems, "; ".join(problems)


def _differentiable_args(fn: Any, args: Sequence[Any]) -> tuple[int, ...]:
    entry = getattr(fn, "info", None)
    candidates = entry.differentiable_args if isinstance(entry, _registry.LossInfo) else (0,)
    return tuple(i for i in candidates if i < len(args) and jnp.issubdtype(np.asarray(args[i]).dtype, jnp.floating))


def _value_in_float32(fn: Any, case: Sample, kwargs: dict[str, Any], memo: dict[int, Any]) -> Any:
    """The loss on the case's inputs in float32 (an exception is returned, not raised), once per case."""
    if id(case) not in memo:
        try:
            memo[id(case)] = fn(*case.cast(np.float32)[0], **kwargs)
        except (ValueError, TypeError) as err:
            memo[id(case)] = err
    return memo[id(case)]


def _check_case(fn: Any, props: frozenset[str], case: Sample, dtype: Any, float32_values: dict[int, Any]) -> CardRow:
    dname = jnp.dtype(dtype).name
    if not case.accepted_by(fn):
        return CardRow(case.description, dname, "skipped", f"takes no {sorted(case.kwargs)}")
    if case.requires and case.requires not in props:
        return CardRow(case.description, dname, "skipped", f"only promised finite for losses that claim {case.requires}")
    args, kwargs = case.cast(dtype)
    finite_before = [np.isfinite(np.asarray(a, np.float64)) for a in case.args if np.issubdtype(np.asarray(a).dtype, np.floating)]
    finite_after = [np.isfinite(np.asarray(a, np.float64)) for a in args
                    if np.asarray(a).dtype.kind in "fV" or np.asarray(a).dtype == jnp.bfloat16]
    if any(not np.array_equal(b, a) for b, a in zip(finite_before, finite_after)):
        return CardRow(case.description, dname, "skipped", f"the input overflows {dname}")
    # The eager call: the loss's checks see every concrete value (and may raise, as a user's call would).
    try:
        if jnp.dtype(dtype) == jnp.float32:
            value = _value_in_float32(fn, case, kwargs, float32_values)
        else:
            value = fn(*args, **kwargs)
        reference32 = _value_in_float32(fn, case, kwargs, float32_values)
        for result in (value, reference32):
            if isinstance(result, Exception):
                raise result
    except (ValueError, TypeError) as err:
        return CardRow(case.description, dname, "FLAGGED", f"raised {type(err).__name__}: {err}")
    if jnp.dtype(dtype) != jnp.float32 and abs(float(reference32)) > float(jnp.finfo(dtype).max):
        return CardRow(case.description, dname, "skipped", f"the loss itself ({float(reference32):.3g}) overflows {dname}")
    ok, where = _finite_everywhere({"value": value})
    if not ok:
        return CardRow(case.description, dname, "FLAGGED", where)
    problems = []
    argnums = _differentiable_args(fn, args)
    # Under jit: value, gradient, forward derivative (and the Hessian in float32) for every differentiable
    # argument, from one program compiled once per (loss, dtype, shapes, static options).
    results = derivatives(fn, args, kwargs, argnums, hessian=jnp.dtype(dtype) == jnp.float32) if argnums else {}
    for argnum in argnums:
        for what, result in results[argnum].items():
            ok, where = _finite_everywhere({what: result})
            if not ok:
                problems.append(f"{what} of {arg_name(argnum)}: {where.split(': ', 1)[-1]}")
    if problems:
        return CardRow(case.description, dname, "FLAGGED", "; ".join(problems))
    return CardRow(case.description, dname, "ok")


def check(name_or_loss: Any, *, kind: Any = None, dtypes: Sequence[Any] = (jnp.float32, jnp.bfloat16, jnp.float16),
          cases: Sequence[int] | None = None, seed: int = 6) -> Card:
    """The stability card: every hard input of the loss's kind, through value, grad, jvp, Hessian and jit.

    Args:
      name_or_loss: a registered name or loss, or a composite whose terms share an input kind.
      kind: the input kind (a ``jaxloss._kinds`` object or its name, e.g. ``"regression"``), for
        losses not in the registry.
      dtypes: the floating-point dtypes to run, a list (the Hessian is checked in float32 only).
      cases: indices into :func:`stability_cases` (default: all).
      seed: the seed of the hard inputs' random parts.

    Raises:
      KeyError: an unknown loss or kind name.
      ValueError: a function that is not registered and no ``kind=``, a dtype that is not floating
        point, a case index out of range.
      TypeError: arguments of the wrong type.

    A case is skipped, with the reason, when the loss does not take its
    options, when the input is only promised finite for losses claiming a
    property (errors of 1e20 need ``bounded_gradient``), or when the input or the
    loss's own value overflows the dtype. Anything else that is NaN or inf is
    FLAGGED with where it appeared.

    The derivatives of a loss are compiled once per dtype and input shapes and reused across
    cases and calls, so checking case by case costs about what checking them all at once does.

    >>> import jaxloss as jl
    >>> card = jl.check("huber", dtypes=["float32"])
    >>> card.ok, len(card.rows) > 0
    (True, True)
    """
    fn = loss_argument("check", "name_or_loss", name_or_loss, what=_WHAT)
    dtypes = floating_dtypes("check", "dtypes", dtypes)
    seed = integer_argument("check", "seed", seed, low=0)
    name, kind_name = kind_of(fn, kind)
    entry = getattr(fn, "info", None)
    props = entry.properties if isinstance(entry, _registry.LossInfo) else (
        fn.properties() if isinstance(fn, Composite) else frozenset())
    all_cases = stability_cases(fn, kind=kind_name, seed=seed)
    chosen = range(len(all_cases)) if cases is None else case_indices("check", "cases", cases, len(all_cases))
    float32_values: dict[int, Any] = {}
    rows = [_check_case(fn, props, all_cases[i], dt, float32_values) for i in chosen for dt in dtypes]
    return Card(name, kind_name, rows)
