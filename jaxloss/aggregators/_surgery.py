"""Aggregators that edit the gradients: averaging, projection, sign dropout, equal projections, alignment.

Each is a pure, jittable, vmappable function ``aggregator(J, **options) -> d`` of the ``(m, n)`` matrix
``J`` whose rows are the terms' gradients; float32 and float64 are kept. All but :func:`graddrop`
depend on ``J`` only through its Gramian ``G = J J^T`` and give their weights as
``aggregator.weights(G, **options) -> w``, with ``aggregator(J) == aggregator.weights(J @ J.T) @ J``.

Numerical care shared by all of them: Gramians are computed from ``J / max|J|`` (the weights do not depend
on the scale of ``G``; entries near 1e-200 or 1e200 would underflow or overflow when squared), and every
weighting first divides ``G`` by its largest diagonal entry; products are computed at the highest matmul
precision (no TF32 on GPUs); a zero row (a term with no gradient) is never divided by (its weight or
its projection is 0, never NaN); rank decisions use a tolerance relative to the largest eigen- or
singular value and the dtype's machine epsilon, stated in each docstring. Each function and each
weighting is one compiled program (``jax.jit``), so an eager call dispatches once.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

import jax
import jax.numpy as jnp

from jaxloss.aggregators._base import Properties, aggregator, check_preference

__all__ = ["mean", "pcgrad", "graddrop", "imtl_g", "aligned_mtl", "config"]

_HIGHEST = jax.lax.Precision.HIGHEST


def _peak(x: jax.Array) -> jax.Array:
    return jnp.max(jnp.abs(x))


def _scaled(J: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``J / max|J|`` (J = 0 stays 0) and ``max|J|``: squaring entries near 1e-200 or 1e200 (1e-23 or 1e20
    in float32) would underflow or overflow, and every weighting here is unchanged when G is scaled."""
    peak = _peak(J)
    return _safe_divide(J, peak), peak


def _dot(a: jax.Array, b: jax.Array) -> jax.Array:
    return jnp.matmul(a, b, precision=_HIGHEST)


def _gramian(J: jax.Array) -> jax.Array:
    """The Gramian of ``J / max|J|``: the weights' input, free of overflow and underflow."""
    Js, _ = _scaled(J)
    return _dot(Js, Js.T)


def _unit_gramian(G: jax.Array) -> jax.Array:
    """``G / max_i G_ii`` (G = 0 stays 0): a given Gramian brought to unit scale."""
    return _safe_divide(G, jnp.max(jnp.diagonal(G)))


def _combine(w: jax.Array, J: jax.Array) -> jax.Array:
    """``d = J^T w`` in J's dtype."""
    return _dot(w.astype(J.dtype), J)


def _safe_divide(a: jax.Array, b: jax.Array) -> jax.Array:
    """``a / b`` where ``b > 0``, else 0 (the double where: no NaN in the value or the gradient)."""
    positive = b > 0
    return jnp.where(positive, a / jnp.where(positive, b, 1), 0)


# --------------------------------------------------------------------------------------------------- mean

@jax.jit
def _mean_weights(G: jax.Array) -> jax.Array:
    m = G.shape[0]
    return jnp.full((m,), 1.0 / m, dtype=G.dtype)


@aggregator(properties=Properties(non_conflicting=False, linear_under_scaling=True, weighted=True),
            weights=_mean_weights)
@jax.jit
def mean(J: jax.Array) -> jax.Array:
    """The average of the gradients: what minimising the mean of the terms follows.

    .. math:: d = \\frac{1}{m} \\sum_i g_i = J^T w, \\qquad w = \\tfrac{1}{m} \\mathbf{1}.

    The baseline every other aggregator is measured against. It can increase a term whose gradient
    conflicts with the others (``J = [[1, 0], [-2, 1]]`` gives ``J @ d = [-0.5, 1.5]``), and a term with
    a large gradient dominates the others.

    Args:
      J: ``(m, n)`` floating array, one gradient per row.

    Returns:
      ``(n,)`` direction, J's dtype.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import aggregators
      >>> aggregators.mean(jnp.array([[1.0, 0.0], [-2.0, 1.0]])).tolist()
      [-0.5, 0.5]

    Properties: not non-conflicting; linear under scaling; weighted (``w = 1/m``).
    """
    return jnp.mean(J, axis=0)


