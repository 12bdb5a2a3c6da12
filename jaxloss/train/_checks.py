"""What ``fit`` checks of its data before training: every bad array named before anything is compiled.

Run once, eagerly, after the arguments' types and before the first step, in this order:

1. **Arguments that only some data use**: ``steps_per_epoch`` (iterables), ``drop_remainder`` and
   ``val_batch_size`` (in-memory data), and a ``drop_remainder`` batch larger than the data, which
   would leave no step (:func:`data_arguments`, called by ``fit`` itself).
2. **Dtypes**: every array of ``train`` and ``val`` (inputs, targets, weights, mask) holds numbers;
   string labels are answered with how to encode them.
3. **Shapes**: the model is traced (``jax.eval_shape``: shapes only, no computation, no compilation)
   on one batch of ``train`` and of ``val``, then the loss on the model's predictions and the batch's
   targets. An error there (a feature count the model was not built for; predictions the loss cannot
   take) is raised naming ``fit``, the data, the model or loss, and the shapes, not from deep inside
   the compiled epoch.
4. **Values**, with NumPy on the host, over all in-memory examples (the first batch of an iterable):
   non-finite inputs, targets or weights (NaN or inf, counted, outside what a ``where`` mask excludes),
   and targets outside what the loss takes, for each part of the loss whose input kind the registry
   knows (:data:`TARGETS`): binary labels in [0, 1] or {0, 1}, signed labels in {-1, 1}, class indices
   in ``[0, K)`` with ``K`` the model's output's last axis (``ignore_index`` and ``where`` honoured),
   probability vectors >= 0. A loss of your own, or a composite term with its own ``select``, is not
   checked (its targets cannot be known). Each is one vectorised pass (a min and a max first; the
   positions of the bad entries only when there are some).

The losses check the same values themselves when called eagerly; inside ``fit``'s compiled steps they
can only turn an invalid example into NaN, which would surface as "non-finite loss at epoch 1".
tests/test_fit_arguments.py holds :data:`TARGETS` to each registered loss's own checks.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxloss import _core, _kinds, _registry
from jaxloss import metrics as _metrics
from jaxloss._core import Targets
from jaxloss._kinds import InputKind
from jaxloss.compose._regularizers import Regularizer
from jaxloss.compose._schedules import Schedule
from jaxloss.train import _data
from jaxloss.train._objective import CLASS_KINDS, LossCall, known_terms

__all__ = ["TARGETS", "OVERRIDES", "data_arguments", "before_training", "target_rule"]

#: What the targets of each input kind may hold, elementwise (None: any finite number): a ``Targets`` of
#: ``jaxloss._core``, or ``"index_lists"`` (class indices in [0, K) up to the first negative entry, which
#: ends a list). Targets of the
#: class kinds (``CLASS_KINDS``) that are integers with one axis fewer than the predictions are class
#: indices in [0, K) instead; as floats of the predictions' shape they are probability vectors, >= 0.
TARGETS: dict[InputKind, Targets | str | None] = {
    _kinds.BINARY_LOGITS: Targets.UNIT_INTERVAL,
    _kinds.SIGNED_BINARY: Targets.SIGNED_OR_BINARY,
    _kinds.CLASS_LOGITS: Targets.NONNEGATIVE,
    _kinds.CLASS_LOG_PROBS: Targets.NONNEGATIVE,
    _kinds.CLASS_DISTRIBUTION: Targets.NONNEGATIVE,
    _kinds.MULTILABEL_LOGITS: Targets.UNIT_INTERVAL,
    _kinds.MULTILABEL_INDICES: "index_lists",
    _kinds.PAIRWISE_SCORES: Targets.SIGNED,
    _kinds.DISTANCES: Targets.SIGNED,
    _kinds.EMBEDDING_PAIRS: Targets.SIGNED,
    _kinds.EMBEDDING_PAIRS_BINARY: Targets.BINARY,
    _kinds.SEGMENTATION_BINARY: Targets.UNIT_INTERVAL,
    _kinds.SEGMENTATION_MULTICLASS: Targets.UNIT_INTERVAL,
    _kinds.COUNT_REGRESSION: Targets.NONNEGATIVE,
    _kinds.NONNEGATIVE_MEASURE: Targets.NONNEGATIVE,
    _kinds.REGRESSION: None,
    _kinds.NONNEGATIVE_REGRESSION: None,
    _kinds.POSITIVE_REGRESSION: None,
    _kinds.RANKING_LISTS: None,
    _kinds.EMBEDDING_VECTORS: None,
    _kinds.TRIPLET: None,
    _kinds.CONTRASTIVE_BATCH: None,
    _kinds.CTC: None,
    _kinds.LINEAR_HEAD: None,
}

#: Losses stricter than their kind: soft_margin's labels are {-1, 1} only (0 is not -1 there), and
#: listwise_softmax's relevance is >= 0.
OVERRIDES: dict[str, Targets | str | None] = {
    "soft_margin": Targets.SIGNED,
    "listwise_softmax": Targets.NONNEGATIVE,
}

#: Kinds whose losses read integer targets with one axis fewer than the predictions as class indices
#: (the segmentation losses as label maps, focal through its class-logits form).
_LABEL_KINDS = CLASS_KINDS | {_kinds.SEGMENTATION_BINARY}


# -- 1. arguments that only some data use -------------------------------------------------------------


def data_arguments(train: Any, val: Any, *, batch_size: int, val_batch_size: int | None,
                   steps_per_epoch: int | None, drop_remainder: bool) -> None:
    """The arguments that apply to in-memory data or to iterables only, given with the other kind."""
    in_memory = isinstance(train, (tuple, Mapping))
    if steps_per_epoch is not None and in_memory:
        raise ValueError(f"fit: steps_per_epoch={steps_per_epoch} applies to an iterable train (epochs cut from one "
                         "stream of batches); with in-memory arrays an epoch is one pass over the examples, "
                         "ceil(n / batch_size) steps. Drop steps_per_epoch, or choose batch_size and epochs.")
    if drop_remainder and not in_memory:
        raise ValueError("fit: drop_remainder=True applies to in-memory train data, which fit batches; an iterable's "
                         "batches are its own: drop the last partial batch in the loader (e.g. drop_last=True), or "
                         "pass drop_remainder=False.")
    if val_batch_size is not None and val is not None and not isinstance(val, (tuple, Mapping)):
        raise ValueError(f"fit: val_batch_size={val_batch_size} applies to in-memory val data, which fit cuts into "
                         "chunks; an iterable's batches are its own. Drop val_batch_size.")
    if drop_remainder and in_memory:
        size = _data.as_data(train, "train").size * jax.process_count()
        if batch_size > size:
            raise ValueError(f"fit: drop_remainder=True with batch_size={batch_size} and {size} examples in train "
                             f"leaves no full batch: no step would run. Use batch_size <= {size}, or "
                             "drop_remainder=False.")


# -- helpers --------------------------------------------------------------------------------------------


def _leaves(tree: Any, name: str) -> list[tuple[str, Any]]:
    """``(label, leaf)`` pairs: ``"inputs"`` for a bare array, ``"inputs['image']"`` inside a pytree."""
    pairs = jax.tree_util.tree_flatten_with_path(tree)[0]
    return [(name + jax.tree_util.keystr(path), leaf) for path, leaf in pairs]


def _spec(tree: Any, limit: int = 4) -> str:
    """Shapes and dtypes, for a message: ``(32, 2) float32``, or ``{'a': (32, 2) float32, ...}``."""
    def one(x: Any) -> str:
        shape, dtype = getattr(x, "shape", None), getattr(x, "dtype", None)
        if shape is None:
            shape, dtype = np.shape(x), np.result_type(x)
        return f"{tuple(shape)} {dtype}"
    pairs = jax.tree_util.tree_flatten_with_path(tree)[0]
    if len(pairs) == 1 and not pairs[0][0]:
        return one(pairs[0][1])
    parts = [f"{jax.tree_util.keystr(path) or '.'}: {one(leaf)}" for path, leaf in pairs[:limit]]
    return "{" + ", ".join(parts) + (", ..." if len(pairs) > limit else "") + "}"


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _check_dtype(label: str, leaf: Any, targets: bool = False) -> np.dtype:
    """``leaf``'s dtype (without copying a device array); strings, objects and ragged lists raise."""
    dtype = getattr(leaf, "dtype", None)
    if dtype is None:
        try:
            dtype = np.asarray(leaf).dtype
        except (TypeError, ValueError) as err:  # ragged nested lists
            raise TypeError(f"fit: {label} must be an array of numbers; got {type(leaf).__name__} ({err}).") from None
    dtype = np.dtype(dtype)
    if dtype.kind not in "USOV":
        return dtype
    head = np.asarray(leaf).ravel()[:1000]
    try:
        head = np.unique(head)
    except TypeError:  # objects that do not sort (None)
        pass
    sample = ", ".join(repr(v.item() if hasattr(v, "item") else v) for v in head[:3])
    if targets:
        fix = ("encode them as numbers first: classes, targets = np.unique(labels, return_inverse=True) gives "
               "class indices 0..K-1 (for two classes, (labels == positive).astype(np.float32))")
    else:
        fix = "a model takes numbers: encode them first (a vocabulary lookup, one-hot columns, ...)"
    what = "strings" if dtype.kind in "US" else f"Python objects (dtype {dtype})"
    raise TypeError(f"fit: {label} are {what} (dtype {dtype}, e.g. {sample}); {fix}.")


