"""Data-parallel ``jl.fit`` over several processes with ``jax.distributed``, and how to launch it.

Run it as it is and it plays a small cluster on this machine: it starts ``--processes`` processes
(default 2), each with ``--devices`` virtual CPU devices (default 2) and CPU collectives (gloo),
joined through a coordinator on 127.0.0.1. Each process reads only its own shard of the data and
calls the same ``fit``; process 0 writes the checkpoints. It then trains the same model on all the
data in one process and prints both results, which agree::

    python examples/distributed_fit.py
    python examples/distributed_fit.py --processes 4 --devices 1
    python examples/distributed_fit.py --local-batch 16     # each process yields its part of every batch

On a real cluster, run one copy of the worker per host (or per GPU) and let JAX find its peers:

* SLURM: ``srun --ntasks=N python train.py`` where ``train.py`` calls ``jax.distributed.initialize()``
  with no arguments (JAX reads the SLURM environment);
* Cloud TPU pods: run the script on every host (``gcloud compute tpus tpu-vm ssh ... --worker=all``);
  ``jax.distributed.initialize()`` needs no arguments there either;
* elsewhere: ``jax.distributed.initialize("HOST0:PORT", num_processes=N, process_id=i)`` in process i.

What ``fit`` needs from each process: the same model, loss, optimizer, seed and ``batch_size`` (the
global batch, divisible by the total number of devices), and its own equal-sized shard of the examples
(a multiple of its local device count). Process ``p``'s shard comes after process ``p - 1``'s: the run
equals one process's run on the shards concatenated in that order. With an iterable of batches, each
process yields its own part of every global batch, the same size everywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import socket
import subprocess
import sys
import tempfile

import numpy as np

EXAMPLES, FEATURES = 192, 3


def data():
    """The whole dataset (every process makes the same one and keeps its shard)."""
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(EXAMPLES, FEATURES)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5], np.float32) + 0.1 * rng.normal(size=EXAMPLES) > 0).astype(np.float32)
    return x, y


def shard(arrays, index: int, count: int):
    """Process ``index`` of ``count``: its contiguous, equal share of every array."""
    size = len(arrays[0]) // count
    return tuple(a[index * size:(index + 1) * size] for a in arrays)


def batches(x, y, size: int) -> list:
    """An iterable of batches (a list, so it can be read every epoch), in order."""
    return [(x[i:i + size], y[i:i + size]) for i in range(0, len(x), size)]


def interleaved(arrays, count: int, size: int):
    """The global batches' rows in order: batch k is every process's k-th local batch, in process order."""
    shards = [shard(arrays, p, count) for p in range(count)]
    steps = len(shards[0][0]) // size
    return tuple(np.concatenate([s[i][k * size:(k + 1) * size] for k in range(steps) for s in shards])
                 for i in range(len(arrays)))


def train(x, y, *, epochs: int, checkpoint_dir: str | None = None, resume_from: str | None = None,
          local_batch: int | None = None):
    """The training every process runs (and the single-process reference); ``local_batch``: feed an
    iterable of batches of that many examples instead of the arrays."""
    import jax.numpy as jnp
    import optax

    import jaxloss as jl

    def model(params, inputs):
        return jnp.tanh(inputs @ params["w1"] + params["b1"]) @ params["w2"] + params["b2"]

    params = {"w1": jnp.full((FEATURES, 8), 0.1) * jnp.arange(1, 9) / 8, "b1": jnp.zeros(8),
              "w2": jnp.linspace(-0.5, 0.5, 8), "b2": jnp.zeros(())}
    data = (x, y) if local_batch is None else batches(x, y, local_batch)
    return jl.fit(model, params, jl.binary_cross_entropy, data, optimizer=optax.adam(0.05), epochs=epochs,
                  batch_size=32, val=(x, y), metrics=("auc",), seed=3, progress=False,
                  checkpoint_dir=checkpoint_dir, resume_from=resume_from)


def summary(result) -> dict:
    import numpy as np

    return {"loss": [float(v) for v in result.history["loss"]],
            "val_auc": [float(v) for v in result.history["val_auc"]],
            "params": {k: np.asarray(v).tolist() for k, v in result.params.items()}, "steps": result.steps}


def worker(index: int, count: int, port: int, out: str, *, epochs: int, checkpoint_dir: str | None,
           resume_from: str | None, local_batch: int | None = None) -> None:
    """One process of the cluster: join it, train on this process's shard, and (process 0) write the result."""
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")  # CPU collectives across processes
    jax.distributed.initialize(f"127.0.0.1:{port}", num_processes=count, process_id=index)
    x, y = shard(data(), jax.process_index(), jax.process_count())
    result = train(x, y, epochs=epochs, checkpoint_dir=checkpoint_dir, resume_from=resume_from,
                   local_batch=local_batch)
    if jax.process_index() == 0:
        pathlib.Path(out).write_text(json.dumps({**summary(result), "devices": jax.device_count(),
                                                 "processes": jax.process_count()}))
    jax.distributed.shutdown()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _environment(devices: int) -> dict:
    flags = os.environ.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={devices}"
    return dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS=flags.strip())


