"""Example inputs for every kind of loss input (private).

Each registry entry names an input kind (``LossInfo.inputs``). This module makes
inputs of that kind: random ones (:func:`random_inputs`), perfect predictions
(:func:`perfect_inputs`, where a loss that claims ``zero_at_target`` must be 0)
and hard ones (:func:`hard_inputs`: extreme logits, ``-inf`` masked classes,
probabilities of exactly 0 and 1, zero targets, huge errors). Tests, the
stability card (``jaxloss.check``) and the benchmarks all build their inputs
here, so adding a kind here makes every loss of that kind testable.

Arrays are NumPy float64 (labels int32); callers cast them to the dtype under
test.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np


@dataclasses.dataclass
class Sample:
    """Positional arrays and extra keyword options for one call of a loss."""

    args: tuple[np.ndarray, ...]
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    description: str = ""
    #: A property a loss must claim for this input to be promised finite
    #: (errors of 1e20 are only finite for losses with a bounded gradient).
    requires: str | None = None

    def cast(self, dtype: Any, float_args: tuple[int, ...] | None = None) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The args with every floating array in ``dtype`` (labels untouched)."""
        out = []
        for i, a in enumerate(self.args):
            if np.issubdtype(np.asarray(a).dtype, np.floating) and (float_args is None or i in float_args):
                with np.errstate(over="ignore"):  # 1e20 is inf in float16, on purpose
                    out.append(np.asarray(a).astype(dtype))
            else:
                out.append(a)
        return tuple(out), dict(self.kwargs)

    def accepted_by(self, fn: Callable[..., Any]) -> bool:
        """Whether ``fn`` takes every keyword option this sample passes."""
        params = inspect.signature(fn).parameters
        return all(key in params for key in self.kwargs)


@dataclasses.dataclass(frozen=True)
class InputKind:
    """How to make inputs of one kind."""

    random: Callable[[np.random.Generator, int], Sample]
    perfect: Callable[[np.random.Generator, int], Sample] | None
    hard: Callable[[np.random.Generator, int], list[Sample]]
    #: Number of leading axes of args[0] that index examples (the rest is the
    #: class or feature axis reduced by the loss).
    example_ndim: Callable[[Sample], int] = lambda s: np.ndim(s.args[0])
    #: Whether predictions (args[0]) are real-valued without constraint.
    doc: str = ""


KINDS: dict[str, InputKind] = {}

NUM_CLASSES = 5
FEATURES = 3


def _kind(name: str, **kw: Any) -> None:
    KINDS[name] = InputKind(**kw)


def _shape(n: int) -> tuple[int, int]:
    return (n, FEATURES)


# -- regression ---------------------------------------------------------------------------------


def _regression_hard(rng: np.random.Generator, n: int) -> list[Sample]:
    t = rng.normal(size=_shape(n))
    return [
        Sample((t + 1e20, t), description="errors of +1e20", requires="bounded_gradient"),
        Sample((t - 1e20, t), description="errors of -1e20", requires="bounded_gradient"),
        Sample((np.zeros(_shape(n)), np.zeros(_shape(n))), description="zero predictions and zero targets"),
        Sample((t + 1e4, t), description="errors of 1e4", requires="bounded_gradient"),
    ]


_kind(
    "regression",
    random=lambda rng, n: Sample((rng.normal(size=_shape(n)) * 2, rng.normal(size=_shape(n)))),
    perfect=lambda rng, n: (lambda t: Sample((t.copy(), t)))(rng.normal(size=_shape(n))),
    hard=_regression_hard,
    doc="predictions and targets: real arrays of one shape",
)

_kind(
    "nonnegative_regression",
    random=lambda rng, n: Sample((rng.uniform(0, 5, _shape(n)), rng.uniform(0, 5, _shape(n)))),
    perfect=lambda rng, n: (lambda t: Sample((t.copy(), t)))(rng.uniform(0, 5, _shape(n))),
    hard=lambda rng, n: [
        Sample((np.full(_shape(n), 1e20), rng.uniform(0, 5, _shape(n))), description="predictions of 1e20"),
        Sample((np.full(_shape(n), -5.0), np.zeros(_shape(n))), description="negative predictions, zero targets"),
        Sample((np.zeros(_shape(n)), np.zeros(_shape(n))), description="zero predictions and zero targets"),
    ],
    doc="non-negative predictions and targets",
)

