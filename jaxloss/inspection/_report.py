"""The :class:`Report` that :func:`~jaxloss.inspect` returns: its data and how it reads as text and HTML.

A report holds numbers only; ``jaxloss.plot.report`` draws it (from :meth:`Report.line`).
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from jax.flatten_util import ravel_pytree

from jaxloss.inspection._format import fmt, fmt_array, fmt_tree


class Line(NamedTuple):
    """The loss along one input entry around the inspected point (what ``jaxloss.plot.report`` draws).

    ``x`` is the entry's error ``p - t`` for element-wise losses (otherwise its value, or a
    parameter's value for pytrees), ``value`` and ``derivative`` the loss and its derivative
    there, ``label`` names the axis and ``current`` is the inspected point's ``x``.
    """

    x: np.ndarray
    value: np.ndarray
    derivative: np.ndarray
    label: str
    current: float


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
      per_example_gradients: ``grad l_i``, the gradient of example i's unweighted loss: with respect to
        its own slice, shape ``(n, ...)`` (the argument's shape), when examples are independent; with
        respect to the whole argument, shape ``(n, *argument.shape)`` (rows of the Jacobian:
        ``per_example_full``), when they interact within the batch or the argument has no example
        axis; flattened parameters ``(n, P)`` for objectives. Either way ``gradient = sum_i c_i grad l_i``
        for one effective weight per example.
      per_example_gradient_norms: ``|grad l_i|``, shape ``(n,)``.
      examples_interact: whether an example's loss depends on the other examples' inputs (a batch
        loss, such as ntxent on one batch), measured at the point; None where not measured.
      per_example_full: whether ``per_example_gradients`` are rows over the whole argument.
      effective_weights: ``c_i`` with ``value = sum c_i l_i``, the shape of ``per_example_losses``.
      denominator, denominator_kind: what the mean divided by.
      dominant: ``(index, |row of the gradient|, share)`` for the examples whose part
        of the total gradient is largest.
      terms: per-term values for composites and objectives.
      fd_max_relative_error, fd_index, fd_note: the finite-difference check.
      nonfinite_inputs, nonfinite: NaN/inf found in the inputs and in the results.
      notes: anything else worth knowing.

    ``jaxloss.plot.report(report)`` draws the loss and its derivative around the point
    (from :meth:`line`).
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
    examples_interact: bool | None = None
    per_example_full: bool = False
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
    _line: Callable[[int, float | None], Line] | None = dataclasses.field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """No NaN/inf in any result."""
        return not self.nonfinite

    def line(self, *, points: int = 201, span: float | None = None) -> Line:
        """The loss and its derivative along the entry with the largest gradient, around this point.

        ``span`` is the half-width of the range (default: at least 3, and twice the distance of the
        point from its target). Raises ValueError when the report has no input to vary.
        """
        if self._line is None:
            raise ValueError("inspect: this report has no input to vary (nothing to plot).")
        return self._line(points, span)

    def rows(self) -> list[tuple[str, str]]:
        """The summary as (label, text) pairs: what ``str()`` and the HTML table show."""
        flat_grad = ravel_pytree(self.gradient)[0] if not isinstance(self.gradient, np.ndarray) else self.gradient
        shown = fmt_tree(self.gradient) if not isinstance(self.gradient, np.ndarray) else fmt_array(flat_grad)
        rows = [("value", fmt(self.value, 8)),
                (f"gradient wrt {self.wrt}", f"{shown}  norm {fmt(np.linalg.norm(np.asarray(flat_grad, np.float64)), 4)}")]
        if self.hessian_diagonal is not None:
            rows.append((f"Hessian ({self.hessian_note})", "diagonal " + fmt_array(self.hessian_diagonal)))
        else:
            rows.append(("Hessian", self.hessian_note))
        if self.terms:
            rows.append(("terms", ", ".join(f"{k} = {fmt(v, 6)}" for k, v in self.terms.items())))
        if self.denominator_kind:
            rows.append(("reduction", self.denominator_kind))
        if self.fd_max_relative_error is not None:
            where = (self.entry_names[self.fd_index[0]] if self.entry_names and self.fd_index
                     else self.fd_index)
            rows.append(("finite differences", f"max relative error {fmt(self.fd_max_relative_error, 3)} at "
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
            cell = (lambda v: fmt(v, 5) if np.ndim(v) == 0 else fmt_array(v, 4))
            out.append([str(i), cell(loss_i), "-" if w is None else cell(w), "-" if g is None else fmt(g, 5)])
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
