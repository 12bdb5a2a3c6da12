"""Candidate formulations of softmax cross-entropy with integer labels, measured by ``bench_cross_entropy``.

Neither is the library's code. Both compute ``logsumexp(x) - x_y`` per example while reading the logits
once, where the library's ``logsumexp`` + gather reads them two or three times; issue 14 asks whether that
closes PyTorch's lead on a GPU. They live here to be measured; the library adopts one only where a
same-device run shows it faster, keeping its pure-JAX path as the reference and the fallback.

* :func:`one_pass_cross_entropy`: one variadic ``lax.reduce`` carrying (max, sum of exp(x - max), x_y)
  along the class axis (the online-softmax combiner). Any backend compiles it; XLA's CPU backend does
  not vectorise a reduction with its own combiner, so it is slow there.
* :func:`pallas_cross_entropy`: a Pallas kernel for the Triton backend (NVIDIA and AMD GPUs). Each
  program owns a block of rows and walks the classes in power-of-two chunks, keeping the running max,
  sum of exponentials and picked logit in registers; rows and classes past the array's end are masked.
  ``interpret=True`` runs the same kernel through JAX on any backend (the tests check it on the CPU).

Both have the same hand-written backward, ``g * (softmax(x) - onehot(y))``: one element-wise pass that
XLA fuses, reading the logits once more and writing the gradient.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as pl_triton

__all__ = ["one_pass_cross_entropy", "pallas_cross_entropy", "pallas_tiles", "TRITON_CUSTOM_CALL"]

#: The custom call a Pallas kernel lowers to for the Triton backend (``jax.export`` names it).
TRITON_CUSTOM_CALL = "__gpu$xla.gpu.triton"

# Elements of one (rows x chunk) tile held in registers: 16,384 float32 is 128 per thread at 4 warps.
_TILE_ELEMENTS = 16384
_MAX_CHUNK = 4096


def _softmax_minus_onehot(x: jax.Array, labels: jax.Array, lse: jax.Array, g: jax.Array) -> jax.Array:
    onehot = lax.broadcasted_iota(jnp.int32, x.shape, x.ndim - 1) == labels[..., None]
    return (g[..., None] * (jnp.exp(x - lse[..., None]) - onehot)).astype(x.dtype)


def _with_softmax_backward(statistics):
    """A per-example ``lse - x_y`` from ``statistics(x, labels) -> (lse, x_y)``, with the analytic backward."""

    @jax.custom_vjp
    def per_example(x: jax.Array, labels: jax.Array) -> jax.Array:
        lse, picked = statistics(x, labels)
        return lse - picked

    def forward(x: jax.Array, labels: jax.Array) -> tuple[jax.Array, tuple]:
        lse, picked = statistics(x, labels)
        return lse - picked, (x, labels, lse)

    def backward(residuals: tuple, g: jax.Array) -> tuple[jax.Array, None]:
        x, labels, lse = residuals
        return _softmax_minus_onehot(x, labels, lse, g), None

    per_example.defvjp(forward, backward)
    return per_example


def _one_pass_statistics(x: jax.Array, labels: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(logsumexp, x_y) of each row from one reduction over the last axis, accumulated in float32 or wider."""
    dtype = x.dtype
    x = x.astype(jnp.promote_types(dtype, jnp.float32))   # a bfloat16 sum over 1,000 classes is off by 2%
    hit = lax.broadcasted_iota(jnp.int32, x.shape, x.ndim - 1) == labels[..., None]

    def combine(a: tuple, b: tuple) -> tuple:
        (m1, s1, p1), (m2, s2, p2) = a, b
        m = jnp.maximum(m1, m2)
        safe = jnp.where(jnp.isfinite(m), m, 0.0)
        return m, s1 * jnp.exp(m1 - safe) + s2 * jnp.exp(m2 - safe), p1 + p2

    zero = jnp.zeros((), x.dtype)
    m, s, picked = lax.reduce((x, jnp.ones_like(x), jnp.where(hit, x, zero)),
                              (jnp.array(-jnp.inf, x.dtype), zero, zero), combine, (x.ndim - 1,))
    return (m + jnp.log(s)).astype(dtype), picked.astype(dtype)


one_pass_cross_entropy = _with_softmax_backward(_one_pass_statistics)
one_pass_cross_entropy.__doc__ = "Per-example ``logsumexp(x) - x_y`` from one variadic reduction (any backend)."


