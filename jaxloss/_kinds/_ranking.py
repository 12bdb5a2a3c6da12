"""Input kinds of pairwise and listwise ranking losses, and of distances (private)."""

from __future__ import annotations

import numpy as np

from jaxloss._kinds._base import InputKind, Sample, shape


# -- margin and ranking -------------------------------------------------------------------------


def _signs(rng: np.random.Generator, n: int) -> np.ndarray:
    return 2 * rng.integers(0, 2, shape(n)).astype(np.float64) - 1


def _pairwise_hard(rng: np.random.Generator, n: int) -> list[Sample]:
    y = _signs(rng, n)
    b = rng.normal(size=shape(n))
    return [
        Sample((1e4 * y, -1e4 * y, y), description="scores of +-1e4, right order"),
        Sample((-1e4 * y, 1e4 * y, y), description="scores of +-1e4, wrong order"),
        Sample((b.copy(), b, y), description="tied scores"),
        Sample((np.zeros(shape(n)), np.zeros(shape(n)), y), description="zero scores"),
    ]


PAIRWISE_SCORES = InputKind(
    "pairwise_scores",
    logits=True,
    random=lambda rng, n: Sample((rng.normal(size=shape(n)) * 2, rng.normal(size=shape(n)) * 2, _signs(rng, n))),
    perfect=lambda rng, n: (lambda b, y: Sample((b + 2.0 * y, b, y)))(rng.normal(size=shape(n)), _signs(rng, n)),
    hard_cases=_pairwise_hard,
    doc="two score arrays and {-1, +1} targets (+1: the first should rank higher), all of one shape",
)

DISTANCES = InputKind(
    "distances",
    logits=None,
    random=lambda rng, n: Sample((rng.uniform(0, 3, shape(n)), _signs(rng, n))),
    perfect=lambda rng, n: (lambda y: Sample((np.where(y > 0, 0.0, 2.0), y)))(_signs(rng, n)),
    hard_cases=lambda rng, n: [
        Sample((np.full(shape(n), 1e4), _signs(rng, n)), description="distances of 1e4"),
        Sample((np.zeros(shape(n)), _signs(rng, n)), description="zero distances"),
        Sample((np.ones(shape(n)), _signs(rng, n)), description="distances exactly at the margin"),
        Sample((np.full(shape(n), 1e20), _signs(rng, n)), description="distances of 1e20", requires="bounded_gradient"),
    ],
    doc="non-negative distances and {-1, +1} targets (+1: similar pair) of the same shape",
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


RANKING_LISTS = InputKind(
    "ranking_lists",
    logits=True,
    random=lambda rng, n: Sample((rng.normal(size=(n, LIST_SIZE)) * 2, _relevance(rng, n))),
    perfect=lambda rng, n: (lambda r: Sample((40.0 * r, r)))(_relevance(rng, n)),
    hard_cases=_ranking_hard,
    example_axes=1,
    doc="scores (n, list_size) and non-negative relevance (n, list_size); one loss per list",
)
