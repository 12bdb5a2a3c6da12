"""Cross-entropy: the price of the probability a classifier gave to the right answer.

A classifier says 70% dog, 20% cat, 10% fish. If the picture is a dog it paid -log 0.7; if a cat,
-log 0.2; if a fish, -log 0.1. The curve -log p shows the three regimes: right and sure is cheap,
right but hesitant costs more, confidently wrong is very expensive (and unbounded).
"""

from __future__ import annotations

from collections.abc import Sequence

import os

import jax.numpy as jnp
import numpy as np

import jaxloss as jl
from jaxloss import plot
from jaxloss.demos import name_of
from jaxloss.demos._common import DemoResult, Timer, finish, script_main

NAME = name_of(__name__)  # its entry in jaxloss.demos.DEMOS says what it shows

CLASSES = ("dog", "cat", "fish")
PROBS = (0.7, 0.2, 0.1)
#: (low p, high p, label, colour, label height) of the zones on the -log p curve.
ZONES = (
    (0.0, 0.15, "wrong and\nconfident:\nhigh loss", plot.PALETTE[1], 1.45),
    (0.35, 0.65, "right but\nunsure:\nmedium loss", plot.PALETTE[4], 4.55),
    (0.8, 1.0, "right and\nconfident:\nlow loss", plot.PALETTE[2], 4.55),
)


def run(out_dir: str | os.PathLike[str] = "jaxloss-out", *, fast: bool = False, formats: tuple[str, ...] = ("png",),
        show: bool = False) -> DemoResult:
    timer = Timer()
    logits = jnp.log(jnp.asarray([PROBS] * 3))
    labels = jnp.arange(3)
    costs = np.asarray(jl.cross_entropy(logits, labels, reduction="none"))

    # -log p for the probability p given to the true class (two classes: p and 1 - p).
    p = np.linspace(0.005, 0.999, 200 if fast else 500)
    two = jnp.log(jnp.stack([jnp.asarray(p), jnp.asarray(1.0 - p)], axis=1))
    curve = np.asarray(jl.cross_entropy(two, jnp.zeros(len(p), dtype=jnp.int32), reduction="none"))

    fig, axes = plot.new_figure(1, 3, width=14.5, height=4.4)
    a0, a1, a2 = axes[0]
    bars = a0.bar(CLASSES, PROBS, color=[plot.PALETTE[0], plot.PALETTE[5], plot.PALETTE[5]])
    a0.bar_label(bars, labels=[f"{q:.0%}" for q in PROBS], fontsize=11)
    a0.set_ylim(0, 1)
    plot.style_axes(a0, title="The model's prediction", ylabel="predicted probability")

    colors = [plot.PALETTE[2], plot.PALETTE[4], plot.PALETTE[1]]
    bars = a1.bar([f"truly a\n{c}" for c in CLASSES], costs, color=colors)
    a1.bar_label(bars, labels=[f"-log {q:g} = {c:.2f}" for q, c in zip(PROBS, costs)], fontsize=10)
    a1.set_ylim(0, costs.max() * 1.25)
    plot.style_axes(a1, title="Its cost for each true class", ylabel="cross-entropy")

    for lo, hi, text, color, y in ZONES:
        a2.axvspan(lo, hi, color=color, alpha=0.15, linewidth=0)
        a2.text((lo + hi) / 2, y, text, ha="center", va="top", fontsize=9.5, color=color, fontweight="bold")
    a2.plot(p, curve, color=plot.PALETTE[0], label="-log p")
    a2.plot(PROBS, costs, "o", color="black", markersize=6)
    for q, c, name in zip(PROBS, costs, CLASSES):
        a2.annotate(name, (q, c), xytext=(6, 4), textcoords="offset points", fontsize=9.5)
    a2.set_ylim(0, 4.7)
    a2.set_xlim(0, 1)
    plot.style_axes(a2, title="Cost against confidence in the truth", xlabel="probability given to the true class p",
                    ylabel="loss = -log p")
    fig.tight_layout()
    figures = finish({"cross_entropy": fig}, out_dir, formats=formats, show=show)
    summary = (
        "A classifier outputs probabilities (here 70% dog, 20% cat, 10% fish). Cross-entropy charges -log of\n"
        "the probability it gave to the class that was actually true: little if that was the favourite, more\n"
        "if it was a long shot. The curve on the right has three regimes: right and confident costs almost\n"
        "nothing, right but unsure costs a moderate amount, confidently wrong costs a lot and has no ceiling.\n"
        "So the loss cares about how sure the model was, not only whether its top guess was right."
    )
    numbers = {f"cost if truly {c}": float(v) for c, v in zip(CLASSES, costs)}
    return DemoResult(NAME, figures, summary, numbers, {"p": p, "-log p": curve, "costs": costs}, timer.seconds)


def main(argv: Sequence[str] | None = None) -> int:
    return script_main(NAME, argv)


if __name__ == "__main__":
    raise SystemExit(main())
