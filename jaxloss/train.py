"""The training loop: ``fit`` runs optax on a loss, one compiled program per epoch.

>>> import jax, jax.numpy as jnp, optax, jaxloss as jl
>>> x = jax.random.normal(jax.random.key(0), (256, 3))
>>> y = x @ jnp.array([1.0, -2.0, 0.5]) + 0.3
>>> model = lambda params, inputs: inputs @ params["w"] + params["b"]
>>> params = {"w": jnp.zeros(3), "b": jnp.zeros(())}
>>> result = jl.fit(model, params, jl.mse, (x, y), epochs=30, batch_size=32, progress=False)
>>> result.status, bool(result.history["loss"][-1] < 0.1 * result.history["loss"][0])
('completed', True)

How an epoch runs
-----------------
Each epoch runs in **one** ``jax.jit``-compiled program: the training examples are shuffled on the
device with ``jax.random.permutation`` (the key is derived from ``(seed, epoch)``, so a resumed run
draws the same batches), the full batches run under ``lax.scan``, and validation runs in the same
program. The program also runs *several* epochs in a ``lax.while_loop`` (up to 64 per call), keeping
the best epoch of the monitored quantity, its parameters and the early-stopping count on the device,
so that the host reads the per-epoch values once per chunk of epochs. Epochs run one per call when
``callbacks`` or ``checkpoint_dir`` need the host after each one; with a progress display the chunks
grow from one epoch; otherwise one call runs up to 64 epochs, and the next chunk is dispatched before
the previous one is read. The results are the same in every case.

The program is compiled once per (model, loss, optimizer, metrics, batch size) and per data shape; a
second ``fit`` with the same objects and shapes compiles nothing new, whatever ``epochs``, ``seed``,
``monitor`` or ``early_stopping``. Optimizers are compared by identity: build ``optax.adam(1e-3)`` once
and reuse it (the default optimizer is one shared object).

The partial last batch: when ``batch_size`` does not divide the number of examples, the ``n %
batch_size`` examples left over after the full batches form one more, smaller optimizer step at the
end of the epoch (in the same compiled program). No example is dropped, whatever the loss (set-level
losses such as ``pairwise_auc`` included); pass ``drop_remainder=True`` to skip that step as
``drop_last=True`` does in PyTorch. The epoch's training loss is the mean of the batch losses weighted
by the batch sizes.

What a loss can be
------------------
* a registered loss or any ``loss(predictions, targets) -> scalar``, called as
  ``loss(model(params, inputs), targets)``; bind options with ``functools.partial``;
* a composite from :mod:`jaxloss.compose` (same signature as a loss);
* an objective ``objective(params, batch) -> scalar`` with ``batch = (inputs, targets)``, recognised by
  :func:`is_objective` (``jaxloss.compose.objective`` makes them). Metrics still use
  ``model(params, inputs)``.

A loss or objective with a ``with_terms`` method (compose's composites and objectives) has each
term recorded too, as ``history["loss/<term>"]`` and ``history["val_loss/<term>"]``.

Nothing is lost
---------------
* A non-finite loss or gradient stops the run: the guard inside the scan skips every update after the
  first bad step, so ``result.params`` are the last finite parameters; ``result.message`` names the
  epoch and step.
* Ctrl-C (``KeyboardInterrupt``) returns the epochs trained so far.
* ``checkpoint_dir=`` saves parameters, optimizer state and history after each epoch with NumPy
  ``.npz`` and JSON (no pickle); ``resume_from=`` continues to the same result as an uninterrupted run.

Data parallel
-------------
With more than one local device (and a batch size divisible by their number) the batch axis is
sharded over a one-axis ``jax.sharding.Mesh`` and the parameters and optimizer state replicated; XLA
inserts the gradient all-reduce. Across hosts, call ``jax.distributed.initialize()`` first on every
process; ``fit`` then uses its process's local devices (see the README).
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import json
import math
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxloss import metrics as _metrics

__all__ = ["fit", "FitResult", "History", "EarlyStopping", "StopTraining", "is_objective", "DEFAULT_OPTIMIZER"]

#: The optimizer ``fit`` uses when given none (one object, so its compiled programs are reused).
DEFAULT_OPTIMIZER = optax.adam(1e-2)

# Counts traces of the epoch program (each trace is one compilation); read by the tests.
_TRACE_COUNT = collections.Counter()


class StopTraining(Exception):
    """Raise from a callback to stop ``fit`` after the current epoch."""


def is_objective(loss: Any) -> bool:
    """Whether ``loss`` is an objective ``f(params, batch)`` rather than ``f(predictions, targets)``.

    True for ``jaxloss.compose.Objective`` instances (what ``jaxloss.objective`` returns) and for any
    callable with an attribute ``is_objective = True``.
    """
    if getattr(loss, "is_objective", False) is True:
        return True
    try:
        from jaxloss.compose import Objective
    except ImportError:  # pragma: no cover - compose is part of the package
        return False
    return isinstance(loss, Objective)


@dataclasses.dataclass(frozen=True)
class EarlyStopping:
    """Early stopping: stop when ``monitor`` has not improved for ``patience`` epochs.

    Attributes:
      monitor: a History key (``"val_loss"``, ``"val_auc"``, ``"loss"``...); None means fit's ``monitor``.
      mode: ``"min"``, ``"max"`` or ``"auto"`` (max for metrics whose ``greater_is_better``, min otherwise).
      patience: epochs without improvement before stopping.
      min_delta: the smallest change that counts as an improvement.
      restore_best: return the best epoch's parameters as ``result.params`` (``result.last_params``
        keeps the last ones).
    """

    monitor: str | None = None
    mode: str = "auto"
    patience: int = 5
    min_delta: float = 0.0
    restore_best: bool = True

    def __post_init__(self) -> None:
        if self.mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping: mode={self.mode!r}; choose 'auto', 'min' or 'max'.")
        if int(self.patience) < 0:
            raise ValueError(f"EarlyStopping: patience={self.patience} must be >= 0.")
        if self.min_delta < 0:
            raise ValueError(f"EarlyStopping: min_delta={self.min_delta} must be >= 0.")


# -- History ----------------------------------------------------------------------------------------


class History(Mapping):
    """Per-epoch values under Keras-style names: ``history["loss"]``, ``history["val_auc"]``...

    A read-only mapping from name to a NumPy array with one value per epoch (``history["epoch"]``
    holds the epoch numbers, from 1). ``best_epoch`` and ``stopped_epoch`` (1-based, or None) mark
    the monitored quantity's best epoch and where early stopping fired.
    """

    def __init__(self, values: Mapping[str, Sequence[float]] | None = None, *, monitor: str | None = None,
                 mode: str = "min", best_epoch: int | None = None, stopped_epoch: int | None = None) -> None:
        self._values: dict[str, list[float]] = {k: [float(v) for v in vs] for k, vs in (values or {}).items()}
        self.monitor = monitor
        self.mode = mode
        self.best_epoch = best_epoch
        self.stopped_epoch = stopped_epoch

    def __getitem__(self, key: str) -> np.ndarray:
        try:
            return np.asarray(self._values[key], dtype=np.float64)
        except KeyError:
            raise KeyError(f"History has no {key!r}; it has {sorted(self._values)}") from None

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    @property
    def epochs(self) -> int:
        return len(self._values.get("epoch", []))

    def append(self, logs: Mapping[str, float]) -> None:
        for key, value in logs.items():
            self._values.setdefault(key, []).append(float(value))

    def extend(self, columns: Mapping[str, Sequence[float]]) -> None:
        """Appends several epochs at once: ``columns`` maps a name to its values, one per epoch."""
        for key, values in columns.items():
            self._values.setdefault(key, []).extend(float(v) for v in values)

    def copy(self) -> History:
        return History(self._values, monitor=self.monitor, mode=self.mode, best_epoch=self.best_epoch,
                       stopped_epoch=self.stopped_epoch)

    def __repr__(self) -> str:
        last = {k: round(v[-1], 4) for k, v in self._values.items() if v and k != "epoch"}
        return f"History(epochs={self.epochs}, last={last}, best_epoch={self.best_epoch})"

    # -- serialisation (plain text, no pickle) --

    def _meta(self) -> dict[str, Any]:
        return {"monitor": self.monitor, "mode": self.mode, "best_epoch": self.best_epoch,
                "stopped_epoch": self.stopped_epoch}

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        """The history as JSON text (written to ``path`` too, if given). NaN is written as null."""
        values = {k: [None if not math.isfinite(v) else v for v in vs] for k, vs in self._values.items()}
        text = json.dumps({"history": values, **self._meta()}, indent=1)
        if path is not None:
            with open(path, "w") as f:
                f.write(text)
        return text

    @classmethod
    def from_json(cls, text_or_path: str | os.PathLike[str]) -> History:
        """Reads :meth:`to_json`'s output, given as text or as a path."""
        text = os.fspath(text_or_path)
        if not text.lstrip().startswith("{"):
            with open(text) as f:
                text = f.read()
        data = json.loads(text)
        values = {k: [math.nan if v is None else v for v in vs] for k, vs in data["history"].items()}
        return cls(values, monitor=data.get("monitor"), mode=data.get("mode", "min"),
                   best_epoch=data.get("best_epoch"), stopped_epoch=data.get("stopped_epoch"))

    def to_csv(self, path: str | os.PathLike[str] | None = None) -> str:
        """One row per epoch, one column per name (``epoch`` first); written to ``path`` if given."""
        keys = ["epoch"] + [k for k in self._values if k != "epoch"] if "epoch" in self._values else list(self._values)
        lines = [",".join(keys)]
        for i in range(max((len(v) for v in self._values.values()), default=0)):
            lines.append(",".join(_csv_number(k, self._values[k][i]) if i < len(self._values[k]) else "" for k in keys))
        text = "\n".join(lines) + "\n"
        if path is not None:
            with open(path, "w") as f:
                f.write(text)
        return text

    @classmethod
    def from_csv(cls, text_or_path: str | os.PathLike[str]) -> History:
        """Reads :meth:`to_csv`'s output (text or path). Markers (best epoch) are not stored in CSV."""
        text = os.fspath(text_or_path)
        if "\n" not in text:
            with open(text) as f:
                text = f.read()
        rows = [line.split(",") for line in text.strip().splitlines()]
        keys, body = rows[0], rows[1:]
        values = {k: [float(r[j]) for r in body if j < len(r) and r[j] != ""] for j, k in enumerate(keys)}
        return cls(values)

    def plot(self, *, keys: Sequence[str] | None = None, title: str | None = None) -> Any:
        """Train and validation curves, one panel per quantity; best epoch and early stop marked.

        Returns a matplotlib ``Figure`` (never shown).
        """
        from jaxloss import plot as _plot

        names = list(keys) if keys is not None else [k for k in self._values if k != "epoch" and not k.startswith("val_")]
        for k in self._values:  # validation-only quantities get a panel too
            if k.startswith("val_") and k[4:] not in names and keys is None:
                names.append(k[4:])
        epochs = self["epoch"] if "epoch" in self._values else np.arange(1, self.epochs + 1)
        fig, axes = _plot.new_figure(1, max(1, len(names)), width=4.6 * max(1, len(names)))
        for ax, name in zip(axes[0], names):
            if name in self._values:
                ax.plot(epochs, self[name], color=_plot.COLORS["train"], label="train")
            if "val_" + name in self._values:
                ax.plot(epochs, self["val_" + name], color=_plot.COLORS["validation"], label="validation")
            if self.best_epoch is not None and self.monitor in (name, "val_" + name):
                best = self[self.monitor][self.best_epoch - 1]
                ax.axvline(self.best_epoch, color=_plot.COLORS["best"], linestyle="--", linewidth=1.2,
                           label=f"best epoch {self.best_epoch}")
                ax.plot([self.best_epoch], [best], "o", color=_plot.COLORS["best"])
            if self.stopped_epoch is not None:
                ax.axvline(self.stopped_epoch, color=_plot.COLORS["stop"], linestyle=":", linewidth=1.2,
                           label=f"early stop {self.stopped_epoch}")
            _plot.style_axes(ax, title=name, xlabel="epoch", ylabel=name, legend=True)
        if title:
            fig.suptitle(title)
        return fig


