"""Loss against accuracy: two classifiers, both right 90 times out of 100, with very different losses.

Model A is sure when it is right and only narrowly wrong when it errs. Model B scrapes past the
threshold when it is right and is confidently wrong when it errs. Accuracy counts right answers and
cannot tell them apart; cross-entropy weighs how wrong each answer was and can.
"""

from __future__ import annotations

from collections.abc import Sequence

import os

import jax.numpy as jnp
import numpy as np

import jaxloss as jl
from jaxloss import metrics, plot
from jaxloss.demos import name_of
from jaxloss.demos._common import DemoResult, Timer, finish, script_main

NAME = name_of(__name__)  # its entry in jaxloss.demos.DEMOS says what it shows


def _probabilities(rng: np.random.Generator, right: tuple[float, float], wrong: tuple[float, float]) -> np.ndarray:
    """Probabilities on the true class: 90 right (> 0.5) and 10 wrong (< 0.5), shuffled."""
    p = np.concatenate([rng.uniform(*right, size=90), rng.uniform(*wrong, size=10)])
    return rng.permutation(p)


def run(out_dir: str | os.PathLike[str] = "jaxloss-out", *, fast: bool = False, formats: tuple[str, ...] = ("png",),
        show: bool = False) -> DemoResult:
    timer = Timer()
    rng = np.random.default_rng(3)
    models = {
        "Model A: sure when right, narrowly wrong": _probabilities(rng, (0.85, 0.99), (0.35, 0.48)),
        "Model B: barely right, confidently wrong": _probabilities(rng, (0.51, 0.62), (0.01, 0.05)),
    }
    # Binary problem, every true label 1: the prediction is the probability on the true class.
    targets = jnp.ones(100)
    scores = {}
    for name, p in models.items():
        acc = float(metrics.binary_accuracy(jnp.asarray(p), targets))
        loss = float(jl.binary_cross_entropy(jnp.asarray(p), targets, from_logits=False))
        scores[name] = (acc, loss)

    fig, axes = plot.new_figure(1, 3, width=14.5, height=4.4)
    bins = np.linspace(0, 1, 41)
    colors = [plot.PALETTE[0], plot.PALETTE[1]]
    for ax, (name, p), color in zip(axes[0, :2], models.items(), colors):
        ax.hist(p[p > 0.5], bins=bins, color=color, alpha=0.9, label="right (p > 0.5)")
        ax.hist(p[p <= 0.5], bins=bins, color=color, alpha=0.35, hatch="//", edgecolor=color, label="wrong (p < 0.5)")
        ax.axvline(0.5, color="black", linestyle="--", linewidth=1)
        acc, loss = scores[name]
        ax.text(0.03, 0.95, f"accuracy {acc:.0%}\nloss {loss:.3f}", transform=ax.transAxes, va="top", fontsize=11,
                bbox={"boxstyle": "round,pad=0.3", "facecolor": "white", "edgecolor": color})
        plot.style_axes(ax, title=name.replace(": ", ":\n"), xlabel="probability given to the true class",
                        ylabel="examples", legend=False)
        ax.legend(loc="upper right", fontsize=9)
        ax.set_ylim(0, ax.get_ylim()[1] * 1.35)
    ax = axes[0, 2]
    width = 0.36
    for i, (name, color) in enumerate(zip(models, colors)):
        acc, loss = scores[name]
        bars = ax.bar([(i - 0.5) * width, 1.0 + (i - 0.5) * width], [acc, loss], width, color=color,
                      label=name.split(":")[0])
        ax.bar_label(bars, labels=[f"{acc:.0%}", f"{loss:.2f}"], fontsize=10)
    ax.set_xticks([0, 1], ["accuracy", "cross-entropy\n(lower is better)"])
    ax.set_ylim(0, 1.35)
    plot.style_axes(ax, title="The two numbers")
    ax.legend(loc="upper center", ncol=2, fontsize=10)
    fig.tight_layout()
    figures = finish({"loss_vs_accuracy": fig}, out_dir, formats=formats, show=show)
    (acc_a, loss_a), (acc_b, loss_b) = scores.values()
    summary = (
        "Both models get 90 of 100 examples right, so their accuracy is identical. Accuracy only asks whether\n"
        "the top answer was right. Cross-entropy also asks how much probability went to the truth: model A\n"
        "is sure when right and only just wrong when wrong; model B barely clears the threshold when right\n"
        f"and is almost certain of the wrong answer when wrong, so its loss is {loss_b / loss_a:.1f}x larger."
    )
    numbers = {"accuracy A": acc_a, "accuracy B": acc_b, "loss A": loss_a, "loss B": loss_b}
    return DemoResult(NAME, figures, summary, numbers, {"probabilities": models}, timer.seconds)


def main(argv: Sequence[str] | None = None) -> int:
    return script_main(NAME, argv)


if __name__ == "__main__":
    raise SystemExit(main())
