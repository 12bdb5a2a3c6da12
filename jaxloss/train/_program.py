"""The compiled programs of training: pure functions of a static :class:`~._state.Setup` and of pytrees.

* :func:`train_step`: one optimizer step on one batch (forward in training mode with this step's
  random key, the loss and its terms, :func:`~._step.optimizer_step`, the non-finite guard, metric
  updates, the epoch's loss sums);
* :func:`train_epoch`: shuffle on the device, ``lax.scan`` of :func:`train_step` over the full
  batches, one smaller step for the remainder;
* :func:`evaluate`: the loss and metrics of in-memory data in evaluation mode, in chunks (with
  schedule-free optimizers, at the evaluation parameters); :func:`predict`: the model's outputs;
* :func:`record`: Keras's early-stopping rule and the best epoch's trees, on the device;
* :func:`run_epochs`: up to :data:`CHUNK` epochs in one ``lax.while_loop`` (what ``fit`` calls for
  in-memory data); for iterables of batches the host calls :data:`step` per batch instead.

The jitted forms (:data:`run`, :data:`step`, ...) are module-level ``jax.jit`` objects with the setup
static: JAX's own cache keys them, so equal setups share compiled programs and no cache of ours holds
arrays.

The epoch's loss, the validation loss and each term's are the weighted means the loss defines over
all their examples, whatever the batch and chunk sizes: each batch adds its numerator and the
denominator of its mean (``LossCall.sums``), and the end divides once (0 over no weight).

No host round trip per step: the guard selects the new or the old values arithmetically, never with
``lax.cond``. The only data-dependent loop condition is the epoch loop's (once per epoch).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxloss import metrics as _metrics
from jaxloss.train._early_stopping import Tracking, track
from jaxloss.train._objective import Sums
from jaxloss.train._state import Carry, Setup, TrainState, float_dtype
from jaxloss.train._step import all_finite, keep, optimizer_step

__all__ = ["CHUNK", "evaluation_params", "train_step", "train_epoch", "evaluate", "predict", "record",
           "run_epochs", "start_epoch", "shuffle_order", "array_batches", "steps_per_epoch", "end_epoch", "monitored", "run", "step", "start", "end", "replay", "train_arrays",
           "evaluate_arrays", "val_start", "val_step", "val_end", "record_epoch", "predict_arrays"]

#: The most epochs one call of the compiled program runs (the length of its per-epoch log buffers).
CHUNK = 64

_SHUFFLE, _DROPOUT, _EVALUATION = 0, 1, 2


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
    def choose(n: Any, o: Any) -> Any:
        if not isinstance(n, _metrics.RankingState):
            return keep(good, n, o)
        if n.capacity != o.capacity:
            fresh = jnp.arange(n.capacity) >= o.count
            return n._replace(weights=jnp.where(fresh & ~good, 0, n.weights),
                              scores=jnp.where(fresh & ~good, 0, n.scores))
        return n._replace(count=jnp.where(good, n.count, o.count), dropped=jnp.where(good, n.dropped, o.dropped))
    return tuple(choose(n, o) for n, o in zip(new, old))


# -- one batch ----------------------------------------------------------------------------------------


def _constrain(setup: Setup, tree: Any) -> Any:
    if setup.mesh is None:
        return tree
    spec = jax.sharding.NamedSharding(setup.mesh, jax.sharding.PartitionSpec("batch"))
    return jax.tree.map(lambda x: jax.lax.with_sharding_constraint(x, spec)
                        if x.shape[0] % setup.mesh.size == 0 else x, tree)


def forward(setup: Setup, params: Any, model_state: Any, batch: tuple, key: Any, step: jax.Array,
            train: bool) -> tuple[jax.Array, tuple]:
    """``(loss, (predictions, loss sums, new model state))`` on one batch (sums: ``LossCall.sums``)."""
    x, y, extra = batch
    predictions, new_state = None, model_state
    if setup.call.needs_predictions or setup.metrics:
        predictions, new_state = setup.model.apply(params, model_state, x, key=key, train=train)
    value, parts = setup.call(params, predictions, x, y, extra, step)
    sums = setup.call.sums(predictions, y, extra, step, _size(batch), jax.lax.stop_gradient(value),
                           jax.lax.stop_gradient(parts))
    return value, (predictions, sums, new_state)


def sized_metrics(setup: Setup, data: tuple) -> tuple[_metrics.Metric, ...]:
    """The metrics for in-memory ``data`` (an epoch's or the validation set's): those that keep every
    entry (``Metric.sized``: the exact ``auc``, ``average_precision``) with buffers that hold all of
    its targets. Shapes are static, so the buffers are sized when the program is traced."""
    entries = sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(data[1]))
    return tuple(m.sized(max(entries, 1)) if m.sized is not None else m for m in setup.metrics)


def _update_metrics(setup: Setup, states: tuple, predictions: Any, batch: tuple, metrics: tuple | None) -> tuple:
    _, y, extra = batch
    return tuple(m.update(s, predictions, y, **extra) for m, s in zip(metrics or setup.metrics, states))


def train_step(setup: Setup, carry: Carry, batch: tuple, guarded: bool = True, metrics: tuple | None = None) -> Carry:
    """One optimizer step on ``batch = (inputs, targets, extra)``.

    A step is bad when the loss is not finite or the step makes a parameter or the model state
    non-finite; ``carry.ok`` turns False there and ``carry.bad_step`` holds its index. With
    ``guarded``, a bad step and every later one change nothing (selected arithmetically, so a GPU
    makes no host round trip); unguarded steps carry on regardless and cost only the check: the
    caller then discards the epoch and replays it guarded (:data:`replay`), which gives the same last
    finite values.
    """
    batch = _constrain(setup, batch)
    key = jax.random.fold_in(jax.random.fold_in(jax.random.key(carry.seed), _DROPOUT), carry.step)

    def objective(p: Any) -> tuple[jax.Array, tuple]:
        return forward(setup, p, carry.model_state, batch, key, carry.step, True)

    new = optimizer_step(setup.optimizer, objective, carry.params, carry.opt_state, has_aux=True)
    predictions, sums, model_state = new.aux
    good = carry.ok & new.finite & all_finite(model_state)
    if guarded:
        choose = functools.partial(keep, good)

        def add(total: jax.Array, x: Any) -> jax.Array:
            return total + jnp.where(good, x, 0)
    else:
        def choose(new: Any, old: Any) -> Any:
            return new

        def add(total: jax.Array, x: Any) -> jax.Array:
            return total + x
    states = carry.metrics
    if setup.metrics:
        updated = _update_metrics(setup, carry.metrics, predictions, batch, metrics)
        states = _keep_metrics(good, updated, carry.metrics) if guarded else updated
    return carry.replace(
        params=choose(new.params, carry.params), opt_state=choose(new.opt_state, carry.opt_state),
        model_state=choose(model_state, carry.model_state), ok=good,
        bad_step=jnp.where(carry.ok & ~good, carry.index, carry.bad_step), index=carry.index + 1,
        step=carry.step + (good.astype(carry.step.dtype) if guarded else 1),
        sums=tuple(_add_sums(c, b, add) for c, b in zip(carry.sums, sums)), metrics=states,
        value=jnp.asarray(new.value, jnp.float32))


# -- one epoch ----------------------------------------------------------------------------------------


def _sums_start(setup: Setup, state: TrainState, batch: tuple) -> tuple[Sums, Sums]:
    """Zeros for the loss sums (``LossCall.sums``) of batches like ``batch``."""
    one = jax.tree.map(lambda a: a[:1], batch)
    shapes = jax.eval_shape(lambda p, s: forward(setup, p, s, one, jax.random.key(0), jnp.int32(0), True)[1][1],
                            state.params, state.model_state)
    return _zero_sums(shapes[0]), _zero_sums(shapes[1])


def start_epoch(setup: Setup, state: TrainState, example: tuple, metrics: tuple | None = None) -> Carry:
    """The step carry at the start of an epoch (``example``: any batch, for the terms' names)."""
    return Carry(params=state.params, opt_state=state.opt_state, model_state=state.model_state, step=state.step,
                 seed=jnp.asarray(state.seed, jnp.uint32), ok=jnp.bool_(True), bad_step=jnp.int32(-1),
                 index=jnp.int32(0), sums=_sums_start(setup, state, example),
                 metrics=tuple(m.init() for m in metrics or setup.metrics), value=jnp.float32(jnp.nan))


def end_epoch(setup: Setup, state: TrainState, carry: Carry, metrics: tuple | None = None) -> tuple[TrainState, dict]:
    """The state after an epoch and the epoch's training logs."""
    logs = _loss_logs("", carry.sums)
    logs.update({m.name: m.compute(s) for m, s in zip(metrics or setup.metrics, carry.metrics)})
    last = jnp.maximum(carry.step - 1, 0)
    logs.update({"weight/" + k: v for k, v in setup.call.scheduled(last).items()})
    logs.update(_learning_rate(carry.opt_state))
    state = state.replace(params=carry.params, opt_state=carry.opt_state, model_state=carry.model_state,
                          step=carry.step, ok=carry.ok, bad_step=jnp.where(carry.ok, state.bad_step, carry.bad_step))
    return state, logs


def _learning_rate(opt_state: Any) -> dict[str, jax.Array]:
    """``{"learning_rate": value}`` when the optimizer exposes it (``optax.inject_hyperparams``), else ``{}``."""
    def injected(node: Any) -> bool:  # optax's InjectHyperparamsState and InjectStatefulHyperparamsState
        return isinstance(node, tuple) and isinstance(getattr(node, "hyperparams", None), dict)
    found = [s for s in jax.tree.leaves(opt_state, is_leaf=injected) if injected(s)]
    rates = [s.hyperparams["learning_rate"] for s in found if "learning_rate" in s.hyperparams]
    return {"learning_rate": jnp.asarray(rates[0], jnp.float32)} if len(rates) == 1 else {}


def shuffle_order(seed: Any, epoch: Any, n: int) -> jax.Array:
    """The order of an epoch's ``n`` examples: a permutation keyed by ``fold_in(fold_in(key(seed), 0), epoch)``
    (epochs count from 1), so a resumed run, and a run that steps through the epoch batch by batch,
    draw the same batches."""
    key = jax.random.fold_in(jax.random.fold_in(jax.random.key(jnp.asarray(seed, jnp.uint32)), _SHUFFLE), epoch)
    return jax.random.permutation(key, n)


def _batch_at(data: tuple, order: jax.Array, first: jax.Array, size: int) -> tuple:
    return _take(data, jax.lax.dynamic_slice_in_dim(order, first, size))


def array_batches(setup: Setup, seed: Any, epoch: int, data: tuple) -> Any:
    """The batches :func:`train_epoch` takes, one by one (for a host loop that steps through an epoch):
    the same order, the full batches, then the remainder unless ``drop_remainder``."""
    n = _size(data)
    full, rest = divmod(n, setup.batch_size)
    order = _shuffle_program(seed, epoch, n)
    for i in range(full):
        yield _batch_program(data, order, i * setup.batch_size, setup.batch_size)
    if rest and not setup.drop_remainder:
        yield _batch_program(data, order, full * setup.batch_size, rest)


def steps_per_epoch(setup: Setup, n: int) -> int:
    """The optimizer steps of an epoch over ``n`` in-memory examples."""
    full, rest = divmod(n, setup.batch_size)
    return full + int(bool(rest) and not setup.drop_remainder)


def train_epoch(setup: Setup, state: TrainState, epoch: jax.Array, data: tuple,
                guarded: bool = True) -> tuple[TrainState, dict]:
    """One epoch over in-memory ``data = (inputs, targets, extra)``: shuffled full batches, then the rest."""
    metrics = sized_metrics(setup, data)
    one = functools.partial(train_step, setup, guarded=guarded, metrics=metrics)
    n = _size(data)
    full, rest = divmod(n, setup.batch_size)
    perm = shuffle_order(state.seed, epoch, n)
    carry = start_epoch(setup, state, data, metrics)
    if full == 1:  # one batch: no loop to compile
        carry = one(carry, _take(data, perm[: setup.batch_size]))
    elif full:
        carry, _ = jax.lax.scan(lambda c, b: (one(c, b), None), carry, _batches(data, perm, full, setup.batch_size))
    if rest and not setup.drop_remainder:
        carry = one(carry, _take(data, perm[full * setup.batch_size:]))
    return end_epoch(setup, state, carry, metrics)


# -- evaluation ---------------------------------------------------------------------------------------


def evaluation_start(setup: Setup, state: TrainState, example: tuple, metrics: tuple | None = None) -> tuple:
    """``(loss sums, metric states)`` before the first evaluated batch."""
    return _sums_start(setup, state, example), tuple(m.init() for m in metrics or setup.metrics)


def evaluate_batch(setup: Setup, accumulated: tuple, state: TrainState, batch: tuple,
                   metrics: tuple | None = None) -> tuple:
    """Adds one batch (evaluation mode, evaluation parameters) to ``accumulated``."""
    batch = _constrain(setup, batch)
    totals, states = accumulated
    key = jax.random.fold_in(jax.random.key(jnp.asarray(state.seed, jnp.uint32)), _EVALUATION)
    params = evaluation_params(state.opt_state, state.params)
    _, (predictions, sums, _) = forward(setup, params, state.model_state, batch, key,
                                        jnp.maximum(state.step - 1, 0), False)
    if setup.metrics:
        states = _update_metrics(setup, states, predictions, batch, metrics)
    return tuple(_add_sums(t, b, jnp.add) for t, b in zip(totals, sums)), states


def evaluation_logs(setup: Setup, accumulated: tuple, metrics: tuple | None = None, prefix: str = "val_") -> dict:
    """The logs of an evaluation: ``<prefix>loss``, its terms and the metrics."""
    totals, states = accumulated
    logs = _loss_logs(prefix, totals)
    logs.update({prefix + m.name: m.compute(s) for m, s in zip(metrics or setup.metrics, states)})
    return logs


def _chunks(size: int, n: int) -> tuple[int, int, int]:
    size = min(size, n)
    full, rest = divmod(n, size)
    return size, full, rest


def evaluate(setup: Setup, state: TrainState, data: tuple, prefix: str = "val_") -> dict:
    """The logs of in-memory ``data``, in chunks of ``setup.val_batch_size`` (exact whatever the size)."""
    n = _size(data)
    size, full, rest = _chunks(setup.val_batch_size, n)
    metrics = sized_metrics(setup, data)
    add = functools.partial(evaluate_batch, setup, state=state, metrics=metrics)
    accumulated = evaluation_start(setup, state, data, metrics)
    order = jnp.arange(n)
    if full == 1:
        accumulated = add(accumulated, batch=_take(data, order[:size]))
    else:
        accumulated, _ = jax.lax.scan(lambda a, b: (add(a, batch=b), None), accumulated,
                                      _batches(data, order, full, size))
    if rest:
        accumulated = add(accumulated, batch=_take(data, order[full * size:]))
    return evaluation_logs(setup, accumulated, metrics, prefix)


def predict(setup: Setup, params: Any, model_state: Any, inputs: Any) -> Any:
    """The model's outputs on in-memory ``inputs`` in evaluation mode, in chunks of ``setup.val_batch_size``."""
    n = _size(inputs)
    size, full, rest = _chunks(setup.val_batch_size, n)
    key = jax.random.key(0)

    def chunk(x: Any) -> Any:
        return setup.model.apply(params, model_state, _constrain(setup, x), key=key, train=False)[0]

    order = jnp.arange(n)
    pieces = []
    if full:
        stacked = jax.lax.map(chunk, _batches(inputs, order, full, size))
        pieces.append(jax.tree.map(lambda a: a.reshape((full * size,) + a.shape[2:]), stacked))
    if rest:
        pieces.append(chunk(_take(inputs, order[full * size:])))
    return pieces[0] if len(pieces) == 1 else jax.tree.map(lambda *a: jnp.concatenate(a), *pieces)


# -- tracking -----------------------------------------------------------------------------------------


def monitored(setup: Setup, has_val: bool) -> list[str]:
    """The History keys a monitor may name, in the order :func:`record` stacks them."""
    names = ["loss"] + [m.name for m in setup.metrics]
    return names + ["val_" + k for k in names] if has_val else names


def record(setup: Setup, state: TrainState, logs: dict, epoch: jax.Array, controls: Tracking) -> TrainState:
    """Early stopping and the best epoch, after an epoch whose values are ``logs``."""
    names = monitored(setup, "val_loss" in logs)
    value = jnp.stack([jnp.asarray(logs[k], float_dtype()) for k in names])[controls.monitor_index]
    tracker, improved = track(state.tracker, value, state.ok, epoch, controls)
    params = evaluation_params(state.opt_state, state.params)
    return state.replace(tracker=tracker, best_params=keep(improved, params, state.best_params),
                         best_model_state=keep(improved, state.model_state, state.best_model_state),
                         bad_epoch=jnp.where(state.ok, state.bad_epoch, epoch))


# -- several epochs in one call -----------------------------------------------------------------------


def epoch_logs(setup: Setup, state: TrainState, epoch: jax.Array, train: tuple,
               val: tuple | None) -> tuple[TrainState, dict]:
    """An unguarded epoch and its validation (after a bad step the caller still holds the epoch's start)."""
    new, logs = train_epoch(setup, state, epoch, train, guarded=False)
    if val is not None:
        logs.update(evaluate(setup, new, val))
    return new, logs


def log_names(setup: Setup, state: TrainState, train: tuple, val: tuple | None) -> list[str]:
    """The keys of :func:`epoch_logs`'s logs, from the loss's terms (one forward's shapes), the metrics,
    the scheduled weights and the optimizer state, without tracing an epoch."""
    sums = _sums_start(setup, state, train)
    names = list(_loss_logs("", sums)) + [m.name for m in setup.metrics]
    names += ["weight/" + k for k in setup.call.scheduled(jnp.int32(0))] + list(_learning_rate(state.opt_state))
    if val is not None:
        names += list(_loss_logs("val_", sums)) + ["val_" + m.name for m in setup.metrics]
    return names


def run_epochs(setup: Setup, state: TrainState, first_epoch: Any, count: Any, controls: Tracking, train: tuple,
               val: tuple | None = None) -> tuple[TrainState, TrainState, dict, jax.Array]:
    """Epochs ``first_epoch .. first_epoch + count - 1`` while no step was non-finite and none stopped.

    Returns the new state, the state at the start of the last epoch run (what a non-finite epoch is
    replayed from), per-epoch log buffers of length :data:`CHUNK` and the number of epochs recorded (an
    epoch with a non-finite step is not). The loop carries both states rather than selecting between
    them: a select over every parameter and optimizer state is code XLA compiles for each epoch.
    """
    first_epoch, count = jnp.asarray(first_epoch, jnp.int32), jnp.asarray(count, jnp.int32)
    buffers = {k: jnp.full((CHUNK,), jnp.nan, float_dtype()) for k in log_names(setup, state, train, val)}

    def cond(carry: tuple) -> jax.Array:
        i, _, state, _, _ = carry
        return (i < count) & state.ok & ~state.tracker.stopped

    def body(carry: tuple) -> tuple:
        i, done, state, _, buffers = carry
        epoch = first_epoch + i
        new, logs = epoch_logs(setup, state, epoch, train, val)
        new = record(setup, new, logs, epoch, controls)
        buffers = {k: b.at[i].set(jnp.asarray(logs[k], float_dtype())) for k, b in buffers.items()}
        return i + 1, done + new.ok.astype(jnp.int32), new, state, buffers

    _, done, state, start, buffers = jax.lax.while_loop(
        cond, body, (jnp.int32(0), jnp.int32(0), state, state, buffers))
    return state, start, buffers, done


# -- the compiled forms (JAX's cache, keyed by the static setup) ---------------------------------------

_static = functools.partial(jax.jit, static_argnums=0)

run = _static(run_epochs)
step = _static(train_step)
start = _static(start_epoch)
end = _static(end_epoch)
#: One guarded epoch over arrays (validation from an iterable), and the replay of an epoch with a bad
#: step from its start: the state just before its first bad step.
train_arrays = replay = _static(train_epoch)
evaluate_arrays = jax.jit(evaluate, static_argnums=(0, 3))
val_start = _static(evaluation_start)
val_step = _static(evaluate_batch)
val_end = jax.jit(evaluation_logs, static_argnums=(0, 3))
record_epoch = _static(record)
predict_arrays = _static(predict)
_shuffle_program = jax.jit(shuffle_order, static_argnums=2)
_batch_program = jax.jit(_batch_at, static_argnums=3)
