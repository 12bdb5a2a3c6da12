"""Toy problems for every registered loss.

That every loss descends on its problem (``jl.train_catalog``) is checked with the descent demo, which
trains the same compiled program: ``tests/test_demos.py::test_descent_demo_and_every_loss_descending_with_x64_off``.
"""

from __future__ import annotations

import numpy as np
import pytest

import jaxloss as jl
from jaxloss import toys


def test_every_registered_toy_kind_is_supported():
    for entry in jl.catalog():
        assert toys.KINDS[entry.toy_problem.name] is entry.toy_problem, f"{entry.name}: {entry.toy_problem!r} unknown"
        problem = jl.toy_problem(entry.name, fast=True)
        assert problem.kind == entry.toy_problem.name and problem.loss is not None


def test_unknown_kind_is_a_clear_error():
    with pytest.raises(KeyError, match="neither a registered loss nor a toy-problem kind"):
        jl.toy_problem("no_such_kind")
    with pytest.raises(KeyError, match=r"name_or_kind='regresion' .* Did you mean 'regression'"):
        jl.toy_problem("regresion")
    with pytest.raises(TypeError, match=r"^train_catalog: names must be a list of loss names, e.g. names=\['mse'\]"):
        jl.train_catalog(names="mse", fast=True)  # was split into letters: "no loss named 'm'"
    with pytest.raises(TypeError, match=r"^train_catalog: epochs must be an integer; got str '3'"):
        jl.train_catalog(names=["mse"], epochs="3", fast=True)
    assert jl.toy_problem(jl.huber, seed=np.int64(1), fast=True).kind == "regression_outliers"  # still valid


def test_kind_gives_a_problem_and_a_loss():
    problem = jl.toy_problem("regression_outliers", seed=1)
    assert problem.name in [e.name for e in jl.catalog() if e.toy_problem is toys.KINDS["regression_outliers"]]
    assert problem.val is not None and problem.train[0].shape[0] == 512
