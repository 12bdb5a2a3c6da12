"""An inspection report as a figure: the loss and its derivative around the inspected point."""

from __future__ import annotations

from typing import Any

import numpy as np

from jaxloss._arguments import integer_argument, real_argument
from jaxloss.plot._style import COLORS, PALETTE, new_figure, style_axes


def report(report: Any, *, points: int = 201, span: float | None = None) -> Any:
    """The loss and its derivative along the entry with the largest gradient, around the point a
    :class:`~jaxloss.Report` (from :func:`~jaxloss.inspect`) inspected.

    The x-axis is that entry's error ``p - t`` for element-wise losses (otherwise the entry's
    value, or the parameter's name for objectives); the inspected point is marked. ``points`` and
    ``span`` (half-width) set the range (:meth:`~jaxloss.Report.line`). Returns a matplotlib
    Figure (never shown).

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> from jaxloss import plot
    >>> fig = plot.report(jl.inspect("huber", jnp.array([0.5, 2.0]), jnp.zeros(2)), points=11)
    >>> [ax.get_title() for ax in fig.axes]
    ['value', 'derivative']
    >>> plot.close(fig)
    """
    from jaxloss.inspection import Report

    if not isinstance(report, Report):
        raise TypeError(f"report: report must be a jl.Report (what jl.inspect returns); got {type(report).__name__} "
                        f"{report!r}.")
    points = integer_argument("report", "points", points, low=2)
    if span is not None and real_argument("report", "span", span, " (the range's half-width) or None") <= 0:
        raise ValueError(f"report: span={span} must be > 0 (the range's half-width).")
    line = report.line(points=points, span=span)
    fig, axes = new_figure(1, 2, width=9.6, height=3.9, layout="constrained")
    ax_v, ax_g = axes[0]
    ax_v.plot(line.x, line.value, color=PALETTE[0], label="loss")
    ax_g.plot(line.x, line.derivative, color=PALETTE[1], label="derivative")
    i = int(np.argmin(np.abs(line.x - line.current)))
    for ax, ys in ((ax_v, line.value), (ax_g, line.derivative)):
        ax.plot([line.x[i]], [ys[i]], "o", color=COLORS["highlight"], label="inspected point")
    style_axes(ax_v, title="value", xlabel=line.label, ylabel="loss", legend=True)
    style_axes(ax_g, title="derivative", xlabel=line.label, ylabel="d loss / d entry", legend=True)
    fig.suptitle(report.subject, fontsize=11)
    return fig
