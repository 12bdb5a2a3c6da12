"""Per-example gradients: ``vmap(grad)`` against a Python loop over the examples.

The gradient of each example's loss with respect to the parameters of a small
MLP (32 -> 64 -> 10, softmax cross-entropy through ``jaxloss.objective``), for
1,000 examples, as ``jaxloss.inspect`` computes them. Both contenders are
compiled first (the loop calls one jitted per-example gradient 1,000 times; the
``vmap`` version is one jitted call), then timed interleaved A B A B with
``block_until_ready``. Run: ``python -m benchmarks.bench_per_example``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import jaxloss as jl

from . import _device
from ._timing import fmt_seconds, interleaved, markdown


def _problem(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    params = {
        "hidden": {"w": jnp.asarray(rng.normal(size=(32, 64)) / np.sqrt(32), jnp.float32), "b": jnp.zeros(64)},
        "out": {"w": jnp.asarray(rng.normal(size=(64, 10)) / 8, jnp.float32), "b": jnp.zeros(10)},
    }
    x = jnp.asarray(rng.normal(size=(n, 32)), jnp.float32)
    y = jnp.asarray(rng.integers(0, 10, n), jnp.int32)
    return params, x, y


def _model(params, x):
    h = jax.nn.relu(x @ params["hidden"]["w"] + params["hidden"]["b"][None, :])
    return h @ params["out"]["w"] + params["out"]["b"][None, :]


def run(quick: bool = False) -> dict:
    """Times both contenders; returns medians, spreads, the speed-up and a correctness check."""
    n = 200 if quick else 1000
    repetitions = 5 if quick else 20
    params, x, y = _problem(n)
    obj = jl.objective(_model, "softmax_cross_entropy")

    def example_grad(p, xi, yi):  # one example, as a batch of one
        return jax.grad(obj)(p, (xi[None], yi[None]))

    one = jax.jit(example_grad)
    batched = jax.jit(jax.vmap(example_grad, in_axes=(None, 0, 0)))

    def loop():
        return [one(params, x[i], y[i]) for i in range(n)]

    def vmapped():
        return batched(params, x, y)

    # Same numbers, then time.
    looped, together = loop(), vmapped()
    # Relative to the gradients' scale: on a GPU, float32 matmuls use TF32 by default, and an absolute
    # difference with no scale says nothing.
    err = max(_device.relative_difference(jnp.stack([jax.tree_util.tree_leaves(g)[k] for g in looped]),
                                          jax.tree_util.tree_leaves(together)[k])
              for k in range(len(jax.tree_util.tree_leaves(together))))
    xs = [x[i] for i in range(n)]  # slicing outside the timed loop: time the gradients, not the indexing
    ys = [y[i] for i in range(n)]

    def loop_presliced():
        return [one(params, a, b) for a, b in zip(xs, ys)]

    timings = interleaved({"python_loop": loop_presliced, "vmap_grad": vmapped}, repetitions=repetitions, inner=1)
    return {
        "examples": n,
        "parameters": int(sum(a.size for a in jax.tree_util.tree_leaves(params))),
        "device": jax.devices()[0].device_kind,
        "repetitions": repetitions,
        "python_loop": timings["python_loop"].as_dict(),
        "vmap_grad": timings["vmap_grad"].as_dict(),
        "speedup": timings["python_loop"].median / timings["vmap_grad"].median,
        "max_relative_difference": err,
        "matmul_precision": _device.describe()["matmul_precision"],
    }


def report(result: dict) -> str:
    rows = [[name, fmt_seconds(result[key]["median"]),
             f"{fmt_seconds(result[key]['minimum'])}-{fmt_seconds(result[key]['maximum'])}"]
            for name, key in (("Python loop of jit(grad)", "python_loop"), ("jit(vmap(grad))", "vmap_grad"))]
    return (f"Per-example gradients, {result['examples']} examples, MLP with {result['parameters']} parameters, "
            f"{result['device']}, {result['repetitions']} interleaved repetitions:\n\n"
            + markdown(["method", "median", "min-max"], rows)
            + f"\n\nvmap(grad) is {result['speedup']:.0f}x faster than the loop "
            f"(largest difference between the two, relative to the gradients' scale: "
            f"{result['max_relative_difference']:.1e}; matmul precision {result['matmul_precision']}).")


def main() -> None:
    print(report(run(quick=False)))


if __name__ == "__main__":
    main()
