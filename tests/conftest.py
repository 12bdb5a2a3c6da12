"""Test configuration: float64 available for references and finite differences.

x64 is enabled for the whole suite so float64 inputs stay float64; every
dtype test passes explicit dtypes, so float32/float16/bfloat16 paths are
exercised as users run them.
"""

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import jax  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