def _positions(bad: np.ndarray) -> str:
    return f"{_core.bad_positions(bad)}{' ...' if int(bad.sum()) > 5 else ''}"


def _entry_mask(where: Any, shape: tuple[int, ...]) -> np.ndarray | None:
    """``where`` broadcast to ``shape`` (prefix-aligned, as per-example masks are, else NumPy's way);
    None when it fits neither (the loss reads it its own way: what it excludes cannot be known here)."""
    w = np.asarray(where).astype(bool)
    if w.ndim <= len(shape):
        try:
            return np.broadcast_to(w.reshape(w.shape + (1,) * (len(shape) - w.ndim)), shape)
        except ValueError:
            pass
    try:
        return np.broadcast_to(w, shape)
    except ValueError:
        return None


# -- 4. values ------------------------------------------------------------------------------------------


def _check_finite(label: str, a: np.ndarray, keep: np.ndarray | None, what: str) -> None:
    """Non-finite entries of ``a`` (a float array), outside what ``keep`` excludes, raise naming how many."""
    if a.size == 0 or not np.issubdtype(a.dtype, np.inexact):
        return
    if np.isfinite(a.min()) and np.isfinite(a.max()):  # the fast path: two reductions, no temporary array
        return
    bad = ~np.isfinite(a)
    if keep is not None:
        bad &= keep
    if not bad.any():
        return
    rows = bad.reshape(bad.shape[0], -1).any(axis=1) if bad.ndim else bad.reshape(1)
    consequence = ("val_loss and every val_ metric would be NaN, and the best epoch meaningless" if what == "val" else
                   "the first step on them would make the parameters NaN")
    raise ValueError(f"fit: {label} of {what} hold {int(bad.sum())} non-finite values (NaN or inf) in "
                     f"{int(rows.sum())} of its {rows.size} examples (examples {_positions(rows)}); {consequence}. "
                     "Drop or impute them (e.g. keep = np.isfinite(x).reshape(len(x), -1).all(axis=1)), or "
                     f"exclude those examples with a mask: {what}={{'inputs': ..., 'targets': ..., 'where': keep}}.")


