"""NumPy float64 references for the embedding family (direct formulas, moderate inputs only).

Provenance: cosine_distance from optax 0.2.8 ``losses/_regression.py``; cosine_embedding from
PyTorch's ATen ``cosine_embedding_loss`` (EPSILON = float32(1e-12), checked against torch 2.13.0);
triplet_margin from ``torch.nn.functional.triplet_margin_loss`` (pairwise_distance adds 1e-6 to the
difference; checked against torch 2.13.0); contrastive from Hadsell et al. 2006 with y = 1 similar and
no 1/2 (tfa.losses.contrastive_loss); ntxent from optax 0.2.8 ``losses/_self_supervised.py``, written
pair by pair with Python loops.
"""

from __future__ import annotations

import math

import numpy as np

from references import reference


@reference("cosine_distance")
def _cosine_distance(p, t, epsilon=0.0):
    na = np.sqrt(np.maximum(np.sum(p * p, -1), epsilon))
    nb = np.sqrt(np.maximum(np.sum(t * t, -1), epsilon))
    return 1.0 - np.sum(p * t, -1) / (na * nb)


@reference("cosine_embedding")
def _cosine_embedding(x1, x2, y, margin=0.0):
    eps = float(np.float32(1e-12))
    cos = np.sum(x1 * x2, -1) / np.sqrt((np.sum(x1 * x1, -1) + eps) * (np.sum(x2 * x2, -1) + eps))
    return np.where(y == 1, 1.0 - cos, np.maximum(0.0, cos - margin))


def _torch_pairwise_distance(a, b, p):
    return np.sum(np.abs(a - b + 1e-6) ** p, -1) ** (1.0 / p)


@reference("triplet_margin")
def _triplet_margin(a, pos, neg, margin=1.0, p=2.0, swap=False):
    d_pos = _torch_pairwise_distance(a, pos, p)
    d_neg = _torch_pairwise_distance(a, neg, p)
    if swap:
        d_neg = np.minimum(d_neg, _torch_pairwise_distance(pos, neg, p))
    return np.maximum(d_pos - d_neg + margin, 0.0)


@reference("contrastive")
def _contrastive(a, b, y, margin=1.0):
    d = np.sqrt(np.sum((a - b) ** 2, -1))
    return y * d**2 + (1 - y) * np.maximum(margin - d, 0.0) ** 2


def ntxent_batch(x, labels, temperature=0.07):
    """optax.losses.ntxent on one batch (n, d), pair by pair; returns (per-anchor shares, optax's value)."""
    n = len(x)
    eps = np.finfo(np.float64).eps
    unit = x / np.sqrt(np.maximum(np.sum(x * x, -1, keepdims=True), eps))
    s = unit @ unit.T / temperature
    per_anchor = np.zeros(n)
    pairs = 0
    for i in range(n):
        negatives = [math.exp(s[i, k]) for k in range(n) if labels[k] != labels[i]]
        for j in range(n):
            if j != i and labels[j] == labels[i]:
                per_anchor[i] += -math.log(math.exp(s[i, j]) / (math.exp(s[i, j]) + sum(negatives)))
                pairs += 1
    if pairs == 0:
        return np.zeros(n), 0.0
    return per_anchor * n / pairs, per_anchor.sum() / pairs


@reference("ntxent")
def _ntxent(x, labels, temperature=0.07):
    x, labels = np.asarray(x), np.asarray(labels)
    flat_x = x.reshape((-1,) + x.shape[-2:])
    flat_y = labels.reshape((-1, labels.shape[-1]))
    out = np.stack([ntxent_batch(bx, by, temperature)[0] for bx, by in zip(flat_x, flat_y)])
    return out.reshape(labels.shape)
