"""Callbacks: what ``fit`` hands the host after every epoch, and two loggers built on it.

A callback is a function ``callback(end: EpochEnd)`` or a :class:`Callback` object. It runs after
each epoch on the host, with the epoch's logs and its own copies of the current parameters, optimizer
state and model state (changing them changes nothing in the run), so checkpointing (orbax), logging
(CSV, TensorBoard) or a custom evaluation is a few lines. Returning True or raising
:class:`StopTraining` stops the run after that epoch.
"""

from __future__ import annotations

import csv
import os
import types
from collections.abc import Callable, Mapping
from typing import Any

from jaxloss._arguments import flag_argument, path_argument
from jaxloss.train._history import History
from jaxloss.train._result import own_tree

__all__ = ["EpochEnd", "StepEnd", "Callback", "StopTraining", "CSVLogger", "TensorBoardLogger"]


class StopTraining(Exception):
    """Raise from a callback to stop ``fit`` after the current epoch."""


class _Handed:
    """What a callback receives: read-only, and each read of a tree gives new containers (a new module)."""

    __slots__ = ()

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only: {name} cannot be set; what its attributes give "
                             f"is your own copy to change (params = end.params; params[...] = ...), which the run "
                             f"never sees.")

    def __delattr__(self, name: str) -> None:
        self.__setattr__(name, None)

    @property
    def params(self) -> Any:
        """The parameters (device arrays), in new containers at each read."""
        return own_tree(self._trees["params"])

    @property
    def opt_state(self) -> Any:
        """The optimizer state, in new containers at each read."""
        return own_tree(self._trees["opt_state"])

    @property
    def model_state(self) -> Any:
        """The model's mutable state (BatchNorm statistics; ``()`` if none), in new containers at each read."""
        return own_tree(self._trees["model_state"])

    @property
    def model(self) -> Any:
        """A new module holding ``params`` and ``model_state`` at each read (flax nnx / equinox, in
        evaluation mode); None for a plain function model."""
        if self.rebuild is None:
            return None
        return self.rebuild(own_tree(self._trees["params"]), own_tree(self._trees["model_state"]))


class EpochEnd(_Handed):
    """What a callback receives after each epoch: the caller's own, so changing it changes nothing in the run.

    Each read of ``params``, ``opt_state``, ``model_state`` or ``model`` gives new containers (a new
    module, in evaluation mode), ``logs`` is a read-only mapping and ``history`` a read-only snapshot
    (``.copy()`` gives one you can change): a callback that assigns into ``end.params`` or trains
    ``end.model`` changes neither the run, nor the result, nor what another callback sees.

    Attributes:
      epoch: the epoch just finished (1-based).
      logs: the epoch's values under their History names (``"loss"``, ``"val_auc"``...), as floats.
      params: the parameters after this epoch (device arrays).
      opt_state: the optimizer state after this epoch.
      model_state: the model's mutable state (BatchNorm statistics), ``()`` for stateless models.
      step: optimizer steps taken so far, over the whole run.
      history: the History so far (this epoch included), read-only.
      model: the module as of this epoch (flax nnx / equinox), None for a plain function.
    """

    __slots__ = ("epoch", "logs", "_trees", "step", "history", "rebuild")

    def __init__(self, epoch: int, logs: Mapping[str, float], params: Any, opt_state: Any, model_state: Any,
                 step: int, history: History, rebuild: Callable[[Any, Any], Any] | None = None) -> None:
        own = object.__setattr__
        own(self, "epoch", epoch)
        own(self, "logs", types.MappingProxyType(dict(logs)))
        own(self, "_trees", own_tree({"params": params, "opt_state": opt_state, "model_state": model_state}))
        own(self, "step", step)
        own(self, "history", history._snapshot() if isinstance(history, History) else history)
        own(self, "rebuild", rebuild)

    def __repr__(self) -> str:
        return f"EpochEnd(epoch={self.epoch}, step={self.step}, logs={dict(self.logs)})"


class StepEnd(_Handed):
    """What :meth:`Callback.on_step_end` receives after each optimizer step, read-only like :class:`EpochEnd`.

    A callback that overrides ``on_step_end`` makes the epochs run one compiled step at a time (slower);
    return True or raise :class:`StopTraining` to stop after this step.

    Attributes:
      epoch: the epoch under way (1-based).
      step: optimizer steps taken so far, over the whole run (this one included).
      loss: this step's training loss (a device scalar: ``float(end.loss)`` reads it).
      params, opt_state, model_state: after this step, in new containers at each read.
      model: the module after this step (flax nnx / equinox, evaluation mode), None for a plain function.
    """

    __slots__ = ("epoch", "step", "loss", "_trees", "rebuild")

    def __init__(self, epoch: int, step: int, loss: Any, params: Any, opt_state: Any, model_state: Any,
                 rebuild: Callable[[Any, Any], Any] | None = None) -> None:
        own = object.__setattr__
        own(self, "epoch", epoch)
        own(self, "step", step)
        own(self, "loss", loss)
        # Copied at each read, not here: the loop makes new trees every step and never changes these.
        own(self, "_trees", {"params": params, "opt_state": opt_state, "model_state": model_state})
        own(self, "rebuild", rebuild)

    def __repr__(self) -> str:
        return f"StepEnd(epoch={self.epoch}, step={self.step})"