def launch(processes: int = 2, devices: int = 2, *, epochs: int = 4, checkpoint_dir: str | None = None,
           resume_from: str | None = None, local_batch: int | None = None, timeout: float = 300) -> dict:
    """Starts ``processes`` local workers of ``devices`` CPU devices each; returns process 0's summary."""
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.json")
        extra = [f"--epochs={epochs}"] + ([f"--checkpoint-dir={checkpoint_dir}"] if checkpoint_dir else []) + (
            [f"--resume-from={resume_from}"] if resume_from else []) + (
            [f"--local-batch={local_batch}"] if local_batch else [])
        children = [subprocess.Popen([sys.executable, __file__, "--worker", str(i), str(processes), str(port), out,
                                      *extra], env=_environment(devices), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True) for i in range(processes)]
        failures = []
        for i, child in enumerate(children):
            try:
                _, err = child.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                for c in children:
                    c.kill()
                raise RuntimeError(f"process {i} did not finish in {timeout:.0f} s") from None
            if child.returncode:
                failures.append(f"process {i} exited with {child.returncode}:\n{err[-2000:]}")
        if failures:
            raise RuntimeError("\n".join(failures))
        return json.loads(pathlib.Path(out).read_text())


def single(*, epochs: int = 4, devices: int = 1, stream_of: tuple[int, int] | None = None) -> dict:
    """The reference: one process, all the data (in a fresh process, so ``devices`` applies).

    ``stream_of=(processes, local_batch)``: the iterable of global batches those processes make together.
    """
    if stream_of is None:
        call = f"d.train(*d.data(), epochs={epochs})"
    else:
        count, size = stream_of
        call = f"d.train(*d.interleaved(d.data(), {count}, {size}), epochs={epochs}, local_batch={count * size})"
    code = (f"import json, sys; sys.path.insert(0, {str(pathlib.Path(__file__).parent)!r}); import distributed_fit as d; "
            f"r = {call}; print(json.dumps(d.summary(r)))")
    out = subprocess.run([sys.executable, "-c", code], env=_environment(devices), capture_output=True, text=True,
                         check=True, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--devices", type=int, default=2, help="virtual CPU devices per process")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--checkpoint-dir")
    parser.add_argument("--resume-from")
    parser.add_argument("--local-batch", type=int, help="feed each process's shard as an iterable of batches")
    parser.add_argument("--worker", nargs=4, metavar=("INDEX", "COUNT", "PORT", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        index, count, port, out = args.worker
        worker(int(index), int(count), int(port), out, epochs=args.epochs, checkpoint_dir=args.checkpoint_dir,
               resume_from=args.resume_from, local_batch=args.local_batch)
        return 0
    many = launch(args.processes, args.devices, epochs=args.epochs, local_batch=args.local_batch)
    one = single(epochs=args.epochs,
                 stream_of=None if args.local_batch is None else (args.processes, args.local_batch))
    print(f"{many['processes']} processes, {many['devices']} devices: loss per epoch {many['loss']}")
    print(f"1 process, 1 device:   loss per epoch {one['loss']}")
    gap = max(abs(a - b) for a, b in zip(many["loss"], one["loss"]))
    print(f"largest difference: {gap:.2e} (float32 sums in another order)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
