"""fit against a hand-written loop and Keras 3, each in a fresh process (issue 25's benchmark).

    python benchmarks/bench_fit_vs_keras.py [--quick]     (also part of python -m benchmarks --suite training)

A flax nnx MLP 784-256-10 (ReLU), Adam(1e-3), batch 128, 3 epochs, on synthetic data: 60,000 x 784
float32 inputs and integer labels 0..9 from a fixed seed (5,120 examples under --quick). Every contender
runs in its own fresh Python process, so that imports and compilation cost what they cost a user, and
the order of the contenders rotates from round to round (3 rounds, 1 under --quick; medians):

  fit          jl.fit(module, jl.softmax_cross_entropy, (x, y), optimizer=optax.adam(1e-3), epochs=3,
               batch_size=128, progress=False) on NumPy arrays (469 steps an epoch: 468 + the remainder)
  hand loop    nnx.split into graphdef and params, a jax.jit epoch (shuffle on the device with
               jax.random.permutation, lax.scan of a pure optax step over the 468 full batches,
               nnx.merge inside the step), called once per epoch
  python loop  one jitted step per batch, batches sliced from NumPy (468 an epoch)
  keras        Keras 3 on the JAX backend: Sequential Dense(256, relu) -> Dense(10), Adam(1e-3),
               SparseCategoricalCrossentropy(from_logits=True), model.fit(x, y, batch_size=128,
               epochs=3, verbose=0), jit_compile=True (469 steps an epoch); skipped where Keras is not
               installed (it is never installed in CI)

  fit, cache warm   the same fit in a process that finds its programs in jaxloss's persistent
               compilation cache (on by default in ~/.cache/jaxloss/xla; filled by an earlier process):
               a user's second run of a script. "fit" runs with the cache off, compiling as the others do.

Reported per contender: "whole call", from just before the first training call (fit; the hand loops
from the NumPy arrays on: transfer, split, optimizer init, compilation, the epochs; Keras: model.compile
and the first model.fit) to its return, and "steady", a second identical call in the same process with
the same objects (compiled). Imports are timed separately (``import jax, optax``, then ``import
jaxloss`` on top of them; ``import keras``). For fit also: a third call with a new ``optax.adam(1e-3)``
object, and fit's own ``compile_seconds``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

CONTENDERS = ("fit", "fit, cache warm", "hand loop", "python loop", "keras")
EPOCHS, BATCH, HIDDEN = 3, 128, 256


def _sizes(quick: bool) -> tuple[int, int]:
    """(examples, rounds)."""
    return (BATCH * 40, 1) if quick else (60_000, 3)


# -- the workers (each in its own process) ----------------------------------------------------------


def _data(n: int):
    import numpy as np

    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 784), dtype=np.float32), rng.integers(0, 10, n).astype(np.int32)


def _timed_imports() -> dict:
    t0 = time.perf_counter()
    import jax  # noqa: F401
    import optax  # noqa: F401
    t1 = time.perf_counter()
    return {"jax, optax": t1 - t0}


def _nnx_mlp():
    from flax import nnx
    import jax

    class MLP(nnx.Module):
        def __init__(self, rngs: nnx.Rngs) -> None:
            self.hidden = nnx.Linear(784, HIDDEN, rngs=rngs)
            self.out = nnx.Linear(HIDDEN, 10, rngs=rngs)

        def __call__(self, x):
            return self.out(jax.nn.relu(self.hidden(x)))

    return MLP(nnx.Rngs(0))


def _block(tree) -> None:
    import jax

    jax.block_until_ready(tree)


def _worker_fit(n: int) -> dict:
    imports = _timed_imports()
    t = time.perf_counter()
    import jaxloss as jl
    imports["jaxloss (after jax, optax)"] = time.perf_counter() - t
    flax_by_jaxloss = "flax" in sys.modules
    equinox_by_jaxloss = "equinox" in sys.modules
    import optax

    x, y = _data(n)
    module = _nnx_mlp()
    optimizer = optax.adam(1e-3)

    def call(opt):
        result = jl.fit(module, jl.softmax_cross_entropy, (x, y), optimizer=opt, epochs=EPOCHS, batch_size=BATCH,
                        progress=False)
        _block(result.params)
        return result

    t = time.perf_counter()
    first = call(optimizer)
    whole = time.perf_counter() - t
    t = time.perf_counter()
    second = call(optimizer)
    steady = time.perf_counter() - t
    t = time.perf_counter()
    third = call(optax.adam(1e-3))
    new_optimizer = time.perf_counter() - t
    return {"imports": imports, "whole_s": whole, "steady_s": steady, "steps": int(second.steps),
            "loss": float(first.history["loss"][-1]),
            "extra": {"new_optimizer_s": new_optimizer, "compile_seconds_first": first.compile_seconds,
                      "compile_seconds_new_optimizer": third.compile_seconds,
                      "flax_imported_by_jaxloss": flax_by_jaxloss, "equinox_imported_by_jaxloss": equinox_by_jaxloss}}


def _optax_step(graphdef, tx):
    import jax
    import optax
    from flax import nnx

    def step(params, opt_state, xb, yb):
        def objective(p):
            logits = nnx.merge(graphdef, p)(xb)
            return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

        value, grads = jax.value_and_grad(objective)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    return step


def _worker_hand_loop(n: int) -> dict:
    imports = _timed_imports()
    import functools

    import jax
    import jax.numpy as jnp
    import optax
    from flax import nnx

    x_np, y_np = _data(n)
    module = _nnx_mlp()
    tx = optax.adam(1e-3)
    steps = n // BATCH

    @functools.partial(jax.jit, static_argnums=0)
    def epoch(graphdef, params, opt_state, key, x, y):
        step = _optax_step(graphdef, tx)
        perm = jax.random.permutation(key, x.shape[0])[: steps * BATCH]
        xs = x[perm].reshape(steps, BATCH, *x.shape[1:])
        ys = y[perm].reshape(steps, BATCH)

        def body(carry, batch):
            params, opt_state, value = step(*carry, *batch)
            return (params, opt_state), value

        (params, opt_state), values = jax.lax.scan(body, (params, opt_state), (xs, ys))
        return params, opt_state, jnp.mean(values)

    def train():
        x, y = jnp.asarray(x_np), jnp.asarray(y_np)
        graphdef, params = nnx.split(module, nnx.Param)
        opt_state = tx.init(params)
        key, losses = jax.random.key(0), []
        for e in range(EPOCHS):
            params, opt_state, value = epoch(graphdef, params, opt_state, jax.random.fold_in(key, e), x, y)
            losses.append(value)
        losses = jax.device_get(losses)
        return nnx.merge(graphdef, params), losses

    t = time.perf_counter()
    _, losses = train()
    whole = time.perf_counter() - t
    t = time.perf_counter()
    trained, _ = train()
    _block(nnx.state(trained))
    steady = time.perf_counter() - t
    return {"imports": imports, "whole_s": whole, "steady_s": steady, "steps": EPOCHS * steps,
            "loss": float(losses[-1])}


def _worker_python_loop(n: int) -> dict:
    imports = _timed_imports()
    import jax
    import numpy as np
    import optax
    from flax import nnx

    x_np, y_np = _data(n)
    module = _nnx_mlp()
    tx = optax.adam(1e-3)
    steps = n // BATCH
    graphdef, _ = nnx.split(module, nnx.Param)
    jit_step = jax.jit(_optax_step(graphdef, tx))

    def train():
        _, params = nnx.split(module, nnx.Param)
        opt_state = tx.init(params)
        rng, losses = np.random.default_rng(0), []
        for _ in range(EPOCHS):
            perm = rng.permutation(n)
            for i in range(steps):
                index = perm[i * BATCH:(i + 1) * BATCH]
                params, opt_state, value = jit_step(params, opt_state, x_np[index], y_np[index])
            losses.append(float(value))  # read once per epoch
        return nnx.merge(graphdef, params), losses

    t = time.perf_counter()
    _, losses = train()
    whole = time.perf_counter() - t
    t = time.perf_counter()
    trained, _ = train()
    _block(nnx.state(trained))
    steady = time.perf_counter() - t
    return {"imports": imports, "whole_s": whole, "steady_s": steady, "steps": EPOCHS * steps,
            "loss": float(losses[-1])}


def _worker_keras(n: int) -> dict:
    t = time.perf_counter()
    import keras
    imports = {"keras (with jax)": time.perf_counter() - t}
    x, y = _data(n)
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(HIDDEN, activation="relu"),
                              keras.layers.Dense(10)])
    t = time.perf_counter()
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=True)
    history = model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, verbose=0)
    whole = time.perf_counter() - t
    t = time.perf_counter()
    model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, verbose=0)
    steady = time.perf_counter() - t
    return {"imports": imports, "whole_s": whole, "steady_s": steady, "steps": EPOCHS * -(-n // BATCH),
            "loss": float(history.history["loss"][-1]), "extra": {"backend": keras.backend.backend()}}


WORKERS = {"fit": _worker_fit, "fit, cache warm": _worker_fit, "hand loop": _worker_hand_loop, "python loop": _worker_python_loop,
           "keras": _worker_keras}


# -- the parent -------------------------------------------------------------------------------------


def available(name: str) -> bool:
    if name == "keras":
        return importlib.util.find_spec("keras") is not None
    return True


def _spawn(name: str, n: int, cache: str = "off") -> dict:
    """One contender in a fresh process. jaxloss's persistent compilation cache (on by default for users)
    is off for "fit" (every process compiles, as the others do) and in ``cache`` for "fit, cache warm"
    (a directory an earlier process filled: a user's second run of the same script)."""
    env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    env.update(KERAS_BACKEND="jax", JAXLOSS_COMPILATION_CACHE=cache if name == "fit, cache warm" else "off")
    root = pathlib.Path(__file__).resolve().parent.parent
    proc = subprocess.run([sys.executable, str(pathlib.Path(__file__).resolve()), "--worker", name, str(n)],
                          capture_output=True, text=True, env=env, cwd=root)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"{name} worker failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")


