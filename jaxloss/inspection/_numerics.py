"""The measurements a report is made of (private): Hessian, finite differences, denominators,
dominant examples and the line through the point. Each compiles one program, never one per entry."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxloss.inspection._format import arg_name, first_index, fmt, is_float, x64
from jaxloss.inspection._report import Line, Report

FULL_HESSIAN_LIMIT = 100
DIAGONAL_HESSIAN_LIMIT = 20_000
FD_COORDINATES = 200


def _no_forward_mode(err: Exception) -> bool:
    """A ``custom_vjp`` function (no forward-mode derivative): differentiate it in reverse mode twice."""
    return isinstance(err, TypeError) and "custom_vjp" in str(err)


def hessian(f_flat: Callable[[jax.Array], jax.Array], x: jax.Array) -> tuple[np.ndarray | None, np.ndarray | None, str]:
    """(full Hessian or None, its diagonal or None, how it was computed) of ``f_flat`` at flat ``x``."""
    n = x.size
    if n <= FULL_HESSIAN_LIMIT:
        try:
            h = np.asarray(jax.jit(jax.hessian(f_flat))(x))  # one program, not one dispatch per operation
        except TypeError as err:
            if not _no_forward_mode(err):
                raise
            h = np.asarray(jax.jit(jax.jacrev(jax.jacrev(f_flat)))(x))
        return h, np.diagonal(h).copy(), f"full, {n}x{n}"
    if n <= DIAGONAL_HESSIAN_LIMIT:
        grad_f = jax.grad(f_flat)

        def program(reverse: bool) -> Callable[[jax.Array], jax.Array]:
            @jax.jit
            def diagonal(x: jax.Array) -> jax.Array:
                def entry(i: jax.Array) -> jax.Array:
                    e = jax.nn.one_hot(i, n, dtype=x.dtype)
                    if reverse:  # e_i^T H e_i as the gradient of e_i^T grad f
                        return jax.grad(lambda v: jnp.vdot(grad_f(v), e))(x)[i]
                    return jax.jvp(grad_f, (x,), (e,))[1][i]  # exact: e_i^T H e_i

                return jax.lax.map(entry, jnp.arange(n), batch_size=min(n, 128))

            return diagonal

        try:
            diag = program(reverse=False)(x)
        except TypeError as err:
            if not _no_forward_mode(err):
                raise
            diag = program(reverse=True)(x)
        return None, np.asarray(diag), f"diagonal of {n}x{n}, exact, by Hessian-vector products"
    return None, None, f"skipped: {n} entries (more than {DIAGONAL_HESSIAN_LIMIT})"


def finite_differences(f_flat: Callable[[jax.Array], jax.Array], x: jax.Array, grad: np.ndarray,
                       ) -> tuple[float, int, str]:
    """(max error of ``grad`` against central differences of ``f_flat``, its flat index, note).

    The error of entry j is ``|fd_j - g_j| / max(|g_j|, |fd_j|, scale, noise_j / sqrt(eps))``: relative
    to the entry itself, or, for entries much smaller than the gradient (zeros included), to the
    gradient's scale ``max_j |g_j|``, so that rounding in a zero entry is not a relative error of
    1e-4. ``noise_j`` is the differences' own error: their truncation error, estimated by differencing
    again with twice the step (``|fd(2h) - fd(h)|`` is three times fd(h)'s for a smooth function),
    plus rounding, ``eps |f| / h``; ``noise_j / sqrt(eps)`` is the smallest slope they measure to
    ``sqrt(eps)``, the floor when the whole gradient is smaller (a zero gradient). A correct float64
    gradient shows errors of 1e-8 or less; a wrong entry an error near 1 (or its size relative to
    the gradient's scale).
    """
    exact = x64()
    dtype = jnp.float64 if exact else jnp.float32
    x = x.astype(dtype)
    n = x.size
    if n <= FD_COORDINATES:
        idx = np.arange(n)
    else:
        rng = np.random.default_rng(0)
        largest = np.argsort(-np.abs(grad))[: FD_COORDINATES // 2]
        idx = np.unique(np.concatenate([largest, rng.choice(n, FD_COORDINATES // 2, replace=False)]))
    # Central differences with step ~ eps^(1/3) * scale (truncation and rounding balanced), and twice it.
    scale = np.maximum(1.0, np.abs(np.asarray(x, np.float64)[idx]))
    h = (6e-6 if exact else 5e-3) * scale
    m = len(idx)
    note = (f"{m} of {n} entries, central differences in "
            + ("float64" if exact else "float32: approximate, enable x64 for an exact check")
            + "; error relative to max(|entry|, max |gradient|)")
    if m == 0:
        return 0.0, 0, note
    entries, steps = np.concatenate([idx, idx]), np.concatenate([h, 2 * h])

    def difference(probe: tuple[jax.Array, jax.Array]) -> jax.Array:
        i, step = probe
        return f_flat(x.at[i].add(step)) - f_flat(x.at[i].add(-step))

    # A few probes at a time (lax.map): memory stays a few copies of x, not one per probe.
    program = jax.jit(lambda i, d: (f_flat(x), jax.lax.map(difference, (i, d), batch_size=min(2 * m, 16))))
    value, diffs = program(jnp.asarray(entries), jnp.asarray(steps, dtype))
    diffs = np.asarray(diffs, np.float64)
    fd, fd2 = diffs[:m] / (2 * h), diffs[m:] / (4 * h)
    g = np.asarray(grad, np.float64).reshape(-1)
    with np.errstate(invalid="ignore", over="ignore"):
        gradient_scale = float(np.max(np.abs(g[np.isfinite(g)]), initial=0.0))
        rounding = 4 * float(jnp.finfo(dtype).eps) * abs(float(value)) / h
        noise = np.abs(fd2 - fd) + rounding
        g = g[idx]
        resolved = noise / np.sqrt(float(jnp.finfo(dtype).eps))
        difference = np.abs(fd - g)
        denominator = np.maximum(np.maximum(np.maximum(np.abs(g), np.abs(fd)), gradient_scale), resolved)
        err = np.where(difference == 0, 0.0, difference / np.where(denominator > 0, denominator, 1.0))
    err = np.where(np.isfinite(err), err, np.inf)
    worst = int(np.argmax(err))
    return float(err[worst]), int(idx[worst]), note


def denominator(mask_weight: np.ndarray, total: int, implied: float | None, has_weights: bool, has_mask: bool,
                reduction: str) -> tuple[float, str]:
    """(what the mean divided by, how to say it) for the reduction's weights and mask."""
    if reduction == "sum":
        return 1.0, "sum (no denominator)"
    formula = float(np.sum(mask_weight))
    if has_weights:
        kind = f"mean over the sum of weights{' of the included entries' if has_mask else ''} = {fmt(formula)}"
    elif has_mask:
        kind = f"mean over the masked count = {int(formula)} of {total} entries"
    else:
        kind = f"mean over the count of entries = {total}"
    if implied is not None and not math.isclose(implied, formula, rel_tol=1e-4, abs_tol=1e-9):
        return implied, (f"mean over {fmt(implied)}, implied by sum / mean: the loss weights or drops entries "
                         f"itself (class_weights, ignore_index, ...)")
    return formula, kind


def set_dominant(report: Report, rows: np.ndarray, top: int) -> None:
    total = float(np.sum(rows))
    order = np.argsort(-rows, kind="stable")[:top]
    report.dominant = [((int(i),), float(rows[i]), float(rows[i] / total) if total > 0 else 0.0)
                       for i in order if rows[i] > 0 or total == 0]


def line_along_largest(f: Callable[[jax.Array], jax.Array], x: jax.Array, grad: jax.Array, args: Sequence[Any],
                       argnum: int, names: Sequence[str] | None = None) -> Callable[[int, float | None], Line]:
    """``line(points, span)``: ``f`` along the entry of ``x`` with the largest gradient, around ``x``."""
    flat_grad = np.nan_to_num(np.abs(np.asarray(grad, np.float64)).reshape(-1))
    j = int(np.argmax(flat_grad)) if flat_grad.size else 0
    targets = args[1] if argnum == 0 and len(args) > 1 else None
    elementwise = targets is not None and is_float(targets) and np.shape(targets) == x.shape
    offset = float(np.asarray(targets, np.float64).reshape(-1)[j]) if elementwise else 0.0
    index = first_index(x.shape, j)

    def line(points: int, span: float | None) -> Line:
        center = float(np.asarray(x, np.float64).reshape(-1)[j])
        half = span if span is not None and span > 0 else max(3.0, 2.0 * abs(center - offset))
        s = jnp.linspace(-half, half, int(points), dtype=x.dtype) + jnp.asarray(center - offset, x.dtype)
        g = lambda v: f(x.reshape(-1).at[j].set(v + offset).reshape(x.shape))  # noqa: E731
        values, slopes = jax.jit(lambda s: (jax.vmap(g)(s), jax.vmap(jax.grad(g))(s)))(s)
        if names is not None:  # parameters: the entry by its leaf path
            label = f"parameter {names[j]}"
        else:
            label = f"error p - t at {index}" if elementwise else f"{arg_name(argnum)}{list(index)}"
        return Line(np.asarray(s, np.float64), np.asarray(values, np.float64), np.asarray(slopes, np.float64),
                    label, center - offset)

    return line
