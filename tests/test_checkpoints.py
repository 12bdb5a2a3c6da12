"""fit's checkpoints (issue 25, item 5): atomic, leaves stored by key path, orbax or .npz + JSON.

* A crash at every step of a save (``_checkpoint._sync`` ends each step: it raises after k of them)
  leaves a checkpoint that resumes to the uninterrupted run, bit for bit.
* A torn checkpoint (files from two epochs, assembled by hand), an edited file, or a tree of another
  model or optimizer raises a ValueError naming the file and what differs (key path, shape, epoch).
* Both formats round-trip and resume bit-identically, from either format; orbax stays optional.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxloss as jl
from jaxloss.train import _checkpoint

FORMATS = ["npz", pytest.param("orbax", marks=pytest.mark.skipif(not _checkpoint._orbax_installed(),
                                                                  reason="orbax-checkpoint is not installed"))]

X = np.random.default_rng(0).normal(size=(24, 3)).astype(np.float32)
Y = (X[:, 0] - X[:, 1] > 0).astype(np.float32)
P0 = {"w": jnp.zeros(3, jnp.float32), "b": jnp.zeros((), jnp.float32)}
OPT = optax.adam(0.1)  # an optimizer state with key paths of its own: [0].count, [0].mu['w'], ...


def linear(params, inputs):
    return inputs @ params["w"] + params["b"]


def _fit(epochs, params=P0, model=linear, optimizer=OPT, **kw):
    return jl.fit(model, params, jl.bce, (X, Y), optimizer=optimizer, epochs=epochs, batch_size=8, progress=False,
                  **kw)


def _same(a, b):
    """Bit-identical results: the History, the parameters and the optimizer state."""
    np.testing.assert_array_equal(a.history["loss"], b.history["loss"])
    for x, y in zip(jax.tree.leaves((a.params, a.opt_state)), jax.tree.leaves((b.params, b.opt_state)), strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.fixture(scope="module")
def full():
    return {n: _fit(n) for n in (2, 3)}


@pytest.fixture(scope="module", params=FORMATS)
def saved(request, tmp_path_factory):
    """Checkpoints of epochs 1 and 2 (both kept) in one format."""
    directory = tmp_path_factory.mktemp(f"saved-{request.param}")
    _fit(2, checkpoint_dir=directory, checkpoint_format=request.param)
    return request.param, directory


def _rehash(checkpoint):
    """Records the files as they are now in the manifest: what a hand-made manifest would do, so the
    checks behind the hashes are reached."""
    manifest = json.loads((checkpoint / "manifest.json").read_text())
    for name, entry in manifest["files"].items():
        data = (checkpoint / name).read_bytes()
        entry.update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    (checkpoint / "manifest.json").write_text(json.dumps(manifest))


def _copy(saved, tmp_path, epoch=2):
    target = tmp_path / "copy"
    shutil.copytree(saved[1] / f"epoch_{epoch:06d}", target)
    return target


# -- atomic writes ----------------------------------------------------------------------------------


class Crash(Exception):
    pass


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_crash_at_every_step_of_a_save_leaves_a_checkpoint_that_resumes_to_the_same_run(fmt, tmp_path, full,
                                                                                           monkeypatch):
    base = tmp_path / "base"
    _fit(1, checkpoint_dir=base, checkpoint_format=fmt)
    real_sync, resumed_from = _checkpoint._sync, set()
    for k in range(100):
        directory = tmp_path / f"crash-{k}"
        shutil.copytree(base, directory)
        calls = [0]

        def sync(path, k=k, calls=calls):
            if calls[0] == k:
                raise Crash(f"crashed at step {k}: {path}")
            calls[0] += 1
            real_sync(path)

        monkeypatch.setattr(_checkpoint, "_sync", sync)
        try:  # epoch 2 trains and its save crashes after k steps
            _fit(2, resume_from=directory, checkpoint_dir=directory, checkpoint_format=fmt)
        except Crash:
            crashed = True
        else:
            crashed = False
        monkeypatch.setattr(_checkpoint, "_sync", real_sync)
        latest = (directory / "latest").read_text().strip()
        resumed_from.add(latest)
        assert latest in ("epoch_000001", "epoch_000002") and (directory / latest / "manifest.json").exists()
        _same(_fit(2, resume_from=directory), full[2])  # from epoch 1 (one more epoch) or epoch 2 (none)
        if not crashed:
            break
    assert k >= 8 and resumed_from == {"epoch_000001", "epoch_000002"}, (k, resumed_from)
    # The next save clears what the crashes left; the previous checkpoint and the new one remain.
    for k in range(k + 1):
        if any(n.startswith(".") for n in os.listdir(tmp_path / f"crash-{k}")):
            break
    _fit(3, resume_from=directory, checkpoint_dir=tmp_path / f"crash-{k}", checkpoint_format=fmt)
    left = sorted(os.listdir(tmp_path / f"crash-{k}"))
    assert left[-1] == "latest" and left[-2] == "epoch_000003" and len(left) <= 3, left


def test_the_layout_keeps_the_current_and_the_previous_checkpoint(tmp_path, full):
    _fit(3, checkpoint_dir=tmp_path, checkpoint_format="npz")
    assert sorted(os.listdir(tmp_path)) == ["epoch_000002", "epoch_000003", "latest"]
    assert (tmp_path / "latest").read_text() == "epoch_000003\n"
    assert sorted(os.listdir(tmp_path / "epoch_000003")) == [
        "best_model_state.npz", "best_params.npz", "history.json", "manifest.json", "model_state.npz",
        "opt_state.npz", "params.npz", "state.json"]
    # A fresh run in the same directory replaces the checkpoints of the earlier one.
    _fit(1, checkpoint_dir=tmp_path, checkpoint_format="npz")
    assert sorted(os.listdir(tmp_path)) == ["epoch_000001", "latest"]
    _same(_fit(3, resume_from=tmp_path), full[3])


def test_only_process_zero_writes(tmp_path, monkeypatch):
    monkeypatch.setattr(jax, "process_index", lambda: 1)
    _checkpoint.save_checkpoint(_checkpoint.Destination(str(tmp_path / "c"), "orbax"), {})
    assert not (tmp_path / "c").exists()


# -- both formats -----------------------------------------------------------------------------------


def test_both_formats_resume_bit_identically_from_either(saved, full, tmp_path):
    fmt, directory = saved
    _same(_fit(3, resume_from=directory), full[3])
    _same(_fit(3, resume_from=directory / "epoch_000001"), full[3])  # one epoch_* directory
    # Resumed from one format, writing the other: the result does not change.
    other = "npz" if fmt == "orbax" else "orbax"
    if other == "orbax" and not _checkpoint._orbax_installed():
        return
    _fit(3, resume_from=directory, checkpoint_dir=tmp_path, checkpoint_format=other)
    assert json.loads((tmp_path / "epoch_000003" / "manifest.json").read_text())["backend"] == other
    _same(_fit(3, resume_from=tmp_path), full[3])


@pytest.mark.parametrize("fmt", FORMATS)
def test_bfloat16_and_typed_keys_round_trip(fmt, tmp_path):
    trees = {"params": {"w": jnp.arange(3, dtype=jnp.bfloat16), "k": jax.random.key(3)},
             "opt_state": (jnp.int32(7), {"m": np.float32([1.5, -2.0])}), "model_state": {},
             "best_params": {"w": jnp.ones(3, jnp.bfloat16), "k": jax.random.key(4)}, "best_model_state": None}
    history = jl.History({"epoch": [1], "loss": [0.5]})
    _checkpoint.save_checkpoint(tmp_path, {**trees, "history": history, "epoch": 1, "step": 3, "seed": 0,
                                           "best_value": 0.5, "has_best": True, "best_epoch": 1, "wait": 0},
                                backend=fmt)
    back = _checkpoint.load_checkpoint(tmp_path, trees, epochs=2)
    for name in _checkpoint.TREES:
        got, want = jax.tree_util.tree_flatten_with_path(back[name]), jax.tree_util.tree_flatten_with_path(trees[name])
        assert got[1] == want[1]
        for (path, a), (_, b) in zip(got[0], want[0], strict=True):
            if jax.dtypes.issubdtype(b.dtype, jax.dtypes.prng_key):
                a, b = jax.random.key_data(a), jax.random.key_data(b)
            assert a.dtype == b.dtype, path
            np.testing.assert_array_equal(a, b)


def test_checkpoint_format_is_checked_and_orbax_stays_optional(tmp_path, monkeypatch):
    for value, error in (("zip", ValueError), (3, TypeError), (None, TypeError)):
        with pytest.raises(error, match=r"fit: checkpoint_format"):
            _fit(1, checkpoint_dir=tmp_path, checkpoint_format=value)
    assert not tmp_path.joinpath("latest").exists()
    monkeypatch.setattr(_checkpoint, "_orbax_installed", lambda: False)
    with pytest.raises(ImportError, match=r"fit: checkpoint_format='orbax' needs orbax-checkpoint.*pip install"):
        _fit(1, checkpoint_dir=tmp_path, checkpoint_format="orbax")
    _fit(1, checkpoint_dir=tmp_path)  # "auto" without orbax: .npz
    assert json.loads((tmp_path / "epoch_000001" / "manifest.json").read_text())["backend"] == "npz"


def test_import_jaxloss_and_an_npz_checkpoint_do_not_import_orbax(tmp_path):
    code = ("import sys, numpy as np, jaxloss as jl\n"
            "assert 'orbax' not in sys.modules, 'import jaxloss imported orbax'\n"
            "x = np.ones((4, 2), np.float32)\n"
            f"jl.fit(lambda p, x: x @ p, np.zeros(2, np.float32), 'mse', (x, x[:, 0]), epochs=1, progress=False, "
            f"checkpoint_dir={str(tmp_path)!r}, checkpoint_format='npz')\n"
            "assert not [m for m in sys.modules if m.startswith('orbax')], 'an npz checkpoint imported orbax'\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]


# -- what loading refuses, named ----------------------------------------------------------------------


TORN = {  # a part of epoch 1 in the checkpoint of epoch 2, and what the error says
    "params.npz": r"params.npz: it was written at epoch 1, but the checkpoint \(manifest.json\) is of epoch 2",
    "opt_state.npz": r"opt_state.npz: it was written at epoch 1",
    "state.json": r"state.json: it was written at epoch 1",
    "history.json": r"history.json: it was written at epoch 1",
    "manifest.json": r"state.json: it was written at epoch 2, but the checkpoint \(manifest.json\) is of epoch 1",
    "arrays": r"arrays/\S+: (it is missing|it has \d+ bytes|its SHA-256 differs)",  # orbax's directory
}


def test_a_torn_checkpoint_names_the_file(saved, tmp_path):
    fmt, directory = saved
    parts = [p for p in TORN if (p.endswith(".npz") and fmt == "npz") or (p == "arrays" and fmt == "orbax")
             or p.endswith(".json")]
    assert len(parts) == (5 if fmt == "npz" else 4)
    for part in parts:
        torn = _copy(saved, tmp_path / part)
        source = directory / "epoch_000001" / part
        (shutil.rmtree if source.is_dir() else os.remove)(torn / part)
        (shutil.copytree if source.is_dir() else shutil.copy)(source, torn / part)
        with pytest.raises(ValueError, match="fit: cannot resume from checkpoint file .*" + TORN[part]):
            _fit(3, resume_from=torn)


def test_a_torn_checkpoint_is_named_also_behind_a_rewritten_manifest(saved, tmp_path):
    """Each part records its epoch: with the hashes made to fit, the odd part is still found."""
    fmt, directory = saved
    part = "arrays" if fmt == "orbax" else "params.npz"
    torn = _copy(saved, tmp_path)
    if fmt == "orbax":
        shutil.rmtree(torn / part)
        shutil.copytree(directory / "epoch_000001" / part, torn / part)
        manifest = json.loads((torn / "manifest.json").read_text())
        old = json.loads((directory / "epoch_000001" / "manifest.json").read_text())
        manifest["files"] = {k: v for k, v in manifest["files"].items() if not k.startswith("arrays/")} | {
            k: dict(v, epoch=2) for k, v in old["files"].items() if k.startswith("arrays/")}
        (torn / "manifest.json").write_text(json.dumps(manifest))
    else:
        shutil.copy(directory / "epoch_000001" / part, torn / part)
    _rehash(torn)
    with pytest.raises(ValueError, match=rf"{part}: it was written at epoch 1, but the checkpoint .* of epoch 2"):
        _fit(3, resume_from=torn)


@pytest.mark.parametrize("damage", ["truncated", "one byte changed"])
def test_an_edited_file_is_named_with_what_changed(saved, tmp_path, damage):
    fmt, _ = saved
    copy = _copy(saved, tmp_path)
    manifest = json.loads((copy / "manifest.json").read_text())
    name = max(manifest["files"], key=lambda n: manifest["files"][n]["bytes"])  # the largest array file
    data = (copy / name).read_bytes()
    (copy / name).write_bytes(data[:20] if damage == "truncated" else data[:-1] + bytes([data[-1] ^ 1]))
    message = (r"it has 20 bytes; \d+ were written" if damage == "truncated" else
               "its SHA-256 differs from the one recorded")
    with pytest.raises(ValueError, match=rf"{name}: {message} at epoch 2"):
        _fit(3, resume_from=copy)


def test_another_model_is_named_by_key_path(saved):
    fmt, directory = saved
    file = "arrays" if fmt == "orbax" else "params.npz"
    wider = {"w": jnp.zeros(4, jnp.float32), "b": jnp.zeros((), jnp.float32)}
    with pytest.raises(ValueError, match=rf"{file}: params\['w'\] is float32\[3\]; the run expects float32\[4\]"):
        jl.fit(linear, wider, jl.bce, (np.ones((8, 4), np.float32), np.ones(8, np.float32)), optimizer=OPT, epochs=3,
               progress=False, resume_from=directory)
    # A parameter renamed in the dict: both names, the run's and the checkpoint's.
    renamed = {"weight": P0["w"], "b": P0["b"]}
    with pytest.raises(ValueError, match=rf"{file}: the key paths differ: the run's params has \['weight'\], which "
                                         r"the checkpoint lacks; the checkpoint's params has \['w'\], which the run"):
        _fit(3, params=renamed, model=lambda p, x: x @ p["weight"] + p["b"], resume_from=directory)
    # Another optimizer: its state's key paths.
    file = "arrays" if fmt == "orbax" else "opt_state.npz"
    with pytest.raises(ValueError, match=rf"{file}: the key paths differ: .*the checkpoint's opt_state has "
                                         r"\[0\]\.count, \[0\]\.mu\['b'\]"):
        _fit(3, optimizer=optax.sgd(0.1), resume_from=directory)


def test_npz_files_store_leaves_by_key_path(tmp_path):
    directory = tmp_path / "saved"
    _fit(2, checkpoint_dir=directory, checkpoint_format="npz")
    with np.load(directory / "epoch_000002" / "params.npz", allow_pickle=False) as data:
        assert sorted(data.files) == ["['b']", "['w']", "__checkpoint__"]
    with np.load(directory / "epoch_000002" / "opt_state.npz", allow_pickle=False) as data:
        assert "[0].mu['w']" in data.files and "[0].count" in data.files
    # An array renamed inside the file (the manifest made to fit) is found by its name, not its place.
    copy = _copy(("npz", directory), tmp_path)
    with np.load(copy / "params.npz", allow_pickle=False) as data:
        arrays = {("['v']" if k == "['w']" else k): data[k] for k in data.files}
    np.savez(copy / "params.npz", **arrays)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["trees"]["params"] = {"['b']": "float32", "['v']": "float32"}
    (copy / "manifest.json").write_text(json.dumps(manifest))
    _rehash(copy)
    with pytest.raises(ValueError, match=r"params.npz: the key paths differ: the run's params has \['w'\], which the "
                                         r"checkpoint lacks; the checkpoint's params has \['v'\]"):
        _fit(3, resume_from=copy)


def test_no_checkpoint_and_an_old_checkpoint_say_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="holds no checkpoint"):
        _fit(1, resume_from=tmp_path)
    (tmp_path / "state.json").write_text("{}")
    (tmp_path / "params.npz").write_bytes(b"")
    with pytest.raises(ValueError, match="a checkpoint of an earlier jaxloss .* by position"):
        _fit(1, resume_from=tmp_path)
