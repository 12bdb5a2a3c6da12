"""What the playground offers, read from the registry (private): losses per task, their sliders, metrics.

A loss fits a playground task when the task has an :class:`Encoding` for the loss's input kind (its
own or one of ``also_inputs``): how many outputs the network has, how labels become the loss's
targets, how the network's outputs become the loss's predictions, and what the decision view draws.
This table of input kinds is the one place the playground reads kinds; the losses themselves come
from ``_registry.catalog()``, never from a list written here. Hyperparameters come from each entry:
a slider for every number with a slider range; ``None`` defaults are optional (off until set).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxloss import _kinds, _registry
from jaxloss._registry import Task
from jaxloss.playground._data import PlaygroundTask


@dataclasses.dataclass(frozen=True)
class Encoding:
    """How a network with ``outputs(classes)`` outputs trains a loss of one input kind on one task."""

    kind: _kinds.InputKind
    outputs: Callable[[int], int]
    targets: Callable[[jax.Array, int], jax.Array]  # (labels or values, classes) -> the loss's targets
    predictions: Callable[[jax.Array], jax.Array]  # network outputs (n, outputs) -> the loss's predictions
    view: Callable[[jax.Array], jax.Array]  # network outputs -> what the page draws (score, probs, value)


def _one(_: int) -> int:
    return 1


def _classes(k: int) -> int:
    return k


def _first(out: jax.Array) -> jax.Array:
    return out[..., 0]


def _as_float(y: jax.Array, _: int) -> jax.Array:
    return y.astype(jnp.float32)


def _signed(y: jax.Array, _: int) -> jax.Array:
    return 2.0 * y.astype(jnp.float32) - 1.0


def _labels(y: jax.Array, _: int) -> jax.Array:
    return y.astype(jnp.int32)


def _one_hot(y: jax.Array, k: int) -> jax.Array:
    return jax.nn.one_hot(y, k, dtype=jnp.float32)


def _column(y: jax.Array, _: int) -> jax.Array:
    return y.astype(jnp.float32)[..., None]


def _identity(out: jax.Array) -> jax.Array:
    return out


def _class_score(out: jax.Array) -> jax.Array:
    return out[..., 1] - out[..., 0]  # two logits: class 1's margin over class 0


def _probabilities(out: jax.Array) -> jax.Array:
    return jax.nn.softmax(out, axis=-1)


#: Per task, per input kind: how the network feeds a loss of that kind.
ENCODINGS: dict[PlaygroundTask, dict[_kinds.InputKind, Encoding]] = {
    PlaygroundTask.BINARY: {
        _kinds.BINARY_LOGITS: Encoding(_kinds.BINARY_LOGITS, _one, _as_float, _first, _first),
        _kinds.SIGNED_BINARY: Encoding(_kinds.SIGNED_BINARY, _one, _signed, _first, _first),
        _kinds.MULTILABEL_LOGITS: Encoding(_kinds.MULTILABEL_LOGITS, _one, _column, _identity, _first),
        _kinds.CLASS_LOGITS: Encoding(_kinds.CLASS_LOGITS, _classes, _labels, _identity, _class_score),
        _kinds.CLASS_LOG_PROBS: Encoding(_kinds.CLASS_LOG_PROBS, _classes, _labels,
                                         lambda out: jax.nn.log_softmax(out, axis=-1), _class_score),
        _kinds.CLASS_DISTRIBUTION: Encoding(_kinds.CLASS_DISTRIBUTION, _classes, _one_hot, _identity, _class_score),
        # TensorFlow Playground's own choice: squared error (or any regression loss) on +-1 targets.
        _kinds.REGRESSION: Encoding(_kinds.REGRESSION, _one, _signed, _first, _first),
    },
    PlaygroundTask.MULTICLASS: {
        _kinds.CLASS_LOGITS: Encoding(_kinds.CLASS_LOGITS, _classes, _labels, _identity, _probabilities),
        _kinds.CLASS_LOG_PROBS: Encoding(_kinds.CLASS_LOG_PROBS, _classes, _labels,
                                         lambda out: jax.nn.log_softmax(out, axis=-1), _probabilities),
        _kinds.CLASS_DISTRIBUTION: Encoding(_kinds.CLASS_DISTRIBUTION, _classes, _one_hot, _identity, _probabilities),
    },
    PlaygroundTask.REGRESSION: {
        _kinds.REGRESSION: Encoding(_kinds.REGRESSION, _one, _as_float, _first, _first),
    },
}

#: What the decision view draws per task.
VIEW = {PlaygroundTask.BINARY: "score", PlaygroundTask.MULTICLASS: "probs", PlaygroundTask.REGRESSION: "value"}

#: The picker's headings: which registry tasks count as "native" to each playground task.
_NATIVE = {
    PlaygroundTask.BINARY: {Task.BINARY},
    PlaygroundTask.MULTICLASS: {Task.MULTICLASS, Task.DISTRIBUTION},
    PlaygroundTask.REGRESSION: {Task.REGRESSION, Task.QUANTILE_REGRESSION, Task.PROBABILISTIC_REGRESSION},
}
_GROUPS = {
    PlaygroundTask.BINARY: ("binary losses", "multiclass losses on two classes",
                            "regression losses on \u00b11 targets (TensorFlow Playground's way)"),
    PlaygroundTask.MULTICLASS: ("multiclass losses", "multiclass losses", ""),
    PlaygroundTask.REGRESSION: ("regression losses", "", ""),
}

#: The metrics offered per task (names of ``jaxloss.metrics.get``), first one the default.
METRICS: dict[PlaygroundTask, tuple[str, ...]] = {
    PlaygroundTask.BINARY: ("accuracy", "auc", "f1", "precision", "recall"),
    PlaygroundTask.MULTICLASS: ("accuracy", "f1", "precision", "recall"),
    PlaygroundTask.REGRESSION: ("mse", "rmse", "mae", "r2"),
}

#: The default loss per task (the first of the picker if it is missing).
DEFAULT_LOSS = {PlaygroundTask.BINARY: "binary_cross_entropy", PlaygroundTask.MULTICLASS: "softmax_cross_entropy",
                PlaygroundTask.REGRESSION: "mean_squared_error"}


def encoding(entry: _registry.LossInfo, task: PlaygroundTask) -> Encoding | None:
    """How ``entry`` trains on ``task`` (its own input kind first), or None when it cannot."""
    table = ENCODINGS[task]
    for kind in (entry.inputs, *entry.also_inputs):
        if kind in table:
            return table[kind]
    return None


def _group(entry: _registry.LossInfo, task: PlaygroundTask, enc: Encoding) -> str:
    native, classes, regression = _GROUPS[task]
    if entry.task in _NATIVE[task]:
        return native
    if enc.kind is _kinds.REGRESSION:
        return regression
    if entry.task is Task.MULTILABEL:
        return "multilabel losses on one label"
    return classes


@functools.cache
def losses(task: PlaygroundTask) -> tuple[_registry.LossInfo, ...]:
    """The registry's losses that fit ``task``: native ones first, each group in catalog order."""
    fitting = [(e, encoding(e, task)) for e in _registry.catalog()]
    fitting = [(e, enc) for e, enc in fitting if enc is not None and _group(e, task, enc)]
    order = [*_GROUPS[task][:2], "multilabel losses on one label", _GROUPS[task][2]]
    return tuple(e for e, enc in sorted(fitting, key=lambda pair: order.index(_group(pair[0], task, pair[1]))))


