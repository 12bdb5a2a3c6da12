"""Composing losses: weighted sums, schedules, objectives over parameters, regularizers.

Everything here stays a pure function with the loss signature, so a composite
works under ``jit``, ``grad`` and ``vmap`` like any single loss.

**Composites.** Two spellings of the same thing:

>>> import jax, jax.numpy as jnp, jaxloss as jl
>>> loss = 0.7 * jl.term("mse") + 0.3 * jl.term("huber", delta=0.5)
>>> loss
0.7 * mean_squared_error + 0.3 * huber(delta=0.5)
>>> same = jl.combine({"mean_squared_error": ("mse", 0.7), "huber": (jl.huber, 0.3, {"delta": 0.5})})
>>> p, t = jnp.array([0.5, 2.0, -1.0]), jnp.zeros(3)
>>> bool(jnp.isclose(loss(p, t), same(p, t)))
True

A call gives the total; ``with_terms=True`` (or :meth:`Composite.with_terms`)
gives ``(total, {term name: unweighted term value})``, the shape
``jax.value_and_grad(..., has_aux=True)`` expects:

>>> (total, terms), grad = jax.value_and_grad(loss.with_terms, has_aux=True)(p, t)
>>> {k: round(float(v), 4) for k, v in sorted(terms.items())}
{'huber': 0.4583, 'mean_squared_error': 1.75}

Every keyword the composite is called with (``weights=``, ``where=``,
``reduction=``) is passed to every term; ``reduction="none"`` gives the
weighted sum of the terms' per-example losses, which must then agree in shape.
A weight may be a schedule, a callable ``step -> weight`` (an optax schedule
works too); the step is then passed explicitly, ``loss(p, t, step=step)``, so the
composite stays pure (see :func:`linear_schedule`, :func:`warmup`,
:func:`cyclical_schedule`). ``composite.stop_gradient("name")`` keeps a term's
value in the total but blocks its gradient.

**Objectives: the batch convention.** :func:`objective` lifts a loss (single or
composite) to ``objective(params, batch, *, step=None) -> scalar`` given
``model(params, inputs) -> predictions``. A *batch* is either

* a tuple or list ``(inputs, targets)``, or
* a dict with the keys ``"inputs"`` and ``"targets"`` and, optionally,
  ``"weights"`` (per-example weights) and ``"where"`` (a boolean per-example
  mask, e.g. for padded batches), passed to the loss as ``weights=``/``where=``.

``inputs`` and ``targets`` may be any arrays or pytrees the model and the loss
accept; the leading axis indexes examples. The training loop, the inspection
tools and the benchmarks all use this convention.

>>> def model(params, x):
...     return x @ params["w"] + params["b"]
>>> params = {"w": jnp.ones((2,)), "b": jnp.zeros(())}
>>> batch = {"inputs": jnp.array([[1.0, 2.0], [0.0, 1.0]]), "targets": jnp.array([3.0, 0.0])}
>>> obj = jl.objective(model, "mse", regularizers=jl.l2(0.1, mask=lambda path, leaf: leaf.ndim > 0))
>>> total, parts = obj.with_terms(params, batch)
>>> {k: round(float(v), 4) for k, v in parts.items()}
{'loss': 0.5, 'l2': 0.1}

Regularizers (:func:`l2`, :func:`l1`) take any pytree of parameters and a mask:
a pytree of booleans with the parameters' structure (or a prefix of it), or a
predicate ``(path, leaf) -> bool`` where ``path`` is the leaf's key path as
``"layer/w"``. ``l2(scale)`` is ``0.5 * scale * sum(w^2)`` so that its gradient
is ``scale * w``: the weight decay of SGD and ``optax.add_decayed_weights``.
"""

from jaxloss.compose._composite import Composite as Composite
from jaxloss.compose._composite import combine as combine
from jaxloss.compose._composite import term as term
from jaxloss.compose._objective import Objective as Objective
from jaxloss.compose._objective import objective as objective
from jaxloss.compose._objective import unpack_batch as unpack_batch
from jaxloss.compose._regularizers import Regularizer as Regularizer
from jaxloss.compose._regularizers import l1 as l1
from jaxloss.compose._regularizers import l2 as l2
from jaxloss.compose._schedules import Schedule as Schedule
from jaxloss.compose._schedules import cyclical_schedule as cyclical_schedule
from jaxloss.compose._schedules import linear_schedule as linear_schedule
from jaxloss.compose._schedules import warmup as warmup

__all__ = [
    "Composite", "term", "combine", "Schedule", "linear_schedule", "warmup", "cyclical_schedule",
    "Objective", "objective", "Regularizer", "l2", "l1", "unpack_batch",
]


def __dir__() -> list[str]:  # the public API only (not the modules this one imports)
    return sorted(__all__)
