"""The demo gallery: each demo runs fast, writes its files and shows what it claims."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import jaxloss as jl
from jaxloss import demos
from jaxloss.demos import playground_2d

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("demos")


def _run(name, out):
    result = demos.run(name, out, fast=True)
    assert result.figures, name
    for path in result.figures:
        assert os.path.getsize(path) > 1000 or path.endswith(".json"), path
    assert result.summary.strip()
    return result


def test_every_demo_module_and_script_is_listed_once():
    """DEMOS is the one list: every module of jaxloss.demos and every script in demos/ is in it, and back."""
    import pkgutil

    listed = {demo.module for demo in demos.DEMOS.values()}
    modules = {m.name for m in pkgutil.iter_modules(demos.__path__) if not m.name.startswith("_")}
    assert modules == listed, "list each demo module in jaxloss.demos.DEMOS (and nothing else)"
    scripts = {f[:-3] for f in os.listdir(os.path.join(ROOT, "demos")) if f.endswith(".py")} - {"make_gallery"}
    assert scripts == listed, "each demo has a script demos/<module>.py (a copy of another one), and only they"
    for name, demo in demos.DEMOS.items():
        module = demos.get(name)
        assert demo.name == name == module.NAME and demo.summary and not demo.summary.endswith(".")
        assert callable(module.run) and callable(module.main)
    assert demos.names() == list(demos.DEMOS)
    assert demos.names(gallery=True) == [n for n, d in demos.DEMOS.items() if d.in_gallery]
    with pytest.raises(KeyError, match="mse-vs-mae"):
        demos.get("mse_vs_ma")
    with pytest.raises(KeyError, match="not listed in jaxloss.demos.DEMOS"):
        demos.name_of("jaxloss.demos.no_such_demo")


def test_readme_gallery_is_in_sync_with_the_registry():
    from jaxloss.demos import _gallery

    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    assert _gallery.readme_with_gallery(readme) == readme, (
        "README's demo gallery is stale: run `jaxloss demo --update-readme README.md`"
    )


def test_a_script_runs_the_demo_it_is_named_after(tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, os.path.join(ROOT, "demos", "cross_entropy.py"), "--fast", "--out",
                           str(tmp_path)], capture_output=True, text=True, env=env, cwd=tmp_path, check=True)
    assert "== cross-entropy ==" in done.stdout and (tmp_path / "cross_entropy.png").exists()


def test_a_demo_out_of_the_gallery_runs_by_name_only(monkeypatch, capsys):
    import dataclasses

    from jaxloss import cli
    from jaxloss.demos import _gallery

    monkeypatch.setitem(demos.DEMOS, "descent", dataclasses.replace(demos.DEMOS["descent"], in_gallery=False))
    assert "descent" not in demos.names(gallery=True) and "descent" in demos.names()
    assert "**`descent`**" not in _gallery.markdown()
    assert cli.main(["demo"]) == 0
    assert "(not in `all`)" in capsys.readouterr().out


def test_trajectory_records_every_step():
    import jax.numpy as jnp
    import optax

    from jaxloss.train import trajectory

    walk = trajectory(lambda p: jnp.sum((p["w"] - 3.0) ** 2), {"w": jnp.zeros(2)}, optax.sgd(0.25), 5)
    assert walk.losses.shape == (5,) and walk.path["w"].shape == (6, 2)
    np.testing.assert_allclose(walk.path["w"][0], 0.0)
    np.testing.assert_allclose(walk.path["w"][-1], walk.params["w"])
    np.testing.assert_allclose(walk.losses, [2 * (3.0 * 0.5 ** k) ** 2 for k in range(5)], rtol=1e-6)
    points = walk.points(every=2)
    assert len(points) == 4 and float(points[-1]["w"][0]) == pytest.approx(float(walk.params["w"][0]))
    with pytest.raises(ValueError, match="steps"):
        trajectory(lambda p: p ** 2, 1.0, optax.sgd(0.1), -1)


def test_darts(out):
    r = _run("darts", out)
    n = r.numbers
    assert n["scattered_mse"] > n["tight_mse"] and n["scattered_mae"] > n["tight_mae"]
    d = r.data["distances"]["scattered"]
    assert n["scattered_mse"] == pytest.approx(np.mean(d ** 2), rel=1e-5)
    assert n["scattered_mae"] == pytest.approx(np.mean(d), rel=1e-5)


def test_mse_vs_mae(out):
    r = _run("mse-vs-mae", out)
    e, mse, mae = r.data["errors"], r.data["MSE"], r.data["MAE"]
    beyond = np.abs(e) > 1.0
    assert np.all(mse[beyond] > mae[beyond])  # the MSE curve is above the MAE curve beyond an error of 1
    assert np.all(mse[np.abs(e) < 1.0] <= mae[np.abs(e) < 1.0] + 1e-7)
    assert (r.numbers["mse(+3)"], r.numbers["mse(-3)"], r.numbers["mae(10)"], r.numbers["mae(20)"]) == (9, 9, 10, 20)
    assert np.all(np.abs(r.data["grad MAE"][np.abs(e) > 0.05]) == pytest.approx(1.0))


def test_loss_vs_error_figure_holds_the_curves():
    from jaxloss import plot

    fig = plot.loss_vs_error(["mse", "mae"], np.linspace(-3, 3, 61))
    (x, mse), (_, mae) = (line.get_data() for line in fig.axes[0].lines[:2])
    assert np.all(np.asarray(mse)[np.abs(x) > 1] > np.asarray(mae)[np.abs(x) > 1])
    grads = [np.asarray(line.get_ydata()) for line in fig.axes[1].lines[:2]]
    np.testing.assert_allclose(grads[0], 2 * np.asarray(x), rtol=1e-5, atol=1e-6)
    plot.close(fig)


def test_outliers(out):
    r = _run("outliers", out)
    err = r.data["slope_error"]
    assert err["MSE"] > 2 * err["MAE"] and err["MSE"] > 2 * err["Huber (delta=1)"]


def test_cross_entropy(out):
    r = _run("cross-entropy", out)
    np.testing.assert_allclose(r.data["costs"], -np.log([0.7, 0.2, 0.1]), rtol=1e-5)
    assert np.all(np.diff(r.data["-log p"]) < 0)


def test_loss_vs_accuracy(out):
    n = _run("loss-vs-accuracy", out).numbers
    assert n["accuracy A"] == n["accuracy B"] == pytest.approx(0.9)
    assert n["loss B"] > 3 * n["loss A"]


def test_training_curve(out):
    r = _run("training-curve", out)
    train = r.data["train"]
    assert train[-1] < 0.3 * train[0]  # far below the first
    end_high, end_drop = r.data["phases"]
    assert 1 <= end_high < end_drop <= len(train)


def test_overfitting(out):
    r = _run("overfitting", out)
    val, train = r.data["val"], r.data["train"]
    best = int(np.argmin(val))
    assert best < len(val) - 1 and val[-1] > 1.5 * val[best]  # validation turns up before the last epoch
    assert train[-1] < train[best]  # while training keeps falling
    assert r.numbers["early stop status"] == "early_stopped" and r.numbers["early stop epoch"] < len(val)


def test_loss_vs_metric(out):
    r = _run("loss-vs-metric", out)
    sweep = r.data["sweep"]
    assert np.all(sweep["grad accuracy"] == 0.0)
    assert np.mean(np.abs(sweep["grad loss"]) > 1e-4) > 0.9
    assert len(np.unique(sweep["accuracy"])) > 2  # a staircase, not a constant


def test_descent_demo_and_every_loss_descending_with_x64_off(out):
    """The descent demo has one panel per registered loss, and every loss descends on its toy problem
    (``jl.train_catalog(fast=True)``: its suggested epochs, not the demo's four steps).

    Both train the whole catalog in one compiled program, the same one (epochs are not compiled in): one
    fresh process compiles it once, with x64 off as users run the demo (the suite runs with x64 on).
    """
    code = textwrap.dedent(f"""
        import json
        import jaxloss as jl
        from jaxloss import demos
        r = demos.run("descent", {str(out)!r}, fast=True)
        results = jl.train_catalog(fast=True)
        print(json.dumps({{
            "names": r.data["names"], "panels": r.numbers["panels"], "figures": [str(f) for f in r.figures],
            "shown": sorted(set(r.data["curves"]) | set(r.data["failures"])), "failures": r.data["failures"],
            "trained": sorted(results),
            "not_descending": [[k, h.status, [float(v) for v in h["loss"]]] for k, h in results.items()
                               if not (h.status == "completed" and h["loss"][-1] < h["loss"][0])],
        }}))
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                         env=dict(os.environ, JAX_ENABLE_X64="0"))
    assert run.returncode == 0, run.stderr[-3000:]
    r = json.loads(run.stdout.strip().splitlines()[-1])
    names = [e.name for e in jl.catalog()]
    assert r["names"] == names and r["panels"] == len(names) and r["shown"] == sorted(names)
    assert not r["failures"], r["failures"]
    assert [os.path.basename(f) for f in r["figures"]] == ["descent.png"] and os.path.getsize(r["figures"][0]) > 1000
    assert r["trained"] == sorted(names)
    assert not r["not_descending"], r["not_descending"]


