"""Toy problems for every registered loss, and gradient descent on the whole catalog."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

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


def test_kind_gives_a_problem_and_a_loss():
    problem = jl.toy_problem("regression_outliers", seed=1)
    assert problem.name in [e.name for e in jl.catalog() if e.toy_problem is toys.KINDS["regression_outliers"]]
    assert problem.val is not None and problem.train[0].shape[0] == 512


def test_every_loss_descends_on_its_problem():
    # In a subprocess with cheap XLA optimisation: the test checks descent, not speed, and compiling
    # the program (one for the whole catalog: every fast problem is full-batch) dominates its time.
    code = textwrap.dedent("""
        import jaxloss as jl
        results = jl.train_catalog(fast=True)
        assert set(results) == {e.name for e in jl.catalog()}
        bad = [(k, h.status, list(h["loss"])) for k, h in results.items()
               if not (h.status == "completed" and h["loss"][-1] < h["loss"][0])]
        assert not bad, bad
        print("OK", len(results))
    """)
    env = dict(os.environ, XLA_FLAGS="--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0 and "OK" in out.stdout, out.stderr[-3000:]
