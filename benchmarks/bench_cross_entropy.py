"""Suite 8: softmax cross-entropy with integer labels over many classes, and where its time goes (issue 14).

For examples x classes sizes (64 MB of float32 logits at the largest CPU size, more on a GPU), the value
and the value and gradient of

* ``jaxloss``: ``jl.softmax_cross_entropy`` (its checks, masks and reduction included);
* ``minimal``: ``mean(logsumexp(x) - x[y])`` in plain JAX, the floor of the two-pass formulation;
* ``one_pass``: one variadic ``lax.reduce`` that carries (max, sum of exp(x - max), x[y]) along the class
  axis, so the logits are read once (the online-softmax idea), with a hand-written backward
  ``softmax(x) - onehot(y)``. A candidate (``_ce_candidates``), not the library's code: here to be measured;
* ``pallas`` (GPU only): the same one-pass statistics from a Pallas kernel for the Triton backend, with
  the same backward (``_ce_candidates``; the tests run it interpreted on the CPU);
* ``optax``: ``optax.losses.softmax_cross_entropy_with_integer_labels``;
* PyTorch's ``F.cross_entropy`` on the same device, and ``torch.compile`` of it where that works.

Where the time goes: each JAX program's bytes accessed (``compiled.cost_analysis()``) as a multiple of
one read of the logits (1.0 is one pass; XLA's estimate counts a gather's whole operand, so the two-pass
formulations show 3), and its number of XLA fusions (kernels, on a GPU). Every time
is a same-run ratio; the value's difference to jaxloss is relative to its scale.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxloss as jl

from . import _device
from ._ce_candidates import one_pass_cross_entropy, pallas_cross_entropy
from ._timing import fmt_seconds, interleaved, markdown

CPU_SIZES = [(16384, 1000), (2048, 32000)]
GPU_SIZES = [(16384, 1000), (65536, 1000), (8192, 32000)]
QUICK_SIZES = [(1024, 1000)]
#: Formulations under trial: one that fails to compile on this device is reported in the notes, not timed.
CANDIDATES = ("one_pass", "pallas")


def _contenders() -> dict[str, Callable[[jax.Array, jax.Array], jax.Array]]:
    contenders = {
        "jaxloss": lambda x, y: jl.softmax_cross_entropy(x, y),
        "minimal": lambda x, y: jnp.mean(jax.nn.logsumexp(x, axis=-1) - jnp.take_along_axis(x, y[:, None], -1)[:, 0]),
        "one_pass": lambda x, y: jnp.mean(one_pass_cross_entropy(x, y)),
        "optax": lambda x, y: jnp.mean(optax.losses.softmax_cross_entropy_with_integer_labels(x, y)),
    }
    if _device.platform() == "gpu":   # Triton kernels compile for GPUs only; the CPU could only interpret it
        contenders["pallas"] = lambda x, y: jnp.mean(pallas_cross_entropy(x, y))
    return contenders


def _passes(compiled: Any, logits_bytes: int) -> tuple[float | None, int]:
    """Bytes accessed over one read of the logits, and the number of fusions, of a compiled program."""
    analysis = compiled.cost_analysis()
    analysis = analysis[0] if isinstance(analysis, (list, tuple)) else analysis
    accessed = (analysis or {}).get("bytes accessed")
    return (None if accessed is None else float(accessed) / logits_bytes), compiled.as_text().count(" fusion(")


def _torch_contenders(x: jax.Array, y: jax.Array, notes: list[str], *, compile_torch: bool) -> dict:
    device = _device.torch_device()
    if device is None:
        return {}
    import torch
    import torch.nn.functional as F  # noqa: N812

    tx = torch.from_numpy(np.array(x)).to(device)
    ty = torch.from_numpy(np.array(y).astype(np.int64)).to(device)
    functions = {"torch": F.cross_entropy}
    if compile_torch:
        try:   # torch.compile where it works (a C++ compiler on CPU, Triton on GPU)
            compiled = torch.compile(F.cross_entropy)
            compiled(tx, ty)
            functions["torch_compile"] = compiled
        except Exception as err:  # noqa: BLE001 - any failure of torch.compile means: not timed
            notes.append(f"torch.compile failed ({type(err).__name__})")
    out = {}
    for name, fn in functions.items():
        def value(fn=fn) -> None:
            with torch.no_grad():
                fn(tx, ty)
            _device.synchronize(device)

        leaf = tx.clone().requires_grad_(True)

        def value_and_grad(fn=fn, leaf=leaf) -> None:
            leaf.grad = None
            fn(leaf, ty).backward()
            _device.synchronize(device)

        with torch.no_grad():
            out[name] = (value, value_and_grad, float(fn(tx, ty)))
    return out


def bench_size(examples: int, classes: int, *, repetitions: int, compile_torch: bool) -> dict:
    x = jax.random.normal(jax.random.key(0), (examples, classes), jnp.float32) * 3.0
    y = jax.random.randint(jax.random.key(1), (examples,), 0, classes)
    logits_bytes = x.size * x.dtype.itemsize
    row: dict[str, Any] = {"examples": examples, "classes": classes, "logits_bytes": logits_bytes}
    notes: list[str] = []
    value_fns, grad_fns, values = {}, {}, {}
    for name, loss in _contenders().items():
        try:
            value = jax.jit(loss).lower(x, y).compile()
            grad = jax.jit(jax.value_and_grad(loss)).lower(x, y).compile()
        except Exception as err:  # noqa: BLE001 - a candidate that does not compile here is not timed
            if name not in CANDIDATES:
                raise
            notes.append(f"{name} did not compile ({type(err).__name__}: {str(err)[:80]})")
            continue
        row[f"{name}_passes"], row[f"{name}_fusions"] = _passes(value, logits_bytes)
        row[f"{name}_grad_passes"], row[f"{name}_grad_fusions"] = _passes(grad, logits_bytes)
        values[name] = float(value(x, y))
        value_fns[name], grad_fns[name] = (lambda c=value: c(x, y)), (lambda c=grad: c(x, y))
    for name, (value, grad, result) in _torch_contenders(x, y, notes, compile_torch=compile_torch).items():
        values[name] = result
        value_fns[name], grad_fns[name] = value, grad
    for mode, contenders in (("value", value_fns), ("grad", grad_fns)):
        timings = interleaved(contenders, repetitions=repetitions, inner=1)
        row.update({f"{name}_{mode}_s": t.median for name, t in timings.items()})
    row["relative_difference"] = {name: abs(v - values["jaxloss"]) / abs(values["jaxloss"]) for name, v in values.items()
                                  if name != "jaxloss"}
    row["notes"] = notes
    return row


def run(quick: bool = False) -> dict:
    sizes = QUICK_SIZES if quick else (GPU_SIZES if _device.platform() == "gpu" else CPU_SIZES)
    rows = [bench_size(*size, repetitions=3 if quick else 30, compile_torch=not quick) for size in sizes]
    return {"rows": rows, "platform": _device.platform(), "torch_device": _device.torch_device()}


def report(result: dict) -> str:
    names = ["jaxloss", "minimal", "one_pass", "pallas", "optax", "torch", "torch_compile"]
    table = []
    for r in result["rows"]:
        for name in names:
            if f"{name}_value_s" not in r:
                continue
            passes = r.get(f"{name}_passes")
            table.append([
                f"{r['examples']} x {r['classes']} ({r['logits_bytes'] / 2**20:.0f} MB)", name,
                f"{fmt_seconds(r[f'{name}_value_s'])} / {fmt_seconds(r[f'{name}_grad_s'])}",
                f"{r['jaxloss_value_s'] / r[f'{name}_value_s']:.2f} / {r['jaxloss_grad_s'] / r[f'{name}_grad_s']:.2f}",
                "-" if passes is None else f"{passes:.2f} / {r[f'{name}_grad_passes']:.2f}",
                "-" if passes is None else f"{r[f'{name}_fusions']} / {r[f'{name}_grad_fusions']}",
                "-" if name == "jaxloss" else f"{r['relative_difference'][name]:.1e}",
            ])
        if r["notes"]:
            table.append(["", "notes", "; ".join(r["notes"]), "", "", "", ""])
    torch_text = (f"PyTorch on the same device ({result['torch_device']})." if result["torch_device"] else
                  "PyTorch is not installed or cannot reach this device: no PyTorch rows.")
    return (f"Softmax cross-entropy with integer labels, float32, mean over the examples, on {result['platform']}. "
            f"{torch_text} 'jaxloss / it' above 1 means jaxloss is slower. Passes: XLA's bytes accessed over "
            "one read of the logits (value / value and gradient; a gather counts its whole operand).\n\n"
            + markdown(["examples x classes", "contender", "time: value / value+grad", "jaxloss / it",
                        "passes over the logits", "XLA fusions", "value difference (relative)"], table))