# ------------------------------------------------------------------------------------------------- pcgrad

@jax.jit
def _pcgrad_weights(G: jax.Array) -> jax.Array:
    G = _unit_gramian(G)
    m = G.shape[0]
    diagonal = jnp.diagonal(G)
    index = jnp.arange(m)

    # Row i of W holds the weights of g_i's projected copy g_i^PC = W[i] @ J; each is edited in turn by
    # every other term j, in index order: g_i^PC -= min(g_i^PC . g_j, 0) / |g_j|^2 g_j.
    def project(j: jax.Array, W: jax.Array) -> jax.Array:
        inner = _dot(W, G[j])                                # g_i^PC . g_j for every i
        # A zero row j has |g_j|^2 = 0 and no conflict: _safe_divide gives 0 instead of 0/0.
        step = jnp.where((inner < 0) & (index != j), _safe_divide(inner, diagonal[j]), 0)
        return W.at[:, j].add(-step)

    W = jax.lax.fori_loop(0, m, project, jnp.eye(m, dtype=G.dtype))
    return jnp.sum(W, axis=0)


@aggregator(properties=Properties(non_conflicting=False, linear_under_scaling=True, weighted=True),
            weights=_pcgrad_weights)
@jax.jit
def pcgrad(J: jax.Array) -> jax.Array:
    """PCGrad: each gradient projected onto the normal plane of every other gradient it conflicts with.

    For each term ``i``, starting from ``g_i^PC = g_i``, for each other term ``j`` in index order:

    .. math:: \\text{if } g_i^{PC} \\cdot g_j < 0: \\quad
              g_i^{PC} \\leftarrow g_i^{PC} - \\frac{g_i^{PC} \\cdot g_j}{\\|g_j\\|^2} g_j,
              \\qquad d = \\sum_i g_i^{PC}.

    Everything is a combination of the rows, so it runs on the Gramian ``G = J J^T`` (``g_i^PC = W_i J``,
    ``g_i^PC . g_j = W_i G_j``) and ``d = J^T w`` with ``w = sum_i W_i``. The paper draws a random order
    of the other terms for each ``i``; here the order is the terms' index order, so the result is a
    deterministic function of ``J`` (as TorchJD's PCGrad with the identity permutation). With two terms
    the order does not matter and ``d`` is non-conflicting; with three or more a term can still increase.

    Use it as the classic multi-task gradient surgery; note that ``d`` sums (not averages) the edited
    gradients, as in the paper.

    Numerical care: a zero row is never divided by (it conflicts with nothing).

    Args:
      J: ``(m, n)`` floating array, one gradient per row.

    Returns:
      ``(n,)`` direction, J's dtype.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import aggregators
      >>> aggregators.pcgrad(jnp.array([[1.0, 0.0], [-1.0, 1.0]])).tolist()
      [0.5, 1.5]

    Reference: Yu et al., Gradient Surgery for Multi-Task Learning, NeurIPS 2020 (Algorithm 1).

    Properties: not non-conflicting (for m >= 3); linear under scaling; weighted.
    """
    return _combine(_pcgrad_weights(_gramian(J)), J)


# ----------------------------------------------------------------------------------------------- graddrop

