"""Objectives: a loss lifted over a model's parameters, plus regularizers; the batch convention."""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jaxloss import _registry
from jaxloss import models as _models
from jaxloss.compose._calling import call_loss
from jaxloss.compose._composite import Composite, resolve
from jaxloss.compose._regularizers import Regularizer

__all__ = ["Objective", "objective", "unpack_batch"]


def unpack_batch(batch: Any) -> tuple[Any, Any, dict[str, Any]]:
    """``(inputs, targets, {"weights": ..., "where": ...})`` from a batch (see the module docstring)."""
    return _unpack(batch, "unpack_batch")


def _unpack(batch: Any, fn: str) -> tuple[Any, Any, dict[str, Any]]:
    """:func:`unpack_batch`, its errors naming ``fn`` (the objective that was given the batch, or
    ``unpack_batch`` itself)."""
    if isinstance(batch, Mapping):
        missing = [k for k in ("inputs", "targets") if k not in batch]
        extra = [k for k in batch if k not in ("inputs", "targets", "weights", "where")]
        if missing or extra:
            raise ValueError(
                f"{fn}: batch, a dict, needs the keys 'inputs' and 'targets' (optional 'weights', 'where'); "
                f"got keys {sorted(map(str, batch))}" + (f", missing {missing}" if missing else "")
                + (f", unknown {extra}" if extra else "") + "."
            )
        return batch["inputs"], batch["targets"], {k: batch[k] for k in ("weights", "where") if batch.get(k) is not None}
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch[0], batch[1], {}
    raise ValueError(
        f"{fn}: batch must be (inputs, targets) or a dict with the keys 'inputs' and 'targets' (optional 'weights', "
        f"'where'); got {type(batch).__name__}" + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
        + (f" {batch!r}" if batch is None or isinstance(batch, (str, numbers.Number)) else "") + "."
    )


class Objective:
    """``objective(params, batch, *, step=None) -> scalar``: a loss lifted over a model's parameters.

    Attributes: ``model`` (as given), ``loss``, ``regularizers`` (name -> :class:`Regularizer`),
    ``options`` (passed to the loss). The model may be any model :func:`jaxloss.models.as_model`
    takes: a function ``model(params, inputs)``, a flax nnx or an equinox module (then ``params`` is
    its parameter pytree, ``jaxloss.models.as_model(module).params``, and calls run in evaluation mode
    with the module's own state).
    """

    def __init__(self, model: Any, loss: Any, regularizers: Mapping[str, Regularizer],
                 options: Mapping[str, Any]):
        self.model = model
        self.loss = loss
        self.regularizers = dict(regularizers)
        self.options = dict(options)
        self.lifted = _models.as_model(model)

    def predictions(self, params: Any, batch: Any) -> Any:
        inputs, _, _ = _unpack(batch, "objective")
        return self.lifted.predict(params, inputs)

    def loss_terms(self, predictions: Any, targets: Any, *, step: Any = None, reduction: str = "mean",
                   **extra: Any) -> tuple[jax.Array, dict[str, jax.Array]]:
        """The lifted loss on given predictions, ``(value, {term: value})``, without regularizers."""
        kw = {**self.options, **extra, "reduction": reduction}
        if isinstance(self.loss, Composite):
            return self.loss.with_terms(predictions, targets, step=step, **kw)
        value = call_loss(self.loss, predictions, targets, **kw)
        return value, {"loss": value}

    def add_regularizers(self, total: jax.Array, parts: dict[str, jax.Array], params: Any, *,
                         step: Any = None) -> tuple[jax.Array, dict[str, jax.Array]]:
        """``total`` and ``parts`` with every regularizer's value added (``fit`` calls this)."""
        parts = dict(parts)
        for name, reg in self.regularizers.items():
            value = jnp.asarray(reg(params, step=step) if isinstance(reg, Regularizer) else reg(params))
            parts[name] = value
            total = total + value.astype(total.dtype)
        return total, parts

    def scheduled_weights(self, step: Any) -> dict[str, jax.Array]:
        """The value at ``step`` of every scheduled weight: composite terms and regularizer scales."""
        weights = self.loss.scheduled_weights(step) if isinstance(self.loss, Composite) else {}
        weights.update({name: jnp.asarray(reg.scale_at(step)) for name, reg in self.regularizers.items()
                        if isinstance(reg, Regularizer) and callable(reg.scale)})
        return weights

    def _loss_terms(self, params: Any, batch: Any, step: Any, reduction: str) -> tuple[jax.Array, dict[str, jax.Array]]:
        inputs, targets, extra = _unpack(batch, "objective")
        return self.loss_terms(self.lifted.predict(params, inputs), targets, step=step, reduction=reduction, **extra)

    def with_terms(self, params: Any, batch: Any, *, step: Any = None) -> tuple[jax.Array, dict[str, jax.Array]]:
        """``(total, {term or regularizer name: value})``, for ``value_and_grad(..., has_aux=True)``."""
        total, parts = self._loss_terms(params, batch, step, "mean")
        return self.add_regularizers(total, parts, params, step=step)

    def __call__(self, params: Any, batch: Any, *, step: Any = None) -> jax.Array:
        return self.with_terms(params, batch, step=step)[0]

    def per_example(self, params: Any, batch: Any, *, step: Any = None) -> jax.Array:
        """The loss's per-example values (``reduction="none"``), without regularizers."""
        return self._loss_terms(params, batch, step, "none")[0]

    def __repr__(self) -> str:
        loss = repr(self.loss) if isinstance(self.loss, Composite) else resolve(self.loss)[0]
        regs = "".join(f" + {r!r}" for r in self.regularizers.values())
        return f"objective({self.lifted.name}, {loss}{regs})"