def _csv_number(key: str, value: float) -> str:
    return str(int(value)) if key == "epoch" and value == int(value) else repr(value)


# -- result -----------------------------------------------------------------------------------------


@dataclasses.dataclass
class FitResult:
    """What ``fit`` returns.

    Attributes:
      params: the final parameters (the best epoch's when early stopping restored them).
      best_params: the parameters at the best epoch of the monitored quantity.
      last_params: the parameters after the last epoch that ran (the last finite ones).
      opt_state: the optimizer state that goes with ``last_params``.
      history: the :class:`History`.
      status: ``"completed"``, ``"early_stopped"``, ``"stopped_by_callback"``, ``"non_finite"`` or
        ``"interrupted"``.
      message: the status in words (for ``"non_finite"``, the epoch and the step).
      epochs: the number of epochs run.
      compile_seconds: time spent tracing and compiling the training program (0 when it was cached).
    """

    params: Any
    best_params: Any
    last_params: Any
    opt_state: Any
    history: History
    status: str
    message: str
    epochs: int
    compile_seconds: float = 0.0

    def __repr__(self) -> str:
        return f"FitResult(status={self.status!r}, epochs={self.epochs}, message={self.message!r})"

    @property
    def ok(self) -> bool:
        return self.status in ("completed", "early_stopped", "stopped_by_callback")


