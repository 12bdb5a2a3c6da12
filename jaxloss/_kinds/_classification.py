"""Input kinds of binary, multiclass and multi-label losses (private)."""

from __future__ import annotations

import numpy as np

from jaxloss._kinds import _models
from jaxloss._kinds._base import InputKind, Sample, NUM_CLASSES, shape


# -- binary -------------------------------------------------------------------------------------


def _signed(y: np.ndarray) -> np.ndarray:
    """{0, 1} targets as {-1, +1}."""
    return 2 * y - 1


def _binary_targets(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 2, shape(n)).astype(np.float64)


def _binary_hard(rng: np.random.Generator, n: int, signed: bool) -> list[Sample]:
    t = _binary_targets(rng, n)
    if signed:
        t = 2 * t - 1
    sign = np.where(t > 0, 1.0, -1.0)
    cases = [
        Sample((1e4 * sign, t), description="logits of +-1e4, right side"),
        Sample((-1e4 * sign, t), description="logits of +-1e4, wrong side"),
        Sample((np.zeros(shape(n)), t), description="logits of exactly 0"),
    ]
    if not signed:
        cases += [
            Sample((t.copy(), t), {"from_logits": False}, description="probabilities of exactly 0 and 1, right"),
            Sample((1 - t, t), {"from_logits": False}, description="probabilities of exactly 0 and 1, wrong"),
        ]
    return cases


BINARY_LOGITS = InputKind(
    "binary_logits",
    curve_axis="logit", curve_target=1.0, toy_model=_models.linear,
    logits=True,
    random=lambda rng, n: Sample((rng.normal(size=shape(n)) * 2, _binary_targets(rng, n))),
    perfect=lambda rng, n: (lambda t: Sample((40.0 * (2 * t - 1), t)))(_binary_targets(rng, n)),
    hard_cases=lambda rng, n: _binary_hard(rng, n, signed=False),
    doc="logits and {0, 1} targets of the same shape",
)

