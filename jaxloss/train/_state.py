"""The training state: frozen pytrees that cross ``jax.jit``, and the static definition of a run.

* :class:`Tracker`: Keras's early-stopping count and the best value so far (arrays);
* :class:`TrainState`: everything a run carries from epoch to epoch: parameters, optimizer and model
  state, the step, the seed, the non-finite flags, the tracker and the best epoch's trees;
* :class:`Carry`: an epoch in progress: the step's inputs and outputs, the epoch's loss sums and metric
  states;
* :class:`Setup`: what is fixed for a run (the model's definition, the loss, the optimizer, the
  metrics, the batch sizes, the mesh). It holds no arrays, is hashable, and is the static argument of
  the compiled programs, so JAX's own cache keys them: a second run with an equal setup compiles
  nothing new, and nothing here keeps a user's parameters alive.

The pytrees are frozen dataclasses registered with :func:`jax.tree_util.register_dataclass`: change
one with ``state.replace(field=value)``, which returns a new one.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["Tracker", "TrainState", "Carry", "Setup", "ModelDefinition", "float_dtype"]


def float_dtype() -> Any:
    """The dtype of recorded values: float64 when x64 is on (History's values are Python floats)."""
    return jax.dtypes.canonicalize_dtype(np.float64)


class _Replace:
    def replace(self, **changes: Any) -> Any:
        """A copy with ``changes`` (the original is unchanged)."""
        return dataclasses.replace(self, **changes)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Tracker(_Replace):
    """Keras's early-stopping rule's state (``jaxloss.train._early_stopping.track`` advances it)."""

    best_value: jax.Array
    has_best: jax.Array
    best_epoch: jax.Array
    wait: jax.Array
    stopped: jax.Array

    @classmethod
    def start(cls, best_value: float = math.nan, has_best: bool = False, best_epoch: int = 0,
              wait: int = 0) -> Tracker:
        """A tracker before any epoch (or as a checkpoint left it)."""
        return cls(jnp.asarray(best_value, float_dtype()), jnp.asarray(has_best), jnp.asarray(best_epoch, jnp.int32),
                   jnp.asarray(wait, jnp.int32), jnp.asarray(False))


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class TrainState(_Replace):
    """A run between epochs.

    Attributes:
      params, opt_state, model_state: the model's parameters, the optimizer's state, the model's
        mutable state (BatchNorm statistics; ``()`` when none).
      step: optimizer steps taken (the global step: dropout keys and scheduled weights follow it).
      seed: the run's seed (shuffling, dropout and evaluation keys are folded from it).
      ok: False once a step was non-finite; ``bad_epoch`` and ``bad_step`` say where.
      tracker: the early-stopping state; ``best_params`` and ``best_model_state``: the best epoch's.
    """

    params: Any
    opt_state: Any
    model_state: Any
    step: jax.Array
    seed: jax.Array
    ok: jax.Array
    bad_epoch: jax.Array
    bad_step: jax.Array
    tracker: Tracker
    best_params: Any
    best_model_state: Any

    @classmethod
    def start(cls, params: Any, opt_state: Any, model_state: Any, *, seed: int, step: int = 0,
              tracker: Tracker | None = None, best_params: Any = None, best_model_state: Any = None) -> TrainState:
        """The state before the first epoch (``best_*`` default to the starting trees)."""
        return cls(params, opt_state, model_state, np.int32(step), np.uint32(seed), np.bool_(True), np.int32(0),
                   np.int32(-1), Tracker.start() if tracker is None else tracker,
                   params if best_params is None else best_params,
                   model_state if best_model_state is None else best_model_state)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Carry(_Replace):
    """An epoch in progress, what each training step takes and gives back.

    ``sums`` is ``(total, parts)``: for each entry of the loss, the numerator and denominator of its
    weighted mean over the epoch so far (``LossCall.sums``); ``metrics``: the metrics' states;
    ``index``: the step's index in the epoch; ``bad_step``: the index of its first non-finite step;
    ``value``: the last step's loss (NaN before the first).
    """

    params: Any
    opt_state: Any
    model_state: Any
    step: jax.Array
    seed: jax.Array
    ok: jax.Array
    bad_step: jax.Array
    index: jax.Array
    sums: Any
    metrics: tuple
    value: jax.Array


class ModelDefinition:
    """A model's forward function without its arrays: equal to another when the model says they compute
    the same function (``Model.cache_key``), else only to itself. Holds ``apply`` and nothing else."""

    __slots__ = ("apply", "key")

    def __init__(self, model: Any) -> None:
        key = model.cache_key
        try:
            hash(key)
        except TypeError:
            key = None
        self.apply, self.key = model.apply, key

    def _identity(self) -> Any:
        return ("apply", id(self.apply)) if self.key is None else self.key

    def __hash__(self) -> int:
        return hash(self._identity())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ModelDefinition):
            return NotImplemented
        if self.key is None or other.key is None:
            return self.apply is other.apply
        return self.key == other.key


@dataclasses.dataclass(frozen=True, eq=False)
class Setup:
    """What is fixed for a run: the static argument of the compiled programs (see the module docstring).

    Equal setups (equal pieces) share compiled programs. A piece that cannot be hashed (a loss holding
    an array option) makes the setup equal only to itself: its programs compile once per ``fit``.
    """

    model: ModelDefinition
    call: Any
    optimizer: Any
    metrics: tuple
    batch_size: int
    val_batch_size: int
    drop_remainder: bool
    mesh: Any

    def _pieces(self) -> tuple:
        return (self.model, self.call, self.optimizer, self.metrics, self.batch_size, self.val_batch_size,
                self.drop_remainder, self.mesh)

    def __hash__(self) -> int:
        try:
            return hash(self._pieces())
        except TypeError:
            return id(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Setup):
            return NotImplemented
        if self is other:
            return True
        try:
            hash(self._pieces()), hash(other._pieces())
        except TypeError:
            return False
        return self._pieces() == other._pieces()
