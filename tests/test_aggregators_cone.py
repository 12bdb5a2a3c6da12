"""The dual-cone aggregators (upgrad, dualproj, mgda, cagrad, nash_mtl) and their device solvers.

Every aggregator is checked against an independent NumPy float64 reference written here: the quadratic
programs are solved exactly by enumerating active sets and solving each one's KKT system (exact for the
m = 4 terms used), CAGrad by enumerating the supports of its dual's stationary points, and Nash-MTL by its
optimality condition ``G w = 1 / w``. The declared properties are hypothesis properties, and the ones not
declared are shown by counterexamples. Compile budget: every aggregator and its weights run inside one
jitted ``_bundle`` whose options are arguments (new values do not recompile), compiled for (4, 6)
float64, (4, 6) float32, (1, 6) float64 and, under ``vmap``, a batch of (4, 6) float64 matrices;
hypothesis draws seeds at those fixed shapes, so nothing recompiles.

Cross-checked outside the suite against TorchJD 0.18 (with quadprog, cvxpy 1.9, Clarabel, ECOS) on 200
random float64 Jacobians, m in 2..6, n = 20, max |d - d_torchjd| / max |d_torchjd|: upgrad 1.3e-15 and
dualproj 9.6e-16 (quadprog); cagrad 1.7e-4, where TorchJD's Clarabel solution has the larger objective and
this one agrees with the enumeration to 1e-15; mgda 0.2 (median 7e-3), TorchJD's Frank-Wolfe stopping at
epsilon = 1e-3 (with epsilon = 1e-12 and 10^4 iterations: median 8e-12, max 2e-2); nash_mtl median 2e-9,
8e-8 in 199 of 200 (reg_eps = 1e-8), the other one a Jacobian where TorchJD's 20 convex-concave steps end
far from ``G w = 1/w``, which this one satisfies to 2e-15.
"""

from __future__ import annotations

import inspect
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxloss import aggregators
from jaxloss.aggregators import Properties

NAMES = ("upgrad", "dualproj", "mgda", "cagrad", "nash_mtl")
PREF4 = np.array([1.0, 2.0, 0.5, 1.5])


@jax.jit
def _bundle(J, pref, reg, c, max_norm, nash_reg):
    """Every aggregator and its weights, in one program whose options are all arguments (a new value does
    not recompile): pref_vector and reg_eps of upgrad and dualproj, CAGrad's c, Nash-MTL's max_norm and
    reg_eps. The defaults' values are checked in test_defaults_are_torchjds."""
    a = aggregators
    G = jnp.matmul(J, J.T, precision=jax.lax.Precision.HIGHEST)
    options = {"upgrad": dict(pref_vector=pref, reg_eps=reg), "dualproj": dict(pref_vector=pref, reg_eps=reg),
               "mgda": {}, "cagrad": dict(c=c), "nash_mtl": dict(max_norm=max_norm, reg_eps=nash_reg)}
    out = {name: getattr(a, name)(J, **options[name]) for name in NAMES}
    weights = {name: getattr(a, name).weights(G, **options[name]) for name in NAMES}
    return out, weights


DEFAULTS = dict(reg=1e-4, c=0.5, max_norm=1.0, nash_reg=1e-8)


def run(J, pref=None, **options):
    """The bundle's directions and weights as float64 NumPy arrays; options as DEFAULTS, pref 1/m."""
    J = jnp.asarray(J)
    pref = np.full(J.shape[0], 1 / J.shape[0]) if pref is None else pref
    options = {k: jnp.asarray(v, J.dtype) for k, v in {**DEFAULTS, **options}.items()}
    out, weights = _bundle(J, jnp.asarray(pref, J.dtype), **options)
    return {k: np.asarray(v) for k, v in out.items()}, {k: np.asarray(v) for k, v in weights.items()}


def test_defaults_are_torchjds():
    for name, defaults in {"upgrad": dict(pref_vector=None, norm_eps=1e-4, reg_eps=1e-4),
                           "dualproj": dict(pref_vector=None, norm_eps=1e-4, reg_eps=1e-4),
                           "mgda": {}, "cagrad": dict(c=0.5, norm_eps=1e-4),
                           "nash_mtl": dict(max_norm=1.0, reg_eps=1e-8)}.items():
        for fn in (getattr(aggregators, name), getattr(aggregators, name).weights):
            parameters = list(inspect.signature(fn).parameters.values())[1:]
            assert {p.name: p.default for p in parameters} == defaults, name
            assert all(p.kind is p.KEYWORD_ONLY for p in parameters), name


