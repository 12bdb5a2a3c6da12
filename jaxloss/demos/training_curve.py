"""A healthy training curve: high at first, a steep drop, then a long gentle flattening.

A small MLP learns a wavy 1-D function with optax Adam. Early on it gets everything wrong, so the
loss is high; it quickly learns the broad shape (the steep part); afterwards it refines details and
each epoch buys less (the flat part). Flattening is expected, not a failure.
"""

from __future__ import annotations

from collections.abc import Sequence

import os

import jax
import numpy as np
import optax

import jaxloss as jl
from jaxloss import plot
from jaxloss.demos import name_of
from jaxloss.demos._common import DemoResult, Timer, finish, mlp, mlp_init, script_main
from jaxloss.train import fit

NAME = name_of(__name__)  # its entry in jaxloss.demos.DEMOS says what it shows


def phases(loss: np.ndarray, low: float = 0.1, high: float = 0.9) -> tuple[int, int]:
    """Epochs (1-based) that end the "high" and "sharp drop" phases: where the loss has covered
    ``low`` and ``high`` of its total fall, measured on a log scale."""
    log = np.log(np.asarray(loss))
    covered = (log[0] - log) / max(log[0] - log.min(), 1e-12)
    first = int(np.argmax(covered >= low)) + 1
    second = int(np.argmax(covered >= high)) + 1
    return max(first, 1), max(second, first + 1)


def run(out_dir: str | os.PathLike[str] = "jaxloss-out", *, fast: bool = False, formats: tuple[str, ...] = ("png",),
        show: bool = False) -> DemoResult:
    timer = Timer()
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, (512, 1)).astype(np.float32)
    y = (np.sin(2 * x[:, 0]) + 0.3 * x[:, 0] + rng.normal(0, 0.1, 512)).astype(np.float32)
    xv = rng.uniform(-3, 3, (256, 1)).astype(np.float32)
    yv = (np.sin(2 * xv[:, 0]) + 0.3 * xv[:, 0] + rng.normal(0, 0.1, 256)).astype(np.float32)
    params = mlp_init(jax.random.key(0), (1, 32, 32, 1))
    epochs = 25 if fast else 60
    result = fit(mlp, params, jl.mse, (x, y), val=(xv, yv), optimizer=optax.adam(3e-3), epochs=epochs,
                 batch_size=64, progress=False)
    hist = result.history
    train, val = np.asarray(hist["loss"]), np.asarray(hist["val_loss"])
    end_high, end_drop = phases(train)
    epochs_axis = np.arange(1, len(train) + 1)

    fig, axes = plot.new_figure(1, 2, width=12, height=4.5, gridspec_kw={"width_ratios": [1.6, 1]})
    a0, a1 = axes[0]
    spans = [(0.5, end_high + 0.5, plot.PALETTE[1]), (end_high + 0.5, end_drop + 0.5, plot.PALETTE[4]),
             (end_drop + 0.5, len(train) + 0.5, plot.PALETTE[2])]
    for lo, hi, color in spans:
        a0.axvspan(lo, hi, color=color, alpha=0.13, linewidth=0)
    plot.curves(a0, {"train": train, "validation": val}, x=epochs_axis, title="Loss per epoch (MLP, optax Adam)",
                xlabel="epoch", ylabel="mean squared error", log=True)
    text = {"fontsize": 10, "fontweight": "bold", "va": "center"}
    a0.annotate("1. high loss: mostly wrong", (1, train[0]), xytext=(0.12, 0.9), textcoords="axes fraction",
                color=plot.PALETTE[1], arrowprops={"arrowstyle": "->", "color": plot.PALETTE[1]}, **text)
    mid = (end_high + end_drop) // 2
    a0.annotate("2. sharp drop:\nlearns the broad shape", (mid, train[mid - 1]), xytext=(mid + 4, train[mid - 1] * 1.7),
                color="#A86F00", arrowprops={"arrowstyle": "->", "color": "#A86F00"}, **text)
    a0.text((end_drop + len(train)) / 2, train[end_drop - 1] * 1.6, "3. gradual flattening:\nrefining details",
            ha="center", color="#00704F", **text)
    a0.set_ylim(train.min() * 0.6, train[0] * 1.8)
    a0.legend(loc="lower left")
    grid = np.linspace(-3, 3, 200, dtype=np.float32)[:, None]
    a1.scatter(x[::4, 0], y[::4], s=8, color=plot.COLORS["data"], alpha=0.6, label="data")
    a1.plot(grid[:, 0], np.asarray(mlp(params, grid)), color=plot.PALETTE[1], linestyle="--", label="epoch 0")
    a1.plot(grid[:, 0], np.asarray(mlp(result.params, grid)), color=plot.PALETTE[0], label=f"epoch {len(train)}")
    plot.style_axes(a1, title="The model before and after", xlabel="x", ylabel="y", legend=True)
    fig.tight_layout()
    figures = finish({"training_curve": fig}, out_dir, formats=formats, show=show)
    summary = (
        "Training repeats four steps: predict, score the predictions with the loss, let the optimizer nudge\n"
        f"the weights, try again. At first the loss is high ({train[0]:.3f}); within {end_drop} epochs the model\n"
        "picks up the broad shape and the loss falls steeply; after that each epoch improves it a little\n"
        f"less, down to {train[-1]:.4f}. The validation loss follows the training loss: nothing is memorized."
    )
    numbers = {"first loss": float(train[0]), "final loss": float(train[-1]), "final val loss": float(val[-1]),
               "end of high phase (epoch)": end_high, "end of sharp drop (epoch)": end_drop}
    return DemoResult(NAME, figures, summary, numbers, {"train": train, "val": val, "phases": (end_high, end_drop)},
                      timer.seconds)


def main(argv: Sequence[str] | None = None) -> int:
    return script_main(NAME, argv)


if __name__ == "__main__":
    raise SystemExit(main())
