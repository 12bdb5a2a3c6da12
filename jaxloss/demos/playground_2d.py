"""A TensorFlow-Playground-like experiment in JAX, with the loss picked from the catalog.

A 2-D dataset (moons, circles, spiral or blobs, with optional label noise and outliers), a small tanh
MLP and a loss from the registry (cross-entropy, focal, hinge, squared error, bi-tempered, ...),
trained full-batch with optax Adam. The figure shows the decision boundary as it evolves, how hard
each point pushes on the model (the size of its loss's gradient), and the train and test loss and
accuracy. Headless it writes an animated GIF and a final PNG; ``--show`` plays it in a window. The
settings save to and load from JSON, so an experiment can be shared and rerun exactly:

    python demos/playground_2d.py --loss focal --dataset spiral --save-settings spiral.json
    python demos/playground_2d.py --settings spiral.json
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxloss as jl
from jaxloss import _json_state, _kinds, plot
from jaxloss.demos import name_of
from jaxloss.demos._common import DemoResult, Timer, mlp, mlp_init, parser_for
from jaxloss.train import trajectory

NAME = name_of(__name__)  # its entry in jaxloss.demos.DEMOS says what it shows

DATASETS = ("moons", "circles", "spiral", "blobs")


class _Encoding(NamedTuple):
    """How the playground trains a loss of one input kind on two classes."""

    outputs: int                                   # network outputs
    targets: Callable[[np.ndarray], jax.Array]     # labels in {0, 1} -> the loss's targets
    score: Callable[[jax.Array], jax.Array]        # network output -> decision score (> 0: class 1)


def _signed(y: np.ndarray) -> jax.Array:
    return jnp.asarray(2.0 * y - 1.0, jnp.float32)  # +-1


#: The input kinds the playground can train (the one place this file reads input kinds).
ENCODINGS = {
    _kinds.BINARY_LOGITS: _Encoding(1, lambda y: jnp.asarray(y, jnp.float32), lambda out: out),
    _kinds.SIGNED_BINARY: _Encoding(1, _signed, lambda out: out),
    _kinds.REGRESSION: _Encoding(1, _signed, lambda out: out),
    _kinds.CLASS_LOGITS: _Encoding(2, lambda y: jnp.asarray(y, jnp.int32), lambda out: out[..., 1] - out[..., 0]),
}


def _kind(entry: jl.LossInfo) -> _kinds.InputKind:
    """A loss's input kind (an object of ``jaxloss._kinds``)."""
    return entry.inputs


@dataclasses.dataclass
class Settings:
    """Everything that defines an experiment (saved as JSON)."""

    dataset: str = "moons"
    n: int = 200
    noise: float = 0.15          # spread of the points around the pattern
    label_noise: float = 0.05    # fraction of training labels flipped
    outliers: float = 0.0        # fraction of training points moved far away
    loss: str = "binary_cross_entropy"
    options: dict[str, float] = dataclasses.field(default_factory=dict)  # the loss's hyperparameters
    hidden: tuple[int, ...] = (16, 16)
    learning_rate: float = 0.03
    steps: int = 300
    frames: int = 12
    seed: int = 0

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        return _json_state.dump(self, path)

    @classmethod
    def from_json(cls, text_or_path: str | os.PathLike[str]) -> Settings:
        raw = _json_state.load(cls, text_or_path, what="playground-2d settings")
        if "hidden" in raw:
            raw["hidden"] = tuple(raw["hidden"])
        return cls(**raw).checked()

    def checked(self) -> Settings:
        if self.dataset not in DATASETS:
            raise ValueError(f"playground-2d: dataset={self.dataset!r}; choose one of {DATASETS}.")
        entry = jl.info(self.loss)
        if _kind(entry) not in ENCODINGS:
            names = [e.name for e in jl.catalog() if _kind(e) in ENCODINGS]
            raise ValueError(f"playground-2d: loss {entry.name!r} takes {_kind(entry).name!r} inputs; the playground "
                             f"trains losses on logits, scores or labels: {', '.join(names)}.")
        for key in self.options:
            if key not in entry.hyperparameters:
                raise ValueError(f"playground-2d: {entry.name} has no option {key!r}; it has "
                                 f"{sorted(entry.hyperparameters) or 'none'}.")
        return self