def target_rule(entry: Any, options: Mapping[str, Any], targets: Any, predictions: Any) -> Targets | str | None:
    """What ``entry``'s loss takes in ``targets`` against these ``predictions`` (a shape/dtype example):
    ``"classes"`` (indices in [0, K)), ``"index_lists"``, a ``Targets``, or None (any finite number)."""
    kinds = (entry.inputs, *entry.also_inputs)
    p_ndim = len(getattr(predictions, "shape", ())) if hasattr(predictions, "shape") else None
    t_dtype = getattr(targets, "dtype", None)
    if t_dtype is None:
        t_dtype = np.asarray(targets).dtype
    integer = np.issubdtype(np.dtype(t_dtype), np.integer)
    if (integer and p_ndim is not None and p_ndim == np.ndim(targets) + 1 and options.get("multiclass") is not False
            and any(k in _LABEL_KINDS for k in kinds)):
        return "classes"
    if entry.name in OVERRIDES:
        return OVERRIDES[entry.name]
    return TARGETS.get(entry.inputs)


_MEANING = {
    Targets.UNIT_INTERVAL: "in [0, 1] (labels 0 and 1, or probabilities)",
    Targets.BINARY: "in {0, 1}",
    Targets.SIGNED: "in {-1, 1}",
    Targets.SIGNED_OR_BINARY: "in {-1, 1} (or {0, 1}, 0 counting as -1)",
    Targets.NONNEGATIVE: ">= 0",
}


