"""Early stopping with Keras's semantics, and the best-epoch tracking that runs on the device.

Keras's ``EarlyStopping.on_epoch_end``, step by step (keras 3.x, ``callbacks/early_stopping.py``),
for each epoch from ``start_from_epoch`` on:

1. ``wait += 1``;
2. if the value improves on the best so far (``value < best - min_delta`` in min mode; the first
   epoch considered always does), it becomes the best; ``wait`` goes back to 0 only if it also
   beats ``baseline`` (when one is given); nothing else happens that epoch;
3. otherwise, once ``wait >= patience`` (and the epoch is not the first), training stops.

So with a flat loss and ``patience=2`` training stops at epoch 3: one best epoch, then two epochs
without improvement. :func:`track` does the same with arrays, inside the compiled program, so that
several epochs run without the host.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp

from jaxloss._arguments import (choice_argument, flag_argument, integer_argument, real_argument,
                                text_argument)
from jaxloss.train._state import Tracker

__all__ = ["EarlyStopping", "Tracking", "track"]

Mode = Literal["auto", "min", "max"]


@dataclasses.dataclass(frozen=True)
class EarlyStopping:
    """Stop when ``monitor`` has not improved for ``patience`` epochs, as Keras's ``EarlyStopping`` does.

    Attributes:
      monitor: a History key (``"val_loss"``, ``"val_auc"``, ``"loss"``...); None means fit's ``monitor``.
      mode: ``"min"``, ``"max"`` or ``"auto"`` (max for metrics whose ``greater_is_better``, min otherwise).
      patience: epochs without improvement after which training stops.
      min_delta: an improvement must beat the best value by more than this.
      baseline: a value the monitored quantity must beat: until it does, the epochs count as
        without improvement (so training stops after ``patience`` epochs that never reach it).
      start_from_epoch: epochs at the start that are not monitored at all (a warm-up).
      restore_best: ``result.params`` are the best epoch's parameters when the run ends
        (``result.last_params`` keeps the last ones). Keras's ``restore_best_weights``, except that it
        is on by default.

    >>> import jaxloss as jl
    >>> jl.EarlyStopping(monitor="val_auc", patience=3)
    EarlyStopping(monitor='val_auc', mode='auto', patience=3, min_delta=0.0, baseline=None, start_from_epoch=0, restore_best=True)
    """

    monitor: str | None = None
    mode: Mode = "auto"
    patience: int = 5
    min_delta: float = 0.0
    baseline: float | None = None
    start_from_epoch: int = 0
    restore_best: bool = True

    def __post_init__(self) -> None:
        fn = "EarlyStopping"
        text_argument(fn, "monitor", self.monitor)
        choice_argument(fn, "mode", self.mode, ("auto", "min", "max"))
        for name in ("patience", "start_from_epoch"):
            integer_argument(fn, name, getattr(self, name), low=0)
        if not real_argument(fn, "min_delta", self.min_delta) >= 0:
            raise ValueError(f"EarlyStopping: min_delta={self.min_delta!r} is out of range; min_delta must be a number "
                             ">= 0 (an improvement must beat the best value by more than it).")
        if self.baseline is not None and not math.isfinite(real_argument(fn, "baseline", self.baseline, " or None")):
            raise ValueError(f"EarlyStopping: baseline={self.baseline!r} must be a finite number or None.")
        flag_argument(fn, "restore_best", self.restore_best)


class Tracking(NamedTuple):
    """What the compiled program needs to track the best epoch (traced values: changing them compiles nothing)."""

    monitor_index: int
    sign: float          # +1 to minimise, -1 to maximise
    min_delta: float
    patience: int        # -1: never stop
    start_from_epoch: int
    baseline: float      # NaN: none

    @classmethod
    def of(cls, monitor_index: int, mode: str, early_stopping: EarlyStopping | None) -> Tracking:
        sign = 1.0 if mode == "min" else -1.0
        if early_stopping is None:
            return cls(monitor_index, sign, 0.0, -1, 0, math.nan)
        baseline = math.nan if early_stopping.baseline is None else float(early_stopping.baseline)
        return cls(monitor_index, sign, float(early_stopping.min_delta), int(early_stopping.patience),
                   int(early_stopping.start_from_epoch), baseline)


def track(tracker: Tracker, value: jax.Array, ok: jax.Array, epoch: jax.Array,
          controls: Tracking) -> tuple[Tracker, jax.Array]:
    """One epoch of Keras's rule (module docstring): ``(new tracker, improved)``; ``epoch`` is 1-based.

    An epoch that was not ``ok`` (a non-finite step) changes nothing.
    """
    best, has_best, wait = tracker.best_value, tracker.has_best, tracker.wait
    value = jnp.asarray(value, best.dtype)
    index = epoch - 1  # Keras counts epochs from 0

    def better(current: jax.Array, reference: jax.Array) -> jax.Array:
        return controls.sign * (current - reference) < -controls.min_delta

    considered = ok & (index >= controls.start_from_epoch)
    improved = considered & (~has_best | better(value, best))
    beats_baseline = jnp.isnan(controls.baseline) | better(value, controls.baseline)
    wait = jnp.where(considered, jnp.where(improved & beats_baseline, 0, wait + 1), wait)
    stop = considered & ~improved & (controls.patience >= 0) & (wait >= controls.patience) & (index > 0)
    return Tracker(best_value=jnp.where(improved, value, best), has_best=has_best | improved,
                   best_epoch=jnp.where(improved, jnp.asarray(epoch, jnp.int32), tracker.best_epoch),
                   wait=wait.astype(jnp.int32), stopped=tracker.stopped | stop), improved
