"""Aggregators defined by a small convex program on the Gramian: UPGrad, DualProj, MGDA, CAGrad, Nash-MTL.

Each is a pure, jittable, vmappable function ``aggregator(J, **options) -> d`` of the ``(m, n)`` matrix ``J``
whose rows are the terms' gradients (float32 and float64 kept). All five depend on ``J`` only through its
Gramian ``G = J J^T``: ``aggregator.weights(G, **options) -> w`` and ``aggregator(J) == aggregator.weights(
J @ J.T) @ J``. Their programs (projections onto the dual cone of the rows, the min-norm point of their
convex hull, CAGrad's ball-constrained dual, Nash bargaining) are solved on the device by
:mod:`jaxloss.aggregators._qp` with fixed iteration counts: no solver library, no host round trip.

Shared numerical care: Gramians and products at the highest matmul precision (no TF32 on GPUs); each
program works on the trace-normalized Gramian ``G / tr(G)`` (what TorchJD calls normalizing ``J`` by its
Frobenius norm), so results do not depend on the gradients' overall scale, plus a diagonal jitter at
rounding level (``4 eps G_ii``, :func:`_qp.jitter`) that keeps every linear solve finite when rows are
linearly dependent (identical, opposite or zero rows); float16 and bfloat16 are computed in float32 and
returned in their dtype. The definitions, option names and defaults are TorchJD's (0.18,
``torchjd.aggregation``); measured against it on 200 random float64 Jacobians (``m`` in 2..6, ``n = 20``):
upgrad and dualproj agree to 1.3e-15 with its quadprog; cagrad to 2e-4 (its conic solver stops short:
this one has the smaller objective and matches an exact enumeration to 1e-15); mgda to 0.2 (its
Frank-Wolfe iterations stop at ``epsilon = 1e-3``); nash_mtl to 8e-8 but on one Jacobian where its 20
convex-concave steps end far from ``G w = 1/w``.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp

from jaxloss.aggregators import _qp
from jaxloss.aggregators._base import Properties, aggregator, check_preference

__all__ = ["upgrad", "dualproj", "mgda", "cagrad", "nash_mtl"]

_HIGHEST = jax.lax.Precision.HIGHEST


# ---------------------------------------------------------------------------------------------- helpers

def _gramian(J: jax.Array) -> jax.Array:
    return jnp.matmul(J, J.T, precision=_HIGHEST)


def _core(weights: Any) -> Any:
    """A Gramian weighting as one compiled program, computed in at least float32 (LAPACK has no half
    precision) and returned in G's dtype."""

    @functools.wraps(weights)
    def run(G: jax.Array, *args: Any) -> jax.Array:
        return weights(G.astype(jnp.promote_types(G.dtype, jnp.float32)), *args).astype(G.dtype)

    return jax.jit(run)


@functools.partial(jax.jit, static_argnums=0)
def _aggregate(weights: Any, J: jax.Array, *args: Any) -> jax.Array:
    """``d = J^T weights(J J^T, *args)``, one compiled program (an eager call dispatches once)."""
    work = J.astype(jnp.promote_types(J.dtype, jnp.float32))
    w = weights(_gramian(work), *args).astype(work.dtype)
    return jnp.matmul(w, work, precision=_HIGHEST).astype(J.dtype)


def _normalize(G: jax.Array, norm_eps: Any) -> jax.Array:
    """``G / tr(G)``, or 0 where ``tr(G) < norm_eps`` (TorchJD's ``normalize``; also 0 for a zero ``G``,
    where TorchJD divides by 0)."""
    trace = jnp.trace(G)
    small = (trace < norm_eps) | (trace <= 0)
    return jnp.where(small, 0, G / jnp.where(small, 1, trace))


def _regularize(G: jax.Array, reg_eps: Any) -> jax.Array:
    return _qp.jitter(G + reg_eps * jnp.eye(G.shape[0], dtype=G.dtype))


