"""The compiled training program: the step, the epoch, validation and best-epoch tracking.

:class:`Trainer` holds what is fixed for a run (model, loss, optimizer, metrics, batch sizes, mesh)
and builds pure functions of arrays from it:

* ``train_step``: one optimizer step on one batch (forward in training mode with this step's
  random key, the loss and its terms, the gradient, the optimizer update with ``value=``,
  ``grad=`` and ``value_fn=`` for the optax transformations that read them, the non-finite guard,
  metric updates, the epoch's loss sums);
* ``train_epoch``: shuffle on the device, ``lax.scan`` of ``train_step`` over the full batches, one
  smaller step for the remainder; ``evaluate``: the validation loss and metrics in evaluation mode
  (with schedule-free optimizers, at the evaluation parameters);
* ``record``: Keras's early-stopping rule and the best epoch's parameters, on the device;
* ``run``: up to :data:`CHUNK` epochs in one ``lax.while_loop`` (what ``fit`` calls for in-memory
  data); for iterables of batches ``fit`` calls the jitted step per batch instead.

The epoch's loss, the validation loss and each term's are the weighted means the loss defines over
all their examples, whatever the batch and chunk sizes: each batch adds its numerator and the
denominator of its mean (:meth:`LossCall.sums`), and the end divides once (0 over no weight).

No host round trip per step: the guard selects the new or the old values arithmetically
(``jnp.where``), never with ``lax.cond`` (on a GPU a conditional's predicate is read back by the
host). The only data-dependent loop condition is the epoch loop's (once per epoch).
"""

from __future__ import annotations

import collections
import functools
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxloss import metrics as _metrics
from jaxloss.models import Model
from jaxloss.train._early_stopping import Tracking, track
from jaxloss.train._objective import LossCall, Sums

__all__ = ["Trainer", "HostEntries", "CHUNK", "TRACE_COUNT", "evaluation_params"]

#: The most epochs one call of the compiled program runs (the length of its per-epoch log buffers).
CHUNK = 64

#: Counts traces of the compiled programs (each trace is one compilation); read by the tests.
TRACE_COUNT: collections.Counter = collections.Counter()

_SHUFFLE, _DROPOUT, _EVALUATION = 0, 1, 2

#: What an epoch with a bad step gives back as it was at the epoch's start (to be replayed guarded).
_ROLLED = ("params", "opt_state", "model_state", "step")


def _finite(tree: Any) -> jax.Array:
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree) if jnp.issubdtype(jnp.result_type(x), jnp.inexact)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.bool_(True)


def _select(pred: jax.Array, a: Any, b: Any) -> Any:
    return jax.tree.map(lambda x, y: jnp.where(pred, x, y).astype(jnp.result_type(y)), a, b)


def _take(tree: Any, idx: jax.Array) -> Any:
    # The indices come from a permutation or a range: in bounds, so no bounds handling in the gather.
    return jax.tree.map(lambda x: x.at[idx].get(mode="promise_in_bounds"), tree)


def _batches(tree: Any, perm: jax.Array, count: int, size: int) -> Any:
    return jax.tree.map(lambda x: x.at[perm[: count * size]].get(mode="promise_in_bounds")
                        .reshape((count, size) + x.shape[1:]), tree)


def _size(batch: Any) -> int:
    return jax.tree.leaves(batch)[0].shape[0]


def _is_schedule_free(node: Any) -> bool:
    return isinstance(node, optax.contrib.ScheduleFreeState)


def evaluation_params(opt_state: Any, params: Any) -> Any:
    """The parameters to evaluate: schedule-free's averaged iterate when the optimizer is one, else ``params``."""
    found = [s for s in jax.tree.leaves(opt_state, is_leaf=_is_schedule_free) if _is_schedule_free(s)]
    return optax.contrib.schedule_free_eval_params(found[0], params) if len(found) == 1 else params


def _float() -> Any:
    return jax.dtypes.canonicalize_dtype(np.float64)  # History's values are Python floats


def _zero_sums(shapes: Sums) -> Sums:
    return {k: (jnp.zeros((), jnp.float32), jnp.zeros((), jnp.float32)) for k in shapes}


def _add_sums(totals: Sums, batch: Sums, add: Callable[[jax.Array, jax.Array], jax.Array]) -> Sums:
    return {k: (add(n, batch[k][0]), add(d, batch[k][1])) for k, (n, d) in totals.items()}


def _mean(pair: tuple[jax.Array, jax.Array]) -> jax.Array:
    numerator, denominator = pair
    empty = denominator == 0  # the loss's rule: a mean over nothing is 0
    return jnp.where(empty, 0, numerator / jnp.where(empty, 1, denominator))


