"""A training run of the train page (private): compiled JAX steps, and the frames the page draws.

A :class:`Program` holds what is compiled for one structure (dataset shape, features, network,
activation, optimizer, the losses and the optional hyperparameters they use, regularization kind,
batch size, metric): ``advance`` runs any number of optimizer steps in one call and ``views``
computes everything a frame shows. What the page may change while training runs (learning rate,
hyperparameters, the two losses' weight, regularization rate) are arguments of those functions, not
constants, so moving a slider compiles nothing. Programs are cached by structure.

The loss is a :class:`jaxloss.Composite`: one term, or ``(1 - w) * loss + w * loss2`` whose terms
each read the network's outputs through their own encoding (``select``), so the page can show the
per-term breakdown. L1/L2 are :func:`jaxloss.l1` / :func:`jaxloss.l2` on the weights (not biases).
A step whose loss or new parameters are not finite changes nothing (selected arithmetically, no host
round trip); the run reports it and pauses.
"""

from __future__ import annotations

import base64
import collections
import dataclasses
import functools
import threading
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxloss import _registry
from jaxloss.compose import Composite, l1, l2, term
from jaxloss.playground import _catalog, _data
from jaxloss.playground._data import PlaygroundTask
from jaxloss.playground._state import TrainState
from jaxloss.train._step import keep, optimizer_step

GRID = 50  # the decision view's resolution
NEURON_GRID = 16  # each neuron's thumbnail
_CACHE_SIZE = 24

_ACTIVATIONS = {"relu": jax.nn.relu, "tanh": jnp.tanh, "sigmoid": jax.nn.sigmoid, "linear": lambda x: x}


def _optimizer(name: str) -> optax.GradientTransformation:
    make = {"sgd": optax.sgd, "momentum": functools.partial(optax.sgd, momentum=0.9),
            "adam": optax.adam, "adamw": optax.adamw}[name]
    return optax.inject_hyperparams(make, hyperparam_dtype=jnp.float32)(learning_rate=0.01)


def b64(array: Any) -> str:
    """A float array as base64 of little-endian float32 (what the page decodes into a Float32Array)."""
    return base64.b64encode(np.ascontiguousarray(np.asarray(array, dtype="<f4")).tobytes()).decode("ascii")


