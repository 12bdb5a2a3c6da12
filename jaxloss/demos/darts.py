"""Darts: a loss is the distance between where the dart lands and the bullseye.

Two rounds of throws, one tight and one scattered. Each throw's distance from the centre is its error;
MSE averages the squared distances, MAE the plain distances. The scattered round's few wild throws
raise its MSE far more than its MAE.
"""

from __future__ import annotations

from collections.abc import Sequence

import os
from typing import Any

import jax.numpy as jnp
import numpy as np

import jaxloss as jl
from jaxloss import plot
from jaxloss.demos import name_of
from jaxloss.demos._common import DemoResult, Timer, finish, script_main

NAME = name_of(__name__)  # its entry in jaxloss.demos.DEMOS says what it shows


def _board(ax: Any, throws: np.ndarray, distances: np.ndarray, title: str, color: str, mse: float, mae: float) -> None:
    import matplotlib.patches as patches

    for radius, shade in zip((3.0, 2.0, 1.0, 0.35), ("#f3f3f3", "#e4e4e4", "#d2d2d2", "#b5b5b5")):
        ax.add_patch(patches.Circle((0, 0), radius, facecolor=shade, edgecolor="#999999", linewidth=0.8))
    ax.plot(0, 0, marker="*", color="black", markersize=13, zorder=3)
    worst = int(np.argmax(distances))
    for (x, y) in throws:
        ax.plot([0, x], [0, y], color=color, alpha=0.25, linewidth=1.0)
    ax.scatter(throws[:, 0], throws[:, 1], s=46, color=color, edgecolor="black", linewidth=0.6, zorder=4)
    x, y = throws[worst]
    ux, uy = np.array([x, y]) / max(float(distances[worst]), 1e-9)
    ax.annotate(f"error {distances[worst]:.1f}", (x, y), xytext=(30 * ux, 30 * uy), textcoords="offset points",
                fontsize=10, ha="left" if ux >= 0 else "right", arrowprops={"arrowstyle": "-", "color": "#555555"},
                bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})
    ax.set_xlim(-3.3, 3.3)
    ax.set_ylim(-3.3, 3.3)
    ax.set_aspect("equal")
    ax.text(0.02, 0.02, f"MSE {mse:.2f}\nMAE {mae:.2f}", transform=ax.transAxes, fontsize=11, va="bottom",
            bbox={"boxstyle": "round,pad=0.3", "facecolor": "white", "edgecolor": "#999999"})
    plot.style_axes(ax, title=title)
    ax.grid(False)
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)


def run(out_dir: str | os.PathLike[str] = "jaxloss-out", *, fast: bool = False, formats: tuple[str, ...] = ("png",),
        show: bool = False) -> DemoResult:
    timer = Timer()
    rng = np.random.default_rng(7)
    n = 12
    tight = rng.normal(0.0, 0.35, size=(n, 2))
    scattered = rng.normal(0.0, 0.8, size=(n, 2))
    scattered[:2] = [[2.3, -1.6], [-2.0, 2.1]]  # two wild throws
    rounds = {"tight": tight, "scattered": scattered}
    scores: dict[str, dict[str, float]] = {}
    distances = {}
    for key, throws in rounds.items():
        d = np.linalg.norm(throws, axis=1)
        distances[key] = d
        zeros = jnp.zeros(n)
        scores[key] = {"mse": float(jl.mse(jnp.asarray(d), zeros)), "mae": float(jl.mae(jnp.asarray(d), zeros))}

    fig, axes = plot.new_figure(1, 3, width=13.2, height=4.5)
    colors = {"tight": plot.COLORS["train"], "scattered": plot.COLORS["validation"]}
    for ax, key in zip(axes[0, :2], rounds):
        _board(ax, rounds[key], distances[key], f"{key.capitalize()} round", colors[key], **scores[key])
    ax = axes[0, 2]
    xs = np.arange(2)
    width = 0.36
    for i, key in enumerate(rounds):
        vals = [scores[key]["mse"], scores[key]["mae"]]
        bars = ax.bar(xs + (i - 0.5) * width, vals, width, color=colors[key], label=f"{key} round")
        ax.bar_label(bars, fmt="%.2f", fontsize=10)
    ax.set_xticks(xs, ["MSE\n(mean squared distance)", "MAE\n(mean distance)"])
    plot.style_axes(ax, title="Score of each round", ylabel="loss", legend=True)
    fig.suptitle("A loss scores how far the dart (prediction) lands from the bullseye (target)",
                 fontsize=13, fontweight="bold")
    fig.tight_layout()
    figures = finish({"darts": fig}, out_dir, formats=formats, show=show)
    ratio = scores["scattered"]["mse"] / scores["tight"]["mse"]
    summary = (
        "Each dart is a prediction and the bullseye is the right answer; the distance between them is the\n"
        "error. A loss turns a whole round of errors into one score. MAE averages the distances; MSE averages\n"
        f"their squares, so the scattered round's two wild throws make its MSE {ratio:.0f}x the tight round's,\n"
        f"while its MAE grows only {scores['scattered']['mae'] / scores['tight']['mae']:.1f}x."
    )
    numbers = {f"{k}_{m}": v for k, s in scores.items() for m, v in s.items()}
    return DemoResult(NAME, figures, summary, numbers, {"distances": distances, "throws": rounds}, timer.seconds)


def main(argv: Sequence[str] | None = None) -> int:
    return script_main(NAME, argv)


if __name__ == "__main__":
    raise SystemExit(main())