@aggregator(properties=Properties(non_conflicting=False, linear_under_scaling=False, weighted=False))
@jax.jit
def graddrop(J: jax.Array, *, key: Any = None, leak: Any = None) -> jax.Array:
    """GradDrop: for each parameter, keep only the gradients of one sign, drawn by the sign's purity.

    For each column (parameter) ``k``, the positive-sign purity and a uniform draw:

    .. math:: P_k = \\tfrac12 \\Big(1 + \\frac{\\sum_i J_{ik}}{\\sum_i |J_{ik}|}\\Big), \\quad
              U_k \\sim \\mathcal U(0, 1), \\quad
              M_{ik} = [P_k > U_k][J_{ik} > 0] + [P_k < U_k][J_{ik} < 0],

    .. math:: d_k = \\sum_i \\big(\\ell_i + (1 - \\ell_i) M_{ik}\\big) J_{ik}.

    Where most gradients agree on a parameter's sign, their sign is kept with high probability; where
    they disagree, one sign is dropped at random. Acts on the entries of ``J``, not through its Gramian
    (no ``weights``). Needs a random key: the same key gives the same ``d``.

    Numerical care: a column of zeros has no purity (0/0); it is given ``P = 1/2`` and contributes 0.

    Args:
      J: ``(m, n)`` floating array, one gradient per row.
      key: a ``jax.random`` key (required), e.g. ``jax.random.key(0)``.
      leak: how much of each term passes through regardless of the mask, ``l_i`` in ``[0, 1]``: a scalar
        or an ``(m,)`` array; ``None`` (default) means 0 (no leak). ``leak=1`` gives the sum of the rows.

    Returns:
      ``(n,)`` direction, J's dtype.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxloss import aggregators
      >>> J = jnp.array([[1.0, 2.0], [3.0, -2.0]])
      >>> aggregators.graddrop(J, key=jax.random.key(0))[0].item()     # the first column agrees: kept
      4.0

    Reference: Chen et al., Just Pick a Sign: Optimizing Deep Multitask Models with Gradient Sign Dropout,
    NeurIPS 2020 (Algorithm 1, lines 10 to 15).

    Properties: not non-conflicting; not linear under scaling; not weighted (random).
    """
    if key is None:
        raise TypeError("graddrop: needs a random key, e.g. graddrop(J, key=jax.random.key(0)); use a new key "
                        "(jax.random.split) at each step.")
    m = J.shape[0]
    if leak is None:
        leak = jnp.zeros((m,), J.dtype)
    leak = jnp.asarray(leak)
    if leak.ndim > 1 or (leak.ndim == 1 and leak.shape[0] != m):
        raise ValueError(f"graddrop: leak must be a scalar or have shape (m,) = ({m},), one value per term (row "
                         f"of J); got shape {tuple(leak.shape)}.")
    leak = jnp.broadcast_to(leak.astype(J.dtype), (m,))[:, None]
    total = jnp.sum(J, axis=0)
    magnitude = jnp.sum(jnp.abs(J), axis=0)
    purity = 0.5 * (1 + _safe_divide(total, magnitude))         # 0/0 on a zero column: P = 1/2
    draw = jax.random.uniform(key, purity.shape, dtype=J.dtype)
    positive_wins = (purity > draw)[None, :]
    negative_wins = (purity < draw)[None, :]
    keep = (positive_wins & (J > 0)) | (negative_wins & (J < 0))
    return jnp.sum((leak + (1 - leak) * keep.astype(J.dtype)) * J, axis=0)


# ------------------------------------------------------------------------------------------------- imtl_g

@jax.jit
def _imtl_g_weights(G: jax.Array, *, epsilon: float | None = None) -> jax.Array:
    G = _unit_gramian(G)
    norms = jnp.sqrt(jnp.maximum(jnp.diagonal(G), 0))
    v = _dot(jnp.linalg.pinv(G), norms)   # pinv by SVD: hermitian=True (eigh) lost about two digits
    total = jnp.sum(v)
    # total * max|g_i| is scale-free (v scales as 1/|g|); it is 0 (up to rounding) when no combination has
    # equal projections on the unit gradients (e.g. two opposite rows): then the weights are 0.
    eps = jnp.sqrt(jnp.finfo(G.dtype).eps) if epsilon is None else epsilon
    degenerate = jnp.abs(total) * jnp.max(norms) <= eps
    return jnp.where(degenerate, 0, v / jnp.where(degenerate, 1, total))


@aggregator(properties=Properties(non_conflicting=False, linear_under_scaling=False, weighted=True),
            weights=_imtl_g_weights)