class Program:
    """The compiled functions of one structure (see the module docstring)."""

    def __init__(self, key: tuple) -> None:
        (self.task, self.classes, self.features, self.hidden, activation, optimizer, self.losses,
         self.regularization, self.batch_size, self.n_train, self.metric_name, _) = key
        self.activation = _ACTIVATIONS[activation]
        self.optimizer = _optimizer(optimizer)
        entries = [_registry.info(name) for name, _, _ in self.losses]
        self.encodings = [_catalog.encoding(e, self.task) for e in entries]
        self.outputs = self.encodings[0].outputs(self.classes)
        self.sizes = (len(self.features), *self.hidden, self.outputs)
        self.metric = _catalog.metric(self.metric_name, self.task, self.classes)
        self.advance = jax.jit(self._advance)
        self.views = jax.jit(self._views)

    # -- the network -------------------------------------------------------------------------------

    def init(self, seed: int) -> dict:
        key = jax.random.key(seed)
        ws, bs = [], []
        for i, (fan_in, fan_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:])):
            k = jax.random.fold_in(key, i)
            ws.append(jax.random.normal(k, (fan_in, fan_out), jnp.float32) * np.sqrt(1.0 / fan_in))
            bs.append(jnp.full((fan_out,), 0.1 if i < len(self.sizes) - 2 else 0.0, jnp.float32))
        return {"w": ws, "b": bs}

    def layers(self, params: dict, points: jax.Array) -> list[jax.Array]:
        """The inputs (features), every hidden layer's activations and the outputs."""
        h = _data.features(points, self.features)
        out = [h]
        last = len(params["w"]) - 1
        for i, (w, b) in enumerate(zip(params["w"], params["b"])):
            h = h @ w + b[None, :]
            if i < last:
                h = self.activation(h)
            out.append(h)
        return out

    def network(self, params: dict, points: jax.Array) -> jax.Array:
        return self.layers(params, points)[-1]

    # -- the loss ----------------------------------------------------------------------------------

    def _adapt(self, out: jax.Array, wanted: int) -> jax.Array:
        """The network's outputs as a term wants them: on two classes a score s and the logits [0, s] agree."""
        have = out.shape[-1]
        if have == wanted:
            return out
        if have == 1 and wanted == 2:
            return jnp.concatenate([jnp.zeros_like(out), out], axis=-1)
        return out[..., 1:2] - out[..., 0:1]  # two logits -> one score

    def composite(self, dyn: dict) -> Composite:
        def select(enc: _catalog.Encoding) -> Any:
            wanted = enc.outputs(self.classes)
            return lambda out, y: (enc.predictions(self._adapt(out, wanted)), enc.targets(y, self.classes))

        terms = []
        for (name, static, label), enc, opts in zip(self.losses, self.encodings, dyn["options"]):
            terms.append(term(name, name=label, select=select(enc), **dict(static), **opts))
        if len(terms) == 1:
            return terms[0]
        return (1.0 - dyn["weight"]) * terms[0] + dyn["weight"] * terms[1]

    def _penalty(self, params: dict, rate: jax.Array) -> jax.Array:
        if self.regularization == "none":
            return jnp.zeros((), jnp.float32)
        make = l1 if self.regularization == "l1" else l2
        return make(rate, mask={"w": True, "b": False})(params)

    # -- training ----------------------------------------------------------------------------------

    def _advance(self, params: dict, opt_state: Any, step: jax.Array, count: jax.Array, seed: jax.Array,
                 dyn: dict, x: jax.Array, y: jax.Array) -> tuple:
        """``count`` optimizer steps (a dynamic number: one compiled loop whatever the page asks)."""
        composite = self.composite(dyn)
        opt_state = opt_state._replace(hyperparams={**opt_state.hyperparams, "learning_rate": dyn["learning_rate"]})
        batch = min(self.batch_size, self.n_train)
        base = jax.random.key(seed)

        def objective(p: dict, xb: jax.Array, yb: jax.Array) -> jax.Array:
            return composite(self.network(p, xb), yb) + self._penalty(p, dyn["regularization_rate"])

        def one(i: jax.Array, carry: tuple) -> tuple:
            params, opt_state, step, ok = carry
            idx = jax.random.choice(jax.random.fold_in(base, step), self.n_train, (batch,), replace=False)
            new = optimizer_step(self.optimizer, lambda p: objective(p, x[idx], y[idx]), params, opt_state)
            good = ok & new.finite  # the guard of fit's step: a bad step and every later one change nothing
            return (keep(good, new.params, params), keep(good, new.opt_state, opt_state),
                    step + good.astype(step.dtype), good)

        return jax.lax.fori_loop(0, count, one, (params, opt_state, step, jnp.bool_(True)))

    def _evaluate(self, composite: Composite, params: dict, x: jax.Array, y: jax.Array) -> dict:
        out = self.network(params, x)
        total, parts = composite.with_terms(out, y)
        view = self.encodings[0].view(out)
        metric = self.metric.compute(self.metric.update(self.metric.init(), view, y))
        return {"loss": total, "terms": parts, "metric": metric}

    def _views(self, params: dict, dyn: dict, x: jax.Array, y: jax.Array, xt: jax.Array, yt: jax.Array,
               grid: jax.Array, thumbs: jax.Array) -> dict:
        composite = self.composite(dyn)
        train, test = self._evaluate(composite, params, x, y), self._evaluate(composite, params, xt, yt)
        out = self.network(params, x)
        # How hard each point pulls: the gradient of the summed loss (n * mean) w.r.t. its outputs.
        pull = jax.grad(lambda o: composite(o, y) * x.shape[0])(out)
        layers = self.layers(params, thumbs)
        return {"train": train, "test": test,
                "pull": jnp.sqrt(jnp.sum(jnp.square(pull), axis=-1)),
                "grid": self.encodings[0].view(self.network(params, grid)),
                "neurons": [jnp.moveaxis(h, -1, 0) for h in layers[:-1]],
                "weights": params["w"]}  # fetched with the rest: one transfer a frame


@functools.lru_cache(maxsize=_CACHE_SIZE)
def program(key: tuple) -> Program:
    """The compiled program of one structure (cached)."""
    return Program(key)


