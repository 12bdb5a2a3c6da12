"""Outliers: fit a line with MSE, MAE and Huber, and watch which fit the outliers drag.

Forty points lie near a line; five far below it. MSE's gradient grows with the error, so those five
pull its line down. MAE and Huber push on every point with a bounded force, so the bulk of the data
decides their lines.
"""

from __future__ import annotations

from collections.abc import Sequence

import functools
import os

import jax.numpy as jnp
import numpy as np
import optax

import jaxloss as jl
from jaxloss import plot
from jaxloss.demos import name_of
from jaxloss.demos._common import DemoResult, Timer, finish, line_model, script_main
from jaxloss.train import trajectory

NAME = name_of(__name__)  # its entry in jaxloss.demos.DEMOS says what it shows

TRUE_SLOPE, TRUE_INTERCEPT = 0.8, 1.0
LOSSES = {
    "MSE": jl.mean_squared_error,
    "MAE": jl.mean_absolute_error,
    "Huber (delta=1)": functools.partial(jl.huber, delta=1.0),
}


def data(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inputs, targets and a mask of the outliers."""
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0.0, 10.0, 45))
    y = TRUE_SLOPE * x + TRUE_INTERCEPT + rng.normal(0.0, 0.5, x.shape)
    outlier = np.zeros(x.shape, bool)
    outlier[rng.choice(np.flatnonzero(x > 6.0), 5, replace=False)] = True
    y[outlier] -= rng.uniform(10.0, 14.0, outlier.sum())
    return x.astype(np.float32), y.astype(np.float32), outlier


def run(out_dir: str | os.PathLike[str] = "jaxloss-out", *, fast: bool = False, formats: tuple[str, ...] = ("png",),
        show: bool = False) -> DemoResult:
    timer = Timer()
    x, y, outlier = data()
    epochs = 60 if fast else 150
    optimizer = optax.adam(optax.cosine_decay_schedule(0.15, epochs))
    fits, histories = {}, {}
    for label, loss in LOSSES.items():  # full-batch steps in one scan (fit's epoch program compiles 2x longer)
        params = {"w": jnp.zeros((), jnp.float32), "b": jnp.zeros((), jnp.float32)}
        final, values, _ = trajectory(lambda p, loss=loss: loss(line_model(p, x), y), params, optimizer, epochs)
        fits[label] = (float(final["w"]), float(final["b"]))
        histories[label] = np.asarray(values)

    fig, axes = plot.new_figure(1, 2, width=11.5, height=4.5)
    a0, a1 = axes[0]
    a0.scatter(x[~outlier], y[~outlier], s=22, color=plot.COLORS["data"], label="data")
    a0.scatter(x[outlier], y[outlier], s=60, facecolor="none", edgecolor=plot.PALETTE[1], linewidth=1.6,
               label="outliers")
    grid = np.linspace(0, 10, 50)
    a0.plot(grid, TRUE_SLOPE * grid + TRUE_INTERCEPT, color="black", linestyle=":", linewidth=1.5, label="true line")
    styles = {"MSE": "-", "MAE": "--", "Huber (delta=1)": "-."}
    for i, (label, (w, b)) in enumerate(fits.items()):
        a0.plot(grid, w * grid + b, color=plot.PALETTE[i], linestyle=styles[label], linewidth=2.4,
                label=f"{label}: slope {w:.2f}")
    plot.style_axes(a0, title="Fitted lines", xlabel="x", ylabel="y")
    a0.legend(loc="lower left", fontsize=9)
    for i, (label, values) in enumerate(histories.items()):
        a1.plot(np.arange(1, len(values) + 1), values / values[0], color=plot.PALETTE[i], label=label)
    a1.set_yscale("log")
    plot.style_axes(a1, title="Training curves (full-batch optax Adam)", xlabel="step", ylabel="loss / first loss", legend=True)
    fig.tight_layout()
    figures = finish({"outliers": fig}, out_dir, formats=formats, show=show)

    err = {label: abs(w - TRUE_SLOPE) for label, (w, _) in fits.items()}
    summary = (
        f"The true slope is {TRUE_SLOPE}. Five outliers sit far below the line. Under MSE each point pulls\n"
        "with a force proportional to its error, so the five far-off points dominate and tilt the line\n"
        f"(slope {fits['MSE'][0]:.2f}). MAE and Huber cap each point's pull, so the other forty points win\n"
        f"(slopes {fits['MAE'][0]:.2f} and {fits['Huber (delta=1)'][0]:.2f})."
    )
    numbers = {f"slope {k}": v[0] for k, v in fits.items()} | {f"intercept {k}": v[1] for k, v in fits.items()}
    data_ = {"x": x, "y": y, "outlier": outlier, "fits": fits, "slope_error": err, "histories": histories}
    return DemoResult(NAME, figures, summary, numbers, data_, timer.seconds)


def main(argv: Sequence[str] | None = None) -> int:
    return script_main(NAME, argv)


if __name__ == "__main__":
    raise SystemExit(main())
