"""jaxloss: loss functions in JAX, as pure, stable, differentiable functions.

>>> import jax, jax.numpy as jnp, jaxloss as jl
>>> predictions, targets = jnp.array([0.5, 2.0, 10.0]), jnp.zeros(3)
>>> round(float(jl.huber(predictions, targets, delta=1.0)), 4)
3.7083
>>> [round(g, 4) for g in jax.grad(jl.huber)(predictions, targets).tolist()]
[0.1667, 0.3333, 0.3333]

The table of contents: every public name is listed here once.
"""

from jaxloss._registry import Hyperparameter as Hyperparameter
from jaxloss._registry import LossInfo as LossInfo
from jaxloss._registry import catalog as catalog
from jaxloss._registry import get as get
from jaxloss._registry import info as info

# Metrics live in their own namespace: jaxloss.metrics.accuracy, ...
from jaxloss import metrics as metrics

# Aggregators of the terms' gradients (Jacobian descent): jaxloss.aggregators.upgrad, ...
from jaxloss import aggregators as aggregators

# Every loss of the catalog, by name and by short alias (mse, mae, cross_entropy, bce, info_nce): each
# family module lists its losses in its __all__ (jaxloss/losses/_<family>.py), so a new loss appears here
# by itself. jl.catalog() lists them with their metadata; README's catalog table is generated from it.
from jaxloss.losses import *  # noqa: F403

# Models: the contract fit, objectives and the inspector call (functions, flax nnx, equinox).
from jaxloss import models as models
from jaxloss.models import Model as Model

# Composition.
from jaxloss.compose import Composite as Composite
from jaxloss.compose import Objective as Objective
from jaxloss.compose import Regularizer as Regularizer
from jaxloss.compose import Schedule as Schedule
from jaxloss.compose import combine as combine
from jaxloss.compose import cyclical_schedule as cyclical_schedule
from jaxloss.compose import l1 as l1
from jaxloss.compose import l2 as l2
from jaxloss.compose import linear_schedule as linear_schedule
from jaxloss.compose import objective as objective
from jaxloss.compose import term as term
from jaxloss.compose import warmup as warmup

# Inspection.
from jaxloss.inspection import Card as Card
from jaxloss.inspection import GradCurve as GradCurve
from jaxloss.inspection import Report as Report
from jaxloss.inspection import check as check
from jaxloss.inspection import grad_curve as grad_curve
from jaxloss.inspection import inspect as inspect

# Training: the optax loop, its History, early stopping; toy problems for every loss.
from jaxloss.train import Callback as Callback
from jaxloss.train import CSVLogger as CSVLogger
from jaxloss.train import EarlyStopping as EarlyStopping
from jaxloss.train import EpochEnd as EpochEnd
from jaxloss.train import StepEnd as StepEnd
from jaxloss.train import FitResult as FitResult
from jaxloss.train import History as History
from jaxloss.train import StopTraining as StopTraining
from jaxloss.train import TensorBoardLogger as TensorBoardLogger
from jaxloss.train import Trajectory as Trajectory
from jaxloss.train import evaluate as evaluate
from jaxloss.train import fit as fit
from jaxloss.train import predict as predict
from jaxloss.train import trajectory as trajectory
from jaxloss.toys import ToyProblem as ToyProblem
from jaxloss.toys import toy_problem as toy_problem
from jaxloss.toys import train_catalog as train_catalog

# Every figure: curves, landscapes, plot.history, plot.report (matplotlib is imported when one is drawn).
from jaxloss import plot as plot

# The playground: a local web page (its server is imported only when it opens).
from jaxloss.playground import playground as playground

__version__ = "0.1.0"

#: Every public name above (the submodules included), and nothing this file imports privately.
__all__ = sorted(name for name in globals() if not name.startswith("_"))


def __dir__() -> list[str]:
    return __all__