def structure(s: TrainState, n_train: int) -> tuple[tuple, dict]:
    """The state's compiled-structure key and its traced values."""
    names = [(s.loss, s.options)] + ([(s.loss2, s.options2)] if s.loss2 else [])
    losses, traced = [], []
    for i, (name, options) in enumerate(names):
        fixed, dyn = _catalog.split_options(name, options)
        label = name if i == 0 or name != s.loss else f"{name} (2)"
        losses.append((name, fixed, label))
        traced.append(dyn)
    key = (s.task, s.data.classes, tuple(s.features), tuple(s.hidden), s.activation, s.optimizer,
           tuple(losses), s.regularization, s.batch_size, n_train, s.metric,
           tuple(tuple(sorted(d)) for d in traced))  # which optional hyperparameters are set is structure
    dyn = {"options": traced, "weight": jnp.float32(s.weight), "learning_rate": jnp.float32(s.learning_rate),
           "regularization_rate": jnp.float32(s.regularization_rate)}
    return key, dyn


class Session:
    """One page's run: its state, parameters and optimizer state, and whether it is playing.

    Thread-safe: the page's requests (update, control) and its event stream run on different server
    threads; ``changed`` wakes the stream.
    """

    def __init__(self, state: TrainState) -> None:
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.version = 0
        self.run = 0
        self.playing = False
        self.pending_steps = 0
        self.problem = ""
        self.stream_token = 0
        self._reset(state)

    # -- changes (called with the lock held by the server's handlers through the methods below) ------

    def _reset(self, state: TrainState) -> None:
        self.state = state
        self.split = _data.make(state.data, points=state.points, noise=state.noise / 100,
                                train_fraction=state.train_percent / 100, seed=state.seed)
        self.arrays = tuple(jnp.asarray(a) for a in (self.split.train_x, self.split.train_y,
                                                      self.split.test_x, self.split.test_y))
        self._compile_key()
        self.params = self.program.init(state.seed)
        self.opt_state = self.program.optimizer.init(self.params)
        self.step = jnp.int32(0)
        self.run += 1
        self.send_data = True
        self.problem = ""

    def _compile_key(self) -> None:
        key, self.dyn = structure(self.state, len(self.split.train_x))
        self.program = program(key)

    def update(self, state: TrainState) -> bool:
        """Applies a new state; returns whether the run was reset."""
        with self.changed:
            reset = state.differs_structurally(self.state)
            if reset:
                self._reset(state)
            else:
                self.state = state
                self._compile_key()  # the metric or a static hyperparameter may pick another program
            self.version += 1
            self.changed.notify_all()
            return reset

    def control(self, action: str) -> dict:
        with self.changed:
            if action == "play":
                self.playing, self.problem = True, ""
            elif action == "pause":
                self.playing = False
            elif action == "step":
                self.playing = False
                self.pending_steps += 1
            elif action == "reset":
                self.playing = False
                self._reset(self.state)
            else:
                raise ValueError(f"control: action must be play, pause, step or reset; got {action!r}.")
            self.version += 1
            self.changed.notify_all()
            return {"playing": self.playing, "step": int(self.step)}

    # -- training and frames ---------------------------------------------------------------------------
    # The stream takes a snapshot under the lock, computes without it (a first call compiles, which takes
    # seconds: the page's other requests must not wait for it), then commits under the lock unless the
    # run was reset meanwhile.

    def take(self, count: int) -> Work:
        """What the next frame is computed from (call with the lock held)."""
        work = Work(self.run, self.state, self.program, self.dyn, self.arrays, self.split, self.params,
                    self.opt_state, self.step, count, self.send_data)
        self.send_data = False
        return work

    def commit(self, work: Work, done: Done) -> dict | None:
        """Keeps a computed frame's training (call with the lock held); None if the run was reset meanwhile."""
        if work.run != self.run:
            self.send_data = True  # the new run's first frame carries its data
            return None
        self.params, self.opt_state, self.step = done.params, done.opt_state, done.step
        if not done.ok:
            self.playing = False
            self.problem = (f"training stopped at step {int(done.step)}: the loss or the weights stopped being "
                            f"finite (learning rate {work.state.learning_rate:g}). Lower the learning rate or reset.")
        return dict(done.frame, playing=self.playing)

    def advance(self, count: int) -> None:
        """``count`` training steps, now (for scripts and tests; the page's stream uses take/compute/commit)."""
        with self.changed:
            work = self.take(count)
        done = compute(work, frame=False)
        with self.changed:
            self.commit(work, done)

    def frame(self) -> dict:
        """What the page draws now (see the playground's API)."""
        while True:
            with self.changed:
                work = self.take(0)
            done = compute(work)
            with self.changed:
                frame = self.commit(work, done)
            if frame is not None:
                return frame


