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

# Regression.
from jaxloss.losses import gaussian_nll as gaussian_nll
from jaxloss.losses import huber as huber
from jaxloss.losses import log_cosh as log_cosh
from jaxloss.losses import mae as mae
from jaxloss.losses import mean_absolute_error as mean_absolute_error
from jaxloss.losses import mean_absolute_percentage_error as mean_absolute_percentage_error
from jaxloss.losses import mean_squared_error as mean_squared_error
from jaxloss.losses import mean_squared_log_error as mean_squared_log_error
from jaxloss.losses import mse as mse
from jaxloss.losses import poisson_nll as poisson_nll
from jaxloss.losses import quantile as quantile
from jaxloss.losses import smooth_l1 as smooth_l1

# Classification.
from jaxloss.losses import bce as bce
from jaxloss.losses import binary_cross_entropy as binary_cross_entropy
from jaxloss.losses import cross_entropy as cross_entropy
from jaxloss.losses import focal as focal
from jaxloss.losses import hinge as hinge
from jaxloss.losses import kl_divergence as kl_divergence
from jaxloss.losses import multiclass_hinge as multiclass_hinge
from jaxloss.losses import nll as nll
from jaxloss.losses import softmax_cross_entropy as softmax_cross_entropy
from jaxloss.losses import squared_hinge as squared_hinge

# Probabilistic.
from jaxloss.losses import generalized_kl_divergence as generalized_kl_divergence
from jaxloss.losses import jensen_shannon as jensen_shannon
from jaxloss.losses import laplace_nll as laplace_nll
from jaxloss.losses import student_t_nll as student_t_nll

# Robust regression.
from jaxloss.losses import cauchy as cauchy
from jaxloss.losses import general_robust as general_robust
from jaxloss.losses import geman_mcclure as geman_mcclure
from jaxloss.losses import tukey_biweight as tukey_biweight
from jaxloss.losses import welsch as welsch

# Margin (PyTorch's margin losses).
from jaxloss.losses import hinge_embedding as hinge_embedding
from jaxloss.losses import margin_ranking as margin_ranking
from jaxloss.losses import multi_margin as multi_margin
from jaxloss.losses import multilabel_margin as multilabel_margin
from jaxloss.losses import multilabel_soft_margin as multilabel_soft_margin
from jaxloss.losses import soft_margin as soft_margin

# Ranking (lists of scores against relevance labels).
from jaxloss.losses import listwise_softmax as listwise_softmax
from jaxloss.losses import pairwise_logistic as pairwise_logistic

# Embedding and metric learning.
from jaxloss.losses import contrastive as contrastive
from jaxloss.losses import cosine_distance as cosine_distance
from jaxloss.losses import cosine_embedding as cosine_embedding
from jaxloss.losses import info_nce as info_nce
from jaxloss.losses import ntxent as ntxent
from jaxloss.losses import triplet_margin as triplet_margin

# Segmentation.
from jaxloss.losses import dice as dice
from jaxloss.losses import focal_tversky as focal_tversky
from jaxloss.losses import jaccard as jaccard
from jaxloss.losses import tversky as tversky

# Sequence.
from jaxloss.losses import ctc as ctc

# Structured and sparse.
from jaxloss.losses import bitempered_logistic as bitempered_logistic
from jaxloss.losses import poly1_cross_entropy as poly1_cross_entropy
from jaxloss.losses import sparsemax_loss as sparsemax_loss
from jaxloss.losses import symmetric_cross_entropy as symmetric_cross_entropy

# Surrogates of metrics.
from jaxloss.losses import pairwise_auc as pairwise_auc
from jaxloss.losses import soft_accuracy as soft_accuracy
from jaxloss.losses import soft_f1 as soft_f1

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
from jaxloss.train import FitResult as FitResult
from jaxloss.train import History as History
from jaxloss.train import StopTraining as StopTraining
from jaxloss.train import TensorBoardLogger as TensorBoardLogger
from jaxloss.train import fit as fit
from jaxloss.toys import ToyProblem as ToyProblem
from jaxloss.toys import toy_problem as toy_problem
from jaxloss.toys import train_catalog as train_catalog

# The interactive playground (matplotlib widgets; matplotlib is imported only when it opens).
from jaxloss.playground import playground as playground

__version__ = "0.1.0"

#: Every public name above (the submodules included), and nothing this file imports privately.
__all__ = sorted(name for name in globals() if not name.startswith("_"))


def __dir__() -> list[str]:
    return __all__
