"""fit against hand-written optax loops, side by side in one run.

    python benchmarks/bench_training.py [--quick]      (or python -m benchmarks --suite training)

Contenders, on logistic regression (batch 32; epochs of 200 steps, and of 10 steps where per-epoch
costs show) and an MLP 784-128-10 (batch 128), synthetic data already on the device, each call
training several epochs from the same initial parameters:
  fit    jaxloss.fit(..., progress=False), the WHOLE call after compilation: argument checks, cache
         look-ups, optimizer.init, placement, the compiled epochs, the History and the result
  (a)    a Python loop calling a jitted optax step per batch, batches sliced from NumPy arrays (the
         fastest of the usual ways to write it here: slicing device arrays eagerly is ~4x slower),
         reading the loss once per epoch
  (b)    a hand-written fully fused epoch, jit + lax.scan with the shuffle on the device, called
         once per epoch, the epoch losses read once at the end (the practical limit)
  fit, iterable   fit on a loader of shuffled NumPy batches (a Python iterable, as grain or tf.data
         give): one compiled step per batch, batches prefetched to the device by a thread
Each is called once to compile (reported separately), then timed in interleaved rounds whose order
rotates. Printed: steps per second, median [min-max], and the ratios fit/(b), fit/(a) as medians of
the per-round ratios. The machine may be shared: only ratios measured in the same run mean much.
Then bench_fit_vs_keras (issue 25's benchmark): a flax nnx MLP 784-256-10 on 60,000 examples, fit
against a hand-written jit + lax.scan loop, a Python loop and Keras 3's fit on the JAX backend, each in
a fresh process (whole first call with compilation, and a second call); Keras only where it is
installed (never in CI), skipped with a note otherwise.
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

try:
    from benchmarks import bench_fit_vs_keras
    from benchmarks._timing import markdown
except ImportError:  # run as a script
    import bench_fit_vs_keras  # type: ignore[no-redef]
    from _timing import markdown  # type: ignore[no-redef]

#: The key of the results of bench_fit_vs_keras (fresh processes; Keras where installed) in run()'s dict.
FRESH = "fresh processes: nnx MLP 784-256-10, fit against a hand loop and Keras 3"


def logreg(p, i):
    return i @ p["w"] + p["b"]


def mlp(p, i):
    return jax.nn.relu(i @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]


def _problems(quick: bool) -> dict:
    rng = np.random.default_rng(0)
    n_lr = 32 * (100 if quick else 200)
    x = rng.normal(size=(n_lr, 20)).astype(np.float32)
    y = (x @ rng.normal(size=20) > 0).astype(np.float32)
    n_mlp = 128 * (20 if quick else 40)
    xm = rng.normal(size=(n_mlp, 784)).astype(np.float32)
    ym = rng.integers(0, 10, n_mlp).astype(np.int32)
    k1, k2 = jax.random.split(jax.random.key(0))
    mlp_params = {"w1": jax.random.normal(k1, (784, 128)) * 0.03, "b1": jnp.zeros(128),
                  "w2": jax.random.normal(k2, (128, 10)) * 0.1, "b2": jnp.zeros(10)}
    # name: (model, params, loss, data, batch size, epochs per call, timed rounds)
    return {
        "logistic regression (batch 32)": (logreg, {"w": jnp.zeros(20), "b": jnp.zeros(())},
                                           jl.binary_cross_entropy, (x, y), 32, 5, 8 if quick else 30),
        # The same with short epochs: per-call and per-epoch costs (host round-trips) show here.
        "logistic regression (batch 32), epochs of 10 steps": (
            logreg, {"w": jnp.zeros(20), "b": jnp.zeros(())}, jl.binary_cross_entropy, (x[:320], y[:320]), 32, 20,
            8 if quick else 30),
        "MLP 784-128-10 (batch 128)": (mlp, mlp_params, jl.softmax_cross_entropy, (xm, ym), 128, 3,
                                       5 if quick else 20),
    }


def _contenders(model, params, loss, data, batch_size, epochs, optimizer):
    x_np, y_np = data
    x, y = jnp.asarray(x_np), jnp.asarray(y_np)
    n = x.shape[0]
    steps = n // batch_size

    def objective(p, xb, yb):
        return loss(model(p, xb), yb)

    def step(p, s, xb, yb):
        value, g = jax.value_and_grad(objective)(p, xb, yb)
        u, s = optimizer.update(g, s, p)
        return optax.apply_updates(p, u), s, value

    jit_step = jax.jit(step)

    def python_loop(seed):
        p, s = params, optimizer.init(params)
        rng = np.random.default_rng(seed)
        for _ in range(epochs):
            perm = rng.permutation(n)
            xs, ys = x_np[perm], y_np[perm]
            for i in range(steps):
                p, s, value = jit_step(p, s, xs[i * batch_size:(i + 1) * batch_size],
                                       ys[i * batch_size:(i + 1) * batch_size])
            float(value)
        return p

    @jax.jit
    def fused_epoch(p, s, key, x, y):
        perm = jax.random.permutation(key, n)[: steps * batch_size]
        xs = x[perm].reshape(steps, batch_size, *x.shape[1:])
        ys = y[perm].reshape(steps, batch_size, *y.shape[1:])

        def body(carry, batch):
            p, s, value = step(*carry, *batch)
            return (p, s), value

        (p, s), values = jax.lax.scan(body, (p, s), (xs, ys))
        return p, s, jnp.mean(values)

    def fused(seed):
        p, s = params, optimizer.init(params)
        key, losses = jax.random.key(seed), []
        for e in range(epochs):
            p, s, value = fused_epoch(p, s, jax.random.fold_in(key, e), x, y)
            losses.append(value)
        jax.device_get(losses)
        return p

    def fit(seed):
        return jl.fit(model, params, loss, (x, y), optimizer=optimizer, epochs=epochs, batch_size=batch_size,
                      seed=seed, progress=False)

    class Loader:
        """Shuffled NumPy batches, a new order each epoch (what a data-loading library hands over)."""

        def __init__(self, seed):
            self.rng = np.random.default_rng(seed)

        def __iter__(self):
            perm = self.rng.permutation(n)
            for i in range(steps):
                index = perm[i * batch_size:(i + 1) * batch_size]
                yield x_np[index], y_np[index]

    def fit_iterable(seed):
        return jl.fit(model, params, loss, Loader(seed), optimizer=optimizer, epochs=epochs, seed=seed,
                      progress=False)

    return {"fit": fit, "(a) python loop": python_loop, "(b) fused scan": fused,
            "fit, iterable": fit_iterable}, steps * epochs


def run(quick: bool = False) -> dict:
    """Times every contender on both problems; returns {problem: {contender: stats, "ratios": ...}}."""
    optimizer = optax.adam(1e-3)
    results = {}
    for problem, (model, params, loss, data, bs, epochs, rounds) in _problems(quick).items():
        contenders, steps = _contenders(model, params, loss, data, bs, epochs, optimizer)
        first = {}
        for name, f in contenders.items():
            t = time.perf_counter()
            jax.block_until_ready(f(0))
            first[name] = time.perf_counter() - t
        compile_s = contenders["fit"](0).compile_seconds  # 0: already compiled
        names = list(contenders)
        times = {name: [] for name in names}
        for r in range(rounds):
            for name in names[r % len(names):] + names[: r % len(names)]:  # interleaved, rotating order
                t = time.perf_counter()
                jax.block_until_ready(contenders[name](r + 1))
                times[name].append(time.perf_counter() - t)
        table = {}
        for name, ts in times.items():
            rates = [steps / t for t in ts]
            table[name] = {"steps_per_s_median": statistics.median(rates), "min": min(rates), "max": max(rates),
                           "first_call_s": first[name]}
        table["fit"]["compile_s_second_call"] = compile_s
        table["ratios"] = {
            f"fit / {other[:3]}": statistics.median(b / a for a, b in zip(times["fit"], times[other]))
            for other in ("(a) python loop", "(b) fused scan")}
        table["ratios"]["iterable / arrays"] = statistics.median(
            b / a for a, b in zip(times["fit, iterable"], times["fit"]))
        table["setup"] = {"steps_per_call": steps, "epochs_per_call": epochs, "rounds": rounds}
        results[problem] = table
    results[FRESH] = bench_fit_vs_keras.run(quick)
    return results


def device() -> str:
    """The device the benchmark ran on, in words (platform, kind, count)."""
    devices = jax.devices()
    return f"{len(devices)} x {devices[0].platform} ({devices[0].device_kind})"


def report(results: dict) -> str:
    out = [f"jax {jax.__version__} on {device()}. Steps per second of whole calls after "
           "compilation (several epochs each), median [min-max] over interleaved rounds; ratios are medians "
           "of per-round speed ratios (higher is better for fit). First call = compile + one run."]
    for problem, table in results.items():
        if problem == FRESH:
            out.append(f"\n{problem}\n\n{bench_fit_vs_keras.report(table)}")
            continue
        setup = table["setup"]
        rows = [[name, f"{row['steps_per_s_median']:,.0f}", f"{row['min']:,.0f}-{row['max']:,.0f}",
                 f"{row['first_call_s']:.2f} s"] for name, row in table.items() if name not in ("ratios", "setup")]
        out.append(f"\n{problem}: {setup['steps_per_call']} steps ({setup['epochs_per_call']} epochs) per call, "
                   f"{setup['rounds']} rounds\n")
        out.append(markdown(["contender", "steps/s", "min-max", "first call"], rows))
        out.append("\n" + ", ".join(f"{k} = {v:.2f}x" for k, v in table["ratios"].items())
                   + f" (fit's compile_seconds on a repeated call: {table['fit']['compile_s_second_call']:.1f})")
    return "\n".join(out)


def main() -> None:
    print(report(run("--quick" in sys.argv)))


if __name__ == "__main__":
    main()
