"""What ``fit`` returns: the trained parameters (or module), the History, and how the run ended."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import jax
import numpy as np

from jaxloss.train._history import History

__all__ = ["FitResult", "Status"]

Status = Literal["completed", "early_stopped", "stopped_by_callback", "max_steps", "data_exhausted", "non_finite",
                 "interrupted"]


def _leaf(x: Any) -> Any:
    return np.array(x) if isinstance(x, np.ndarray) else x


def own_tree(tree: Any) -> Any:
    """``tree``'s values in new containers (dicts, lists, optax states, nnx Variables): JAX arrays are
    immutable, so this is all a caller needs to own them; NumPy arrays, which are not, are copied."""
    return jax.tree.map(_leaf, tree)


class FitResult:
    """What ``fit`` returns.

    Everything a FitResult or a callback hands out is the caller's own: each read of ``params``,
    ``opt_state``, ``model_state``, ``history`` or ``model`` gives new containers (a new module), so
    changing, training or calling what you got changes nothing in the result or the run.

    Attributes:
      params: the parameters to use: the best epoch's when early stopping restores them, else the
        last ones (with a schedule-free optimizer, its evaluation parameters).
      best_params: the parameters at the best epoch of the monitored quantity.
      last_params: the optimizer's parameters after the last epoch that ran (the last finite ones;
        with ``opt_state``, what training continues from).
      opt_state: the optimizer state that goes with ``last_params``.
      model_state: the model's mutable state (BatchNorm statistics) that goes with ``params``;
        ``()`` for a stateless model. ``last_model_state`` goes with ``last_params``.
      model: a new module of the kind given to ``fit``, in evaluation mode (see :attr:`model`).
      history: the :class:`History` (a copy at each read).
      status: ``"completed"``, ``"early_stopped"``, ``"stopped_by_callback"``, ``"max_steps"`` (the
        ``max_steps`` budget ran out before the last epoch), ``"data_exhausted"``
        (a one-shot iterator ran out), ``"non_finite"`` or ``"interrupted"``.
      message: the status in words (for ``"non_finite"``, the epoch and the step).
      epochs: the number of epochs run; steps: the optimizer steps taken.
      compile_seconds: time spent tracing and compiling the training program (0 when it was cached).
    """

    __slots__ = ("_trees", "_history", "_rebuild", "status", "message", "epochs", "steps", "compile_seconds")

    def __init__(self, params: Any, best_params: Any, last_params: Any, opt_state: Any, history: History,
                 status: Status, message: str, epochs: int, steps: int = 0, model_state: Any = (),
                 last_model_state: Any = (), compile_seconds: float = 0.0,
                 rebuild: Callable[[Any, Any], Any] | None = None) -> None:
        if not isinstance(history, History):
            raise TypeError(f"FitResult: history must be a jl.History; got {type(history).__name__}.")
        own = object.__setattr__
        own(self, "_trees", own_tree({"params": params, "best_params": best_params, "last_params": last_params,
                                      "opt_state": opt_state, "model_state": model_state,
                                      "last_model_state": last_model_state}))
        own(self, "_history", history.copy())
        own(self, "_rebuild", rebuild)
        own(self, "status", status)
        own(self, "message", message)
        own(self, "epochs", epochs)
        own(self, "steps", steps)
        own(self, "compile_seconds", compile_seconds)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"FitResult is read-only: {name} cannot be set. Each read of an attribute gives you "
                             f"your own copy to change (params = result.params; params[...] = ...).")

    def __delattr__(self, name: str) -> None:
        self.__setattr__(name, None)

    def __setstate__(self, state: Any) -> None:  # copy.copy, copy.deepcopy
        for slots in state if isinstance(state, tuple) else (state,):
            for name, value in (slots or {}).items():
                object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        return f"FitResult(status={self.status!r}, epochs={self.epochs}, message={self.message!r})"

    @property
    def params(self) -> Any:
        """The parameters to use (the best epoch's when early stopping restores them, else the last ones)."""
        return own_tree(self._trees["params"])

    @property
    def best_params(self) -> Any:
        """The parameters at the best epoch of the monitored quantity."""
        return own_tree(self._trees["best_params"])

    @property
    def last_params(self) -> Any:
        """The optimizer's parameters after the last epoch that ran (what training continues from)."""
        return own_tree(self._trees["last_params"])

    @property
    def opt_state(self) -> Any:
        """The optimizer state that goes with ``last_params``."""
        return own_tree(self._trees["opt_state"])

    @property
    def model_state(self) -> Any:
        """The model's mutable state (BatchNorm statistics) that goes with ``params``; ``()`` if none."""
        return own_tree(self._trees["model_state"])

    @property
    def last_model_state(self) -> Any:
        """The model's mutable state that goes with ``last_params``."""
        return own_tree(self._trees["last_model_state"])

    @property
    def history(self) -> History:
        """The :class:`History` of the run, a new copy at each read."""
        return self._history.copy()

    @property
    def rebuild(self) -> Callable[[Any, Any], Any] | None:
        """``rebuild(params, state)`` -> a module of the kind given to ``fit`` (None for a plain function)."""
        return self._rebuild

    @property
    def ok(self) -> bool:
        """False when the run stopped on a non-finite value or was interrupted."""
        return self.status in ("completed", "early_stopped", "stopped_by_callback", "max_steps", "data_exhausted")

    @property
    def model(self) -> Any:
        """A new trained module at each read, of the kind given to ``fit`` (a flax nnx module, an equinox
        module or ``(module, state)`` pair), in evaluation mode (nnx ``.eval()``, ``eqx.nn.inference_mode``),
        holding ``params`` and ``model_state``; None for a plain function. Calling it in training mode or
        fine-tuning it changes nothing here, and the module given to ``fit`` is left as it was."""
        if self._rebuild is None:
            return None
        return self._rebuild(own_tree(self._trees["params"]), own_tree(self._trees["model_state"]))