# ------------------------------------------------------------------------------ NumPy float64 references

def normalize(G, norm_eps=1e-4):
    """TorchJD's normalization: G / tr(G), or 0 below norm_eps."""
    trace = np.trace(G)
    return np.zeros_like(G) if trace < norm_eps or trace <= 0 else G / trace


def ref_nonnegative_qp(G, c):
    """argmin_{x >= 0} 1/2 x^T G x + c^T x: the free set whose KKT solution is primal and dual feasible."""
    m = len(c)
    for F in itertools.chain.from_iterable(itertools.combinations(range(m), k) for k in range(m + 1)):
        F = list(F)
        x = np.zeros(m)
        if F:
            x[F] = np.linalg.lstsq(G[np.ix_(F, F)], -c[F], rcond=None)[0]     # a zero row: its x_i = 0
        mu = G @ x + c
        tol = 1e-10 * (1 + np.abs(c).max() + np.abs(G).max() * np.abs(x).sum())
        if x.min() >= -tol and np.delete(mu, F).min(initial=0) >= -tol:
            return np.maximum(x, 0)
    raise AssertionError("no KKT point")


def ref_upgrad(J, pref=None, reg_eps=1e-4):
    """Quinton & Rey 2024: w = sum_i v_i, v_i = argmin_{v >= p_i e_i} v^T G v on G / tr(G) + reg_eps I."""
    m = len(J)
    p = np.full(m, 1 / m) if pref is None else pref
    G = normalize(J @ J.T) + reg_eps * np.eye(m)
    U = np.diag(p)
    return sum(u + ref_nonnegative_qp(G, G @ u) for u in U) @ J


def ref_dualproj(J, pref=None, reg_eps=1e-4):
    m = len(J)
    u = np.full(m, 1 / m) if pref is None else pref
    G = normalize(J @ J.T) + reg_eps * np.eye(m)
    return (u + ref_nonnegative_qp(G, G @ u)) @ J


def ref_mgda(J):
    """The min-norm point of the rows' convex hull: the support whose bordered KKT system
    [[G_FF, -1], [1^T, 0]] [w_F, lam] = [0, 1] has w >= 0 and (G w)_j >= lam off the support."""
    G = normalize(J @ J.T, 0.0)
    m = len(G)
    for k in range(1, m + 1):
        for F in itertools.combinations(range(m), k):
            K = np.block([[G[np.ix_(F, F)], -np.ones((k, 1))], [np.ones((1, k)), np.zeros((1, 1))]])
            solution = np.linalg.lstsq(K, np.r_[np.zeros(k), 1.0], rcond=None)[0]
            w = np.zeros(m)
            w[list(F)] = solution[:k]
            if w.min() >= -1e-12 and (G @ w).min() >= solution[k] - 1e-12:
                return w @ J
    raise AssertionError("no KKT point")


def ref_cagrad(J, c=0.5, norm_eps=1e-4):
    """TorchJD's CAGradWeighting: w minimizes b^T w + r sqrt(w^T G w) over the simplex (b = G 1/m,
    r = c ||g0||); on each support the stationarity conditions b_F + (r / s) G_FF w_F = lam 1 with
    sum(w) = 1, s^2 = w^T G w give w_F = (lam p - q) / (lam P - Q) (p = G_FF^-1 1, q = G_FF^-1 b_F); the
    optimum is the stationary point that is feasible and whose gradient is smallest on its support.
    Weights 1/m + (r / s) w, or 0 where s = ||g_w|| < norm_eps."""
    m = len(J)
    G = normalize(J @ J.T, norm_eps)
    u = np.full(m, 1 / m)
    if not G.any():
        return 0 * J[0]
    b = G @ u
    r = c * np.sqrt(u @ b)
    if r == 0:
        return u @ J
    for k in range(1, m + 1):
        for F in map(list, itertools.combinations(range(m), k)):
            p, q = np.linalg.lstsq(G[np.ix_(F, F)], np.stack([np.ones(k), b[F]], axis=1), rcond=None)[0].T
            P, Q, B = p.sum(), q.sum(), b[F] @ q
            if Q * Q - P * (B - r * r) <= 0:
                continue
            lam = (Q + np.sqrt(Q * Q - P * (B - r * r))) / P
            w = np.zeros(m)
            w[F] = (lam * p - q) / (lam * P - Q)
            s = np.sqrt(w @ G @ w)
            gradient = b + r * G @ w / s
            if w.min() >= -1e-12 and gradient.min() >= gradient[F].max() - 1e-10:
                return (u + r / s * w) @ J if s >= norm_eps else 0 * J[0]
    # No stationary point with g_w != 0: the optimum is a zero row's vertex (g_w = 0, TorchJD's weights 0).
    assert (np.diagonal(G) == 0).any(), "no stationary point"
    return 0 * J[0]


