"""Callbacks: what ``fit`` hands the host after every epoch, and two loggers built on it.

A callback is a function ``callback(end: EpochEnd)`` or a :class:`Callback` object. It runs after
each epoch on the host, with the epoch's logs and read access to the current parameters, optimizer
state and model state, so checkpointing (orbax), logging (CSV, TensorBoard) or a custom evaluation
is a few lines. Returning True or raising :class:`StopTraining` stops the run after that epoch.
"""

from __future__ import annotations

import csv
import dataclasses
import os
from collections.abc import Callable, Mapping
from typing import Any

from jaxloss._arguments import flag_argument, path_argument
from jaxloss.train._history import History

__all__ = ["EpochEnd", "Callback", "StopTraining", "CSVLogger", "TensorBoardLogger"]


class StopTraining(Exception):
    """Raise from a callback to stop ``fit`` after the current epoch."""


@dataclasses.dataclass(frozen=True)
class EpochEnd:
    """What a callback receives after each epoch (read-only: changing it changes nothing in the run).

    Attributes:
      epoch: the epoch just finished (1-based).
      logs: the epoch's values under their History names (``"loss"``, ``"val_auc"``...), as floats.
      params: the parameters after this epoch (device arrays).
      opt_state: the optimizer state after this epoch.
      model_state: the model's mutable state (BatchNorm statistics), ``()`` for stateless models.
      step: optimizer steps taken so far, over the whole run.
      history: the History so far (this epoch included).
    """

    epoch: int
    logs: Mapping[str, float]
    params: Any
    opt_state: Any
    model_state: Any
    step: int
    history: History
    rebuild: Callable[[Any, Any], Any] | None = dataclasses.field(default=None, repr=False)

    @property
    def model(self) -> Any:
        """The trained module as of this epoch (flax nnx / equinox), or None for a plain function model."""
        return None if self.rebuild is None else self.rebuild(self.params, self.model_state)


class Callback:
    """Base class for callbacks with set-up and tear-down; override what you need.

    ``on_train_begin()`` runs before the first epoch, ``on_epoch_end(end)`` after each one (return
    True to stop), ``on_train_end(result)`` once at the end with the :class:`~jaxloss.FitResult`, also
    after an error or Ctrl-C has ended the run.
    """

    def on_train_begin(self) -> None:
        pass

    def on_epoch_end(self, end: EpochEnd) -> bool | None:
        return None

    def on_train_end(self, result: Any) -> None:
        pass


class _FunctionCallback(Callback):
    def __init__(self, fn: Callable[[EpochEnd], Any]) -> None:
        self.fn = fn

    def on_epoch_end(self, end: EpochEnd) -> bool | None:
        return self.fn(end)


def as_callbacks(callbacks: Any) -> tuple[Callback, ...]:
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
