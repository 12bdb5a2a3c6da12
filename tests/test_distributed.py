"""Beyond one device and one process, on this machine's CPU.

* Several processes: ``examples/distributed_fit.py`` starts two processes of two virtual CPU devices
  each, joined by ``jax.distributed`` (a coordinator on 127.0.0.1, gloo collectives); each trains on
  its own shard with the same ``fit``, process 0 writes the checkpoints. The run equals one process's
  run on all the data, and a resumed multi-process run equals an uninterrupted one.
* Sharded losses: every registered loss gives the same value and gradient with its inputs sharded
  over 4 devices (``NamedSharding`` on the batch axis, under ``jit``) as unsharded.

Subprocesses force the CPU platform (``JAX_PLATFORMS=cpu``), so these tests mean the same on a GPU machine.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import jaxloss as jl

ROOT = pathlib.Path(__file__).parent.parent
sys.path.insert(0, str(ROOT / "examples"))

import distributed_fit  # noqa: E402

pytestmark = pytest.mark.xdist_group("distributed")
# The processes get the suite's cheap XLA flags (conftest) with the environment; distributed_fit appends
# its virtual-device count to them.


def _close(a: dict, b: dict, epochs: slice = slice(None)) -> None:
    np.testing.assert_allclose(a["loss"], b["loss"][epochs], rtol=1e-5)
    np.testing.assert_allclose(a["val_auc"], b["val_auc"][epochs], rtol=1e-5)


def test_two_processes_train_as_one_and_resume(tmp_path):
    one = distributed_fit.single(epochs=3)
    checkpoints = tmp_path / "checkpoints"
    first = distributed_fit.launch(2, 2, epochs=2, checkpoint_dir=str(checkpoints))
    assert (first["processes"], first["devices"]) == (2, 4)
    _close(first, one, slice(0, 2))  # the same epochs as one process on all the data
    assert sorted(p.name for p in checkpoints.iterdir()) == ["epoch_000001", "epoch_000002", "latest"]
    resumed = distributed_fit.launch(2, 2, epochs=3, resume_from=str(checkpoints))
    _close(resumed, one)  # resumed across processes: the uninterrupted single-process run
    for key, value in one["params"].items():
        np.testing.assert_allclose(resumed["params"][key], value, rtol=1e-5, atol=1e-6)
    assert resumed["steps"] == one["steps"] == 3 * 192 // 32


def test_only_process_zero_writes_checkpoints(tmp_path, monkeypatch):
    import jax

    from jaxloss.train import _checkpoint

    monkeypatch.setattr(jax, "process_index", lambda: 1)
    _checkpoint.save_checkpoint(tmp_path / "c", {})  # returns before reading anything
    assert not (tmp_path / "c").exists()


def test_every_loss_is_the_same_sharded_over_four_devices():
    env = dict(os.environ, JAX_PLATFORMS="cpu",
               XLA_FLAGS=f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=4".strip())
    out = subprocess.run([sys.executable, str(ROOT / "tests" / "_sharded_losses.py")], capture_output=True, text=True,
                         env=env, timeout=600, cwd=ROOT / "tests")
    assert out.returncode == 0, out.stderr[-3000:]
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert [r["name"] for r in rows] == [e.name for e in jl.catalog()]  # every registered loss
    bad = [r for r in rows if "error" in r or r["relative_difference"] > 1e-5]
    assert not bad, bad


def test_two_processes_train_on_iterables_of_batches():
    # Each process feeds its shard as a list of batches of 16: the global batch k is every process's
    # k-th batch, which one process given those global batches reproduces.
    many = distributed_fit.launch(2, 2, epochs=2, local_batch=16)
    one = distributed_fit.single(epochs=2, stream_of=(2, 16))
    np.testing.assert_allclose(many["loss"], one["loss"], rtol=1e-5)
    np.testing.assert_allclose(many["val_auc"], one["val_auc"], rtol=1e-5)
    assert many["steps"] == one["steps"] == 2 * 192 // 32
