"""Metrics: what a person reads and what early stopping watches.

A *loss* is what the optimizer minimizes; a *metric* is what you report. The functions here are pure
JAX, safe under ``jit`` and ``vmap``, and match scikit-learn on the same data (the tests recompute every
value with an independent NumPy reference).

Why metrics are never differentiated
------------------------------------
Accuracy, precision, recall, F1, ROC AUC and average precision are step functions of the model's
parameters: they change only when a prediction crosses a decision threshold (or two scores swap
order). Between those points they are flat, so their gradient is zero almost everywhere and undefined
at the jumps; ``jax.grad(accuracy)`` returns zeros and gradient descent on it never moves. Train on a
loss (or a differentiable surrogate such as a soft F1 or a pairwise AUC loss) and *read* the metric.
Nothing in this module is meant to be passed to ``jax.grad``; where a metric has a smooth formula
(log loss, MSE) use the loss of the same name for training.

Conventions
-----------
* Argument order is ``(predictions, targets)`` everywhere, options after a bare ``*``.
* Multiclass metrics take class *scores* of shape ``(..., K)`` (logits, probabilities or any score:
  only their order matters, except for ``log_loss`` and ``expected_calibration_error``) and integer
  class indices ``targets`` of shape ``(...)``; ``K`` is read from the scores' last axis, so every
  shape is static and every function is jit-able.
* Binary metrics take one score per target (``predictions.shape == targets.shape``) and targets in
  [0, 1] (bool, integer or float; a value above 0.5 counts as positive; a target outside [0, 1]
  raises, as it does in ``binary_cross_entropy``). Thresholded metrics predict
  the positive class when ``predictions > threshold``, or, with ``from_logits=True``, when
  ``sigmoid(predictions) > threshold`` (computed as ``predictions > log(t / (1 - t))``).
* ``weights`` are per-sample weights (scikit-learn's ``sample_weight``), broadcastable to the sample
  shape (``targets.shape``). ``where`` is a boolean mask of that shape: ``where=m`` gives the same
  value as dropping the entries where ``m`` is False (even if those entries hold NaN).
* Weighted means with no weight at all (empty or all-masked input) return 0, as the losses do.
  Metrics that are undefined without both classes (``roc_auc``, ``average_precision`` without
  positives) or with fewer than two samples (``r2_score``) return NaN: scikit-learn raises or warns.
* Options that change shapes (``top_k``, ``num_classes``, ``num_bins``, ``average``) must be Python
  values: under ``jax.jit`` bind them with ``functools.partial`` or ``static_argnames``.
* Options are checked as the losses check theirs (one declared-option machinery, ``jaxloss._options``):
  ``from_logits`` is True or False (never a string), integers (``top_k``, ``num_classes``,
  ``num_bins``) accept NumPy integers but not bools, NumPy scalars count as Python numbers, and every
  number is checked against its range (``threshold`` in [0, 1], ``epsilon`` in (0, 0.5), ...).
* Inputs are checked as the losses check them, so a metric and the loss of the same name raise on the
  same inputs: probabilities (``log_loss``, ``expected_calibration_error`` with ``from_logits=False``)
  in [0, 1], binary targets in [0, 1], class indices in ``[0, K)``. Concrete values outside raise a
  ``ValueError``; traced ones (under ``jit``) make the result NaN, never a plausible wrong number.
* Bad input raises ``ValueError``/``TypeError`` at trace time, naming the function, the argument,
  what arrived and what was expected.

Streaming metrics (for the training loop)
-----------------------------------------
A streaming metric is a :class:`Metric`, a NamedTuple of pure functions whose state is a pytree of
arrays (fixed shapes and dtypes, so it can be a ``lax.scan`` carry; ``auc`` and ``average_precision``
given a ``capacity``, see below)::

    m = metrics.get("f1", from_logits=True)       # by name; or metrics.f1_metric(from_logits=True)
    state = m.init()                               # () -> State
    state = m.update(state, predictions, targets, weights=None, where=None)   # -> State
    state = m.merge(state_a, state_b)              # -> State (associative, commutative)
    value = m.compute(state)                       # -> scalar Array
    m.name, m.greater_is_better                    # "f1", True  (for early stopping mode="auto")

* Names accepted by :func:`get` (``STREAMING`` holds them): ``accuracy``, ``binary_accuracy``,
  ``precision``, ``recall``, ``f1``, ``fbeta``, ``auc`` (alias ``roc_auc``), ``average_precision``,
  ``auc_histogram``, ``log_loss``, ``mse``, ``rmse``, ``mae``, ``r2``, ``ece``, plus the scikit-learn
  spellings (``f1_score``, ``mean_squared_error``, ...). ``m.name`` is the canonical name; History
  stores ``"val_" + m.name``.
* Every constructor accepts ``from_logits`` (default ``False``: predictions are probabilities).
  Pass ``from_logits=True`` when the model outputs logits (the loss is a "with logits" loss). It is
  ignored by the metrics that depend only on the scores' order (``accuracy``, ``auc``,
  ``average_precision``) or that are regression metrics (``mse``, ``rmse``, ``mae``, ``r2``).
* Multiclass precision/recall/F1 need ``num_classes`` at construction (the state is a K x K confusion
  matrix); without it they are binary.
* ``merge`` is elementwise addition of the states for every metric except ``r2``, whose state holds a
  running mean and uses Chan's stable pairwise combination, and ``auc`` and ``average_precision``,
  whose states keep the entries themselves (merging concatenates them); use ``m.merge`` rather than
  ``+``.
* A ``Metric`` holds functions, not arrays: close over it (or pass it as a static argument) and
  pass only its *state* through ``jit``/``scan``. ``get`` and the constructors return the same
  object for the same options, so a jit cache keyed on the metric is reused across calls.
* Every streaming metric is exact (equals the one-shot function on the concatenated data) except
  ``auc_histogram``, a histogram approximation with a documented and tested error bound (see
  :func:`auc_histogram_metric` and :func:`auc_histogram_bound`).
* ``auc`` and ``average_precision`` are exact because their state keeps every score, its target and
  its weight (:class:`RankingState`) and ``compute`` sorts them, as :func:`roc_auc` and
  :func:`average_precision` do; their memory grows with the data. ``capacity=n`` gives them buffers
  of fixed shape for ``n`` entries (what a ``lax.scan`` carry needs; more entries make the value NaN);
  without it each update grows them. ``fit`` sizes them to the data itself (``m.sized(n)``): in-memory
  data by its length, iterables of batches on the host, batch by batch. ``auc_histogram`` keeps a
  fixed 200-bin state whatever the data, at the price of its bound: scores crowded into few bins (a
  model grown confident) tie there, and its AUC falls while the ranking stays the same.

Layout (private modules; this file is the table of contents)
--------------------------------------------------------------
``_inputs`` input checks (shared with the losses through ``jaxloss._core``), static options, the
``average`` vocabulary and the jit boundary; ``_states`` the streaming states; ``_confusion`` the
counts behind the classification metrics; ``_classification``, ``_ranking``, ``_probabilistic``
(log loss, calibration) and ``_regression`` the one-shot metrics; ``_streaming`` the :class:`Metric`
constructors; ``_names`` the lookup by name (:func:`get`, :data:`STREAMING`).
"""