# -- the compiled epoch -----------------------------------------------------------------------------


def _leading(tree: Any) -> int:
    sizes = {int(np.shape(x)[0]) for x in jax.tree.leaves(tree)}
    if len(sizes) != 1:
        raise ValueError(f"fit: every array of the data must have the same number of examples (axis 0); got {sorted(sizes)}.")
    return sizes.pop()


def _split_data(data: Any, name: str) -> tuple[Any, Any]:
    if isinstance(data, Mapping) and "inputs" in data and "targets" in data:
        return data["inputs"], data["targets"]
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return data[0], data[1]
    raise TypeError(f"fit: {name} must be a pair (inputs, targets) of arrays (or pytrees) with examples on axis 0; "
                    f"got {type(data).__name__}.")


def _finite_tree(tree: Any) -> jax.Array:
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree) if jnp.issubdtype(jnp.result_type(x), jnp.inexact)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.bool_(True)


def _select(pred: jax.Array, a: Any, b: Any) -> Any:
    return jax.tree.map(lambda x, y: jnp.where(pred, x, y).astype(y.dtype) if hasattr(y, "dtype") else y, a, b)


def _take(tree: Any, idx: jax.Array) -> Any:
    # The indices come from a permutation or a range: in bounds, so no bounds handling in the gather.
    return jax.tree.map(lambda x: x.at[idx].get(mode="promise_in_bounds"), tree)


def _batches(tree: Any, perm: jax.Array, count: int, size: int) -> Any:
    return jax.tree.map(lambda x: x.at[perm[: count * size]].get(mode="promise_in_bounds")
                        .reshape((count, size) + x.shape[1:]), tree)


#: The most epochs one call of the compiled program runs (the length of its per-epoch log buffers).
_CHUNK = 64


def _monitorable(metric_list: tuple[_metrics.Metric, ...], has_val: bool) -> list[str]:
    """The History keys a monitor may name, in the order the program stacks them."""
    names = ["loss"] + [m.name for m in metric_list]
    return names + ["val_" + k for k in names] if has_val else names


def _log_order(names: Any, metric_list: tuple[_metrics.Metric, ...]) -> list[str]:
    """History's column order: loss, its terms, metrics, then the same for validation."""
    def group(prefix: str) -> list[str]:
        return [prefix + "loss"] + sorted(k for k in names if k.startswith(prefix + "loss/")) + \
            [prefix + m.name for m in metric_list]
    return [k for k in group("") + group("val_") if k in names]


