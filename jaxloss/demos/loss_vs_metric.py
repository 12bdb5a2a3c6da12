"""Loss against metric: train on cross-entropy, judge by accuracy and AUC.

The loss is what the optimizer descends; a metric is what a person reads (and what early stopping can
watch). Cross-entropy changes smoothly with the weights. Accuracy only changes when a point crosses
the decision boundary, so it moves in steps and its gradient is zero almost everywhere: nothing to
descend. That is why we train on a smooth proxy and report the metric.
"""

from __future__ import annotations

from collections.abc import Sequence

import os

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxloss as jl
from jaxloss import plot
from jaxloss.demos import name_of
from jaxloss.demos._common import DemoResult, Timer, finish, script_main
from jaxloss.train import EarlyStopping, fit

NAME = name_of(__name__)  # its entry in jaxloss.demos.DEMOS says what it shows


def linear(params: dict, x: jax.Array) -> jax.Array:
    return x @ params["w"] + params["b"]


def blobs(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    y = rng.integers(0, 2, n)
    x = rng.normal(0, 1.0, (n, 2)) + np.where(y[:, None] == 1, 0.9, -0.9)
    return x.astype(np.float32), y.astype(np.float32)


def run(out_dir: str | os.PathLike[str] = "jaxloss-out", *, fast: bool = False, formats: tuple[str, ...] = ("png",),
        show: bool = False) -> DemoResult:
    timer = Timer()
    rng = np.random.default_rng(4)
    train, val = blobs(rng, 200), blobs(rng, 40)
    params = {"w": jnp.asarray([-1.0, 0.3], jnp.float32), "b": jnp.asarray(1.5, jnp.float32)}
    epochs = 25 if fast else 60
    result = fit(linear, params, jl.binary_cross_entropy, train, val=val, optimizer=optax.sgd(0.02),
                 epochs=epochs, batch_size=20, metrics=["binary_accuracy", "auc"], progress=False,
                 early_stopping=EarlyStopping(monitor="val_auc", patience=8))
    h = result.history
    ep = h["epoch"]

    # Along one weight: the loss is smooth, accuracy is a staircase with zero gradient.
    xv, yv = jnp.asarray(val[0]), jnp.asarray(val[1])
    p = result.params

    def loss_at(b: jax.Array) -> jax.Array:
        return jl.binary_cross_entropy(linear({"w": p["w"], "b": b}, xv), yv)

    def accuracy_at(b: jax.Array) -> jax.Array:
        return jnp.mean(((linear({"w": p["w"], "b": b}, xv) > 0) == (yv > 0.5)).astype(xv.dtype))

    bs = jnp.linspace(-4.0, 4.0, 161 if fast else 401, dtype=jnp.float32)
    sweep = {
        "loss": np.asarray(jax.vmap(loss_at)(bs)), "accuracy": np.asarray(jax.vmap(accuracy_at)(bs)),
        "grad loss": np.asarray(jax.vmap(jax.grad(loss_at))(bs)),
        "grad accuracy": np.asarray(jax.vmap(jax.grad(accuracy_at))(bs)),
    }

    fig, axes = plot.new_figure(1, 3, width=15, height=4.5)
    a0, a1, a2 = axes[0]
    plot.curves(a0, {"train": h["loss"], "validation": h["val_loss"]}, x=ep, title="The loss: smooth",
                xlabel="epoch", ylabel="cross-entropy")
    a1.step(ep, h["val_binary_accuracy"], where="mid", color=plot.PALETTE[1], label="validation accuracy")
    a1.plot(ep, h["val_auc"], color=plot.PALETTE[2], label="validation AUC")
    best, stop = h.best_epoch, h.stopped_epoch
    a1.axvline(best, color=plot.COLORS["best"], linestyle="--", linewidth=1.3, label=f"best AUC: epoch {best}")
    if stop:
        a1.axvline(stop, color=plot.COLORS["stop"], linestyle=":", linewidth=2, label=f"early stop: epoch {stop}")
    plot.style_axes(a1, title="The metrics: in steps", xlabel="epoch", ylabel="score (higher is better)")
    a1.legend(loc="lower right", fontsize=9)
    b = np.asarray(bs)
    a2.plot(b, sweep["loss"], color=plot.PALETTE[0], label="cross-entropy")
    a2.plot(b, sweep["accuracy"], color=plot.PALETTE[1], label="accuracy")
    a2.plot(b, sweep["grad loss"], color=plot.PALETTE[0], linestyle="--", linewidth=1.4, label="d loss / d bias")
    a2.plot(b, sweep["grad accuracy"], color=plot.PALETTE[1], linestyle="--", linewidth=1.4,
            label="d accuracy / d bias (= 0)")
    plot.style_axes(a2, title="Moving one weight (the bias)", xlabel="bias of the trained model", ylabel="value")
    a2.legend(loc="upper center", fontsize=8.5, ncol=2)
    a2.set_ylim(-0.7, float(np.max(sweep["loss"])) * 1.35)
    fig.tight_layout()
    figures = finish({"loss_vs_metric": fig}, out_dir, formats=formats, show=show)

    acc = np.asarray(h["val_binary_accuracy"])
    steps = int(np.sum(np.abs(np.diff(acc)) > 0))
    flat = float(np.mean(sweep["grad accuracy"] == 0.0))
    summary = (
        "Training descends the cross-entropy (left), which changes a little with every update. Accuracy\n"
        "(middle) changes only when a point crosses the decision boundary, so it jumps between a few values\n"
        f"and stands still in between. Early stopping watched validation AUC and kept epoch {best}. Right:\n"
        "along one weight the loss is a smooth slope with a useful gradient; accuracy is a staircase whose\n"
        f"gradient is exactly zero at {flat:.0%} of the points, which gives gradient descent nothing to follow."
    )
    numbers = {"best epoch (val AUC)": best, "early stop epoch": stop, "best val AUC": float(h["val_auc"][best - 1]),
               "accuracy changes": steps, "share of zero accuracy gradient": flat,
               "mean |loss gradient|": float(np.mean(np.abs(sweep["grad loss"])))}
    return DemoResult(NAME, figures, summary, numbers, {"history": h, "sweep": sweep}, timer.seconds)


def main(argv: Sequence[str] | None = None) -> int:
    return script_main(NAME, argv)


if __name__ == "__main__":
    raise SystemExit(main())
