"""Streaming metrics by name: what ``fit(metrics=[...])`` and :func:`get` look up (private)."""

from __future__ import annotations

from typing import Any, Callable

from jaxloss.metrics._streaming import (
    Metric,
    accuracy_metric,
    auc_histogram_metric,
    auc_metric,
    average_precision_metric,
    binary_accuracy_metric,
    ece_metric,
    f1_metric,
    fbeta_metric,
    log_loss_metric,
    mae_metric,
    mse_metric,
    precision_metric,
    r2_metric,
    recall_metric,
    rmse_metric,
)

STREAMING: dict[str, Callable[..., Metric]] = {
    "accuracy": accuracy_metric,
    "binary_accuracy": binary_accuracy_metric,
    "precision": precision_metric,
    "recall": recall_metric,
    "f1": f1_metric,
    "fbeta": fbeta_metric,
    "auc": auc_metric,
    "average_precision": average_precision_metric,
    "auc_histogram": auc_histogram_metric,
    "log_loss": log_loss_metric,
    "mse": mse_metric,
    "rmse": rmse_metric,
    "mae": mae_metric,
    "r2": r2_metric,
    "ece": ece_metric,
    # scikit-learn spellings
    "roc_auc": auc_metric,
    "f1_score": f1_metric,
    "fbeta_score": fbeta_metric,
    "mean_squared_error": mse_metric,
    "root_mean_squared_error": rmse_metric,
    "mean_absolute_error": mae_metric,
    "r2_score": r2_metric,
    "expected_calibration_error": ece_metric,
}
"""Streaming metric constructors by name (canonical names first, then aliases)."""

#: Names whose value depends on whether predictions are logits or probabilities (``from_logits``):
#: they threshold, bin or calibrate the predictions. The others read errors (mse, mae, r2) or an order
#: (accuracy, the exact auc and average_precision), the same either way.
READS_PROBABILITIES = frozenset({
    "binary_accuracy", "precision", "recall", "f1", "fbeta", "auc_histogram", "log_loss", "ece",
    "f1_score", "fbeta_score", "expected_calibration_error"})

#: Names that count classes (``num_classes``): binary without it, multiclass with it.
TAKES_NUM_CLASSES = frozenset({"precision", "recall", "f1", "fbeta", "f1_score", "fbeta_score"})


def _check_vocabulary() -> None:
    """At import: the name sets above list only known names, and an alias reads like its canonical name."""
    for label, names in (("READS_PROBABILITIES", READS_PROBABILITIES), ("TAKES_NUM_CLASSES", TAKES_NUM_CLASSES)):
        unknown = names - set(STREAMING)
        if unknown:
            raise RuntimeError(f"jaxloss.metrics: {label} names unknown metrics {sorted(unknown)}.")
    for label, names in (("READS_PROBABILITIES", READS_PROBABILITIES), ("TAKES_NUM_CLASSES", TAKES_NUM_CLASSES)):
        for ctor in set(STREAMING.values()):
            same = [n for n, c in STREAMING.items() if c is ctor]
            if len({n in names for n in same}) > 1:
                raise RuntimeError(f"jaxloss.metrics: {label} lists some of the names {same} of one metric, not all.")


_check_vocabulary()


def get(name: str | Metric, **options: Any) -> Metric:
    """The streaming :class:`Metric` called ``name``, built with ``options``.

    Every constructor accepts ``from_logits``; other options are those of the constructor in
    :data:`STREAMING` (e.g. ``num_classes`` and ``average`` for ``"f1"``, ``capacity`` for ``"auc"``
    (exact) and ``num_thresholds`` for ``"auc_histogram"`` (its approximation), ``top_k`` for
    ``"accuracy"``).

    Example:
      >>> from jaxloss import metrics
      >>> m = metrics.get("auc", from_logits=True)
      >>> m.name, m.greater_is_better
      ('auc', True)
      >>> metrics.get("mae").greater_is_better
      False
    """
    if isinstance(name, Metric):
        return name
    if not isinstance(name, str):
        raise TypeError(f"metrics.get: name must be a metric name (a string) or a Metric; got "
                        f"{type(name).__name__}.")
    key = name.lower()
    if key not in STREAMING:
        hint = ""
        if key.startswith("val_") and key[4:] in STREAMING:
            hint = f" History adds the 'val_' prefix itself: ask for {key[4:]!r}."
        raise ValueError(f"metrics.get: name={name!r} is not a streaming metric.{hint} Known names: "
                         f"{', '.join(STREAMING)}.")
    return STREAMING[key](**options)
