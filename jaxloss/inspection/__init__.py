"""Inspecting losses: what a loss does to the gradient, and where it breaks.

* :func:`inspect` evaluates a loss (a registered name or function, a
  :class:`~jaxloss.compose.Composite`, or an :class:`~jaxloss.compose.Objective`)
  at one point and returns a :class:`Report`: the value, the gradient, the
  Hessian (full up to 100 entries; above that its exact diagonal, one
  Hessian-vector product per entry, batched with ``lax.map``, up to 20,000
  entries), per-example losses and gradients, the examples that dominate the
  gradient, the reduction's denominator and each example's effective weight, a
  central finite-difference check of the gradient (float64 when x64 is enabled;
  float32 differences are approximate and the report says so), per-term values
  for composites, and every NaN/inf with where it was.
* :func:`grad_curve`: value, first and second derivative along a range of errors.
* :func:`check`: the stability card, the battery of hard inputs of a loss's input
  kind (``InputKind.hard`` in ``jaxloss._kinds``) through the value, ``grad``, ``jvp``,
  the Hessian and ``jit``, in float32, bfloat16 and float16. The registry-driven
  tests run this same battery over the whole catalog.

Figures live in :mod:`jaxloss.plot` (``plot.report(report)``); this package only computes.

Layout: ``_report`` (the :class:`Report`), ``_inspect`` (a loss at a point), ``_objective``
(an objective over its parameters), ``_numerics`` (Hessian, finite differences, denominators),
``_curves`` (:func:`grad_curve`), ``_card`` and ``_programs`` (the stability card and its cached
compiled programs), ``_kinds_view`` (everything read from input kinds), ``_format``.

Examples are axis 0 of the positional arguments (and of ``weights``/``where``
when they have one entry per example). The per-example loss ``l_i`` is the
loss's ``reduction="none"`` value without ``weights=`` (``where=`` applied, so
excluded examples are 0); the effective weight ``c_i`` is what the reduction
multiplies it by: ``value = sum_i c_i l_i`` and ``gradient = sum_i c_i grad l_i``
(``c_i = w_i m_i / D`` for ``"mean"``, with ``D`` the count, the masked count or
the sum of weights; ``w_i m_i`` for ``"sum"``).

Per-example gradients are taken within the batch. Whether examples interact (the
gradient of one example's loss reaches other examples' inputs: a batch loss such
as ``ntxent`` on one batch, or a user's loss against the batch mean) is measured
at the point, with reverse-mode derivatives of groups of examples (one program),
and reported as ``Report.examples_interact``. Independent examples get the
gradient of their own slice; interacting ones get the row of the Jacobian, the
gradient of ``l_i`` with respect to the whole argument (``Report.per_example_full``;
so does an argument with no example axis), so the identity above holds for every
loss. The finite-difference error of an entry is relative to the larger of the
entry and the gradient's scale: a correct float64 gradient reads 1e-8 or less,
exact zeros included.

>>> import jax.numpy as jnp, jaxloss as jl
>>> report = jl.inspect("huber", jnp.array([0.5, 2.0, 10.0]), jnp.zeros(3), delta=1.0)
>>> round(report.value, 4), [round(g, 4) for g in report.gradient.tolist()]
(3.7083, [0.1667, 0.3333, 0.3333])
>>> report.denominator, report.dominant[0][0]
(3.0, (1,))
"""

from jaxloss.inspection._card import Card as Card
from jaxloss.inspection._card import CardRow as CardRow
from jaxloss.inspection._card import check as check
from jaxloss.inspection._card import stability_cases as stability_cases
from jaxloss.inspection._curves import GradCurve as GradCurve
from jaxloss.inspection._curves import grad_curve as grad_curve
from jaxloss.inspection._inspect import inspect as inspect
from jaxloss.inspection._report import Line as Line
from jaxloss.inspection._report import Report as Report

__all__ = ["Report", "Line", "inspect", "GradCurve", "grad_curve", "Card", "CardRow", "check", "stability_cases"]


def __dir__() -> list[str]:  # the public API only (not the modules this one imports)
    return sorted(__all__)
