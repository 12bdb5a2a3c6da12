"""The gradient-surgery aggregators (mean, pcgrad, graddrop, imtl_g, aligned_mtl, config) and the pytree helpers.

Every aggregator is checked against an independent NumPy float64 reference written here, its declared
properties are checked as hypothesis properties, and the properties it does not have are shown by a
counterexample. Compile budget: every aggregator (and its options and weights) runs inside one jitted
``_bundle`` compiled for (3, 7) float64, (3, 7) float32, (1, 5) float64 and, under ``vmap``, a batch of
(2, 5) float64 matrices; hypothesis draws seeds at those fixed shapes, so nothing recompiles.
(Cross-checked outside the suite against TorchJD 0.18 on 200 random float64 Jacobians, m in 2..6, n = 20:
mean and pcgrad agree to 4e-16, config to 3e-15, imtl_g to 3e-10 and aligned_mtl to 4e-9, the last two
limited by G's conditioning; TorchJD's PCGrad with its random order replaced by the index order.)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxloss import aggregators
from jaxloss.aggregators import Properties

GRAMIAN_BASED = ("mean", "pcgrad", "imtl_g", "aligned_mtl", "config")
NAMES = (*GRAMIAN_BASED, "graddrop")
PREF3 = np.array([1.0, 2.0, 0.5])
LEAK3 = np.array([0.0, 0.25, 1.0])


@jax.jit
def _bundle(J, key, pref, leak):
    """Every aggregator, its options, its weights and graddrop's draw, in one program."""
    a = aggregators
    out = {name: getattr(a, name)(J) for name in GRAMIAN_BASED}
    out["graddrop"] = a.graddrop(J, key=key)
    out["graddrop_leak"] = a.graddrop(J, key=key, leak=leak)
    out["aligned_mtl_median"] = a.aligned_mtl(J, scale_mode="median")
    out["aligned_mtl_rmse"] = a.aligned_mtl(J, scale_mode="rmse")
    out["aligned_mtl_pref"] = a.aligned_mtl(J, pref_vector=pref)
    out["config_pref"] = a.config(J, pref_vector=pref)
    G = jnp.matmul(J, J.T, precision=jax.lax.Precision.HIGHEST)
    weights = {name: getattr(a, name).weights(G) for name in GRAMIAN_BASED}
    weights["aligned_mtl_pref"] = a.aligned_mtl.weights(G, pref_vector=pref)
    weights["config_pref"] = a.config.weights(G, pref_vector=pref)
    draw = jax.random.uniform(key, (J.shape[1],), dtype=J.dtype)   # graddrop's U (the reference needs it)
    return out, weights, draw


def run(J, key=0, pref=None, leak=None):
    J = jnp.asarray(J)
    m = J.shape[0]
    pref = np.ones(m) if pref is None else pref
    leak = np.zeros(m) if leak is None else leak
    out, weights, draw = _bundle(J, jax.random.key(key), jnp.asarray(pref, J.dtype), jnp.asarray(leak, J.dtype))
    return ({k: np.asarray(v) for k, v in out.items()}, {k: np.asarray(v) for k, v in weights.items()},
            np.asarray(draw))


# ------------------------------------------------------------------------------ NumPy float64 references

def ref_mean(J):
    return J.sum(axis=0) / J.shape[0]


def ref_pcgrad(J):
    """Yu et al. 2020, Algorithm 1, on the vectors themselves, the other terms in index order."""
    d = np.zeros(J.shape[1])
    for i in range(len(J)):
        g = J[i].copy()
        for j in range(len(J)):
            dot, sq = g @ J[j], J[j] @ J[j]
            if j != i and dot < 0 and sq > 0:
                g = g - dot / sq * J[j]
        d += g
    return d


def ref_graddrop(J, draw, leak):
    total, magnitude = J.sum(axis=0), np.abs(J).sum(axis=0)
    purity = 0.5 * (1 + np.divide(total, magnitude, out=np.zeros_like(total), where=magnitude > 0))
    mask = ((purity > draw) & (J > 0)) | ((purity < draw) & (J < 0))
    return ((leak[:, None] + (1 - leak[:, None]) * mask) * J).sum(axis=0)


