"""Suite 4: time against input size over four decades or more, with the fitted exponent.

For a few losses (value and gradient under ``jit``) and for ``jaxloss.fit``
against the dataset size. A loss that streams over its input should scale with
exponent ~1; below ~1e4 elements the fixed cost of a call (dispatch, a few
microseconds) dominates, which pulls the exponent fitted over the whole range
below 1, so the exponent is also fitted over the upper two decades.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import jaxloss as jl

from ._timing import fmt_seconds, interleaved, markdown

LOSSES = ("mean_squared_error", "huber", "binary_cross_entropy", "softmax_cross_entropy")


def fitted_exponent(sizes: list[float], seconds: list[float]) -> float:
    """Slope of log(time) against log(size), least squares."""
    return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0])


def _loss_inputs(name: str, n: int) -> tuple[Any, ...]:
    rng = np.random.default_rng(0)
    if name == "softmax_cross_entropy":
        k = 10
        rows = max(1, n // k)
        return (jnp.asarray(rng.normal(size=(rows, k)).astype(np.float32)),
                jnp.asarray(rng.integers(0, k, rows).astype(np.int32)))
    t = rng.integers(0, 2, n).astype(np.float32) if name == "binary_cross_entropy" else rng.normal(size=n).astype(np.float32)
    return jnp.asarray(rng.normal(size=n).astype(np.float32)), jnp.asarray(t)


def scaling_losses(quick: bool) -> list[dict]:
    sizes = [10**k for k in range(2, 6 if quick else 8)]
    rows = []
    for name in LOSSES:
        fn = jl.get(name)
        grad = jax.jit(jax.grad(fn))
        seconds = []
        for n in sizes:
            args = _loss_inputs(name, n)
            seconds.append(interleaved({"g": lambda: grad(*args)}, repetitions=5 if quick else 20)["g"].median)
        rows.append({"what": f"{name} (grad)", "sizes": sizes, "seconds": seconds,
                     "exponent": fitted_exponent(sizes, seconds),
                     "exponent_upper": fitted_exponent(sizes[-3:], seconds[-3:])})
    return rows


def scaling_fit(quick: bool) -> dict | None:
    if not hasattr(jl, "fit"):
        return None
    import optax

    sizes = [10**k for k in range(2, 5 if quick else 6)]
    seconds = []
    rng = np.random.default_rng(0)

    def model(params, x):
        return x @ params["w"] + params["b"]

    params = {"w": jnp.zeros((8,)), "b": jnp.zeros(())}
    for n in sizes:
        x = rng.normal(size=(n, 8)).astype(np.float32)
        y = (x @ rng.normal(size=8) > 0).astype(np.float32)
        call = functools.partial(jl.fit, model, params, jl.binary_cross_entropy, (x, y), optimizer=optax.sgd(0.1),
                                 epochs=2, batch_size=32, progress=False)
        seconds.append(interleaved({"fit": lambda: call().params}, repetitions=3 if quick else 7, inner=1)["fit"].median)
    return {"what": "fit (2 epochs, batch 32) against examples", "sizes": sizes, "seconds": seconds,
            "exponent": fitted_exponent(sizes, seconds), "exponent_upper": fitted_exponent(sizes[-3:], seconds[-3:])}


def run(quick: bool = False) -> dict:
    rows = scaling_losses(quick)
    fit_row = scaling_fit(quick)
    if fit_row is not None:
        rows.append(fit_row)
    return {"rows": rows}


def report(result: dict) -> str:
    table = []
    for r in result["rows"]:
        times = ", ".join(f"{n:.0e}: {fmt_seconds(s)}" for n, s in zip(r["sizes"], r["seconds"]))
        table.append([r["what"], times, f"{r['exponent']:.2f}", f"{r['exponent_upper']:.2f}"])
    return markdown(["what", "time by size", "exponent (all)", "exponent (top 3 sizes)"], table) + (
        "\n\nBelow about 1e4 elements a call costs its fixed dispatch overhead whatever the size, so the "
        "exponent over the whole range is below 1; over the largest sizes it is the streaming cost.")
