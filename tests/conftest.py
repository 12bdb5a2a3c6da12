"""Test configuration: float64 available for references and finite differences.

x64 is enabled for the whole suite so float64 inputs stay float64; every
dtype test passes explicit dtypes, so float32/float16/bfloat16 paths are
exercised as users run them.
"""

import os
import sys

os.environ.setdefault("MPLBACKEND", "Agg")
# The loss tests' helpers (tests/losses: _inputs, _battery, the NumPy references) serve tests elsewhere too.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "losses"))
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

# XLA's persistent compilation cache, outside the clone: every program the suite compiles is stored, so a
# second run on the same machine skips XLA's compilation (tracing and lowering remain). Measured on the
# loss battery: a warm run takes 0.4x the CPU time of a run without it, a cold run (CI: a fresh machine)
# no more. Keyed by the program, JAX/XLA versions and flags: a changed loss compiles anew. Another
# directory: JAXLOSS_TEST_XLA_CACHE=/path; off: JAXLOSS_TEST_XLA_CACHE=off.
_xla_cache = os.environ.get("JAXLOSS_TEST_XLA_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "jaxloss-tests", "xla"))
if _xla_cache not in ("", "0", "off"):
    jax.config.update("jax_compilation_cache_dir", _xla_cache)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(autouse=True, scope="module")
def _free_compiled_programs():
    """Each test module's compiled programs are dropped when it ends: an xdist worker runs many modules,
    and without this it holds every program it ever compiled (about 4 GB by the end of the suite)."""
    yield
    jax.clear_caches()
