"""Inspecting losses: what a loss does to the gradient, and where it breaks.

* :func:`inspect` evaluates a loss (a registered name or function, a
  :class:`~jaxloss.compose.Composite`, or an :class:`~jaxloss.compose.Objective`)
  at one point and returns a :class:`Report`: the value, the gradient, the
  Hessian (full up to 100 entries; above that its exact diagonal, one
  Hessian-vector product per entry, batched with ``lax.map``, up to 20,000
  entries), per-example losses and gradients (``vmap`` of ``grad``), the examples
  that dominate the gradient, the reduction's denominator and each example's
  effective weight, a central finite-difference check of the gradient (float64
  when x64 is enabled; float32 differences are approximate and the report says
  so), per-term values for composites, and every NaN/inf with where it was.
* :func:`grad_curve`: value, first and second derivative along a range of errors.
* :func:`check`: the stability card, the battery of hard inputs of a loss's input
  kind (``jaxloss._samples.hard_inputs``) through the value, ``grad``, ``jvp``,
  the Hessian and ``jit``, in float32, bfloat16 and float16. The registry-driven
  tests run this same battery over the whole catalog.

Examples are axis 0 of the positional arguments (and of ``weights``/``where``
when they have one entry per example). The per-example loss ``l_i`` is the
loss's ``reduction="none"`` value without ``weights=`` (``where=`` applied, so
excluded examples are 0); the effective weight ``c_i`` is what the reduction
multiplies it by: ``value = sum_i c_i l_i`` and ``gradient = sum_i c_i grad l_i``
(``c_i = w_i m_i / D`` for ``"mean"``, with ``D`` the count, the masked count or
the sum of weights; ``w_i m_i`` for ``"sum"``).

>>> import jax.numpy as jnp, jaxloss as jl
>>> report = jl.inspect("huber", jnp.array([0.5, 2.0, 10.0]), jnp.zeros(3), delta=1.0)
>>> round(report.value, 4), [round(g, 4) for g in report.gradient.tolist()]
(3.7083, [0.1667, 0.3333, 0.3333])
>>> report.denominator, report.dominant[0][0]
(3.0, (1,))
"""

from __future__ import annotations

import dataclasses
import html
import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from jaxloss import _registry, _samples
from jaxloss.compose import Composite, Objective, unpack_batch
from jaxloss.compose._calling import call_loss

__all__ = ["Report", "inspect", "GradCurve", "grad_curve", "Card", "CardRow", "check", "stability_cases"]

FULL_HESSIAN_LIMIT = 100
DIAGONAL_HESSIAN_LIMIT = 20_000
FD_COORDINATES = 200

ARG_NAMES = ("predictions", "targets")


def _arg_name(i: int) -> str:
    return ARG_NAMES[i] if i < len(ARG_NAMES) else f"argument {i}"


def _x64() -> bool:
    return bool(jax.config.jax_enable_x64)


def _is_float(a: Any) -> bool:
    dt = np.asarray(a).dtype if not hasattr(a, "dtype") else a.dtype
    return jnp.issubdtype(dt, jnp.floating)


def _nonfinite(label: str, x: Any, limit: int = 3) -> list[str]:
    """'label: 2 NaN at (0, 1), (3, 2)' lines for the NaN and inf entries of ``x``."""
    if x is None or not _is_float(x):
        return []
    a = np.asarray(jnp.asarray(x).astype(jnp.float32) if jnp.asarray(x).dtype == jnp.bfloat16 else x, np.float64)
    out = []
    for what, bad in (("NaN", np.isnan(a)), ("+inf", np.isposinf(a)), ("-inf", np.isneginf(a))):
        if bad.any():
            idx = [tuple(int(i) for i in ix) for ix in np.argwhere(bad)[:limit]]
            more = f" (+{int(bad.sum()) - limit} more)" if bad.sum() > limit else ""
            out.append(f"{label}: {int(bad.sum())} {what} at {', '.join(map(str, idx)) if idx else '()'}{more}")
    return out


def _fmt(x: Any, digits: int = 6) -> str:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(x) or math.isinf(x):
        return str(x)
    return f"{x:.{digits}g}"


def _fmt_array(a: Any, limit: int = 8) -> str:
    flat = np.asarray(a, np.float64).reshape(-1)
    body = ", ".join(_fmt(v, 4) for v in flat[:limit])
    return f"[{body}{', ...' if flat.size > limit else ''}]"


def _entry_names(tree: Any) -> list[str]:
    """A name for every entry of ``ravel_pytree(tree)``, in its order: ``w[2]``, ``layer/b``, ``w1[0, 3]``."""
    names = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        base = "/".join(str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))) for k in path) or "x"
        shape = np.shape(leaf)
        if not shape:
            names.append(base)
        else:
            names += [f"{base}[{', '.join(map(str, ix))}]" for ix in np.ndindex(*shape)]
    return names


def _fmt_tree(tree: Any) -> str:
    """A gradient pytree by leaf: ``w [0.1, -0.2], b 0.3``."""
    parts = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        name = "/".join(str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))) for k in path) or "x"
        parts.append(f"{name} {_fmt(float(np.asarray(leaf)), 4) if np.ndim(leaf) == 0 else _fmt_array(leaf, 4)}")
    return ", ".join(parts[:8]) + (", ..." if len(parts) > 8 else "")


# -- the report -----------------------------------------------------------------------------------


