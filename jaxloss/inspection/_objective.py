"""Inspecting an objective ``(params, batch) -> scalar`` over its parameter pytree."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from jaxloss.compose import Composite, Objective, unpack_batch
from jaxloss.inspection._format import entry_names, is_float, nonfinite, x64
from jaxloss.inspection._numerics import denominator, finite_differences, hessian, line_along_largest, set_dominant
from jaxloss.inspection._report import Report


def inspect_objective(obj: Objective, inputs: Sequence[Any], *, step: Any, top: int) -> Report:
    if len(inputs) != 2:
        raise ValueError(f"inspect: an objective takes (params, batch); got {len(inputs)} inputs.")
    params, batch = inputs
    inputs_, targets, extra = unpack_batch(batch)
    flat, unravel = ravel_pytree(params)
    f_flat = lambda v: obj(unravel(v), batch, step=step)  # noqa: E731
    # One compiled program for the value, the terms and the gradient (eagerly, each operation would
    # dispatch on its own: seconds for a small MLP).
    (total, parts), grad = jax.jit(jax.value_and_grad(lambda p: obj.with_terms(p, batch, step=step), has_aux=True))(params)
    flat_grad = np.asarray(ravel_pytree(grad)[0])
    report = Report(subject=repr(obj), wrt="params", value=float(total), gradient=jax.tree_util.tree_map(np.asarray, grad),
                    terms={k: float(v) for k, v in parts.items()}, dtype=str(flat.dtype), entry_names=entry_names(params))
    for label, tree in (("params", params), ("inputs", inputs_), ("targets", targets)):
        for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
            report.nonfinite_inputs += nonfinite(f"input {label}{jax.tree_util.keystr(path)}", leaf)
    report.nonfinite += nonfinite("value", total) + nonfinite("gradient", flat_grad)
    h, diag, report.hessian_note = hessian(f_flat, flat)
    report.hessian, report.hessian_diagonal = h, diag
    report.nonfinite += nonfinite("Hessian", h if h is not None else diag)
    report.fd_max_relative_error, fd_flat, report.fd_note = finite_differences(
        lambda v: obj(unravel(v.astype(flat.dtype)) if not x64() else jax.tree_util.tree_map(
            lambda a: a.astype(v.dtype) if is_float(a) else a, unravel(v)), batch, step=step), flat, flat_grad)
    report.fd_index = (fd_flat,)
    # Per-example values without weights= (the effective weights carry them), as for a loss.
    unweighted = {k: v for k, v in extra.items() if k != "weights"}

    def per_example_of(p: Any) -> jax.Array:
        return obj.loss_terms(obj.lifted.predict(p, inputs_), targets, step=step, reduction="none", **unweighted)[0]

    try:
        per_example = jax.jit(per_example_of)(params)
    except ValueError as err:
        report.notes.append(f"no per-example values: {err}")
        report._line = line_along_largest(f_flat, flat, flat_grad, [flat], 0, report.entry_names)
        return report
    report.per_example_losses = np.asarray(per_example)
    shape = tuple(per_example.shape)
    w = extra.get("weights")
    m = extra.get("where")
    wb = np.ones(shape) if w is None else np.broadcast_to(np.asarray(w, np.float64), shape)
    mb = np.ones(shape, bool) if m is None else np.broadcast_to(np.asarray(m), shape)
    mw = np.where(mb, wb, 0.0)
    report.denominator, report.denominator_kind = denominator(mw, int(np.prod(shape)), None, w is not None,
                                                               m is not None, "mean")
    report.effective_weights = mw / report.denominator if report.denominator else np.zeros(shape)
    n = shape[0] if shape else 1
    axes = jax.tree_util.tree_map(lambda a: 0 if np.ndim(a) >= 1 and np.shape(a)[0] == n else None, batch)

    def one(p: Any, b: Any) -> jax.Array:
        b1 = jax.tree_util.tree_map(lambda a, ax: a[None] if ax is not None else a, b, axes)
        inputs1, targets1, extra1 = unpack_batch(b1)
        extra1.pop("weights", None)
        preds = obj.lifted.predict(p, inputs1)
        return jnp.sum(obj.loss_terms(preds, targets1, step=step, reduction="none", **extra1)[0])

    # Each example's gradient from the example alone (vmap over the batch), where alone it has the loss
    # it has in the batch; where it does not (a batch loss such as ntxent, a model that mixes examples),
    # the examples interact and each gradient is taken within the batch (a row of the Jacobian).
    alone, g_flat = jax.jit(lambda p, b: jax.vmap(lambda b1: (lambda v, g: (v, ravel_pytree(g)[0]))(
        *jax.value_and_grad(one)(p, b1)), in_axes=(axes,))(b))(params, batch)
    rows = np.sum(np.asarray(per_example, np.float64).reshape(n, -1), axis=1)
    alone = np.asarray(alone, np.float64)
    tol = float(np.sqrt(np.finfo(np.asarray(per_example).dtype).eps)) if is_float(per_example) else 1e-6
    report.examples_interact = not np.allclose(alone, rows, rtol=tol, atol=tol * max(1.0, float(np.max(np.abs(rows),
                                                                                                     initial=0.0))))
    if report.examples_interact:
        g_flat = jax.jit(jax.jacrev(lambda v: jnp.sum(per_example_of(unravel(v)).reshape(n, -1), axis=1)))(flat)
        report.notes.append("examples interact within the batch (alone, an example's loss differs from its loss in the "
                            "batch): per-example gradients are taken within the batch (rows of the Jacobian)")
    report.per_example_gradients = np.asarray(g_flat)
    report.per_example_gradient_norms = np.sqrt(np.sum(np.square(np.asarray(g_flat, np.float64)), axis=1))
    report.nonfinite += nonfinite("per-example gradients", g_flat)
    # Each example's part of the total gradient: c_i * grad l_i.
    c = np.sum(report.effective_weights.reshape(n, -1), axis=1)
    set_dominant(report, np.abs(c) * report.per_example_gradient_norms, top)
    report._line = line_along_largest(f_flat, flat, flat_grad, [flat], 0, report.entry_names)
    return report
