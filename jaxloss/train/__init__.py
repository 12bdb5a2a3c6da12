"""Training: ``fit`` runs optax on a loss, a composite or an objective, one compiled program per epoch.

>>> import jax, jax.numpy as jnp, jaxloss as jl
>>> x = jax.random.normal(jax.random.key(0), (256, 3))
>>> y = x @ jnp.array([1.0, -2.0, 0.5]) + 0.3
>>> model = lambda params, inputs: inputs @ params["w"] + params["b"]
>>> params = {"w": jnp.zeros(3), "b": jnp.zeros(())}
>>> result = jl.fit(model, params, jl.mse, (x, y), epochs=30, batch_size=32, progress=False)
>>> result.status, bool(result.history["loss"][-1] < 0.1 * result.history["loss"][0])
('completed', True)

How an epoch runs
-----------------
For in-memory data each epoch is **one** ``jax.jit``-compiled program: the examples are shuffled on
the device (the key folds ``seed`` and the epoch, so a resumed run draws the same batches), the full
batches run under ``lax.scan``, the remainder is one smaller step, and validation runs in the same
program. The program runs *several* epochs per call in a ``lax.while_loop``, keeping the best epoch,
its parameters and Keras's early-stopping count on the device; with a progress display the chunks are
sized to take about a tenth of a second, so the display moves per epoch. The next chunk is dispatched
before the previous one is read. The results are the same whatever the chunking.

Each step gets a random key folded from ``seed`` and the global step (dropout), runs the model in
training mode, carries its state (BatchNorm), and passes the step to composites and objectives (their
schedules). The non-finite guard selects the old values arithmetically, so on a GPU a step makes no
host round trip; the epoch loop's condition is read once per epoch.

The program is compiled once per (model, loss, optimizer, metrics, batch size) and per data shape; a
second ``fit`` with the same objects and shapes compiles nothing new, whatever ``epochs``, ``seed``,
``monitor`` or ``early_stopping``. Optimizers are compared by identity: build ``optax.adam(1e-3)`` once
and reuse it (the default optimizer is one shared object).

Iterables of batches (generators, loaders) run one compiled step per batch, with the next batches
converted and put on the device by a background thread while the current step runs.

Nothing is lost
---------------
* A non-finite loss, gradient or updated parameter stops the run: every later step changes
  nothing, so ``result.params`` are the last finite parameters; ``result.message`` names the epoch
  and the step.
* Ctrl-C (``KeyboardInterrupt``) returns the epochs trained so far.
* ``checkpoint_dir=`` saves parameters, optimizer and model state and history after each epoch with
  NumPy ``.npz`` and JSON (no pickle); ``resume_from=`` continues to the same result as an
  uninterrupted run, dropout keys included.

Data parallel
-------------
With more than one local device (and a batch size divisible by their number) the batch axis is
sharded over a one-axis ``jax.sharding.Mesh`` and the parameters and optimizer state replicated; XLA
inserts the gradient all-reduce. Across hosts, call ``jax.distributed.initialize()`` first on every
process; ``fit`` then uses its process's local devices (see the README).
"""

from jaxloss.train._callbacks import Callback as Callback
from jaxloss.train._callbacks import CSVLogger as CSVLogger
from jaxloss.train._callbacks import EpochEnd as EpochEnd
from jaxloss.train._callbacks import StepEnd as StepEnd
from jaxloss.train._callbacks import StopTraining as StopTraining
from jaxloss.train._callbacks import TensorBoardLogger as TensorBoardLogger
from jaxloss.train._early_stopping import EarlyStopping as EarlyStopping
from jaxloss.train._fit import DEFAULT_OPTIMIZER as DEFAULT_OPTIMIZER
from jaxloss.train._evaluate import evaluate as evaluate
from jaxloss.train._evaluate import predict as predict
from jaxloss.train._fit import fit as fit
from jaxloss.train._history import History as History
from jaxloss.train._objective import is_objective as is_objective
from jaxloss.train._result import FitResult as FitResult
from jaxloss.train._trajectory import Trajectory as Trajectory
from jaxloss.train._trajectory import trajectory as trajectory

__all__ = ["fit", "evaluate", "predict", "FitResult", "History", "EarlyStopping", "EpochEnd", "StepEnd", "Callback", "CSVLogger", "TensorBoardLogger",
           "StopTraining", "is_objective", "DEFAULT_OPTIMIZER", "trajectory", "Trajectory"]


def __dir__() -> list[str]:  # the public API only (not the modules this one imports)
    return sorted(__all__)
