"""The device the suite measures, and yardsticks taken on that same device.

JAX picks its device (a GPU when there is one); every yardstick here follows it, so a ratio never
compares two machines:

* :func:`describe`: what the results file records: platform, device kind and count, the driver or
  runtime version JAX reports, library versions, and the matmul precision in effect (on NVIDIA GPUs
  since Ampere, XLA's default float32 matrix product uses TF32, 10-bit mantissas);
* :func:`bandwidth`: bytes per second of a large copy on that device (read + write): an XLA
  element-wise op, PyTorch's ``copy_`` on the same device when PyTorch can reach it, and NumPy's copy
  on a CPU; the fastest is the ceiling the losses are measured against;
* :func:`torch_device`: where PyTorch runs: ``cuda`` when JAX runs on a GPU (or None when this PyTorch
  cannot reach it: its column is then left empty, never filled from the CPU), else ``cpu``;
* :func:`relative_difference`: a difference as a fraction of the values' scale.
"""

from __future__ import annotations

import importlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._timing import interleaved


def platform() -> str:
    return jax.devices()[0].platform


def describe() -> dict[str, Any]:
    device = jax.devices()[0]
    versions = {}
    for module in ("jax", "jaxlib", "optax", "jaxloss", "numpy", "torch"):
        try:
            versions[module] = importlib.import_module(module).__version__
        except ImportError:
            versions[module] = None
    runtime = getattr(getattr(device, "client", None), "platform_version", "") or ""
    precision = jax.config.jax_default_matmul_precision or "default"
    tf32 = device.platform == "gpu" and precision in ("default", "bfloat16", "tensorfloat32")
    return {
        "platform": device.platform, "device_kind": getattr(device, "device_kind", device.platform),
        "device_count": jax.device_count(), "process_count": jax.process_count(), "runtime": runtime,
        "matmul_precision": precision + (" (TF32 float32 matmuls on NVIDIA GPUs)" if tf32 else ""),
        "torch_device": torch_device() or "unavailable", "versions": versions,
    }


def torch_device() -> str | None:
    """PyTorch's device matching JAX's, or None (no PyTorch, or none that reaches JAX's device)."""
    try:
        import torch
    except ImportError:
        return None
    if platform() == "gpu":
        return "cuda" if torch.cuda.is_available() else None
    return "cpu" if platform() == "cpu" else None


def synchronize(device: str | None) -> None:
    """Waits for PyTorch's queued work on ``device`` (CUDA runs asynchronously, like JAX)."""
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def bandwidth(size_bytes: int = 256 << 20, repetitions: int = 10) -> dict[str, float]:
    """Bytes per second (read + write) of copies of ``size_bytes`` on JAX's device, by method, and the best."""
    n = size_bytes // 4
    x = jax.device_put(jnp.ones(n, jnp.float32))
    negate = jax.jit(lambda a: -a)  # an element-wise op XLA cannot elide: one read and one write per element
    jax.block_until_ready(negate(x))
    contenders = {"xla": lambda: negate(x)}
    if platform() == "cpu":
        src, dst = np.ones(n, np.float32), np.empty(n, np.float32)
        contenders["numpy"] = lambda: np.copyto(dst, src)
    device = torch_device()
    if device is not None:
        import torch

        t_src = torch.ones(n, dtype=torch.float32, device=device)
        t_dst = torch.empty_like(t_src)

        def torch_copy() -> None:
            t_dst.copy_(t_src)
            synchronize(device)

        contenders["torch"] = torch_copy
    timings = interleaved(contenders, repetitions=repetitions, inner=1)
    rates = {name: 2 * size_bytes / t.median for name, t in timings.items()}
    rates["best"] = max(rates.values())
    return rates


def relative_difference(a: Any, b: Any) -> float:
    """``max |a - b| / max |b|``: a difference at the scale of the values (0 when both are 0)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = float(np.max(np.abs(b), initial=0.0))
    diff = float(np.max(np.abs(a - b), initial=0.0))
    return diff / scale if scale else diff
