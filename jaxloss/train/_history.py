"""History: what ``fit`` records per epoch, under Keras's names, with JSON and CSV round trips."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["History"]


class History(Mapping):
    """Per-epoch values under Keras-style names: ``history["loss"]``, ``history["val_auc"]``...

    A read-only mapping from name to a NumPy array with one value per epoch (``history["epoch"]``
    holds the epoch numbers, from 1). ``best_epoch`` and ``stopped_epoch`` (1-based, or None) mark
    the monitored quantity's best epoch and where early stopping fired.
    ``jaxloss.plot.history(history)`` draws it.
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


def _csv_number(key: str, value: float) -> str:
    return str(int(value)) if key == "epoch" and value == int(value) else repr(value)