def _hint(rule: Any, found: np.ndarray, k: int | None) -> str:
    """The likely fix for the values ``found`` outside ``rule``."""
    values = set(np.unique(found[:10_000]).tolist()) if found.size else set()
    if rule in (Targets.UNIT_INTERVAL, Targets.BINARY):
        if values and values <= {-1.0}:
            return (" Labels in {-1, 1}: map them with (targets + 1) / 2, or use a loss for signed labels "
                    "(hinge, soft_margin).")
        if values and all(float(v).is_integer() and v >= 0 for v in values):
            return (" Class indices 0..K-1 of more than two classes need a multiclass loss (softmax_cross_entropy) "
                    "and a model with one output per class.")
    if rule is Targets.SIGNED and values and values <= {0.0}:
        return " Labels in {0, 1}: map them with 2 * targets - 1."
    if rule == "classes":
        low, high = (min(values), max(values)) if values else (0, 0)
        if high >= (k or 0):
            return (f" The model gives {k} class scores (the last axis of its output), so labels must be in "
                    f"[0, {k - 1}]; found labels up to {int(high)}: give the model {int(high) + 1} outputs, or "
                    "renumber the labels (np.unique(labels, return_inverse=True)).")
        if low < 0:
            return (" Negative labels: exclude padding with ignore_index= (e.g. jl.term('softmax_cross_entropy', "
                    "ignore_index=-100)) or with a 'where' mask.")
    return ""


def _check_values(label: str, what: str, name: str, t: np.ndarray, rule: Any, k: int | None,
                  keep: np.ndarray | None, ignore_index: Any) -> None:
    """Entries of ``t`` outside ``rule`` (and not excluded by ``keep`` or ``ignore_index``) raise."""
    if rule is None or t.size == 0 or not (np.issubdtype(t.dtype, np.number) or t.dtype == np.bool_):
        return
    if rule in ("classes", "index_lists") and k is None:
        return  # predictions without one class axis: K is not known
    if t.dtype == np.bool_:
        t = t.astype(np.int8)
    lo, hi = t.min(), t.max()  # the fast path: two reductions; NaN or a value out of range fails it
    with np.errstate(invalid="ignore"):
        if rule == "classes":
            if lo >= 0 and hi < k:
                return
            valid = (t >= 0) & (t < k)
        elif rule == "index_lists":  # a list ends at its first negative entry; what follows is ignored
            if hi < k:
                return
            valid = (np.cumprod(t >= 0, axis=-1) == 0) | (t < k)
        else:
            if rule is Targets.UNIT_INTERVAL and lo >= 0 and hi <= 1 or rule is Targets.NONNEGATIVE and lo >= 0:
                return
            valid = np.asarray(rule.valid(t))  # set membership ({0, 1}, {-1, 1}): one vectorised pass
        if np.issubdtype(t.dtype, np.inexact):
            valid |= ~np.isfinite(t)  # NaN and inf: the finiteness check's to report
    bad = ~valid
    if ignore_index is not None and rule == "classes":
        bad &= t != ignore_index
    if keep is not None:
        bad &= keep
    if not bad.any():
        return
    expected = (f"class indices in [0, {k - 1}]" if rule == "classes" else
                f"lists of class indices in [0, {k - 1}], each ended by a negative entry (-1)"
                if rule == "index_lists" else _MEANING[rule])
    found = t[bad]
    shown = np.unique(found[:10_000])[:5].tolist()
    raise ValueError(f"fit: {label} of {what} hold values that {name} does not take: its targets are {expected}; "
                     f"found {shown} at {int(bad.sum())} of {t.size} entries (positions {_positions(bad)})."
                     f"{_hint(rule, found, k)}")