class Callback:
    """Base class for callbacks with set-up and tear-down; override what you need.

    ``on_train_begin()`` runs before the first epoch, ``on_epoch_end(end)`` after each one (return
    True to stop), ``on_step_end(end)`` after each optimizer step if overridden, ``on_train_end(result)``
    once at the end with the :class:`~jaxloss.FitResult`, also after an error or Ctrl-C has ended the run.
    """

    def on_train_begin(self) -> None:
        """Runs once before the first epoch."""

    def on_epoch_end(self, end: EpochEnd) -> bool | None:
        """Runs after each epoch with its :class:`EpochEnd`; return True to stop the run."""
        return None

    def on_step_end(self, end: StepEnd) -> bool | None:
        """Runs after each optimizer step with its :class:`StepEnd` (only where overridden: the epochs then
        run step by step); return True to stop the run."""
        return None

    def on_train_end(self, result: Any) -> None:
        """Runs once at the end with the :class:`~jaxloss.FitResult` (None if an error ended the run)."""


class _FunctionCallback(Callback):
    def __init__(self, fn: Callable[[EpochEnd], Any]) -> None:
        self.fn = fn

    def on_epoch_end(self, end: EpochEnd) -> bool | None:
        return self.fn(end)


def as_callbacks(callbacks: Any) -> tuple[Callback, ...]:
    """``fit``'s ``callbacks`` argument (one callback or a sequence) as :class:`Callback` objects."""
    if isinstance(callbacks, Callback) or callable(callbacks):
        callbacks = (callbacks,)
    out = []
    for c in callbacks:
        if isinstance(c, Callback):
            out.append(c)
        elif callable(c):
            out.append(_FunctionCallback(c))
        else:
            raise TypeError(f"fit: a callback is a function callback(end) or a jl.Callback; got {type(c).__name__}.")
    return tuple(out)


class CSVLogger(Callback):
    """Writes one CSV row per epoch (``epoch`` first, then every History key), flushed each epoch.

    Args:
      path: the file to write.
      append: add to an existing file (a resumed run) instead of starting a new one.

    Example: ``jl.fit(..., callbacks=[jl.CSVLogger("run.csv")])``.
    """

    def __init__(self, path: str | os.PathLike[str], *, append: bool = False) -> None:
        self.path = path_argument("CSVLogger", "path", path, what="the path of the CSV file to write")
        self.append = flag_argument("CSVLogger", "append", append)
        self._file: Any = None
        self._writer: Any = None
        self._keys: list[str] | None = None

    def on_train_begin(self) -> None:
        exists = self.append and os.path.exists(self.path) and os.path.getsize(self.path) > 0
        self._file = open(self.path, "a" if self.append else "w", newline="")
        self._writer = csv.writer(self._file)
        self._keys = None
        if exists:
            with open(self.path, newline="") as f:
                self._keys = next(csv.reader(f), None)

    def on_epoch_end(self, end: EpochEnd) -> None:
        row = {"epoch": end.epoch, **end.logs}
        if self._keys is None:
            self._keys = list(row)
            self._writer.writerow(self._keys)
        self._writer.writerow([repr(row[k]) if isinstance(row.get(k), float) else row.get(k, "") for k in self._keys])
        self._file.flush()

    def on_train_end(self, result: Any) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class TensorBoardLogger(Callback):
    """Writes every epoch's values as TensorBoard scalars, the Keras way: training values under
    ``logdir/train``, validation values (``val_x``) as ``x`` under ``logdir/validation``, so both
    curves share a chart (tags ``epoch_loss``, ``epoch_auc``...).

    Needs the optional package ``tensorboardX`` (``pip install tensorboardX``); view with
    ``tensorboard --logdir LOGDIR``.
    """

    def __init__(self, logdir: str | os.PathLike[str]) -> None:
        logdir = path_argument("TensorBoardLogger", "logdir", logdir, what="a directory path")
        try:
            from tensorboardX import SummaryWriter
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError("TensorBoardLogger needs tensorboardX: pip install tensorboardX") from err
        self._writer_class = SummaryWriter
        self.logdir = os.fspath(logdir)
        self._writers: dict[str, Any] = {}

    def on_train_begin(self) -> None:
        self._writers = {split: self._writer_class(os.path.join(self.logdir, split))
                         for split in ("train", "validation")}

    def on_epoch_end(self, end: EpochEnd) -> None:
        for key, value in end.logs.items():
            split, name = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
            self._writers[split].add_scalar(f"epoch_{name}", value, end.epoch)
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, result: Any) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers = {}