def test_landscape(out):
    r = _run("landscape", out)
    for land in r.data["surfaces"].values():
        assert np.all(np.isfinite(land.values)) and set(land.paths) == {"SGD", "momentum", "Adam"}
        start = [p[0] for p in land.paths.values()]
        assert np.allclose(start, start[0])
    pca = r.data["pca"]
    assert pca.explained[0] > 0.5 and pca.paths["Adam"].shape[1] == 2
    assert r.data["mlp_losses"][-1] < r.data["mlp_losses"][0]


def test_loss_landscape_filter_normalization():
    import jax.numpy as jnp

    from jaxloss import plot

    params = {"w": jnp.asarray(np.random.default_rng(0).normal(size=(3, 4))), "b": jnp.ones(4)}
    land = plot.landscape_surface(lambda p: jnp.sum(p["w"] ** 2) + jnp.sum(p["b"]), params, resolution=5)
    d = land.directions[0]
    w_dir = d[4:].reshape(3, 4) if d[:4].any() == 0 else d[:12].reshape(3, 4)  # biases are zeroed
    np.testing.assert_allclose(np.linalg.norm(w_dir, axis=0), np.linalg.norm(np.asarray(params["w"]), axis=0),
                               rtol=1e-6)
    assert land.values.shape == (5, 5)


