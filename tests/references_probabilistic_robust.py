"""NumPy float64 references for the probabilistic and robust families.

Written from the definitions, directly (no numerical tricks): the Student-t and
Laplace NLLs are ``-torch.distributions.StudentT/Laplace(...).log_prob`` as
PyTorch documents them (log_prob formulas in torch/distributions/studentT.py and
laplace.py, torch 2.x); Barron's loss is eq. (1) of the paper with its limits.
"""

from __future__ import annotations

import math

import numpy as np
from references import np_log_softmax, reference



# -- probabilistic --------------------------------------------------------------------------------


@reference("generalized_kl_divergence")
def generalized_kl(p, t, log_input=False):
    if log_input:
        terms = np.where(t > 0, t * (np.log(np.where(t > 0, t, 1.0)) - np.where(t > 0, p, 0.0)), 0.0) - t + np.exp(p)
    else:
        pp = np.where(t > 0, np.maximum(p, np.finfo(p.dtype).eps), np.maximum(p, 0.0))
        terms = np.where(t > 0, t * np.log(np.where(t > 0, t, 1.0) / np.where(t > 0, pp, 1.0)), 0.0) - t + pp
    return terms.sum(-1)


def _kl(a, b):
    safe = np.where(a > 0, a, 1.0)
    return np.where(a > 0, a * np.log(safe / np.where(a > 0, b, 1.0)), 0.0).sum(-1)


@reference("jensen_shannon")
def jensen_shannon(x, q, from_logits=True):
    p = np.exp(np_log_softmax(x)) if from_logits else np.clip(x, np.finfo(x.dtype).eps, 1.0)
    m = 0.5 * (p + q)
    return 0.5 * _kl(q, m) + 0.5 * _kl(p, m)


@reference("student_t_nll")
def student_t_nll(p, t, df=3.0, scale=1.0):
    df = np.broadcast_to(np.asarray(df, np.float64), p.shape)
    scale = np.broadcast_to(np.asarray(scale, np.float64), p.shape)
    lgamma = np.vectorize(math.lgamma)
    y = (t - p) / scale
    log_z = np.log(scale) + 0.5 * np.log(df) + 0.5 * math.log(math.pi) + lgamma(0.5 * df) - lgamma(0.5 * (df + 1))
    return 0.5 * (df + 1) * np.log1p(y**2 / df) + log_z


@reference("laplace_nll")
def laplace_nll(p, t, scale=1.0):
    return np.log(2 * np.asarray(scale, np.float64)) + np.abs(t - p) / scale


# -- robust ---------------------------------------------------------------------------------------


def barron(x, alpha, c):
    """Barron 2019, eq. (1) and its limits (eqs. 3-7)."""
    z = (x / c) ** 2
    if alpha == 2:
        return 0.5 * z
    if alpha == 0:
        return np.log1p(0.5 * z)
    if alpha == -np.inf:
        return -np.expm1(-0.5 * z)
    if alpha == np.inf:
        return np.expm1(0.5 * z)
    b = abs(alpha - 2)
    return (b / alpha) * ((z / b + 1) ** (0.5 * alpha) - 1)


@reference("general_robust")
def general_robust(p, t, alpha=1.0, scale=1.0):
    return barron(p - t, alpha, scale)


@reference("cauchy")
def cauchy(p, t, scale=1.0):
    return scale**2 * np.log(1 + 0.5 * ((p - t) / scale) ** 2)


@reference("welsch")
def welsch(p, t, scale=1.0):
    return scale**2 * (1 - np.exp(-0.5 * ((p - t) / scale) ** 2))


@reference("geman_mcclure")
def geman_mcclure(p, t, scale=1.0):
    y2 = ((p - t) / scale) ** 2
    return scale**2 * 2 * y2 / (y2 + 4)


@reference("tukey_biweight")
def tukey_biweight(p, t, scale=1.0):
    y2 = ((p - t) / scale) ** 2
    return np.where(y2 <= 1, scale**2 / 6 * (1 - (1 - y2) ** 3), scale**2 / 6)