def _check_arrays(what: str, arrays: tuple[Any, Any, dict[str, Any]], terms: list, predictions: Any) -> None:
    """Dtypes, finiteness and the targets' values of one dataset's arrays (all of them, or one batch)."""
    inputs, targets, extra = arrays
    # NumPy views of the arrays that are checked: floats (finiteness) and the targets (their values);
    # np.asarray copies only a device array to the host.
    host = {}
    for key, tree in (("inputs", inputs), ("targets", targets), ("weights", extra.get("weights")),
                      ("where", extra.get("where"))):
        pairs = _leaves(tree, f"the {key}") if tree is not None else []
        dtypes = [_check_dtype(f"{lb} of {what}", x, key == "targets") for lb, x in pairs]
        host[key] = [(lb, np.asarray(x)) for (lb, x), dtype in zip(pairs, dtypes)
                     if key in ("targets", "where") or np.issubdtype(dtype, np.inexact)]
    where = host["where"][0][1] if len(host["where"]) == 1 else None
    n = _data.leading(arrays, what) if (inputs is not None or targets is not None) else 0
    example_keep = None
    if where is not None and where.ndim and where.shape[0] == n:
        example_keep = where.reshape(n, -1).any(axis=1)

    def keep_for(a: np.ndarray, per_example: bool) -> np.ndarray | None:
        if where is None:
            return None
        if per_example:
            return None if example_keep is None else _entry_mask(example_keep, a.shape)
        return _entry_mask(where, a.shape)

    for key in ("inputs", "targets", "weights"):
        for label, a in host.get(key, ()):
            keep = keep_for(a, key == "inputs")
            if where is not None and keep is None and key != "inputs":
                continue  # a mask this array does not align with: what it excludes is the loss's to say
            _check_finite(label, a, keep, what)
    if not terms or len(host["targets"]) != 1:
        return
    (label, t), = host["targets"]
    keep = keep_for(t, False)
    if where is not None and keep is None:
        return
    k = None
    if hasattr(predictions, "shape") and len(predictions.shape) >= 1:
        k = int(predictions.shape[-1])
    done = set()
    for term, entry, options in terms:
        rule = target_rule(entry, options, t, predictions)
        ignore = options.get("ignore_index")
        if (rule, ignore) in done:
            continue
        done.add((rule, ignore))
        _check_values(label, what, term, t, rule, k, keep, ignore)


# -- 2, 3 and 4 in one: before the first step ----------------------------------------------------------


def _batch(data: Any, size: int) -> tuple | None:
    """One batch of ``data``: the first ``size`` in-memory examples, or an iterable's first batch."""
    if isinstance(data, _data.ArrayData):
        n = min(size, data.size)
        return jax.tree.map(lambda a: a[:n], data.arrays)
    first = data.first()
    return None if first is None else _data.split_batch(first, f"a batch of {data.what}")


def _predictions(model: Any, inputs: Any, what: str) -> Any:
    """The model's output shapes on ``inputs`` (traced, not computed); a failure names the model and the shapes."""
    try:
        return jax.eval_shape(lambda p, s, x: model.apply(p, s, x, key=None, train=False)[0],
                         model.params, model.state, inputs)
    except (TypeError, ValueError) as err:
        if str(err).startswith("fit:"):
            raise
        raise ValueError(
            f"fit: the model {model.name} cannot take the inputs of {what}: inputs {_spec(inputs)} (one batch), "
            f"parameters {_spec(model.params)}: {_first_line(err)} Check that the inputs have the shape the model "
            f"was built for (the features on their last axis), or build the model for these inputs.") from err


