"""Input checks and small numerical helpers shared by every metric (private).

The checks a metric shares with the losses (arrays, equal shapes, class indices and class scores,
weights, the ``where`` mask) are ``jaxloss._core``'s, so a metric and a loss given the same wrong input
say the same thing. What only metrics have lives here: static options (``top_k``, ``num_classes``,
``num_bins``, ``average``, ``threshold``), the averaging vocabulary, the class count of integer labels,
and :func:`compiled`, the public boundary that checks the options and jits the metric.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Literal, Optional, get_args

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from jaxloss import _core, _options
from jaxloss._core import ArrayLike
from jaxloss._options import Hyperparameter


#: How precision, recall and F average over classes (scikit-learn's ``average``); ``None`` gives one
#: value per class.
Average = Optional[Literal["binary", "micro", "macro", "weighted"]]
AVERAGES: tuple[Average, ...] = (*get_args(get_args(Average)[0]), None)


# -- arrays, shapes and dtypes ----------------------------------------------------------------------


def as_array(x: ArrayLike, *, name: str, fn: str) -> Array:
    return _core.as_array(x, name=name, fn=fn)


def is_int(x: Array) -> bool:
    """Integer or boolean: labels, not scores."""
    return bool(jnp.issubdtype(x.dtype, jnp.integer) or x.dtype == jnp.bool_)


def float_dtype(*xs: Array) -> Any:
    """Floating dtype to compute in: the inputs' float dtype, at least float32."""
    return jnp.result_type(*[x.dtype for x in xs], jnp.float32)


def state_dtype() -> Any:
    # Read at call time (not import time): float64 when the user enabled x64, else float32.
    return jax.dtypes.canonicalize_dtype(np.float64)


def safe_div(a: Array, b: Array) -> Array:
    """a / b where b != 0, else 0 (scikit-learn's zero_division=0)."""
    nz = b != 0
    return jnp.where(nz, a / jnp.where(nz, b, 1), 0)


def check_same_shape(a: Array, b: Array, *, fn: str, names: tuple[str, str] = ("predictions", "targets"),
                     hint: str = "") -> None:
    """``_core.check_same_shape``, with a metric's pointer to the form it wanted appended."""
    try:
        _core.check_same_shape(a, b, fn=fn, names=names)
    except ValueError as err:
        raise ValueError(f"{err}{hint}") from None


def check_class_scores(fn: str, predictions: Array, targets: Array) -> int:
    """Integer class indices and class scores of shape ``targets.shape + (K,)``; returns ``K``."""
    _core.class_indices(targets, fn=fn)
    return _core.check_class_axis(predictions, targets, fn=fn, one_score="binary_accuracy")


# -- weights and the mask ---------------------------------------------------------------------------


def sample_weights(fn: str, shape: tuple, weights: Any, where: Any, dtype: Any) -> tuple[Array, Array | None]:
    """Effective per-sample weights (masked entries weigh 0) and the broadcast mask (or None)."""
    if weights is None:
        w = jnp.ones(shape, dtype)
    else:
        w = _core.broadcastable(_core.weight_array(weights, fn=fn), shape, fn=fn, name="weights").astype(dtype)
    mask = _core.mask_array(where, shape, fn=fn)
    if mask is not None:
        w = jnp.where(mask, w, 0)
    return w, mask


def masked(x: Array, mask: Array | None) -> Array:
    """Replace masked-out entries by 0 so that NaN or inf there cannot leak into sums."""
    return _core.exclude(x, mask)


# -- binary scores and targets ----------------------------------------------------------------------


def binary_targets(targets: Array) -> Array:
    return targets if targets.dtype == jnp.bool_ else targets > 0.5


def binary_targets_valid(targets: Array) -> Array:
    """Where binary targets are in [0, 1] (bools always are): the losses' rule for binary targets."""
    return jnp.ones(targets.shape, bool) if targets.dtype == jnp.bool_ else (targets >= 0) & (targets <= 1)


def binary_labels(targets: Array) -> Array:
    """0/1 labels from binary targets, -1 where a target is outside [0, 1] (counted nowhere: it poisons)."""
    return jnp.where(binary_targets_valid(targets), binary_targets(targets).astype(jnp.int32), -1)


def binary_hits(predictions: Array, targets: Array, threshold: Any, from_logits: bool, dtype: Any) -> Array:
    """Per sample, in ``dtype``: 1 where the thresholded prediction equals the target, 0 where not, NaN
    where the target is outside [0, 1] (traced: concrete ones were refused at the boundary)."""
    hit = (binary_predictions(predictions, threshold, from_logits) == binary_targets(targets)).astype(dtype)
    return jnp.where(binary_targets_valid(targets), hit, jnp.full((), jnp.nan, dtype))