SIGNED_BINARY = InputKind(
    "signed_binary",
    curve_axis="logit", curve_target=1.0, toy_targets=_signed, toy_model=_models.linear,
    logits=True,
    random=lambda rng, n: Sample((rng.normal(size=shape(n)) * 2, 2 * _binary_targets(rng, n) - 1)),
    perfect=lambda rng, n: (lambda t: Sample((2.0 * t, t)))(2 * _binary_targets(rng, n) - 1),
    hard_cases=lambda rng, n: _binary_hard(rng, n, signed=True),
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


CLASS_LOGITS = InputKind(
    "class_logits",
    curve_axis="true_class_logit", toy_model=_models.linear,
    logits=True,
    random=lambda rng, n: Sample((rng.normal(size=(n, NUM_CLASSES)) * 2, _labels(rng, n))),
    perfect=lambda rng, n: (lambda y: Sample((40.0 * _one_hot(y), y)))(_labels(rng, n)),
    hard_cases=_class_hard,
    example_axes=1,
    doc="logits (n, K) and integer labels (n,)",
)


def _log_softmax(x: np.ndarray) -> np.ndarray:
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


CLASS_LOG_PROBS = InputKind(
    "class_log_probs",
    curve_axis="true_class_logit", curve_log_softmax=True, toy_model=_models.log_softmax_linear,
    logits=True,
    random=lambda rng, n: Sample((_log_softmax(rng.normal(size=(n, NUM_CLASSES)) * 2), _labels(rng, n))),
    perfect=lambda rng, n: (lambda y: Sample((_log_softmax(40.0 * _one_hot(y)), y)))(_labels(rng, n)),
    hard_cases=lambda rng, n: _class_hard(rng, n, log_probs=True),
    example_axes=1,
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


CLASS_DISTRIBUTION = InputKind(
    "class_distribution",
    curve_axis="true_class_logit", curve_soft_targets=True, toy_model=_models.linear,
    logits=True,
    random=lambda rng, n: Sample((rng.normal(size=(n, NUM_CLASSES)) * 2, _distribution(rng, n))),
    perfect=lambda rng, n: (lambda q: Sample((np.log(np.maximum(q, 1e-300)), q)))(_distribution(rng, n)),
    hard_cases=_distribution_hard,
    example_axes=1,
    doc="logits (n, K) and probability targets (n, K) with zero entries",
)



def _multi_hot(rng: np.random.Generator, n: int) -> np.ndarray:
    t = rng.integers(0, 2, (n, NUM_CLASSES)).astype(np.float64)
    t[0] = 0.0  # an example with no positive label
    return t


def _multilabel_hard(rng: np.random.Generator, n: int) -> list[Sample]:
    t = _multi_hot(rng, n)
    big_right = 1e4 * (2 * t - 1)
    return [
        Sample((big_right, t), description="logits of +-1e4, right"),
        Sample((-big_right, t), description="logits of +-1e4, wrong"),
        Sample((np.zeros((n, NUM_CLASSES)), t), description="logits of exactly 0"),
        Sample((rng.normal(size=(n, NUM_CLASSES)), np.ones((n, NUM_CLASSES))), description="every label positive"),
    ]


MULTILABEL_LOGITS = InputKind(
    "multilabel_logits",
    toy_model=_models.linear,  # a 1-D batch is one set for set-level losses
    logits=True,
    random=lambda rng, n: Sample((rng.normal(size=(n, NUM_CLASSES)) * 2, _multi_hot(rng, n))),
    perfect=lambda rng, n: (lambda t: Sample((40.0 * (2 * t - 1), t)))(_multi_hot(rng, n)),
    hard_cases=_multilabel_hard,
    example_axes=1,
    doc="logits (n, K) and multi-hot {0, 1} targets (n, K)",
)


def _index_lists(rng: np.random.Generator, n: int) -> np.ndarray:
    """PyTorch's multilabel_margin targets: class indices, -1 ends the list.

    Some rows carry valid-looking indices after the first -1: they must be ignored.
    """
    out = np.full((n, NUM_CLASSES), -1, np.int32)
    for i in range(n):
        k = rng.integers(1, NUM_CLASSES)
        out[i, :k] = rng.permutation(NUM_CLASSES)[:k]
        if i % 2 and k < NUM_CLASSES - 1:
            out[i, k + 1] = rng.integers(0, NUM_CLASSES)  # after the -1: ignored
    return out


def _index_lists_to_multi_hot(t: np.ndarray) -> np.ndarray:
    hot = np.zeros(t.shape)
    for i, row in enumerate(t):
        for c in row:
            if c < 0:
                break
            hot[i, c] = 1.0
    return hot


def _multilabel_indices_hard(rng: np.random.Generator, n: int) -> list[Sample]:
    t = _index_lists(rng, n)
    big_right = 1e4 * (2 * _index_lists_to_multi_hot(t) - 1)
    x = rng.normal(size=(n, NUM_CLASSES))
    every = np.tile(np.arange(NUM_CLASSES, dtype=np.int32), (n, 1))
    return [
        Sample((big_right, t), description="scores of +-1e4, right"),
        Sample((-big_right, t), description="scores of +-1e4, wrong"),
        Sample((np.zeros((n, NUM_CLASSES)), t), description="scores of exactly 0"),
        Sample((x, np.full((n, NUM_CLASSES), -1, np.int32)), description="no target class (all padding)"),
        Sample((x, every), description="every class a target"),
    ]


MULTILABEL_INDICES = InputKind(
    "multilabel_indices",
    logits=True,
    random=lambda rng, n: Sample((rng.normal(size=(n, NUM_CLASSES)) * 2, _index_lists(rng, n))),
    perfect=lambda rng, n: (lambda t: Sample((40.0 * _index_lists_to_multi_hot(t), t)))(_index_lists(rng, n)),
    hard_cases=_multilabel_indices_hard,
    example_axes=1,
    doc="scores (n, K) and int class-index lists (n, K) padded with -1 (PyTorch's multilabel_margin format)",
)
