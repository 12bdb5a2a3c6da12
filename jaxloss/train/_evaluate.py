"""``evaluate`` and ``predict``: a trained model on a test set, with fit's metrics, batching and programs."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import jax

from jaxloss import _compilation_cache
from jaxloss import metrics as _metrics
from jaxloss import models as _models
from jaxloss._arguments import flag_argument, integer_argument
from jaxloss.train import _checks, _data, _program
from jaxloss.train._objective import as_loss_call, build_metrics
from jaxloss.train._loop import evaluate_batches
from jaxloss.train._state import ModelDefinition, Setup, TrainState

__all__ = ["evaluate", "predict"]


def _model(fn: str, model: Any, args: tuple, count: int) -> tuple[_models.Model, tuple]:
    """The model and the remaining ``count`` positional arguments, for either call shape."""
    _models.model_argument(fn, "model", model)
    if _models.is_module(model):
        if len(args) != count:
            raise TypeError(f"{fn}: with a {type(model).__name__} the call is {fn}(module, "
                            f"{'loss, data' if count == 2 else 'inputs'}, ...); got {len(args) + 1} positional "
                            "arguments.")
        return _models.as_model(model), args
    if len(args) != count + 1:
        raise TypeError(f"{fn}: with a function model the call is {fn}(model, params, "
                        f"{'loss, data' if count == 2 else 'inputs'}, ...); got {len(args) + 1} positional arguments.")
    return _models.as_model(model, args[0]), args[1:]


def _setup(model: _models.Model, call: Any, metrics: tuple, batch_size: int) -> Setup:
    return Setup(ModelDefinition(model), call, None, metrics, batch_size, batch_size, False, None)


def evaluate(model: Any, *args: Any, metrics: Sequence[str | _metrics.Metric] = (), batch_size: int = 1024,
             from_logits: bool | None = None) -> dict[str, float]:
    """The loss and metrics of a model on a data set, computed as ``fit`` computes ``val_*``.

    Two call shapes, as ``fit``::

        evaluate(model_fn, params, loss, data, ...)    # a function model_fn(params, inputs)
        evaluate(module, loss, data, ...)              # a flax nnx / equinox module (e.g. result.model)

    The model runs in evaluation mode (dropout off, BatchNorm on its running statistics), in chunks of
    ``batch_size``; the values do not depend on it: ``loss`` (and each ``loss/<term>`` of a composite)
    is the weighted mean the loss defines over the whole set, ``"auc"`` and ``"average_precision"``
    are exact. ``data``: ``(inputs, targets)``, a dict with ``"inputs"``, ``"targets"`` and optionally
    ``"weights"`` and ``"where"``, or an iterable of such batches.

    Returns:
      ``{"loss": ..., "loss/<term>": ..., <metric name>: ...}`` as Python floats (History's names
      without the ``val_`` prefix).

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> model = lambda params, inputs: inputs * params["w"]
    >>> jl.evaluate(model, {"w": jnp.float32(2.0)}, jl.mse, (jnp.array([1.0, 2.0]), jnp.array([2.0, 5.0])))
    {'loss': 0.5}
    """
    _compilation_cache.enable_default()
    lifted, (loss, data) = _model("evaluate", model, args, 2)
    batch_size = integer_argument("evaluate", "batch_size", batch_size, low=1)
    flag_argument("evaluate", "from_logits", from_logits, optional=True)
    _checks.metrics_argument("evaluate", metrics)
    _checks.loss_argument("evaluate", loss)
    if data is None or isinstance(data, (str, bytes, numbers.Number)):
        raise TypeError(f"evaluate: data must be (inputs, targets), a dict with 'inputs' and 'targets', or an "
                        f"iterable of batches; got {type(data).__name__} {data!r}.")
    call = as_loss_call(loss, model)
    source = _data.as_data(data, "data")
    if isinstance(source, _data.ArrayData):
        if source.size == 0:
            raise ValueError("evaluate: data has no examples.")
        example = source.arrays
    else:
        first = source.first()
        if first is None:
            raise ValueError("evaluate: data yielded no batch.")
        example = _data.split_batch(first, "data")
    predictions = None if not metrics else jax.eval_shape(
        lambda p, s, x: lifted.apply(p, s, x, key=None, train=False)[0], lifted.params, lifted.state, example[0])
    metric_list = build_metrics(metrics, loss, from_logits, predictions, example[1])
    setup = _setup(lifted, call, metric_list, batch_size)
    state = TrainState.start(lifted.params, (), lifted.state, seed=0)
    if isinstance(source, _data.ArrayData):
        logs = _program.evaluate_arrays(setup, state, jax.device_put(source.arrays), "")
    else:
        batches = (_data.split_batch(batch, "data") for batch in source.epoch())
        logs = evaluate_batches(setup, state, example, batches, "")
    return {k: float(v) for k, v in jax.device_get(logs).items()}


def predict(model: Any, *args: Any, batch_size: int = 1024) -> Any:
    """The model's predictions on ``inputs`` in evaluation mode, in chunks of ``batch_size``.

    ``predict(model_fn, params, inputs)`` or ``predict(module, inputs)``. ``inputs``: an array (or a
    tuple or dict of arrays) with the examples on axis 0, evaluated in one compiled program (the chunks
    run under ``lax.map``, so memory holds one chunk's activations), or a list or other iterable of such
    batches, whose outputs are concatenated.

    >>> import jax.numpy as jnp, jaxloss as jl
    >>> jl.predict(lambda params, inputs: inputs * params, jnp.float32(3.0), jnp.arange(4.0), batch_size=3).tolist()
    [0.0, 3.0, 6.0, 9.0]
    """
    _compilation_cache.enable_default()
    lifted, (inputs,) = _model("predict", model, args, 1)
    batch_size = integer_argument("predict", "batch_size", batch_size, low=1)
    setup = _setup(lifted, None, (), batch_size)
    batches = isinstance(inputs, list) or (not isinstance(inputs, (tuple, dict)) and not hasattr(inputs, "shape"))
    if batches:
        try:
            parts = [_program.predict_arrays(setup, lifted.params, lifted.state, jax.device_put(x)) for x in inputs]
        except TypeError as err:
            raise TypeError(f"predict: inputs must be an array (or a pytree of arrays) with the examples on axis 0, "
                            f"or an iterable of such batches; got {type(inputs).__name__}.") from err
        if not parts:
            raise ValueError("predict: inputs yielded no batch.")
        return jax.tree.map(lambda *a: jax.numpy.concatenate(a), *parts)
    _data.leading(inputs, "inputs")
    return _program.predict_arrays(setup, lifted.params, lifted.state, jax.device_put(inputs))