def _preference(fn: str, pref_vector: Any, m: int, dtype: Any) -> jax.Array:
    """``pref_vector`` as an ``(m,)`` array of G's dtype, ``1/m`` when None; otherwise an error naming ``fn``."""
    p = check_preference(fn, pref_vector, m, dtype)
    return jnp.full((m,), 1.0 / m, dtype) if p is None else p


def _check_nonnegative(fn: str, **options: Any) -> None:
    """Options that are concrete numbers must be >= 0 (traced ones are the caller's responsibility)."""
    for name, value in options.items():
        if isinstance(value, (int, float)) and not value >= 0:
            raise ValueError(f"{fn}: {name} must be a non-negative number; got {value!r}.")


# ------------------------------------------------------------------------------------------------ upgrad

@_core
def _upgrad_core(G: jax.Array, u: jax.Array, norm_eps: Any, reg_eps: Any) -> jax.Array:
    G = _regularize(_normalize(G, norm_eps), reg_eps)
    return jnp.sum(_qp.dual_cone_weights(G, jnp.diag(u)), axis=0)


def _upgrad_weights(G: jax.Array, *, pref_vector: Any = None, norm_eps: float = 1e-4,
                    reg_eps: float = 1e-4) -> jax.Array:
    _check_nonnegative("upgrad", norm_eps=norm_eps, reg_eps=reg_eps)
    return _upgrad_core(G, _preference("upgrad", pref_vector, G.shape[0], G.dtype), norm_eps, reg_eps)


@aggregator(properties=Properties(non_conflicting=True, linear_under_scaling=True, weighted=True),
            weights=_upgrad_weights)
def upgrad(J: jax.Array, *, pref_vector: Any = None, norm_eps: float = 1e-4, reg_eps: float = 1e-4) -> jax.Array:
    """UPGrad: each gradient projected onto the dual cone of all the gradients, then averaged.

    .. math:: d = \\sum_i p_i \\, \\pi_J(g_i), \\qquad
              \\pi_J(x) = \\arg\\min_{y:\\, J y \\geq 0} \\|y - x\\|, \\qquad p = \\tfrac{1}{m} \\mathbf{1}
              \\text{ by default.}

    The dual cone ``{y : J y >= 0}`` holds the directions that increase no term to first order; projecting
    each ``g_i`` onto it and combining keeps ``d`` in it. By Proposition 1 of the paper,
    ``pi_J(J^T u) = J^T v`` with ``v = argmin_{v >= u} v^T G v``, so the weights are ``w = sum_i v^(i)``,
    ``v^(i)`` solving that program for ``u = p_i e_i`` on ``G / tr(G) + reg_eps I``.

    Use it as the default aggregator of Jacobian descent: it never increases a term (to first order),
    it is linear under scaling (a term's gradient scaled by ``c`` contributes ``c`` times as much, so
    weighting the terms still works as for a weighted sum) and it equals the mean when nothing conflicts.

    Numerical care: the QPs run on the trace-normalized Gramian (scale-free); ``reg_eps`` on its diagonal
    keeps them strictly convex when rows are dependent, at the price of a conflict of about
    ``reg_eps * tr(G) * w_i`` (``J @ d >= -reg_eps tr(G) w``, TorchJD's compromise); ``reg_eps=0`` is exact
    for linearly independent rows. Where ``tr(G) < norm_eps`` (tiny gradients, ``||J||_F^2 < norm_eps``) the
    Gramian is treated as 0 and ``d`` is the ``p``-weighted mean, as in TorchJD: set ``norm_eps=0`` if your
    gradients are that small. Solver: active set, ``3m + 4`` fixed iterations, exact once the active set is
    found: 1e-12 relative or better in float64 (TorchJD's quadprog: about 1e-8), median 1e-7 in float32
    (:mod:`jaxloss.aggregators._qp` gives the measurements).

    Args:
      J: ``(m, n)`` floating array, one gradient per row.
      pref_vector: ``(m,)`` weights ``p`` of the projected gradients; ``1/m`` each by default.
      norm_eps: below this squared Frobenius norm of ``J`` the Gramian is treated as 0.
      reg_eps: added to the diagonal of the normalized Gramian.

    Returns:
      ``(n,)`` direction, J's dtype.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import aggregators
      >>> J = jnp.array([[1.0, 0.0], [-1.0, 1.0]])        # the mean [0, 0.5] has J @ d = [0, 0.5]
      >>> d = aggregators.upgrad(J, reg_eps=0.0)
      >>> [round(x, 4) for x in d.tolist()], [round(x, 4) for x in (J @ d).tolist()]
      ([0.25, 0.75], [0.25, 0.5])

    Reference: Quinton & Rey, "Jacobian Descent for Multi-Objective Optimization", 2024 (arXiv 2406.16232).

    Properties: non-conflicting; linear under scaling; weighted.
    """
    _check_nonnegative("upgrad", norm_eps=norm_eps, reg_eps=reg_eps)
    u = _preference("upgrad", pref_vector, J.shape[0], J.dtype)
    return _aggregate(_upgrad_core, J, u, norm_eps, reg_eps)