from __future__ import annotations

from jaxloss.metrics._classification import accuracy as accuracy
from jaxloss.metrics._classification import binary_accuracy as binary_accuracy
from jaxloss.metrics._classification import confusion_matrix as confusion_matrix
from jaxloss.metrics._classification import f1_score as f1_score
from jaxloss.metrics._classification import fbeta_score as fbeta_score
from jaxloss.metrics._classification import precision as precision
from jaxloss.metrics._classification import recall as recall
from jaxloss.metrics._names import READS_PROBABILITIES as READS_PROBABILITIES
from jaxloss.metrics._names import STREAMING as STREAMING
from jaxloss.metrics._names import TAKES_NUM_CLASSES as TAKES_NUM_CLASSES
from jaxloss.metrics._names import get as get
from jaxloss.metrics._probabilistic import expected_calibration_error as expected_calibration_error
from jaxloss.metrics._probabilistic import log_loss as log_loss
from jaxloss.metrics._ranking import average_precision as average_precision
from jaxloss.metrics._ranking import roc_auc as roc_auc
from jaxloss.metrics._regression import mean_absolute_error as mean_absolute_error
from jaxloss.metrics._regression import mean_squared_error as mean_squared_error
from jaxloss.metrics._regression import r2_score as r2_score
from jaxloss.metrics._regression import root_mean_squared_error as root_mean_squared_error
# The states streaming metrics carry (reachable for annotations, e.g. ``auc_histogram_bound(state)``;
# not listed in ``__all__``).
from jaxloss.metrics._states import BinnedState as BinnedState
from jaxloss.metrics._states import ConfusionState as ConfusionState
from jaxloss.metrics._states import HistogramState as HistogramState
from jaxloss.metrics._states import MeanState as MeanState
from jaxloss.metrics._states import MomentsState as MomentsState
from jaxloss.metrics._states import RankingState as RankingState
from jaxloss.metrics._streaming import Metric as Metric
from jaxloss.metrics._streaming import accuracy_metric as accuracy_metric
from jaxloss.metrics._streaming import auc_histogram_bound as auc_histogram_bound
from jaxloss.metrics._streaming import auc_histogram_metric as auc_histogram_metric
from jaxloss.metrics._streaming import auc_metric as auc_metric
from jaxloss.metrics._streaming import average_precision_metric as average_precision_metric
from jaxloss.metrics._streaming import binary_accuracy_metric as binary_accuracy_metric
from jaxloss.metrics._streaming import ece_metric as ece_metric
from jaxloss.metrics._streaming import f1_metric as f1_metric
from jaxloss.metrics._streaming import fbeta_metric as fbeta_metric
from jaxloss.metrics._streaming import log_loss_metric as log_loss_metric
from jaxloss.metrics._streaming import mae_metric as mae_metric
from jaxloss.metrics._streaming import mse_metric as mse_metric
from jaxloss.metrics._streaming import precision_metric as precision_metric
from jaxloss.metrics._streaming import r2_metric as r2_metric
from jaxloss.metrics._streaming import recall_metric as recall_metric
from jaxloss.metrics._streaming import rmse_metric as rmse_metric

__all__ = [
    "accuracy",
    "binary_accuracy",
    "confusion_matrix",
    "precision",
    "recall",
    "f1_score",
    "fbeta_score",
    "roc_auc",
    "average_precision",
    "log_loss",
    "mean_squared_error",
    "root_mean_squared_error",
    "mean_absolute_error",
    "r2_score",
    "expected_calibration_error",
    "Metric",
    "accuracy_metric",
    "binary_accuracy_metric",
    "precision_metric",
    "recall_metric",
    "f1_metric",
    "fbeta_metric",
    "auc_metric",
    "average_precision_metric",
    "auc_histogram_metric",
    "auc_histogram_bound",
    "log_loss_metric",
    "mse_metric",
    "rmse_metric",
    "mae_metric",
    "r2_metric",
    "ece_metric",
    "STREAMING",
    "READS_PROBABILITIES",
    "TAKES_NUM_CLASSES",
    "get",
]


def __dir__() -> list[str]:  # the public API only (not the submodules or the states)
    return sorted(__all__)
