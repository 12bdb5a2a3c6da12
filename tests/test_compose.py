"""Composites, schedules, objectives and regularizers (jaxloss.compose)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxloss as jl

RNG = np.random.default_rng(0)
P = jnp.asarray(RNG.normal(size=(6, 3)))
T = jnp.asarray(RNG.normal(size=(6, 3)))
LOGITS = jnp.asarray(RNG.normal(size=(6, 4)))
LABELS = jnp.asarray(RNG.integers(0, 4, 6), jnp.int32)


def hand(p, t, **kw):
    return 0.7 * jl.mse(p, t, **kw) + 0.3 * jl.huber(p, t, delta=0.5, **kw)


def test_algebra_and_combine_equal_the_hand_written_sum_in_value_and_gradient():
    algebra = 0.7 * jl.term("mse") + 0.3 * jl.term(jl.huber, delta=0.5)
    explicit = jl.combine({"mse": ("mse", 0.7), "huber": (jl.huber, 0.3, {"delta": 0.5})})
    for loss in (algebra, explicit):
        np.testing.assert_allclose(loss(P, T), hand(P, T), rtol=1e-12)
        np.testing.assert_allclose(jax.grad(loss)(P, T), jax.grad(hand)(P, T), rtol=1e-12)
        np.testing.assert_allclose(jax.jit(loss)(P, T), hand(P, T), rtol=1e-12)
    assert repr(algebra) == "0.7 * mean_squared_error + 0.3 * huber(delta=0.5)"
    assert repr(explicit) == "0.7 * mse + 0.3 * huber(delta=0.5)"


def test_breakdown_fits_value_and_grad_with_aux():
    loss = 0.7 * jl.term("mse") + 0.3 * jl.term(jl.huber, delta=0.5)
    (total, terms), grad = jax.value_and_grad(loss.with_terms, has_aux=True)(P, T)
    np.testing.assert_allclose(terms["mean_squared_error"], jl.mse(P, T), rtol=1e-12)
    np.testing.assert_allclose(terms["huber"], jl.huber(P, T, delta=0.5), rtol=1e-12)
    np.testing.assert_allclose(total, hand(P, T), rtol=1e-12)
    np.testing.assert_allclose(grad, jax.grad(hand)(P, T), rtol=1e-12)
    total2, terms2 = loss(P, T, with_terms=True)
    np.testing.assert_allclose(total2, total)


def test_weights_where_and_reduction_reach_every_term():
    loss = 0.7 * jl.term("mse") + 0.3 * jl.term(jl.huber, delta=0.5)
    w = jnp.asarray(RNG.uniform(0.1, 2, (6, 3)))
    m = jnp.asarray(RNG.random((6, 3)) < 0.6)
    for kw in ({"weights": w}, {"where": m}, {"reduction": "sum"}, {"reduction": "none", "weights": w}):
        np.testing.assert_allclose(loss(P, T, **kw), hand(P, T, **kw), rtol=1e-12)
    np.testing.assert_allclose(jax.grad(lambda p: loss(p, T, where=m))(P), jax.grad(lambda p: hand(p, T, where=m))(P))
    # vmap over examples of the per-example composite equals the batched call.
    per = jax.vmap(lambda p, t: loss(p, t, reduction="none"))(P, T)
    np.testing.assert_allclose(per, loss(P, T, reduction="none"), rtol=1e-12)


def test_incompatible_composite_names_the_terms_and_shapes():
    # Per-example shapes (6,) and (6, 4): fine reduced, an error per example.
    loss = jl.term("softmax_cross_entropy") + 0.1 * jl.term("mse", select=lambda x, y: (x, jnp.zeros_like(x)))
    float(loss(LOGITS, LABELS))
    with pytest.raises(ValueError, match=r"incompatible losses.*softmax_cross_entropy -> \(6,\), mean_squared_error -> \(6, 4\)"):
        loss(LOGITS, LABELS, reduction="none")


def test_schedules_need_the_step_and_follow_it():
    kl_weight = jl.warmup(100)
    loss = jl.term("mse") + kl_weight * jl.term("mae")
    assert "warmup(100) * mean_absolute_error" in repr(loss)
    with pytest.raises(ValueError, match="pass the training step"):
        loss(P, T)
    for step in (0, 50, 100, 400):
        expected = jl.mse(P, T) + min(step / 100, 1.0) * jl.mae(P, T)
        np.testing.assert_allclose(loss(P, T, step=step), expected, rtol=1e-12)
    # The step may be traced: one compilation for every step.
    f = jax.jit(lambda s: loss(P, T, step=s))
    np.testing.assert_allclose(f(25), jl.mse(P, T) + 0.25 * jl.mae(P, T), rtol=1e-12)
    assert f._cache_size() == 1
    # optax schedules are plain callables step -> value.
    import optax

    sched = optax.linear_schedule(0.0, 2.0, 10)
    loss2 = jl.term("mse", weight=sched)
    np.testing.assert_allclose(loss2(P, T, step=5), jl.mse(P, T), rtol=1e-6)
    np.testing.assert_allclose(float(jl.cyclical_schedule(10)(7)), 1.0)
    np.testing.assert_allclose(float(jl.linear_schedule(1.0, 0.0, 4, begin=2)(4)), 0.5)


def test_stop_gradient_keeps_the_value_and_blocks_the_gradient():
    loss = (0.7 * jl.term("mse") + 0.3 * jl.term(jl.huber, delta=0.5)).stop_gradient("huber")
    np.testing.assert_allclose(loss(P, T), hand(P, T), rtol=1e-12)
    np.testing.assert_allclose(jax.grad(loss)(P, T), 0.7 * jax.grad(jl.mse)(P, T), rtol=1e-12)
    assert "stop_gradient(huber(delta=0.5))" in repr(loss)
    with pytest.raises(KeyError, match="no term named"):
        loss.stop_gradient("dice")


def test_describe_and_properties():
    loss = 0.5 * jl.term("mse") + 0.5 * jl.term("huber")
    text = loss.describe()
    assert "mean_squared_error (regression, regression)" in text and "delta=1.0" in text
    assert loss.properties() == {"nonnegative", "zero_at_target", "convex", "symmetric"}


def test_bad_terms_are_clear_errors():
    with pytest.raises(KeyError, match="no loss named 'hubert'"):
        jl.term("hubert")
    with pytest.raises(ValueError, match="unique"):
        jl.term("mse") + jl.term("mse")
    np.testing.assert_allclose((jl.term("mse") + jl.term("mse", name="mse2"))(P, T), 2 * jl.mse(P, T))


def test_a_term_named_by_its_optax_name_is_the_loss_jl_get_gives():
    """optax's multiclass_perceptron_loss is multiclass_hinge with margin=0 (jl.get's partial): a term by that
    name used to drop the margin and compute the hinge with margin 1."""
    loss = jl.term("multiclass_perceptron_loss")
    assert repr(loss) == "multiclass_hinge(margin=0.0)"
    np.testing.assert_allclose(loss(LOGITS, LABELS), jl.get("multiclass_perceptron_loss")(LOGITS, LABELS), rtol=1e-12)
    assert repr(jl.term("multiclass_perceptron_loss", margin=0.5)) == "multiclass_hinge(margin=0.5)"


def test_wrong_arguments_inside_combine_and_objective_name_where_they_are():
    """Entry-point checks (tests/test_entry_points.py) try top-level values; these are nested ones."""
    with pytest.raises(TypeError, match=r"^combine: terms\['a'\]'s options must be a dict"):
        jl.combine({"a": ("mse", 1.0, "delta")})
    with pytest.raises(TypeError, match=r"^combine: terms\['a'\] is None; pass a loss name"):
        jl.combine({"a": (None, 1.0)})
    with pytest.raises(KeyError, match=r"^\"combine: stop_gradient names \['b'\], which are not terms"):
        jl.combine({"a": "mse"}, stop_gradient=["b"])
    with pytest.raises(TypeError, match=r"^combine: stop_gradient must be a list of term names, e.g. "
                                        r"stop_gradient=\['a'\]; got str"):
        jl.combine({"a": "mse"}, stop_gradient="a")
    with pytest.raises(ValueError, match=r"^combine: terms is empty"):
        jl.combine({})
    with pytest.raises(TypeError, match=r"^term: loss=l2\(0.1\) is a penalty on the parameters"):
        jl.term(jl.l2(0.1))
    with pytest.raises(TypeError, match=r"^objective: regularizers\[1\] must be a regularizer"):
        jl.objective(model, "mse", regularizers=[jl.l2(0.1), "l1"])
    with pytest.raises(TypeError, match=r"^objective: regularizers must be a regularizer"):
        jl.objective(model, "mse", regularizers=3)
    with pytest.raises(TypeError, match=r"^l2: mask must be .*; got str 'yes' at mask\['out'\]"):
        jl.l2(0.1, mask={"dense": True, "out": "yes"})
    with pytest.raises(ValueError, match=r"^objective: batch must be \(inputs, targets\)"):
        jl.objective(model, "mse")(PARAMS, X)
    # What was valid stays valid: np.bool_ flags, 0-d boolean masks, sets of names, generators of regularizers.
    loss = jl.combine({"a": "mse", "b": ("mae", 0.5)}, stop_gradient={"b"})
    assert loss.terms[1].stop_gradient and not loss.terms[0].stop_gradient
    assert jl.term("mse", stop_gradient=np.bool_(True)).terms[0].stop_gradient is True
    reg = jl.l1(0.1, mask={"dense": jnp.asarray(False), "out": np.bool_(True)})
    np.testing.assert_allclose(reg(PARAMS), 0.1 * jnp.sum(jnp.abs(PARAMS["out"])), rtol=1e-12)
    assert set(jl.objective(model, "mse", regularizers=(r for r in [jl.l2(0.1)])).regularizers) == {"l2"}


def model(params, x):
    return jnp.tanh(x @ params["dense"]["w"] + params["dense"]["b"][None, :]) @ params["out"]


PARAMS = {"dense": {"w": jnp.asarray(RNG.normal(size=(3, 4))), "b": jnp.asarray(RNG.normal(size=(4,)))},
          "out": jnp.asarray(RNG.normal(size=(4,)))}
X = jnp.asarray(RNG.normal(size=(6, 3)))
Y = jnp.asarray(RNG.normal(size=(6,)))


def test_objective_equals_the_loss_of_the_model_for_both_batch_conventions():
    obj = jl.objective(model, "huber", delta=0.5)
    expected = jl.huber(model(PARAMS, X), Y, delta=0.5)
    np.testing.assert_allclose(obj(PARAMS, (X, Y)), expected, rtol=1e-12)
    np.testing.assert_allclose(obj(PARAMS, {"inputs": X, "targets": Y}), expected, rtol=1e-12)
    g = jax.grad(obj)(PARAMS, (X, Y))
    g_ref = jax.grad(lambda p: jl.huber(model(p, X), Y, delta=0.5))(PARAMS)
    jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-12), g, g_ref)
    w = jnp.asarray(RNG.uniform(0.5, 1.5, 6))
    np.testing.assert_allclose(obj(PARAMS, {"inputs": X, "targets": Y, "weights": w}),
                               jl.huber(model(PARAMS, X), Y, delta=0.5, weights=w), rtol=1e-12)
    np.testing.assert_allclose(obj.per_example(PARAMS, (X, Y)),
                               jl.huber(model(PARAMS, X), Y, delta=0.5, reduction="none"), rtol=1e-12)
    with pytest.raises(ValueError, match="'inputs' and 'targets'"):
        obj(PARAMS, {"x": X, "y": Y})
    with pytest.raises(ValueError, match="length 3"):
        obj(PARAMS, (X, Y, Y))


def test_regularizers_touch_only_the_masked_leaves():
    kernels = lambda path, leaf: path.endswith("w")  # noqa: E731
    obj = jl.objective(model, "mse", regularizers=[jl.l2(0.1, mask=kernels), jl.l1(0.01, mask={"dense": False, "out": True})])
    total, parts = obj.with_terms(PARAMS, (X, Y))
    np.testing.assert_allclose(parts["l2"], 0.05 * jnp.sum(PARAMS["dense"]["w"] ** 2), rtol=1e-12)
    np.testing.assert_allclose(parts["l1"], 0.01 * jnp.sum(jnp.abs(PARAMS["out"])), rtol=1e-12)
    np.testing.assert_allclose(total, parts["loss"] + parts["l2"] + parts["l1"], rtol=1e-12)
    g_reg = jax.grad(lambda p: obj(p, (X, Y)) - jl.mse(model(p, X), Y))(PARAMS)
    np.testing.assert_allclose(g_reg["dense"]["w"], 0.1 * PARAMS["dense"]["w"], rtol=1e-10)  # weight decay
    np.testing.assert_allclose(g_reg["dense"]["b"], 0.0, atol=1e-12)  # not masked: untouched
    np.testing.assert_allclose(g_reg["out"], 0.01 * jnp.sign(PARAMS["out"]), rtol=1e-10)
    with pytest.raises(ValueError, match="structure"):
        jl.l2(1.0, mask={"dense": True})(PARAMS)


def test_objective_of_a_composite_reports_terms_and_regularizers():
    loss = 0.5 * jl.term("mse") + 0.5 * jl.term("mae")
    obj = jl.objective(model, loss, regularizers={"decay": jl.l2(1e-2)})
    (total, parts), _ = jax.value_and_grad(obj.with_terms, has_aux=True)(PARAMS, (X, Y))
    assert set(parts) == {"mean_squared_error", "mean_absolute_error", "decay"}
    np.testing.assert_allclose(total, sum(parts[k] * c for k, c in
                                          (("mean_squared_error", 0.5), ("mean_absolute_error", 0.5), ("decay", 1.0))))
    assert repr(obj) == "objective(model, 0.5 * mean_squared_error + 0.5 * mean_absolute_error + l2(0.01))"
