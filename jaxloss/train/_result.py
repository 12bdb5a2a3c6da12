"""What ``fit`` returns: the trained parameters (or module), the History, and how the run ended."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Literal

from jaxloss.train._history import History

__all__ = ["FitResult", "Status"]

Status = Literal["completed", "early_stopped", "stopped_by_callback", "data_exhausted", "non_finite", "interrupted"]


@dataclasses.dataclass
class FitResult:
    """What ``fit`` returns.

    Attributes:
      params: the parameters to use: the best epoch's when early stopping restores them, else the
        last ones (with a schedule-free optimizer, its evaluation parameters).
      best_params: the parameters at the best epoch of the monitored quantity.
      last_params: the optimizer's parameters after the last epoch that ran (the last finite ones;
        with ``opt_state``, what training continues from).
      opt_state: the optimizer state that goes with ``last_params``.
      model_state: the model's mutable state (BatchNorm statistics) that goes with ``params``;
        ``()`` for a stateless model. ``last_model_state`` goes with ``last_params``.
      history: the :class:`History`.
      status: ``"completed"``, ``"early_stopped"``, ``"stopped_by_callback"``, ``"data_exhausted"``
        (a one-shot iterator ran out), ``"non_finite"`` or ``"interrupted"``.
      message: the status in words (for ``"non_finite"``, the epoch and the step).
      epochs: the number of epochs run; steps: the optimizer steps taken.
      compile_seconds: time spent tracing and compiling the training program (0 when it was cached).
    """

    params: Any
    best_params: Any
    last_params: Any
    opt_state: Any
    history: History
    status: Status
    message: str
    epochs: int
    steps: int = 0
    model_state: Any = ()
    last_model_state: Any = ()
    compile_seconds: float = 0.0
    rebuild: Callable[[Any, Any], Any] | None = dataclasses.field(default=None, repr=False)

    def __repr__(self) -> str:
        return f"FitResult(status={self.status!r}, epochs={self.epochs}, message={self.message!r})"

    @property
    def ok(self) -> bool:
        """False when the run stopped on a non-finite value or was interrupted."""
        return self.status in ("completed", "early_stopped", "stopped_by_callback", "data_exhausted")

    @property
    def model(self) -> Any:
        """The trained module, of the kind given to ``fit`` (a flax nnx module, an equinox module or
        ``(module, state)`` pair), holding ``params`` and ``model_state``; None for a plain function.
        The module given to ``fit`` is left as it was."""
        return None if self.rebuild is None else self.rebuild(self.params, self.model_state)