_kind(
    "positive_regression",
    random=lambda rng, n: Sample((rng.uniform(0.5, 3, _shape(n)), rng.uniform(0.5, 3, _shape(n)))),
    perfect=lambda rng, n: (lambda t: Sample((t.copy(), t)))(rng.uniform(0.5, 3, _shape(n))),
    hard=lambda rng, n: [
        Sample((np.full(_shape(n), 1e20), rng.uniform(0.5, 3, _shape(n))), description="predictions of 1e20"),
        Sample((rng.uniform(0.5, 3, _shape(n)), np.zeros(_shape(n))), description="zero targets"),
    ],
    doc="targets away from zero",
)

_kind(
    "count_regression",
    random=lambda rng, n: Sample((rng.normal(size=_shape(n)), rng.poisson(2.0, _shape(n)).astype(np.float64))),
    perfect=None,
    hard=lambda rng, n: [
        Sample((np.full(_shape(n), -1e4), rng.poisson(2.0, _shape(n)).astype(np.float64)), description="log-rates of -1e4"),
        Sample((np.zeros(_shape(n)), np.zeros(_shape(n))), description="zero counts"),
        Sample((np.full(_shape(n), 30.0), np.full(_shape(n), 1e6)), description="huge counts"),
    ],
    doc="log-rates and non-negative counts",
)

# -- binary -------------------------------------------------------------------------------------


def _binary_targets(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 2, _shape(n)).astype(np.float64)


def _binary_hard(rng: np.random.Generator, n: int, signed: bool) -> list[Sample]:
    t = _binary_targets(rng, n)
    if signed:
        t = 2 * t - 1
    sign = np.where(t > 0, 1.0, -1.0)
    cases = [
        Sample((1e4 * sign, t), description="logits of +-1e4, right side"),
        Sample((-1e4 * sign, t), description="logits of +-1e4, wrong side"),
        Sample((np.zeros(_shape(n)), t), description="logits of exactly 0"),
    ]
    if not signed:
        cases += [
            Sample((t.copy(), t), {"from_logits": False}, description="probabilities of exactly 0 and 1, right"),
            Sample((1 - t, t), {"from_logits": False}, description="probabilities of exactly 0 and 1, wrong"),
        ]
    return cases


_kind(
    "binary_logits",
    random=lambda rng, n: Sample((rng.normal(size=_shape(n)) * 2, _binary_targets(rng, n))),
    perfect=lambda rng, n: (lambda t: Sample((40.0 * (2 * t - 1), t)))(_binary_targets(rng, n)),
    hard=lambda rng, n: _binary_hard(rng, n, signed=False),
    doc="logits and {0, 1} targets of the same shape",
)

_kind(
    "signed_binary",
    random=lambda rng, n: Sample((rng.normal(size=_shape(n)) * 2, 2 * _binary_targets(rng, n) - 1)),
    perfect=lambda rng, n: (lambda t: Sample((2.0 * t, t)))(2 * _binary_targets(rng, n) - 1),
    hard=lambda rng, n: _binary_hard(rng, n, signed=True),
    doc="scores and {-1, +1} targets of the same shape",
)

# -- multiclass ---------------------------------------------------------------------------------


def _labels(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, NUM_CLASSES, n).astype(np.int32)


def _one_hot(labels: np.ndarray) -> np.ndarray:
    return np.eye(NUM_CLASSES)[labels]


