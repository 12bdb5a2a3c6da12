"""Test configuration: float64 available for references and finite differences.

x64 is enabled for the whole suite so float64 inputs stay float64; every
dtype test passes explicit dtypes, so float32/float16/bfloat16 paths are
exercised as users run them.
"""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
# The suite is compile-bound (thousands of small programs): XLA's cheapest CPU code generation cuts the
# CPU time of compile-heavy tests by about a fifth. It changes speed only, not values (XLA enables no
# reassociation at any level). Set before JAX starts its backend; subprocesses inherit it.
os.environ["XLA_FLAGS"] = " ".join([os.environ.get("XLA_FLAGS", ""), "--xla_backend_optimization_level=0",
                                    "--xla_llvm_disable_expensive_passes=true"]).strip()

import jax  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
