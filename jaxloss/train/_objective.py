"""What ``fit`` trains on: how a loss is called on a batch, and what its predictions are for metrics.

A loss given to ``fit`` is one of:

* a **loss** ``loss(predictions, targets) -> scalar`` (registered, a ``functools.partial`` of one,
  or your own), called through :func:`jaxloss.compose._calling.call_loss`: a loss that returns one
  value per example (optax's convention, no ``reduction``) is averaged, as Keras does, with a
  batch's ``weights``/``where`` applied to that average when the loss does not take them;
* a **composite** (:class:`jaxloss.Composite`), given the global optimizer step for its schedules;
* an **objective** (:class:`jaxloss.Objective`) over the same model: its loss on the model's
  predictions plus its regularizers on the parameters, with the step;
* a **custom objective**: any callable with ``is_objective = True``, called as
  ``loss(params, batch)`` (``with_terms`` when it has it), with ``step=`` when it declares it.

An epoch's loss (and each term's) is the weighted mean the loss defines over all its examples, not a
mean of batch means: :meth:`LossCall.sums` gives, per batch, each term's value times the denominator
of its mean (the total weight of the entries it includes: its ``weights`` over its ``where``, on the
loss's per-example shape, as ``jaxloss._core.reduce`` divides by) and that denominator; ``fit`` adds
them up and divides once. The gradient step still uses the loss's own value on the batch.

Metrics that threshold or calibrate predictions need to know whether they are logits:
:func:`predictions_are_logits` reads it from the registry (the loss's input kind and its
``from_logits`` option), a composite's terms (which must agree) or an objective's loss, and says
None for a function of yours, in which case ``fit`` asks for ``from_logits=``.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np

from jaxloss import _kinds, _registry
from jaxloss import metrics as _metrics
from jaxloss.compose import Composite, Objective
from jaxloss.compose._calling import call_loss

__all__ = ["LossCall", "Sums", "as_loss_call", "is_objective", "predictions_are_logits", "build_metrics", "known_terms",
           "CLASS_KINDS"]

Kind = Literal["loss", "composite", "objective", "custom_objective"]

#: Input kinds whose predictions carry a class axis that targets index (class indices, or one
#: probability vector per example): their "accuracy" is the multiclass one.
CLASS_KINDS = frozenset({_kinds.CLASS_LOGITS, _kinds.CLASS_LOG_PROBS, _kinds.CLASS_DISTRIBUTION,
                         _kinds.SEGMENTATION_MULTICLASS})

#: ``{name: (numerator, denominator)}``: what a batch adds to an epoch's weighted means.
Sums = dict[str, tuple[jax.Array, jax.Array]]


def is_objective(loss: Any) -> bool:
    """Whether ``loss`` is an objective ``f(params, batch)`` rather than ``f(predictions, targets)``.

    True for :class:`jaxloss.Objective` instances (what ``jaxloss.objective`` returns) and for any
    callable with an attribute ``is_objective = True``.
    """
    return isinstance(loss, Objective) or getattr(loss, "is_objective", False) is True


def _parameters(fn: Callable[..., Any]) -> dict[str, inspect.Parameter] | None:
    try:
        return dict(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return None


def _accepts(fn: Callable[..., Any], name: str) -> bool:
    params = _parameters(fn)
    if params is None:
        return False
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def _registered(fn: Any) -> tuple[_registry.LossInfo | None, dict[str, Any]]:
    """The registry entry behind ``fn`` (through ``functools.partial``) and the options bound to it."""
    keywords: dict[str, Any] = {}
    while isinstance(fn, functools.partial):
        keywords = {**fn.keywords, **keywords}
        fn = fn.func
    entry = getattr(fn, "info", None)
    return (entry if isinstance(entry, _registry.LossInfo) else None), keywords


@dataclasses.dataclass(frozen=True)
class LossCall:
    """How ``fit`` calls ``loss`` (hashable: part of the compiled program's cache key)."""

    loss: Any
    kind: Kind
    passes_step: bool = False

    @property
    def needs_predictions(self) -> bool:
        return self.kind != "custom_objective"

    def __call__(self, params: Any, predictions: Any, inputs: Any, targets: Any, extra: dict[str, Any],
                 step: jax.Array) -> tuple[jax.Array, dict[str, jax.Array]]:
        """``(value, {term: value})`` on one batch."""
        loss = self.loss
        if self.kind == "composite":
            value, parts = loss.with_terms(predictions, targets, step=step, **extra)
        elif self.kind == "objective":
            value, parts = loss.loss_terms(predictions, targets, step=step, **extra)
            value, parts = loss.add_regularizers(value, parts, params, step=step)
            if set(parts) == {"loss"}:
                parts = {}
        elif self.kind == "custom_objective":
            batch = (inputs, targets) if not extra else {"inputs": inputs, "targets": targets, **extra}
            kw = {"step": step} if self.passes_step else {}
            if hasattr(loss, "with_terms"):
                value, parts = loss.with_terms(params, batch, **kw)
            else:
                value, parts = loss(params, batch, **kw), {}
        else:
            kw = {"step": step} if self.passes_step else {}
            value, parts = call_loss(loss, predictions, targets, **kw, **extra), {}
        value = jnp.asarray(value)
        if value.shape != ():
            raise ValueError(f"fit: the loss must give a scalar; {_name(loss)} gave shape {value.shape}. "
                             "Use reduction='mean'.")
        return value, {k: jnp.asarray(v).astype(jnp.float32) for k, v in dict(parts).items()}

    def sums(self, predictions: Any, targets: Any, extra: dict[str, Any], step: jax.Array, size: int,
             value: jax.Array, parts: dict[str, jax.Array]) -> tuple[Sums, Sums]:
        """What one batch adds to the epoch's means: ``(total, parts)``, each ``{name: (numerator, denominator)}``.

        The epoch's loss is ``sum(numerator / denominator)`` over ``total``'s entries (one per term of
        a composite, weighted by the term's weight at the step, one per regularizer, or one for a
        plain loss); ``loss/<term>`` is its entry of ``parts``. A term's numerator is its value on the
        batch times the denominator of its mean (:func:`_mean_weight`), so that adding batches up
        gives the mean over all their examples; a regularizer's is its value times the batch's size
        (it depends on no example). ``value`` and ``parts`` are what :meth:`__call__` gave.
        """
        loss, weights, where = self.loss, extra.get("weights"), extra.get("where")
        args, regularizers = (predictions, targets), ()
        if self.kind == "custom_objective":  # a black box: each value weighs what the batch includes
            weight = _mean_weight(None, weights, where, size)
            return _scaled({"loss": (value, weight)}), _scaled({k: (v, weight) for k, v in parts.items()})
        if self.kind == "objective":
            regularizers = tuple(loss.regularizers)
            loss, options = loss.loss, dict(loss.options)
        else:
            options = {"step": step} if self.passes_step else {}
        if isinstance(loss, Composite):
            terms = {t.name: (t.fn, t.select(*args) if t.select is not None else args, dict(t.options),
                              jnp.asarray(t.weight_at(step), jnp.float32)) for t in loss.terms}
            values = {k: parts[k] for k in terms}
        else:
            terms = {"loss": (loss, args, options, jnp.ones((), jnp.float32))}
            values = {"loss": parts.get("loss", value) if regularizers else value}
        total, per_term = {}, {}
        for name, (fn, call_args, opts, factor) in terms.items():
            weight = _mean_weight(_example_shape(fn, call_args, opts, weights, where), weights, where, size)
            total[name] = (factor * values[name], weight)
            per_term[name] = (values[name], weight)
        for name in regularizers:
            total[name] = per_term[name] = (parts[name], jnp.float32(size))
        return _scaled(total), _scaled({k: v for k, v in per_term.items() if k in parts})

    def scheduled(self, step: jax.Array) -> dict[str, jax.Array]:
        """Each scheduled weight's value at ``step`` (recorded as ``weight/<name>`` in History)."""
        if self.kind in ("composite", "objective"):
            return {k: jnp.asarray(v, jnp.float32) for k, v in self.loss.scheduled_weights(step).items()}
        return {}


def _name(fn: Any) -> str:
    if isinstance(fn, str):
        return repr(fn)
    return getattr(fn, "__name__", type(fn).__name__)


def _scaled(pairs: dict[str, tuple[jax.Array, jax.Array]]) -> Sums:
    """``{name: (mean, weight)}`` -> ``{name: (mean * weight, weight)}`` in float32.

    A batch that includes nothing (weight 0) adds nothing, even where its mean is NaN (a 0 / 0 of its own).
    """
    return {k: (jnp.where(w > 0, jnp.asarray(v, jnp.float32) * w, 0), w) for k, (v, w) in pairs.items()}


def _example_shape(fn: Any, args: tuple, options: dict[str, Any], weights: Any, where: Any) -> tuple[int, ...] | None:
    """The per-example shape of ``fn``'s values (``reduction="none"``), read at trace time, or None.

    None for a function that gives no per-example values (a scalar, or an error with ``"none"``).
    """
    def per_example(args: tuple, weights: Any, where: Any) -> Any:
        return call_loss(fn, *args, reduction="none", weights=weights, where=where, **options)
    try:
        shape = tuple(jax.eval_shape(per_example, args, weights, where).shape)
    except Exception:  # noqa: BLE001 -- it has no per-example values: the batch's own weight stands in
        return None
    return shape or None


def _mean_weight(shape: tuple[int, ...] | None, weights: Any, where: Any, size: int) -> jax.Array:
    """The denominator of a loss's mean on one batch: the total weight of the entries it includes.

    ``sum(w)`` over the included entries of the per-example ``shape``, ``w`` the ``weights`` broadcast
    to it (1 without them), as ``jaxloss._core.reduce``'s mean divides by; the number of entries with
    neither. With no per-example shape (None: a loss that returns its own mean, a custom objective),
    the batch's: the ``where`` mask's shape, else the weights', else one entry per example (``size``).
    """
    if shape is None:
        shape = next((tuple(np.shape(a)) for a in (where, weights) if a is not None and np.ndim(a)), (size,))
    if weights is None and where is None:
        return jnp.float32(np.prod(shape))
    try:
        w = jnp.ones(shape, jnp.float32) if weights is None else jnp.broadcast_to(
            jnp.asarray(weights).astype(jnp.float32), shape)
        if where is not None:
            w = jnp.where(jnp.broadcast_to(jnp.asarray(where), shape), w, 0)
    except (ValueError, TypeError):  # weights and mask that do not share a shape (a custom objective's own)
        return jnp.float32(size)
    return jnp.sum(w)


def as_loss_call(loss: Any, model: Any) -> LossCall:
    """How to call ``loss`` in ``fit`` for ``model`` (the object given to fit), with clear errors."""
    if isinstance(loss, str):
        loss = _registry.get(loss)
    if not callable(loss):
        raise TypeError(f"fit: loss must be a loss function, a name, a composite or an objective; "
                        f"got {type(loss).__name__}.")
    if isinstance(loss, Composite):
        return LossCall(loss, "composite", True)
    if isinstance(loss, Objective):
        if loss.model is not model:
            raise ValueError(f"fit: the objective {loss!r} lifts the loss over another model than the one given to "
                             "fit; build it with the same model: jl.objective(model, loss, ...).")
        return LossCall(loss, "objective", True)
    if is_objective(loss):
        return LossCall(loss, "custom_objective", _accepts(loss, "step"))
    entry, _ = _registered(loss)
    return LossCall(loss, "loss", entry is None and _accepts(loss, "step"))


def known_terms(loss: Any) -> list[tuple[str, _registry.LossInfo, dict[str, Any]]]:
    """``(label, registry entry, options)`` for each part of ``loss`` whose registry entry is known.

    A registered loss (by name, function or ``functools.partial``), each term of a composite that
    takes the predictions and targets as they come (not a term with its own ``select``), an
    objective's loss; nothing for a loss or an objective of your own, which cannot be known.
    """
    if isinstance(loss, str):
        loss = _registry.get(loss)
    options: dict[str, Any] = {}
    if isinstance(loss, Objective):
        loss, options = loss.loss, dict(loss.options)
    if isinstance(loss, Composite):
        found = []
        for t in loss.terms:
            entry, bound = _registered(t.fn)
            if entry is not None and t.select is None:
                found.append((f"term {t.name!r} ({entry.name})", entry, {**bound, **options, **dict(t.options)}))
        return found
    if is_objective(loss):
        return []
    entry, bound = _registered(loss)
    return [] if entry is None else [(entry.name, entry, {**bound, **options})]


def _term_logits(fn: Any, options: dict[str, Any]) -> bool | None:
    entry, bound = _registered(fn)
    if entry is None:
        flag = getattr(fn, "takes_logits", None)
        return flag if isinstance(flag, bool) else None
    return entry.takes_logits({**bound, **options})


def predictions_are_logits(loss: Any) -> bool | None:
    """Whether ``loss``'s predictions are logits: True, False, or None (cannot be known).

    Raises ValueError, naming the terms, when a composite's terms disagree.
    """
    if isinstance(loss, str):  # a registered name, as fit(loss="bce") takes it
        loss = _registry.get(loss)
    if isinstance(loss, Objective):
        if isinstance(loss.loss, Composite):
            return predictions_are_logits(loss.loss)
        return _term_logits(loss.loss, loss.options)
    if isinstance(loss, Composite):
        answers = {t.name: _term_logits(t.fn, dict(t.options)) for t in loss.terms if t.select is None}
        known = {name: flag for name, flag in answers.items() if flag is not None}
        if len(set(known.values())) > 1:
            logits = sorted(n for n, f in known.items() if f)
            probabilities = sorted(n for n, f in known.items() if not f)
            raise ValueError(
                f"fit: the terms of {loss!r} disagree on what the predictions are: {logits} take logits, "
                f"{probabilities} take probabilities or values. Metrics that read probabilities cannot follow "
                "both; pass fit(..., from_logits=True or False) to say which.")
        return next(iter(known.values()), None)
    if is_objective(loss):
        return getattr(loss, "takes_logits", None) if isinstance(getattr(loss, "takes_logits", None), bool) else None
    return _term_logits(loss, {})


def build_metrics(metrics: Any, loss: Any, from_logits: bool | None,
                  predictions: Any, targets: Any) -> tuple[_metrics.Metric, ...]:
    """The streaming metrics ``fit`` computes, built by name for ``loss``'s predictions.

    ``predictions`` and ``targets`` are shape/dtype examples of one batch: a class axis on the
    predictions (one more axis than integer targets) gives ``num_classes`` to precision/recall/F1.
    ``"accuracy"`` on one score per target (predictions of the targets' shape, a loss that does not
    take class scores) is binary accuracy, recorded as ``accuracy``, as Keras does. Metrics that keep
    every entry (the exact ``auc`` and ``average_precision``) come unsized: the compiled programs size
    them to the data (:meth:`jaxloss.train._program.Trainer.sized_metrics`). Each metric is then traced
    once on the example (shapes only): one that cannot read these predictions and targets raises here,
    naming it, rather than inside the compiled epoch.
    """
    if isinstance(metrics, (str, _metrics.Metric)):
        metrics = (metrics,)
    out = []
    for i, m in enumerate(metrics):
        if isinstance(m, _metrics.Metric):
            out.append(m)
            continue
        if not isinstance(m, str):
            raise TypeError(f"fit: metrics must be names or jaxloss.metrics.Metric objects; got {m!r}.")
        name = m.lower()
        binary = name == "accuracy" and _one_score_per_target(predictions, targets, loss)
        options: dict[str, Any] = {}
        if name in _metrics.READS_PROBABILITIES or binary:
            flag = from_logits if from_logits is not None else predictions_are_logits(loss)
            if flag is None:
                what = (f"metrics[{i}]={m!r} on one score per target is binary accuracy (it thresholds the "
                        "predictions)" if binary else f"metric {m!r} thresholds or calibrates the predictions")
                raise ValueError(
                    f"fit: {what}, and fit cannot tell whether {_name(loss)} takes logits or probabilities: pass "
                    "fit(..., from_logits=True) for logits (scores a sigmoid or softmax turns into probabilities) "
                    "or from_logits=False.")
            options["from_logits"] = flag
        if name in _metrics.TAKES_NUM_CLASSES and _class_axis(predictions, targets):
            options["num_classes"] = int(predictions.shape[-1])
        if binary:
            out.append(_metrics.get("binary_accuracy", **options)._replace(name="accuracy"))
        else:
            out.append(_metrics.get(m, **options))
    out = [m.sized(None) if m.sized is not None else m for m in out]
    names = [m.name for m in out]
    if len(set(names)) != len(names):
        raise ValueError(f"fit: two metrics share a name: {names}.")
    for i, (given, metric) in enumerate(zip(metrics, out)):
        _check_metric(i, given, metric, predictions, targets)
    return tuple(out)


def _spec(x: Any) -> str:
    shape, dtype = getattr(x, "shape", None), getattr(x, "dtype", None)
    if shape is None or dtype is None:
        return type(x).__name__
    return f"{tuple(shape)} {dtype}"


def _check_metric(i: int, given: Any, metric: _metrics.Metric, predictions: Any, targets: Any) -> None:
    """``metric.update`` traced on one batch's shapes: an error names the metric, the shapes and the fix."""
    if predictions is None or targets is None:
        return
    try:
        jax.eval_shape(lambda p, t: metric.update(metric.init(), p, t), predictions, targets)
    except (TypeError, ValueError) as err:
        label = repr(given) if isinstance(given, str) else f"<Metric {metric.name!r}>"
        hint = ""
        if metric.name == "accuracy" and tuple(getattr(predictions, "shape", ()))[-1:] == (1,):
            hint = (" One score per example is a binary prediction: ask for metrics=['binary_accuracy'], with "
                    "targets of the predictions' shape.")
        raise type(err)(f"fit: metrics[{i}]={label} cannot read the model's predictions ({_spec(predictions)}) and "
                        f"the targets ({_spec(targets)}): {err}{hint}") from err


def _one_score_per_target(predictions: Any, targets: Any, loss: Any) -> bool:
    """Whether ``"accuracy"`` means binary accuracy here: predictions with the targets' shape (no class axis),
    for a loss none of whose known terms takes class scores."""
    shape_p, shape_t = getattr(predictions, "shape", None), getattr(targets, "shape", None)
    if shape_p is None or shape_t is None or tuple(shape_p) != tuple(shape_t):
        return False
    return not any(entry.inputs in CLASS_KINDS for _, entry, _ in known_terms(loss))


def _class_axis(predictions: Any, targets: Any) -> bool:
    shape_p, shape_t = getattr(predictions, "shape", None), getattr(targets, "shape", None)
    if shape_p is None or shape_t is None:
        return False
    return bool(jnp.issubdtype(targets.dtype, jnp.integer)) and len(shape_p) == len(shape_t) + 1
