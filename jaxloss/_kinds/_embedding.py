"""Input kinds of embedding and metric-learning losses (private)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from jaxloss._kinds._base import FEATURES, InputKind, Sample, shape


# -- embedding ----------------------------------------------------------------------------------


def _embedding_hard(rng: np.random.Generator, n: int, extra: Callable[[int], tuple[np.ndarray, ...]]) -> list[Sample]:
    """Hard inputs for two embedding arrays ``(n, FEATURES)`` followed by ``extra(n)`` (labels)."""
    a = rng.normal(size=shape(n))
    b = rng.normal(size=shape(n))
    zero_a = a.copy()
    zero_a[::2] = 0.0
    zero_b = b.copy()
    zero_b[1::2] = 0.0
    zero_b[0] = 0.0  # both vectors of the first pair zero
    return [
        Sample((zero_a, zero_b) + extra(n), description="zero vectors"),
        Sample((np.zeros(shape(n)), np.zeros(shape(n))) + extra(n), description="all vectors zero"),
        Sample((a.copy(), a) + extra(n), description="identical vectors"),
        Sample((-a, a) + extra(n), description="opposite vectors"),
        Sample((1e4 * a, 1e-4 * b) + extra(n), description="norms of 1e4 and 1e-4"),
    ]


EMBEDDING_VECTORS = InputKind(
    "embedding_vectors",
    logits=None,
    random=lambda rng, n: Sample((rng.normal(size=shape(n)), rng.normal(size=shape(n)))),
    perfect=lambda rng, n: (lambda t: Sample((2.5 * t, t)))(rng.normal(size=shape(n))),
    hard_cases=lambda rng, n: _embedding_hard(rng, n, lambda n: ()),
    example_axes=1,
    doc="predicted and target vectors (n, d): the feature axis is reduced",
)


def _signed_pairs(rng: np.random.Generator, n: int) -> np.ndarray:
    y = 2.0 * rng.integers(0, 2, n) - 1.0
    y[0], y[-1] = 1.0, -1.0  # both kinds of pair, always
    return y


def _embedding_pairs_perfect(rng: np.random.Generator, n: int, similar: float, dissimilar: float) -> Sample:
    """Similar pairs identical, dissimilar pairs opposite and far apart."""
    y = _signed_pairs(rng, n)
    a = rng.normal(size=shape(n))
    a /= np.linalg.norm(a, axis=-1, keepdims=True)
    b = np.where(y[:, None] > 0, a, -4.0 * a)
    return Sample((a, b, np.where(y > 0, similar, dissimilar)))


EMBEDDING_PAIRS = InputKind(
    "embedding_pairs",
    logits=None,
    random=lambda rng, n: Sample((rng.normal(size=shape(n)), rng.normal(size=shape(n)), _signed_pairs(rng, n))),
    perfect=lambda rng, n: _embedding_pairs_perfect(rng, n, 1.0, -1.0),
    hard_cases=lambda rng, n: _embedding_hard(rng, n, lambda n: (_signed_pairs(rng, n),)),
    example_axes=1,
    doc="two embedding arrays (n, d) and one {-1, +1} label per pair (n,), +1 = similar",
)

EMBEDDING_PAIRS_BINARY = InputKind(
    "embedding_pairs_binary",
    logits=None,
    random=lambda rng, n: Sample((rng.normal(size=shape(n)), rng.normal(size=shape(n)),
                                  (_signed_pairs(rng, n) > 0).astype(np.float64))),
    perfect=lambda rng, n: _embedding_pairs_perfect(rng, n, 1.0, 0.0),
    hard_cases=lambda rng, n: _embedding_hard(rng, n, lambda n: ((_signed_pairs(rng, n) > 0).astype(np.float64),)),
    example_axes=1,
    doc="two embedding arrays (n, d) and one {0, 1} label per pair (n,), 1 = similar",
)


def _triplet_hard(rng: np.random.Generator, n: int) -> list[Sample]:
    a, p, q = (rng.normal(size=shape(n)) for _ in range(3))
    zeros = np.zeros(shape(n))
    return [
        Sample((a.copy(), a.copy(), q), description="positive equal to the anchor"),
        Sample((a.copy(), p, a.copy()), description="negative equal to the anchor"),
        Sample((a.copy(), a.copy(), a.copy()), description="all three equal"),
        Sample((zeros, zeros.copy(), zeros.copy()), description="all zero"),
        Sample((a.copy(), a - 1e-6, q), description="differences of exactly -1e-6 (PyTorch's epsilon cancels)"),
        Sample((1e4 * a, 1e4 * p, 1e4 * q), description="embeddings of 1e4"),
    ]


TRIPLET = InputKind(
    "triplet",
    logits=None,
    random=lambda rng, n: Sample(tuple(rng.normal(size=shape(n)) for _ in range(3))),
    perfect=lambda rng, n: (lambda a: Sample((a, a.copy(), a + 10.0)))(rng.normal(size=shape(n))),
    hard_cases=_triplet_hard,
    example_axes=1,
    doc="anchor, positive and negative embeddings (n, d), all of one shape",
)

CONTRASTIVE_BATCHES, CONTRASTIVE_BATCH_SIZE = 2, 5


def _group_labels(rng: np.random.Generator) -> np.ndarray:
    """Group ids (batches, n) in which every example has at least one positive and one negative."""
    rows = []
    for _ in range(CONTRASTIVE_BATCHES):
        pattern = np.array([[0, 0, 1, 1, 1], [0, 0, 0, 1, 1], [4, 4, 9, 9, 9]][rng.integers(0, 3)])
        rows.append(rng.permutation(pattern))
    return np.array(rows, np.int32)


def _contrastive_hard(rng: np.random.Generator, n: int) -> list[Sample]:
    shape = (CONTRASTIVE_BATCHES, CONTRASTIVE_BATCH_SIZE, FEATURES)
    x = rng.normal(size=shape)
    y = _group_labels(rng)
    zero = x.copy()
    zero[:, ::2] = 0.0
    lonely = np.array([[0, 0, 1, 1, 2], [5, 6, 6, 6, 6]], np.int32)  # anchors 4 and 0 have no positive
    same = np.zeros(y.shape, np.int32)
    distinct = np.tile(np.arange(CONTRASTIVE_BATCH_SIZE, dtype=np.int32), (CONTRASTIVE_BATCHES, 1))
    return [
        Sample((zero, y), description="zero vectors"),
        Sample((np.zeros(shape), y), description="all vectors zero"),
        Sample((x, lonely), description="an anchor without a positive"),
        Sample((x, same), description="one group: no negatives"),
        Sample((x, distinct), description="all groups distinct: no positive pair"),
        Sample((np.broadcast_to(x[:, :1], shape).copy(), y), description="identical embeddings"),
        Sample((1e4 * x, y), {"temperature": 0.01}, description="embeddings of 1e4, temperature 0.01"),
    ]


CONTRASTIVE_BATCH = InputKind(
    "contrastive_batch",
    logits=None,
    random=lambda rng, n: Sample((rng.normal(size=(CONTRASTIVE_BATCHES, CONTRASTIVE_BATCH_SIZE, FEATURES)), _group_labels(rng))),
    perfect=None,
    hard_cases=_contrastive_hard,
    example_axes=1,
    doc="embeddings (batches, n, d) and integer group ids (batches, n); every example has a positive",
)