def _next_power_of_two(n: int) -> int:
    return 1 << max(0, n - 1).bit_length()


def pallas_tiles(examples: int, classes: int) -> tuple[int, int]:
    """(rows per program, classes per chunk): powers of two, a tile of at most 16,384 elements."""
    chunk = min(_MAX_CHUNK, _next_power_of_two(classes))
    rows = max(1, min(_next_power_of_two(examples), _TILE_ELEMENTS // chunk))
    return rows, chunk


def _statistics_kernel(x_ref, labels_ref, lse_ref, picked_ref, *, examples: int, classes: int, chunk: int) -> None:
    rows = lse_ref.shape[0]
    row_ids = pl.program_id(0) * rows + lax.broadcasted_iota(jnp.int32, (rows,), 0)
    live = row_ids < examples   # the last block may run past the array: its extra rows read and write nothing
    labels = pl_triton.load(labels_ref, mask=live, other=-1)

    def chunk_step(j: jax.Array, carry: tuple) -> tuple:
        running_max, total, picked = carry
        columns = j * chunk + lax.broadcasted_iota(jnp.int32, (rows, chunk), 1)
        x = pl_triton.load(x_ref.at[:, pl.ds(j * chunk, chunk)], mask=live[:, None] & (columns < classes),
                           other=-jnp.inf).astype(jnp.float32)
        new_max = jnp.maximum(running_max, jnp.max(x, axis=1))
        shift = jnp.where(new_max == -jnp.inf, 0.0, new_max)   # a row of -inf so far: exp(-inf - 0) = 0
        total = total * jnp.exp(running_max - shift) + jnp.sum(jnp.exp(x - shift[:, None]), axis=1)
        picked = picked + jnp.sum(jnp.where(columns == labels[:, None], x, 0.0), axis=1)
        return new_max, total, picked

    start = (jnp.full((rows,), -jnp.inf, jnp.float32), jnp.zeros((rows,), jnp.float32),
             jnp.zeros((rows,), jnp.float32))
    running_max, total, picked = lax.fori_loop(0, pl.cdiv(classes, chunk), chunk_step, start)
    pl_triton.store(lse_ref, running_max + jnp.log(total), mask=live)
    pl_triton.store(picked_ref, picked, mask=live)


def _pallas_statistics(x: jax.Array, labels: jax.Array, *, interpret: bool) -> tuple[jax.Array, jax.Array]:
    examples, classes = x.shape
    rows, chunk = pallas_tiles(examples, classes)
    padded_classes = pl.cdiv(classes, chunk) * chunk
    per_row = pl.BlockSpec((rows,), lambda i: (i,))
    out = jax.ShapeDtypeStruct((examples,), jnp.float32)
    lse, picked = pl.pallas_call(
        functools.partial(_statistics_kernel, examples=examples, classes=classes, chunk=chunk),
        out_shape=(out, out), grid=(pl.cdiv(examples, rows),),
        in_specs=[pl.BlockSpec((rows, padded_classes), lambda i: (i, 0)), per_row],
        out_specs=(per_row, per_row),
        compiler_params=pl_triton.CompilerParams(num_warps=4, num_stages=2),
        interpret=interpret, name="softmax_cross_entropy_statistics",
    )(x, labels.astype(jnp.int32))
    return lse.astype(x.dtype), picked.astype(x.dtype)


_pallas_per_example = {interpret: _with_softmax_backward(functools.partial(_pallas_statistics, interpret=interpret))
                       for interpret in (False, True)}


def pallas_cross_entropy(x: jax.Array, labels: jax.Array, *, interpret: bool = False) -> jax.Array:
    """Per-example ``logsumexp(x) - x_y`` of ``(examples, classes)`` logits from one Pallas (Triton) kernel.

    Labels must be in ``[0, classes)`` (not checked: this is a candidate kernel, not a loss).
    ``interpret=True`` runs the kernel through JAX on any backend.
    """
    if x.ndim != 2 or labels.shape != x.shape[:1]:
        raise ValueError(f"pallas_cross_entropy: logits must be (examples, classes) and labels (examples,); "
                         f"got {x.shape} and {labels.shape}")
    return _pallas_per_example[interpret](x, labels)
