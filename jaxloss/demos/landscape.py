"""Loss landscapes: the surface an optimizer walks on, and the paths SGD, momentum and Adam take.

For a two-parameter model (a line: slope and intercept) the whole surface can be drawn; MSE gives a
smooth bowl, MAE a faceted funnel with creases where a point's error changes sign. For a network
with hundreds of weights we look at a 2-D slice through the trained weights: along two random
directions rescaled filter by filter (Li et al. 2018, Visualizing the Loss Landscape of Neural Nets),
or along the two directions the training trajectory moved most (PCA). ``jaxloss.plot.loss_landscape``
does this for any model.
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
from jaxloss.demos._common import DemoResult, Timer, finish, line_model, mlp, mlp_init, script_main
from jaxloss.demos.outliers import data as outlier_data
from jaxloss.train import trajectory

NAME = name_of(__name__)  # its entry in jaxloss.demos.DEMOS says what it shows

#: (label, optimizer, under MSE and under MAE): learning rates suited to each loss's gradient scale.
OPTIMIZERS = {
    "SGD": (optax.sgd(0.05), optax.sgd(0.3)),
    "momentum": (optax.sgd(0.02, momentum=0.9), optax.sgd(0.1, momentum=0.9)),
    "Adam": (optax.adam(0.15), optax.adam(0.15)),
}


def run(out_dir: str | os.PathLike[str] = "jaxloss-out", *, fast: bool = False, formats: tuple[str, ...] = ("png",),
        show: bool = False) -> DemoResult:
    timer = Timer()
    x, y, _ = outlier_data()
    x = (x - 5.0) / 2.5  # centred inputs: a better-conditioned bowl
    start = {"w": jnp.asarray(-2.5, jnp.float32), "b": jnp.asarray(-1.0, jnp.float32)}
    steps = 30 if fast else 80
    resolution = 25 if fast else 61
    losses = {"MSE": jl.mean_squared_error, "MAE": jl.mean_absolute_error}

    fig1, axes1 = plot.new_figure(1, 2, width=12.5, height=5.0)
    surfaces, finals = {}, {}
    w0, b0 = float(start["w"]), float(start["b"])
    for col, (label, loss) in enumerate(losses.items()):
        def objective(p, loss=loss):
            return loss(line_model(p, x), y)

        paths = {}
        for name, pair in OPTIMIZERS.items():
            walk = trajectory(objective, start, pair[col], steps)
            paths[name] = walk.points()
            finals[f"{label} {name}"] = (float(walk.params["w"]), float(walk.params["b"]))
        ax = axes1[0, col]
        land = plot.landscape_surface(objective, start, directions="axes", trajectories=paths,
                                      span=(-3.5 - w0, 5.0 - w0, -2.0 - b0, 6.0 - b0),
                                      resolution=resolution)
        # "axes" directions are centred on the start; show absolute slope and intercept.
        land.alphas, land.betas = land.alphas + w0, land.betas + b0
        land.paths = {k: v + np.array([w0, b0]) for k, v in land.paths.items()}
        plot.draw_landscape(ax, land, title=f"{label}: {'smooth bowl' if label == 'MSE' else 'creased funnel'}")
        ax.set_xlabel("slope w")
        ax.set_ylabel("intercept b")
        surfaces[label] = land
    fig1.suptitle(f"A line fitted under MSE and under MAE: the surface and {steps} steps of three optimizers",
                  fontsize=12, fontweight="bold")
    fig1.tight_layout()

    # A small MLP: slices through the trained weights.
    rng = np.random.default_rng(0)
    xm = rng.uniform(-3, 3, (128, 1)).astype(np.float32)
    ym = (np.sin(2 * xm[:, 0]) + 0.3 * xm[:, 0]).astype(np.float32)
    params = mlp_init(jax.random.key(1), (1, 16, 16, 1))

    def mlp_objective(p):
        return jl.mean_squared_error(mlp(p, xm), ym)

    mlp_steps = 100 if fast else 400
    mlp_walk = trajectory(mlp_objective, params, optax.adam(1e-2), mlp_steps)
    trained, values = mlp_walk.params, mlp_walk.losses
    fig2, axes2 = plot.new_figure(1, 2, width=12.5, height=5.0)
    plot.loss_landscape(mlp_objective, trained, directions="filter", span=1.0, resolution=resolution, seed=0,
                        ax=axes2[0, 0], title="MLP: filter-normalized random directions")
    plot.loss_landscape(mlp_objective, trained, directions="pca",
                        trajectories={"Adam": mlp_walk.points(every=mlp_steps // 60)}, resolution=resolution,
                        ax=axes2[0, 1], title="MLP: the trajectory's principal plane")
    filt, pca = fig2.landscape
    for ax in axes2[0]:
        ax.plot(0, 0, "*", color="white", markersize=14, markeredgecolor="black", label="trained weights")
    axes2[0, 0].legend(loc="upper right", fontsize=9, frameon=True)
    fig2.suptitle(f"A 1-16-16-1 MLP ({sum(a.size for a in jax.tree_util.tree_leaves(params))} weights): "
                  "2-D slices through its trained weights", fontsize=12, fontweight="bold")
    fig2.tight_layout()
    figures = finish({"landscape": fig1, "landscape_mlp": fig2}, out_dir, formats=formats, show=show)
    summary = (
        "Left figure: every (slope, intercept) of a line gets a loss; the optimizer walks downhill from the\n"
        "same start. Under MSE the surface is a smooth bowl; plain SGD heads straight down the steepest\n"
        "slope, momentum overshoots and curls in, Adam moves in nearly equal steps per parameter. Under MAE\n"
        "the surface has creases and its minimum sits elsewhere (the outliers matter less). Right figure:\n"
        "a network has too many weights to draw, so we slice: two random directions scaled to each neuron's\n"
        "weights (filter normalization), or the plane the training path moved in most (PCA), with Adam's\n"
        "path projected on it."
    )
    numbers = {f"final {k}": v for k, v in finals.items()}
    numbers["MLP first loss"] = float(values[0])
    numbers["MLP final loss"] = float(values[-1])
    numbers["PCA variance explained"] = [float(v) for v in pca.explained]
    return DemoResult(NAME, figures, summary, numbers,
                      {"surfaces": surfaces, "filter": filt, "pca": pca, "mlp_losses": np.asarray(values)},
                      timer.seconds)


def main(argv: Sequence[str] | None = None) -> int:
    return script_main(NAME, argv)


if __name__ == "__main__":
    raise SystemExit(main())
