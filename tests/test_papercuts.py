"""Papercuts a new user hit (issue 17): optax names, notebooks, figures, the command line, namespaces."""

from __future__ import annotations

import importlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxloss as jl
from jaxloss import _kinds, _optax_names, cli

RNG = np.random.default_rng(0)
X = RNG.normal(size=(6, 5))
LABELS = RNG.integers(0, 5, 6)
PROBS = RNG.dirichlet(np.ones(5), 6)
SCORES = RNG.normal(size=(6, 3))
BINARY = (RNG.uniform(size=(6, 3)) > 0.5).astype(np.float64)
P, T = RNG.normal(size=(6, 3)), RNG.normal(size=(6, 3))
LOG_P = jax.nn.log_softmax(X)
MEASURE = RNG.uniform(0.0, 2.0, (6, 5))
A, B, C = (RNG.normal(size=(6, 3)) for _ in range(3))
SEG, SEG_T = RNG.normal(size=(2, 4, 4)), (RNG.uniform(size=(2, 4, 4)) > 0.5).astype(np.float64)

# optax name -> (its arguments, jaxloss's arguments and options) on the same inputs; every name of
# optax.losses that jl.get resolves, compared on values (optax's per-example output = reduction="none").
OPTAX_CASES = {
    "softmax_cross_entropy_with_integer_labels": ((X, LABELS), (X, LABELS), {}),
    "softmax_cross_entropy": ((X, PROBS), (X, PROBS), {}),
    "safe_softmax_cross_entropy": ((X, PROBS), (X, PROBS), {}),
    "sigmoid_binary_cross_entropy": ((SCORES, BINARY), (SCORES, BINARY), {}),
    "sigmoid_focal_loss": ((SCORES, BINARY), (SCORES, BINARY), {}),
    "hinge_loss": ((SCORES, 2 * BINARY - 1), (SCORES, 2 * BINARY - 1), {}),
    "multiclass_hinge_loss": ((X, LABELS), (X, LABELS), {}),
    "perceptron_loss": ((SCORES, 2 * BINARY - 1), (SCORES, 2 * BINARY - 1), {}),
    "multiclass_perceptron_loss": ((X, LABELS), (X, LABELS), {}),
    "huber_loss": ((P, T), (P, T), {}),
    "squared_error": ((P, T), (P, T), {}),
    "log_cosh": ((P, T), (P, T), {}),
    "cosine_distance": ((A, B), (A, B), {}),
    "triplet_margin_loss": ((A, B, C), (A, B, C), {}),
    "kl_divergence": ((LOG_P, PROBS), (LOG_P, PROBS), {}),
    "kl_divergence_with_log_targets": ((LOG_P, np.log(PROBS)), (LOG_P, np.log(PROBS)), {}),
    "convex_kl_divergence": ((X, MEASURE), (X, MEASURE), {}),
    "multiclass_sparsemax_loss": ((X, LABELS), (X, LABELS), {}),
    "poly_loss_cross_entropy": ((X, np.eye(5)[LABELS]), (X, LABELS), {}),
    "ntxent": ((A, np.array([0, 0, 1, 1, 2, 2])), (A[None], np.array([[0, 0, 1, 1, 2, 2]])), {"reduction": "mean"}),
    "ranking_softmax_loss": ((X, MEASURE), (X, MEASURE), {"reduction": "mean"}),
    "dice_loss": ((SEG[..., None], SEG_T[..., None]), (SEG, SEG_T), {}),
    "binary_dice_loss": ((SEG, SEG_T), (SEG, SEG_T), {}),
}


@pytest.mark.parametrize("name", sorted(OPTAX_CASES))
def test_optax_names_resolve_to_the_loss_that_equals_optax(name):
    optax_args, our_args, options = OPTAX_CASES[name]
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # convex_kl_divergence is deprecated in optax
            expected = np.asarray(getattr(optax.losses, name)(*optax_args), np.float64)
    ours = jl.get(name)(*our_args, **{"reduction": "none", **options})
    np.testing.assert_allclose(np.asarray(ours, np.float64).reshape(expected.shape), expected, rtol=1e-5, atol=1e-6)


