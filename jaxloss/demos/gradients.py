"""Which examples drive the update? Per-example gradient norms under MSE and under Huber.

A line sits on the bulk of the data; five outliers lie far below. ``jaxloss.inspect`` differentiates
each example's loss with respect to the line's parameters. Under MSE an example's gradient grows with
its error, so the five outliers outweigh all the others together; Huber caps each example's
gradient, so the outliers get a say but not the whole vote.
"""

from __future__ import annotations

from collections.abc import Sequence

import os

import jax.numpy as jnp
import numpy as np

import jaxloss as jl
from jaxloss import compose, plot
from jaxloss.demos import name_of
from jaxloss.demos._common import DemoResult, Timer, finish, line_model, script_main
from jaxloss.demos.outliers import TRUE_INTERCEPT, TRUE_SLOPE, data

NAME = name_of(__name__)  # its entry in jaxloss.demos.DEMOS says what it shows


def run(out_dir: str | os.PathLike[str] = "jaxloss-out", *, fast: bool = False, formats: tuple[str, ...] = ("png",),
        show: bool = False) -> DemoResult:
    timer = Timer()
    x, y, outlier = data()
    params = {"w": jnp.asarray(TRUE_SLOPE, jnp.float32), "b": jnp.asarray(TRUE_INTERCEPT, jnp.float32)}
    batch = (jnp.asarray(x), jnp.asarray(y))
    reports = {
        "MSE": jl.inspect(compose.objective(line_model, "mean_squared_error"), params, batch),
        "Huber (delta=1)": jl.inspect(compose.objective(line_model, "huber", delta=1.0), params, batch),
    }
    norms = {k: np.asarray(r.per_example_gradient_norms) for k, r in reports.items()}
    share = {k: float(v[outlier].sum() / v.sum()) for k, v in norms.items()}

    fig, axes = plot.new_figure(1, 3, width=15, height=4.6, gridspec_kw={"width_ratios": [1.1, 1.5, 0.8]})
    a0, a1, a2 = axes[0]
    sizes = 15 + 260 * norms["MSE"] / norms["MSE"].max()
    a0.scatter(x, y, s=sizes, color=np.where(outlier, plot.PALETTE[1], plot.PALETTE[0]), alpha=0.75,
               edgecolor="black", linewidth=0.4)
    grid = np.linspace(0, 10, 20)
    a0.plot(grid, TRUE_SLOPE * grid + TRUE_INTERCEPT, color="black", linestyle=":", label="current line")
    plot.style_axes(a0, title="The batch (size = MSE gradient)", xlabel="x", ylabel="y", legend=True)
    idx = np.arange(len(x))
    width = 0.42
    for i, (label, v) in enumerate(norms.items()):
        a1.bar(idx + (i - 0.5) * width, v, width, color=plot.PALETTE[0 if i == 0 else 2], label=label)
    for j in np.flatnonzero(outlier):
        a1.axvspan(j - 0.5, j + 0.5, color=plot.PALETTE[1], alpha=0.15, linewidth=0)
    a1.text(0.02, 0.95, "shaded: the five outliers", transform=a1.transAxes, color=plot.PALETTE[1], fontsize=10,
            va="top")
    a1.set_yscale("log")
    plot.style_axes(a1, title="Per-example gradient norm |grad l_i| (jl.inspect)", xlabel="example (sorted by x)",
                    ylabel="gradient norm (log scale)")
    a1.legend(loc="upper left", bbox_to_anchor=(0.0, 0.9), fontsize=9.5)
    labels = list(norms)
    out_share = [share[k] for k in labels]
    a2.bar(labels, [1 - s for s in out_share], color=plot.PALETTE[0], label="40 ordinary points")
    a2.bar(labels, out_share, bottom=[1 - s for s in out_share], color=plot.PALETTE[1], label="5 outliers")
    for i, s in enumerate(out_share):
        a2.text(i, 1 - s / 2, f"{s:.0%}", ha="center", va="center", color="white", fontsize=12, fontweight="bold")
    a2.set_ylim(0, 1.25)
    a2.set_xticks([0, 1], ["MSE", "Huber\n(delta=1)"])
    plot.style_axes(a2, title="Share of the update", ylabel="share of summed gradient norms")
    a2.legend(loc="upper center", fontsize=9, ncol=1)
    fig.tight_layout()
    figures = finish({"gradients": fig}, out_dir, formats=formats, show=show)
    top_mse = [int(i[0]) for i, *_ in reports["MSE"].dominant]
    summary = (
        "Each example's loss has its own gradient with respect to the model's parameters; the update is\n"
        "their (weighted) sum. jl.inspect computes them with vmap(grad). Under MSE an example pushes in\n"
        f"proportion to its error, so the 5 outliers (1 in 9 examples) supply {share['MSE']:.0%} of the total;\n"
        f"under Huber each push is capped and their share falls to {share['Huber (delta=1)']:.0%}. "
        f"The examples that dominate the MSE\ngradient: {top_mse} (all outliers)."
    )
    numbers = {f"outlier share {k}": v for k, v in share.items()}
    numbers["dominant examples (MSE)"] = top_mse
    numbers["dominant are outliers"] = bool(all(outlier[i] for i in top_mse))
    return DemoResult(NAME, figures, summary, numbers, {"norms": norms, "outlier": outlier}, timer.seconds)


def main(argv: Sequence[str] | None = None) -> int:
    return script_main(NAME, argv)


if __name__ == "__main__":
    raise SystemExit(main())