@dataclasses.dataclass
class Report:
    """What :func:`inspect` found. Arrays are NumPy; print it, or show it in Jupyter.

    Attributes:
      subject: what was inspected (the loss with its options, a composite's formula, an objective).
      wrt: what the gradient is taken with respect to (``"predictions"``, ``"params"``, ...).
      value: the (reduced) loss.
      gradient: d value / d wrt, the shape of ``wrt`` (a pytree for objectives).
      hessian: the full Hessian, ``(size, size)``, when ``wrt`` has at most 100 entries.
      hessian_diagonal: its diagonal (always, up to 20,000 entries).
      hessian_note: how the Hessian was computed, or why not.
      per_example_losses: ``l_i`` (``reduction="none"`` without ``weights=``).
      per_example_gradients: ``grad l_i`` with respect to example i's slice, shape ``(n, ...)``
        (flattened parameters ``(n, P)`` for objectives).
      per_example_gradient_norms: ``|grad l_i|``, shape ``(n,)``.
      effective_weights: ``c_i`` with ``value = sum c_i l_i``, the shape of ``per_example_losses``.
      denominator, denominator_kind: what the mean divided by.
      dominant: ``(index, |row of the gradient|, share)`` for the examples whose part
        of the total gradient is largest.
      terms: per-term values for composites and objectives.
      fd_max_relative_error, fd_index, fd_note: the finite-difference check.
      nonfinite_inputs, nonfinite: NaN/inf found in the inputs and in the results.
      notes: anything else worth knowing.
    """

    subject: str
    wrt: str
    value: float
    gradient: Any
    hessian: np.ndarray | None = None
    hessian_diagonal: np.ndarray | None = None
    hessian_note: str = ""
    per_example_losses: np.ndarray | None = None
    per_example_gradients: np.ndarray | None = None
    per_example_gradient_norms: np.ndarray | None = None
    effective_weights: np.ndarray | None = None
    denominator: float | None = None
    denominator_kind: str = ""
    dominant: list[tuple[tuple[int, ...], float, float]] = dataclasses.field(default_factory=list)
    terms: dict[str, float] = dataclasses.field(default_factory=dict)
    fd_max_relative_error: float | None = None
    fd_index: tuple[int, ...] | None = None
    fd_note: str = ""
    nonfinite_inputs: list[str] = dataclasses.field(default_factory=list)
    nonfinite: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    dtype: str = ""
    #: For a pytree ``wrt`` (parameters): each flat entry's name by its leaf path, ``w[2]``, ``layer/b``.
    entry_names: list[str] | None = None
    _line: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray, str, float]] | None = dataclasses.field(
        default=None, repr=False)

    @property
    def ok(self) -> bool:
        """No NaN/inf in any result."""
        return not self.nonfinite

    def rows(self) -> list[tuple[str, str]]:
        """The summary as (label, text) pairs: what ``str()`` and the HTML table show."""
        flat_grad = ravel_pytree(self.gradient)[0] if not isinstance(self.gradient, np.ndarray) else self.gradient
        shown = _fmt_tree(self.gradient) if not isinstance(self.gradient, np.ndarray) else _fmt_array(flat_grad)
        rows = [("value", _fmt(self.value, 8)),
                (f"gradient wrt {self.wrt}", f"{shown}  norm {_fmt(np.linalg.norm(np.asarray(flat_grad, np.float64)), 4)}")]
        if self.hessian_diagonal is not None:
            rows.append((f"Hessian ({self.hessian_note})", "diagonal " + _fmt_array(self.hessian_diagonal)))
        else:
            rows.append(("Hessian", self.hessian_note))
        if self.terms:
            rows.append(("terms", ", ".join(f"{k} = {_fmt(v, 6)}" for k, v in self.terms.items())))
        if self.denominator_kind:
            rows.append(("reduction", self.denominator_kind))
        if self.fd_max_relative_error is not None:
            where = (self.entry_names[self.fd_index[0]] if self.entry_names and self.fd_index
                     else self.fd_index)
            rows.append(("finite differences", f"max relative error {_fmt(self.fd_max_relative_error, 3)} at "
                         f"{where} ({self.fd_note})"))
        elif self.fd_note:
            rows.append(("finite differences", self.fd_note))
        rows.append(("NaN/inf in inputs", "; ".join(self.nonfinite_inputs) or "none"))
        rows.append(("NaN/inf in results", "; ".join(self.nonfinite) or "none"))
        if self.dominant:
            rows.append(("dominant examples", ", ".join(
                f"{ix[0] if len(ix) == 1 else ix} ({100 * share:.0f}% of |gradient|)" for ix, _, share in self.dominant)))
        for note in self.notes:
            rows.append(("note", note))
        return rows

    def example_rows(self, limit: int = 10) -> tuple[list[str], list[list[str]]]:
        """The per-example table: header and up to ``limit`` rows."""
        if self.per_example_losses is None:
            return [], []
        losses = np.asarray(self.per_example_losses, np.float64)
        n = losses.shape[0] if losses.ndim else 1
        header = ["example", "loss", "effective weight", "|grad|"]
        out = []
        for i in range(min(n, limit)):
            loss_i = losses[i] if losses.ndim else losses
            w = None if self.effective_weights is None else np.asarray(self.effective_weights, np.float64)[i]
            g = None if self.per_example_gradient_norms is None else self.per_example_gradient_norms[i]
            cell = (lambda v: _fmt(v, 5) if np.ndim(v) == 0 else _fmt_array(v, 4))
            out.append([str(i), cell(loss_i), "-" if w is None else cell(w), "-" if g is None else _fmt(g, 5)])
        if n > limit:
            out.append([f"... {n - limit} more", "", "", ""])
        return header, out

    def __str__(self) -> str:
        rows = self.rows()
        width = max(len(k) for k, _ in rows)
        lines = [f"inspect {self.subject}" + (f"  [{self.dtype}]" if self.dtype else ""), ""]
        lines += [f"  {k:<{width}}  {v}" for k, v in rows]
        header, body = self.example_rows()
        if header:
            widths = [max(len(r[c]) for r in [header] + body) for c in range(len(header))]
            lines += ["", "  " + "  ".join(h.ljust(w) for h, w in zip(header, widths))]
            lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in body]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.__str__()

    def _repr_html_(self) -> str:
        esc = html.escape
        parts = [f"<div><b>inspect {esc(self.subject)}</b> <small>{esc(self.dtype)}</small>",
                 "<table>" + "".join(f"<tr><th style='text-align:left'>{esc(k)}</th><td style='text-align:left'>"
                                     f"<code>{esc(v)}</code></td></tr>" for k, v in self.rows()) + "</table>"]
        header, body = self.example_rows()
        if header:
            parts.append("<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>"
                         + "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in body)
                         + "</table>")
        return "".join(parts) + "</div>"

    def plot(self, *, points: int = 201, span: float | None = None) -> Any:
        """The loss and its derivative along the entry with the largest gradient, around this point.

        The x-axis is that entry's error ``p - t`` for element-wise losses
        (otherwise the entry's value); the current point is marked. Returns a
        matplotlib Figure (never shown).
        """
        from jaxloss import plot as _plot

        if self._line is None:
            raise ValueError("inspect: this report has no input to vary (nothing to plot).")
        xs, values, slopes, label, current = self._line(np.asarray([points, -1 if span is None else span]))
        fig, axes = _plot.new_figure(1, 2, width=9.6, height=3.9, layout="constrained")
        ax_v, ax_g = axes[0]
        ax_v.plot(xs, values, color=_plot.PALETTE[0], label="loss")
        ax_g.plot(xs, slopes, color=_plot.PALETTE[1], label="derivative")
        i = int(np.argmin(np.abs(xs - current)))
        for ax, ys in ((ax_v, values), (ax_g, slopes)):
            ax.plot([xs[i]], [ys[i]], "o", color=_plot.COLORS["highlight"], label="inspected point")
        _plot.style_axes(ax_v, title="value", xlabel=label, ylabel="loss", legend=True)
        _plot.style_axes(ax_g, title="derivative", xlabel=label, ylabel="d loss / d entry", legend=True)
        fig.suptitle(self.subject, fontsize=11)
        return fig


