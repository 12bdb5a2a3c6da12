"""The anatomy page's numbers (private): a loss's value and first and second derivative along one axis.

The axis is what one number can say about a loss's inputs, read from the loss's input kind
(``InputKind.curve_inputs``): the prediction against a target (regression), the logit against a label
(binary), or the true class's logit against zero logits for the other classes (multiclass).
Derivatives are exact (``grad`` of ``grad``). Each loss's curve is one compiled function whose
hyperparameters, target and point are arguments, so moving a slider compiles nothing.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxloss import _registry
from jaxloss.playground import _catalog
from jaxloss.playground._state import AnatomyState

POINTS = 201
LABELS = {"regression": "prediction (the target is the dotted line)", "binary": "logit (score) of the example",
          "multiclass": "the true class's logit (the other logits are 0)"}


@functools.lru_cache(maxsize=256)
def _curve(name: str, classes: int, static: tuple) -> Any:
    """``f(xs, x, target, options) -> {value, first, second, point}`` for loss ``name`` (compiled)."""
    entry = _registry.info(name)
    kind = entry.inputs

    def at(v: jax.Array, target: jax.Array, options: dict) -> jax.Array:
        predictions, targets = kind.curve_inputs(v, target=target if kind.curve_axis != "true_class_logit" else 0,
                                                 num_classes=classes)
        return jnp.sum(entry.fn(predictions, targets, **dict(static), **options, reduction="none"))

    first = jax.grad(at)
    second = jax.grad(first)

    def curves(vs: jax.Array, v: jax.Array, target: jax.Array, options: dict) -> dict:
        each = jax.vmap(lambda u: jnp.stack([at(u, target, options), first(u, target, options),
                                             second(u, target, options)]))
        return {"curve": each(vs), "point": each(v[None])[0]}

    return jax.jit(curves)


def _target(entry: _registry.LossInfo, state: AnatomyState) -> tuple[float, str]:
    """The target passed to the curve, and how the table describes it."""
    kind = entry.inputs
    if state.axis == "binary":
        value = float(np.asarray(kind.toy_targets(np.array([int(state.target)])))[0])
        return value, f"label {value:g}"
    if state.axis == "multiclass":
        return 0.0, f"class 0 of {state.classes}"
    return state.target, f"target {state.target:g}"


def _clean(values: np.ndarray) -> list[float | None]:
    return [float(v) if np.isfinite(v) else None for v in np.asarray(values, np.float64)]


def answer(state: AnatomyState) -> dict[str, Any]:
    """Everything the anatomy page draws for ``state`` (see the playground's API)."""
    centre = state.target if state.axis == "regression" else 0.0
    xs = np.linspace(centre - state.range, centre + state.range, POINTS)
    curves, point, problems = {}, {}, {}
    for name in state.losses:
        entry = _registry.info(name)
        static, traced = _catalog.split_options(name, state.options.get(name, {}))
        target, target_text = _target(entry, state)
        offset = target if state.axis == "regression" else 0.0  # regression curves run along the error
        try:
            out = _curve(name, state.classes, static)(jnp.asarray(xs - offset, jnp.float32),
                                                      jnp.float32(state.x - offset), jnp.float32(target), traced)
        except (TypeError, ValueError) as err:
            problems[name] = str(err).splitlines()[0]
            continue
        curve, at = np.asarray(out["curve"]), np.asarray(out["point"])
        if not np.any(np.isfinite(curve[:, 0])):
            problems[name] = (f"no finite value at {target_text}: {name} takes {entry.inputs.doc}.")
        curves[name] = {"value": _clean(curve[:, 0]), "first": _clean(curve[:, 1]), "second": _clean(curve[:, 2])}
        value, d1, d2 = _clean(at)
        prediction = {"regression": f"prediction {state.x:g}", "binary": f"logit {state.x:g}",
                      "multiclass": f"logits [{state.x:g}" + ", 0" * (state.classes - 1) + "]"}[state.axis]
        point[name] = {"x": state.x, "prediction": prediction, "target": target_text,
                       "value": value, "first": d1, "second": d2}
    return {"x": _clean(xs), "x_label": LABELS[state.axis], "curves": curves, "point": point, "problems": problems}