def _build_program(model: Callable, loss: Callable, optimizer: optax.GradientTransformation,
                   metric_list: tuple[_metrics.Metric, ...], batch_size: int, val_batch_size: int,
                   drop_remainder: bool, mesh: Any) -> Callable:
    """The compiled program: up to ``_CHUNK`` epochs in one ``while_loop``, each a ``scan`` over batches.

    It also tracks the best epoch of the monitored quantity and early stopping on the device, so that
    several epochs run without the host; the loop ends early at a non-finite step or an early stop.
    """
    objective = is_objective(loss)
    need_predictions = bool(metric_list)

    def constrain(tree: Any) -> Any:
        if mesh is None:
            return tree
        spec = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("batch"))
        return jax.tree.map(lambda x: jax.lax.with_sharding_constraint(x, spec)
                            if x.shape[0] % mesh.size == 0 else x, tree)

    with_terms = getattr(loss, "with_terms", None)

    def batch_loss(params: Any, x: Any, y: Any) -> tuple[jax.Array, Any]:
        parts: dict = {}
        if objective:
            if with_terms is not None:
                value, parts = with_terms(params, (x, y))
            else:
                value = loss(params, (x, y))
            preds = model(params, x) if need_predictions else None
        else:
            preds = model(params, x)
            value, parts = with_terms(preds, y) if with_terms is not None else (loss(preds, y), {})
        value = jnp.asarray(value)
        if value.shape != ():
            raise ValueError(f"fit: the loss must return a scalar; got shape {value.shape}. Use reduction='mean'.")
        parts = {k: jnp.asarray(v).astype(jnp.float32) for k, v in dict(parts).items()}
        return value, (preds, parts)

    grad_fn = jax.value_and_grad(batch_loss, has_aux=True)

    def update_metrics(states: tuple, preds: Any, y: Any) -> tuple:
        return tuple(m.update(s, preds, y) for m, s in zip(metric_list, states))

    def update(grads: Any, opt_state: Any, params: Any) -> tuple[Any, Any]:
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    def train_step(carry: tuple, batch: tuple) -> tuple:
        params, opt_state, ok, bad_step, step, loss_sum, count, states, part_sums = carry
        x, y = constrain(batch)
        (value, (preds, parts)), grads = grad_fn(params, x, y)
        good = ok & jnp.isfinite(value) & _finite_tree(grads)
        bad_step = jnp.where(ok & ~good, step, bad_step)
        params, opt_state = jax.lax.cond(good, update, lambda g, s, p: (p, s), grads, opt_state, params)
        size = jax.tree.leaves((x, y))[0].shape[0]
        loss_sum = loss_sum + jnp.where(good, value.astype(jnp.float32) * size, 0.0)
        count = count + jnp.where(good, size, 0)
        part_sums = {k: part_sums[k] + jnp.where(good, parts[k] * size, 0.0) for k in part_sums}
        if need_predictions:
            states = _select(good, update_metrics(states, preds, y), states)
        return (params, opt_state, good, bad_step, step + 1, loss_sum, count, states, part_sums), None

    def evaluate(params: Any, vx: Any, vy: Any) -> tuple[jax.Array, tuple, dict]:
        n = _leading((vx, vy))
        size = min(val_batch_size, n)
        full, rest = divmod(n, size)

        def chunk(carry: tuple, batch: tuple) -> tuple:
            loss_sum, states, part_sums = carry
            x, y = constrain(batch)
            value, (preds, parts) = batch_loss(params, x, y)
            if need_predictions:
                states = update_metrics(states, preds, y)
            size = jax.tree.leaves((x, y))[0].shape[0]
            part_sums = {k: part_sums[k] + parts[k] * size for k in part_sums}
            return (loss_sum + value.astype(jnp.float32) * size, states, part_sums), None

        carry = (jnp.zeros((), jnp.float32), tuple(m.init() for m in metric_list), _part_zeros(params, vx, vy))
        order = jnp.arange(n)
        if full == 1:  # one chunk: no loop
            carry, _ = chunk(carry, (_take(vx, order[:size]), _take(vy, order[:size])))
        else:
            carry, _ = jax.lax.scan(chunk, carry, (_batches(vx, order, full, size), _batches(vy, order, full, size)))
        if rest:
            tail = order[full * size:]
            carry, _ = chunk(carry, (_take(vx, tail), _take(vy, tail)))
        loss_sum, states, part_sums = carry
        return loss_sum / n, tuple(m.compute(s) for m, s in zip(metric_list, states)), \
            {k: v / n for k, v in part_sums.items()}

    def _part_zeros(params: Any, x: Any, y: Any) -> dict:
        if with_terms is None:
            return {}
        one = jax.tree.map(lambda a: a[:1], (x, y))
        _, (_, parts) = jax.eval_shape(lambda p, a, b: batch_loss(p, a, b), params, *one)
        return {k: jnp.zeros((), jnp.float32) for k in parts}

    def epoch(params: Any, opt_state: Any, key: jax.Array, epoch_index: jax.Array, x: Any, y: Any,
              vx: Any, vy: Any) -> tuple:
        """One epoch: (params, opt_state, ok, bad_step, logs) with logs a dict of History keys."""
        n = _leading((x, y))
        full, rest = divmod(n, batch_size)
        perm = jax.random.permutation(jax.random.fold_in(key, epoch_index), n)
        carry = (params, opt_state, jnp.bool_(True), jnp.int32(-1), jnp.int32(0), jnp.zeros((), jnp.float32),
                 jnp.int32(0), tuple(m.init() for m in metric_list), _part_zeros(params, x, y))
        if full == 1:  # one batch: no loop to compile
            carry, _ = train_step(carry, (_take(x, perm[:batch_size]), _take(y, perm[:batch_size])))
        elif full:
            carry, _ = jax.lax.scan(train_step, carry, (_batches(x, perm, full, batch_size),
                                                        _batches(y, perm, full, batch_size)))
        if rest and not drop_remainder:
            tail = perm[full * batch_size:]
            carry, _ = train_step(carry, (_take(x, tail), _take(y, tail)))
        params, opt_state, ok, bad_step, _, loss_sum, count, states, part_sums = carry
        denominator = jnp.maximum(count, 1).astype(jnp.float32)
        logs = {"loss": loss_sum / denominator}
        logs.update({"loss/" + k: v / denominator for k, v in part_sums.items()})
        logs.update({m.name: m.compute(s) for m, s in zip(metric_list, states)})
        if vy is not None:
            val_loss, val_metrics, val_parts = evaluate(params, vx, vy)
            logs["val_loss"] = val_loss
            logs.update({"val_loss/" + k: v for k, v in val_parts.items()})
            logs.update({"val_" + m.name: v for m, v in zip(metric_list, val_metrics)})
        return params, opt_state, ok, bad_step, logs

    def run(state: dict, seed: Any, first_epoch: Any, count: Any, controls: tuple, x: Any, y: Any,
            vx: Any = None, vy: Any = None) -> tuple[dict, dict, jax.Array]:
        """Epochs ``first_epoch .. first_epoch + count - 1`` (1-based) while the state is ok and not stopped.

        ``controls = (monitor_index, sign, min_delta, patience)``, ``patience < 0`` meaning no early
        stopping. Returns the new state, per-epoch log buffers of length ``_CHUNK`` and the number of
        epochs recorded (a non-finite epoch is not recorded).
        """
        _TRACE_COUNT["epoch"] += 1
        monitor_index, sign, min_delta, patience = controls
        first_epoch, count = jnp.asarray(first_epoch, jnp.int32), jnp.asarray(count, jnp.int32)
        key = jax.random.key(seed)
        float_dtype = jax.dtypes.canonicalize_dtype(np.float64)  # History's values are Python floats
        names = ["loss"] + ["loss/" + k for k in _part_zeros(state["params"], x, y)] + [m.name for m in metric_list]
        if vy is not None:
            names += ["val_loss"] + ["val_loss/" + k for k in _part_zeros(state["params"], vx, vy)]
            names += ["val_" + m.name for m in metric_list]
        monitored = _monitorable(metric_list, vy is not None)
        buffers = {k: jnp.full((_CHUNK,), jnp.nan, float_dtype) for k in names}

        def cond(carry: tuple) -> jax.Array:
            i, _, state, _ = carry
            return (i < count) & state["ok"] & ~state["stopped"]

        def body(carry: tuple) -> tuple:
            i, done, state, buffers = carry
            index = first_epoch + i
            params, opt_state, ok, bad_step, logs = epoch(state["params"], state["opt_state"], key, index,
                                                          x, y, vx, vy)
            best = state["best_value"]
            value = jnp.stack([jnp.asarray(logs[k], float_dtype) for k in monitored])[monitor_index].astype(best.dtype)
            improved = ok & (jnp.isnan(best) | (sign * (value - best) < -min_delta))
            wait = jnp.where(improved, 0, state["wait"] + 1)
            new = {
                "params": params, "opt_state": opt_state,
                "best_params": _select(improved, params, state["best_params"]),
                "best_value": jnp.where(improved, value, best),
                "best_epoch": jnp.where(improved, index, state["best_epoch"]),
                "wait": wait, "ok": ok, "stopped": ok & (patience >= 0) & (wait > patience),
                "bad_epoch": jnp.where(ok, state["bad_epoch"], index),
                "bad_step": jnp.where(ok, state["bad_step"], bad_step),
            }
            new = {k: jnp.asarray(v).astype(jnp.result_type(state[k])) if k in ("best_value", "best_epoch", "wait",
                   "bad_epoch", "bad_step") else v for k, v in new.items()}
            buffers = {k: b.at[i].set(jnp.asarray(logs[k], float_dtype)) for k, b in buffers.items()}
            return i + 1, done + ok.astype(jnp.int32), new, buffers

        _, done, state, buffers = jax.lax.while_loop(cond, body, (jnp.int32(0), jnp.int32(0), state, buffers))
        return state, buffers, done

    return jax.jit(run)


