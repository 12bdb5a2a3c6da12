"""NumPy float64 references for the structured family, written from the papers and reference code."""

from __future__ import annotations

import numpy as np

from references import np_log_softmax, reference


def _targets(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    y = np.asarray(y)
    if np.issubdtype(y.dtype, np.integer):
        return np.eye(x.shape[-1])[y]
    return y.astype(np.float64)


def np_sparsemax(z: np.ndarray) -> np.ndarray:
    """Martins and Astudillo 2016, Algorithm 1 (sort-based), row by row."""
    out = np.zeros_like(z)
    for i, row in enumerate(z):
        s = np.sort(row)[::-1]
        k = np.arange(1, len(row) + 1)
        support = 1 + k * s > np.cumsum(s)
        k_z = k[support][-1]
        tau = (np.sum(s[:k_z]) - 1) / k_z
        out[i] = np.maximum(row - tau, 0)
    return out


@reference("sparsemax_loss")
def _sparsemax_loss(z, y):
    # Martins and Astudillo 2016, eq. (18): -q.z + 1/2 sum_{j in S} (z_j^2 - tau^2) + 1/2 |q|^2.
    q = _targets(z, y)
    p = np_sparsemax(z)
    out = np.zeros(len(z))
    for i in range(len(z)):
        s = p[i] > 0
        tau = np.mean(z[i][s]) - 1.0 / s.sum()
        out[i] = -q[i] @ z[i] + 0.5 * np.sum(z[i][s] ** 2 - tau**2) + 0.5 * q[i] @ q[i]
    return out


@reference("poly1_cross_entropy")
def _poly1(x, y, coefficient=2.0, label_smoothing=0.0):
    # Leng et al. 2022, Poly-1 with the smoothed target in both terms (the paper's code).
    q = _targets(x, y)
    k = x.shape[-1]
    q = (1 - label_smoothing) * q + label_smoothing / k
    p = np.exp(np_log_softmax(x))
    return -np.sum(q * np.log(p), -1) + coefficient * np.sum(q * (1 - p), -1)


def np_log_t(u, t):
    return np.log(u) if t == 1.0 else (u ** (1.0 - t) - 1.0) / (1.0 - t)


def np_exp_t(u, t):
    return np.exp(u) if t == 1.0 else np.maximum(1.0 + (1.0 - t) * u, 0.0) ** (1.0 / (1.0 - t))


def np_tempered_normalization(x, t, num_iters):
    """google/bi-tempered-loss: fixed point (t > 1) or bisection (t < 1), num_iters steps."""
    mu = x.max(-1, keepdims=True)
    a0 = x - mu
    if t == 1.0:
        return mu + np.log(np.exp(a0).sum(-1, keepdims=True))
    if t > 1.0:
        a = a0
        for _ in range(num_iters):
            a = a0 * np_exp_t(a, t).sum(-1, keepdims=True) ** (1.0 - t)
        return -np_log_t(1.0 / np_exp_t(a, t).sum(-1, keepdims=True), t) + mu
    dim = np.sum(a0 > -1.0 / (1.0 - t), -1, keepdims=True).astype(np.float64)
    lower, upper = np.zeros_like(dim), -np_log_t(1.0 / dim, t)
    for _ in range(num_iters):
        mid = (upper + lower) / 2.0
        below = np_exp_t(a0 - mid, t).sum(-1, keepdims=True) < 1.0
        lower, upper = np.where(below, lower, mid), np.where(below, mid, upper)
    return (upper + lower) / 2.0 + mu


@reference("bitempered_logistic")
def _bitempered(x, y, t1=1.0, t2=1.0, num_iters=5, label_smoothing=0.0):
    # Amid et al. 2019, eq. (13), with the reference code's label smoothing.
    q = _targets(x, y)
    k = x.shape[-1]
    if label_smoothing > 0:
        q = (1 - k / (k - 1) * label_smoothing) * q + label_smoothing / (k - 1)
    p = np_exp_t(x - np_tempered_normalization(x, t2, num_iters), t2)
    with np.errstate(divide="ignore"):
        q_logt_q = np.where(q > 0, q * np_log_t(np.where(q > 0, q, 1.0), t1), 0.0)
    terms = q_logt_q - q * np_log_t(p, t1) - (q ** (2 - t1) - p ** (2 - t1)) / (2 - t1)
    return terms.sum(-1)


@reference("symmetric_cross_entropy")
def _sce(x, y, alpha=0.1, beta=1.0, log_zero=-4.0):
    # Wang et al. 2019, eq. (5)-(6): alpha CE + beta RCE, log 0 := A.
    q = _targets(x, y)
    p = np.exp(np_log_softmax(x))
    with np.errstate(divide="ignore"):
        log_q = np.maximum(np.log(q), log_zero)
    return alpha * -np.sum(q * np.log(p), -1) + beta * -np.sum(p * log_q, -1)
