"""Gradient descent on every loss in the catalog, each on its own toy problem.

The grid is read from the registry: one panel per registered loss, so a newly registered loss shows
up here by itself. Each panel is the training loss of ``jaxloss.toy_problem(name)`` under full-batch
steps of the problem's optax optimizer, as ``jaxloss.train_catalog`` trains them (with ``jaxloss.fit``,
the whole catalog in one compiled program); a healthy panel goes down.
"""

from __future__ import annotations

from collections.abc import Sequence

import math
import os

import numpy as np

import jaxloss as jl
from jaxloss import plot, toys
from jaxloss.demos import name_of
from jaxloss.demos._common import DemoResult, Timer, finish, script_main

NAME = name_of(__name__)  # its entry in jaxloss.demos.DEMOS says what it shows

COLUMNS = 8
#: Beyond the house palette's six readable colours, Paul Tol's colour-blind-safe "muted" set.
FAMILY_EXTRA_COLORS = ("#882255", "#44AA99", "#999933", "#332288", "#AA4499", "#117733", "#555555")


def run(out_dir: str | os.PathLike[str] = "jaxloss-out", *, fast: bool = False, formats: tuple[str, ...] = ("png",),
        show: bool = False) -> DemoResult:
    timer = Timer()
    entries = jl.catalog()
    curves, failures = train(entries, steps=4 if fast else 30)

    families = list(dict.fromkeys(e.family for e in entries))
    colors = plot.PALETTE[:6] + FAMILY_EXTRA_COLORS
    color_of = {fam: colors[i % len(colors)] for i, fam in enumerate(families)}
    rows = math.ceil(len(entries) / COLUMNS)
    fig, axes = plot.new_figure(rows, COLUMNS, width=2.05 * COLUMNS, height=1.75 * rows + 0.7)
    for ax in axes.ravel()[len(entries):]:
        ax.set_visible(False)
    for ax, entry in zip(axes.ravel(), entries):
        values = curves.get(entry.name)
        if values is not None and len(values):
            ax.plot(np.arange(1, len(values) + 1), values, color=color_of[entry.family], linewidth=1.8)
        if entry.name in failures:
            ax.text(0.5, 0.5, "failed:\n" + failures[entry.name].split(":")[0], transform=ax.transAxes,
                    ha="center", va="center", fontsize=8, color=plot.PALETTE[1])
            ax.set_xticks([])
            ax.set_yticks([])
        ax.set_title(entry.name, fontsize=8.5, fontweight="bold", color=color_of[entry.family])
        ax.tick_params(labelsize=6.5, length=2)
        ax.grid(True, alpha=0.3)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    handles = [plot._pyplot().Line2D([], [], color=color_of[f], linewidth=3, label=f) for f in families]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(families), 8), fontsize=9, frameon=False)
    fig.suptitle(f"Gradient descent (optax Adam) on each of the {len(entries)} registered losses: training loss "
                 "per step", fontsize=12, fontweight="bold")
    fig.tight_layout(rect=(0, 0.04, 1, 0.98))
    figures = finish({"descent": fig}, out_dir, formats=formats, show=show)
    decreased = [n for n, v in curves.items() if len(v) > 1 and v[-1] < v[0]]
    summary = (
        f"Each of the {len(entries)} registered losses trained with optax on the small problem it is meant\n"
        "for (regression with outliers for the robust losses, imbalanced classes for focal, free scores\n"
        "for ranking and embedding losses...). The panels come from the registry, so a new loss appears\n"
        f"on its own. The loss went down for {len(decreased)} of them"
        + (f"; failed: {', '.join(sorted(failures))}." if failures else ".")
    )
    numbers = {"losses": len(entries), "panels": len(entries), "decreased": len(decreased), "failed": len(failures)}
    return DemoResult(NAME, figures, summary, numbers,
                      {"curves": curves, "failures": failures, "names": [e.name for e in entries]}, timer.seconds)


def train(entries: Sequence[jl.LossInfo], steps: int) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Each loss's training curve (``steps`` full-batch steps on its fast toy problem) and what failed.

    All at once (one compiled program); if that fails, one loss at a time, so that one broken loss
    does not hide the others.
    """
    names = [e.name for e in entries]
    try:
        histories = toys.train_catalog(names=names, fast=True, epochs=steps)
        if all(getattr(h, "status", "completed") == "completed" for h in histories.values()):
            return {n: np.asarray(h["loss"], dtype=float) for n, h in histories.items()}, {}
    except Exception:  # noqa: BLE001 - found out loss by loss below
        pass
    curves: dict[str, np.ndarray] = {}
    failures: dict[str, str] = {}
    for name in names:
        try:
            history = toys.train_catalog(names=[name], fast=True, epochs=steps)[name]
            curves[name] = np.asarray(history["loss"], dtype=float)
            if getattr(history, "status", "completed") != "completed" or not np.all(np.isfinite(curves[name])):
                failures[name] = "non-finite loss"
        except Exception as err:  # noqa: BLE001 - shown in the panel and the summary
            failures[name] = f"{type(err).__name__}: {err}"[:120]
    return curves, failures


def main(argv: Sequence[str] | None = None) -> int:
    return script_main(NAME, argv)


if __name__ == "__main__":
    raise SystemExit(main())