_PROGRAM_CACHE: collections.OrderedDict = collections.OrderedDict()
_CACHE_LIMIT = 64


def _cached(build: Callable, *key: Any) -> Callable:
    try:
        fn = _PROGRAM_CACHE[(build, key)]
        _PROGRAM_CACHE.move_to_end((build, key))
        return fn
    except KeyError:
        pass
    except TypeError:  # an unhashable model or loss: no caching across calls
        return build(*key)
    fn = _PROGRAM_CACHE[(build, key)] = build(*key)
    while len(_PROGRAM_CACHE) > _CACHE_LIMIT:
        _PROGRAM_CACHE.popitem(last=False)
    return fn


def _program(*key: Any) -> Callable:
    return _cached(_build_program, *key)



# -- helpers: metrics, monitor, progress, checkpoints -----------------------------------------------


def _metric_objects(metrics: Sequence[Any], loss: Callable) -> tuple[_metrics.Metric, ...]:
    from_logits = _loss_takes_logits(loss)
    out = []
    for m in metrics:
        if isinstance(m, _metrics.Metric):
            out.append(m)
        elif isinstance(m, str):
            out.append(_metrics.get(m, from_logits=from_logits))
        else:
            raise TypeError(f"fit: metrics must be names or jaxloss.metrics.Metric objects; got {m!r}.")
    names = [m.name for m in out]
    if len(set(names)) != len(names):
        raise ValueError(f"fit: two metrics share a name: {names}.")
    return tuple(out)