def _loss_shapes(call: LossCall, model: Any, predictions: Any, batch: tuple, what: str) -> None:
    """The loss traced on the model's predictions and one batch's targets; a failure names the loss and the shapes."""
    inputs, targets, extra = batch

    def run(params: Any, predictions: Any, inputs: Any, targets: Any, extra: Any) -> Any:
        return call(params, predictions, inputs, targets, extra, jnp.zeros((), jnp.int32))[0]

    try:
        jax.eval_shape(run, model.params, predictions, inputs, targets, extra)
    except (TypeError, ValueError) as err:
        if str(err).startswith("fit:"):
            raise
        loss = call.loss.func if isinstance(call.loss, functools.partial) else call.loss
        name = getattr(loss, "__name__", type(loss).__name__)
        raise type(err)(f"fit: the loss {name} cannot take the model's predictions {_spec(predictions)} and the "
                        f"targets of {what} {_spec(targets)}: {err}") from err


def before_training(model: Any, call: LossCall, train_data: Any, val_data: Any, example: tuple, *,
                    batch_size: int) -> None:
    """Checks 2 to 4 of the module docstring on ``train`` and ``val`` (``example``: train's first batch)."""
    terms = known_terms(call.loss)
    datasets = [("train", train_data, example)]
    if val_data is not None:
        val_example = _batch(val_data, batch_size)
        if val_example is not None:
            datasets.append(("val", val_data, val_example))
    for what, data, batch in datasets:  # dtypes first, on the batch: before anything is traced
        for key, tree in zip(("inputs", "targets"), batch[:2]):
            for label, leaf in _leaves(tree, f"the {key}"):
                _check_dtype(f"{label} of {what}", leaf, key == "targets")
    shapes = {}
    for what, data, batch in datasets:
        # An objective of its own (params, batch) runs its model itself: fit never calls the model.
        shapes[what] = _predictions(model, batch[0], what) if call.needs_predictions else None
        _loss_shapes(call, model, shapes[what], batch, what)
    for what, data, batch in datasets:
        arrays = data.arrays if isinstance(data, _data.ArrayData) else batch
        _check_arrays(what, arrays, terms, shapes[what])


def metrics_argument(fn: str, metrics: Any) -> None:
    """``metrics`` is a metric name, a ``Metric``, or a list or tuple of them (names known), else an error naming ``fn``."""
    if not isinstance(metrics, (str, _metrics.Metric, list, tuple)):
        raise TypeError(f"{fn}: metrics must be a list of metric names or jaxloss.metrics.Metric objects; got "
                        f"{type(metrics).__name__} {metrics!r}.")
    for i, m in enumerate([metrics] if isinstance(metrics, (str, _metrics.Metric)) else metrics):
        if isinstance(m, str) and m.lower() not in _metrics.STREAMING:
            raise ValueError(f"{fn}: metrics[{i}]={m!r} is not a metric; known names: {', '.join(_metrics.STREAMING)}.")
        if not isinstance(m, (str, _metrics.Metric)):
            raise TypeError(f"{fn}: metrics[{i}] must be a metric name or a jaxloss.metrics.Metric; got "
                            f"{type(m).__name__}.")


def loss_argument(fn: str, loss: Any) -> None:
    """``loss`` is a registered name, a loss function, a composite or an objective, else an error naming ``fn``
    (a regularizer or a schedule in its place says where it goes)."""
    if isinstance(loss, Regularizer):
        raise TypeError(f"{fn}: loss={loss!r} is a regularizer (a penalty on the parameters), not a loss of "
                        f"(predictions, targets). Give a loss, and add the regularizer through an objective: "
                        f"loss=jl.objective(model, 'mse', regularizers={loss!r}).")
    if isinstance(loss, Schedule):
        raise TypeError(f"{fn}: loss={loss!r} is a schedule (a weight that follows the step), not a loss; it weighs "
                        f"a term of a composite: loss=jl.term('mse', weight=schedule).")
    if loss is None or not (isinstance(loss, str) or callable(loss)):
        raise TypeError(f"{fn}: loss must be a loss name, a loss function, a composite or an objective; got "
                        f"{type(loss).__name__} {loss!r}.")
    if isinstance(loss, str):
        try:
            _registry.info(loss)
        except KeyError as err:
            raise KeyError(f"{fn}: loss={loss!r}: {err.args[0]}") from None