def _loss_logs(prefix: str, sums: tuple[Sums, Sums]) -> dict[str, jax.Array]:
    """``loss`` (the sum of the total's means) and ``loss/<term>`` from an epoch's or a validation's sums."""
    total, parts = sums
    logs = {prefix + "loss": sum((_mean(v) for v in total.values()), jnp.zeros((), jnp.float32))}
    logs.update({prefix + "loss/" + k: _mean(v) for k, v in parts.items()})
    return logs


def _keep_metrics(good: jax.Array, new: tuple, old: tuple) -> tuple:
    """The metric states after a guarded step: ``new`` where it was good, else ``old``.

    A ranking state (which keeps every entry) keeps the new buffers and selects only how many entries
    are in use: a bad step's entries lie past the count, ignored and overwritten later, so the guard
    costs O(1) per step instead of a pass over the buffers. Buffers that grew in the step (no capacity)
    keep the bad step's entries at zero weight.
    """
    def keep(n: Any, o: Any) -> Any:
        if not isinstance(n, _metrics.RankingState):
            return _select(good, n, o)
        if n.capacity != o.capacity:
            fresh = jnp.arange(n.capacity) >= o.count
            return n._replace(weights=jnp.where(fresh & ~good, 0, n.weights),
                              scores=jnp.where(fresh & ~good, 0, n.scores))
        return n._replace(count=jnp.where(good, n.count, o.count), dropped=jnp.where(good, n.dropped, o.dropped))
    return tuple(keep(n, o) for n, o in zip(new, old))


def _empty(state: _metrics.RankingState) -> _metrics.RankingState:
    # Derived from the state's own arrays, so that they are placed as it is (global arrays of several processes).
    return _metrics.RankingState(state.scores[:0], state.positive[:0], state.weights[:0], state.count * 0,
                                 state.dropped & False)


_concatenate = jax.jit(_metrics.RankingState.concatenate)


class HostEntries:
    """For iterables of batches: the entries of the ranking metrics' states, kept on the host, batch by batch.

    The exact ranking metrics (``auc``, ``average_precision``) keep every score, and an iterable's
    length is not known in advance. Each step is handed a ranking state of capacity 0, whose update
    gives back the batch's entries alone; :meth:`take` moves them here and hands the next step an empty
    state again, so every step has the same shapes (one compilation) and costs O(batch) however long
    the iterable. :meth:`restore` puts every entry back, concatenated (a group of batches at a time as
    they come, so that the end joins few pieces). Other states pass through. Nothing is read back
    from the device.
    """

    GROUP = 256

    def start(self, states: tuple) -> tuple:
        """The states to give the first step (``states``: the metrics' ``init()``)."""
        self.empty = tuple(_empty(s) if isinstance(s, _metrics.RankingState) else None for s in states)
        self.pending: list[list] = [[] for _ in states]
        self.chunks: list[list] = [[] for _ in states]
        return tuple(s if e is None else e for s, e in zip(states, self.empty))

    def take(self, states: tuple) -> tuple:
        """After a step: its entries kept here, empty states for the next step."""
        out = []
        for i, (state, empty) in enumerate(zip(states, self.empty)):
            if empty is not None:
                self.pending[i].append(state)
                if len(self.pending[i]) == self.GROUP:
                    self.chunks[i].append(_concatenate(tuple(self.pending[i])))
                    self.pending[i] = []
                state = empty
            out.append(state)
        return tuple(out)

    def restore(self, states: tuple) -> tuple:
        """The states with every entry kept since :meth:`start`."""
        out = []
        for i, (state, empty) in enumerate(zip(states, self.empty)):
            if empty is not None:
                pieces = self.chunks[i] + self.pending[i]
                state = _concatenate(tuple(pieces)) if pieces else empty
            out.append(state)
        return tuple(out)