def test_gradients(out):
    r = _run("gradients", out)
    assert r.numbers["outlier share MSE"] > 0.6 > r.numbers["outlier share Huber (delta=1)"]
    assert r.numbers["dominant are outliers"]


def test_playground_2d_and_its_settings(out, tmp_path):
    r = _run("playground-2d", out)
    # It links to the live page: a URL state the browser playground accepts, with the same loss.
    from jaxloss.playground._state import TrainState

    live = r.summary.split("jaxloss playground --state '")[1].split("'")[0]
    assert TrainState.from_hash(live).loss == jl.info(playground_2d.Settings().loss).name
    gif = next(p for p in r.figures if p.endswith(".gif"))
    from PIL import Image

    with Image.open(gif) as im:
        assert im.n_frames == r.numbers["frames"] >= 2
    assert r.data["train_loss"][-1] < r.data["train_loss"][0]
    s = playground_2d.Settings(dataset="circles", loss="hinge", steps=10, frames=2, n=40, seed=3)
    path = tmp_path / "s.json"
    s.to_json(path)
    assert playground_2d.Settings.from_json(path) == s
    a = playground_2d.train(s)
    b = playground_2d.train(playground_2d.Settings.from_json(path))
    np.testing.assert_array_equal(a["train_loss"], b["train_loss"])  # reproduced exactly
    with pytest.raises(ValueError, match="triplet"):
        playground_2d.Settings(loss="triplet_margin").checked()


def test_language_model(out):
    r = _run("language-model", out)
    history = r.data["history"]
    # It learned more than the characters' frequencies: it reads the context. (The corpus is the package's own
    # docstrings, so a fixed fraction of the uniform loss moved with every docstring edit.)
    assert history["val_loss"][-1] < r.numbers["unigram loss"] < r.numbers["uniform loss"]
    assert history["loss"][-1] < history["loss"][0]
    assert r.numbers["memory ratio at the largest vocabulary"] > 20  # 131,072 tokens: the logits dominate
    assert len(r.data["sample"]) > 8


def test_command_line_lists_and_runs(tmp_path):
    from jaxloss import cli

    env = {**os.environ, "MPLBACKEND": "Agg"}
    listing = subprocess.run([sys.executable, "-m", "jaxloss", "demo"], capture_output=True, text=True, env=env,
                             cwd=tmp_path, check=True).stdout
    assert all(name in listing for name in demos.names())
    assert cli.main(["demo", "cross-entropy", "--fast", "--out", str(tmp_path), "--format", "svg"]) == 0
    assert (tmp_path / "cross_entropy.svg").exists()
    assert cli.main(["demo", "no-such-demo"]) == 2
