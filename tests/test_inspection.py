"""jaxloss.inspect, grad_curve and the stability card, against direct JAX computations."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxloss as jl

RNG = np.random.default_rng(1)
LOGITS = jnp.asarray(RNG.normal(size=(5, 4)))
LABELS = jnp.asarray(RNG.integers(0, 4, 5), jnp.int32)
W = jnp.asarray(RNG.uniform(0.2, 2.0, 5))


def test_report_agrees_with_grad_hessian_and_finite_differences():
    r = jl.inspect("softmax_cross_entropy", LOGITS, LABELS, weights=W, label_smoothing=0.1)
    f = lambda x: jl.softmax_cross_entropy(x, LABELS, weights=W, label_smoothing=0.1)  # noqa: E731
    np.testing.assert_allclose(r.value, f(LOGITS), rtol=1e-12)
    np.testing.assert_allclose(r.gradient, jax.grad(f)(LOGITS), rtol=1e-12)
    np.testing.assert_allclose(r.hessian, jax.hessian(f)(LOGITS).reshape(20, 20), rtol=1e-10, atol=1e-14)
    assert r.fd_max_relative_error < 1e-6 and "float64" in r.fd_note
    # Reductions made visible: the mean divides by the sum of weights.
    np.testing.assert_allclose(r.denominator, float(jnp.sum(W)), rtol=1e-12)
    assert "sum of weights" in r.denominator_kind
    np.testing.assert_allclose(r.effective_weights, W / jnp.sum(W), rtol=1e-12)
    np.testing.assert_allclose(np.sum(r.effective_weights * r.per_example_losses), r.value, rtol=1e-12)
    assert not r.nonfinite and not r.nonfinite_inputs


def test_per_example_gradients_agree_with_a_python_loop():
    r = jl.inspect("softmax_cross_entropy", LOGITS, LABELS, weights=W)
    for i in range(5):
        g_i = jax.grad(lambda x: jl.softmax_cross_entropy(x[None], LABELS[i:i + 1], reduction="sum"))(LOGITS[i])
        np.testing.assert_allclose(r.per_example_gradients[i], g_i, rtol=1e-12)
    np.testing.assert_allclose(r.per_example_gradient_norms, np.linalg.norm(r.per_example_gradients, axis=1))
    # The total gradient is the effective-weight sum of the per-example gradients.
    np.testing.assert_allclose(r.gradient, r.effective_weights[:, None] * r.per_example_gradients, rtol=1e-12)
    rows = np.linalg.norm(r.gradient, axis=1)
    assert r.dominant[0][0] == (int(np.argmax(rows)),)


def test_masked_count_and_diagonal_hessian_for_large_inputs():
    p = jnp.asarray(RNG.normal(size=(60, 3)))
    t = jnp.zeros((60, 3))
    where = jnp.asarray(RNG.random((60, 1)) < 0.5)
    r = jl.inspect("log_cosh", p, t, where=where)
    assert r.hessian is None and "diagonal" in r.hessian_note
    expected = jnp.where(where, 1 / jnp.cosh(p) ** 2, 0.0) / (3 * jnp.sum(where))
    np.testing.assert_allclose(r.hessian_diagonal, expected.reshape(-1), rtol=1e-10, atol=1e-14)
    assert r.denominator == 3 * int(jnp.sum(where)) and "masked count" in r.denominator_kind


def test_composite_breakdown_and_nonfinite_inputs_are_reported():
    loss = 0.5 * jl.term("mse") + 2.0 * jl.term("mae")
    p = jnp.array([1.0, jnp.nan, 3.0])
    r = jl.inspect(loss, p, jnp.zeros(3))
    assert "input predictions: 1 NaN at (1,)" in r.nonfinite_inputs
    assert any(line.startswith("value") for line in r.nonfinite)
    r = jl.inspect(loss, jnp.array([1.0, -2.0, 3.0]), jnp.zeros(3))
    assert r.terms == pytest.approx({"mean_squared_error": 14 / 3, "mean_absolute_error": 2.0})
    assert r.value == pytest.approx(0.5 * 14 / 3 + 4.0)
    text = str(r)
    assert "mean_squared_error = 4.66667" in text and "0.5 * mean_squared_error + 2 * mean_absolute_error" in text
    assert "<table>" in r._repr_html_()


def test_objective_report_per_example_gradients_match_a_loop():
    def model(params, x):
        return x @ params["w"] + params["b"]

    params = {"w": jnp.asarray(RNG.normal(size=(3,))), "b": jnp.zeros(())}
    x, y = jnp.asarray(RNG.normal(size=(4, 3))), jnp.asarray(RNG.normal(size=(4,)))
    obj = jl.objective(model, "huber", regularizers=jl.l2(0.1))
    r = jl.inspect(obj, params, (x, y))
    g = jax.grad(obj)(params, (x, y))
    np.testing.assert_allclose(r.gradient["w"], g["w"], rtol=1e-12)
    assert r.wrt == "params" and set(r.terms) == {"loss", "l2"}
    assert r.fd_max_relative_error < 1e-6
    for i in range(4):
        gi = jax.grad(lambda p: jl.huber(model(p, x[i:i + 1]), y[i:i + 1], reduction="sum"))(params)
        flat = jax.flatten_util.ravel_pytree(gi)[0]
        np.testing.assert_allclose(r.per_example_gradients[i], flat, rtol=1e-12)


def test_plot_returns_a_figure():
    r = jl.inspect("huber", jnp.array([0.5, 2.0, 10.0]), jnp.zeros(3))
    from jaxloss import plot

    fig = plot.report(r, points=21)
    assert len(fig.axes) == 2 and fig._suptitle.get_text().startswith("huber")  # the subject names the figure
    line = r.line(points=21)  # the data the figure draws: the entry with the largest gradient
    np.testing.assert_allclose(fig.axes[0].lines[0].get_xdata(), line.x)
    assert line.label == "error p - t at (1,)" and line.current == 2.0
    plot.close(fig)


def test_figures_live_in_plot_only():
    """Results keep their data; drawing them is plot's job (lower layers never import plot)."""
    assert not hasattr(jl.Report, "plot") and not hasattr(jl.History, "plot")
    from jaxloss import plot

    fig = plot.history(jl.History({"epoch": [1, 2], "loss": [2.0, 1.0], "val_loss": [2.5, 1.5]}, monitor="val_loss",
                                  best_epoch=2))
    (ax,) = [a for a in fig.axes if a.get_visible()]
    assert ax.get_title() == "loss" and [t.get_text() for t in ax.get_legend().get_texts()][:2] == ["train", "validation"]
    plot.close(fig)


