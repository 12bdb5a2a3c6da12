"""Suite 5: start-up. ``import jaxloss`` against ``import jax, optax`` (whole process), and first-call compile latency."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

import jax
import numpy as np

import jaxloss as jl

from ._timing import fmt_seconds, markdown


def _process_seconds(code: str, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        out.append(time.perf_counter() - start)
    return out


# The first jl.inspect of an objective on a 17-parameter MLP, in a fresh process, against the first
# jit(grad) of the same objective (both include compilation: what a user waits for).
_INSPECT = """
import time, jax, jax.numpy as jnp, jaxloss as jl
def mlp(p, x): return jnp.tanh(x @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]
k = jax.random.split(jax.random.key(0), 2)
params = {"w1": jax.random.normal(k[0], (2, 4)), "b1": jnp.zeros(4), "w2": jax.random.normal(k[1], (4,)),
          "b2": jnp.zeros(())}
x = jax.random.normal(jax.random.key(1), (32, 2)); y = x[:, 0] - x[:, 1]
objective = jl.objective(mlp, "mse")
t = time.perf_counter(); jax.block_until_ready(jax.jit(jax.grad(objective))(params, (x, y))); g = time.perf_counter() - t
t = time.perf_counter(); jl.inspect(objective, params, (x, y)); i = time.perf_counter() - t
print(i, g)
"""


def _inspect_first_call(runs: int) -> list[tuple[float, float]]:
    out = []
    for _ in range(runs):
        text = subprocess.run([sys.executable, "-c", _INSPECT], check=True, capture_output=True, text=True).stdout
        inspect_s, grad_s = map(float, text.split())
        out.append((inspect_s, grad_s))
    return out


def run(quick: bool = False) -> dict:
    runs = 3 if quick else 9
    baseline, ours = [], []
    for _ in range(runs):  # interleaved, one of each per round
        baseline += _process_seconds("import jax, optax", 1)
        ours += _process_seconds("import jaxloss", 1)
    matplotlib_loaded = subprocess.run(
        [sys.executable, "-c", "import sys, jaxloss; print('matplotlib' in sys.modules)"],
        check=True, capture_output=True, text=True).stdout.strip() == "True"
    compile_rows = []
    rng = np.random.default_rng(0)
    for name in ("mean_squared_error", "softmax_cross_entropy", "binary_cross_entropy"):
        entry = jl.info(name)
        args, kwargs = entry.inputs.random(rng, 256).cast(np.float32)
        fn = jax.jit(jax.value_and_grad(lambda *a, f=entry.fn: f(*a, **kwargs)))
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        first = time.perf_counter() - start
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        compile_rows.append({"loss": name, "first_call_s": first, "second_call_s": time.perf_counter() - start})
    inspect_runs = _inspect_first_call(1 if quick else 3)
    return {
        "inspect_first_call_s": statistics.median(r[0] for r in inspect_runs),
        "jit_grad_first_call_s": statistics.median(r[1] for r in inspect_runs),
        "import_jax_optax_s": statistics.median(baseline), "import_jaxloss_s": statistics.median(ours),
        "import_ratio": statistics.median(ours) / statistics.median(baseline),
        "import_spread": [min(ours), max(ours), min(baseline), max(baseline)],
        "matplotlib_imported_by_import_jaxloss": matplotlib_loaded, "compile": compile_rows,
    }


def report(result: dict) -> str:
    lines = [
        f"Whole-process `import jaxloss`: {fmt_seconds(result['import_jaxloss_s'])} against `import jax, optax`: "
        f"{fmt_seconds(result['import_jax_optax_s'])} (ratio {result['import_ratio']:.2f}, medians). "
        f"matplotlib imported by `import jaxloss`: {result['matplotlib_imported_by_import_jaxloss']}.",
        "",
        markdown(["loss (value and gradient, 256 examples)", "first call (trace + compile)", "second call"],
                 [[r["loss"], fmt_seconds(r["first_call_s"]), fmt_seconds(r["second_call_s"])] for r in result["compile"]]),
        "",
        f"First `jl.inspect` of an objective on a 17-parameter MLP (value, gradient, Hessian, finite differences, "
        f"per-example gradients), in a fresh process: {fmt_seconds(result['inspect_first_call_s'])}, against "
        f"{fmt_seconds(result['jit_grad_first_call_s'])} for the first `jit(grad)` of the same objective "
        f"(ratio {result['inspect_first_call_s'] / result['jit_grad_first_call_s']:.1f}).",
    ]
    return "\n".join(lines)