def binary_predictions(predictions: Array, threshold: Any, from_logits: bool) -> Array:
    if from_logits:
        threshold = jnp.log(threshold) - jnp.log1p(-jnp.asarray(threshold))  # logit(threshold)
    return predictions > threshold


# -- static options ---------------------------------------------------------------------------------


def static_int(fn: str, name: str, value: Any, low: int, high: Optional[int] = None) -> int:
    """A Python int in ``[low, high]``: an option that fixes an array shape."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"{fn}: {name} must be a Python int (it fixes an array shape); got {type(value).__name__} "
            f"{value!r}. Under jax.jit bind it with functools.partial or static_argnames=('{name}',).")
    value = int(value)
    if value < low or (high is not None and value > high):
        bound = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{fn}: {name}={value} is out of range; {name} must be {bound}.")
    return value


def check_threshold(fn: str, threshold: Any, from_logits: bool) -> None:
    if isinstance(threshold, (int, float)) and from_logits and not 0 < threshold < 1:
        raise ValueError(f"{fn}: threshold={threshold} is out of range; with from_logits=True threshold is a "
                         "probability, in (0, 1).")


def check_average(fn: str, average: Any, predictions: Any, targets: Any, num_classes: Any = None) -> None:
    """``average`` is one of :data:`AVERAGES`; ``"binary"`` only for two classes."""
    if average not in AVERAGES:
        raise ValueError(f"{fn}: average={average!r} is not valid; choose one of "
                         + ", ".join(repr(a) for a in AVERAGES) + ".")
    if average == "binary":
        k = None
        if predictions is not None and jnp.ndim(predictions) == jnp.ndim(targets) + 1:
            k = jnp.shape(predictions)[-1]
        elif num_classes is not None:
            k = num_classes
        if k is not None and k != 2:
            raise ValueError(
                f"{fn}: average='binary' needs two classes but the input has {k} "
                f"(predictions shape {jnp.shape(predictions) if predictions is not None else '?'}). "
                f"Pass average='macro', 'micro' or 'weighted' for multiclass.")


def class_count(fn: str, predictions: Any, targets: Any, num_classes: Any, where: Any) -> Any:
    """``num_classes`` for integer label predictions, as scikit-learn infers its labels.

    Without ``num_classes``, concrete integer labels give ``max label + 1`` classes (at least 2); the
    macro average then counts only the classes present, as scikit-learn does. Labels must lie in
    ``[0, num_classes)``: out-of-range concrete labels raise. Traced labels cannot be read: they need
    ``num_classes`` (an error says so), and out-of-range ones poison the result (NaN).
    """
    p, t = jnp.asarray(predictions), jnp.asarray(targets)
    if not (is_int(p) and p.shape == t.shape):
        return num_classes
    if any(_core.is_traced(x) for x in (p, t, where)):
        if num_classes is None:
            raise TypeError(f"{fn}: integer label predictions under jit need num_classes= (it fixes the shape of "
                            "the confusion matrix); outside jit it is inferred from the labels.")
        return num_classes
    labels = np.concatenate([np.asarray(p).reshape(-1), np.asarray(t).reshape(-1)]).astype(np.int64)
    if where is not None:
        keep = np.broadcast_to(np.asarray(where, bool), p.shape).reshape(-1)
        labels = labels[np.concatenate([keep, keep])]
    if labels.size and labels.min() < 0:
        raise ValueError(f"{fn}: class labels must be >= 0; got {labels.min()} in predictions or targets.")
    if num_classes is None:
        return max(2, int(labels.max()) + 1) if labels.size else None
    if labels.size and labels.max() >= num_classes:
        raise ValueError(f"{fn}: num_classes={num_classes} but predictions or targets hold the label "
                         f"{labels.max()}; labels must lie in [0, num_classes).")
    return num_classes


# -- the public boundary ----------------------------------------------------------------------------


#: The valid ranges of the metrics' numeric options, one declaration for every metric that has them
#: (one-shot functions and streaming constructors alike); their types come from the signatures.
RANGES: dict[str, Hyperparameter] = {
    "threshold": Hyperparameter(low=0.0, high=1.0, doc="a probability; on logits it is compared as logit(threshold)"),
    "epsilon": Hyperparameter(low=0.0, high=0.5, low_open=True, high_open=True,
                              doc="probabilities are clipped to [epsilon, 1 - epsilon]"),
    "beta": Hyperparameter(low=0.0, high=float("inf"), high_open=True, doc="recall weighs beta times more"),
    "top_k": Hyperparameter(low=1.0),
    "num_classes": Hyperparameter(low=2.0),
    "num_bins": Hyperparameter(low=1.0),
    "num_thresholds": Hyperparameter(low=1.0),
    "capacity": Hyperparameter(low=1.0, doc="the number of entries the exact ranking metrics' buffers hold"),
}


def declare(f: Callable[..., Any]) -> dict[str, _options.Option]:
    """The declared options of a metric function or constructor (``_options.declare`` with :data:`RANGES`)."""
    names = inspect.signature(f).parameters
    return _options.declare(f, ranges={k: v for k, v in RANGES.items() if k in names})


def check_values(fn: str, predictions: Any, targets: Any, *, where: Any, probabilities: bool) -> None:
    """Concrete inputs checked before the metric is compiled, with the losses' checks and messages.

    Binary targets (one score per target) must be in [0, 1], as ``binary_cross_entropy``'s; class
    indices (class scores on the last axis) in ``[0, K)``; with ``probabilities``, the predictions in
    [0, 1]. Entries ``where`` excludes are not checked. Traced inputs cannot be read here: the metric's
    program makes the result NaN for them instead (see ``_core.check_targets``).
    """
    if any(_core.is_traced(x) for x in (predictions, targets, where)):
        return
    p, t = np.asarray(predictions), np.asarray(targets)
    if t.dtype == np.bool_ or not (np.issubdtype(p.dtype, np.number) and np.issubdtype(t.dtype, np.number)):
        t = None  # booleans are always valid targets; non-numbers are named by the metric's own checks
    classes = p.ndim == np.ndim(targets) + 1
    sample_shape = np.shape(targets)
    mask = None
    if where is not None:
        try:
            mask = np.broadcast_to(np.asarray(where), sample_shape)
            mask = mask if mask.dtype == np.bool_ else None
        except ValueError:
            mask = None  # the metric's own check names it
    if t is not None and classes and np.issubdtype(t.dtype, np.integer):
        _core.check_class_labels(t, p.shape[-1], fn=fn, mask=mask)
    elif t is not None and not classes and p.shape == t.shape and not np.issubdtype(p.dtype, np.integer):
        _core.check_targets(t, _core.Targets.UNIT_INTERVAL, fn=fn, mask=mask)
    if probabilities:
        _core.check_probabilities(p, fn=fn, mask=mask)


def compiled(*static: str, probabilities: bool = False,
             targets: bool = True) -> Callable[[Callable[..., Array]], Callable[..., Array]]:
    """Jit a public metric with its options static, after checking the inputs at the boundary.

    Eager calls then run one compiled program (cached per shape and options) instead of dozens of
    op-by-op dispatches; inside a caller's ``jit`` the nested ``jit`` is simply inlined. Every option
    goes through the losses' declared-option check (``jaxloss._options``: types from the signature,
    ranges from :data:`RANGES`), and concrete weights are checked here, before anything is computed.
    With ``targets``, concrete targets (and with ``probabilities`` the predictions, unless
    ``from_logits=True``) are checked by :func:`check_values` before compiling; the metric's program
    poisons traced ones itself.
    """

    def decorate(f: Callable[..., Array]) -> Callable[..., Array]:
        jitted = jax.jit(f, static_argnames=static)
        fn = f.__name__
        first = "scores" if fn in ("roc_auc", "average_precision") else "predictions"
        declared = declare(f)
        targets_checked = targets

        @functools.wraps(f)
        def wrapper(predictions: ArrayLike, targets: ArrayLike, **options: Any) -> Array:
            _options.check_positional(fn, first, predictions)
            _options.check_positional(fn, "targets", targets)
            options = _options.check(fn, declared, options)
            for name in static:
                if name not in options:
                    continue
                value = options[name]
                try:
                    hash(value)
                    ok = not isinstance(value, (jax.Array, np.ndarray))
                except TypeError:
                    ok = False
                if not ok:
                    raise TypeError(
                        f"{fn}: {name} must be a Python value (it is static: it fixes a shape or the program); "
                        f"got {type(value).__name__}. Under jax.jit bind it with functools.partial or "
                        f"static_argnames=('{name}',).")
            for name in ("weights", "where"):
                if options.get(name) is not None:
                    options[name] = as_array(options[name], name=name, fn=fn)
            if options.get("weights") is not None:
                _core.weight_array(options["weights"], fn=fn)
            if "num_classes" in static:
                options["num_classes"] = class_count(fn, predictions, targets, options.get("num_classes"),
                                                     options.get("where"))
            predictions = as_array(predictions, name=first, fn=fn)
            targets = as_array(targets, name="targets", fn=fn)
            if targets_checked:
                check_values(fn, predictions, targets, where=options.get("where"),
                             probabilities=probabilities and options.get("from_logits") is not True)
            return jitted(predictions, targets, **options)

        return wrapper

    return decorate