def test_grad_curve_shapes_the_teaching_story():
    e = jnp.linspace(-3, 3, 6)  # away from the kink at 0
    mse, mae, huber = (jl.grad_curve(name, e) for name in ("mse", "mae", "huber"))
    np.testing.assert_allclose(mse.first, 2 * e)  # grows with the error
    np.testing.assert_allclose(mae.first, jnp.sign(e))  # constant size
    np.testing.assert_allclose(huber.first, jnp.clip(e, -1, 1))  # clipped
    np.testing.assert_allclose(mse.second, 2.0)
    bce = jl.grad_curve("binary_cross_entropy", e)
    np.testing.assert_allclose(bce.first, jax.nn.sigmoid(e) - 1, rtol=1e-12)
    ce = jl.grad_curve("softmax_cross_entropy", e, num_classes=3)
    np.testing.assert_allclose(ce.value, jnp.log(jnp.exp(e) + 2) - e, rtol=1e-12)


def test_grad_curve_is_one_cached_program_that_checks_what_the_loss_checks():
    from jaxloss.inspection import _programs
    from jaxloss.inspection._kinds_view import curve_point

    e = jnp.linspace(-3.0, 3.0, 5)
    for name, options in (("cauchy", {"scale": 0.5}), ("focal", {"gamma": 1.5}), ("poisson_nll", {})):
        compiled = jl.grad_curve(name, e, **options)
        assert _programs.recall(("grad_curve", id(jl.get(name)), None, 2, tuple(sorted(options.items()))))[0]
        _, point = curve_point(jl.get(name), target=None, num_classes=2, options=options)  # op by op
        first = jax.grad(point)
        expected = (jax.vmap(point)(e), jax.vmap(first)(e), jax.vmap(jax.grad(first))(e))
        for got, want in zip((compiled.value, compiled.first, compiled.second), expected):
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)
        again = jl.grad_curve(name, e, **options)
        np.testing.assert_array_equal(again.second, compiled.second)
    # Values the loss checks only when concrete: the curve says so, as it does op by op, not NaN.
    with pytest.raises(ValueError, match=r"hinge_embedding: targets must be in \{-1, 1\}"):
        jl.grad_curve("hinge_embedding", e)
    with pytest.raises(ValueError, match=r"^grad_curve: huber: delta=-1 is out of range; delta must be > 0"):
        jl.grad_curve("huber", e, delta=-1.0)
    with pytest.raises(ValueError, match="out of range"):   # an array option: compiled for this call only
        jl.grad_curve("huber", e, delta=jnp.array(-1.0))
    np.testing.assert_allclose(jl.grad_curve("huber", e, delta=jnp.array(2.0)).first, jnp.clip(e, -2, 2))


