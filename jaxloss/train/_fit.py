"""``fit``: its signature, its documentation and the checks of its arguments; the run is :mod:`._loop`'s."""

from __future__ import annotations

import numbers
import os
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import optax

from jaxloss import metrics as _metrics
from jaxloss import models as _models
from jaxloss._arguments import flag_argument, integer_argument
from jaxloss.train import _checkpoint, _checks, _loop, _optimizers
from jaxloss.train._callbacks import Callback, EpochEnd, as_callbacks
from jaxloss.train._early_stopping import EarlyStopping
from jaxloss.train._objective import as_loss_call
from jaxloss.train._result import FitResult

__all__ = ["fit", "DEFAULT_OPTIMIZER"]

#: The optimizer ``fit`` uses when given none (one object, so its compiled programs are reused).
DEFAULT_OPTIMIZER = optax.adam(1e-2)

def _parse_arguments(model: Any, args: tuple) -> tuple[_models.Model, Any, Any]:
    if _models.is_module(model):
        if len(args) != 2:
            raise TypeError(f"fit: with a {type(model).__name__} the call is fit(module, loss, train, ...): the module "
                            f"holds its parameters; got {len(args) + 1} positional arguments.")
        return _models.as_model(model), args[0], args[1]
    if not callable(model):
        raise TypeError(f"fit: model must be a function model(params, inputs), a flax nnx or equinox module, or a "
                        f"jaxloss.models.Model; got {type(model).__name__}.")
    if len(args) != 3:
        raise TypeError(f"fit: with a function model the call is fit(model, params, loss, train, ...); got "
                        f"{len(args) + 1} positional arguments.")
    return _models.as_model(model, args[0]), args[1], args[2]


