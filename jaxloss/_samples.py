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
    #: Keyword arrays that, like the positional ones, hold one entry per example
    #: along axis 0 (e.g. CTC paddings): tests slice and vmap them with the args.
    example_kwargs: tuple[str, ...] = ()

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
    #: Whether the predictions are scores that a sigmoid or softmax turns into probabilities
    #: (logits, margins, log-probabilities): True; values or probabilities: False; neither (embeddings,
    #: distances): None. Metrics built for a loss read it (``LossInfo.takes_logits``).
    logits: bool | None = None


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
    logits=False,
    random=lambda rng, n: Sample((rng.normal(size=_shape(n)) * 2, rng.normal(size=_shape(n)))),
    perfect=lambda rng, n: (lambda t: Sample((t.copy(), t)))(rng.normal(size=_shape(n))),
    hard=_regression_hard,
    doc="predictions and targets: real arrays of one shape",
)

_kind(
    "nonnegative_regression",
    logits=False,
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
    logits=False,
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
    logits=False,
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
    logits=True,
    random=lambda rng, n: Sample((rng.normal(size=_shape(n)) * 2, _binary_targets(rng, n))),
    perfect=lambda rng, n: (lambda t: Sample((40.0 * (2 * t - 1), t)))(_binary_targets(rng, n)),
    hard=lambda rng, n: _binary_hard(rng, n, signed=False),
    doc="logits and {0, 1} targets of the same shape",
)

_kind(
    "signed_binary",
    logits=True,
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
    logits=True,
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
    logits=True,
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
    logits=True,
    random=lambda rng, n: Sample((rng.normal(size=(n, NUM_CLASSES)) * 2, _distribution(rng, n))),
    perfect=lambda rng, n: (lambda q: Sample((np.log(np.maximum(q, 1e-300)), q)))(_distribution(rng, n)),
    hard=_distribution_hard,
    example_ndim=lambda s: np.ndim(s.args[0]) - 1,
    doc="logits (n, K) and probability targets (n, K) with zero entries",
)


# -- margin and ranking -------------------------------------------------------------------------


def _signs(rng: np.random.Generator, n: int) -> np.ndarray:
    return 2 * _binary_targets(rng, n) - 1


def _pairwise_hard(rng: np.random.Generator, n: int) -> list[Sample]:
    y = _signs(rng, n)
    b = rng.normal(size=_shape(n))
    return [
        Sample((1e4 * y, -1e4 * y, y), description="scores of +-1e4, right order"),
        Sample((-1e4 * y, 1e4 * y, y), description="scores of +-1e4, wrong order"),
        Sample((b.copy(), b, y), description="tied scores"),
        Sample((np.zeros(_shape(n)), np.zeros(_shape(n)), y), description="zero scores"),
    ]


_kind(
    "pairwise_scores",
    logits=True,
    random=lambda rng, n: Sample((rng.normal(size=_shape(n)) * 2, rng.normal(size=_shape(n)) * 2, _signs(rng, n))),
    perfect=lambda rng, n: (lambda b, y: Sample((b + 2.0 * y, b, y)))(rng.normal(size=_shape(n)), _signs(rng, n)),
    hard=_pairwise_hard,
    doc="two score arrays and {-1, +1} targets (+1: the first should rank higher), all of one shape",
)