def _masked_logits(rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
    """Logits with -inf on two non-target classes of every example."""
    x = rng.normal(size=(len(labels), NUM_CLASSES)) * 2
    for i, y in enumerate(labels):
        others = [c for c in range(NUM_CLASSES) if c != y]
        x[i, rng.choice(others, 2, replace=False)] = -np.inf
    return x


def _class_hard(rng: np.random.Generator, n: int, log_probs: bool = False) -> list[Sample]:
    y = _labels(rng, n)
    oh = _one_hot(y)
    big_right = 1e4 * (2 * oh - 1)
    cases = [
        Sample((big_right, y), description="logits of +-1e4, confident and right"),
        Sample((-big_right, y), description="logits of +-1e4, confident and wrong"),
        Sample((_masked_logits(rng, y), y), description="-inf logits on masked-out classes"),
    ]
    if log_probs:
        cases = [
            Sample((np.where(oh > 0, 0.0, -np.inf), y), description="log-probabilities of 0 and -inf, right"),
            Sample((np.log(np.full((n, NUM_CLASSES), 1.0 / NUM_CLASSES)), y), description="uniform log-probabilities"),
        ]
    else:
        cases += [
            Sample((oh.copy(), y), {"from_logits": False}, description="probabilities of exactly 0 and 1, right"),
            Sample((np.roll(oh, 1, axis=1), y), {"from_logits": False}, description="probabilities of exactly 0 and 1, wrong"),
        ]
    return cases


_kind(
    "class_logits",
    random=lambda rng, n: Sample((rng.normal(size=(n, NUM_CLASSES)) * 2, _labels(rng, n))),
    perfect=lambda rng, n: (lambda y: Sample((40.0 * _one_hot(y), y)))(_labels(rng, n)),
    hard=_class_hard,
    example_ndim=lambda s: np.ndim(s.args[0]) - 1,
    doc="logits (n, K) and integer labels (n,)",
)


def _log_softmax(x: np.ndarray) -> np.ndarray:
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


_kind(
    "class_log_probs",
    random=lambda rng, n: Sample((_log_softmax(rng.normal(size=(n, NUM_CLASSES)) * 2), _labels(rng, n))),
    perfect=lambda rng, n: (lambda y: Sample((_log_softmax(40.0 * _one_hot(y)), y)))(_labels(rng, n)),
    hard=lambda rng, n: _class_hard(rng, n, log_probs=True),
    example_ndim=lambda s: np.ndim(s.args[0]) - 1,
    doc="log-probabilities (n, K) and integer labels (n,)",
)


def _distribution(rng: np.random.Generator, n: int, zeros: bool = True) -> np.ndarray:
    q = rng.dirichlet(np.ones(NUM_CLASSES), n)
    if zeros:
        q[:, 0] = 0.0  # zero targets: 0 log 0 must count as 0
        q /= q.sum(-1, keepdims=True)
    return q


def _distribution_hard(rng: np.random.Generator, n: int) -> list[Sample]:
    q = _distribution(rng, n)
    x = rng.normal(size=(n, NUM_CLASSES))
    x_masked = np.where(q > 0, x, -np.inf)
    return [
        Sample((x, q), description="targets with zero entries"),
        Sample((x_masked, q), description="-inf logits where the target is 0"),
        Sample((1e4 * (2 * (q > 0.3) - 1), q), description="logits of +-1e4"),
        Sample((q.copy(), q), {"from_logits": False}, description="probabilities with exact zeros"),
    ]


_kind(
    "class_distribution",
    random=lambda rng, n: Sample((rng.normal(size=(n, NUM_CLASSES)) * 2, _distribution(rng, n))),
    perfect=lambda rng, n: (lambda q: Sample((np.log(np.maximum(q, 1e-300)), q)))(_distribution(rng, n)),
    hard=_distribution_hard,
    example_ndim=lambda s: np.ndim(s.args[0]) - 1,
    doc="logits (n, K) and probability targets (n, K) with zero entries",
)


def kind(name: str) -> InputKind:
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"no input kind {name!r}; known kinds: {sorted(KINDS)}") from None


def random_inputs(kind_name: str, rng: np.random.Generator, n: int = 6) -> Sample:
    return kind(kind_name).random(rng, n)


def perfect_inputs(kind_name: str, rng: np.random.Generator, n: int = 6) -> Sample | None:
    maker = kind(kind_name).perfect
    return None if maker is None else maker(rng, n)


def hard_inputs(kind_name: str, rng: np.random.Generator, n: int = 4) -> list[Sample]:
    return kind(kind_name).hard(rng, n)


def example_shape(kind_name: str, sample: Sample) -> tuple[int, ...]:
    """Shape of the per-example losses (``reduction="none"``) for this sample."""
    first = np.asarray(sample.args[0])
    return first.shape[: kind(kind_name).example_ndim(sample)]