# ---------------------------------------------------------------------------------------------- dualproj

@_core
def _dualproj_core(G: jax.Array, u: jax.Array, norm_eps: Any, reg_eps: Any) -> jax.Array:
    G = _regularize(_normalize(G, norm_eps), reg_eps)
    return _qp.dual_cone_weights(G, u)


def _dualproj_weights(G: jax.Array, *, pref_vector: Any = None, norm_eps: float = 1e-4,
                      reg_eps: float = 1e-4) -> jax.Array:
    _check_nonnegative("dualproj", norm_eps=norm_eps, reg_eps=reg_eps)
    return _dualproj_core(G, _preference("dualproj", pref_vector, G.shape[0], G.dtype), norm_eps, reg_eps)


@aggregator(properties=Properties(non_conflicting=True, linear_under_scaling=False, weighted=True),
            weights=_dualproj_weights)
def dualproj(J: jax.Array, *, pref_vector: Any = None, norm_eps: float = 1e-4,
             reg_eps: float = 1e-4) -> jax.Array:
    """DualProj: the mean gradient projected onto the dual cone of the gradients.

    .. math:: d = \\pi_J\\big(J^T p\\big) = \\arg\\min_{y:\\, J y \\geq 0} \\|y - J^T p\\|
              = J^T v, \\qquad v = \\arg\\min_{v \\geq p} v^T G v, \\qquad p = \\tfrac{1}{m}\\mathbf{1}
              \\text{ by default.}

    The closest direction to the (``p``-weighted) mean that increases no term to first order (GEM's
    projection, Lopez-Paz & Ranzato 2017, Eq. 11). Use it when you want the mean whenever it is safe and the
    least change to it otherwise; unlike :func:`upgrad`, a term with a large gradient dominates ``d``, as it
    dominates the mean (not linear under scaling).

    Numerical care: as :func:`upgrad` (trace-normalized Gramian, ``reg_eps``, ``norm_eps``, TorchJD's
    defaults); one QP, solved by the active set to 1e-12 relative or better in float64, median 1e-7 in
    float32.

    Args:
      J: ``(m, n)`` floating array, one gradient per row.
      pref_vector: ``(m,)`` weights ``p`` of the direction to project; ``1/m`` each by default.
      norm_eps: below this squared Frobenius norm of ``J`` the Gramian is treated as 0.
      reg_eps: added to the diagonal of the normalized Gramian.

    Returns:
      ``(n,)`` direction, J's dtype.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import aggregators
      >>> J = jnp.array([[1.0, 0.0], [-3.0, 1.0]])        # the mean [-1, 0.5] conflicts with the first row
      >>> [round(x, 4) for x in aggregators.dualproj(J, reg_eps=0.0).tolist()]
      [0.0, 0.5]

    Reference: Quinton & Rey, "Jacobian Descent for Multi-Objective Optimization", 2024 (arXiv 2406.16232);
    Lopez-Paz & Ranzato, "Gradient Episodic Memory for Continual Learning", 2017.

    Properties: non-conflicting; not linear under scaling; weighted.
    """
    _check_nonnegative("dualproj", norm_eps=norm_eps, reg_eps=reg_eps)
    u = _preference("dualproj", pref_vector, J.shape[0], J.dtype)
    return _aggregate(_dualproj_core, J, u, norm_eps, reg_eps)


