"""The loss catalog, one private module per family.

Importing this package registers every loss (see ``jaxloss._registry``).
"""

from jaxloss.losses._classification import binary_cross_entropy as binary_cross_entropy
from jaxloss.losses._classification import focal as focal
from jaxloss.losses._classification import hinge as hinge
from jaxloss.losses._classification import kl_divergence as kl_divergence
from jaxloss.losses._classification import multiclass_hinge as multiclass_hinge
from jaxloss.losses._classification import nll as nll
from jaxloss.losses._classification import softmax_cross_entropy as softmax_cross_entropy
from jaxloss.losses._classification import squared_hinge as squared_hinge
from jaxloss.losses._margin import hinge_embedding as hinge_embedding
from jaxloss.losses._margin import margin_ranking as margin_ranking
from jaxloss.losses._margin import multi_margin as multi_margin
from jaxloss.losses._margin import multilabel_margin as multilabel_margin
from jaxloss.losses._margin import multilabel_soft_margin as multilabel_soft_margin
from jaxloss.losses._margin import soft_margin as soft_margin
from jaxloss.losses._ranking import listwise_softmax as listwise_softmax
from jaxloss.losses._ranking import pairwise_logistic as pairwise_logistic
from jaxloss.losses._regression import gaussian_nll as gaussian_nll
from jaxloss.losses._regression import huber as huber
from jaxloss.losses._regression import log_cosh as log_cosh
from jaxloss.losses._regression import mean_absolute_error as mean_absolute_error
from jaxloss.losses._regression import mean_absolute_percentage_error as mean_absolute_percentage_error
from jaxloss.losses._regression import mean_squared_error as mean_squared_error
from jaxloss.losses._regression import mean_squared_log_error as mean_squared_log_error
from jaxloss.losses._regression import poisson_nll as poisson_nll
from jaxloss.losses._regression import quantile as quantile
from jaxloss.losses._regression import smooth_l1 as smooth_l1

# Embedding and metric learning.
from jaxloss.losses._embedding import contrastive as contrastive
from jaxloss.losses._embedding import cosine_distance as cosine_distance
from jaxloss.losses._embedding import cosine_embedding as cosine_embedding
from jaxloss.losses._embedding import ntxent as ntxent
from jaxloss.losses._embedding import triplet_margin as triplet_margin

# Segmentation.
from jaxloss.losses._segmentation import dice as dice
from jaxloss.losses._segmentation import focal_tversky as focal_tversky
from jaxloss.losses._segmentation import jaccard as jaccard
from jaxloss.losses._segmentation import tversky as tversky

# Sequence.
from jaxloss.losses._sequence import ctc as ctc

# Structured and sparse.
from jaxloss.losses._structured import bitempered_logistic as bitempered_logistic
from jaxloss.losses._structured import poly1_cross_entropy as poly1_cross_entropy
from jaxloss.losses._structured import sparsemax_loss as sparsemax_loss
from jaxloss.losses._structured import symmetric_cross_entropy as symmetric_cross_entropy

# Surrogates of metrics.
from jaxloss.losses._surrogates import pairwise_auc as pairwise_auc
from jaxloss.losses._surrogates import soft_accuracy as soft_accuracy
from jaxloss.losses._surrogates import soft_f1 as soft_f1

# Probabilistic.
from jaxloss.losses._probabilistic import generalized_kl_divergence as generalized_kl_divergence
from jaxloss.losses._probabilistic import jensen_shannon as jensen_shannon
from jaxloss.losses._probabilistic import laplace_nll as laplace_nll
from jaxloss.losses._probabilistic import student_t_nll as student_t_nll

# Robust regression.
from jaxloss.losses._robust import cauchy as cauchy
from jaxloss.losses._robust import general_robust as general_robust
from jaxloss.losses._robust import geman_mcclure as geman_mcclure
from jaxloss.losses._robust import tukey_biweight as tukey_biweight
from jaxloss.losses._robust import welsch as welsch

# Short aliases, the same functions.
mse = mean_squared_error
mae = mean_absolute_error
cross_entropy = softmax_cross_entropy
bce = binary_cross_entropy
info_nce = ntxent

__all__ = [
    "binary_cross_entropy",
    "focal",
    "hinge",
    "kl_divergence",
    "multiclass_hinge",
    "nll",
    "softmax_cross_entropy",
    "squared_hinge",
    "hinge_embedding",
    "margin_ranking",
    "multi_margin",
    "multilabel_margin",
    "multilabel_soft_margin",
    "soft_margin",
    "listwise_softmax",
    "pairwise_logistic",
    "gaussian_nll",
    "huber",
    "log_cosh",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_log_error",
    "poisson_nll",
    "quantile",
    "smooth_l1",
    "contrastive",
    "cosine_distance",
    "cosine_embedding",
    "ntxent",
    "triplet_margin",
    "dice",
    "focal_tversky",
    "jaccard",
    "tversky",
    "ctc",
    "bitempered_logistic",
    "poly1_cross_entropy",
    "sparsemax_loss",
    "symmetric_cross_entropy",
    "pairwise_auc",
    "soft_accuracy",
    "soft_f1",
    "generalized_kl_divergence",
    "jensen_shannon",
    "laplace_nll",
    "student_t_nll",
    "cauchy",
    "general_robust",
    "geman_mcclure",
    "tukey_biweight",
    "welsch",
]


def __dir__() -> list[str]:  # the public API only (not the modules this one imports)
    return sorted(__all__)