@dataclasses.dataclass(frozen=True)
class Work:
    """A snapshot of a session: what one frame is computed from."""

    run: int
    state: TrainState
    program: Program
    dyn: dict
    arrays: tuple
    split: _data.Split
    params: Any
    opt_state: Any
    step: Any
    count: int
    send_data: bool


@dataclasses.dataclass(frozen=True)
class Done:
    """What one frame computed: the new training state and the frame (without ``playing``)."""

    params: Any
    opt_state: Any
    step: Any
    ok: bool
    frame: dict


def compute(work: Work, *, frame: bool = True) -> Done:
    """Runs ``work.count`` steps and computes the frame (no lock held: pure functions of the snapshot)."""
    x, y, xt, yt = work.arrays
    params, opt_state, step, ok = work.params, work.opt_state, work.step, True
    if work.count:
        params, opt_state, step, ok = work.program.advance(params, opt_state, step, jnp.int32(work.count),
                                                           jnp.uint32(work.state.seed), work.dyn, x, y)
        ok = bool(ok)
    if not frame:
        return Done(params, opt_state, step, ok, {})
    v = jax.device_get(work.program.views(params, work.dyn, x, y, xt, yt, _grid(GRID), _grid(NEURON_GRID)))
    s, split = work.state, work.split
    n = len(split.train_x)
    out: dict[str, Any] = {
        "run": work.run, "step": int(step), "epoch": int(step) * min(s.batch_size, n) / n,
        "task": str(s.task), "classes": s.data.classes,
        "train_loss": _finite(v["train"]["loss"]), "test_loss": _finite(v["test"]["loss"]),
        "metric": {"name": s.metric, "train": _finite(v["train"]["metric"]), "test": _finite(v["test"]["metric"])},
        "terms": None,
        "grid": {"size": GRID, "extent": _data.EXTENT, "encoding": _catalog.VIEW[s.task],
                 "values": b64(np.moveaxis(v["grid"], -1, 0) if v["grid"].ndim == 2 else v["grid"])},
        "pull": b64(v["pull"]),
        "neurons": {"size": NEURON_GRID, "inputs": [b64(a) for a in v["neurons"][0]],
                    "layers": [[b64(a) for a in layer] for layer in v["neurons"][1:]]},
        "weights": [b64(w) for w in v["weights"]],
        "data": None,
    }
    if s.loss2:
        weights = {work.program.losses[0][2]: 1.0 - s.weight, work.program.losses[1][2]: s.weight}
        out["terms"] = {name: {"train": _finite(v["train"]["terms"][name]), "test": _finite(v["test"]["terms"][name]),
                               "weight": w} for name, w in weights.items()}
    if work.send_data:
        labels = {"binary": "binary", "multiclass": "class", "regression": "value"}[str(s.task)]
        out["data"] = {"train_x": b64(split.train_x), "train_y": b64(split.train_y), "test_x": b64(split.test_x),
                       "test_y": b64(split.test_y), "labels": labels}
    return Done(params, opt_state, step, ok, out)


def _finite(x: Any) -> float | None:
    value = float(x)
    return value if np.isfinite(value) else None


@functools.cache
def _grid(size: int) -> jax.Array:
    return jnp.asarray(_data.grid(size))


class Sessions:
    """The server's sessions by id; the oldest are dropped beyond ``limit``."""

    def __init__(self, limit: int = 16) -> None:
        self.limit = limit
        self.lock = threading.Lock()
        self.items: collections.OrderedDict[str, Session] = collections.OrderedDict()

    def add(self, key: str, session: Session) -> None:
        with self.lock:
            self.items[key] = session
            while len(self.items) > self.limit:
                self.items.popitem(last=False)

    def get(self, key: Any) -> Session:
        with self.lock:
            if not isinstance(key, str) or key not in self.items:
                raise ValueError("no such session (the server restarted, or the page is old): reload the page.")
            self.items.move_to_end(key)
            return self.items[key]