def test_check_card_flags_a_nan_and_names_the_input():
    def fragile(p, t, *, weights=None, where=None, reduction="mean"):
        return jl.mse(jnp.sqrt(p * p), t, weights=weights, where=where, reduction=reduction)

    card = jl.check(fragile, kind="regression", dtypes=["float32"])
    assert not card.ok
    flagged = {r.case for r in card.flagged}
    assert "zero predictions and zero targets" in flagged
    assert "gradient of predictions" in str(card) and "FLAGGED" in card._repr_html_()
    assert jl.check("huber", dtypes=["float32"]).ok
    # bfloat16 rows differentiate too (bfloat16 is not a NumPy floating type: the card asks JAX).
    card = jl.check(fragile, kind="regression", dtypes=["bfloat16"])
    assert "zero predictions and zero targets" in {r.case for r in card.flagged}
    assert "gradient of predictions" in str(card)


def test_check_compiles_once_per_shape_and_dtype():
    """The card's derivatives are one program per (loss, dtype, input shapes), reused across cases and
    calls: checking case by case gives the same rows as checking all at once, and compiles nothing new."""
    from jaxloss.inspection import _programs

    name, dtypes = "huber", ("float32", "float16")
    whole = jl.check(name, dtypes=dtypes)
    programs = {k: v for k, v in _programs._PROGRAMS.items() if k[:2] == ("derivatives", id(jl.get(name)))}
    assert 0 < len(programs) < len(whole.rows) and all(p is not None for _, p in programs.values())
    one_by_one = [row for i in range(len(jl.inspection.stability_cases(name))) for dt in dtypes
                  for row in jl.check(name, cases=[i], dtypes=[dt]).rows]
    assert one_by_one == whole.rows
    assert {k for k in _programs._PROGRAMS if k[:2] == ("derivatives", id(jl.get(name)))} == set(programs)


def test_bad_input_is_a_clear_error():
    with pytest.raises(KeyError, match="Did you mean 'huber'"):
        jl.inspect("hubert", jnp.zeros(3), jnp.zeros(3))
    with pytest.raises(ValueError, match=r"huber: .*\(3,\).*\(2,\)"):
        jl.inspect("huber", jnp.zeros(3), jnp.zeros(2))
    with pytest.raises(ValueError, match="reduction"):
        jl.inspect("huber", jnp.zeros(3), jnp.zeros(3), reduction="none")
