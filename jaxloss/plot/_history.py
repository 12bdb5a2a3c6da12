"""A training history as curves: one panel per quantity, train and validation together."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from jaxloss._arguments import text_argument
from jaxloss.plot._style import COLORS, new_figure, style_axes


def history(history: Any, *, keys: Sequence[str] | None = None, title: str | None = None) -> Any:
    """Train and validation curves of a :class:`~jaxloss.History` (or a ``FitResult``'s), one panel
    per quantity (``val_x`` drawn with ``x``), in a grid of up to three columns; best epoch and
    early stop marked.

    ``keys`` chooses the panels (default: every quantity, validation-only ones included).
    Returns a matplotlib ``Figure`` laid out so that ``savefig`` keeps every label (never shown
    by jaxloss; in Jupyter it displays once).

    >>> import jaxloss as jl
    >>> from jaxloss import plot
    >>> fig = plot.history(jl.History({"epoch": [1, 2], "loss": [2.0, 1.0], "val_loss": [2.5, 1.5]}))
    >>> [ax.get_title() for ax in fig.axes if ax.get_visible()]
    ['loss']
    >>> plot.close(fig)
    """
    from matplotlib.ticker import MaxNLocator

    if not isinstance(history, Mapping) and isinstance(getattr(history, "history", None), Mapping):
        history = history.history  # a FitResult
    if not isinstance(history, Mapping) or not all(hasattr(history, a) for a in ("best_epoch", "monitor")):
        raise TypeError(f"history: history must be a jl.History or a FitResult (what fit returns); got "
                        f"{type(history).__name__} {history!r}.")
    present = list(history)
    if keys is not None:
        if isinstance(keys, str) or not isinstance(keys, Sequence):
            raise TypeError(f"history: keys must be a list of History keys, e.g. keys=['loss']; got "
                            f"{type(keys).__name__} {keys!r}.")
        known = sorted({k.removeprefix("val_") for k in present if k != "epoch"})
        for i, k in enumerate(keys):
            if not isinstance(k, str) or (k not in present and "val_" + k not in present):
                raise ValueError(f"history: keys[{i}]={k!r} is not in the History; its quantities: {', '.join(known)}.")
    text_argument("history", "title", title)
    names = list(keys) if keys is not None else [k for k in present if k != "epoch" and not k.startswith("val_")]
    for k in present:  # validation-only quantities get a panel too
        if k.startswith("val_") and k[4:] not in names and keys is None:
            names.append(k[4:])
    epochs = history["epoch"] if "epoch" in present else np.arange(1, history.epochs + 1)
    best_epoch, stopped_epoch, monitor = history.best_epoch, history.stopped_epoch, history.monitor
    columns = min(3, max(1, len(names)))
    rows = max(1, math.ceil(len(names) / columns))
    fig, axes = new_figure(rows, columns, width=4.4 * columns, height=3.2 * rows + (0.4 if title else 0),
                           layout="constrained")
    for ax in axes.ravel()[len(names):]:
        ax.set_visible(False)
    for ax, name in zip(axes.ravel(), names):
        if name in present:  # "train" only beside a validation curve (a weight is not "train")
            ax.plot(epochs, history[name], color=COLORS["train"], label="train" if "val_" + name in present else None)
        if "val_" + name in present:
            ax.plot(epochs, history["val_" + name], color=COLORS["validation"], label="validation")
        if best_epoch is not None and monitor in (name, "val_" + name):
            best = history[monitor][best_epoch - 1]
            ax.axvline(best_epoch, color=COLORS["best"], linestyle="--", linewidth=1.2, label=f"best epoch {best_epoch}")
            ax.plot([best_epoch], [best], "o", color=COLORS["best"])
        if stopped_epoch is not None:
            ax.axvline(stopped_epoch, color=COLORS["stop"], linestyle=":", linewidth=1.2,
                       label=f"early stop {stopped_epoch}")
        style_axes(ax, title=name, xlabel="epoch", ylabel=name, legend=True)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if title:
        fig.suptitle(title)
    return fig
