"""A tiny causal language model trained with the linear head's cross-entropy, and the memory it saves.

A character-level model reads the previous characters and predicts the next one; its text is
jaxloss's own documentation (the docstrings of the losses it ships). The model returns its hidden
states and its output layer, and ``jl.fit`` trains it with ``jl.linear_cross_entropy``, which never
builds the ``(tokens, vocabulary)`` logits. The figure shows the training and validation loss against
the uniform guess, the temporary memory of the loss's compiled program (value and gradients) against
the materialised logits as the vocabulary grows to 131,072 tokens, and text the model writes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxloss as jl
from jaxloss import plot
from jaxloss.demos import name_of
from jaxloss.demos._common import DemoResult, Timer, finish, script_main

NAME = name_of(__name__)  # its entry in jaxloss.demos.DEMOS says what it shows

CONTEXT, EMBED, HIDDEN = 8, 16, 96
VOCABULARIES = (1024, 8192, 32768, 131072)


def corpus() -> str:
    """The text: every loss's docstring, as the package ships it."""
    return "\n\n".join(" ".join((e.fn.__doc__ or "").split()) for e in jl.catalog())


def windows(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(previous CONTEXT characters, next character) for every position."""
    x = np.lib.stride_tricks.sliding_window_view(ids[:-1], CONTEXT)
    return x.astype(np.int32), ids[CONTEXT:].astype(np.int32)


def init(vocab: int, seed: int = 0) -> dict:
    k = jax.random.split(jax.random.key(seed), 3)
    return {"embed": jax.random.normal(k[0], (vocab, EMBED)) * 0.3,
            "w": jax.random.normal(k[1], (CONTEXT * EMBED, HIDDEN)) / np.sqrt(CONTEXT * EMBED),
            "b": jnp.zeros(HIDDEN), "head": jax.random.normal(k[2], (vocab, HIDDEN)) / np.sqrt(HIDDEN)}


def model(params: dict, context: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The hidden state of each context and the output layer: what linear_cross_entropy takes."""
    e = params["embed"][context].reshape(context.shape[0], CONTEXT * EMBED)
    return jnp.tanh(e @ params["w"] + params["b"][None, :]), params["head"]


def temporary_bytes(vocab: int, tokens: int = 1024, dim: int = HIDDEN) -> tuple[int, int]:
    """Compiled temporary memory of value and gradients: (linear_cross_entropy, materialised logits)."""
    h = jax.ShapeDtypeStruct((tokens, dim), jnp.float32)
    w = jax.ShapeDtypeStruct((vocab, dim), jnp.float32)
    y = jax.ShapeDtypeStruct((tokens,), jnp.int32)
    out = []
    for loss in (lambda h, w, y: jl.linear_cross_entropy(h, y, weight=w),
                 lambda h, w, y: jl.softmax_cross_entropy(h @ w.T, y)):
        compiled = jax.jit(jax.value_and_grad(loss, argnums=(0, 1))).lower(h, w, y).compile()
        out.append(int(compiled.memory_analysis().temp_size_in_bytes))
    return out[0], out[1]


def generate(params: dict, prompt: np.ndarray, steps: int, chars: np.ndarray, seed: int = 0) -> str:
    """Sampled text (temperature 0.7) continuing ``prompt``."""
    step = jax.jit(lambda p, c: (lambda h, w: h @ w.T)(*model(p, c[None])))
    rng = np.random.default_rng(seed)
    ids = list(prompt)
    for _ in range(steps):
        logits = np.asarray(step(params, jnp.asarray(ids[-CONTEXT:], jnp.int32)))[0] / 0.7
        p = np.exp(logits - logits.max())
        ids.append(int(rng.choice(len(p), p=p / p.sum())))
    return "".join(chars[ids])


def run(out_dir: str | os.PathLike[str] = "jaxloss-out", *, fast: bool = False, formats: tuple[str, ...] = ("png",),
        show: bool = False) -> DemoResult:
    timer = Timer()
    text = corpus()
    chars = np.array(sorted(set(text)))
    ids = np.searchsorted(chars, np.array(list(text)))
    x, y = windows(ids)
    cut = int(0.9 * len(y))
    train, val = (x[:cut], y[:cut]), (x[cut:], y[cut:])
    if fast:
        train, val = (train[0][:6000], train[1][:6000]), (val[0][:1000], val[1][:1000])
    vocab = len(chars)
    result = jl.fit(model, init(vocab), jl.linear_cross_entropy, train, val=val,
                    optimizer=optax.adam(3e-3), epochs=2 if fast else 6, batch_size=256, progress=False, seed=0)
    history = result.history
    sizes = (VOCABULARIES[0], VOCABULARIES[-1]) if fast else VOCABULARIES
    memory = {v: temporary_bytes(v) for v in sizes}
    prompt = ids[cut: cut + CONTEXT]
    sample = generate(result.params, prompt, 60 if fast else 160, chars)

    fig, grid = plot.new_figure(1, 3, width=15.5, height=4.6)
    ax = grid[0, 0]
    epochs = np.asarray(history["epoch"])
    ax.plot(epochs, history["loss"], marker="o", color=plot.COLORS["train"], label="train")
    ax.plot(epochs, history["val_loss"], marker="o", color=plot.COLORS["validation"], label="validation")
    ax.axhline(np.log(vocab), color="#888888", linestyle=":", label=f"uniform guess, log {vocab}")
    plot.style_axes(ax, title=f"Next-character loss ({vocab} characters)", xlabel="epoch",
                    ylabel="cross-entropy (nats)", legend=True)
    ax = grid[0, 1]
    vs = np.array(sorted(memory))
    fused = np.array([memory[v][0] for v in vs]) / 2 ** 20
    plain = np.array([memory[v][1] for v in vs]) / 2 ** 20
    ax.plot(vs, plain, marker="o", color=plot.COLORS["validation"], label="materialised logits")
    ax.plot(vs, fused, marker="o", color=plot.COLORS["train"], label="linear_cross_entropy")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.annotate(f"{plain[-1] / fused[-1]:.0f}x less", (vs[-1], fused[-1]), xytext=(-70, 18),
                textcoords="offset points", fontsize=10)
    plot.style_axes(ax, title="Temporary memory of loss + gradients\n(1,024 tokens, hidden 96)",
                    xlabel="vocabulary size", ylabel="MiB", legend=True)
    ax = grid[0, 2]
    ax.axis("off")
    import textwrap

    shown = textwrap.fill(sample.replace("\n", " "), 46)
    ax.text(0.0, 1.0, f"The model writes (the first {CONTEXT} characters are the prompt):", fontsize=10.5, fontweight="bold",
            va="top", transform=ax.transAxes)
    ax.text(0.0, 0.9, shown, fontsize=9.5, family="monospace", va="top", transform=ax.transAxes)
    fig.suptitle("A character-level language model trained with jl.linear_cross_entropy (no logits array)",
                 fontsize=13, fontweight="bold")
    fig.tight_layout()
    figures = finish({"language_model": fig}, out_dir, formats=formats, show=show)
    final = float(history["val_loss"][-1])
    biggest = max(memory)
    # The loss of a model that knows only how often each character occurs (add-one counts of the training
    # text): below it, the model has learned to read the context.
    counts = np.bincount(train[1], minlength=vocab) + 1.0
    unigram = float(-np.mean(np.log(counts / counts.sum())[val[1]]))
    summary = (
        f"A model reads {CONTEXT} characters of jaxloss's own docstrings and predicts the next of {vocab}; it\n"
        "returns (hidden states, output layer) and jl.fit trains it with jl.linear_cross_entropy, which\n"
        f"computes cross-entropy block by block and never builds the logits. Validation loss {final:.2f} nats\n"
        f"(the uniform guess: {np.log(vocab):.2f}; character frequencies alone: {unigram:.2f}). At a\n"
        f"{biggest:,}-token vocabulary the loss and its gradients need {memory[biggest][0] / 2 ** 20:.0f} MiB of "
        f"temporaries against\n{memory[biggest][1] / 2 ** 20:.0f} MiB with the logits materialised."
    )
    numbers = {"final val loss": final, "uniform loss": float(np.log(vocab)), "unigram loss": unigram,
               "vocabulary": vocab,
               "memory ratio at the largest vocabulary": memory[biggest][1] / memory[biggest][0]}
    return DemoResult(NAME, figures, summary, numbers, {"history": history, "memory": memory, "sample": sample},
                      timer.seconds)


def main(argv: Sequence[str] | None = None) -> int:
    return script_main(NAME, argv)


if __name__ == "__main__":
    raise SystemExit(main())