@jax.jit
def imtl_g(J: jax.Array, *, epsilon: float | None = None) -> jax.Array:
    """IMTL-G: the combination of the gradients whose projections on every unit gradient are equal.

    .. math:: v = G^{+} \\big(\\|g_1\\|, \\dots, \\|g_m\\|\\big)^T, \\qquad w = \\frac{v}{\\sum_i v_i},
              \\qquad d = J^T w,

    so that ``d . g_i / |g_i|`` is the same for every term (when the rows are linearly independent) and
    ``sum w = 1``. This is TorchJD's generalisation to linearly dependent rows (the pseudo-inverse ``G^+``)
    of the paper's closed form. Impartial: scaling a term's loss does not change ``d`` (so not linear
    under scaling).

    Numerical care: ``G^+`` drops eigenvalues below ``10 m eps`` times the largest (``jnp.linalg.pinv``);
    the weights are 0 (``d = 0``) when ``|sum v| max_i |g_i| <= epsilon``, which happens when no such
    combination exists (two opposite gradients) or ``J = 0``.

    Args:
      J: ``(m, n)`` floating array, one gradient per row.
      epsilon: the threshold above; ``None`` (default) means ``sqrt`` of J's machine epsilon (1.5e-8 in
        float64, 3.5e-4 in float32).

    Returns:
      ``(n,)`` direction, J's dtype.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import aggregators
      >>> J = jnp.array([[2.0, 0.0], [0.0, 1.0]])
      >>> [round(x, 4) for x in aggregators.imtl_g(J).tolist()]   # equal projections on e1 and e2
      [0.6667, 0.6667]

    Reference: Liu et al., Towards Impartial Multi-task Learning, ICLR 2021 (IMTL-G); Quinton and Rey,
    Jacobian Descent for Multi-Objective Optimization, 2024 (the pseudo-inverse form).

    Properties: not non-conflicting; not linear under scaling; weighted.
    """
    return _combine(_imtl_g_weights(_gramian(J), epsilon=epsilon), J)


# -------------------------------------------------------------------------------------------- aligned_mtl

ScaleMode = Literal["min", "median", "rmse"]


def _aligned_mtl_setup(m: int, dtype: Any, pref_vector: Any, scale_mode: str) -> jax.Array:
    """The preference ``p`` (``1/m`` by default), after checking the options."""
    if scale_mode not in ("min", "median", "rmse"):
        raise ValueError(f"aligned_mtl: scale_mode must be 'min', 'median' or 'rmse'; got {scale_mode!r}.")
    pref = check_preference("aligned_mtl", pref_vector, m, dtype)
    return jnp.full((m,), 1.0 / m, dtype) if pref is None else pref


