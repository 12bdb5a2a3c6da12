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
# The suite is compile-bound (thousands of small programs): XLA flags that make its CPU compiles cheaper,
# set before JAX starts its backend; subprocesses inherit them (a test that adds a flag appends it).
# * --xla_backend_optimization_level=0, --xla_llvm_disable_expensive_passes=true: XLA's cheapest CPU code
#   generation, about a fifth less CPU time in compile-heavy tests;
# * --xla_cpu_use_fusion_emitters=false: XLA:CPU's LLVM IR emitters instead of its MLIR fusion emitters,
#   which compile small programs more slowly: the suite with an empty XLA cache took 7 min 11 s against
#   12 min 26 s without it (2 cores).
# They change speed and the last bits of rounding, nothing a test could see: over every loss's value and
# gradient under jit (the battery's sample and hard inputs, float32 and float64: 1,360 arrays), 130 differ
# from XLA's defaults, by at most 6.1e-7 of the array's largest entry, or by one rounding of an array that
# is zero up to rounding (12); where one is inf or nan, so is the other (jax 0.10.2).
# An XLA that does not know a flag aborts the process, so each is kept only where a probe process
# accepts it (once per run: pytest-xdist's workers inherit the result). A flag the user set is kept.
_SPEED_FLAGS = ("--xla_backend_optimization_level=0", "--xla_llvm_disable_expensive_passes=true",
                "--xla_cpu_use_fusion_emitters=false")


def _xla_accepts(flags: list[str]) -> bool:
    import subprocess

    env = {**os.environ, "XLA_FLAGS": " ".join([os.environ.get("XLA_FLAGS", ""), *flags]), "JAX_PLATFORMS": "cpu"}
    probe = subprocess.run([sys.executable, "-c", "import jax; jax.devices('cpu')"], env=env, capture_output=True,
                           timeout=300)
    return probe.returncode == 0


_missing = [f for f in _SPEED_FLAGS if f.split("=")[0] not in os.environ.get("XLA_FLAGS", "")]
if _missing and not _xla_accepts(_missing):
    _missing = [f for f in _missing if _xla_accepts([f])]
os.environ["XLA_FLAGS"] = " ".join([os.environ.get("XLA_FLAGS", ""), *_missing]).strip()

# XLA's persistent compilation cache, outside the clone: every program the suite compiles is stored, so a
# second run on the same machine skips XLA's compilation (tracing and lowering remain). Measured on the
# loss battery: a warm run takes 0.4x the CPU time of a run without it, a cold run (CI: a fresh machine)
# no more. Keyed by the program, JAX/XLA versions and flags: a changed loss compiles anew. Another
# directory: JAXLOSS_TEST_XLA_CACHE=/path; off: JAXLOSS_TEST_XLA_CACHE=off. Set in the environment, so the
# tests' subprocesses (the x64-off catalog, the descent demo, the clusters, the documentation's build)
# use it too: on a second run the descent demo, x64-off catalog and sharded-loss subprocesses took 25 s
# instead of 49 s. (In a multi-process cluster, JAX writes entries from process 0 only.)
_xla_cache = os.environ.get("JAXLOSS_TEST_XLA_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "jaxloss-tests", "xla"))
_use_xla_cache = _xla_cache not in ("", "0", "off")
if _use_xla_cache:
    os.environ.update(JAX_COMPILATION_CACHE_DIR=_xla_cache, JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
                      JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="-1")

# float32 matrix products in float32 where JAX has a GPU plugin, here and in the tests' subprocesses: on
# NVIDIA GPUs since Ampere, XLA's default precision multiplies float32 in TF32 (10-bit mantissas, relative
# errors near 1e-3), which the tests' float64 references at rtol 1e-5 would read as wrong losses (issue
# 14: the per-example benchmark differed by 5.9e-1 on an H200). Not on a CPU-only install: a CPU computes
# float32 products either way, and the setting made the suite's compiles about a tenth slower there.
import importlib.metadata  # noqa: E402

if any((d.metadata["Name"] or "").lower().replace("_", "-").startswith(("jax-cuda", "jax-rocm"))
       for d in importlib.metadata.distributions()):
    os.environ.setdefault("JAX_DEFAULT_MATMUL_PRECISION", "float32")

import jax  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")
if _use_xla_cache:   # also where JAX was imported before this file read the environment
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