def sliders(entry: _registry.LossInfo) -> dict[str, _registry.Hyperparameter]:
    """The hyperparameters the page shows as sliders: numbers (or None, optional) with a slider range."""
    out = {}
    for name, h in entry.hyperparameters.items():
        if h.slider is None or isinstance(h.default, bool):
            continue
        if h.default is None or isinstance(h.default, float):
            out[name] = h
    return out


@functools.cache
def static_hyperparameters(name: str) -> frozenset[str]:
    """The sliders of loss ``name`` that must be Python numbers (they select code, e.g. bi-tempered's t1).

    Found by tracing the loss once per hyperparameter with that one value traced.
    """
    entry = _registry.info(name)
    kind = entry.inputs
    sample = kind.random(np.random.default_rng(0), 4)
    static = set()
    for key, h in sliders(entry).items():
        value = h.default if h.default is not None else float(np.mean(h.slider))
        try:
            jax.eval_shape(lambda v, key=key: entry.fn(*sample.args, **sample.kwargs, **{key: v}), jnp.float32(value))
        except (TypeError, jax.errors.ConcretizationTypeError):
            static.add(key)
    return frozenset(static)


def split_options(name: str, options: dict[str, float]) -> tuple[tuple, dict[str, jax.Array]]:
    """A loss's options: the static ones as a sorted, hashable tuple (part of a compiled program's key),
    the others as float32 arrays (arguments of the program: changing them compiles nothing)."""
    static = static_hyperparameters(name)
    fixed = tuple(sorted((k, v) for k, v in options.items() if k in static))
    traced = {k: jnp.float32(v) for k, v in options.items() if k not in static}
    return fixed, traced


def _number(x: float | None) -> float | None:
    return None if x is None else float(x)


def describe(entry: _registry.LossInfo, task: PlaygroundTask | None) -> dict[str, Any]:
    """A loss as the page's catalog lists it (see the playground's API)."""
    enc = encoding(entry, task) if task is not None else None
    hypers = []
    for key, h in sliders(entry).items():
        lo, hi = h.slider
        hypers.append({"name": key, "low": float(lo), "high": float(hi), "step": _step(lo, hi),
                       "default": _number(h.default) if h.default is not None else float((lo + hi) / 2),
                       "optional": h.default is None, "valid": h.describe(), "doc": h.doc})
    return {"name": entry.name, "family": entry.family, "task": str(entry.task), "summary": entry.summary,
            "formula": entry.formula, "reference": entry.reference, "inputs": entry.inputs.name,
            "group": _group(entry, task, enc) if enc is not None else "", "hyperparameters": hypers}


def _step(lo: float, hi: float) -> float:
    span = hi - lo
    return 0.001 if span <= 1.0 else 0.01 if span <= 10 else 0.1


def metric(name: str, task: PlaygroundTask, classes: int) -> Any:
    """The streaming metric ``name`` of ``jaxloss.metrics`` for this task, reading what the network's view is.

    Binary: the view is a decision score (> 0 is class 1), read as a logit; multiclass: class
    probabilities (precision, recall and F1 macro-averaged); regression: the predicted value.
    """
    from jaxloss import metrics

    if task is PlaygroundTask.BINARY:
        return metrics.get("binary_accuracy" if name == "accuracy" else name, from_logits=True)
    if task is PlaygroundTask.MULTICLASS and name in ("f1", "precision", "recall"):
        return metrics.get(name, num_classes=classes, average="macro")
    return metrics.get(name)