# -------------------------------------------------------------------------------------------------- mgda

@_core
def _mgda_core(G: jax.Array) -> jax.Array:
    return _qp.min_norm_weights(_regularize(_normalize(G, 0.0), 0.0))


def _mgda_weights(G: jax.Array) -> jax.Array:
    return _mgda_core(G)


@aggregator(properties=Properties(non_conflicting=True, linear_under_scaling=False, weighted=True),
            weights=_mgda_weights)
def mgda(J: jax.Array) -> jax.Array:
    """MGDA: the point of minimal norm in the convex hull of the gradients.

    .. math:: d = J^T w, \\qquad w = \\arg\\min_{w \\geq 0,\\ \\mathbf{1}^T w = 1} w^T G w.

    ``d`` is the steepest common descent direction: ``g_i . d >= ||d||^2`` for every term, and ``d = 0``
    exactly when some convex combination of the gradients vanishes (a Pareto-stationary point). Use it to
    make every term decrease at the same first-order rate; expect small steps, since the smallest gradient
    (or the smallest component in conflict) sets ``d``'s size, and not linear under scaling.

    Numerical care: solved exactly (not by TorchJD's Frank-Wolfe iterations, accurate to about 1e-3) as
    ``w = y / sum(y)``, ``y = argmin_{y >= 0} 1/2 y^T G y - 1^T y`` on the trace-normalized Gramian, by the
    active set (``3m + 4`` iterations, started with every term free): 1e-13 relative or better in float64,
    median 1e-7 in float32. Where the hull contains 0 the jitter keeps ``y`` finite and ``d`` is 0 up to
    rounding.

    Args:
      J: ``(m, n)`` floating array, one gradient per row.

    Returns:
      ``(n,)`` direction, J's dtype.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import aggregators
      >>> J = jnp.array([[2.0, 0.0], [0.0, 1.0]])
      >>> [round(x, 4) for x in aggregators.mgda(J).tolist()]   # the hull's point nearest 0: J^T [0.2, 0.8]
      [0.4, 0.8]

    Reference: Désidéri, "Multiple-gradient descent algorithm (MGDA) for multiobjective optimization", 2012;
    Sener & Koltun, "Multi-Task Learning as Multi-Objective Optimization", 2018.

    Properties: non-conflicting; not linear under scaling; weighted.
    """
    return _aggregate(_mgda_core, J)


# ------------------------------------------------------------------------------------------------ cagrad

@_core
def _cagrad_core(G: jax.Array, c: Any, norm_eps: Any) -> jax.Array:
    m = G.shape[0]
    Gn = _normalize(G, norm_eps)
    zero = jnp.trace(Gn) == 0                                # tiny gradients: TorchJD returns 0
    u = jnp.full((m,), 1.0 / m, G.dtype)
    b = jnp.matmul(Gn, u, precision=_HIGHEST)                # g_i . g0
    r = c * jnp.sqrt(jnp.maximum(jnp.dot(u, b), 0))          # the ball's radius c ||g0||
    y = _qp.cagrad_weights(_regularize(Gn, 0.0), b, r)
    # ||g_w|| = ||J^T y|| / sum(y) for w = y / sum(y); below norm_eps TorchJD calls it the Pareto front:
    # weights 0. (Not r / sum(y), equal in exact arithmetic: for a tiny c, y is all rounding.)
    front = jnp.sqrt(jnp.maximum(jnp.dot(y, jnp.matmul(Gn, y, precision=_HIGHEST)), 0)) < norm_eps * jnp.sum(y)
    return jnp.where(zero | front, 0, u + y)