def ref_imtl_g(J):
    """For linearly independent rows: the min-norm d with equal projections on the unit gradients
    (U d = 1, a least-squares solve, not G's pseudo-inverse), rescaled so that its weights sum to 1."""
    U = J / np.linalg.norm(J, axis=1, keepdims=True)
    d = np.linalg.lstsq(U, np.ones(len(J)), rcond=None)[0]
    w = np.linalg.lstsq(J.T, d, rcond=None)[0]
    return d / w.sum()


def ref_aligned_mtl(J, pref=None, scale_mode="min"):
    m = len(J)
    lam, V = np.linalg.eigh(J @ J.T)
    kept = lam > lam.max() * 1e-12
    lam, V = lam[kept], V[:, kept]
    scale = {"min": lam.min(), "median": np.sort(lam)[(len(lam) - 1) // 2], "rmse": lam.mean()}[scale_mode]
    B = np.sqrt(scale) * V @ np.diag(lam ** -0.5) @ V.T
    p = np.full(m, 1 / m) if pref is None else pref
    return J.T @ (B @ p)


def ref_config(J, pref=None):
    norms = np.linalg.norm(J, axis=1, keepdims=True)
    U = np.divide(J, norms, out=np.zeros_like(J), where=norms > 0)
    best = np.linalg.pinv(U) @ (np.ones(len(J)) if pref is None else pref)
    u = best / np.linalg.norm(best) if np.linalg.norm(best) > 0 else best
    return (J @ u).sum() * u


def references(J, draw):
    return {"mean": ref_mean(J), "pcgrad": ref_pcgrad(J), "imtl_g": ref_imtl_g(J), "aligned_mtl": ref_aligned_mtl(J),
            "aligned_mtl_median": ref_aligned_mtl(J, scale_mode="median"),
            "aligned_mtl_rmse": ref_aligned_mtl(J, scale_mode="rmse"),
            "aligned_mtl_pref": ref_aligned_mtl(J, PREF3), "config": ref_config(J), "config_pref": ref_config(J, PREF3),
            "graddrop": ref_graddrop(J, draw, np.zeros(len(J))), "graddrop_leak": ref_graddrop(J, draw, LEAK3)}


def close(a, b, rtol=1e-8, atol=1e-12):
    """Norm-relative closeness of two vectors (entries of a direction share one scale)."""
    return np.linalg.norm(np.asarray(a, np.float64) - b) <= rtol * np.linalg.norm(b) + atol


def random_J(seed, log_scales, shape=(3, 7)):
    rng = np.random.default_rng(seed)
    return rng.normal(size=shape) * 10.0 ** np.asarray(log_scales)[:, None]


seeds = st.integers(0, 2**32 - 1)
log_scales = st.lists(st.floats(-2, 2), min_size=3, max_size=3)


# ------------------------------------------------------------------------------------- values, weights

@settings(max_examples=20, deadline=None, derandomize=True)
@given(seeds, log_scales)
def test_each_equals_its_numpy_reference_and_its_weights(seed, scales):
    J = random_J(seed, scales)
    out, weights, draw = run(J, key=seed % 1000, pref=PREF3, leak=LEAK3)
    for name, expected in references(J, draw).items():
        assert close(out[name], expected, rtol=1e-7), name
    for name, w in weights.items():                 # weighted: d = J^T w, w = fn.weights(J J^T)
        assert close(w @ J, out[name], rtol=1e-7), name
    # What each definition promises for linearly independent rows (here m = 3 < n = 7):
    norms = np.linalg.norm(J, axis=1)
    projections = J @ out["imtl_g"] / norms             # IMTL-G: equal projections on the unit gradients
    assert np.ptp(projections) <= 1e-7 * np.abs(projections).max() and abs(weights["imtl_g"].sum() - 1) < 1e-8
    cosines = J @ out["config"] / norms                 # ConFIG: equal, positive cosines (non-conflicting)
    assert np.ptp(cosines) <= 1e-7 * cosines.max() and cosines.min() > 0
    pref_cosines = J @ out["config_pref"] / norms / PREF3
    assert np.ptp(pref_cosines) <= 1e-7 * pref_cosines.max()


@settings(max_examples=15, deadline=None, derandomize=True)
@given(seeds, log_scales, st.lists(st.floats(0.1, 3.0), min_size=6, max_size=6), st.floats(0.1, 2), st.floats(0.1, 2))
def test_linear_under_scaling_where_declared(seed, scales, cs, alpha, beta):
    """TorchJD's definition: A(diag(alpha c1 + beta c2) J) = alpha A(diag(c1) J) + beta A(diag(c2) J), c > 0."""
    J = random_J(seed, scales)
    c1, c2 = np.array(cs[:3]), np.array(cs[3:])
    x1, x2, x = (run(c[:, None] * J)[0] for c in (c1, c2, alpha * c1 + beta * c2))
    declared = [name for name in NAMES if getattr(aggregators, name).properties.linear_under_scaling]
    assert declared == ["mean", "pcgrad", "config"]
    for name in declared:
        assert close(x[name], alpha * x1[name] + beta * x2[name], rtol=1e-8), name


def test_declared_properties_are_torchjds():
    """The table of Quinton and Rey, Jacobian Descent for Multi-Objective Optimization (2024), as TorchJD."""
    table = {"mean": (False, True, True), "pcgrad": (False, True, True), "graddrop": (False, False, False),
             "imtl_g": (False, False, True), "aligned_mtl": (False, False, True), "config": (False, True, True)}
    for name, row in table.items():
        fn = getattr(aggregators, name)
        assert fn.properties == Properties(*row), name
        assert (fn.weights is not None) == (name != "graddrop"), name
        assert aggregators.AGGREGATORS[name] is fn


# ------------------------------------------------------------------------------ what they do not promise

def _pad(rows):
    """A (3, 2) counterexample as (3, 7): zero columns change nothing, and the (3, 7) program is reused."""
    return np.hstack([np.array(rows, float), np.zeros((3, 5))])


@pytest.mark.parametrize("name, rows", [
    ("mean", [[1, 0], [-3, 1], [1, 0]]),           # the average increases terms 1 and 3
    ("pcgrad", [[2, 3], [-2, -1], [3, -1]]),       # three terms: the projections re-create a conflict
    ("imtl_g", [[-2, 2], [-2, -1], [1, 0]]),       # linearly dependent rows: no equal projections exist
    ("aligned_mtl", [[2, -1], [0, 2], [-3, -1]]),
    ("config", [[-1, -3], [0, 1], [2, 2]]),        # linearly dependent rows: least-squares direction
])
def test_conflicting_counterexample(name, rows):
    assert not getattr(aggregators, name).properties.non_conflicting
    J = _pad(rows)
    d = run(J)[0][name]
    assert (J @ d).min() < -0.1 * np.abs(J @ d).max()


def test_not_linear_under_scaling_counterexample():
    J = random_J(1, [0, 0, 0])
    c1, c2 = np.ones(3), np.array([4.0, 1.0, 1.0])
    x1, x2, x = (run(c[:, None] * J)[0] for c in (c1, c2, c1 + c2))
    for name in ("imtl_g", "aligned_mtl"):
        assert not getattr(aggregators, name).properties.linear_under_scaling
        assert not close(x[name], x1[name] + x2[name], rtol=1e-2), name


# ----------------------------------------------------------------------------------------------- edges

G_ROW = np.array([1.0, 2.0, -1.0, 0.5, 3.0])
H_ROW = np.array([0.5, -1.0, 3.0, 2.0, -2.0])        # conflicts with G_ROW (g . h = -9.5)
EDGES = {"identical": [G_ROW, G_ROW], "opposite": [G_ROW, -G_ROW], "zero row": [G_ROW, 0 * G_ROW],
         "zero": [0 * G_ROW, 0 * G_ROW], "conflict": [G_ROW, H_ROW], "scales": [1e3 * G_ROW, 1e-2 * H_ROW],
         "extreme scales": [1e8 * G_ROW, 1e-8 * H_ROW]}
_vmapped = jax.jit(jax.vmap(_bundle))


def test_edge_cases_under_vmap():
    Js = np.stack([np.array(rows) for rows in EDGES.values()])
    keys = jax.random.split(jax.random.key(3), len(Js))
    batch = _vmapped(jnp.asarray(Js), keys, jnp.ones((len(Js), 2)), jnp.zeros((len(Js), 2)))
    out = {case: {k: np.asarray(v[i]) for k, v in batch[0].items()} for i, case in enumerate(EDGES)}
    weights = {case: {k: np.asarray(v[i]) for k, v in batch[1].items()} for i, case in enumerate(EDGES)}
    for case, J in zip(EDGES, Js):
        for name, d in {**out[case], **weights[case]}.items():
            assert np.all(np.isfinite(d)), (case, name)
    g = G_ROW
    expected = {
        "identical": dict(mean=g, pcgrad=2 * g, imtl_g=g, aligned_mtl=g, config=2 * g, graddrop=2 * g),
        "opposite": dict(mean=0 * g, pcgrad=0 * g, imtl_g=0 * g, aligned_mtl=0 * g, config=0 * g),
        "zero row": dict(mean=g / 2, pcgrad=g, imtl_g=g, aligned_mtl=g / 2, config=g, graddrop=g),
        "zero": {name: 0 * g for name in NAMES},
    }
    for case, values in expected.items():
        for name, d in values.items():
            assert close(out[case][name], d, atol=1e-12), (case, name)
    assert np.allclose(np.abs(out["opposite"]["graddrop"]), np.abs(g))   # one sign per column survives
    for case in ("conflict", "scales"):                # generic pairs: the references
        J = np.array(EDGES[case])
        refs = {"mean": ref_mean(J), "pcgrad": ref_pcgrad(J), "imtl_g": ref_imtl_g(J),
                "aligned_mtl": ref_aligned_mtl(J), "config": ref_config(J),
                # two eigenvalues: the lower median is the smaller one
                "aligned_mtl_median": ref_aligned_mtl(J, scale_mode="median"),
                "aligned_mtl_rmse": ref_aligned_mtl(J, scale_mode="rmse")}
        for name, d in refs.items():
            assert close(out[case][name], d, rtol=1e-7), (case, name)
            if name in weights[case]:
                assert close(weights[case][name] @ J, d, rtol=1e-6), (case, name)
        assert np.all(J @ out[case]["pcgrad"] >= -1e-9 * np.linalg.norm(J) ** 2)   # two terms: no conflict
    J = np.array(EDGES["extreme scales"])              # config and pcgrad only use ratios: still exact
    assert close(out["extreme scales"]["config"], ref_config(J), rtol=1e-7)
    assert close(out["extreme scales"]["pcgrad"], ref_pcgrad(J), rtol=1e-7)


def test_a_single_term_is_its_own_gradient():
    out, weights, _ = run(G_ROW[None, :])
    for name in NAMES:
        assert close(out[name], G_ROW), name
    for name, w in weights.items():
        assert close(w, np.ones(1)), name


def test_float32_kept_and_close_to_float64():
    J = random_J(7, [0.5, -0.5, 0.0])
    out32, weights32, draw = run(J.astype(np.float32), key=5, pref=PREF3, leak=LEAK3)
    refs = references(J, draw.astype(np.float64))
    for name, d in out32.items():
        assert d.dtype == np.float32, name
        if not name.startswith("graddrop"):             # graddrop's masks are exact: checked below
            assert close(d, refs[name], rtol=1e-4), name
    for name, w in weights32.items():
        assert w.dtype == np.float32 and close(w @ J, refs[name], rtol=1e-4), name
    assert close(out32["graddrop"], ref_graddrop(J.astype(np.float32), draw, np.zeros(3)), rtol=1e-6)


def test_graddrop_reproducible_for_a_key_and_different_for_another():
    J = np.array([[1.0, -2.0, 3.0, -1.0, 2.0, -3.0, 1.0], [-1.0, 2.0, -3.0, 1.0, -2.0, 3.0, -1.0],
                  [0.5, 0.5, -0.5, 0.5, -0.5, 0.5, 0.5]])
    first, again, other = (run(J, key=k)[0]["graddrop"] for k in (11, 11, 12))
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    assert close(run(J, leak=np.ones(3))[0]["graddrop_leak"], J.sum(axis=0))   # leak 1: every row passes


# ---------------------------------------------------------------------------------------------- errors

@pytest.mark.parametrize("name", NAMES)
def test_bad_matrix_names_the_function(name):
    fn = getattr(aggregators, name)
    options = {"key": jax.random.key(0)} if name == "graddrop" else {}
    with pytest.raises(ValueError, match=rf"^{name}: J must have shape \(m, n\)"):
        fn(np.ones(3), **options)
    with pytest.raises(TypeError, match=rf"^{name}: J must hold floating-point"):
        fn(np.ones((2, 3), np.int32), **options)
    if fn.weights is not None:
        with pytest.raises(ValueError, match=rf"^{name}: the Gramian G = J @ J.T must be square"):
            fn.weights(np.ones((2, 3)))


def test_bad_options_name_the_function():
    J = np.ones((2, 3))
    for name in ("aligned_mtl", "config"):
        with pytest.raises(ValueError, match=rf"^{name}: pref_vector must have shape \(m,\) = \(2,\)"):
            getattr(aggregators, name)(J, pref_vector=np.ones(3))
        with pytest.raises(ValueError, match=rf"^{name}: pref_vector must have shape"):
            getattr(aggregators, name).weights(np.eye(2), pref_vector=np.ones(3))
    with pytest.raises(ValueError, match="^aligned_mtl: scale_mode must be 'min', 'median' or 'rmse'; got 'max'"):
        aggregators.aligned_mtl(J, scale_mode="max")
    with pytest.raises(TypeError, match=r"^graddrop: needs a random key"):
        aggregators.graddrop(J)
    with pytest.raises(ValueError, match=r"^graddrop: leak must be a scalar or have shape \(m,\) = \(2,\)"):
        aggregators.graddrop(J, key=jax.random.key(0), leak=np.ones(3))


# ---------------------------------------------------------------------------------------------- pytrees

def test_aggregate_a_pytree_equals_aggregating_the_concatenated_matrix():
    J = random_J(2, [0, 0, 0])
    jac = {"bias": jnp.asarray(J[:, :3]), "kernel": jnp.asarray(J[:, 3:].reshape(3, 2, 2))}
    d = jax.jit(lambda jac: aggregators.aggregate(aggregators.pcgrad, jac))(jac)
    expected = run(J)[0]["pcgrad"]
    assert jax.tree_util.tree_structure(d) == jax.tree_util.tree_structure({"bias": 0, "kernel": 0})
    assert d["bias"].shape == (3,) and d["kernel"].shape == (2, 2)
    assert close(np.concatenate([d["bias"], np.ravel(d["kernel"])]), expected, rtol=1e-12)


def test_aggregate_errors_name_aggregate_and_the_argument():
    with pytest.raises(ValueError, match=r"^aggregate: jacobian's leaves must all have the same leading axis m.*"
                                         r"\['a'\]: 2, \['b'\]: 3"):
        aggregators.aggregate(aggregators.mean, {"a": np.ones((2, 4)), "b": np.ones((3, 1))})
    with pytest.raises(ValueError, match="^aggregate: jacobian has no leaves"):
        aggregators.aggregate(aggregators.mean, {})
    with pytest.raises(TypeError, match="^aggregate: aggregator must be one of jaxloss.aggregators"):
        aggregators.aggregate({"a": np.ones((2, 4))}, aggregators.mean)
    with pytest.raises(ValueError, match=r"^aggregate: jacobian leaf \['a'\] is a scalar"):
        aggregators.aggregate(aggregators.mean, {"a": np.float32(1.0)})


def _losses(p, x):
    return jnp.stack([jnp.sum((p["w"] @ x + p["b"]) ** 2), jnp.sum(jnp.sin(p["w"])) * p["b"][0],
                      jnp.sum(p["b"] * x[:2])])


def test_jacobian_equals_jacrev_and_returns_the_values():
    params = {"w": jnp.arange(6.0).reshape(2, 3) / 5, "b": jnp.array([0.5, -1.0])}
    x = jnp.array([1.0, -2.0, 0.5])
    values, jac, expected_values, expected = jax.jit(
        lambda p, x: (*aggregators.jacobian(_losses, p, x), _losses(p, x), jax.jacrev(_losses)(p, x)))(params, x)
    assert values.shape == (3,) and np.allclose(values, expected_values, rtol=1e-14)
    for leaf, ref in zip(jax.tree_util.tree_leaves(jac), jax.tree_util.tree_leaves(expected)):
        assert leaf.shape == ref.shape and np.allclose(leaf, ref, rtol=1e-14, atol=1e-15)
    with pytest.raises(ValueError, match=r"^jacobian: fn must return a vector of m losses, shape \(m,\)"):
        aggregators.jacobian(lambda p: jnp.sum(p["b"]), params)