#: The live playground's datasets closest to this demo's.
_LIVE_DATASETS = {"moons": "moons", "circles": "circle", "spiral": "spiral", "blobs": "gauss"}


def live_state(s: Settings) -> str:
    """The URL state of the browser playground's train page closest to these settings.

    ``jaxloss playground --state '<it>'`` opens it. The live page trains with minibatches on its own
    datasets and caps layers at 8 neurons, so the run is the same experiment, not the same numbers.
    """
    from jaxloss.playground._state import MAX_LAYERS, MAX_NEURONS, TrainState

    hidden = [min(h, MAX_NEURONS) for h in s.hidden[:MAX_LAYERS]]
    state = TrainState.from_mapping({
        "dataset": _LIVE_DATASETS[s.dataset], "loss": jl.info(s.loss).name, "options": dict(s.options),
        "hidden": hidden, "optimizer": "adam", "learning_rate": s.learning_rate, "seed": s.seed,
        "noise": int(round(min(s.noise, 0.5) * 100))})
    return state.to_hash()


def make_dataset(s: Settings) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training and test points ``(x, y, x_test, y_test)``, labels in {0, 1}; noise only in training."""
    rng = np.random.default_rng(s.seed)
    m = 2 * s.n

    def points(k: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, 2, k)
        if s.dataset == "moons":
            t = rng.uniform(0, np.pi, k)
            x = np.where(y[:, None] == 0, np.stack([np.cos(t), np.sin(t)], 1),
                         np.stack([1 - np.cos(t), 0.5 - np.sin(t)], 1)) - np.array([0.5, 0.25])
        elif s.dataset == "circles":
            t = rng.uniform(0, 2 * np.pi, k)
            r = np.where(y == 0, 1.0, 0.45)
            x = np.stack([r * np.cos(t), r * np.sin(t)], 1)
        elif s.dataset == "spiral":
            r = rng.uniform(0.15, 1.0, k)
            t = 3.2 * r + np.pi * y
            x = np.stack([r * np.cos(t), r * np.sin(t)], 1)
        else:
            x = rng.normal(0, 0.45, (k, 2)) + np.where(y[:, None] == 1, 0.6, -0.6)
        return (x + rng.normal(0, s.noise, x.shape)).astype(np.float32), y

    x, y = points(m)
    x, xt, y, yt = x[: s.n], x[s.n:], y[: s.n].copy(), y[s.n:]
    flip = rng.random(s.n) < s.label_noise
    y[flip] = 1 - y[flip]
    far = rng.random(s.n) < s.outliers
    x[far] = x[far] * 3.0 + rng.normal(0, 0.3, (int(far.sum()), 2)).astype(np.float32)
    return x * 1.5, y.astype(np.int32), xt * 1.5, yt.astype(np.int32)


def train(s: Settings) -> dict[str, Any]:
    """Trains the experiment; returns the arrays behind the figure."""
    s = s.checked()
    entry = jl.info(s.loss)
    encoding = ENCODINGS[_kind(entry)]
    x, y, xt, yt = make_dataset(s)
    t, tt = encoding.targets(y), encoding.targets(yt)
    params = mlp_init(jax.random.key(s.seed), (2, *s.hidden, encoding.outputs))
    loss_fn = entry.fn
    opts = dict(s.options)

    def objective(p: Any) -> jax.Array:
        return loss_fn(mlp(p, jnp.asarray(x)), t, **opts)

    _, values, path = trajectory(objective, params, optax.adam(s.learning_rate), s.steps)
    take = np.unique(np.linspace(0, s.steps, s.frames).astype(int))
    snapshots = [jax.tree_util.tree_map(lambda a, i=i: a[i], path) for i in take]
    xx, yy = np.meshgrid(np.linspace(-2.6, 2.6, 70), np.linspace(-2.6, 2.6, 70))
    grid = jnp.asarray(np.stack([xx.ravel(), yy.ravel()], 1), jnp.float32)

    def measures(p: Any) -> tuple[jax.Array, ...]:
        out, out_t = mlp(p, jnp.asarray(x)), mlp(p, jnp.asarray(xt))
        per_point = jax.grad(lambda o: jnp.sum(loss_fn(o, t, reduction="none", **opts)))(out)
        push = jnp.sqrt(jnp.sum(jnp.reshape(per_point ** 2, (len(x), -1)), axis=1))
        acc = jnp.mean((encoding.score(out) > 0) == (jnp.asarray(y) == 1))
        acc_t = jnp.mean((encoding.score(out_t) > 0) == (jnp.asarray(yt) == 1))
        return loss_fn(out, t, **opts), loss_fn(out_t, tt, **opts), acc, acc_t, push, encoding.score(mlp(p, grid))

    stacked = jax.tree_util.tree_map(lambda a: a[take], path)
    train_loss, test_loss, acc, acc_t, push, scores = (np.asarray(a) for a in jax.jit(jax.vmap(measures))(stacked))
    return {"x": x, "y": y, "x_test": xt, "y_test": yt, "steps": take, "train_loss": train_loss,
            "test_loss": test_loss, "train_accuracy": acc, "test_accuracy": acc_t, "push": push,
            "scores": scores.reshape(len(take), *xx.shape), "grid": (xx, yy), "loss_curve": np.asarray(values),
            "snapshots": snapshots, "entry": entry}


def _draw(fig: Any, axes: Any, r: dict[str, Any], k: int, s: Settings) -> None:
    a0, a1, a2 = axes
    for ax in axes:
        ax.clear()
    xx, yy = r["grid"]
    score = r["scores"][k]
    blue, red = plot.PALETTE[0], plot.PALETTE[1]
    from matplotlib.colors import ListedColormap

    a0.contourf(xx, yy, np.tanh(score), levels=np.linspace(-1, 1, 11), cmap="RdBu", alpha=0.45)
    a0.contour(xx, yy, score, levels=[0.0], colors="black", linewidths=1.8)
    x, y = r["x"], r["y"]
    a0.scatter(x[:, 0], x[:, 1], c=y, cmap=ListedColormap([red, blue]), s=16, edgecolor="white", linewidth=0.4)
    a0.set_xlim(-2.6, 2.6)
    a0.set_ylim(-2.6, 2.6)
    plot.style_axes(a0, title=f"Decision boundary, step {r['steps'][k]}")
    push = r["push"][k]
    a1.scatter(x[:, 0], x[:, 1], c=push, cmap="viridis", s=10 + 140 * push / max(float(r["push"].max()), 1e-12),
               vmin=0, vmax=float(r["push"].max()), edgecolor="black", linewidth=0.3)
    a1.contour(xx, yy, score, levels=[0.0], colors="black", linewidths=1.0, linestyles="--")
    a1.set_xlim(-2.6, 2.6)
    a1.set_ylim(-2.6, 2.6)
    plot.style_axes(a1, title="Each point's push |d loss_i / d output|")
    steps = r["steps"][: k + 1]
    a2.plot(steps, r["train_loss"][: k + 1], color=plot.COLORS["train"], label="train loss")
    a2.plot(steps, r["test_loss"][: k + 1], color=plot.COLORS["validation"], label="test loss")
    a2.set_xlim(0, s.steps)
    a2.set_ylim(0, float(max(r["train_loss"].max(), r["test_loss"].max())) * 1.1)
    plot.style_axes(a2, title=f"{r['entry'].name}: loss and accuracy", xlabel="step", ylabel="loss")
    twin = a2.twinx() if not hasattr(a2, "_twin") else a2._twin
    a2._twin = twin
    twin.clear()
    twin.plot(steps, r["train_accuracy"][: k + 1], color=plot.COLORS["train"], linestyle=":", label="train accuracy")
    twin.plot(steps, r["test_accuracy"][: k + 1], color=plot.COLORS["validation"], linestyle=":",
              label="test accuracy")
    twin.set_ylim(0.4, 1.02)
    twin.set_ylabel("accuracy (dotted)")
    twin.yaxis.set_label_position("right")
    twin.yaxis.tick_right()
    twin.spines["top"].set_visible(False)
    lines = a2.get_lines() + twin.get_lines()
    a2.legend(lines, [ln.get_label() for ln in lines], loc="center right", fontsize=8.5)


def run(out_dir: str | os.PathLike[str] = "jaxloss-out", *, fast: bool = False, formats: tuple[str, ...] = ("png",),
        show: bool = False, settings: Settings | str | os.PathLike[str] | None = None) -> DemoResult:
    timer = Timer()
    if settings is None:
        s = Settings()
    elif isinstance(settings, Settings):
        s = settings
    else:
        s = Settings.from_json(settings)
    if fast:
        s = dataclasses.replace(s, steps=min(s.steps, 60), frames=min(s.frames, 4), n=min(s.n, 100))
    r = train(s)
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    settings_path = os.path.join(out_dir, "playground_2d.json")
    s.to_json(settings_path)

    fig, grid = plot.new_figure(1, 3, width=14.5, height=4.6)
    axes = list(grid[0])
    from matplotlib import animation

    frames = len(r["steps"])
    anim = animation.FuncAnimation(fig, lambda k: _draw(fig, axes, r, k, s), frames=frames, interval=300,
                                   repeat=False)
    gif = os.path.join(out_dir, "playground_2d.gif")
    fig.suptitle(f"{s.dataset}, {s.loss}" + (f" {s.options}" if s.options else "") +
                 f", MLP {'-'.join(map(str, (2, *s.hidden, 1)))}, label noise {s.label_noise:.0%}",
                 fontsize=12, fontweight="bold")
    with plot.house_style():
        fig.tight_layout()
        anim.save(gif, writer=animation.PillowWriter(fps=4), dpi=55)
    _draw(fig, axes, r, frames - 1, s)
    fig.tight_layout()
    written = [gif] + plot.save(fig, os.path.join(out_dir, "playground_2d"), formats=formats) + [settings_path]
    if show:
        plot._pyplot().show()
    plot.close(fig)
    summary = (
        f"A {'-'.join(map(str, (2, *s.hidden)))}-output MLP learns to separate the {s.dataset} dataset under "
        f"{s.loss}.\nLeft: the decision boundary (black) after {s.steps} full-batch Adam steps; the GIF shows it "
        "forming.\nMiddle: how hard each training point pulls on the model right now (|d loss_i / d output|):\n"
        "points on the wrong side or near the boundary pull hardest. Right: train and test loss and accuracy.\n"
        f"Settings saved to {settings_path}; rerun them with `python demos/playground_2d.py --settings FILE`.\n"
        f"Train it live in your browser: jaxloss playground --state '{live_state(s)}'"
    )
    numbers = {"final train loss": float(r["train_loss"][-1]), "final test loss": float(r["test_loss"][-1]),
               "final train accuracy": float(r["train_accuracy"][-1]),
               "final test accuracy": float(r["test_accuracy"][-1]), "frames": frames}
    return DemoResult(NAME, written, summary, numbers, r, timer.seconds)


def main(argv: Sequence[str] | None = None) -> int:
    parser = parser_for(NAME)
    parser.add_argument("--settings", help="JSON settings file to load")
    parser.add_argument("--save-settings", help="write the settings to this JSON file")
    for field in dataclasses.fields(Settings):
        if field.name in ("options", "hidden"):
            continue
        parser.add_argument(f"--{field.name.replace('_', '-')}", type=type(getattr(Settings(), field.name)))
    parser.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                        help="a hyperparameter of the loss, e.g. --option gamma=2")
    parser.add_argument("--hidden", help="hidden layer sizes, e.g. 16,16")
    args = parser.parse_args(argv)
    s = Settings.from_json(args.settings) if args.settings else Settings()
    changes = {f.name: getattr(args, f.name) for f in dataclasses.fields(Settings)
               if f.name not in ("options", "hidden") and getattr(args, f.name) is not None}
    if args.hidden:
        changes["hidden"] = tuple(int(v) for v in args.hidden.split(","))
    if args.option:
        changes["options"] = {**s.options, **{k: float(v) for k, v in (o.split("=", 1) for o in args.option)}}
    s = dataclasses.replace(s, **changes).checked()
    if args.save_settings:
        s.to_json(args.save_settings)
    result = run(args.out, fast=args.fast, formats=tuple(args.format or ("png",)), show=args.show, settings=s)
    print(result.report())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