# -- helpers for inspect --------------------------------------------------------------------------


def _describe_subject(fn: Any, options: dict[str, Any]) -> str:
    if isinstance(fn, Composite):
        return repr(fn)
    entry = getattr(fn, "info", None)
    name = entry.name if isinstance(entry, _registry.LossInfo) else getattr(fn, "__name__", "loss")
    shown = {k: v for k, v in options.items() if k not in ("weights", "where") and np.ndim(v) == 0}
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in shown.items())})" if shown else name


def _hessian(f_flat: Callable[[jax.Array], jax.Array], x: jax.Array) -> tuple[np.ndarray | None, np.ndarray | None, str]:
    n = x.size
    if n <= FULL_HESSIAN_LIMIT:
        h = np.asarray(jax.jit(jax.hessian(f_flat))(x))  # one program, not one dispatch per operation
        return h, np.diagonal(h).copy(), f"full, {n}x{n}"
    if n <= DIAGONAL_HESSIAN_LIMIT:
        grad_f = jax.grad(f_flat)

        @jax.jit
        def diagonal(x: jax.Array) -> jax.Array:
            def entry(i: jax.Array) -> jax.Array:
                e = jax.nn.one_hot(i, n, dtype=x.dtype)
                return jax.jvp(grad_f, (x,), (e,))[1][i]  # exact: e_i^T H e_i

            return jax.lax.map(entry, jnp.arange(n), batch_size=min(n, 128))

        return None, np.asarray(diagonal(x)), f"diagonal of {n}x{n}, exact, by Hessian-vector products"
    return None, None, f"skipped: {n} entries (more than {DIAGONAL_HESSIAN_LIMIT})"