def objective(model: Any, loss: Any, *,
              regularizers: Regularizer | Sequence[Regularizer] | Mapping[str, Regularizer] | None = None,
              **options: Any) -> Objective:
    """Lifts ``loss`` to ``objective(params, batch, *, step=None)`` through ``model``.

    ``model`` is a function ``model(params, inputs) -> predictions`` or a flax nnx / equinox module
    (see :mod:`jaxloss.models`); ``loss`` is a registered name, a loss function or a
    :class:`Composite`; ``options`` go to the loss; ``regularizers`` (one, a list, or a dict name ->
    regularizer) are added to the total and appear in :meth:`Objective.with_terms` under their names
    (``"l2"``, ``"l1"``, ...). The batch convention is in this module's docstring.
    """
    _models.model_argument("objective", "model", model)
    if loss is None:
        raise TypeError("objective: loss is None; pass a loss name (e.g. 'huber'), a loss function or a composite.")
    if isinstance(loss, str):
        _registry.lookup(loss, fn="objective", argument="loss")  # an unknown name raises, naming objective
        loss = _registry.get(loss)
    if isinstance(loss, Regularizer):
        raise TypeError(f"objective: loss={loss!r} is a regularizer; pass it as regularizers={loss!r} and give a loss.")
    if not callable(loss):
        raise TypeError(f"objective: loss must be a loss function, a name or a composite; got {type(loss).__name__} "
                        f"{loss!r}.")
    if regularizers is None:
        regs: dict[str, Regularizer] = {}
    elif isinstance(regularizers, Regularizer):
        regs = {regularizers.kind: regularizers}
    elif isinstance(regularizers, Mapping):
        regs = dict(regularizers)
    elif isinstance(regularizers, Iterable) and not isinstance(regularizers, (str, bytes)):
        regs = {}
        for i, r in enumerate(regularizers):
            if not isinstance(r, Regularizer):
                raise TypeError(f"objective: regularizers[{i}] must be a regularizer (jl.l2(...), jl.l1(...)); got "
                                f"{type(r).__name__} {r!r}. Give other penalties by name: regularizers={{'name': fn}}.")
            key = r.kind if r.kind not in regs else f"{r.kind}_{len(regs)}"
            regs[key] = r
    else:
        raise TypeError(f"objective: regularizers must be a regularizer (e.g. jl.l2(1e-4)), a list of them or a dict "
                        f"name -> regularizer; got {type(regularizers).__name__} {regularizers!r}.")
    for key, r in regs.items():
        if not callable(r):
            raise TypeError(f"objective: regularizer {key!r} must be callable params -> scalar; got {r!r}.")
    return Objective(model, loss, regs, options)
