"""NumPy float64 references for the classification family (jaxloss/losses/_classification.py)."""

from __future__ import annotations

import numpy as np

from references import np_log_softmax, np_sigmoid, reference


def _one_hot(labels: np.ndarray, k: int) -> np.ndarray:
    return np.eye(k)[labels]


@reference("softmax_cross_entropy")
def _softmax_ce(x, y, label_smoothing=0.0, from_logits=True):
    log_p = np_log_softmax(x) if from_logits else np.log(np.clip(x, np.finfo(x.dtype).eps, 1.0))
    k = x.shape[-1]
    q = _one_hot(y, k) if np.issubdtype(np.asarray(y).dtype, np.integer) else y
    q = (1 - label_smoothing) * q + label_smoothing / k
    return -np.sum(q * log_p, axis=-1)


@reference("binary_cross_entropy")
def _bce(x, t, label_smoothing=0.0, pos_weight=None, from_logits=True):
    t = t * (1 - label_smoothing) + 0.5 * label_smoothing
    p = np_sigmoid(x) if from_logits else np.clip(x, np.finfo(x.dtype).eps, 1 - np.finfo(x.dtype).eps)
    w = 1.0 if pos_weight is None else pos_weight
    return -(w * t * np.log(p) + (1 - t) * np.log(1 - p))


@reference("focal")
def _focal(x, t, gamma=2.0, alpha=None):
    # torchvision.ops.sigmoid_focal_loss.
    p = np_sigmoid(x)
    ce = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    p_t = p * t + (1 - p) * (1 - t)
    out = ce * (1 - p_t) ** gamma
    if alpha is not None:
        out = out * (alpha * t + (1 - alpha) * (1 - t))
    return out


@reference("hinge")
def _hinge(p, t):
    y = np.where(t == 0, -1.0, t)
    return np.maximum(0.0, 1 - y * p)


@reference("perceptron")
def _perceptron(p, t):
    y = np.where(t == 0, -1.0, t)
    return np.maximum(0.0, -y * p)


@reference("squared_hinge")
def _squared_hinge(p, t):
    return _hinge(p, t) ** 2


@reference("multiclass_hinge")
def _multiclass_hinge(s, y, margin=1.0):
    n = s.shape[0]
    out = np.empty(n)
    for i in range(n):
        others = [s[i, j] for j in range(s.shape[1]) if j != y[i]]
        out[i] = max(0.0, margin + max(others) - s[i, y[i]])
    return out


@reference("kl_divergence")
def _kl(x, q, from_logits=True):
    log_p = np_log_softmax(x) if from_logits else np.log(np.clip(x, np.finfo(x.dtype).eps, 1.0))
    terms = np.where(q > 0, q * (np.log(np.where(q > 0, q, 1.0)) - log_p), 0.0)
    return terms.sum(-1)


@reference("nll")
def _nll(log_p, y):
    return -log_p[np.arange(len(y)), y]