def close(a, b, rtol=1e-8, atol=1e-12):
    """Norm-relative closeness of two vectors (entries of a direction share one scale)."""
    return np.linalg.norm(np.asarray(a, np.float64) - b) <= rtol * np.linalg.norm(b) + atol


def random_J(seed, log_scales, shape=(4, 6)):
    rng = np.random.default_rng(seed)
    return rng.normal(size=shape) * 10.0 ** np.asarray(log_scales)[:, None]


seeds = st.integers(0, 2**32 - 1)
log_scales = st.lists(st.floats(-2, 2), min_size=4, max_size=4)


# ------------------------------------------------------------------------------------- values, weights

@settings(max_examples=20, deadline=None, derandomize=True)
@given(seeds, log_scales, st.one_of(st.just(0.0), st.floats(0.01, 2.0)))
def test_each_equals_its_numpy_reference_and_its_weights(seed, scales, c):
    J = random_J(seed, scales)
    runs = {"defaults": (run(J), dict()), "options": (run(J, pref=PREF4, reg=0.0, c=c), dict(pref=PREF4, reg_eps=0.0))}
    for label, ((out, weights), options) in runs.items():
        expected = {"upgrad": ref_upgrad(J, **options), "dualproj": ref_dualproj(J, **options), "mgda": ref_mgda(J),
                    "cagrad": ref_cagrad(J, c if options else 0.5)}
        for name, d in expected.items():
            assert close(out[name], d, rtol=1e-9), (label, name)
        for name, w in weights.items():                # weighted: d = J^T w, w = fn.weights(J J^T)
            assert close(w @ J, out[name], rtol=1e-12), (label, name)
    # Nash-MTL: the bargaining solution G w = 1/w (no clipping, no regularization) ...
    (raw, w), G = run(J, max_norm=0.0, nash_reg=0.0), J @ J.T
    assert w["nash_mtl"].min() > 0 and np.abs(w["nash_mtl"] * (G @ w["nash_mtl"]) - 1).max() < 1e-9
    # ... of length sqrt(m) = 2 (J^T w . J^T w = w . G w = m), shortened to max_norm when longer.
    assert abs(np.linalg.norm(raw["nash_mtl"]) - 2) < 1e-9
    clipped = run(J, nash_reg=0.0)[0]["nash_mtl"]
    assert close(clipped, raw["nash_mtl"] / 2, rtol=1e-12)
    # The default reg_eps = 1e-8 (relative to each row's squared norm) moves d by about reg_eps cond(G).
    assert close(runs["defaults"][0][0]["nash_mtl"], clipped, rtol=1e-8 * np.linalg.cond(G))


@settings(max_examples=15, deadline=None, derandomize=True)
@given(seeds, log_scales, st.lists(st.floats(0.1, 3.0), min_size=8, max_size=8), st.floats(0.1, 2), st.floats(0.1, 2))
def test_declared_properties(seed, scales, cs, alpha, beta):
    """Non-conflicting: J d >= 0. Linear under scaling (TorchJD's definition): A(diag(alpha c1 + beta c2) J)
    = alpha A(diag(c1) J) + beta A(diag(c2) J) for c > 0. Weighted: checked with the references."""
    J = random_J(seed, scales)
    scale = np.linalg.norm(J) * np.linalg.norm(J, axis=1)
    declared = [name for name in NAMES if getattr(aggregators, name).properties.non_conflicting]
    assert declared == ["upgrad", "dualproj", "mgda", "nash_mtl"]
    exact = run(J, reg=0.0, nash_reg=0.0)[0]                            # exact for independent rows
    for name in declared:
        assert np.all(J @ exact[name] >= -1e-10 * scale), name
    # TorchJD's default reg_eps trades a conflict of at most reg_eps tr(G) w_i for strict convexity.
    out, weights = run(J)
    for name in declared:
        assert np.all(J @ out[name] >= -1e-4 * np.trace(J @ J.T) * weights[name] - 1e-10 * scale), name
    c1, c2 = np.array(cs[:4]), np.array(cs[4:])
    x1, x2, x = (run(c[:, None] * J, reg=0.0)[0] for c in (c1, c2, alpha * c1 + beta * c2))
    declared = [name for name in NAMES if getattr(aggregators, name).properties.linear_under_scaling]
    assert declared == ["upgrad"]
    assert close(x["upgrad"], alpha * x1["upgrad"] + beta * x2["upgrad"], rtol=1e-8)


