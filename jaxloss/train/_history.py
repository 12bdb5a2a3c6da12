"""History: what ``fit`` records per epoch, under Keras's names, with JSON and CSV round trips."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from jaxloss._arguments import choice_argument, integer_argument, text_argument

__all__ = ["History"]


class History(Mapping):
    """Per-epoch values under Keras-style names: ``history["loss"]``, ``history["val_auc"]``...

    A read-only mapping from name to a NumPy array with one value per epoch (``history["epoch"]``
    holds the epoch numbers, from 1). ``best_epoch`` and ``stopped_epoch`` (1-based, or None) mark
    the monitored quantity's best epoch and where early stopping fired.
    ``jaxloss.plot.history(history)`` draws it. ``mode`` says whether the monitored quantity is
    better low (``"min"``) or high (``"max"``).

    Every read gives new arrays. The History a callback receives (``EpochEnd.history``) is a read-only
    snapshot of the run's, and ``FitResult.history`` a new copy at each read: changing either changes
    nothing in the run or the result; :meth:`copy` gives one you can change.
    """

    def __init__(self, values: Mapping[str, Sequence[float]] | None = None, *, monitor: str | None = None,
                 mode: str = "min", best_epoch: int | None = None, stopped_epoch: int | None = None) -> None:
        if values is not None and not isinstance(values, Mapping):
            raise TypeError(f"History: values must be a dict name -> one number per epoch, e.g. "
                            f"{{'loss': [2.0, 1.0]}}, or None; got {type(values).__name__} {values!r}.")
        self._columns: dict[str, list[float]] | None = {
            _name(key): _column(f"values[{key!r}]", column) for key, column in (values or {}).items()}
        self._pending: dict[str, tuple[list[float], int]] | None = None
        self.monitor = text_argument("History", "monitor", monitor)
        self.mode = choice_argument("History", "mode", mode, ("min", "max"))
        self.best_epoch = _epoch("best_epoch", best_epoch)
        self.stopped_epoch = _epoch("stopped_epoch", stopped_epoch)

    @property
    def _values(self) -> dict[str, list[float]]:
        if self._columns is None:  # a snapshot, copied on its first read
            object.__setattr__(self, "_columns", {k: column[:n] for k, (column, n) in self._pending.items()})
            object.__setattr__(self, "_pending", None)
        return self._columns

    def __setattr__(self, name: str, value: Any) -> None:
        if getattr(self, "_read_only", False):
            raise AttributeError(f"History: this History is read-only (a snapshot of the run's, what a callback "
                                 f"receives), so {name} cannot be set; history.copy() gives one you can change.")
        object.__setattr__(self, name, value)

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
        """The number of epochs recorded."""
        return len(self._values.get("epoch", []))

    def append(self, logs: Mapping[str, float]) -> None:
        """Appends one epoch: ``logs`` maps a name to its value."""
        self._check_writable("append")
        for key, value in logs.items():
            self._values.setdefault(key, []).append(float(value))

    def extend(self, columns: Mapping[str, Sequence[float]]) -> None:
        """Appends several epochs at once: ``columns`` maps a name to its values, one per epoch."""
        self._check_writable("extend")
        for key, values in columns.items():
            self._values.setdefault(key, []).extend(float(v) for v in values)

    def _check_writable(self, method: str) -> None:
        if getattr(self, "_read_only", False):
            raise TypeError(f"History.{method}: this History is read-only (a snapshot of the run's, what a callback "
                            f"receives); history.copy() gives one you can change.")

    def copy(self) -> History:
        """A new History with the same values and markers, which you can change (also of a read-only one)."""
        new = object.__new__(History)
        for name, value in self._meta().items():
            object.__setattr__(new, name, value)
        object.__setattr__(new, "_columns", {k: list(v) for k, v in self._values.items()})
        object.__setattr__(new, "_pending", None)
        return new

    def _snapshot(self) -> History:
        """A read-only History of the epochs recorded so far. It costs one entry per name now and copies the
        values on its first read: this History only ever appends, so their first ``n`` entries stay put."""
        view = object.__new__(History)
        for name, value in self._meta().items():
            object.__setattr__(view, name, value)
        if self._columns is None:
            object.__setattr__(view, "_pending", self._pending)
        else:
            object.__setattr__(view, "_pending", {k: (v, len(v)) for k, v in self._columns.items()})
        object.__setattr__(view, "_columns", None)
        object.__setattr__(view, "_read_only", True)
        return view

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


def _name(key: Any) -> str:
    if not isinstance(key, str):
        raise TypeError(f"History: the keys of values are names (e.g. 'loss') and must be strings; got "
                        f"{type(key).__name__} {key!r}.")
    return key


def _column(argument: str, column: Any) -> list[float]:
    """One name's values, one number per epoch, as floats."""
    if isinstance(column, (str, bytes, Mapping)) or not hasattr(column, "__iter__"):
        raise TypeError(f"History: {argument} must be a list of numbers, one per epoch; got {type(column).__name__} "
                        f"{column!r}.")
    out = []
    for i, v in enumerate(column):
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            raise TypeError(f"History: {argument}[{i}] must be a number (one per epoch); got {type(v).__name__} "
                            f"{v!r}.") from None
    return out


def _epoch(argument: str, value: Any) -> int | None:
    """An epoch number (from 1), or None."""
    if value is None:
        return None
    return integer_argument("History", argument, value, low=1, meaning=" (an epoch, counted from 1) or None")


def _csv_number(key: str, value: float) -> str:
    return str(int(value)) if key == "epoch" and value == int(value) else repr(value)
