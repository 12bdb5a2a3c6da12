"""MSE against MAE (and Huber, log-cosh): how each loss prices an error, and how hard it pushes back.

Squaring makes the sign of an error irrelevant and makes big errors very expensive; the absolute value
also ignores the sign but charges in proportion. The gradient panel shows the push each loss gives the
prediction: MSE's grows with the error, MAE's is a constant +-1, Huber and log-cosh sit in between.
"""

from __future__ import annotations

from collections.abc import Sequence

import os

import numpy as np

import jaxloss as jl
from jaxloss import plot
from jaxloss.demos import name_of
from jaxloss.demos._common import DemoResult, Timer, finish, script_main

NAME = name_of(__name__)  # its entry in jaxloss.demos.DEMOS says what it shows

LOSSES = {"MSE": "mean_squared_error", "MAE": "mean_absolute_error", "Huber (delta=1)": "huber", "log-cosh": "log_cosh"}


def _box(ax, text, xy, xytext, color):  # an annotation readable at thumbnail size
    ax.annotate(text, xy, xytext=xytext, textcoords="data", fontsize=10, color=color, ha="center",
                arrowprops={"arrowstyle": "->", "color": color, "linewidth": 1.2},
                bbox={"boxstyle": "round,pad=0.25", "facecolor": "white", "edgecolor": color, "alpha": 0.9})


def run(out_dir: str | os.PathLike[str] = "jaxloss-out", *, fast: bool = False, formats: tuple[str, ...] = ("png",),
        show: bool = False) -> DemoResult:
    timer = Timer()
    fig, axes = plot.new_figure(1, 3, width=14.5, height=4.5)
    a0, a1, a2 = axes[0]
    errors = np.linspace(-4.0, 4.0, 161 if fast else 401)
    plot.loss_vs_error(LOSSES, errors, options={"Huber (delta=1)": {"delta": 1.0}}, axes=[a0, a1],
                       title="Loss against error")
    a0.set_ylim(-0.5, 12.5)
    mse3 = float(jl.mse(np.array([3.0, -3.0]), np.zeros(2), reduction="none")[0])
    msem3 = float(jl.mse(np.array([3.0, -3.0]), np.zeros(2), reduction="none")[1])
    blue, red = plot.PALETTE[0], plot.PALETTE[1]
    a0.plot([-3, 3], [msem3, mse3], "o", color=blue, markersize=7, markeredgecolor="black")
    _box(a0, f"error -3 costs {msem3:g}", (-3, msem3), (-1.9, 11.3), blue)
    _box(a0, f"error +3 costs {mse3:g}", (3, mse3), (1.9, 11.3), blue)
    plot.style_axes(a1, title="Gradient: how hard each loss pushes")

    # The long view: MAE's price grows in proportion to the error.
    big = np.linspace(0.0, 22.0, 221)
    for i, (label, name) in enumerate(LOSSES.items()):
        _, v, _ = plot.error_curve(name, big)
        a2.plot(big, v, color=plot.PALETTE[i], label=label)
    mae_vals = jl.mae(np.array([10.0, 20.0]), np.zeros(2), reduction="none")
    m10, m20 = float(mae_vals[0]), float(mae_vals[1])
    a2.plot([10, 20], [m10, m20], "o", color=red, markersize=7, markeredgecolor="black")
    _box(a2, f"error 10 costs {m10:g}", (10, m10), (7.0, 19.5), red)
    _box(a2, f"error 20 costs {m20:g}", (20, m20), (16.5, 24.0), red)
    a2.text(7.0, 30.5, "MSE: 100 at 10, 400 at 20\n(far off the chart)", color=blue, fontsize=9.5, ha="left", va="top")
    a2.set_ylim(0, 31)
    plot.style_axes(a2, title="Large errors: MAE grows in proportion", xlabel="error", ylabel="loss")
    fig.tight_layout()
    figures = finish({"mse_vs_mae": fig}, out_dir, formats=formats, show=show)

    curves = {label: plot.error_curve(name, errors) for label, name in LOSSES.items()}
    beyond = np.abs(errors) > 1.0
    summary = (
        "Left: what each loss charges for an error. Squaring (MSE) makes +3 and -3 cost the same 9 and makes\n"
        "large errors very expensive; the absolute value (MAE) charges 10 for 10 and 20 for 20. Huber and\n"
        "log-cosh behave like MSE near zero and like MAE far away. Middle: the gradient, the push on the\n"
        "prediction. MSE pushes harder the further off it is, which is why a few outliers can dominate it;\n"
        "MAE pushes with the same strength at any distance."
    )
    numbers = {"mse(+3)": mse3, "mse(-3)": msem3, "mae(10)": m10, "mae(20)": m20,
               "mse_above_mae_beyond_1": bool(np.all(curves["MSE"][1][beyond] > curves["MAE"][1][beyond]))}
    data = {"errors": errors, **{f"{label}": c[1] for label, c in curves.items()},
            **{f"grad {label}": c[2] for label, c in curves.items()}}
    return DemoResult(NAME, figures, summary, numbers, data, timer.seconds)


def main(argv: Sequence[str] | None = None) -> int:
    return script_main(NAME, argv)


if __name__ == "__main__":
    raise SystemExit(main())