def test_declared_properties_are_the_papers():
    """Quinton and Rey, Jacobian Descent for Multi-Objective Optimization (2024), Table 1, as TorchJD."""
    table = {"upgrad": (True, True, True), "dualproj": (True, False, True), "mgda": (True, False, True),
             "cagrad": (False, False, True), "nash_mtl": (True, False, True)}
    for name, row in table.items():
        fn = getattr(aggregators, name)
        assert fn.properties == Properties(*row), name
        assert fn.weights is not None and aggregators.AGGREGATORS[name] is fn, name


# ------------------------------------------------------------------------------ what they do not promise

def test_cagrad_conflicting_counterexample():
    J = np.hstack([[[3.0, 2.0], [-3.0, -3.0], [3.0, 2.0], [3.0, -1.0]], np.zeros((4, 4))])
    out, _ = run(J, reg=0.0)
    assert (J @ out["upgrad"]).min() > 0.1                 # a direction good for every term exists
    assert (J @ out["cagrad"]).min() < -0.3 * np.abs(J @ out["cagrad"]).max()


def test_not_linear_under_scaling_counterexample():
    J = random_J(1, [0, 0, 0, 0])
    c1, c2 = np.ones(4), np.array([4.0, 1.0, 1.0, 1.0])
    x1, x2, x = (run(c[:, None] * J)[0] for c in (c1, c2, c1 + c2))
    for name in ("dualproj", "mgda", "cagrad", "nash_mtl"):
        assert not getattr(aggregators, name).properties.linear_under_scaling
        assert not close(x[name], x1[name] + x2[name], rtol=1e-2), name
    # Nash-MTL is scale-invariant instead: a term's weight scales inversely to its gradient.
    assert close(x["nash_mtl"], x1["nash_mtl"], rtol=1e-12)


# ----------------------------------------------------------------------------------------------- edges

g, h, k, l = random_J(5, [0, 0, 0, 0])
EDGES = {"identical": [g, g, g, g], "opposite": [g, -g, g, -g], "zero row": [g, 0 * g, h, k],
         "zero": [0 * g] * 4, "scales": [1e3 * g, 1e-2 * h, k, 10 * l], "extreme scales": [1e8 * g, 1e-8 * h, k, l]}
_vmapped = jax.jit(jax.vmap(_bundle))