def _aligned_mtl_spectrum(eigenvalues: jax.Array, m: int, scale_mode: str) -> tuple[jax.Array, jax.Array]:
    """From G's eigenvalues in descending order: which count (the rank), and ``1/sqrt(lambda) * sqrt(scale)``
    for those (0 for the others)."""
    # Rank: eigenvalues above 10 m eps times the largest; the others (and rounding, which can make them
    # slightly negative) are left out of the balance transformation.
    kept = eigenvalues > eigenvalues[0] * 10 * m * jnp.finfo(eigenvalues.dtype).eps
    rank = jnp.sum(kept)
    if scale_mode == "min":
        scale = jnp.min(jnp.where(kept, eigenvalues, jnp.inf))
    elif scale_mode == "median":                               # the lower median of the kept eigenvalues
        scale = eigenvalues[jnp.maximum(rank - 1 - (rank - 1) // 2, 0)]
    else:
        scale = jnp.sum(jnp.where(kept, eigenvalues, 0)) / jnp.maximum(rank, 1)
    safe = jnp.where(kept, eigenvalues, 1)
    return kept, jnp.where(kept, jnp.sqrt(jnp.where(rank > 0, scale, 1) / safe), 0)


@functools.partial(jax.jit, static_argnames="scale_mode")
def _aligned_mtl_weights(G: jax.Array, *, pref_vector: Any = None, scale_mode: ScaleMode = "min") -> jax.Array:
    G = _unit_gramian(G)
    m = G.shape[0]
    p = _aligned_mtl_setup(m, G.dtype, pref_vector, scale_mode)
    eigenvalues, V = jnp.linalg.eigh(G)
    eigenvalues, V = eigenvalues[::-1], V[:, ::-1]             # descending
    kept, factors = _aligned_mtl_spectrum(eigenvalues, m, scale_mode)
    B = _dot(V * factors[None, :], V.T)                        # sqrt(scale) V diag(lambda)^(-1/2) V^T
    return jnp.where(jnp.any(kept), _dot(B, p), p)             # G = 0: the preference itself (d = 0)


@aggregator(properties=Properties(non_conflicting=False, linear_under_scaling=False, weighted=True),
            weights=_aligned_mtl_weights)
@functools.partial(jax.jit, static_argnames="scale_mode")
def aligned_mtl(J: jax.Array, *, pref_vector: Any = None, scale_mode: ScaleMode = "min") -> jax.Array:
    """Aligned-MTL: the gradients made orthogonal and of equal norm before they are combined.

    With the eigendecomposition ``G = V diag(lambda) V^T`` (the ``r`` positive eigenvalues kept):

    .. math:: B = \\sqrt{\\lambda_{\\text{scale}}}\\; V \\operatorname{diag}(\\lambda)^{-1/2} V^T,
              \\qquad w = B p, \\qquad d = J^T w,

    so the rows of ``B J`` are orthogonal with equal norms (the stable condition number 1) and ``p`` (the
    preference vector, ``1/m`` by default) weights them. ``lambda_scale`` is the smallest kept eigenvalue
    (``scale_mode="min"``, the paper's choice), their lower median (``"median"``) or their mean
    (``"rmse"``, as in the original code).

    Use it when one term's large gradient dominates the others: every principal direction of the
    gradients gets the same weight.

    Numerical care: the call takes the eigenpairs of ``G`` from the SVD of ``J`` (``d = sqrt(lambda_scale)
    V_J U_J^T p``, with J's condition number rather than G's); ``aligned_mtl.weights`` uses ``eigh(G)``.
    Eigenvalues below ``10 m eps`` times the largest count as zero (rank deficiency); ``G = 0`` gives
    ``w = p`` (``d = 0``). Very different scales (a ratio of norms beyond about
    ``1/sqrt(eps)``) make the small direction fall under that tolerance.

    Args:
      J: ``(m, n)`` floating array, one gradient per row.
      pref_vector: ``(m,)`` preference over the terms; ``None`` (default) means ``1/m`` each.
      scale_mode: ``"min"`` (default), ``"median"`` or ``"rmse"``.

    Returns:
      ``(n,)`` direction, J's dtype.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import aggregators
      >>> J = jnp.array([[4.0, 0.0], [0.0, 1.0]])    # one gradient 4 times larger than the other
      >>> aggregators.aligned_mtl(J).tolist()           # both scaled to the smaller norm
      [0.5, 0.5]

    Reference: Senushkin et al., Independent Component Alignment for Multi-Task Learning, CVPR 2023
    (Algorithm 1).

    Properties: not non-conflicting; not linear under scaling; weighted.
    """
    m = J.shape[0]
    p = _aligned_mtl_setup(m, J.dtype, pref_vector, scale_mode)
    # The SVD J = U S V^T gives G's eigenpairs (S^2, U) with J's condition number, not G's (its square):
    # d = J^T B p = V S U^T sqrt(scale) U S^-1 U^T p = V (factors * S) U^T p (kept directions only).
    Js, peak = _scaled(J)
    U, singular, Vt = jnp.linalg.svd(Js, full_matrices=False)
    _, factors = _aligned_mtl_spectrum(singular * singular, m, scale_mode)
    return peak * _dot(factors * singular * _dot(p, U), Vt)


# ------------------------------------------------------------------------------------------------- config

def _unit_rows(J: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The rows of ``J`` divided by their norms (a zero row stays zero), and the norms.

    The rows are divided by their largest entry first, so that squaring neither overflows nor underflows."""
    peak = jnp.max(jnp.abs(J), axis=1, keepdims=True)
    scaled = _safe_divide(J, peak)
    scaled_norms = jnp.sqrt(jnp.sum(scaled * scaled, axis=1, keepdims=True))
    return _safe_divide(scaled, scaled_norms), (peak * scaled_norms)[:, 0]


@jax.jit
def _config_weights(G: jax.Array, *, pref_vector: Any = None) -> jax.Array:
    G = _unit_gramian(G)
    m = G.shape[0]
    pref = check_preference("config", pref_vector, m, G.dtype)
    p = jnp.ones((m,), G.dtype) if pref is None else pref
    norms = jnp.sqrt(jnp.maximum(jnp.diagonal(G), 0))
    cosines = _safe_divide(G, norms[:, None] * norms[None, :])   # the Gramian of the unit rows U
    z = _dot(jnp.linalg.pinv(cosines), p)                      # pinv(U) p = U^T z
    # d = (sum_i g_i . u) u with u = U^T z / |U^T z|; J U^T = diag(norms) U U^T, so
    # d = (norms . (U U^T z)) / |U^T z|^2 * U^T z, and U^T z = J^T (z / norms).
    projections = _dot(cosines, z)
    direction_sq = _dot(z, projections)                        # |U^T z|^2
    return _safe_divide(_dot(norms, projections), direction_sq) * _safe_divide(z, norms)


@aggregator(properties=Properties(non_conflicting=False, linear_under_scaling=True, weighted=True),
            weights=_config_weights)
@jax.jit
def config(J: jax.Array, *, pref_vector: Any = None) -> jax.Array:
    """ConFIG: the direction at equal angles to every gradient, as long as the sum of their projections on it.

    With ``U`` the rows of ``J`` divided by their norms and ``p`` the preference vector (ones by default):

    .. math:: u = \\frac{U^{+} p}{\\|U^{+} p\\|}, \\qquad d = \\Big(\\sum_i g_i \\cdot u\\Big)\\, u.

    When the rows are linearly independent, ``U u`` is proportional to ``p``: the cosines between ``d``
    and the gradients are equal (positive), so no term increases. With linearly dependent rows (more
    terms than the rank) the pseudo-inverse gives the least-squares direction and conflicts remain
    possible. Use it where the terms' gradients differ wildly in norm (physics-informed losses): the
    direction ignores the norms, the length uses them.

    It depends on ``J`` only through ``G`` (``U^+ p = U^T (U U^T)^+ p``), so ``config.weights(G)``
    exists; the call itself takes the pseudo-inverse of ``U`` (an SVD, better conditioned than the
    Gramian's, whose condition number is squared).

    Numerical care: a zero row stays zero in ``U``; singular values below ``10 max(m, n) eps`` times the
    largest are dropped (``jnp.linalg.pinv``); ``U^+ p = 0`` (e.g. ``J = 0``) gives ``d = 0``. The row
    norms are computed after dividing each row by its largest entry (no overflow or underflow).

    Args:
      J: ``(m, n)`` floating array, one gradient per row.
      pref_vector: ``(m,)`` preference over the terms; ``None`` (default) means ones.

    Returns:
      ``(n,)`` direction, J's dtype.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import aggregators
      >>> J = jnp.array([[1.0, 0.0], [0.0, 3.0]])
      >>> [round(x, 4) for x in aggregators.config(J).tolist()]   # at 45 degrees, of length (1+3)/sqrt(2)
      [2.0, 2.0]

    Reference: Liu et al., ConFIG: Towards Conflict-free Training of Physics Informed Neural Networks,
    ICLR 2025 (Equation 2).

    Properties: not non-conflicting (for linearly dependent rows); linear under scaling; weighted.
    """
    m = J.shape[0]
    pref = check_preference("config", pref_vector, m, J.dtype)
    p = jnp.ones((m,), J.dtype) if pref is None else pref
    U, _ = _unit_rows(J)
    best = _dot(jnp.linalg.pinv(U), p)
    u = _safe_divide(best, jnp.linalg.norm(best))
    length = jnp.sum(_dot(J, u))
    return length * u
