"""Input kinds of element-wise regression losses and of non-negative measures (private)."""

from __future__ import annotations

import numpy as np

from jaxloss._kinds import _models
from jaxloss._kinds._base import InputKind, Sample, NUM_CLASSES, shape


# -- regression ---------------------------------------------------------------------------------


def _regression_hard(rng: np.random.Generator, n: int) -> list[Sample]:
    t = rng.normal(size=shape(n))
    return [
        Sample((t + 1e20, t), description="errors of +1e20", requires="bounded_gradient"),
        Sample((t - 1e20, t), description="errors of -1e20", requires="bounded_gradient"),
        Sample((np.zeros(shape(n)), np.zeros(shape(n))), description="zero predictions and zero targets"),
        Sample((t + 1e4, t), description="errors of 1e4", requires="bounded_gradient"),
    ]


REGRESSION = InputKind(
    "regression",
    curve_target=0.0, toy_model=_models.linear,
    logits=False,
    random=lambda rng, n: Sample((rng.normal(size=shape(n)) * 2, rng.normal(size=shape(n)))),
    perfect=lambda rng, n: (lambda t: Sample((t.copy(), t)))(rng.normal(size=shape(n))),
    hard_cases=_regression_hard,
    doc="predictions and targets: real arrays of one shape",
)

NONNEGATIVE_REGRESSION = InputKind(
    "nonnegative_regression",
    curve_target=1.0, toy_model=_models.positive_linear,
    logits=False,
    random=lambda rng, n: Sample((rng.uniform(0, 5, shape(n)), rng.uniform(0, 5, shape(n)))),
    perfect=lambda rng, n: (lambda t: Sample((t.copy(), t)))(rng.uniform(0, 5, shape(n))),
    hard_cases=lambda rng, n: [
        Sample((np.full(shape(n), 1e20), rng.uniform(0, 5, shape(n))), description="predictions of 1e20"),
        Sample((np.full(shape(n), -5.0), np.zeros(shape(n))), description="negative predictions, zero targets"),
        Sample((np.zeros(shape(n)), np.zeros(shape(n))), description="zero predictions and zero targets"),
    ],
    doc="non-negative predictions and targets",
)

POSITIVE_REGRESSION = InputKind(
    "positive_regression",
    curve_target=1.0, toy_model=_models.positive_linear,
    logits=False,
    random=lambda rng, n: Sample((rng.uniform(0.5, 3, shape(n)), rng.uniform(0.5, 3, shape(n)))),
    perfect=lambda rng, n: (lambda t: Sample((t.copy(), t)))(rng.uniform(0.5, 3, shape(n))),
    hard_cases=lambda rng, n: [
        Sample((np.full(shape(n), 1e20), rng.uniform(0.5, 3, shape(n))), description="predictions of 1e20"),
        Sample((rng.uniform(0.5, 3, shape(n)), np.zeros(shape(n))), description="zero targets"),
    ],
    doc="targets away from zero",
)

COUNT_REGRESSION = InputKind(
    "count_regression",
    curve_target=1.0, toy_model=_models.linear,  # the model predicts the log-rate
    logits=False,
    random=lambda rng, n: Sample((rng.normal(size=shape(n)), rng.poisson(2.0, shape(n)).astype(np.float64))),
    perfect=None,
    hard_cases=lambda rng, n: [
        Sample((np.full(shape(n), -1e4), rng.poisson(2.0, shape(n)).astype(np.float64)), description="log-rates of -1e4"),
        Sample((np.zeros(shape(n)), np.zeros(shape(n))), description="zero counts"),
        Sample((np.full(shape(n), 30.0), np.full(shape(n), 1e6)), description="huge counts"),
    ],
    doc="log-rates and non-negative counts",
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


NONNEGATIVE_MEASURE = InputKind(
    "nonnegative_measure",
    logits=False,
    random=lambda rng, n: Sample((rng.uniform(0.2, 3.0, (n, NUM_CLASSES)), _measure(rng, n))),
    perfect=lambda rng, n: (lambda t: Sample((t.copy(), t)))(_measure(rng, n)),
    hard_cases=_measure_hard,
    example_axes=1,
    doc="non-negative measures (n, K), not normalised, and targets of the same shape with zero entries",
)