def _cagrad_weights(G: jax.Array, *, c: float = 0.5, norm_eps: float = 1e-4) -> jax.Array:
    _check_nonnegative("cagrad", c=c, norm_eps=norm_eps)
    return _cagrad_core(G, c, norm_eps)


@aggregator(properties=Properties(non_conflicting=False, linear_under_scaling=False, weighted=True),
            weights=_cagrad_weights)
def cagrad(J: jax.Array, *, c: float = 0.5, norm_eps: float = 1e-4) -> jax.Array:
    """CAGrad: the direction near the mean gradient that best improves the worst-off term.

    .. math:: d = \\arg\\max_{\\|d - g_0\\| \\leq c \\|g_0\\|} \\ \\min_i \\, g_i \\cdot d, \\qquad
              g_0 = \\tfrac{1}{m} J^T \\mathbf{1};

    by duality ``d = g_0 + c ||g_0|| g_w / ||g_w||`` with ``w = argmin_{w in simplex} g_w . g_0 +
    c ||g_0|| ||g_w||``, ``g_w = J^T w``. Here, as in TorchJD, on the trace-normalized Gramian, so ``c`` is
    relative and the weights are ``1/m + c ||g_0|| w / ||g_w||`` (no ``1 / (1 + c^2)`` rescaling; the
    official code's ``rescale=0``).

    Use it as a dial between the mean (``c = 0``) and MGDA-like conflict aversion (large ``c``); it can
    still increase a term (not non-conflicting) and is not linear under scaling.

    Numerical care: the dual is solved exactly on the device by a homotopy (:func:`_qp.cagrad_weights`:
    the weights ``1/m + y`` with ``y`` on the path of nonnegative QPs, found in closed form on its last
    piece; at most ``3m + 4`` breakpoints, ``m`` needed in the measurements), not by a conic solver:
    1e-14 relative or better in float64, median 1e-7 in float32. ``||g_w|| < norm_eps`` (approximately
    Pareto-stationary) or ``||J||_F^2 < norm_eps`` gives the zero direction, as in TorchJD.

    Args:
      J: ``(m, n)`` floating array, one gradient per row.
      c: the ball's radius relative to ``||g_0||``, >= 0 (0.5 is the paper's usual value).
      norm_eps: the thresholds above.

    Returns:
      ``(n,)`` direction, J's dtype.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import aggregators
      >>> J = jnp.array([[1.0, 0.0], [0.0, 1.0]])          # no conflict: the mean, lengthened by c
      >>> [round(x, 4) for x in aggregators.cagrad(J, c=0.5).tolist()]
      [0.75, 0.75]

    Reference: Liu, Liu, Jin, Stone & Liu, "Conflict-Averse Gradient Descent for Multi-task Learning", 2021.

    Properties: not non-conflicting; not linear under scaling; weighted.
    """
    _check_nonnegative("cagrad", c=c, norm_eps=norm_eps)
    return _aggregate(_cagrad_core, J, c, norm_eps)


# ---------------------------------------------------------------------------------------------- nash_mtl