def fit(model: Any, *args: Any,
        optimizer: optax.GradientTransformation | str | None = None,
        epochs: int = 10,
        batch_size: int = 32,
        val: Any = None,
        val_batch_size: int | None = None,
        steps_per_epoch: int | None = None,
        max_steps: int | None = None,
        metrics: Sequence[str | _metrics.Metric] = (),
        from_logits: bool | None = None,
        monitor: str | None = None,
        early_stopping: EarlyStopping | None = None,
        callbacks: Sequence[Callable[[EpochEnd], Any] | Callback] = (),
        seed: int = 0,
        progress: bool | str = True,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        resume_from: str | os.PathLike[str] | None = None,
        checkpoint_format: Literal["auto", "orbax", "npz"] = "auto",
        opt_state: Any = None,
        drop_remainder: bool = False,
        data_parallel: bool | None = None,
        prefetch: int = 2) -> FitResult:
    """Trains a model by gradient descent on a loss with optax; returns a :class:`FitResult`.

    Two call shapes::

        fit(model_fn, params, loss, train, ...)   # a pure function model_fn(params, inputs)
        fit(module, loss, train, ...)             # a flax nnx module, an equinox module (or the
                                                  # (module, state) pair), or a jaxloss.models.Model

    A module goes in as it is and comes back trained as ``result.model`` (the one given is left
    unchanged). Each training step gets its own random key (folded from ``seed`` and the step, so
    dropout differs per step and a resumed run draws the same), runs the model in training mode and
    carries its mutable state (BatchNorm statistics); validation runs in evaluation mode. See
    :mod:`jaxloss.models` for the contract.

    Args:
      model: see above.
      params: the initial parameters of a function model (any pytree of arrays).
      loss: a loss ``loss(predictions, targets)`` (registered, composite, or yours; one value per
        example is averaged), or an objective over the same model (``jl.objective(model, loss,
        regularizers=...)``). Composites and objectives receive the global optimizer step, so
        scheduled weights (``jl.warmup``) follow it; each term is recorded as ``loss/<term>`` and each
        scheduled weight as ``weight/<term>``.
      train: ``(inputs, targets)`` or a dict with ``"inputs"``, ``"targets"`` and optionally
        per-example ``"weights"`` and ``"where"``: arrays (or pytrees) with the examples on axis 0,
        shuffled and batched on the device in one compiled program per epoch; or any iterable of
        such batches (a generator, a data loader), prefetched to the device.
      optimizer: any optax transformation (default :data:`DEFAULT_OPTIMIZER`, Adam 1e-2), or the name
        of an optax optimizer at Keras's default learning rate: ``"adam"``, ``"adamw"``, ``"adamax"``,
        ``"nadam"``, ``"nadamw"``, ``"radam"``, ``"amsgrad"``, ``"adabelief"``, ``"adan"``, ``"lamb"``,
        ``"lion"``, ``"novograd"``, ``"yogi"``, ``"rmsprop"``, ``"adagrad"``, ``"adadelta"``,
        ``"adafactor"`` at 1e-3, ``"sgd"`` at 1e-2, ``"lbfgs"`` with its line search (other options
        at optax's defaults; for another learning rate pass ``optax.adam(3e-4)``). ``value=``,
        ``grad=`` and ``value_fn=`` reach those that read them (``optax.lbfgs``,
        ``optax.contrib.reduce_on_plateau``); with ``optax.contrib.schedule_free``, validation, the
        best epoch and ``result.params`` use its evaluation parameters.
      epochs: the number of epochs (the total, also when resuming).
      batch_size: examples per step for in-memory data; the remainder forms one smaller last step
        (``drop_remainder=True`` skips it).
      val: validation data, in-memory or an iterable (re-iterable: it is read every epoch).
      val_batch_size: chunk size for in-memory validation (default ``max(batch_size, 1024)``). The
        values do not depend on it, nor on ``batch_size``: ``loss``, ``val_loss`` and each
        ``loss/<term>`` are the weighted means the loss defines (its ``weights`` over its ``where``)
        over the whole epoch and the whole validation set.
      steps_per_epoch: for an iterable ``train``: cut epochs of this many batches from one stream (with
        in-memory arrays, where an epoch is one pass, it raises).
      max_steps: a budget of optimizer steps over the whole run (also when resuming), or None. The
        run ends when it is spent, with status ``"max_steps"``; the epoch it runs out in is recorded
        (its logs cover the steps taken). In-memory epochs the budget allows whole run fused as
        usual, the last one step by step.
      metrics: names (``jaxloss.metrics.get``) or streaming ``Metric`` objects, computed on the
        training batches (``history[name]``) and on ``val`` (``history["val_" + name]``). Names that
        threshold or calibrate predictions are built for what the loss takes (logits or
        probabilities: the registry knows it for its losses, composites and objectives); precision,
        recall and F1 count the classes of multiclass predictions. ``"auc"`` and
        ``"average_precision"`` are exact (scikit-learn's, on every score of the epoch or the
        validation set: their buffers are sized to in-memory data, and kept on the host batch by
        batch for iterables); ``"auc_histogram"`` is the fixed-memory approximation. ``"accuracy"``
        with one score per target (binary labels, a loss that does not take class scores) is binary
        accuracy, thresholded as the loss reads its predictions, and recorded as ``accuracy``, as in
        Keras.
      from_logits: say whether the predictions are logits, for metrics, when fit cannot know it
        (a loss of your own).
      monitor: the History key whose best epoch gives ``best_params`` (default ``"val_loss"`` with
        ``val``, ``"loss"`` without).
      early_stopping: an :class:`EarlyStopping` (Keras's rule), or None.
      callbacks: functions ``callback(end)`` of an :class:`EpochEnd` (epoch, logs, params, optimizer
        and model state) or :class:`Callback` objects, after every epoch; returning True or raising
        :class:`StopTraining` stops the run. A :class:`Callback` that overrides ``on_step_end`` also
        gets a :class:`StepEnd` after every optimizer step (the epochs then run one compiled step at a
        time, to the same result). What they receive is their own: changing it changes nothing in the
        run. With ``optax.inject_hyperparams``, History records ``learning_rate`` (the rate of each
        epoch's last step).
      seed: the seed of shuffling and of the model's random keys.
      progress: True (a bar in a terminal, a live bar in Jupyter, a line per epoch in a log), False,
        or ``"bar"``, ``"notebook"``, ``"lines"``.
      checkpoint_dir: save a checkpoint there after every epoch, atomically: each is written whole
        into a temporary directory, renamed to ``epoch_NNNNNN/`` and then named by the ``latest``
        file, so a crash leaves the previous or the new one, never a mix; the previous one is kept,
        older ones are removed. Every leaf is stored by its key path. Only process 0 writes.
      resume_from: a checkpoint directory to continue from (a ``checkpoint_dir``, or one
        ``epoch_NNNNNN/`` in it, of either format), to the same result as a run that was not
        interrupted. A torn checkpoint (files from different saves), an edited one, or one of another
        model or optimizer raises a ValueError naming the file and what differs (the key path, shape,
        dtype, or epoch).
      checkpoint_format: how ``checkpoint_dir`` stores the arrays: ``"orbax"`` (an orbax checkpoint;
        needs ``orbax-checkpoint``), ``"npz"`` (NumPy ``.npz``; never pickle), or ``"auto"`` (orbax
        when it is installed, else npz). The metadata and history are JSON either way.
      opt_state: an optimizer state to start from (default ``optimizer.init(params)``).
      drop_remainder: skip the last partial batch of each epoch.
      data_parallel: shard each batch over the local devices (default: when there are several and
        ``batch_size`` divides evenly); False turns it off, True requires it.
      prefetch: how many batches of an iterable are put on the device ahead of the step.

    Returns:
      A :class:`FitResult`: ``params``, ``model`` (for modules), ``history``, ``status``, ``message``.

    Raises:
      TypeError, ValueError, KeyError: before anything is compiled, naming the argument, what arrived
        and the fix: every argument's type and range, then the data against the model and the loss
        (:mod:`jaxloss.train._checks`): arrays of strings; inputs the model cannot take and predictions
        the loss cannot take (traced on one batch, shapes only); NaN or inf in the inputs, targets or
        weights of ``train`` or ``val``; targets outside what the loss takes (binary labels outside
        [0, 1], class indices outside the model's ``[0, K)``, ...). In-memory data are checked whole
        (one vectorised NumPy pass each); an iterable's first batch only.
    """
    # Every argument's type and range, before anything is built or compiled.
    epochs = integer_argument("fit", "epochs", epochs, low=0)
    batch_size = integer_argument("fit", "batch_size", batch_size, low=1)
    for key, value in (("val_batch_size", val_batch_size), ("steps_per_epoch", steps_per_epoch),
                       ("max_steps", max_steps)):
        if value is not None:
            integer_argument("fit", key, value, low=1)
    seed = integer_argument("fit", "seed", seed,
                            meaning=" (the seed of shuffling and of the model's keys, e.g. seed=0)")
    prefetch = integer_argument("fit", "prefetch", prefetch, low=0)
    for key, value, optional in (("from_logits", from_logits, True), ("drop_remainder", drop_remainder, False),
                                 ("data_parallel", data_parallel, True)):
        flag_argument("fit", key, value, optional=optional)
    if not isinstance(progress, (bool, np.bool_, str)):  # a string is checked with the display it names
        raise TypeError(f"fit: progress must be True, False, 'bar', 'notebook' or 'lines'; got {progress!r}.")
    optimizer = _optimizers.optimizer_argument("fit", "optimizer", optimizer)
    if early_stopping is not None and not isinstance(early_stopping, EarlyStopping):
        example = (f"jl.EarlyStopping(monitor={early_stopping!r}, patience=5)" if isinstance(early_stopping, str)
                   else "jl.EarlyStopping(patience=5)")
        raise TypeError(f"fit: early_stopping must be a jl.EarlyStopping(...) or None; got "
                        f"{type(early_stopping).__name__} {early_stopping!r}. Pass early_stopping={example}.")
    if monitor is not None and not isinstance(monitor, str):
        raise TypeError(f"fit: monitor must be a History key (e.g. 'val_loss') or None; got {type(monitor).__name__}.")
    for key, value in (("checkpoint_dir", checkpoint_dir), ("resume_from", resume_from)):
        if value is not None and not isinstance(value, (str, os.PathLike)):
            raise TypeError(f"fit: {key} must be a directory path or None; got {type(value).__name__} {value!r}.")
    checkpoint_backend = _checkpoint.checkpoint_backend(checkpoint_format)
    _checks.metrics_argument("fit", metrics)
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"fit: callbacks must be a list of functions callback(end) or jl.Callback objects; got "
                        f"{type(callbacks).__name__} {callbacks!r}.")
    for i, c in enumerate(callbacks):
        if not callable(c) and not isinstance(c, Callback):
            raise TypeError(f"fit: callbacks[{i}] must be a function callback(end) or a jl.Callback; got "
                            f"{type(c).__name__} {c!r}.")
    lifted, loss, train = _parse_arguments(model, args)
    data = "data: (inputs, targets), a dict with 'inputs' and 'targets', or an iterable of batches"
    for key, value in (("train", train), ("val", val)):
        if (value is None and key == "train") or isinstance(value, (str, bytes, numbers.Number)):
            raise TypeError(f"fit: {key} must be {data}; got {type(value).__name__} {value!r}.")
    _checks.loss_argument("fit", loss)
    call = as_loss_call(loss, model)
    _checks.data_arguments(train, val, batch_size=batch_size, val_batch_size=val_batch_size,
                           steps_per_epoch=steps_per_epoch, drop_remainder=drop_remainder)
    optimizer = DEFAULT_OPTIMIZER if optimizer is None else optimizer
    run = _loop.Run.prepare(lifted, call, loss, train, optimizer=optimizer, epochs=epochs, batch_size=batch_size, val=val,
                       val_batch_size=val_batch_size, steps_per_epoch=steps_per_epoch, metrics=metrics,
                       from_logits=from_logits, monitor=monitor, early_stopping=early_stopping, seed=seed,
                       resume_from=resume_from, opt_state=opt_state, drop_remainder=drop_remainder,
                       data_parallel=data_parallel, max_steps=max_steps)
    destination = None if checkpoint_dir is None else _checkpoint.Destination(os.fspath(checkpoint_dir),
                                                                                checkpoint_backend)
    return run.train(callbacks=as_callbacks(callbacks), progress=progress, checkpoint_dir=destination,
                     prefetch=prefetch)


