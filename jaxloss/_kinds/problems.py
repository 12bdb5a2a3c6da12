"""Toy-problem kinds: a small problem on which a loss makes sense (private).

A loss names its toy problem as an object (``register(toy_problem=problems.REGRESSION_OUTLIERS)``);
``jaxloss.toys`` builds and trains it. Two sorts:

* **data problems** (``make`` given): synthetic features and raw targets; the loss's input kind adapts
  the targets and the linear model (``InputKind.toy_targets``, ``InputKind.toy_model``);
* **prediction problems** (``make`` None): the parameters are the predictions, the targets the loss's
  own example inputs.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from jaxloss._kinds import _classification as _c
from jaxloss._kinds import _regression as _r
from jaxloss._kinds._base import InputKind


@dataclasses.dataclass(frozen=True, eq=False)
class ToyKind:
    """A toy-problem kind: how to make its data, which input kinds it feeds, which metrics it reports."""

    name: str
    description: str
    make: Callable[[np.random.Generator, int], Data] | None  # None: a prediction problem
    feeds: tuple[InputKind, ...] = ()  # the input kinds its data can feed
    metrics: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"<toy problem {self.name}>"

    def __str__(self) -> str:
        return self.name


@dataclasses.dataclass(frozen=True)
class Data:
    """Features ``x``, raw targets ``y`` and the number of model outputs."""

    x: np.ndarray
    y: np.ndarray
    outputs: int  # 1 (one output per example) or k


def _features(rng: np.random.Generator, n: int, d: int = 4) -> np.ndarray:
    return rng.normal(size=(n, d)).astype(np.float32)


def _regression(rng: np.random.Generator, n: int, outliers: bool = False) -> Data:
    x = _features(rng, n)
    y = x @ np.array([1.5, -2.0, 0.5, 1.0], np.float32) + 0.3 + 0.1 * rng.normal(size=n).astype(np.float32)
    if outliers:
        bad = rng.random(n) < 0.1
        y = np.where(bad, y + rng.choice([-8.0, 8.0], n), y).astype(np.float32)
    return Data(x, y.astype(np.float32), 1)


def _positive(rng: np.random.Generator, n: int) -> Data:
    x = _features(rng, n)
    y = np.exp(0.5 * (x @ np.array([1.0, -0.5, 0.5, 0.2], np.float32))) + 0.1
    return Data(x, y.astype(np.float32), 1)


def _counts(rng: np.random.Generator, n: int) -> Data:
    x = _features(rng, n)
    rate = np.exp(0.5 * (x @ np.array([1.0, -0.5, 0.5, 0.2], np.float32)) + 0.5)
    return Data(x, rng.poisson(rate).astype(np.float32), 1)


def _binary(rng: np.random.Generator, n: int, positive_rate: float = 0.5) -> Data:
    y = (rng.random(n) < positive_rate).astype(np.float32)
    x = _features(rng, n) + 1.2 * (2 * y[:, None] - 1) * np.array([1.0, 0.5, 0.0, 0.0], np.float32)
    return Data(x.astype(np.float32), y, 1)


def _multiclass(rng: np.random.Generator, n: int, noise: float = 0.0, k: int = 3) -> Data:
    y = rng.integers(0, k, n).astype(np.int32)
    centers = 2.0 * rng.normal(size=(k, 4)).astype(np.float32)
    x = (_features(rng, n) + centers[y]).astype(np.float32)
    if noise:
        flip = rng.random(n) < noise
        y = np.where(flip, rng.integers(0, k, n), y).astype(np.int32)
    return Data(x, y, k)


def _distribution(rng: np.random.Generator, n: int, k: int = 3) -> Data:
    x = _features(rng, n)
    logits = x @ rng.normal(size=(4, k)).astype(np.float32)
    q = np.exp(logits - logits.max(-1, keepdims=True))
    return Data(x, (q / q.sum(-1, keepdims=True)).astype(np.float32), k)


def _multilabel(rng: np.random.Generator, n: int, k: int = 3) -> Data:
    x = _features(rng, n)
    y = (x @ rng.normal(size=(4, k)).astype(np.float32) > 0.3).astype(np.float32)
    return Data(x, y, k)


_BINARY_FEEDS = (_c.BINARY_LOGITS, _c.SIGNED_BINARY, _c.MULTILABEL_LOGITS)
_CLASS_FEEDS = (_c.CLASS_LOGITS, _c.CLASS_LOG_PROBS)

REGRESSION = ToyKind("regression", "linear regression with Gaussian noise", _regression,
                     (_r.REGRESSION, _r.COUNT_REGRESSION), ("mae",))
REGRESSION_OUTLIERS = ToyKind("regression_outliers", "linear regression with 10% gross outliers (+-8)",
                              functools.partial(_regression, outliers=True), (_r.REGRESSION,), ("mae",))
REGRESSION_POSITIVE = ToyKind("regression_positive", "positive targets (log-normal); a positive model output",
                              _positive, (_r.NONNEGATIVE_REGRESSION, _r.POSITIVE_REGRESSION, _r.REGRESSION),
                              ("mae",))
REGRESSION_COUNTS = ToyKind("regression_counts", "Poisson counts; the model predicts the log-rate", _counts,
                            (_r.COUNT_REGRESSION,))
BINARY = ToyKind("binary", "two Gaussian classes, balanced; a linear classifier", _binary, _BINARY_FEEDS)
BINARY_IMBALANCED = ToyKind("binary_imbalanced", "two Gaussian classes, 10% positives; a linear classifier",
                            functools.partial(_binary, positive_rate=0.1), _BINARY_FEEDS)
MULTICLASS = ToyKind("multiclass", "three Gaussian classes; a linear softmax classifier", _multiclass,
                     _CLASS_FEEDS, ("accuracy",))
MULTICLASS_NOISY = ToyKind("multiclass_noisy", "three Gaussian classes with 20% of the labels flipped at random",
                           functools.partial(_multiclass, noise=0.2), _CLASS_FEEDS, ("accuracy",))
DISTRIBUTION = ToyKind("distribution", "soft-label targets (a softmax of a linear map)", _distribution,
                       (_c.CLASS_DISTRIBUTION,))
MULTILABEL = ToyKind("multilabel", "three independent labels, each a linear threshold of the features",
                     _multilabel, (_c.MULTILABEL_LOGITS,))
RANKING = ToyKind("ranking", "free scores per list, descended to order each list by its relevance", None)
EMBEDDING = ToyKind("embedding", "free embeddings, descended to satisfy the pairs, triplets or batches", None)
METRIC_LEARNING = ToyKind("metric_learning", "free distances, descended towards similar = close, dissimilar = far",
                          None)
SEGMENTATION = ToyKind("segmentation", "free per-pixel logits, descended towards the masks", None)
SEQUENCE = ToyKind("sequence", "free per-frame logits, descended towards the label sequences", None)
LANGUAGE_MODEL = ToyKind("language_model", "free hidden states, descended towards their next tokens through a fixed "
                         "output layer", None)

#: Every toy-problem kind, in declaration order.
ALL: tuple[ToyKind, ...] = tuple(v for v in list(globals().values()) if isinstance(v, ToyKind))