def test_every_optax_loss_name_resolves_or_says_it_is_missing():
    names = [n for n in dir(optax.losses) if not n.startswith("_")]
    for name in names:
        if name in _optax_names.MISSING:
            with pytest.raises(KeyError, match=f"optax.losses.{name} has no jaxloss equivalent"):
                jl.get(name)
        elif name in ("generalized_kl_divergence", "sparsemax_loss", "ctc_loss"):  # see the next test
            assert jl.get(name) in (jl.generalized_kl_divergence, jl.sparsemax_loss, jl.ctc)
        else:
            assert name in OPTAX_CASES, f"optax.losses.{name} is neither compared nor declared missing"
    # The same with the module prefix, as people paste it.
    assert jl.get("optax.losses.huber_loss") is jl.huber


def test_optax_conventions_that_differ_are_explicit():
    # optax's generalized_kl_divergence takes log-predictions; jaxloss's (same name) takes the measure.
    # The log-input form is one option away, and equal.
    expected = optax.losses.generalized_kl_divergence(X, MEASURE)
    np.testing.assert_allclose(jl.generalized_kl_divergence(X, MEASURE, log_input=True, reduction="none"), expected,
                               rtol=1e-6)
    # optax's ctc_loss takes (logits, logit_paddings, labels, label_paddings); jl.ctc's paddings are keywords.
    logits = RNG.normal(size=(2, 6, 4))
    labels, logit_paddings, label_paddings = np.array([[1, 2, 0], [3, 1, 2]]), np.zeros((2, 6)), np.array(
        [[0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(
        jl.get("ctc_loss")(logits, labels, logit_paddings=logit_paddings, label_paddings=label_paddings,
                           reduction="none"),
        optax.losses.ctc_loss(logits, logit_paddings, labels, label_paddings), rtol=1e-6)
    # optax's sparsemax_loss is the binary one; jaxloss's sparsemax_loss is multiclass (optax's
    # multiclass_sparsemax_loss): optax's binary arguments are rejected, not misread.
    with pytest.raises(ValueError, match="class-index targets must have the predictions' shape without its class axis"):
        jl.get("sparsemax_loss")(SCORES[:, 0], BINARY[:, 0].astype(np.int32))


# -- fit, term and objective take optax-style per-example losses -------------------------------------


def test_a_per_example_function_is_averaged_everywhere():
    p, t = jnp.array([1.0, 2.0, 3.0]), jnp.zeros(3)
    expected = float(jl.mse(p, t))
    assert float(jl.term(optax.squared_error)(p, t)) == pytest.approx(expected)
    assert float(jl.objective(lambda q, x: x * q, optax.squared_error)(1.0, (p, t))) == pytest.approx(expected)
    assert jl.inspect(optax.squared_error, p, t).value == pytest.approx(expected)
    with pytest.raises(TypeError, match="returns a scalar and takes no reduction= keyword"):
        jl.term(lambda p, t: jnp.mean(p - t))(p, t, reduction="none")


# -- kinds ----------------------------------------------------------------------------------------------


def test_focal_takes_class_logits_too():
    assert jl.info("focal").accepts(_kinds.CLASS_LOGITS) and jl.info("focal").accepts(_kinds.BINARY_LOGITS)
    card = jl.check(jl.term("cross_entropy") + jl.term("focal"))
    assert "class_logits" in card.summary() and not card.flagged


# -- notebooks and figures --------------------------------------------------------------------------------


_INLINE = """
import matplotlib
matplotlib.use("module://matplotlib_inline.backend_inline")
import matplotlib.pyplot as plt, jax.numpy as jnp, jaxloss as jl
h = jl.History({"epoch": [1, 2], "loss": [2.0, 1.0], "val_loss": [2.5, 1.5]})
fig = jl.plot.history(h)
report = jl.inspect("huber", jnp.array([0.5, 2.0]), jnp.zeros(2))
fig2 = jl.plot.report(report)
print(type(fig).__name__, type(fig2).__name__, plt.get_fignums())
"""


def test_figures_display_once_in_jupyter():
    """Under the inline backend, a returned figure is not also held by pyplot (which shows it again)."""
    pytest.importorskip("matplotlib_inline")
    out = subprocess.run([sys.executable, "-c", _INLINE], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["Figure", "Figure", "[]"]


def test_history_plot_is_a_grid_that_keeps_its_labels(tmp_path):
    values = {"epoch": [1, 2, 3], "loss": [3.0, 2.0, 1.0], "val_loss": [3.0, 2.5, 2.0]}
    for key in ("loss/a", "loss/b", "auc", "f1", "weight/b"):
        values[key] = [0.1, 0.2, 0.3]
        values["val_" + key if not key.startswith("weight") else key] = [0.1, 0.2, 0.3]
    fig = jl.plot.history(jl.History(values), title="run")
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 6 and fig.get_size_inches()[0] <= 3 * 4.4 + 1e-9  # 2 rows of 3, not 6 in a row
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    figure_box = fig.bbox
    for ax in visible:  # every x label inside the figure: savefig does not clip "epoch"
        box = ax.xaxis.label.get_window_extent(renderer)
        assert box.y0 >= figure_box.y0 - 1 and box.x1 <= figure_box.x1 + 1
    jl.plot.close(fig)


def test_an_objective_report_plots_against_a_named_parameter():
    def model(p, x):
        return jnp.tanh(x @ p["w1"]) @ p["w2"]

    params = {"w1": jnp.ones((2, 3)) * 0.3, "w2": jnp.ones(3)}
    report = jl.inspect(jl.objective(model, "mse"), params, (jnp.ones((4, 2)), jnp.zeros(4)))
    fig = jl.plot.report(report)
    value_ax, derivative_ax = fig.axes[:2]
    assert value_ax.get_xlabel().startswith("parameter w") and "predictions" not in value_ax.get_xlabel()
    assert value_ax.get_title() == "value" and derivative_ax.get_title() == "derivative"
    assert fig._suptitle.get_text().startswith("objective(")
    jl.plot.close(fig)


# -- the command line ---------------------------------------------------------------------------------


def test_list_into_a_closed_pipe_is_quiet():
    process = subprocess.Popen([sys.executable, "-m", "jaxloss", "list"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    first = process.stdout.readline()
    process.stdout.close()  # what `| head -1` does
    _, stderr = process.communicate(timeout=120)
    assert first.startswith(b"softmax_cross_entropy") and process.returncode == 0
    assert b"Traceback" not in stderr and b"BrokenPipe" not in stderr, stderr.decode()


def test_a_demos_own_options_reach_it(monkeypatch):
    from jaxloss import demos

    module = demos.get("playground-2d")
    seen = []
    monkeypatch.setattr(module, "main", lambda argv: seen.append(list(argv)) or 0)
    assert cli.main(["demo", "playground-2d", "--dataset", "spiral", "--loss", "focal", "--fast", "--out", "x"]) == 0
    assert seen == [["--out", "x", "--fast", "--dataset", "spiral", "--loss", "focal"]]
    with pytest.raises(SystemExit):  # a demo without that option says so (its own parser)
        cli.main(["demo", "mse-vs-mae", "--dataset", "spiral"])
    assert cli.main(["demo", "mse-vs-mae", "outliers", "--dataset", "spiral"]) == 2  # only with one demo


def test_bench_is_not_a_command_and_help_points_at_the_suite(capsys):
    with pytest.raises(SystemExit):
        cli.main(["bench"])
    assert "invalid choice: 'bench'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "python -m benchmarks" in capsys.readouterr().out


# -- namespaces ---------------------------------------------------------------------------------------

PUBLIC = ["jaxloss", "jaxloss.metrics", "jaxloss.models", "jaxloss.compose", "jaxloss.train", "jaxloss.inspection",
          "jaxloss.plot", "jaxloss.toys", "jaxloss.playground", "jaxloss.losses", "jaxloss.demos"]


@pytest.mark.parametrize("name", PUBLIC)
def test_public_namespaces_list_only_their_api(name):
    module = importlib.import_module(name)
    listed = dir(module)
    assert set(listed) == set(module.__all__)
    for leaked in ("np", "jnp", "jax", "Any", "annotations", "functools", "math", "dataclasses", "optax"):
        assert leaked not in listed, f"{name} lists {leaked}"
    for public in listed:
        getattr(module, public)  # everything listed exists
