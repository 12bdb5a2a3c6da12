"""Streaming metrics: a :class:`Metric` is init / update / merge / compute over a pytree state (private).

Each constructor builds the statistics its one-shot function computes (``_confusion``, ``_regression``,
``_probabilistic``) as a state of fixed shapes and dtypes, so a streaming metric equals the one-shot
function on the concatenated data (``auc_histogram`` excepted: a histogram with a bound). The exact
ranking metrics (``auc``, ``average_precision``) keep every entry: their state is a buffer, sized by
``capacity`` (or growing, batch by batch, without one). The constructors are memoized: the same
options give the same object, a stable key for a caller's jit cache.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Literal, NamedTuple, Union

import jax
import jax.numpy as jnp
from jax import Array

from jaxloss import _core, _options
from jaxloss._core import ArrayLike
from jaxloss.metrics import _confusion, _inputs, _probabilistic, _ranking, _regression, _states
from jaxloss.metrics._inputs import Average
from jaxloss.metrics._states import (BinnedState, ConfusionState, HistogramState, MeanState, MomentsState,
                                     RankingState)


#: ``average`` of the streaming precision/recall/F: ``"default"`` is ``"binary"`` without ``num_classes``
#: and ``"macro"`` with it.
StreamingAverage = Union[Average, Literal["default"]]


class Metric(NamedTuple):
    """A streaming metric: pure functions over a pytree state of fixed shapes and dtypes.

    Attributes:
      name: canonical name (History stores ``"val_" + name``).
      init: ``() -> state``.
      update: ``(state, predictions, targets, *, weights=None, where=None) -> state``.
      merge: ``(state_a, state_b) -> state``; associative and commutative.
      compute: ``(state) -> Array``.
      greater_is_better: True for scores (accuracy, AUC, ...), False for errors (log loss, MSE...).
      sized: for a metric that keeps every entry (``auc``, ``average_precision``): ``sized(n)`` is the
        same metric with buffers for ``n`` entries (fixed shapes, as a ``lax.scan`` carry needs),
        ``sized(None)`` the one whose buffers grow with each update; ``fit`` sizes them to the data.
        None for the metrics whose state has a fixed size whatever the data.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import metrics
      >>> m = metrics.get("accuracy")
      >>> s = m.update(m.init(), jnp.array([[2.0, 1.0], [0.0, 3.0]]), jnp.array([0, 0]))
      >>> s = m.update(s, jnp.array([[1.0, 0.0]]), jnp.array([0]))
      >>> round(float(m.compute(s)), 4), m.greater_is_better
      (0.6667, True)
    """

    name: str
    init: Callable[[], Any]
    update: Callable[..., Any]
    merge: Callable[[Any, Any], Any]
    compute: Callable[[Any], Array]
    greater_is_better: bool
    sized: Callable[[int | None], Metric] | None = None


def _memoized(constructor: Callable[..., Metric]) -> Callable[..., Metric]:
    """Checks the options (the declared-option machinery every loss and metric shares), then: same options
    (a default given or left out alike) -> the same Metric object, so a caller's jit cache keyed on it is
    reused."""
    cache: dict = {}
    declared = _inputs.declare(constructor)
    name = constructor.__name__
    defaults = {k: p.default for k, p in inspect.signature(constructor).parameters.items() if p.default is not p.empty}

    @functools.wraps(constructor)
    def wrapper(**options: Any) -> Metric:
        unknown = sorted(set(options) - set(declared))
        if unknown:
            listed = ", ".join(map(repr, unknown))
            raise TypeError(f"{name}: unknown option{'s' * (len(unknown) > 1)} {listed}; it takes "
                            f"{', '.join(declared) or 'no options'}.{_RENAMED.get((name, unknown[0]), '')}")
        options = _options.check(name, declared, options)
        key = tuple(sorted({**defaults, **options}.items()))  # a default given or left out: one object
        try:
            return cache[key]
        except KeyError:
            metric = cache[key] = constructor(**options)
            return metric
        except TypeError:  # an unhashable option: build without caching
            return constructor(**options)

    return wrapper


#: Options that moved to another constructor: the hint an unknown option gets.
_RENAMED = {("auc_metric", "num_thresholds"): (
    " auc_metric is exact (every score, sorted); the 200-bin histogram approximation is "
    "auc_histogram_metric(num_thresholds=...).")}


def _add(a: Any, b: Any) -> Any:
    return jax.tree.map(jnp.add, a, b)


def _cast_like(state: Any, batch: Any) -> Any:
    return jax.tree.map(lambda s, b: b.astype(s.dtype), state, batch)


def _additive(name: str, init: Callable[[], Any], stats: Callable[..., Any], compute: Callable[[Any], Array],
              greater_is_better: bool, *, targets: bool = True, probabilities: bool = False) -> Metric:
    """A Metric whose state is a sum of per-batch statistics ``stats(predictions, targets, w, m)``.

    ``update`` checks concrete inputs as the one-shot function does (:func:`_inputs.check_values`: the
    targets unless ``targets`` is False, the predictions as probabilities with ``probabilities``).
    """
    fn = f"{name}_metric.update"

    def update(state: Any, predictions: ArrayLike, targets_: ArrayLike, *, weights: ArrayLike | None = None,
               where: ArrayLike | None = None) -> Any:
        if targets:
            _inputs.check_values(fn, _inputs.as_array(predictions, name="predictions", fn=fn),
                                 _inputs.as_array(targets_, name="targets", fn=fn), where=where,
                                 probabilities=probabilities)
        batch = stats(predictions, targets_, weights, where)
        return _add(state, _cast_like(state, batch))

    return Metric(name, init, update, _add, compute, greater_is_better)


def _mean_init() -> MeanState:
    d = _inputs.state_dtype()
    return MeanState(jnp.zeros((), d), jnp.zeros((), d))


@_memoized
def accuracy_metric(*, top_k: int = 1, from_logits: bool = False) -> Metric:
    """Streaming :func:`accuracy` (exact). ``from_logits`` is accepted and ignored (order only).

    State: weighted count of correct samples and total weight.
    """
    del from_logits
    fn = "accuracy_metric.update"

    def stats(p: ArrayLike, t: ArrayLike, weights: Any, where: Any) -> Any:
        correct = _confusion.accuracy_values(fn, p, t, top_k, _inputs.state_dtype())
        w, mask = _inputs.sample_weights(fn, correct.shape, weights, where, _inputs.state_dtype())
        return _states.mean_stats(correct, w, mask)

    return _additive("accuracy", _mean_init, stats, _states.mean_compute, True)


@_memoized
def binary_accuracy_metric(*, threshold: float = 0.5, from_logits: bool = False) -> Metric:
    """Streaming :func:`binary_accuracy` (exact)."""
    fn = "binary_accuracy_metric.update"

    def stats(p: ArrayLike, t: ArrayLike, weights: Any, where: Any) -> Any:
        p, t = _inputs.as_array(p, name="predictions", fn=fn), _inputs.as_array(t, name="targets", fn=fn)
        _inputs.check_same_shape(p, t, fn=fn)
        correct = _inputs.binary_hits(p, t, threshold, from_logits, _inputs.state_dtype())
        w, mask = _inputs.sample_weights(fn, t.shape, weights, where, _inputs.state_dtype())
        return _states.mean_stats(correct, w, mask)

    _inputs.check_threshold("binary_accuracy_metric", threshold, from_logits)
    return _additive("binary_accuracy", _mean_init, stats, _states.mean_compute, True)


def _prf_metric(name: str, which: str, beta: float, average: StreamingAverage, num_classes: int | None,
                threshold: float, from_logits: bool) -> Metric:
    fn = f"{name}_metric"
    if average == "default":
        average = "binary" if num_classes is None else "macro"
    k = 2 if num_classes is None else _inputs.static_int(fn, "num_classes", num_classes, 2)
    _inputs.check_average(fn, average, None, None, k)
    _inputs.check_threshold(fn, threshold, from_logits)

    def init() -> ConfusionState:
        d = _inputs.state_dtype()
        return ConfusionState(jnp.zeros((k, k), d), jnp.zeros(k, d))

    def stats(p: ArrayLike, t: ArrayLike, weights: Any, where: Any) -> Any:
        p, t = _inputs.as_array(p, name="predictions", fn=fn), _inputs.as_array(t, name="targets", fn=fn)
        if num_classes is None and p.ndim != t.ndim:
            raise ValueError(
                f"{fn}.update: got class scores of shape {p.shape} but the metric was built for "
                f"binary scores; build it with num_classes={p.shape[-1]}."
            )
        return _confusion.confusion_stats(fn + ".update", p, t, k, threshold, from_logits, weights, where,
                                          dtype=_inputs.state_dtype())

    def compute(state: ConfusionState) -> Array:
        return _confusion.prf_from_state(state, average, beta, which)

    return _additive(name, init, stats, compute, True)


_STREAMING_PRF_DOC = """

    State: a ``(K, K)`` weighted confusion matrix and per-class presence counts (``K = 2`` unless
    ``num_classes`` is given, in which case ``predictions`` are ``(..., num_classes)`` scores).
    ``average`` defaults to ``"binary"`` without ``num_classes`` and ``"macro"`` with it. Exact.
    """


@_memoized
def precision_metric(*, average: StreamingAverage = "default", num_classes: int | None = None,
                     threshold: float = 0.5, from_logits: bool = False) -> Metric:
    return _prf_metric("precision", "precision", 1.0, average, num_classes, threshold, from_logits)


@_memoized
def recall_metric(*, average: StreamingAverage = "default", num_classes: int | None = None,
                  threshold: float = 0.5, from_logits: bool = False) -> Metric:
    return _prf_metric("recall", "recall", 1.0, average, num_classes, threshold, from_logits)


@_memoized
def f1_metric(*, average: StreamingAverage = "default", num_classes: int | None = None,
              threshold: float = 0.5, from_logits: bool = False) -> Metric:
    return _prf_metric("f1", "f", 1.0, average, num_classes, threshold, from_logits)


@_memoized
def fbeta_metric(*, beta: float = 1.0, average: StreamingAverage = "default", num_classes: int | None = None,
                 threshold: float = 0.5, from_logits: bool = False) -> Metric:
    return _prf_metric("fbeta", "f", float(beta), average, num_classes, threshold, from_logits)


precision_metric.__doc__ = "Streaming :func:`precision`." + _STREAMING_PRF_DOC
recall_metric.__doc__ = "Streaming :func:`recall`." + _STREAMING_PRF_DOC
f1_metric.__doc__ = "Streaming :func:`f1_score`." + _STREAMING_PRF_DOC
fbeta_metric.__doc__ = "Streaming :func:`fbeta_score`." + _STREAMING_PRF_DOC


@_memoized
def log_loss_metric(*, from_logits: bool = False, epsilon: float | None = None) -> Metric:
    """Streaming :func:`log_loss` (exact). State: weighted loss sum and total weight."""
    fn = "log_loss_metric.update"

    def stats(p: ArrayLike, t: ArrayLike, weights: Any, where: Any) -> Any:
        losses, shape, _ = _probabilistic.log_loss_values(fn, p, t, from_logits, epsilon, where)
        w, mask = _inputs.sample_weights(fn, shape, weights, where, losses.dtype)
        return _states.mean_stats(losses, w, mask)

    return _additive("log_loss", _mean_init, stats, _states.mean_compute, False, probabilities=not from_logits)


def _error_metric(name: str, fn_name: str, error: Callable[[Array], Array], root: bool = False) -> Metric:
    fn = f"{fn_name}.update"

    def stats(p: ArrayLike, t: ArrayLike, weights: Any, where: Any) -> Any:
        p, t, w, _ = _regression.regression_inputs(fn, p, t, weights, where)
        return MeanState(jnp.sum(w * error(p - t)), jnp.sum(w))

    compute = (lambda s: jnp.sqrt(_states.mean_compute(s))) if root else _states.mean_compute
    return _additive(name, _mean_init, stats, compute, False, targets=False)


@_memoized
def mse_metric(*, from_logits: bool = False) -> Metric:
    """Streaming :func:`mean_squared_error` (exact). ``from_logits`` is ignored."""
    del from_logits
    return _error_metric("mse", "mse_metric", jnp.square)


@_memoized
def rmse_metric(*, from_logits: bool = False) -> Metric:
    """Streaming :func:`root_mean_squared_error` (exact: the root of the pooled MSE)."""
    del from_logits
    return _error_metric("rmse", "rmse_metric", jnp.square, root=True)


@_memoized
def mae_metric(*, from_logits: bool = False) -> Metric:
    """Streaming :func:`mean_absolute_error` (exact). ``from_logits`` is ignored."""
    del from_logits
    return _error_metric("mae", "mae_metric", jnp.abs)


@_memoized
def r2_metric(*, from_logits: bool = False) -> Metric:
    """Streaming :func:`r2_score` (exact up to rounding).

    State: sample count, total weight, weighted target mean, sum of squared deviations from it and
    residual sum of squares. ``update`` and ``merge`` combine batches with Chan's pairwise formula,
    so the state is *not* merged by addition (``merge`` does the right thing).
    """
    del from_logits

    def init() -> MomentsState:
        d = _inputs.state_dtype()
        return MomentsState(*(jnp.zeros((), d) for _ in range(5)))

    def update(state: MomentsState, predictions: ArrayLike, targets: ArrayLike, *,
               weights: ArrayLike | None = None, where: ArrayLike | None = None) -> MomentsState:
        batch = _regression.moments_stats("r2_metric.update", predictions, targets, weights, where)
        return _regression.merge_moments(state, _cast_like(state, batch))

    return Metric("r2", init, update, _regression.merge_moments, _regression.r2_from_state, True)


@_memoized
def ece_metric(*, num_bins: int = 15, from_logits: bool = False) -> Metric:
    """Streaming :func:`expected_calibration_error` (exact). State: three per-bin sums."""
    num_bins = _inputs.static_int("ece_metric", "num_bins", num_bins, 1)

    def init() -> BinnedState:
        d = _inputs.state_dtype()
        return BinnedState(*(jnp.zeros(num_bins, d) for _ in range(3)))

    def stats(p: ArrayLike, t: ArrayLike, weights: Any, where: Any) -> Any:
        return _probabilistic.calibration_stats("ece_metric.update", p, t, num_bins, from_logits, weights,
                                                where, dtype=_inputs.state_dtype())

    return _additive("ece", init, stats, _probabilistic.ece_from_state, False, probabilities=not from_logits)


def _ranking_metric(name: str, constructor: Callable[..., Metric], value_of: Callable[[Array, Array, Array], Array],
                    capacity: int | None, from_logits: bool) -> Metric:
    """An exact ranking metric: every entry kept (see :func:`auc_metric`), ``value_of`` computed on them."""
    ctor = constructor.__name__
    fn = f"{ctor}.update"
    n = None if capacity is None else _inputs.static_int(ctor, "capacity", capacity, 1)

    def init() -> RankingState:
        d, size = _inputs.state_dtype(), n or 0
        return RankingState(jnp.zeros(size, d), jnp.zeros(size, bool), jnp.zeros(size, d), jnp.zeros((), jnp.int32),
                            jnp.zeros((), bool))

    def entries(p: ArrayLike, t: ArrayLike, weights: Any, where: Any) -> RankingState:
        p, t = _inputs.as_array(p, name="predictions", fn=fn), _inputs.as_array(t, name="targets", fn=fn)
        _inputs.check_same_shape(p, t, fn=fn, hint=f" {ctor} takes one score per binary target.")
        _inputs.check_values(fn, p, t, where=where, probabilities=False)
        d = _inputs.state_dtype()
        w, mask = _inputs.sample_weights(fn, t.shape, weights, where, d)
        scores = _inputs.masked(p.astype(d), mask)
        # A target outside [0, 1] (traced; concrete ones raise above) makes the value NaN, as a NaN score does.
        scores = jnp.where(_inputs.binary_targets_valid(t) | (w == 0), scores, jnp.nan)
        k = scores.size
        return RankingState(scores.reshape(-1), _inputs.binary_targets(t).reshape(-1), w.reshape(-1),
                            jnp.asarray(k, jnp.int32), jnp.zeros((), bool))

    def merge(a: RankingState, b: RankingState) -> RankingState:
        # b's entries after a's used ones; the buffers hold both (their lengths add up).
        def put(x: Array, y: Array) -> Array:
            room = jnp.concatenate([x, jnp.zeros(y.shape, x.dtype)])
            return jax.lax.dynamic_update_slice(room, y.astype(x.dtype), (a.count,))
        return RankingState(put(a.scores, b.scores), put(a.positive, b.positive), put(a.weights, b.weights),
                            a.count + b.count, a.dropped | b.dropped)

    def update(state: RankingState, predictions: ArrayLike, targets: ArrayLike, *, weights: ArrayLike | None = None,
               where: ArrayLike | None = None) -> RankingState:
        batch = entries(predictions, targets, weights, where)
        if n is None or state.capacity == 0:  # buffers that grow (shapes change with every update)
            return merge(state, batch)
        k = batch.scores.shape[0]
        if k > state.capacity:  # cannot fit, whatever the count
            return state._replace(count=state.count + k, dropped=jnp.ones((), bool))

        def put(x: Array, y: Array) -> Array:
            return jax.lax.dynamic_update_slice(x, y.astype(x.dtype), (state.count,))
        return RankingState(put(state.scores, batch.scores), put(state.positive, batch.positive),
                            put(state.weights, batch.weights), state.count + k,
                            state.dropped | (state.count + k > state.capacity))

    def compute(state: RankingState) -> Array:
        used = jnp.arange(state.capacity) < state.count
        w = jnp.where(used, state.weights, 0)
        scores = jnp.where(used, state.scores, 0)
        has_nan = jnp.any(jnp.isnan(scores) & (w != 0))
        return jnp.where(state.dropped | has_nan, jnp.nan, value_of(scores, state.positive & used, w))

    sized = functools.partial(_resized, constructor, from_logits)
    return Metric(name, init, update, merge, compute, True, sized)


def _resized(constructor: Callable[..., Metric], from_logits: bool, capacity: int | None) -> Metric:
    return constructor(capacity=capacity, from_logits=from_logits)


_EXACT_RANKING_DOC = """

    ``from_logits`` is accepted and ignored: only the scores' order matters, so logits are ranked as
    they are (a sigmoid would tie the confident ones in float32, whose sigmoid rounds to 1).

    The state keeps every entry (:class:`RankingState`: score, positive flag, weight), and ``compute``
    sorts them: O(n log n), no approximation. ``capacity`` sizes its buffers: with it, the state has
    fixed shapes (a ``lax.scan`` or ``jit`` carry) and holds up to ``capacity`` entries (more make the
    value NaN, never a value of part of the data); without it (None), each update grows the buffers
    (eager loops), as it does for a state of capacity 0. ``fit`` sizes them to the data itself.
    ``merge`` concatenates (the capacities add).
    NaN when a class is absent (average precision: when no positive has weight). For a fixed-size
    approximation see :func:`auc_histogram_metric`.
    """


@_memoized
def auc_metric(*, capacity: int | None = None, from_logits: bool = False) -> Metric:
    return _ranking_metric("auc", auc_metric, _ranking.auc_of, capacity, from_logits)


@_memoized
def average_precision_metric(*, capacity: int | None = None, from_logits: bool = False) -> Metric:
    return _ranking_metric("average_precision", average_precision_metric, _ranking.average_precision_of, capacity,
                           from_logits)


auc_metric.__doc__ = """Streaming :func:`roc_auc`, exact: equals it (and scikit-learn) on every entry seen.""" + \
    _EXACT_RANKING_DOC + """
    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import metrics
      >>> m = metrics.auc_metric(capacity=8)
      >>> s = m.update(m.init(), jnp.array([0.1, 0.4]), jnp.array([0, 0]))
      >>> s = m.update(s, jnp.array([0.35, 0.8]), jnp.array([1, 1]))
      >>> float(m.compute(s))
      0.75
    """
average_precision_metric.__doc__ = """Streaming :func:`average_precision`, exact: equals it (and scikit-learn).""" + \
    _EXACT_RANKING_DOC


@_memoized
def auc_histogram_metric(*, num_thresholds: int = 200, from_logits: bool = False) -> Metric:
    """Streaming ROC AUC from a histogram of scores: approximate, with a bound, in a state of fixed size.

    Scores are probabilities on ``[0, 1]`` (or ``sigmoid(logits)`` with ``from_logits=True``),
    binned into ``num_thresholds`` equal-width bins (values outside ``[0, 1]`` go to the end bins).
    The state holds the positive and negative weight per bin; ``compute`` returns
    ``sum_b pos_b (neg_below_b + neg_b / 2) / (W_pos W_neg)``, i.e. every pair in the same bin counts
    as a tie. Pairs in different bins are ordered exactly (binning is monotone), so

        ``|streaming AUC - exact AUC| <= (1/2) sum_b pos_b neg_b / (W_pos W_neg)``,

    half the fraction of positive-negative pairs that share a bin; :func:`auc_histogram_bound`
    computes it from the state. With well-spread probabilities and 200 bins it is typically below
    0.005; squashed or confident scores make it large: scores that a model grows confident about
    crowd into the end bins and tie there (logits scaled by 30 lose 0.04 of AUC with the same
    ranking). Its state does not grow with the data; prefer the exact :func:`auc_metric` (``"auc"``)
    wherever the scores fit in memory. NaN when a class is absent.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import metrics
      >>> m = metrics.auc_histogram_metric(num_thresholds=100)
      >>> s = m.update(m.init(), jnp.array([0.1, 0.4, 0.35, 0.8]), jnp.array([0, 0, 1, 1]))
      >>> float(m.compute(s)), float(metrics.auc_histogram_bound(s))
      (0.75, 0.0)
    """
    b = _inputs.static_int("auc_histogram_metric", "num_thresholds", num_thresholds, 1)
    fn = "auc_histogram_metric.update"

    def init() -> HistogramState:
        d = _inputs.state_dtype()
        return HistogramState(jnp.zeros(b, d), jnp.zeros(b, d))

    def stats(p: ArrayLike, t: ArrayLike, weights: Any, where: Any) -> Any:
        p, t = _inputs.as_array(p, name="predictions", fn=fn), _inputs.as_array(t, name="targets", fn=fn)
        _inputs.check_same_shape(p, t, fn=fn)
        d = _inputs.state_dtype()
        w, mask = _inputs.sample_weights(fn, t.shape, weights, where, d)
        x = p.astype(_inputs.float_dtype(p))
        prob = _inputs.masked(jax.nn.sigmoid(x) if from_logits else x, mask)
        bins = jnp.clip(jnp.floor(prob * b), 0, b - 1).astype(jnp.int32).reshape(-1)
        pos = _inputs.binary_targets(t).reshape(-1)
        # A target outside [0, 1] (traced; concrete ones raise in update) poisons both histograms.
        w = _core.poison_invalid(w, _inputs.binary_targets_valid(t) | (w == 0)).reshape(-1)
        zeros = jnp.zeros(b, d)
        return HistogramState(zeros.at[bins].add(jnp.where(pos, w, 0)),
                              zeros.at[bins].add(jnp.where(pos, 0, w)))

    def compute(state: HistogramState) -> Array:
        neg_below = jnp.cumsum(state.negative) - state.negative
        pairs = jnp.sum(state.positive * (neg_below + 0.5 * state.negative))
        denom = jnp.sum(state.positive) * jnp.sum(state.negative)
        return jnp.where(denom > 0, pairs / jnp.where(denom > 0, denom, 1), jnp.nan)

    return _additive("auc_histogram", init, stats, compute, True)


def auc_histogram_bound(state: HistogramState) -> Array:
    """Upper bound on ``|auc_histogram_metric().compute(state) - roc_auc(...)|`` for the data in ``state``.

    ``(1/2) sum_b pos_b neg_b / (W_pos W_neg)``: half the fraction of positive-negative pairs that
    share a histogram bin (NaN when a class is absent). See :func:`auc_histogram_metric`.
    """
    if not isinstance(state, HistogramState):
        raise TypeError(f"auc_histogram_bound: state must be the HistogramState of an auc_histogram_metric "
                        f"(m.update(...)); got {type(state).__name__}.")
    denom = jnp.sum(state.positive) * jnp.sum(state.negative)
    same = jnp.sum(state.positive * state.negative)
    return jnp.where(denom > 0, 0.5 * same / jnp.where(denom > 0, denom, 1), jnp.nan)
