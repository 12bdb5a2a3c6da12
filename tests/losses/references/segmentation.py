"""NumPy float64 references for the segmentation family, written from the papers' ratios.

dice: 1 - (2 TP + s) / (sum p + sum t + s) (Milletari et al. 2016, smooth as in
segmentation_models_pytorch); jaccard: 1 - (TP + s) / (sum p + sum t - TP + s); tversky:
1 - (TP + s) / (TP + alpha FP + beta FN + s) (Salehi et al. 2017; optax.losses.dice_loss);
focal_tversky: (1 - TI)^gamma (Abraham and Khan 2019 with the exponent written as gamma).
Per image (last two axes, plus the class axis for label maps), mean over classes.
"""

from __future__ import annotations

import numpy as np

from references import np_sigmoid, reference


def soft_counts(x, t, from_logits=True):
    """(TP, sum p, sum t) per image and class: shape (images, C)."""
    x = np.asarray(x, np.float64)
    t = np.asarray(t)
    if np.issubdtype(t.dtype, np.integer):  # label maps: softmax over classes
        if from_logits:
            e = np.exp(x - x.max(-1, keepdims=True))
            p = e / e.sum(-1, keepdims=True)
        else:
            p = x
        onehot = np.eye(x.shape[-1])[t]
        axes = (-3, -2)
        return (p * onehot).sum(axes), p.sum(axes), onehot.sum(axes)
    p = np_sigmoid(x) if from_logits else x
    t = t.astype(np.float64)
    axes = (-2, -1)
    return (p * t).sum(axes)[..., None], p.sum(axes)[..., None], t.sum(axes)[..., None]


@reference("dice")
def _dice(x, t, smooth=1.0, from_logits=True):
    tp, sp, st = soft_counts(x, t, from_logits)
    return np.mean(1.0 - (2 * tp + smooth) / (sp + st + smooth), -1)


@reference("jaccard")
def _jaccard(x, t, smooth=1.0, from_logits=True):
    tp, sp, st = soft_counts(x, t, from_logits)
    return np.mean(1.0 - (tp + smooth) / (sp + st - tp + smooth), -1)


def tversky_index(x, t, alpha, beta, smooth, from_logits=True):
    tp, sp, st = soft_counts(x, t, from_logits)
    return (tp + smooth) / (tp + alpha * (sp - tp) + beta * (st - tp) + smooth)


@reference("tversky")
def _tversky(x, t, alpha=0.5, beta=0.5, smooth=1.0, from_logits=True):
    return np.mean(1.0 - tversky_index(x, t, alpha, beta, smooth, from_logits), -1)


@reference("focal_tversky")
def _focal_tversky(x, t, alpha=0.3, beta=0.7, gamma=0.75, smooth=1.0, from_logits=True):
    return np.mean((1.0 - tversky_index(x, t, alpha, beta, smooth, from_logits)) ** gamma, -1)