@_core
def _nash_core(G: jax.Array, max_norm: Any, reg_eps: Any) -> jax.Array:
    trace = jnp.trace(G)
    scale = jnp.sqrt(jnp.where(trace > 0, trace, 1))
    Gn = _normalize(G, 0.0)
    # reg_eps relative to each row's squared norm: the solution stays invariant under row scaling.
    v = _qp.nash_weights(_qp.jitter(Gn + reg_eps * jnp.diag(jnp.diagonal(Gn))))
    w = v / scale                                           # G w = 1/w for G, from G/tr(G) v = 1/v
    norm = jnp.sqrt(jnp.maximum(jnp.dot(w, jnp.matmul(G, w, precision=_HIGHEST)), 0))
    clip = (max_norm > 0) & (norm > max_norm)
    return jnp.where(clip, w * (max_norm / jnp.where(clip, norm, 1)), w)


def _nash_mtl_weights(G: jax.Array, *, max_norm: float = 1.0, reg_eps: float = 1e-8) -> jax.Array:
    _check_nonnegative("nash_mtl", max_norm=max_norm, reg_eps=reg_eps)
    return _nash_core(G, max_norm, reg_eps)


@aggregator(properties=Properties(non_conflicting=True, linear_under_scaling=False, weighted=True),
            weights=_nash_mtl_weights)
def nash_mtl(J: jax.Array, *, max_norm: float = 1.0, reg_eps: float = 1e-8) -> jax.Array:
    """Nash-MTL: the Nash bargaining solution between the terms.

    .. math:: d = J^T w, \\qquad G w = 1 / w, \\quad w > 0 \\quad (\\text{elementwise}),

    then ``d`` is shortened to ``max_norm`` if longer (TorchJD's clipping; ``max_norm=0`` turns it off).
    Up to scale ``d`` maximizes ``sum_i log(g_i . d)`` over a ball: every term gets ``g_i . d = 1 / w_i > 0``
    and ``||d|| = sqrt(m)`` before clipping (so a unit vector with the default ``max_norm=1``, ``m >= 2``).
    The solution does not change when a term's gradient is scaled (its weight scales inversely). Use it
    for a fair, scale-invariant compromise; it is not linear under scaling.

    Stateless, unlike the paper's and TorchJD's (which warm-start a cvxpy solve from the previous step's
    weights and stop after 20 convex-concave steps, sometimes far from the solution): each call solves
    ``G w = 1/w`` from scratch, as the minimizer of the self-concordant ``1/2 w^T G w - sum(log w)``, by
    50 damped Newton steps on the device (:func:`_qp.nash_weights`): on full-rank random Gramians the
    residual ``|w * G w - 1|`` is about 1e-15 after 10 steps in float64 (1e-7 in float32).

    Numerical care: the solution exists only if no convex combination of the gradients vanishes (no
    Pareto-stationary point): on the trace-normalized Gramian ``reg_eps`` is added to each diagonal entry
    relative to it (``G_ii (1 + reg_eps)``, which keeps the scale invariance), so that there a zero row
    or opposite rows get a large finite weight and contribute nothing to ``d`` (``d = 0`` for
    ``[g, -g]``); the default 1e-8 moves ``d`` by about ``1e-8`` times the condition number of the rows'
    correlation matrix.

    Args:
      J: ``(m, n)`` floating array, one gradient per row.
      max_norm: the largest length of ``d``; 0 for no clipping.
      reg_eps: the relative regularization of the Gramian's diagonal.

    Returns:
      ``(n,)`` direction, J's dtype.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import aggregators
      >>> J = jnp.array([[2.0, 0.0], [0.0, 1.0]])          # orthogonal rows: w_i = 1 / |g_i|
      >>> [round(x, 4) for x in aggregators.nash_mtl(J, max_norm=0.0, reg_eps=0.0).tolist()]
      [1.0, 1.0]

    Reference: Navon, Shamsian, Achituve, Maron, Kawaguchi, Chechik & Fetaya, "Multi-Task Learning as a
    Bargaining Game", 2022.

    Properties: non-conflicting; not linear under scaling; weighted.
    """
    _check_nonnegative("nash_mtl", max_norm=max_norm, reg_eps=reg_eps)
    return _aggregate(_nash_core, J, max_norm, reg_eps)