def _loss_takes_logits(loss: Callable) -> bool:
    """Whether the predictions are logits: a registered classification loss without from_logits=False."""
    fn, keywords = loss, {}
    while isinstance(fn, functools.partial):
        keywords = {**fn.keywords, **keywords}
        fn = fn.func
    entry = getattr(fn, "info", None)
    if entry is None or entry.task in ("regression", "quantile", "count", "probabilistic"):
        return False
    return keywords.get("from_logits", True) is not False


def _mode_for(monitor: str, metric_list: tuple[_metrics.Metric, ...], mode: str) -> str:
    if mode != "auto":
        return mode
    name = monitor[4:] if monitor.startswith("val_") else monitor
    for m in metric_list:
        if m.name == name:
            return "max" if m.greater_is_better else "min"
    return "min"


class _Progress:
    """A one-line progress display on stderr: in place on a terminal, a line every N epochs otherwise."""

    def __init__(self, epochs: int, enabled: bool, delay: float = 1.0) -> None:
        self.epochs, self.enabled, self.delay = epochs, enabled, delay
        self.start = time.perf_counter()
        self.tty = enabled and sys.stderr.isatty()
        self.every = max(1, epochs // 10)
        self.last_draw = 0.0
        self.drawn = False
        self.last_epoch = -1

    def update(self, epoch: int, logs: Mapping[str, float], final: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self.start < self.delay and not (final and self.drawn):
            return  # short runs stay silent
        text = " ".join(f"{k} {v:.4g}" for k, v in logs.items() if k != "epoch")
        if self.tty:
            if not final and now - self.last_draw < 0.1:
                return
            width = 24
            done = int(width * epoch / max(self.epochs, 1))
            bar = "#" * done + "." * (width - done)
            sys.stderr.write(f"\repoch {epoch}/{self.epochs} [{bar}] {text} ({now - self.start:.1f}s)\033[K")
            if final:
                sys.stderr.write("\n")
        elif (final and epoch != self.last_epoch) or (not final and epoch % self.every == 0):
            sys.stderr.write(f"epoch {epoch}/{self.epochs} {text} ({now - self.start:.1f}s)\n")
        sys.stderr.flush()
        self.last_draw, self.drawn, self.last_epoch = now, True, epoch


def _save_tree(path: str, tree: Any) -> None:
    leaves = [np.asarray(x) for x in jax.tree.leaves(tree)]
    tmp = path + ".tmp.npz"
    np.savez(tmp, **{f"leaf_{i:05d}": x for i, x in enumerate(leaves)})
    os.replace(tmp, path)


def _load_tree(path: str, like: Any, what: str) -> Any:
    with np.load(path, allow_pickle=False) as data:
        leaves = [data[f"leaf_{i:05d}"] for i in range(len(data.files))]
    template, treedef = jax.tree.flatten(like)
    if len(leaves) != len(template):
        raise ValueError(f"fit: the checkpoint's {what} has {len(leaves)} arrays; the run has {len(template)}.")
    for i, (a, b) in enumerate(zip(leaves, template)):
        if a.shape != np.shape(b):
            raise ValueError(f"fit: the checkpoint's {what} array {i} has shape {a.shape}; expected {np.shape(b)}.")
    return jax.tree.unflatten(treedef, [jnp.asarray(a, dtype=jnp.result_type(b)) for a, b in zip(leaves, template)])


def _save_checkpoint(directory: str, state: dict) -> None:
    os.makedirs(directory, exist_ok=True)
    _save_tree(os.path.join(directory, "params.npz"), state["params"])
    _save_tree(os.path.join(directory, "opt_state.npz"), state["opt_state"])
    _save_tree(os.path.join(directory, "best_params.npz"), state["best_params"])
    state["history"].to_json(os.path.join(directory, "history.json.tmp"))
    os.replace(os.path.join(directory, "history.json.tmp"), os.path.join(directory, "history.json"))
    meta = {k: state[k] for k in ("epoch", "seed", "best_value", "wait")}
    meta["best_value"] = None if not math.isfinite(meta["best_value"]) else meta["best_value"]
    with open(os.path.join(directory, "state.json.tmp"), "w") as f:
        json.dump(meta, f)
    os.replace(os.path.join(directory, "state.json.tmp"), os.path.join(directory, "state.json"))


def load_checkpoint(directory: str | os.PathLike[str], params_like: Any, opt_state_like: Any) -> dict:
    """Reads a checkpoint written by ``fit(checkpoint_dir=...)`` (the templates give the tree structure)."""
    directory = os.fspath(directory)
    with open(os.path.join(directory, "state.json")) as f:
        meta = json.load(f)
    meta["best_value"] = math.nan if meta["best_value"] is None else meta["best_value"]
    return {
        **meta,
        "params": _load_tree(os.path.join(directory, "params.npz"), params_like, "params"),
        "opt_state": _load_tree(os.path.join(directory, "opt_state.npz"), opt_state_like, "optimizer state"),
        "best_params": _load_tree(os.path.join(directory, "best_params.npz"), params_like, "best params"),
        "history": History.from_json(os.path.join(directory, "history.json")),
    }


def _mesh_for(batch_size: int, data_parallel: bool | None) -> Any:
    devices = jax.local_devices()
    if data_parallel is False or len(devices) < 2:
        return None
    if batch_size % len(devices):
        if data_parallel:
            raise ValueError(f"fit: batch_size={batch_size} must be divisible by the {len(devices)} local devices "
                             "for data-parallel training.")
        return None
    return jax.sharding.Mesh(np.array(devices), ("batch",))


# -- fit --------------------------------------------------------------------------------------------


def fit(
    model: Callable[[Any, Any], Any],
    params: Any,
    loss: Callable[..., jax.Array],
    train: Any,
    *,
    optimizer: optax.GradientTransformation | None = None,
    epochs: int = 10,
    batch_size: int = 32,
    val: Any = None,
    val_batch_size: int | None = None,
    metrics: Sequence[str | _metrics.Metric] = (),
    monitor: str | None = None,
    early_stopping: EarlyStopping | None = None,
    callbacks: Sequence[Callable[[int, dict], Any]] = (),
    seed: int = 0,
    progress: bool = True,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    resume_from: str | os.PathLike[str] | None = None,
    opt_state: Any = None,
    drop_remainder: bool = False,
    data_parallel: bool | None = None,
) -> FitResult:
    """Trains ``params`` of ``model`` by gradient descent on ``loss`` with optax; returns a :class:`FitResult`.

    Args:
      model: ``model(params, inputs) -> predictions``, a pure JAX function.
      params: the initial parameters (any pytree of arrays).
      loss: a loss ``loss(predictions, targets) -> scalar`` (registered, composite or your own), or an
        objective ``objective(params, (inputs, targets))`` (see :func:`is_objective`).
      train: ``(inputs, targets)``, arrays (or pytrees of arrays) with the examples on axis 0.
      optimizer: an optax ``GradientTransformation`` (default :data:`DEFAULT_OPTIMIZER`, Adam 1e-2).
      epochs: the number of epochs (the total, also when resuming).
      batch_size: examples per step; the remainder forms one smaller last step (``drop_remainder``).
      val: ``(inputs, targets)`` evaluated after every epoch, in the same compiled program.
      val_batch_size: chunk size for validation (default ``max(batch_size, 1024)``).
      metrics: names (``jaxloss.metrics.get``) or streaming ``Metric`` objects; each is computed on the
        training batches (``history[name]``) and on ``val`` (``history["val_" + name]``). Names get
        ``from_logits=True`` when the loss is a classification loss on logits.
      monitor: the History key whose best epoch gives ``best_params`` (default ``"val_loss"`` with
        ``val``, ``"loss"`` without).
      early_stopping: an :class:`EarlyStopping` configuration, or None.
      callbacks: functions ``callback(epoch, logs)`` called after each epoch (epoch from 1, logs a
        dict of floats); returning True or raising :class:`StopTraining` stops the run.
      seed: the shuffling seed; epoch ``e`` shuffles with ``fold_in(key(seed), e)``.
      progress: a progress line on stderr for runs longer than a second.
      checkpoint_dir: save a checkpoint (``.npz`` + JSON) there after every epoch.
      resume_from: a checkpoint directory to continue from.
      opt_state: an optimizer state to start from (default ``optimizer.init(params)``).
      drop_remainder: skip the last partial batch of each epoch.
      data_parallel: shard the batch over the local devices (default: when there are several and
        ``batch_size`` divides evenly); False turns it off, True requires it.

    Returns:
      A :class:`FitResult` with ``params``, ``best_params``, ``opt_state``, ``history``, ``status``.
    """
    if not callable(model):
        raise TypeError(f"fit: model must be a function model(params, inputs); got {type(model).__name__}.")
    if not callable(loss):
        raise TypeError(f"fit: loss must be a loss function or an objective; got {type(loss).__name__}.")
    epochs, batch_size = int(epochs), int(batch_size)
    if epochs < 0 or batch_size < 1:
        raise ValueError(f"fit: epochs must be >= 0 and batch_size >= 1; got epochs={epochs}, batch_size={batch_size}.")
    optimizer = DEFAULT_OPTIMIZER if optimizer is None else optimizer
    x, y = _split_data(train, "train")
    n = _leading((x, y))
    if n == 0:
        raise ValueError("fit: the training data has no examples.")
    if n < batch_size:
        batch_size = n
    vx = vy = None
    if val is not None:
        vx, vy = _split_data(val, "val")
        _leading((vx, vy))
    metric_list = _metric_objects(metrics, loss)
    monitor = monitor or (early_stopping.monitor if early_stopping and early_stopping.monitor else None)
    monitor = monitor or ("val_loss" if val is not None else "loss")
    known = {"loss"} | {m.name for m in metric_list}
    known |= {"val_" + k for k in known} if val is not None else set()
    if monitor not in known:
        raise ValueError(f"fit: monitor={monitor!r} is not recorded; choose one of {sorted(known)}.")
    mode = _mode_for(monitor, metric_list, early_stopping.mode if early_stopping else "auto")
    val_batch_size = int(val_batch_size or max(batch_size, 1024))

    mesh = _mesh_for(batch_size, data_parallel)
    program = _program(model, loss, optimizer, metric_list, batch_size, val_batch_size, drop_remainder, mesh)
    if mesh is not None:
        replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
        place = functools.partial(jax.device_put, device=replicated)
    else:
        place = jax.device_put
    if opt_state is None:
        opt_state = optimizer.init(params)

    history = History(monitor=monitor, mode=mode)
    best_value, wait, start_epoch = math.nan, 0, 0
    best_params = params
    if resume_from is not None:
        saved = load_checkpoint(resume_from, params, opt_state)
        params, opt_state, best_params = saved["params"], saved["opt_state"], saved["best_params"]
        history, best_value, wait, start_epoch = saved["history"], saved["best_value"], saved["wait"], saved["epoch"]
        history.monitor, history.mode = monitor, mode
        seed = saved["seed"]

    # Everything the program carries from epoch to epoch, best epoch and early stopping included, so
    # that several epochs run with no host decision between them.
    # One placement for the data and the state (arrays already on the device stay as they are).
    data, state = place(((x, y) if val is None else (x, y, vx, vy), {
        "params": params, "opt_state": opt_state, "best_params": best_params,
        "best_value": np.asarray(best_value, jax.dtypes.canonicalize_dtype(np.float64)),
        "best_epoch": np.int32(history.best_epoch or 0), "wait": np.int32(wait), "ok": np.bool_(True),
        "stopped": np.bool_(False), "bad_epoch": np.int32(0), "bad_step": np.int32(0)}))
    controls = (_monitorable(metric_list, val is not None).index(monitor), 1.0 if mode == "min" else -1.0,
                float(early_stopping.min_delta) if early_stopping else 0.0,
                int(early_stopping.patience) if early_stopping else -1)
    status, message = "completed", ""
    bar = _Progress(epochs, progress)
    compile_seconds = 0.0
    last_logs: dict[str, float] = {}
    # Callbacks and checkpoints need the host after every epoch; otherwise epochs run in chunks of up
    # to _CHUNK per call (growing from 1 with a progress display), and the next chunk is dispatched
    # before the previous one is read. A chunk after a stop does nothing and is discarded.
    per_epoch = bool(callbacks) or checkpoint_dir is not None
    size = 1 if per_epoch or progress else _CHUNK
    pending: collections.deque = collections.deque()
    next_epoch = start_epoch + 1
    epoch = start_epoch
    try:
        while True:
            while next_epoch <= epochs and len(pending) < (1 if per_epoch else 2):
                count = min(size, epochs - next_epoch + 1)
                traces = _TRACE_COUNT["epoch"]
                t0 = time.perf_counter()
                state, buffers, done = program(state, seed, next_epoch, count, controls, *data)
                if _TRACE_COUNT["epoch"] != traces:
                    compile_seconds += time.perf_counter() - t0
                pending.append((next_epoch, state, buffers, done))
                next_epoch += count
                if not per_epoch:
                    size = min(2 * size, _CHUNK)
            if not pending:
                break
            first, chunk_state, buffers, done = pending.popleft()
            flags, buffers, done = jax.device_get(
                ({k: chunk_state[k] for k in ("best_value", "best_epoch", "wait", "ok", "stopped", "bad_epoch",
                                              "bad_step")}, buffers, done))
            done = int(done)
            epoch = first + done - 1
            columns = {"epoch": list(range(first, first + done))}
            columns.update({k: buffers[k][:done].tolist() for k in _log_order(buffers, metric_list)})
            history.extend(columns)
            params, opt_state, best_params = chunk_state["params"], chunk_state["opt_state"], chunk_state["best_params"]
            best_value, wait = float(flags["best_value"]), int(flags["wait"])
            history.best_epoch = int(flags["best_epoch"]) or None
            if done:
                last_logs = {k: v[-1] for k, v in columns.items()}
                bar.update(epoch, last_logs)
            if not bool(flags["ok"]):
                # The parameters are those before the first non-finite step; nothing of that epoch is recorded.
                status = "non_finite"
                message = (f"stopped by a non-finite loss or gradient at epoch {int(flags['bad_epoch'])}, "
                           f"step {int(flags['bad_step']) + 1}; the parameters are the last finite ones.")
                break
            if checkpoint_dir is not None:
                _save_checkpoint(os.fspath(checkpoint_dir), {"params": params, "opt_state": opt_state,
                                                              "best_params": best_params, "history": history,
                                                              "epoch": epoch, "seed": seed,
                                                              "best_value": best_value, "wait": wait})
            stop = False
            for callback in callbacks:
                try:
                    stop = bool(callback(epoch, dict(last_logs))) or stop
                except StopTraining:
                    stop = True
            if stop:
                status, message = "stopped_by_callback", f"stopped by a callback at epoch {epoch}."
                break
            if bool(flags["stopped"]):
                history.stopped_epoch = epoch
                status = "early_stopped"
                message = (f"early-stopped at epoch {epoch}: {monitor} has not improved for {wait} epochs "
                           f"(best {best_value:.6g} at epoch {history.best_epoch}).")
                break
    except KeyboardInterrupt:
        status = "interrupted"
        message = f"interrupted during epoch {epoch + 1}; returning the {history.epochs} epochs completed."
    bar.update(history.epochs, last_logs, final=True)
    if status == "completed":
        message = f"completed {history.epochs} epochs" + (
            f" (best {monitor} {best_value:.6g} at epoch {history.best_epoch})." if history.best_epoch else ".")
    restore = early_stopping is not None and early_stopping.restore_best and status == "early_stopped"
    return FitResult(
        params=best_params if restore else params, best_params=best_params, last_params=params,
        opt_state=opt_state, history=history, status=status, message=message, epochs=history.epochs,
        compile_seconds=compile_seconds)
