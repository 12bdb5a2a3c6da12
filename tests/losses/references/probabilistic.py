"""NumPy float64 references for the probabilistic family.

Written from the definitions, directly (no numerical tricks): the Student-t and
Laplace NLLs are ``-torch.distributions.StudentT/Laplace(...).log_prob`` as
PyTorch documents them (log_prob formulas in torch/distributions/studentT.py and
laplace.py, torch 2.x).
"""

from __future__ import annotations

import math

import numpy as np

from references import np_log_softmax, reference


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
