"""fit against hand-written optax loops, side by side in one run.

    python benchmarks/bench_training.py [--quick]

Contenders, on logistic regression (batch 32) and an MLP 784-128-10 (batch 128), synthetic data:
  fit    jaxloss.fit, whole call after compilation (its History, NaN guard, one host round-trip/epoch)
  (a)    a Python loop calling a jitted optax step per batch
  (b)    a hand-written fully fused jit + lax.scan epoch (the practical limit)
Each is compiled first, then timed in interleaved rounds; the median and min-max of steps per
second are printed, with the ratios fit/(b) and fit/(a). Compilation time is reported separately.
Keras and PyTorch are not installed in CI and are not timed here.
"""

from __future__ import annotations

import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxloss as jl


def _problems(quick: bool) -> dict:
    rng = np.random.default_rng(0)
    n_lr = 32 * (200 if quick else 1000)
    x = rng.normal(size=(n_lr, 20)).astype(np.float32)
    y = (x @ rng.normal(size=20) > 0).astype(np.float32)
    n_mlp = 128 * (20 if quick else 100)
    xm = rng.normal(size=(n_mlp, 784)).astype(np.float32)
    ym = rng.integers(0, 10, n_mlp).astype(np.int32)

    def logreg(p, i):
        return i @ p["w"] + p["b"]

    def mlp(p, i):
        return jax.nn.relu(i @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]

    k1, k2 = jax.random.split(jax.random.key(0))
    mlp_params = {"w1": jax.random.normal(k1, (784, 128)) * 0.03, "b1": jnp.zeros(128),
                  "w2": jax.random.normal(k2, (128, 10)) * 0.1, "b2": jnp.zeros(10)}
    return {
        "logistic regression (batch 32)": (logreg, {"w": jnp.zeros(20), "b": jnp.zeros(())},
                                           jl.binary_cross_entropy, (x, y), 32),
        "MLP 784-128-10 (batch 128)": (mlp, mlp_params, jl.softmax_cross_entropy, (xm, ym), 128),
    }


def _contenders(model, params, loss, data, batch_size, optimizer):
    x, y = jnp.asarray(data[0]), jnp.asarray(data[1])
    n = x.shape[0]
    steps = n // batch_size

    def objective(p, xb, yb):
        return loss(model(p, xb), yb)

    @jax.jit
    def step(p, s, xb, yb):
        value, g = jax.value_and_grad(objective)(p, xb, yb)
        u, s = optimizer.update(g, s, p)
        return optax.apply_updates(p, u), s, value

    def python_loop(epoch):
        p, s = params, optimizer.init(params)
        perm = np.random.default_rng(epoch).permutation(n)
        xs, ys = x[perm], y[perm]
        for i in range(steps):
            p, s, value = step(p, s, xs[i * batch_size:(i + 1) * batch_size], ys[i * batch_size:(i + 1) * batch_size])
        jax.block_until_ready(p)

    @jax.jit
    def fused_epoch(p, s, key):
        perm = jax.random.permutation(key, n)
        xs = x[perm].reshape(steps, batch_size, *x.shape[1:])
        ys = y[perm].reshape(steps, batch_size, *y.shape[1:])

        def body(carry, batch):
            p, s = carry
            p, s, value = step(p, s, *batch)
            return (p, s), value

        (p, s), values = jax.lax.scan(body, (p, s), (xs, ys))
        return p, s, jnp.mean(values)

    def fused(epoch):
        p, s, value = fused_epoch(params, optimizer.init(params), jax.random.key(epoch))
        float(value)

    def fit(epoch):
        jl.fit(model, params, loss, (x, y), optimizer=optimizer, epochs=1, batch_size=batch_size, seed=epoch,
               progress=False)

    return {"fit": fit, "(a) python loop": python_loop, "(b) fused scan": fused}, steps


def run(quick: bool = False) -> dict:
    """Times every contender on both problems; returns {problem: {contender: stats}}."""
    optimizer = optax.adam(1e-3)
    reps = 5 if quick else 20
    results = {}
    for problem, (model, params, loss, data, bs) in _problems(quick).items():
        contenders, steps = _contenders(model, params, loss, data, bs, optimizer)
        compile_s = {}
        for name, f in contenders.items():
            t = time.perf_counter()
            f(0)
            compile_s[name] = time.perf_counter() - t
        times = {name: [] for name in contenders}
        for rep in range(reps):
            for name, f in contenders.items():  # interleaved
                t = time.perf_counter()
                f(rep + 1)
                times[name].append(time.perf_counter() - t)
        table = {}
        for name, ts in times.items():
            rates = [steps / t for t in ts]
            table[name] = {"steps_per_s_median": statistics.median(rates), "min": min(rates), "max": max(rates),
                           "first_call_s": compile_s[name]}
        fit_rate = table["fit"]["steps_per_s_median"]
        table["ratios"] = {"fit / (b)": fit_rate / table["(b) fused scan"]["steps_per_s_median"],
                           "fit / (a)": fit_rate / table["(a) python loop"]["steps_per_s_median"]}
        results[problem] = table
    return results


def main() -> None:
    quick = "--quick" in sys.argv
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}; steps per second, median [min-max]")
    for problem, table in run(quick).items():
        print(f"\n{problem}")
        for name, row in table.items():
            if name == "ratios":
                continue
            print(f"  {name:18s} {row['steps_per_s_median']:>10,.0f}  [{row['min']:,.0f}-{row['max']:,.0f}]"
                  f"   first call (compile + run) {row['first_call_s']:.2f}s")
        for k, v in table["ratios"].items():
            print(f"  {k:18s} {v:.2f}x")


if __name__ == "__main__":
    main()
