"""Suite 7: cross-entropy of a linear head over a large vocabulary, fused against materialised (issue 15).

For tokens x vocabulary x hidden sizes, the value and gradients (hidden and weight) of
``jl.linear_cross_entropy`` against the materialised formulations: jaxloss's own
``softmax_cross_entropy`` on ``hidden @ weight.T`` and optax's. Each is measured by

* the compiled program's temporary memory (``compiled.memory_analysis()``: what the program allocates
  beyond its inputs and outputs) and, on a GPU, the allocator's peak while it runs;
* its time (compiled first, contenders interleaved, median).

Goals: temporary memory at least 20x lower than the materialised path, time within 1.3x of it. The
sizes follow the device: up to 8,192 x 131,072 x 2,048 on a GPU, scaled down on a CPU.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

import jaxloss as jl

from . import _device
from ._timing import fmt_bytes, fmt_seconds, interleaved, markdown

CPU_SIZES = [(512, 32768, 256), (2048, 131072, 128)]
GPU_SIZES = [(4096, 32768, 1024), (8192, 131072, 2048)]
QUICK_SIZES = [(256, 8192, 64)]


def _contenders(labels: jax.Array) -> dict:
    return {
        "fused": lambda h, w: jl.linear_cross_entropy(h, labels, weight=w),  # the default blocks
        "jaxloss_materialised": lambda h, w: jl.softmax_cross_entropy(h @ w.T, labels),
        "optax_materialised": lambda h, w: jnp.mean(
            optax.losses.softmax_cross_entropy_with_integer_labels(h @ w.T, labels)),
    }


def _peak_bytes() -> int | None:
    stats = jax.devices()[0].memory_stats() or {}
    return stats.get("peak_bytes_in_use")


def bench_size(tokens: int, vocab: int, dim: int, repetitions: int) -> dict:
    dtype = jnp.float32
    h = jax.random.normal(jax.random.key(0), (tokens, dim), dtype)
    w = jax.random.normal(jax.random.key(1), (vocab, dim), dtype) * dim ** -0.5
    y = jax.random.randint(jax.random.key(2), (tokens,), 0, vocab)
    row: dict = {"tokens": tokens, "vocab": vocab, "hidden": dim}
    programs, values = {}, {}
    for name, loss in _contenders(y).items():
        program = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))
        compiled = program.lower(h, w).compile()
        row[f"{name}_temp_bytes"] = int(compiled.memory_analysis().temp_size_in_bytes)
        before = _peak_bytes()
        values[name] = float(jax.block_until_ready(compiled(h, w))[0])
        after = _peak_bytes()
        if before is not None and after is not None:
            row[f"{name}_peak_bytes"] = int(after)
        programs[name] = compiled
    timings = interleaved({name: (lambda c=c: c(h, w)) for name, c in programs.items()}, repetitions=repetitions,
                          inner=1)
    row.update({f"{name}_s": t.median for name, t in timings.items()})
    reference = values["jaxloss_materialised"]
    row["relative_difference"] = abs(values["fused"] - reference) / abs(reference)
    row["memory_ratio"] = row["jaxloss_materialised_temp_bytes"] / max(row["fused_temp_bytes"], 1)
    row["time_ratio"] = row["fused_s"] / row["jaxloss_materialised_s"]
    row["time_ratio_optax"] = row["fused_s"] / row["optax_materialised_s"]
    return row


def run(quick: bool = False) -> dict:
    sizes = QUICK_SIZES if quick else (GPU_SIZES if _device.platform() == "gpu" else CPU_SIZES)
    rows = [bench_size(*size, repetitions=3 if quick else 5) for size in sizes]
    return {"rows": rows, "chunk_size": "2048 (the default)", "platform": _device.platform()}


def report(result: dict) -> str:
    table = []
    for r in result["rows"]:
        table.append([
            f"{r['tokens']} x {r['vocab']} x {r['hidden']}",
            f"{fmt_bytes(r['fused_temp_bytes'])} / {fmt_bytes(r['jaxloss_materialised_temp_bytes'])} / "
            f"{fmt_bytes(r['optax_materialised_temp_bytes'])}",
            f"{r['memory_ratio']:.0f}x",
            f"{fmt_seconds(r['fused_s'])} / {fmt_seconds(r['jaxloss_materialised_s'])} / "
            f"{fmt_seconds(r['optax_materialised_s'])}",
            f"{r['time_ratio']:.2f} ({r['time_ratio_optax']:.2f})",
            f"{r['relative_difference']:.1e}",
        ])
    return (f"Value and gradients (hidden, weight), float32, chunk_size={result['chunk_size']}, on {result['platform']}. "
            "Goals: temporary memory >= 20x lower than the materialised path, time <= 1.3x.\n\n"
            + markdown(["tokens x vocab x hidden", "temporary memory: fused / jaxloss / optax",
                        "materialised / fused", "time: fused / jaxloss / optax",
                        "fused / jaxloss time (/ optax)", "value difference (relative)"], table))