def test_edge_cases_under_jit_and_vmap():
    """Under jit and vmap, with reg_eps = 0 (upgrad, dualproj, nash_mtl) and no clipping: only the jitter
    keeps the dependent cases finite."""
    Js = np.stack([np.array(rows) for rows in EDGES.values()])
    n = len(Js)
    zeros = jnp.zeros(n)
    batch = _vmapped(jnp.asarray(Js), jnp.full((n, 4), 0.25), zeros, jnp.full(n, 0.5), zeros, zeros)
    out = {case: {key: np.asarray(v[i]) for key, v in batch[0].items()} for i, case in enumerate(EDGES)}
    weights = {case: {key: np.asarray(v[i]) for key, v in batch[1].items()} for i, case in enumerate(EDGES)}
    for case in EDGES:
        for name in NAMES:
            assert np.all(np.isfinite(out[case][name])) and np.all(np.isfinite(weights[case][name])), (case, name)
    unit = g / np.linalg.norm(g)
    expected = {
        "identical": dict(upgrad=g, dualproj=g, mgda=g, cagrad=1.5 * g, nash_mtl=2 * unit),  # |d| = sqrt(m)
        "opposite": {name: 0 * g for name in NAMES},
        "zero row": dict(mgda=0 * g),                      # 0 is in the hull
        "zero": {name: 0 * g for name in NAMES},
    }
    for case, values in expected.items():
        for name, d in values.items():
            assert close(out[case][name], d, rtol=1e-6, atol=1e-6 * np.linalg.norm(EDGES[case])), (case, name)
    for case in ("zero row", "scales"):
        J = np.array(EDGES[case])
        refs = {"upgrad": ref_upgrad(J, reg_eps=0.0), "dualproj": ref_dualproj(J, reg_eps=0.0), "cagrad": ref_cagrad(J)}
        for name, d in refs.items():
            assert close(out[case][name], d, rtol=1e-8), (case, name)
        # Nash-MTL: every nonzero row gets g_i . d = 1 / w_i (the zero row's large weight multiplies 0).
        w, G = weights[case]["nash_mtl"], J @ J.T
        nonzero = np.linalg.norm(J, axis=1) > 0
        assert np.abs(w * (G @ w) - 1)[nonzero].max() < 1e-8, case
    assert close(out["scales"]["mgda"], ref_mgda(np.array(EDGES["scales"])), rtol=1e-8)
    J = np.array(EDGES["extreme scales"])                 # 16 orders of magnitude apart: still non-conflicting
    for name in ("upgrad", "dualproj", "mgda", "nash_mtl"):
        assert np.all(J @ out["extreme scales"][name] >= -1e-9 * np.linalg.norm(J) * np.linalg.norm(J, axis=1)), name
    for case, J in zip(EDGES, Js):                         # vmap equals the unbatched program
        single = run(J, reg=0.0, max_norm=0.0, nash_reg=0.0)[0]
        for name in NAMES:
            assert close(out[case][name], single[name], rtol=1e-10, atol=1e-300), (case, name)


def test_a_single_term():
    row = g
    out, weights = run(row[None, :], max_norm=0.0)
    for name in ("upgrad", "dualproj", "mgda"):
        assert close(out[name], row), name
    assert close(out["cagrad"], 1.5 * row)                 # the mean lengthened by c = 0.5 along itself
    assert close(out["nash_mtl"], row / np.linalg.norm(row))
    assert close(weights["nash_mtl"], [1 / np.linalg.norm(row)])


def test_float32_kept_and_close_to_float64():
    J = random_J(7, [0.5, -0.5, 0.0, 0.3])
    out32, weights32 = run(J.astype(np.float32), pref=PREF4)
    out64, _ = run(J, pref=PREF4)
    for name in NAMES:
        assert out32[name].dtype == weights32[name].dtype == np.float32, name
        assert close(out32[name], out64[name], rtol=1e-5), name
        assert close(weights32[name] @ J, out64[name], rtol=1e-5), name
    assert close(out64["upgrad"], ref_upgrad(J, PREF4), rtol=1e-10)


# ---------------------------------------------------------------------------------------------- errors

@pytest.mark.parametrize("name", NAMES)
def test_bad_matrix_names_the_function(name):
    fn = getattr(aggregators, name)
    with pytest.raises(ValueError, match=rf"^{name}: J must have shape \(m, n\)"):
        fn(np.ones(3))
    with pytest.raises(TypeError, match=rf"^{name}: J must hold floating-point"):
        fn(np.ones((2, 3), np.int32))
    with pytest.raises(ValueError, match=rf"^{name}: the Gramian G = J @ J.T must be square"):
        fn.weights(np.ones((2, 3)))


def test_bad_options_name_the_function():
    J = np.ones((2, 3))
    for name in ("upgrad", "dualproj"):
        with pytest.raises(ValueError, match=rf"^{name}: pref_vector must have shape \(m,\) = \(2,\)"):
            getattr(aggregators, name)(J, pref_vector=np.ones(3))
        with pytest.raises(ValueError, match=rf"^{name}: reg_eps must be a non-negative number; got -1.0"):
            getattr(aggregators, name).weights(np.eye(2), reg_eps=-1.0)
    with pytest.raises(ValueError, match=r"^cagrad: c must be a non-negative number; got -0.5"):
        aggregators.cagrad(J, c=-0.5)
    with pytest.raises(ValueError, match=r"^nash_mtl: max_norm must be a non-negative number"):
        aggregators.nash_mtl(J, max_norm=-1.0)
