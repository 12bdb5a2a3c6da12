"""Suite 1: every registered loss, value and value-and-gradient under ``jit``.

For each loss in the registry (nothing here lists losses by hand), at three
sizes of input (about 10 KB, 1 MB and 64 MB in the first argument), it times:

- jaxloss, value and value-and-gradient, under ``jit``;
- optax's equivalent, where the registry names one (``LossInfo.optax``) and an
  adapter below knows optax's calling convention; the adapter's value is
  checked against jaxloss's first, and a differing definition is reported, not
  timed;
- ``torch.nn.functional`` on the device JAX runs on (CUDA tensors when JAX is on a GPU; no column at
  all when this PyTorch cannot reach it), and ``torch.compile`` of it where that works (not in
  ``--quick``), when PyTorch is installed (an optional extra, never installed by CI);
- the achieved bandwidth (bytes read and written per second) against a copy's bandwidth on the same
  device, measured in the same run (``_device.bandwidth``).
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxloss as jl

from . import _device
from ._timing import fmt_bytes, fmt_seconds, interleaved, markdown

SIZES = {"small": 10_240, "medium": 1 << 20, "large": 64 << 20}
QUICK_SIZES = {"small": 10_240}


# -- optax adapters, keyed by optax function name -------------------------------------------------
# Each takes the positional args and keyword options of the jaxloss call and returns optax's mean.

def _softmax_log(x):
    return jax.nn.log_softmax(x, axis=-1)


OPTAX_ADAPTERS: dict[str, Callable[..., jax.Array]] = {
    "squared_error": lambda p, t: jnp.mean(optax.losses.squared_error(p, t)),
    "huber_loss": lambda p, t, delta=1.0: jnp.mean(optax.losses.huber_loss(p, t, delta=delta)),
    "log_cosh": lambda p, t: jnp.mean(optax.losses.log_cosh(p, t)),
    "hinge_loss": lambda p, t: jnp.mean(optax.losses.hinge_loss(p, t)),
    "sigmoid_binary_cross_entropy": lambda x, t: jnp.mean(optax.losses.sigmoid_binary_cross_entropy(x, t)),
    "sigmoid_focal_loss": lambda x, t, gamma=2.0, alpha=None: jnp.mean(
        optax.losses.sigmoid_focal_loss(x, t, alpha=alpha, gamma=gamma)),
    "softmax_cross_entropy_with_integer_labels": lambda x, y: jnp.mean(
        optax.losses.softmax_cross_entropy_with_integer_labels(x, y)),
    "multiclass_hinge_loss": lambda x, y: jnp.mean(optax.losses.multiclass_hinge_loss(x, y)),
    # optax takes log-probabilities: the log-softmax is part of the work a user does.
    "kl_divergence": lambda x, q: jnp.mean(optax.losses.kl_divergence(_softmax_log(x), q)),
    "cosine_distance": lambda p, t: jnp.mean(optax.losses.cosine_distance(p, t)),
    "triplet_margin_loss": lambda a, p, n, margin=1.0: jnp.mean(
        optax.losses.triplet_margin_loss(a, p, n, margin=margin)),
    "ntxent": lambda e, y, temperature=0.07: optax.losses.ntxent(e, y, temperature=temperature),
    "ctc_loss": lambda x, y, logit_paddings=None, label_paddings=None, blank_id=0: jnp.mean(
        optax.losses.ctc_loss(x, logit_paddings, y, label_paddings, blank_id=blank_id)),
    "poly_loss_cross_entropy": lambda x, y, epsilon=2.0: jnp.mean(optax.losses.poly_loss_cross_entropy(
        x, jax.nn.one_hot(y, x.shape[-1]) if jnp.issubdtype(y.dtype, jnp.integer) else y, epsilon=epsilon)),
    "sparsemax_loss": lambda x, y: jnp.mean(optax.losses.multiclass_sparsemax_loss(x, y)),
    "ranking_softmax_loss": lambda s, r: optax.losses.ranking_softmax_loss(s, r),
    "generalized_kl_divergence": lambda p, t: jnp.mean(optax.losses.generalized_kl_divergence(jnp.log(p), t)),
    "binary_dice_loss": lambda p, t: jnp.mean(optax.losses.binary_dice_loss(p, t)),
}


def _torch_adapters() -> dict[str, Callable[..., Any]] | None:
    try:
        import torch
        import torch.nn.functional as F  # noqa: N812
    except ImportError:
        return None
    torch.set_num_threads(max(1, torch.get_num_threads()))
    return {
        "mean_squared_error": lambda p, t: F.mse_loss(p, t),
        "mean_absolute_error": lambda p, t: F.l1_loss(p, t),
        "huber": lambda p, t, delta=1.0: F.huber_loss(p, t, delta=delta),
        "smooth_l1": lambda p, t, beta=1.0: F.smooth_l1_loss(p, t, beta=beta),
        "binary_cross_entropy": lambda x, t: F.binary_cross_entropy_with_logits(x, t),
        "softmax_cross_entropy": lambda x, y: F.cross_entropy(x, y.long()),
        "nll": lambda x, y: F.nll_loss(x, y.long()),
        "kl_divergence": lambda x, q: F.kl_div(F.log_softmax(x, -1), q, reduction="batchmean"),
        "poisson_nll": lambda p, t: F.poisson_nll_loss(p, t, log_input=True),
        "soft_margin": lambda x, t: F.soft_margin_loss(x, t),
        "multilabel_soft_margin": lambda x, t: F.multilabel_soft_margin_loss(x, t),
        "margin_ranking": lambda a, b, t, margin=0.0: F.margin_ranking_loss(a, b, t, margin=margin),
        "hinge_embedding": lambda d, t, margin=1.0: F.hinge_embedding_loss(d, t, margin=margin),
        "multi_margin": lambda x, y: F.multi_margin_loss(x, y.long()),
        "cosine_embedding": lambda a, b, t, margin=0.0: F.cosine_embedding_loss(a, b, t, margin=margin),
        "triplet_margin": lambda a, p, n, margin=1.0: F.triplet_margin_loss(a, p, n, margin=margin),
    }


# -- inputs ----------------------------------------------------------------------------------------


def inputs_of_size(entry: jl.LossInfo, target_bytes: int, seed: int = 0) -> tuple[tuple, dict]:
    """Inputs of the loss's kind whose first argument holds about ``target_bytes`` (float32)."""
    probe = entry.inputs.random(np.random.default_rng(seed), 8)
    bytes_per_row = np.asarray(probe.args[0]).size * 4 / 8
    rows = max(2, int(target_bytes / bytes_per_row))
    s = entry.inputs.random(np.random.default_rng(seed), rows)
    args, kwargs = s.cast(np.float32)
    args = tuple(jnp.asarray(a) for a in args)
    kwargs = {k: jnp.asarray(v, jnp.float32) if isinstance(v, np.ndarray) and v.dtype.kind == "f"
              else (jnp.asarray(v) if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
    return args, kwargs


def nbytes(tree: Any) -> int:
    return int(sum(np.asarray(x).nbytes for x in jax.tree_util.tree_leaves(tree) if hasattr(x, "dtype")))


# -- machine bandwidth -----------------------------------------------------------------------------


def memory_bandwidth(size_bytes: int = 256 << 20, repetitions: int = 10) -> dict[str, float]:
    """Bytes per second of a large copy on JAX's device, by method, and the best (``_device.bandwidth``)."""
    return _device.bandwidth(size_bytes, repetitions)


# -- the suite -------------------------------------------------------------------------------------


def _differentiable(entry: jl.LossInfo, args: tuple) -> tuple[int, ...]:
    return tuple(i for i in entry.differentiable_args if jnp.issubdtype(args[i].dtype, jnp.floating))


def bench_loss(entry: jl.LossInfo, size: str, target: int, *, bandwidth: float, torch_fns, repetitions: int,
               compile_torch: bool = False) -> dict:
    args, kwargs = inputs_of_size(entry, target)
    diff = _differentiable(entry, args)
    value = jax.jit(functools.partial(entry.fn, **kwargs))
    value_and_grad = jax.jit(jax.value_and_grad(functools.partial(entry.fn, **kwargs), argnums=diff))
    contenders: dict[str, Callable[[], Any]] = {
        "jaxloss": lambda: value(*args),
        "jaxloss_vg": lambda: value_and_grad(*args),
    }
    row: dict[str, Any] = {
        "loss": entry.name, "size": size, "input_bytes": nbytes(args) + nbytes(kwargs),
        "shape": "x".join(map(str, args[0].shape)),
    }
    notes = []
    ours = float(value(*args))
    if entry.optax and entry.optax in OPTAX_ADAPTERS:
        optax_value = jax.jit(functools.partial(OPTAX_ADAPTERS[entry.optax], **kwargs))
        optax_vg = jax.jit(jax.value_and_grad(functools.partial(OPTAX_ADAPTERS[entry.optax], **kwargs), argnums=diff))
        try:
            theirs = float(optax_value(*args))
        except Exception as err:  # noqa: BLE001 - optax's function may not take this input's shape
            theirs = float("nan")
            notes.append(f"optax.{entry.optax} does not take this input ({type(err).__name__})")
        if math.isnan(theirs):
            pass
        elif math.isclose(ours, theirs, rel_tol=2e-3, abs_tol=1e-5):
            contenders["optax"] = lambda: optax_value(*args)
            contenders["optax_vg"] = lambda: optax_vg(*args)
        else:
            notes.append(f"optax.{entry.optax} differs in definition ({theirs:.6g} vs {ours:.6g}): not timed")
    elif entry.optax:
        notes.append(f"no adapter for optax.{entry.optax}")
    if torch_fns is not None and entry.name in torch_fns:
        import torch

        device = _device.torch_device()
        targs = tuple(torch.from_numpy(np.array(a)).to(device) for a in args)  # a writable copy, on JAX's device
        fn = torch_fns[entry.name]
        theirs = float(fn(*targs))
        if math.isclose(ours, theirs, rel_tol=2e-3, abs_tol=1e-5):
            def timed(f: Callable[..., Any]) -> Callable[[], Any]:
                def call() -> Any:
                    with torch.no_grad():
                        out = f(*targs)
                    _device.synchronize(device)
                    return out
                return call

            contenders["torch"] = timed(fn)
            if compile_torch:
                try:  # torch.compile where it works (it needs a C++ compiler on CPU, Triton on GPU)
                    compiled = torch.compile(fn)
                    float(compiled(*targs))
                    contenders["torch_compile"] = timed(compiled)
                except Exception as err:  # noqa: BLE001
                    notes.append(f"torch.compile failed ({type(err).__name__})")
        else:
            notes.append(f"torch differs ({theirs:.6g} vs {ours:.6g}): not timed")
    timings = interleaved(contenders, repetitions=repetitions)
    row.update({f"{k}_s": t.median for k, t in timings.items()})
    row.update({f"{k}_spread": t.spread() for k, t in timings.items()})
    grad_bytes = sum(args[i].nbytes for i in diff)
    row["value_bandwidth_fraction"] = row["input_bytes"] / timings["jaxloss"].median / bandwidth
    row["vg_bandwidth_fraction"] = (row["input_bytes"] + grad_bytes) / timings["jaxloss_vg"].median / bandwidth
    if "optax" in timings:
        row["ratio_optax"] = timings["jaxloss"].median / timings["optax"].median
        row["ratio_optax_vg"] = timings["jaxloss_vg"].median / timings["optax_vg"].median
    if "torch" in timings:
        row["ratio_torch"] = timings["jaxloss"].median / timings["torch"].median
    if "torch_compile" in timings:
        row["ratio_torch_compile"] = timings["jaxloss"].median / timings["torch_compile"].median
    row["notes"] = "; ".join(notes)
    return row


def run(quick: bool = False, *, names: list[str] | None = None, large: str = "all") -> dict:
    """``large="compared"`` runs the 64 MB size only for losses with an optax or PyTorch counterpart."""
    torch_fns = _torch_adapters() if _device.torch_device() is not None else None  # same device, or none
    rates = memory_bandwidth(64 << 20 if quick else 256 << 20)
    bandwidth = rates["best"]
    sizes = QUICK_SIZES if quick else SIZES
    rows = []
    seen_families: set[str] = set()
    for entry in jl.catalog():
        if names and entry.name not in names:
            continue
        if quick and not names:
            # The smoke test: one loss per family, so the code path of every kind runs.
            if entry.family in seen_families:
                continue
            seen_families.add(entry.family)
        for size, target in sizes.items():
            compared = (entry.optax in OPTAX_ADAPTERS) or (torch_fns is not None and entry.name in torch_fns)
            if size == "large" and large == "compared" and not compared:
                continue
            try:
                rows.append(bench_loss(entry, size, target, bandwidth=bandwidth, torch_fns=torch_fns,
                                       repetitions=5 if quick else 20, compile_torch=not quick))
            except Exception as err:  # noqa: BLE001 - one failing loss must not end the suite
                rows.append({"loss": entry.name, "size": size, "error": f"{type(err).__name__}: {err}"[:200]})
            print(f"  {entry.name} {size}", file=sys.stderr, flush=True)
    rows += option_costs(quick)
    return {"bandwidth_bytes_per_s": bandwidth, "bandwidth_by_method": rates, "torch": torch_fns is not None,
            "torch_device": _device.torch_device(), "device": _device.describe()["device_kind"], "rows": rows,
            "large": large}


def option_costs(quick: bool) -> list[dict]:
    """Defaults cost nothing; label smoothing on integer labels builds no one-hot array."""
    rng = np.random.default_rng(0)
    n, k = (4096, 100) if quick else (65536, 1000)
    x = jnp.asarray(rng.normal(size=(n, k)).astype(np.float32))
    y = jnp.asarray(rng.integers(0, k, n).astype(np.int32))
    plain = jax.jit(lambda x, y: jl.cross_entropy(x, y))
    explicit_defaults = jax.jit(lambda x, y: jl.cross_entropy(x, y, weights=None, where=None, label_smoothing=0.0))
    smoothed = jax.jit(lambda x, y: jl.cross_entropy(x, y, label_smoothing=0.1))
    one_hot = jax.jit(lambda x, y: optax.softmax_cross_entropy(x, optax.smooth_labels(jax.nn.one_hot(y, k), 0.1)).mean())
    timings = interleaved({"plain": lambda: plain(x, y), "defaults": lambda: explicit_defaults(x, y),
                           "smoothing": lambda: smoothed(x, y), "one_hot": lambda: one_hot(x, y)},
                          repetitions=5 if quick else 20)

    def temp_bytes(f):
        analysis = f.lower(x, y).compile().memory_analysis()
        return getattr(analysis, "temp_size_in_bytes", float("nan")) if analysis is not None else float("nan")

    return [{
        "loss": "cross_entropy options", "size": f"{n}x{k}", "input_bytes": x.nbytes + y.nbytes,
        "defaults_over_plain": timings["defaults"].median / timings["plain"].median,
        "smoothing_over_plain": timings["smoothing"].median / timings["plain"].median,
        "one_hot_smoothing_over_plain": timings["one_hot"].median / timings["plain"].median,
        "temp_bytes_plain": temp_bytes(plain), "temp_bytes_smoothing": temp_bytes(smoothed),
        "temp_bytes_one_hot": temp_bytes(one_hot),
    }]


def report(result: dict) -> str:
    rows = [r for r in result["rows"] if "jaxloss_s" in r]
    scope = ("" if result.get("large", "all") == "all" else
             " The 64 MB size was run only for the losses with an optax or PyTorch counterpart (--losses-large compared).")
    methods = ", ".join(f"{k} {v / 1e9:.1f}" for k, v in result.get("bandwidth_by_method", {}).items() if k != "best")
    torch_text = (f"PyTorch on the same device ({result.get('torch_device')}); where torch.compile works, its "
                  "ratio is in the notes." if result["torch"] else
                  "PyTorch: not installed, or it cannot reach JAX's device; its column is empty.")
    lines = [f"Device: {result.get('device', '?')}. Copy bandwidth on that device (read + write, GB/s): {methods}; "
             f"the best, {result['bandwidth_bytes_per_s'] / 1e9:.1f} GB/s, is the ceiling below.{scope} " + torch_text]
    table = []
    for r in rows:
        table.append([
            r["loss"], r["size"], r["shape"], fmt_bytes(r["input_bytes"]),
            f"{fmt_seconds(r['jaxloss_s'])} ({r['jaxloss_spread']})", fmt_seconds(r["jaxloss_vg_s"]),
            f"{r['ratio_optax']:.2f} / {r['ratio_optax_vg']:.2f}" if "ratio_optax" in r else "-",
            (f"{r['ratio_torch']:.2f}" if "ratio_torch" in r else "-")
            + (f" (compiled {r['ratio_torch_compile']:.2f})" if "ratio_torch_compile" in r else ""),
            f"{100 * r['value_bandwidth_fraction']:.0f}% / {100 * r['vg_bandwidth_fraction']:.0f}%",
            r["notes"],
        ])
    for r in result["rows"]:
        if "error" in r:
            table.append([r["loss"], r["size"], "-", "-", "failed", "-", "-", "-", "-", r["error"]])
    lines.append(markdown(["loss", "size", "shape", "input", "value (min-max)", "value+grad",
                           "jaxloss/optax (value / v+g)", "jaxloss/torch", "bandwidth (value / v+g)", "notes"], table))
    for r in result["rows"]:
        if r["loss"] == "cross_entropy options":
            lines.append(
                f"\nOptions at their defaults cost {r['defaults_over_plain']:.2f}x plain cross-entropy; integer-label "
                f"cross-entropy with label smoothing costs {r['smoothing_over_plain']:.2f}x (optax with a one-hot array: "
                f"{r['one_hot_smoothing_over_plain']:.2f}x); compiled temporary memory: plain "
                f"{fmt_bytes(r['temp_bytes_plain'])}, smoothing {fmt_bytes(r['temp_bytes_smoothing'])}, one-hot "
                f"{fmt_bytes(r['temp_bytes_one_hot'])} ({r['size']} logits).")
    return "\n".join(lines)