def _finite_differences(f_flat: Callable[[jax.Array], jax.Array], x: jax.Array, grad: np.ndarray,
                        ) -> tuple[float, int, str]:
    exact = _x64()
    dtype = jnp.float64 if exact else jnp.float32
    x = x.astype(dtype)
    n = x.size
    if n <= FD_COORDINATES:
        idx = np.arange(n)
    else:
        rng = np.random.default_rng(0)
        largest = np.argsort(-np.abs(grad))[: FD_COORDINATES // 2]
        idx = np.unique(np.concatenate([largest, rng.choice(n, FD_COORDINATES // 2, replace=False)]))
    # Central differences with step ~ eps^(1/3) * scale (truncation and rounding balanced).
    scale = np.maximum(1.0, np.abs(np.asarray(x, np.float64)[idx]))
    h = (6e-6 if exact else 5e-3) * scale
    probes = np.zeros((len(idx), n))
    probes[np.arange(len(idx)), idx] = h
    probes = jnp.asarray(probes, dtype)
    batched = jax.jit(jax.vmap(lambda d: f_flat(x + d) - f_flat(x - d)))
    fd = np.asarray(batched(probes), np.float64) / (2 * h)
    g = np.asarray(grad, np.float64)[idx]
    floor = 1e-8 * max(1.0, float(np.max(np.abs(g))) if g.size else 1.0)
    with np.errstate(invalid="ignore"):
        rel = np.abs(fd - g) / np.maximum(np.maximum(np.abs(g), np.abs(fd)), floor)
    rel = np.where(np.isfinite(rel), rel, np.inf)
    worst = int(np.argmax(rel)) if rel.size else 0
    note = (f"{len(idx)} of {n} entries, central differences in "
            + ("float64" if exact else "float32: approximate, enable x64 for an exact check"))
    return float(rel[worst]) if rel.size else 0.0, int(idx[worst]) if rel.size else 0, note


def _denominator(mask_weight: np.ndarray, total: int, implied: float | None, has_weights: bool, has_mask: bool,
                 reduction: str) -> tuple[float, str]:
    if reduction == "sum":
        return 1.0, "sum (no denominator)"
    formula = float(np.sum(mask_weight))
    if has_weights:
        kind = f"mean over the sum of weights{' of the included entries' if has_mask else ''} = {_fmt(formula)}"
    elif has_mask:
        kind = f"mean over the masked count = {int(formula)} of {total} entries"
    else:
        kind = f"mean over the count of entries = {total}"
    if implied is not None and not math.isclose(implied, formula, rel_tol=1e-4, abs_tol=1e-9):
        return implied, (f"mean over {_fmt(implied)}, implied by sum / mean: the loss weights or drops entries "
                         f"itself (class_weights, ignore_index, ...)")
    return formula, kind


def _example_axes(arrays: Sequence[Any], n: int) -> list[int | None]:
    return [0 if (a is not None and np.ndim(a) >= 1 and np.shape(a)[0] == n) else None for a in arrays]


def _first_index(shape: tuple[int, ...], flat: int) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(flat, shape)) if shape else ()


# -- inspect --------------------------------------------------------------------------------------


def inspect(subject: Any, *inputs: Any, argnum: int = 0, step: Any = None, top: int = 3, **options: Any) -> Report:
    """Inspects a loss, a composite or an objective at one point; returns a :class:`Report`.

    Args:
      subject: a registered loss name or alias, a loss function, a
        :class:`~jaxloss.compose.Composite`, or an :class:`~jaxloss.compose.Objective`.
      *inputs: the loss's positional arguments (``predictions, targets, ...``),
        or ``params, batch`` for an objective.
      argnum: which positional argument to differentiate (losses only).
      step: the training step, for composites with scheduled weights.
      top: how many dominant examples to list.
      **options: the loss's keyword options (``delta=1.0``, ``weights=``,
        ``where=``, ``reduction="sum"``); ``reduction="none"`` is not allowed
        (the report needs a scalar; it shows the per-example values anyway).

    Raises:
      KeyError: an unknown loss name. ValueError/TypeError: inputs the loss rejects.
    """
    if isinstance(subject, Objective):
        return _inspect_objective(subject, inputs, step=step, top=top)
    fn = _registry.get(subject) if isinstance(subject, str) else subject
    if not callable(fn):
        raise TypeError(f"inspect: expected a loss, a loss name, a composite or an objective; got {type(subject).__name__}.")
    if len(inputs) < 1:
        raise ValueError("inspect: pass the loss's inputs, e.g. jl.inspect('huber', predictions, targets).")
    reduction = options.pop("reduction", "mean")
    if reduction not in ("mean", "sum"):
        raise ValueError(f"inspect: reduction={reduction!r}; use 'mean' or 'sum' (per-example values are always shown).")
    if isinstance(fn, Composite):
        options["step"] = step
    elif step is not None:
        raise ValueError("inspect: step= applies to composites with scheduled weights.")
    args = [jnp.asarray(a) if not isinstance(a, jax.Array) and np.ndim(a) >= 0 and not isinstance(a, (dict, list, tuple)) else a
            for a in inputs]
    if not 0 <= argnum < len(args):
        raise ValueError(f"inspect: argnum={argnum} must name one of the {len(args)} positional arguments.")
    if isinstance(args[argnum], (dict, list, tuple)) or not hasattr(args[argnum], "shape"):
        return _inspect_pytree(fn, args, argnum, options, reduction)
    if not _is_float(args[argnum]):
        raise ValueError(f"inspect: argnum={argnum} must name a floating-point argument (an array or a pytree of "
                         f"arrays, such as parameters); got dtype {args[argnum].dtype}.")
    weights, where = options.pop("weights", None), options.pop("where", None)
    x = jnp.asarray(args[argnum])
    subject_text = _describe_subject(fn, options)

    def call(xv: jax.Array, red: str, *, use_weights: bool = True, a: Sequence[Any] | None = None,
             w: Any = None, m: Any = None) -> jax.Array:
        a = list(args if a is None else a)
        a[argnum] = xv
        kw = dict(options)
        weights_now = (weights if w is None else w) if use_weights else None
        where_now = where if m is None else m
        if weights_now is not None:
            kw["weights"] = weights_now
        if where_now is not None:
            kw["where"] = where_now
        return call_loss(fn, *a, **kw, reduction=red)

    report = Report(subject=subject_text, wrt=_arg_name(argnum), value=float("nan"), gradient=None,
                    dtype=str(x.dtype))
    for i, a in enumerate(args):
        report.nonfinite_inputs += _nonfinite(f"input {_arg_name(i)}", a)
    for key, v in (("weights", weights), ("where", where)):
        report.nonfinite_inputs += _nonfinite(f"input {key}", v)

    f = lambda xv: call(xv, reduction)  # noqa: E731
    if isinstance(fn, Composite):
        total, parts = fn.with_terms(*[x if i == argnum else a for i, a in enumerate(args)],
                                     **{k: v for k, v in options.items()},
                                     **({"weights": weights} if weights is not None else {}),
                                     **({"where": where} if where is not None else {}), reduction=reduction)
        report.terms = {k: float(v) for k, v in parts.items()}
        value = total
    else:
        value = f(x)
    grad = jax.grad(f)(x)
    report.value = float(value)
    report.gradient = np.asarray(grad)
    report.nonfinite += _nonfinite("value", value) + _nonfinite("gradient", grad)

    f_flat = lambda v: f(v.reshape(x.shape))  # noqa: E731
    h, diag, report.hessian_note = _hessian(f_flat, x.reshape(-1))
    report.hessian, report.hessian_diagonal = h, diag
    report.nonfinite += _nonfinite("Hessian", h if h is not None else diag)

    # Finite differences, in float64 when available (inputs cast; labels untouched).
    def f64(v: jax.Array) -> jax.Array:
        dt = v.dtype
        cast = [jnp.asarray(a).astype(dt) if _is_float(a) and i != argnum else a for i, a in enumerate(args)]
        return call(v.reshape(x.shape), reduction, a=cast)

    report.fd_max_relative_error, fd_flat, report.fd_note = _finite_differences(f64, x.reshape(-1), report.gradient.reshape(-1))
    report.fd_index = _first_index(x.shape, fd_flat)

    # Per-example losses, effective weights, the denominator.
    try:
        per_example = call(x, "none", use_weights=False)
    except ValueError as err:
        report.notes.append(f"no per-example values: {err}")
        per_example = None
    if per_example is not None:
        report.per_example_losses = np.asarray(per_example)
        report.nonfinite += _nonfinite("per-example losses", per_example)
        shape = tuple(per_example.shape)
        w = np.ones(shape) if weights is None else np.broadcast_to(np.asarray(weights, np.float64), shape)
        m = np.ones(shape, bool) if where is None else np.broadcast_to(np.asarray(where), shape)
        mw = np.where(m, w, 0.0)
        implied = None
        if not isinstance(fn, Composite):
            s = float(call(x, "sum"))
            if reduction == "mean" and report.value != 0 and math.isfinite(s) and math.isfinite(report.value):
                implied = s / report.value
        denominator, kind = _denominator(mw, int(np.prod(shape)), implied, weights is not None, where is not None,
                                         reduction)
        if isinstance(fn, Composite) and reduction == "mean":
            kind += " (of each term; a term that drops or weights entries itself has its own)"
        report.denominator, report.denominator_kind = denominator, kind
        report.effective_weights = mw / denominator if denominator else np.zeros(shape)
        _per_example_gradients(report, call, args, argnum, x, grad, weights, where, shape, top)
    report._line = _line_along_largest(f, x, grad, args, argnum)
    return report


def _per_example_gradients(report: Report, call: Callable[..., jax.Array], args: Sequence[Any], argnum: int,
                           x: jax.Array, grad: jax.Array, weights: Any, where: Any, shape: tuple[int, ...],
                           top: int) -> None:
    if x.ndim == 0 or not shape:
        return
    n = x.shape[0]
    axes = _example_axes(list(args) + [where], n)
    if axes[argnum] is None:
        return
    everything = list(args) + [where]
    rest_index = [i for i, ax in enumerate(axes) if ax is not None and i != argnum]

    def one(xi: jax.Array, *rest: Any) -> jax.Array:
        full = list(everything)
        for i, r in zip(rest_index, rest):
            full[i] = r[None]
        a, m = full[:-1], full[-1]
        return jnp.sum(call(xi[None], "none", use_weights=False, a=a, m=m))

    mapped_rest = [everything[i] for i in rest_index]
    try:
        g = jax.jit(jax.vmap(jax.grad(one)))(x, *mapped_rest)
    except (ValueError, TypeError) as err:
        report.notes.append(f"no per-example gradients: {err}")
        return
    report.per_example_gradients = np.asarray(g)
    report.per_example_gradient_norms = np.sqrt(np.sum(np.square(np.asarray(g, np.float64)).reshape(n, -1), axis=1))
    report.nonfinite += _nonfinite("per-example gradients", g)
    rows = np.sqrt(np.sum(np.square(np.asarray(grad, np.float64)).reshape(n, -1), axis=1))
    _set_dominant(report, rows, top)


def _set_dominant(report: Report, rows: np.ndarray, top: int) -> None:
    total = float(np.sum(rows))
    order = np.argsort(-rows, kind="stable")[:top]
    report.dominant = [((int(i),), float(rows[i]), float(rows[i] / total) if total > 0 else 0.0)
                       for i in order if rows[i] > 0 or total == 0]


def _line_along_largest(f: Callable[[jax.Array], jax.Array], x: jax.Array, grad: jax.Array, args: Sequence[Any],
                        argnum: int, names: Sequence[str] | None = None,
                        ) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray, str, float]]:
    flat_grad = np.nan_to_num(np.abs(np.asarray(grad, np.float64)).reshape(-1))
    j = int(np.argmax(flat_grad)) if flat_grad.size else 0
    targets = args[1] if argnum == 0 and len(args) > 1 else None
    elementwise = targets is not None and _is_float(targets) and np.shape(targets) == x.shape
    offset = float(np.asarray(targets, np.float64).reshape(-1)[j]) if elementwise else 0.0
    index = _first_index(x.shape, j)

    def line(spec: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, str, float]:
        points, span = int(spec[0]), float(spec[1])
        center = float(np.asarray(x, np.float64).reshape(-1)[j])
        half = span if span > 0 else max(3.0, 2.0 * abs(center - offset))
        s = jnp.linspace(-half, half, points, dtype=x.dtype) + jnp.asarray(center - offset, x.dtype)
        g = lambda v: f(x.reshape(-1).at[j].set(v + offset).reshape(x.shape))  # noqa: E731
        values, slopes = jax.jit(lambda s: (jax.vmap(g)(s), jax.vmap(jax.grad(g))(s)))(s)
        values, slopes = np.asarray(values, np.float64), np.asarray(slopes, np.float64)
        if names is not None:  # parameters: the entry by its leaf path
            label = f"parameter {names[j]}"
        else:
            label = f"error p - t at {index}" if elementwise else f"{_arg_name(argnum)}{list(index)}"
        return np.asarray(s, np.float64), values, slopes, label, center - offset

    return line


def _inspect_pytree(fn: Callable[..., Any], args: list[Any], argnum: int, options: dict[str, Any],
                    reduction: str) -> Report:
    """A function differentiated with respect to a pytree argument (parameters), as ``jax.grad`` does."""
    tree = args[argnum]
    leaves = jax.tree_util.tree_leaves(tree)
    if not leaves or not all(_is_float(leaf) for leaf in leaves):
        raise ValueError(f"inspect: argnum={argnum} must name floating-point arrays (or a pytree of them); got "
                         f"{type(tree).__name__} with leaves {[getattr(x, 'dtype', type(x).__name__) for x in leaves]}.")
    tree = jax.tree_util.tree_map(jnp.asarray, tree)
    flat, unravel = ravel_pytree(tree)

    def at(p: Any) -> jax.Array:
        a = list(args)
        a[argnum] = p
        return jnp.asarray(call_loss(fn, *a, reduction=reduction, **options))

    value, grad = jax.jit(jax.value_and_grad(at))(tree)
    flat_grad = np.asarray(ravel_pytree(grad)[0])
    wrt = "params" if argnum == 0 else f"argument {argnum}"
    report = Report(subject=_describe_subject(fn, options), wrt=wrt, value=float(value),
                    gradient=jax.tree_util.tree_map(np.asarray, grad), dtype=str(flat.dtype),
                    entry_names=_entry_names(tree))
    for i, a in enumerate(args):
        for path, leaf in jax.tree_util.tree_flatten_with_path(a)[0]:
            report.nonfinite_inputs += _nonfinite(f"input {_arg_name(i)}{jax.tree_util.keystr(path)}", leaf)
    report.nonfinite += _nonfinite("value", value) + _nonfinite("gradient", flat_grad)
    f_flat = lambda v: at(unravel(v))  # noqa: E731
    h, diag, report.hessian_note = _hessian(f_flat, flat)
    report.hessian, report.hessian_diagonal = h, diag
    report.nonfinite += _nonfinite("Hessian", h if h is not None else diag)
    report.fd_max_relative_error, fd_flat, report.fd_note = _finite_differences(
        lambda v: at(jax.tree_util.tree_map(lambda a: a.astype(v.dtype), unravel(v.astype(flat.dtype)))
                     if _x64() else unravel(v.astype(flat.dtype))), flat, flat_grad)
    report.fd_index = (fd_flat,)
    report.notes.append(f"differentiated with respect to {wrt}, a pytree of {flat.size} entries; "
                        "per-example values need a loss of (predictions, targets) or an objective")
    report._line = _line_along_largest(f_flat, flat, flat_grad, [flat], 0, report.entry_names)
    return report


def _inspect_objective(obj: Objective, inputs: Sequence[Any], *, step: Any, top: int) -> Report:
    if len(inputs) != 2:
        raise ValueError(f"inspect: an objective takes (params, batch); got {len(inputs)} inputs.")
    params, batch = inputs
    inputs_, targets, extra = unpack_batch(batch)
    flat, unravel = ravel_pytree(params)
    f_flat = lambda v: obj(unravel(v), batch, step=step)  # noqa: E731
    # One compiled program for the value, the terms and the gradient (eagerly, each operation would
    # dispatch on its own: seconds for a small MLP).
    (total, parts), grad = jax.jit(jax.value_and_grad(lambda p: obj.with_terms(p, batch, step=step), has_aux=True))(params)
    flat_grad = np.asarray(ravel_pytree(grad)[0])
    report = Report(subject=repr(obj), wrt="params", value=float(total), gradient=jax.tree_util.tree_map(np.asarray, grad),
                    terms={k: float(v) for k, v in parts.items()}, dtype=str(flat.dtype), entry_names=_entry_names(params))
    for label, tree in (("params", params), ("inputs", inputs_), ("targets", targets)):
        for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
            report.nonfinite_inputs += _nonfinite(f"input {label}{jax.tree_util.keystr(path)}", leaf)
    report.nonfinite += _nonfinite("value", total) + _nonfinite("gradient", flat_grad)
    h, diag, report.hessian_note = _hessian(f_flat, flat)
    report.hessian, report.hessian_diagonal = h, diag
    report.nonfinite += _nonfinite("Hessian", h if h is not None else diag)
    report.fd_max_relative_error, fd_flat, report.fd_note = _finite_differences(
        lambda v: obj(unravel(v.astype(flat.dtype)) if not _x64() else jax.tree_util.tree_map(
            lambda a: a.astype(v.dtype) if _is_float(a) else a, unravel(v)), batch, step=step), flat, flat_grad)
    report.fd_index = (fd_flat,)
    try:
        per_example = jax.jit(lambda p: obj.per_example(p, batch, step=step))(params)
    except ValueError as err:
        report.notes.append(f"no per-example values: {err}")
        report._line = _line_along_largest(f_flat, flat, flat_grad, [flat], 0, report.entry_names)
        return report
    report.per_example_losses = np.asarray(per_example)
    shape = tuple(per_example.shape)
    w = extra.get("weights")
    m = extra.get("where")
    wb = np.ones(shape) if w is None else np.broadcast_to(np.asarray(w, np.float64), shape)
    mb = np.ones(shape, bool) if m is None else np.broadcast_to(np.asarray(m), shape)
    mw = np.where(mb, wb, 0.0)
    report.denominator, report.denominator_kind = _denominator(mw, int(np.prod(shape)), None, w is not None,
                                                               m is not None, "mean")
    report.effective_weights = mw / report.denominator if report.denominator else np.zeros(shape)
    n = shape[0] if shape else 1
    leaves = jax.tree_util.tree_leaves(batch)
    axes = jax.tree_util.tree_map(lambda a: 0 if np.ndim(a) >= 1 and np.shape(a)[0] == n else None, batch)

    def one(p: Any, b: Any) -> jax.Array:
        b1 = jax.tree_util.tree_map(lambda a, ax: a[None] if ax is not None else a, b, axes)
        inputs1, targets1, extra1 = unpack_batch(b1)
        extra1.pop("weights", None)
        kw = {**obj.options, **extra1}
        preds = obj.lifted.predict(p, inputs1)
        if isinstance(obj.loss, Composite):
            return jnp.sum(obj.loss(preds, targets1, step=step, reduction="none", **kw))
        return jnp.sum(obj.loss(preds, targets1, reduction="none", **kw))

    del leaves
    g_flat = jax.jit(lambda p, b: jax.vmap(lambda t: ravel_pytree(t)[0])(
        jax.vmap(jax.grad(one), in_axes=(None, axes))(p, b)))(params, batch)
    report.per_example_gradients = np.asarray(g_flat)
    report.per_example_gradient_norms = np.sqrt(np.sum(np.square(np.asarray(g_flat, np.float64)), axis=1))
    report.nonfinite += _nonfinite("per-example gradients", g_flat)
    # Each example's part of the total gradient: c_i * grad l_i.
    c = np.sum(report.effective_weights.reshape(n, -1), axis=1)
    _set_dominant(report, np.abs(c) * report.per_example_gradient_norms, top)
    report._line = _line_along_largest(f_flat, flat, flat_grad, [flat], 0, report.entry_names)
    return report


# -- grad_curve -----------------------------------------------------------------------------------


class GradCurve(NamedTuple):
    """A loss along a range of errors: ``errors``, ``value``, ``first`` and ``second`` derivative."""

    errors: np.ndarray
    value: np.ndarray
    first: np.ndarray
    second: np.ndarray


#: Default target per input kind; unlisted element-wise kinds use 0.
_CURVE_TARGETS = {"binary_logits": 1.0, "signed_binary": 1.0, "positive_regression": 1.0,
                  "nonnegative_regression": 1.0, "count_regression": 1.0}
_CLASS_KINDS = ("class_logits", "class_log_probs", "class_distribution")


def _common_kind(fn: Composite) -> str | None:
    """The input kind every registered term of ``fn`` takes (a term's own kind first), or None."""
    entries = [t.fn.info for t in fn.terms if isinstance(getattr(t.fn, "info", None), _registry.LossInfo)]
    if len(entries) != len(fn.terms):
        return None
    for candidate in dict.fromkeys(e.inputs for e in entries):
        if all(e.accepts(candidate) for e in entries):
            return candidate
    return None


def _curve_kind(fn: Any) -> str:
    """The input kind that says what an error is: the loss's, or the one its composite's terms share."""
    if isinstance(fn, Composite):
        kinds = {t.name: t.fn.info.inputs for t in fn.terms if isinstance(getattr(t.fn, "info", None), _registry.LossInfo)}
        if not kinds:
            return "regression"
        common = _common_kind(fn) if len(kinds) == len(fn.terms) else (
            next(iter(set(kinds.values()))) if len(set(kinds.values())) == 1 else None)
        if common is None:
            raise ValueError(f"grad_curve: the terms of {fn!r} take different kinds of input ({kinds}), so one error "
                             "cannot describe them all; draw each term's curve on its own.")
        return common
    entry = getattr(fn, "info", None)
    return entry.inputs if isinstance(entry, _registry.LossInfo) else "regression"


def grad_curve(loss: Any, errors: Any, *, target: float | None = None, num_classes: int = 2,
               **options: Any) -> GradCurve:
    """The value and first and second derivatives of a loss along ``errors``.

    What "error" means depends on the loss's input kind:

    * element-wise losses (regression and the like): the prediction is
      ``target + error`` against ``target`` (default 0; 1 for positive or count
      targets, where 0 is not a valid target);
    * binary losses (``binary_logits``, ``signed_binary``): ``errors`` are the
      logits (scores) and ``target`` the label (default 1), so the curve is the
      loss against the margin;
    * multiclass losses (``class_logits``, ``class_log_probs``,
      ``class_distribution``): ``errors`` are the true class's logit against
      ``num_classes - 1`` zero logits (log-softmaxed for ``class_log_probs``);
      ``target`` is the true class (default 0).

    Derivatives are exact (``grad`` of ``grad``), taken per point with ``vmap``.

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> c = jl.grad_curve("huber", jnp.array([-3.0, 0.5, 3.0]), delta=1.0)
    >>> c.first.tolist(), c.second.tolist()
    ([-1.0, 0.5, 1.0], [0.0, 1.0, 0.0])
    """
    fn = _registry.get(loss) if isinstance(loss, str) else loss
    entry = getattr(fn, "info", None)
    kind = _curve_kind(fn)
    e = jnp.asarray(errors)
    if not jnp.issubdtype(e.dtype, jnp.floating):
        e = e.astype(jnp.result_type(float))
    name = entry.name if isinstance(entry, _registry.LossInfo) else getattr(fn, "__name__", "loss")

    if kind in _CLASS_KINDS:
        label = 0 if target is None else int(target)

        def point(v: jax.Array) -> jax.Array:
            logits = jnp.zeros((1, num_classes), v.dtype).at[0, label].set(v)
            if kind == "class_log_probs":
                logits = jax.nn.log_softmax(logits)
            t = (jnp.asarray([label], jnp.int32) if kind != "class_distribution"
                 else jax.nn.one_hot(jnp.asarray([label]), num_classes, dtype=v.dtype))
            return jnp.sum(call_loss(fn, logits, t, **options, reduction="none"))
    else:
        t0 = _CURVE_TARGETS.get(kind, 0.0) if target is None else float(target)
        is_margin = kind in ("binary_logits", "signed_binary")

        def point(v: jax.Array) -> jax.Array:
            p = (v if is_margin else t0 + v).reshape(1)
            return jnp.sum(call_loss(fn, p, jnp.full((1,), t0, v.dtype), **options, reduction="none"))

    try:
        first_fn = jax.grad(point)
        value = jax.vmap(point)(e)
        first = jax.vmap(first_fn)(e)
        second = jax.vmap(jax.grad(first_fn))(e)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"grad_curve: {name} takes inputs of kind {kind!r}, which a single error cannot describe ({err}). "
            "Pass a function of one array of predictions instead, e.g. lambda p, t, **kw: loss(p, ..., **kw)."
        ) from None
    return GradCurve(np.asarray(e), np.asarray(value), np.asarray(first), np.asarray(second))


# -- the stability card ---------------------------------------------------------------------------


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


def _kind_of(fn: Any, kind: str | None) -> tuple[str, str]:
    """(name, input kind) of a registered loss or a composite of losses of one kind."""
    if kind is not None:
        return getattr(fn, "__name__", "loss"), kind
    if isinstance(fn, Composite):
        kind = _common_kind(fn)
        if kind is None:
            kinds = {t.name: getattr(getattr(t.fn, "info", None), "inputs", None) for t in fn.terms}
            raise ValueError(f"check: the terms of {fn!r} take no kind of input in common ({kinds}); pass kind=.")
        return repr(fn), kind
    entry = _registry.info(fn)
    return entry.name, entry.inputs


def stability_cases(name_or_loss: Any, *, kind: str | None = None, seed: int = 6) -> list[_samples.Sample]:
    """The hard inputs :func:`check` runs for a loss (its input kind's, from ``jaxloss._samples``)."""
    fn = _registry.get(name_or_loss) if isinstance(name_or_loss, str) else name_or_loss
    return _samples.hard_inputs(_kind_of(fn, kind)[1], np.random.default_rng(seed))


def _finite_everywhere(tree: Any) -> tuple[bool, str]:
    problems = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        problems += _nonfinite(jax.tree_util.keystr(path).strip("[]'") or "value", leaf, limit=2)
    return not problems, "; ".join(problems)


def _differentiable_args(fn: Any, args: Sequence[Any]) -> tuple[int, ...]:
    entry = getattr(fn, "info", None)
    candidates = entry.differentiable_args if isinstance(entry, _registry.LossInfo) else (0,)
    return tuple(i for i in candidates if i < len(args) and np.issubdtype(np.asarray(args[i]).dtype, np.floating))


def _check_case(fn: Any, props: frozenset[str], case: _samples.Sample, dtype: Any) -> CardRow:
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
    try:
        value = fn(*args, **kwargs)
        reference32 = fn(*case.cast(np.float32)[0], **kwargs)
    except (ValueError, TypeError) as err:
        return CardRow(case.description, dname, "FLAGGED", f"raised {type(err).__name__}: {err}")
    if jnp.dtype(dtype) != jnp.float32 and abs(float(reference32)) > float(jnp.finfo(dtype).max):
        return CardRow(case.description, dname, "skipped", f"the loss itself ({float(reference32):.3g}) overflows {dname}")
    ok, where = _finite_everywhere({"value": value})
    if not ok:
        return CardRow(case.description, dname, "FLAGGED", where)
    problems = []
    for argnum in _differentiable_args(fn, args):

        def f(x: jax.Array, argnum: int = argnum) -> jax.Array:
            a = list(args)
            a[argnum] = x
            return fn(*a, **kwargs)

        @jax.jit
        def derivatives(x: jax.Array) -> dict[str, jax.Array]:
            out = {"jit value": f(x), "gradient": jax.grad(f)(x),
                   "forward derivative": jax.jvp(f, (x,), (jnp.ones_like(x),))[1]}
            if jnp.dtype(dtype) == jnp.float32:
                out["Hessian"] = jax.hessian(f)(x)
            return out

        results = derivatives(jnp.asarray(args[argnum]))
        for what, result in results.items():
            ok, where = _finite_everywhere({what: result})
            if not ok:
                problems.append(f"{what} of {_arg_name(argnum)}: {where.split(': ', 1)[-1]}")
    if problems:
        return CardRow(case.description, dname, "FLAGGED", "; ".join(problems))
    return CardRow(case.description, dname, "ok")


def check(name_or_loss: Any, *, kind: str | None = None, dtypes: Sequence[Any] = (jnp.float32, jnp.bfloat16, jnp.float16),
          cases: Sequence[int] | None = None, seed: int = 6) -> Card:
    """The stability card: every hard input of the loss's kind, through value, grad, jvp, Hessian and jit.

    Args:
      name_or_loss: a registered name or loss, or a composite whose terms share an input kind.
      kind: the input kind (``jaxloss._samples.KINDS``), for losses not in the registry.
      dtypes: the dtypes to run (the Hessian is checked in float32 only).
      cases: indices into :func:`stability_cases` (default: all).

    A case is skipped, with the reason, when the loss does not take its
    options, when the input is only promised finite for losses claiming a
    property (errors of 1e20 need ``bounded_gradient``), or when the input or the
    loss's own value overflows the dtype. Anything else that is NaN or inf is
    FLAGGED with where it appeared.

    >>> import jaxloss as jl
    >>> card = jl.check("huber", dtypes=["float32"])
    >>> card.ok, len(card.rows) > 0
    (True, True)
    """
    fn = _registry.get(name_or_loss) if isinstance(name_or_loss, str) else name_or_loss
    name, kind_name = _kind_of(fn, kind)
    entry = getattr(fn, "info", None)
    props = entry.properties if isinstance(entry, _registry.LossInfo) else (
        fn.properties() if isinstance(fn, Composite) else frozenset())
    all_cases = stability_cases(fn, kind=kind_name, seed=seed)
    chosen = range(len(all_cases)) if cases is None else cases
    rows = [_check_case(fn, props, all_cases[i], dt) for i in chosen for dt in dtypes]
    return Card(name, kind_name, rows)


def __dir__() -> list[str]:  # the public API only (not the modules this one imports)
    return sorted(__all__)