_kind(
    "distances",
    logits=None,
    random=lambda rng, n: Sample((rng.uniform(0, 3, _shape(n)), _signs(rng, n))),
    perfect=lambda rng, n: (lambda y: Sample((np.where(y > 0, 0.0, 2.0), y)))(_signs(rng, n)),
    hard=lambda rng, n: [
        Sample((np.full(_shape(n), 1e4), _signs(rng, n)), description="distances of 1e4"),
        Sample((np.zeros(_shape(n)), _signs(rng, n)), description="zero distances"),
        Sample((np.ones(_shape(n)), _signs(rng, n)), description="distances exactly at the margin"),
        Sample((np.full(_shape(n), 1e20), _signs(rng, n)), description="distances of 1e20", requires="bounded_gradient"),
    ],
    doc="non-negative distances and {-1, +1} targets (+1: similar pair) of the same shape",
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


_kind(
    "multilabel_logits",
    logits=True,
    random=lambda rng, n: Sample((rng.normal(size=(n, NUM_CLASSES)) * 2, _multi_hot(rng, n))),
    perfect=lambda rng, n: (lambda t: Sample((40.0 * (2 * t - 1), t)))(_multi_hot(rng, n)),
    hard=_multilabel_hard,
    example_ndim=lambda s: np.ndim(s.args[0]) - 1,
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


_kind(
    "multilabel_indices",
    logits=True,
    random=lambda rng, n: Sample((rng.normal(size=(n, NUM_CLASSES)) * 2, _index_lists(rng, n))),
    perfect=lambda rng, n: (lambda t: Sample((40.0 * _index_lists_to_multi_hot(t), t)))(_index_lists(rng, n)),
    hard=_multilabel_indices_hard,
    example_ndim=lambda s: np.ndim(s.args[0]) - 1,
    doc="scores (n, K) and int class-index lists (n, K) padded with -1 (PyTorch's multilabel_margin format)",
)

LIST_SIZE = 5


def _relevance(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 4, (n, LIST_SIZE)).astype(np.float64)  # graded 0..3, with ties


def _ranking_hard(rng: np.random.Generator, n: int) -> list[Sample]:
    r = _relevance(rng, n)
    r[0] = 0.0  # a list with no relevant item
    big_right = 1e4 * np.sign(r - r.mean(-1, keepdims=True) + 1e-3)
    items = np.ones((n, LIST_SIZE), bool)
    items[0] = False  # an all-masked list
    items[1, ::2] = False  # padding inside a list
    return [
        Sample((big_right, r), description="scores of +-1e4, right order"),
        Sample((-big_right, r), description="scores of +-1e4, wrong order"),
        Sample((np.zeros((n, LIST_SIZE)), np.ones((n, LIST_SIZE))), description="tied scores and tied relevance"),
        Sample((rng.normal(size=(n, LIST_SIZE)) * 1e4, r), {"where": items},
               description="all-masked and padded lists, scores of 1e4"),
    ]


_kind(
    "ranking_lists",
    logits=True,
    random=lambda rng, n: Sample((rng.normal(size=(n, LIST_SIZE)) * 2, _relevance(rng, n))),
    perfect=lambda rng, n: (lambda r: Sample((40.0 * r, r)))(_relevance(rng, n)),
    hard=_ranking_hard,
    example_ndim=lambda s: np.ndim(s.args[0]) - 1,
    doc="scores (n, list_size) and non-negative relevance (n, list_size); one loss per list",
)


# -- embedding ----------------------------------------------------------------------------------


def _embedding_hard(rng: np.random.Generator, n: int, extra: Callable[[int], tuple[np.ndarray, ...]]) -> list[Sample]:
    """Hard inputs for two embedding arrays ``(n, FEATURES)`` followed by ``extra(n)`` (labels)."""
    a = rng.normal(size=_shape(n))
    b = rng.normal(size=_shape(n))
    zero_a = a.copy()
    zero_a[::2] = 0.0
    zero_b = b.copy()
    zero_b[1::2] = 0.0
    zero_b[0] = 0.0  # both vectors of the first pair zero
    return [
        Sample((zero_a, zero_b) + extra(n), description="zero vectors"),
        Sample((np.zeros(_shape(n)), np.zeros(_shape(n))) + extra(n), description="all vectors zero"),
        Sample((a.copy(), a) + extra(n), description="identical vectors"),
        Sample((-a, a) + extra(n), description="opposite vectors"),
        Sample((1e4 * a, 1e-4 * b) + extra(n), description="norms of 1e4 and 1e-4"),
    ]


_kind(
    "embedding_vectors",
    logits=None,
    random=lambda rng, n: Sample((rng.normal(size=_shape(n)), rng.normal(size=_shape(n)))),
    perfect=lambda rng, n: (lambda t: Sample((2.5 * t, t)))(rng.normal(size=_shape(n))),
    hard=lambda rng, n: _embedding_hard(rng, n, lambda n: ()),
    example_ndim=lambda s: np.ndim(s.args[0]) - 1,
    doc="predicted and target vectors (n, d): the feature axis is reduced",
)


def _signed_pairs(rng: np.random.Generator, n: int) -> np.ndarray:
    y = 2.0 * rng.integers(0, 2, n) - 1.0
    y[0], y[-1] = 1.0, -1.0  # both kinds of pair, always
    return y


def _embedding_pairs_perfect(rng: np.random.Generator, n: int, similar: float, dissimilar: float) -> Sample:
    """Similar pairs identical, dissimilar pairs opposite and far apart."""
    y = _signed_pairs(rng, n)
    a = rng.normal(size=_shape(n))
    a /= np.linalg.norm(a, axis=-1, keepdims=True)
    b = np.where(y[:, None] > 0, a, -4.0 * a)
    return Sample((a, b, np.where(y > 0, similar, dissimilar)))


_kind(
    "embedding_pairs",
    logits=None,
    random=lambda rng, n: Sample((rng.normal(size=_shape(n)), rng.normal(size=_shape(n)), _signed_pairs(rng, n))),
    perfect=lambda rng, n: _embedding_pairs_perfect(rng, n, 1.0, -1.0),
    hard=lambda rng, n: _embedding_hard(rng, n, lambda n: (_signed_pairs(rng, n),)),
    example_ndim=lambda s: np.ndim(s.args[0]) - 1,
    doc="two embedding arrays (n, d) and one {-1, +1} label per pair (n,), +1 = similar",
)

_kind(
    "embedding_pairs_binary",
    logits=None,
    random=lambda rng, n: Sample((rng.normal(size=_shape(n)), rng.normal(size=_shape(n)),
                                  (_signed_pairs(rng, n) > 0).astype(np.float64))),
    perfect=lambda rng, n: _embedding_pairs_perfect(rng, n, 1.0, 0.0),
    hard=lambda rng, n: _embedding_hard(rng, n, lambda n: ((_signed_pairs(rng, n) > 0).astype(np.float64),)),
    example_ndim=lambda s: np.ndim(s.args[0]) - 1,
    doc="two embedding arrays (n, d) and one {0, 1} label per pair (n,), 1 = similar",
)


def _triplet_hard(rng: np.random.Generator, n: int) -> list[Sample]:
    a, p, q = (rng.normal(size=_shape(n)) for _ in range(3))
    zeros = np.zeros(_shape(n))
    return [
        Sample((a.copy(), a.copy(), q), description="positive equal to the anchor"),
        Sample((a.copy(), p, a.copy()), description="negative equal to the anchor"),
        Sample((a.copy(), a.copy(), a.copy()), description="all three equal"),
        Sample((zeros, zeros.copy(), zeros.copy()), description="all zero"),
        Sample((a.copy(), a - 1e-6, q), description="differences of exactly -1e-6 (PyTorch's epsilon cancels)"),
        Sample((1e4 * a, 1e4 * p, 1e4 * q), description="embeddings of 1e4"),
    ]


_kind(
    "triplet",
    logits=None,
    random=lambda rng, n: Sample(tuple(rng.normal(size=_shape(n)) for _ in range(3))),
    perfect=lambda rng, n: (lambda a: Sample((a, a.copy(), a + 10.0)))(rng.normal(size=_shape(n))),
    hard=_triplet_hard,
    example_ndim=lambda s: np.ndim(s.args[0]) - 1,
    doc="anchor, positive and negative embeddings (n, d), all of one shape",
)

CONTRASTIVE_BATCHES, CONTRASTIVE_BATCH = 2, 5


def _group_labels(rng: np.random.Generator) -> np.ndarray:
    """Group ids (batches, n) in which every example has at least one positive and one negative."""
    rows = []
    for _ in range(CONTRASTIVE_BATCHES):
        pattern = np.array([[0, 0, 1, 1, 1], [0, 0, 0, 1, 1], [4, 4, 9, 9, 9]][rng.integers(0, 3)])
        rows.append(rng.permutation(pattern))
    return np.array(rows, np.int32)


def _contrastive_hard(rng: np.random.Generator, n: int) -> list[Sample]:
    shape = (CONTRASTIVE_BATCHES, CONTRASTIVE_BATCH, FEATURES)
    x = rng.normal(size=shape)
    y = _group_labels(rng)
    zero = x.copy()
    zero[:, ::2] = 0.0
    lonely = np.array([[0, 0, 1, 1, 2], [5, 6, 6, 6, 6]], np.int32)  # anchors 4 and 0 have no positive
    same = np.zeros(y.shape, np.int32)
    distinct = np.tile(np.arange(CONTRASTIVE_BATCH, dtype=np.int32), (CONTRASTIVE_BATCHES, 1))
    return [
        Sample((zero, y), description="zero vectors"),
        Sample((np.zeros(shape), y), description="all vectors zero"),
        Sample((x, lonely), description="an anchor without a positive"),
        Sample((x, same), description="one group: no negatives"),
        Sample((x, distinct), description="all groups distinct: no positive pair"),
        Sample((np.broadcast_to(x[:, :1], shape).copy(), y), description="identical embeddings"),
        Sample((1e4 * x, y), {"temperature": 0.01}, description="embeddings of 1e4, temperature 0.01"),
    ]


_kind(
    "contrastive_batch",
    logits=None,
    random=lambda rng, n: Sample((rng.normal(size=(CONTRASTIVE_BATCHES, CONTRASTIVE_BATCH, FEATURES)), _group_labels(rng))),
    perfect=None,
    hard=_contrastive_hard,
    example_ndim=lambda s: np.ndim(s.args[0]) - 1,
    doc="embeddings (batches, n, d) and integer group ids (batches, n); every example has a positive",
)

# -- segmentation -------------------------------------------------------------------------------

IMAGES, IMAGE_SIZE, SEGMENT_CLASSES = 2, 4, 3


def _binary_masks(rng: np.random.Generator) -> np.ndarray:
    return (rng.random((IMAGES, IMAGE_SIZE, IMAGE_SIZE)) < 0.4).astype(np.float64)


def _segmentation_binary_hard(rng: np.random.Generator, n: int) -> list[Sample]:
    t = _binary_masks(rng)
    t[0, 0, 0] = 1.0  # not empty
    shape = t.shape
    sign = 2 * t - 1
    empty = np.zeros(shape)
    return [
        Sample((np.full(shape, -1e4), empty), description="empty masks, predicted empty (logits -1e4)"),
        Sample((rng.normal(size=shape), empty), description="empty masks, random logits"),
        Sample((np.full(shape, 1e4), np.ones(shape)), description="all foreground, logits +1e4"),
        Sample((1e4 * sign, t), description="logits of +-1e4, right"),
        Sample((-1e4 * sign, t), description="logits of +-1e4, wrong"),
        Sample((np.zeros(shape), t), description="logits of exactly 0"),
        Sample((empty.copy(), empty), {"from_logits": False}, description="empty masks, probabilities of exactly 0"),
        Sample((t.copy(), t), {"from_logits": False}, description="probabilities of exactly 0 and 1, right"),
        Sample((1 - t, t), {"from_logits": False}, description="probabilities of exactly 0 and 1, wrong"),
    ]


_kind(
    "segmentation_binary",
    logits=True,
    random=lambda rng, n: Sample((rng.normal(size=(IMAGES, IMAGE_SIZE, IMAGE_SIZE)) * 2, _binary_masks(rng))),
    perfect=lambda rng, n: (lambda t: Sample((40.0 * (2 * t - 1), t)))(_binary_masks(rng)),
    hard=_segmentation_binary_hard,
    example_ndim=lambda s: np.ndim(s.args[0]) - 2,
    doc="per-pixel logits (images, H, W) and {0, 1} masks of the same shape",
)


def _label_maps(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, SEGMENT_CLASSES, (IMAGES, IMAGE_SIZE, IMAGE_SIZE)).astype(np.int32)


def _segmentation_multiclass_hard(rng: np.random.Generator, n: int) -> list[Sample]:
    y = _label_maps(rng)
    oh = np.eye(SEGMENT_CLASSES)[y]
    single = np.zeros_like(y)  # one class everywhere: the others are empty masks
    single[1] = 2
    return [
        Sample((1e4 * (2 * oh - 1), y), description="logits of +-1e4, right"),
        Sample((-1e4 * (2 * oh - 1), y), description="logits of +-1e4, wrong"),
        Sample((np.zeros(oh.shape), y), description="logits of exactly 0"),
        Sample((1e4 * (2 * np.eye(SEGMENT_CLASSES)[single] - 1), single), description="one class per image, logits +-1e4"),
        Sample((rng.normal(size=oh.shape), single), description="one class per image, random logits"),
        Sample((oh.copy(), y), {"from_logits": False}, description="probabilities of exactly 0 and 1, right"),
        Sample((np.roll(oh, 1, axis=-1), y), {"from_logits": False}, description="probabilities of exactly 0 and 1, wrong"),
        Sample((np.eye(SEGMENT_CLASSES)[single], single), {"from_logits": False},
               description="one class per image, exact probabilities"),
    ]


_kind(
    "segmentation_multiclass",
    logits=True,
    random=lambda rng, n: Sample((rng.normal(size=(IMAGES, IMAGE_SIZE, IMAGE_SIZE, SEGMENT_CLASSES)) * 2,
                                  _label_maps(rng))),
    perfect=lambda rng, n: (lambda y: Sample((40.0 * np.eye(SEGMENT_CLASSES)[y], y)))(_label_maps(rng)),
    hard=_segmentation_multiclass_hard,
    example_ndim=lambda s: np.ndim(s.args[0]) - 3,
    doc="per-pixel logits (images, H, W, C) and integer label maps (images, H, W)",
)


# -- non-negative measures (probabilistic family) -----------------------------------------------


def _measure(rng: np.random.Generator, n: int) -> np.ndarray:
    t = rng.uniform(0.0, 3.0, (n, NUM_CLASSES))
    t[:, 0] = 0.0  # zero entries: 0 log 0 must count as 0
    return t


def _measure_hard(rng: np.random.Generator, n: int) -> list[Sample]:
    t = _measure(rng, n)
    x = rng.normal(size=(n, NUM_CLASSES))
    return [
        Sample((np.zeros_like(t), np.zeros_like(t)), description="zero measures"),
        Sample((np.zeros_like(t), t), description="zero predictions where the target is positive"),
        Sample((np.full_like(t, 1e20), t), description="predictions of 1e20"),
        Sample((np.where(t > 0, x, -np.inf), t), {"log_input": True}, description="-inf log-measures where the target is 0"),
        Sample((np.full_like(t, -1e4), t), {"log_input": True}, description="log-measures of -1e4"),
    ]


_kind(
    "nonnegative_measure",
    logits=False,
    random=lambda rng, n: Sample((rng.uniform(0.2, 3.0, (n, NUM_CLASSES)), _measure(rng, n))),
    perfect=lambda rng, n: (lambda t: Sample((t.copy(), t)))(_measure(rng, n)),
    hard=_measure_hard,
    example_ndim=lambda s: np.ndim(s.args[0]) - 1,
    doc="non-negative measures (n, K), not normalised, and targets of the same shape with zero entries",
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
    """The kind's hard inputs, then the cases every kind shares (an empty mask)."""
    return kind(kind_name).hard(rng, n) + _shared_hard(kind_name, rng, n)


def _shared_hard(kind_name: str, rng: np.random.Generator, n: int) -> list[Sample]:
    # Every example excluded: the mean divides by zero included entries and must give 0.
    s = random_inputs(kind_name, rng, n)
    where = np.zeros(example_shape(kind_name, s), bool)
    return [dataclasses.replace(s, kwargs={**s.kwargs, "where": where}, description="every example masked out")]


def example_shape(kind_name: str, sample: Sample) -> tuple[int, ...]:
    """Shape of the per-example losses (``reduction="none"``) for this sample."""
    first = np.asarray(sample.args[0])
    return first.shape[: kind(kind_name).example_ndim(sample)]


# -- sequence (CTC) -----------------------------------------------------------------------------

CTC_FRAMES, CTC_CLASSES, CTC_LABELS = 6, 4, 3  # T, K (blank = 0), N


def _ctc_batch(n: int) -> int:
    return 3 if n <= 6 else n


def _ctc_labels(rng: np.random.Generator, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Right-padded labels in [1, K) (padding holds 0), their paddings, and the frames each needs."""
    labels = np.zeros((b, CTC_LABELS), np.int32)
    paddings = np.ones((b, CTC_LABELS))
    needed = np.zeros(b, int)
    for i in range(b):
        length = rng.integers(1, CTC_LABELS + 1)
        labels[i, :length] = rng.integers(1, CTC_CLASSES, length)
        paddings[i, :length] = 0.0
        needed[i] = length + int(np.sum(labels[i, 1:length] == labels[i, : length - 1]))
    return labels, paddings, needed


def _ctc_frame_paddings(rng: np.random.Generator, needed: np.ndarray) -> np.ndarray:
    pad = np.zeros((len(needed), CTC_FRAMES))
    for i, k in enumerate(needed):
        pad[i, rng.integers(k, CTC_FRAMES + 1):] = 1.0  # every alignment stays possible
    return pad


def _ctc_sample(logits: np.ndarray, labels: np.ndarray, label_pad: np.ndarray, frame_pad: np.ndarray,
                description: str = "", **options: Any) -> Sample:
    return Sample((logits, labels), {"logit_paddings": frame_pad, "label_paddings": label_pad, **options},
                  description=description, example_kwargs=("logit_paddings", "label_paddings"))


def _ctc_random(rng: np.random.Generator, n: int) -> Sample:
    b = _ctc_batch(n)
    labels, label_pad, needed = _ctc_labels(rng, b)
    logits = rng.normal(size=(b, CTC_FRAMES, CTC_CLASSES)) * 2
    return _ctc_sample(logits, labels, label_pad, _ctc_frame_paddings(rng, needed))


def _ctc_alignment(labels: np.ndarray, label_pad: np.ndarray) -> np.ndarray:
    """One frame-level path per sequence: the labels, a blank between repeats, blanks after."""
    path = np.zeros((len(labels), CTC_FRAMES), np.int32)
    for i, row in enumerate(labels):
        t = 0
        real = row[label_pad[i] == 0]
        for j, c in enumerate(real):
            if j > 0 and c == real[j - 1]:
                t += 1  # a blank separates repeated labels
            path[i, t] = c
            t += 1
    return path


def _ctc_perfect(rng: np.random.Generator, n: int) -> Sample:
    b = _ctc_batch(n)
    labels, label_pad, _ = _ctc_labels(rng, b)
    logits = 40.0 * np.eye(CTC_CLASSES)[_ctc_alignment(labels, label_pad)]
    return _ctc_sample(logits, labels, label_pad, np.zeros((b, CTC_FRAMES)))


def _ctc_hard(rng: np.random.Generator, n: int) -> list[Sample]:
    b = _ctc_batch(n)
    labels, label_pad, needed = _ctc_labels(rng, b)
    frame_pad = _ctc_frame_paddings(rng, needed)
    right = 2 * np.eye(CTC_CLASSES)[_ctc_alignment(labels, label_pad)] - 1
    masked = rng.normal(size=(b, CTC_FRAMES, CTC_CLASSES))
    for i in range(b):  # -inf on one class that this sequence never uses (never the blank)
        unused = sorted(set(range(1, CTC_CLASSES)) - set(labels[i][label_pad[i] == 0].tolist()))
        if unused:
            masked[i, :, unused[0]] = -np.inf
    impossible_labels = np.array([[1, 1, 1]] + [[2, 3, 2]] * (b - 1), np.int32)
    short_frames = np.zeros((b, CTC_FRAMES))
    short_frames[:, 2:] = 1.0  # two frames for three labels: no alignment exists
    empty_pad = np.ones((b, CTC_LABELS))
    return [
        _ctc_sample(1e4 * right, labels, label_pad, np.zeros((b, CTC_FRAMES)), "logits of +-1e4 on a valid path"),
        _ctc_sample(-1e4 * right, labels, label_pad, np.zeros((b, CTC_FRAMES)), "logits of +-1e4 against the path"),
        _ctc_sample(masked, labels, label_pad, frame_pad, "-inf logits on a class the labels never use"),
        _ctc_sample(np.zeros((b, CTC_FRAMES, CTC_CLASSES)), labels, empty_pad, frame_pad, "empty label sequences"),
        _ctc_sample(rng.normal(size=(b, CTC_FRAMES, CTC_CLASSES)), impossible_labels, np.zeros((b, CTC_LABELS)),
                    short_frames, "impossible alignments with zero_infinity", zero_infinity=True),
    ]


_kind(
    "ctc",
    logits=True,
    random=_ctc_random,
    perfect=_ctc_perfect,
    hard=_ctc_hard,
    example_ndim=lambda s: np.ndim(s.args[0]) - 2,
    doc="per-frame logits (B, T, K) with blank 0, right-padded integer labels (B, N), and logit_paddings / "
        "label_paddings keywords (1.0 = padded)",
)