def run(quick: bool = False) -> dict:
    """Every contender in fresh processes, rounds with a rotating order; medians per contender."""
    n, rounds = _sizes(quick)
    names = [c for c in CONTENDERS if available(c)]
    skipped = [c for c in CONTENDERS if c not in names]
    raw: dict[str, list[dict]] = {c: [] for c in names}
    import tempfile

    with tempfile.TemporaryDirectory(prefix="jaxloss-bench-xla-") as cache:
        _spawn("fit, cache warm", n, cache)  # fills the cache (not timed)
        for r in range(rounds):
            for name in names[r % len(names):] + names[: r % len(names)]:
                raw[name].append(_spawn(name, n, cache))
    table = {}
    for name, runs in raw.items():
        row = {k: statistics.median(run[k] for run in runs) for k in ("whole_s", "steady_s")}
        row["steps"] = runs[0]["steps"]
        row["steps_per_s"] = row["steps"] / row["steady_s"]
        row["whole_all"] = [run["whole_s"] for run in runs]
        row["steady_all"] = [run["steady_s"] for run in runs]
        row["imports"] = {k: statistics.median(run["imports"][k] for run in runs) for k in runs[0]["imports"]}
        row["final_loss"] = runs[0]["loss"]
        if "extra" in runs[0]:  # numbers: medians; flags and names: the first run's
            first = runs[0]["extra"]
            row["extra"] = {k: statistics.median(run["extra"][k] for run in runs)
                            if isinstance(v, (int, float)) and not isinstance(v, bool) else v for k, v in first.items()}
        table[name] = row
    return {"contenders": table, "skipped": skipped,
            "setup": {"examples": n, "epochs": EPOCHS, "batch_size": BATCH, "rounds": rounds, "hidden": HIDDEN}}


