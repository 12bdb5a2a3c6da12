"""NumPy float64 references for the surrogate losses (jaxloss/losses/_surrogates.py)."""

from __future__ import annotations

import numpy as np
from references import np_log_softmax, np_sigmoid, reference


@reference("soft_f1")
def _soft_f1(x, t, smooth=1.0, from_logits=True):
    # 1 - soft F1 per set (last axis): TP = sum(p t), 2TP + FP + FN = sum(p) + sum(t).
    p = np_sigmoid(x) if from_logits else x
    return 1.0 - (2.0 * np.sum(p * t, -1) + smooth) / (np.sum(p, -1) + np.sum(t, -1) + smooth)


@reference("pairwise_auc")
def _pairwise_auc(s, t):
    # Mean over (positive i, negative j) pairs of log(1 + exp(-(s_i - s_j))), per set; 0 without pairs.
    s, t = np.atleast_2d(s), np.atleast_2d(t)
    out = np.zeros(s.shape[0])
    for r in range(s.shape[0]):
        pos, neg = np.flatnonzero(t[r] == 1), np.flatnonzero(t[r] == 0)
        if len(pos) and len(neg):
            out[r] = np.mean([np.log1p(np.exp(-(s[r, i] - s[r, j]))) for i in pos for j in neg])
    return out


@reference("soft_accuracy")
def _soft_accuracy(x, y, from_logits=True):
    p = np.exp(np_log_softmax(x)) if from_logits else x
    return 1.0 - p[np.arange(len(y)), y]