class Trainer:
    """The pure functions of one training configuration (see the module docstring), and their jitted forms."""

    def __init__(self, model: Model, call: LossCall, optimizer: optax.GradientTransformationExtraArgs,
                 metrics: tuple[_metrics.Metric, ...], batch_size: int, val_batch_size: int,
                 drop_remainder: bool, mesh: Any) -> None:
        self.model, self.call, self.optimizer, self.metrics = model, call, optimizer, metrics
        self.batch_size, self.val_batch_size, self.drop_remainder, self.mesh = (
            batch_size, val_batch_size, drop_remainder, mesh)
        self.run = jax.jit(self._run)
        self.step = jax.jit(self._counted("step", self.train_step))
        self.start = jax.jit(self.start_epoch)
        self.end = jax.jit(self.end_epoch)
        self.train_arrays = jax.jit(self._counted("epoch_arrays", self.train_epoch))
        #: The epoch again, guarded, from its start: the state just before its first bad step.
        self.replay = jax.jit(self.train_epoch)
        self.evaluate_arrays = jax.jit(self.evaluate)
        self.val_start = jax.jit(self.evaluation_start)
        self.val_step = jax.jit(self.evaluate_batch)
        self.val_end = jax.jit(self.evaluation_logs)
        self.record_epoch = jax.jit(self.record)

    @staticmethod
    def _counted(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def counted(*args: Any) -> Any:
            TRACE_COUNT[name] += 1
            return fn(*args)
        return counted

    # -- one batch ------------------------------------------------------------------------------

    def _constrain(self, tree: Any) -> Any:
        if self.mesh is None:
            return tree
        spec = jax.sharding.NamedSharding(self.mesh, jax.sharding.PartitionSpec("batch"))
        return jax.tree.map(lambda x: jax.lax.with_sharding_constraint(x, spec)
                            if x.shape[0] % self.mesh.size == 0 else x, tree)

    def forward(self, params: Any, model_state: Any, batch: tuple, key: Any, step: jax.Array,
                train: bool) -> tuple[jax.Array, tuple]:
        """``(loss, (predictions, loss sums, new model state))`` on one batch (sums: :meth:`LossCall.sums`)."""
        x, y, extra = batch
        predictions, new_state = None, model_state
        if self.call.needs_predictions or self.metrics:
            predictions, new_state = self.model.apply(params, model_state, x, key=key, train=train)
        value, parts = self.call(params, predictions, x, y, extra, step)
        sums = self.call.sums(predictions, y, extra, step, _size(batch), jax.lax.stop_gradient(value),
                              jax.lax.stop_gradient(parts))
        return value, (predictions, sums, new_state)

    def sized_metrics(self, data: tuple) -> tuple[_metrics.Metric, ...]:
        """The metrics for in-memory ``data`` (an epoch's or the validation set's): those that keep every
        entry (``Metric.sized``: the exact ``auc``, ``average_precision``) with buffers that hold all of
        its targets. Shapes are static, so the buffers are sized when the program is traced."""
        entries = sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(data[1]))
        return tuple(m.sized(max(entries, 1)) if m.sized is not None else m for m in self.metrics)

    def _update_metrics(self, states: tuple, predictions: Any, batch: tuple, metrics: tuple | None = None) -> tuple:
        _, y, extra = batch
        return tuple(m.update(s, predictions, y, **extra) for m, s in zip(metrics or self.metrics, states))

    def train_step(self, carry: dict, batch: tuple, guarded: bool = True, metrics: tuple | None = None) -> dict:
        """One optimizer step.

        A step is bad when the loss is not finite or the step makes a parameter or the model state
        non-finite; ``carry["ok"]`` turns False there and ``carry["bad_step"]`` holds its index. With
        ``guarded``, a bad step and every later one change nothing (selected arithmetically, so a GPU
        makes no host round trip); unguarded steps carry on regardless and cost only the check: the
        caller then discards the epoch and replays it guarded (:meth:`replay`), which gives the same
        last finite values.
        """
        batch = self._constrain(batch)
        params, step = carry["params"], carry["step"]
        key = jax.random.fold_in(jax.random.fold_in(jax.random.key(carry["seed"]), _DROPOUT), step)

        def objective(p: Any) -> tuple[jax.Array, tuple]:
            return self.forward(p, carry["model_state"], batch, key, step, True)

        (value, (predictions, sums, model_state)), grads = jax.value_and_grad(objective, has_aux=True)(params)
        updates, opt_state = self.optimizer.update(grads, carry["opt_state"], params, value=value, grad=grads,
                                                   value_fn=lambda p: objective(p)[0])
        new_params = optax.apply_updates(params, updates)
        good = carry["ok"] & jnp.isfinite(value) & _finite(new_params) & _finite(model_state)
        if guarded:
            keep = functools.partial(_select, good)

            def add(total: jax.Array, x: Any) -> jax.Array:
                return total + jnp.where(good, x, 0)
        else:
            def keep(new: Any, old: Any) -> Any:
                return new

            def add(total: jax.Array, x: Any) -> jax.Array:
                return total + x
        new = dict(carry)
        new.update(
            params=keep(new_params, params), opt_state=keep(opt_state, carry["opt_state"]),
            model_state=keep(model_state, carry["model_state"]), ok=good,
            bad_step=jnp.where(carry["ok"] & ~good, carry["index"], carry["bad_step"]), index=carry["index"] + 1,
            step=step + (good.astype(step.dtype) if guarded else 1),
            sums=tuple(_add_sums(c, b, add) for c, b in zip(carry["sums"], sums)))
        if self.metrics:
            updated = self._update_metrics(carry["metrics"], predictions, batch, metrics)
            new["metrics"] = _keep_metrics(good, updated, carry["metrics"]) if guarded else updated
        return new

    # -- one epoch ------------------------------------------------------------------------------

    def _sums_start(self, state: dict, batch: tuple) -> tuple[Sums, Sums]:
        """Zeros for the loss sums (:meth:`LossCall.sums`) of batches like ``batch``."""
        one = jax.tree.map(lambda a: a[:1], batch)
        shapes = jax.eval_shape(lambda p, s: self.forward(p, s, one, jax.random.key(0), jnp.int32(0), True)[1][1],
                                state["params"], state["model_state"])
        return _zero_sums(shapes[0]), _zero_sums(shapes[1])

    def start_epoch(self, state: dict, seed: Any, example: tuple, metrics: tuple | None = None) -> dict:
        """The step carry at the start of an epoch (``example``: any batch, for the terms' names)."""
        return {
            "params": state["params"], "opt_state": state["opt_state"], "model_state": state["model_state"],
            "seed": jnp.asarray(seed, jnp.uint32), "ok": jnp.bool_(True), "bad_step": jnp.int32(-1),
            "index": jnp.int32(0), "step": state["step"], "sums": self._sums_start(state, example),
            "metrics": tuple(m.init() for m in metrics or self.metrics)}

    def end_epoch(self, state: dict, carry: dict, metrics: tuple | None = None) -> tuple[dict, dict]:
        """The state after an epoch and the epoch's training logs."""
        logs = _loss_logs("", carry["sums"])
        logs.update({m.name: m.compute(s) for m, s in zip(metrics or self.metrics, carry["metrics"])})
        last = jnp.maximum(carry["step"] - 1, 0)
        logs.update({"weight/" + k: v for k, v in self.call.scheduled(last).items()})
        state = dict(state, params=carry["params"], opt_state=carry["opt_state"], model_state=carry["model_state"],
                     step=carry["step"], ok=carry["ok"], bad_step=jnp.where(carry["ok"], state["bad_step"],
                                                                              carry["bad_step"]))
        return state, logs

    def train_epoch(self, state: dict, seed: Any, epoch: jax.Array, data: tuple,
                    guarded: bool = True) -> tuple[dict, dict]:
        """One epoch over in-memory ``data = (inputs, targets, extra)``: shuffled full batches, then the rest."""
        metrics = self.sized_metrics(data)
        step = functools.partial(self.train_step, guarded=guarded, metrics=metrics)
        n = _size(data)
        full, rest = divmod(n, self.batch_size)
        key = jax.random.fold_in(jax.random.fold_in(jax.random.key(jnp.asarray(seed, jnp.uint32)), _SHUFFLE), epoch)
        perm = jax.random.permutation(key, n)
        carry = self.start_epoch(state, seed, data, metrics)
        if full == 1:  # one batch: no loop to compile
            carry = step(carry, _take(data, perm[: self.batch_size]))
        elif full:
            carry, _ = jax.lax.scan(lambda c, b: (step(c, b), None), carry, _batches(data, perm, full, self.batch_size))
        if rest and not self.drop_remainder:
            carry = step(carry, _take(data, perm[full * self.batch_size:]))
        return self.end_epoch(state, carry, metrics)

    # -- validation -----------------------------------------------------------------------------

    def evaluation_start(self, state: dict, example: tuple, metrics: tuple | None = None) -> tuple:
        """``(loss sums, metric states)`` before the first validation batch."""
        return self._sums_start(state, example), tuple(m.init() for m in metrics or self.metrics)

    def evaluate_batch(self, accumulated: tuple, state: dict, seed: Any, batch: tuple,
                       metrics: tuple | None = None) -> tuple:
        """Adds one validation batch (evaluation mode, evaluation parameters) to ``accumulated``."""
        batch = self._constrain(batch)
        totals, states = accumulated
        key = jax.random.fold_in(jax.random.key(jnp.asarray(seed, jnp.uint32)), _EVALUATION)
        params = evaluation_params(state["opt_state"], state["params"])
        _, (predictions, sums, _) = self.forward(params, state["model_state"], batch, key,
                                                 jnp.maximum(state["step"] - 1, 0), False)
        if self.metrics:
            states = self._update_metrics(states, predictions, batch, metrics)
        return tuple(_add_sums(t, b, jnp.add) for t, b in zip(totals, sums)), states

    def evaluation_logs(self, accumulated: tuple, metrics: tuple | None = None) -> dict:
        totals, states = accumulated
        logs = _loss_logs("val_", totals)
        logs.update({"val_" + m.name: m.compute(s) for m, s in zip(metrics or self.metrics, states)})
        return logs

    def evaluate(self, state: dict, seed: Any, data: tuple) -> dict:
        """The validation logs on in-memory ``data``, in chunks of ``val_batch_size``."""
        n = _size(data)
        size = min(self.val_batch_size, n)
        full, rest = divmod(n, size)
        metrics = self.sized_metrics(data)
        add = functools.partial(self.evaluate_batch, state=state, seed=seed, metrics=metrics)
        accumulated = self.evaluation_start(state, data, metrics)
        order = jnp.arange(n)
        if full == 1:
            accumulated = add(accumulated, batch=_take(data, order[:size]))
        else:
            accumulated, _ = jax.lax.scan(lambda a, b: (add(a, batch=b), None), accumulated,
                                          _batches(data, order, full, size))
        if rest:
            accumulated = add(accumulated, batch=_take(data, order[full * size:]))
        return self.evaluation_logs(accumulated, metrics)

    # -- tracking -------------------------------------------------------------------------------

    def monitored(self, has_val: bool) -> list[str]:
        """The History keys a monitor may name, in the order :meth:`record` stacks them."""
        names = ["loss"] + [m.name for m in self.metrics]
        return names + ["val_" + k for k in names] if has_val else names

    def record(self, state: dict, logs: dict, epoch: jax.Array, controls: Tracking) -> dict:
        """Early stopping and the best epoch, after an epoch whose values are ``logs``."""
        names = self.monitored("val_loss" in logs)
        value = jnp.stack([jnp.asarray(logs[k], _float()) for k in names])[controls.monitor_index]
        tracker, improved = track(state["tracker"], value, state["ok"], epoch, controls)
        params = evaluation_params(state["opt_state"], state["params"])
        return dict(state, tracker=tracker, best_params=_select(improved, params, state["best_params"]),
                    best_model_state=_select(improved, state["model_state"], state["best_model_state"]),
                    bad_epoch=jnp.where(state["ok"], state["bad_epoch"], epoch))

    # -- several epochs in one call -------------------------------------------------------------

    def epoch_logs(self, state: dict, seed: Any, epoch: jax.Array, train: tuple, val: tuple | None) -> tuple[dict, dict]:
        """An unguarded epoch and its validation; after a bad step, the state at the epoch's start."""
        new, logs = self.train_epoch(state, seed, epoch, train, guarded=False)
        if val is not None:
            logs.update(self.evaluate(new, seed, val))
        rolled = _select(new["ok"], {k: new[k] for k in _ROLLED}, {k: state[k] for k in _ROLLED})
        return dict(new, **rolled), logs

    def _run(self, state: dict, seed: Any, first_epoch: Any, count: Any, controls: Tracking, train: tuple,
             val: tuple | None = None) -> tuple[dict, dict, jax.Array]:
        """Epochs ``first_epoch .. first_epoch + count - 1`` while no step was non-finite and none stopped.

        Returns the new state, per-epoch log buffers of length :data:`CHUNK` and the number of epochs
        recorded (an epoch with a non-finite step is not).
        """
        TRACE_COUNT["epoch"] += 1
        first_epoch, count = jnp.asarray(first_epoch, jnp.int32), jnp.asarray(count, jnp.int32)
        shapes = jax.eval_shape(lambda s: self.epoch_logs(s, seed, first_epoch, train, val)[1], state)
        buffers = {k: jnp.full((CHUNK,), jnp.nan, _float()) for k in shapes}

        def cond(carry: tuple) -> jax.Array:
            i, _, state, _ = carry
            return (i < count) & state["ok"] & ~state["tracker"]["stopped"]

        def body(carry: tuple) -> tuple:
            i, done, state, buffers = carry
            epoch = first_epoch + i
            state, logs = self.epoch_logs(state, seed, epoch, train, val)
            state = self.record(state, logs, epoch, controls)
            buffers = {k: b.at[i].set(jnp.asarray(logs[k], _float())) for k, b in buffers.items()}
            return i + 1, done + state["ok"].astype(jnp.int32), state, buffers

        _, done, state, buffers = jax.lax.while_loop(cond, body, (jnp.int32(0), jnp.int32(0), state, buffers))
        return state, buffers, done
