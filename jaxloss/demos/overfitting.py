"""Overfitting: a polynomial of degree 15 on 14 noisy points.

The training loss keeps falling as the model bends itself through every point, noise included; the
validation loss on fresh points falls at first and then climbs. The best model is the one at the
bottom of the validation curve, and early stopping finds it without training to the end.
"""

from __future__ import annotations

from collections.abc import Sequence

import os

import jax.numpy as jnp
import numpy as np
import optax

import jaxloss as jl
from jaxloss import plot
from jaxloss.demos import name_of
from jaxloss.demos._common import DemoResult, Timer, finish, script_main
from jaxloss.train import EarlyStopping, fit

NAME = name_of(__name__)  # its entry in jaxloss.demos.DEMOS says what it shows

DEGREE = 15


def features(x: np.ndarray) -> np.ndarray:
    return np.stack([x ** k for k in range(DEGREE + 1)], axis=1).astype(np.float32)


def poly(params: dict, feats: jnp.ndarray) -> jnp.ndarray:
    return feats @ params["w"]


def run(out_dir: str | os.PathLike[str] = "jaxloss-out", *, fast: bool = False, formats: tuple[str, ...] = ("png",),
        show: bool = False) -> DemoResult:
    timer = Timer()
    rng = np.random.default_rng(1)
    xt = np.sort(rng.uniform(-1, 1, 14))
    yt = (np.sin(np.pi * xt) + rng.normal(0, 0.25, xt.shape)).astype(np.float32)
    xv = rng.uniform(-1, 1, 200)
    yv = (np.sin(np.pi * xv) + rng.normal(0, 0.25, xv.shape)).astype(np.float32)
    train, val = (features(xt), yt), (features(xv), yv)
    params = {"w": jnp.zeros(DEGREE + 1, jnp.float32)}
    optimizer = optax.adam(0.05)
    epochs = 250 if fast else 500
    full = fit(poly, params, jl.mse, train, val=val, optimizer=optimizer, epochs=epochs, batch_size=len(xt),
               progress=False)
    stopped = fit(poly, params, jl.mse, train, val=val, optimizer=optimizer, epochs=epochs, batch_size=len(xt),
                  progress=False, early_stopping=EarlyStopping(patience=40))
    h, hs = full.history, stopped.history
    best = int(h.best_epoch)

    fig, axes = plot.new_figure(1, 2, width=12, height=4.6, gridspec_kw={"width_ratios": [1.35, 1]})
    a0, a1 = axes[0]
    plot.curves(a0, {"train": h["loss"], "validation": h["val_loss"]}, x=h["epoch"], log=True,
                title="Training keeps improving, validation turns up", xlabel="epoch", ylabel="mean squared error")
    a0.axvline(best, color=plot.COLORS["best"], linestyle="--", linewidth=1.5, label=f"best epoch {best}")
    a0.plot([best], [h["val_loss"][best - 1]], "o", color=plot.COLORS["best"], markersize=8)
    a0.axvline(hs.stopped_epoch, color=plot.COLORS["stop"], linestyle=":", linewidth=2,
               label=f"early stop (patience 40): epoch {hs.stopped_epoch}")
    a0.annotate("overfitting:\nvalidation loss rises", (best + 0.6 * (len(h["loss"]) - best), h["val_loss"][-1] * 0.85),
                ha="center", fontsize=10, color=plot.COLORS["validation"])
    a0.legend(loc="lower left", fontsize=9)
    grid = np.linspace(-1, 1, 300)
    a1.scatter(xv, yv, s=6, color=plot.COLORS["data"], alpha=0.35, label="validation points")
    a1.scatter(xt, yt, s=40, color="black", zorder=3, label="training points")
    a1.plot(grid, np.asarray(poly(stopped.params, features(grid))), color=plot.COLORS["best"],
            label=f"early-stopped (epoch {hs.best_epoch})")
    a1.plot(grid, np.asarray(poly(full.params, features(grid))), color=plot.COLORS["validation"],
            label=f"trained to epoch {len(h['loss'])}")
    a1.set_ylim(-2.2, 2.2)
    plot.style_axes(a1, title="Degree-15 polynomial, 14 points", xlabel="x", ylabel="y")
    a1.legend(loc="lower right", fontsize=8.5)
    fig.tight_layout()
    figures = finish({"overfitting": fig}, out_dir, formats=formats, show=show)
    val_loss = np.asarray(h["val_loss"])
    summary = (
        "A model with far more freedom than data (16 coefficients, 14 points) can thread every training\n"
        "point, noise and all. Its training loss keeps going down, but from epoch "
        f"{best} on, the loss on fresh\n"
        f"points goes up ({val_loss[best - 1]:.3f} -> {val_loss[-1]:.3f}): it is memorizing, not learning the pattern.\n"
        f"Early stopping watches the validation loss and stops at epoch {hs.stopped_epoch}, keeping the weights\n"
        f"of epoch {hs.best_epoch}."
    )
    numbers = {"best epoch": best, "epochs": len(val_loss), "best val loss": float(val_loss[best - 1]),
               "last val loss": float(val_loss[-1]), "last train loss": float(h["loss"][-1]),
               "early stop epoch": hs.stopped_epoch, "early stop status": stopped.status}
    return DemoResult(NAME, figures, summary, numbers,
                      {"train": np.asarray(h["loss"]), "val": val_loss, "stopped_val": np.asarray(hs["val_loss"])},
                      timer.seconds)


def main(argv: Sequence[str] | None = None) -> int:
    return script_main(NAME, argv)


if __name__ == "__main__":
    raise SystemExit(main())