def report(results: dict) -> str:
    try:
        from benchmarks._timing import markdown
    except ImportError:  # run as a script
        from _timing import markdown  # type: ignore[no-redef]
    setup, table = results["setup"], results["contenders"]
    fit = table["fit"]
    rows = []
    for name, row in table.items():
        rows.append([name, f"{row['steady_s']:.2f} s", f"{row['whole_s']:.2f} s",
                     f"{row['steady_s'] / fit['steady_s']:.2f}", f"{row['whole_s'] / fit['whole_s']:.2f}",
                     f"{row['steps_per_s']:,.0f} ({row['steps']} steps)",
                     ", ".join(f"{k} {v:.2f} s" for k, v in row["imports"].items())])
    out = [f"flax nnx MLP 784-{setup['hidden']}-10, Adam 1e-3, batch {setup['batch_size']}, {setup['examples']:,} "
           f"examples, {setup['epochs']} epochs; each contender in a fresh process, order rotated, median of "
           f"{setup['rounds']} round(s). Steady: a second call in the same process; whole: the first call, "
           "compilation included. Ratios are time / fit's time (above 1: slower than fit).\n",
           markdown(["contender", "steady", "whole call", "steady / fit", "whole / fit", "steps/s (steady)", "imports"],
                    rows)]
    for name in ("fit", "fit, cache warm"):
        extra = table.get(name, {}).get("extra", {})
        if extra:
            out.append(f"\n{name}: a third call with a new optax.adam(1e-3) object, same process: "
                       f"{extra['new_optimizer_s']:.2f} s (compile_seconds {extra['compile_seconds_new_optimizer']:.2f}; "
                       f"the first call's {extra['compile_seconds_first']:.2f}); import jaxloss imports flax: "
                       f"{extra['flax_imported_by_jaxloss']}, equinox: {extra['equinox_imported_by_jaxloss']}.")
    for name in results["skipped"]:
        out.append(f"\n{name}: skipped (not installed; `pip install keras` and KERAS_BACKEND=jax to include it).")
    return "\n".join(out)


def main() -> None:
    if "--worker" in sys.argv:
        i = sys.argv.index("--worker")
        name, n = sys.argv[i + 1], int(sys.argv[i + 2])
        if name == "keras":
            os.environ.setdefault("KERAS_BACKEND", "jax")
        print("RESULT " + json.dumps(WORKERS[name](n)), flush=True)
        return
    print(report(run("--quick" in sys.argv)))


if __name__ == "__main__":
    main()
