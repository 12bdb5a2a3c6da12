"""Independent NumPy float64 reference implementations, one per registered loss.

Each takes the loss's positional arrays as float64 NumPy arrays (labels as
ints) and its options as keywords, and returns the per-example losses
(``reduction="none"``, no weights or mask). They are written from the papers'
and the reference libraries' definitions (named on each), directly and
without numerical tricks: they are evaluated only on moderate inputs.

Every registered loss must have an entry here: ``test_catalog`` fails for a loss
without one, so a new loss cannot skip its value test.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

REFERENCES: dict[str, Callable[..., np.ndarray]] = {}

# Each family's references may live in their own file, tests/references_<family>.py;
# they are imported at the end of this module and register into REFERENCES.


def reference(name: str) -> Callable[[Callable[..., np.ndarray]], Callable[..., np.ndarray]]:
    def register(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
        REFERENCES[name] = fn
        return fn

    return register


def np_log_softmax(x: np.ndarray) -> np.ndarray:
    m = np.max(x, axis=-1, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True))


def np_sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


# -- regression ---------------------------------------------------------------------------------


@reference("mean_squared_error")
def _mse(p, t):
    return (p - t) ** 2


@reference("mean_absolute_error")
def _mae(p, t):
    return np.abs(p - t)


@reference("huber")
def _huber(p, t, delta=1.0):
    e = np.abs(p - t)
    return np.where(e <= delta, 0.5 * e**2, delta * (e - 0.5 * delta))


@reference("smooth_l1")
def _smooth_l1(p, t, beta=1.0):
    # torch.nn.SmoothL1Loss documentation.
    e = np.abs(p - t)
    if beta == 0:
        return e
    return np.where(e < beta, 0.5 * e**2 / beta, e - 0.5 * beta)


@reference("log_cosh")
def _log_cosh(p, t):
    return np.log(np.cosh(p - t))


@reference("quantile")
def _quantile(p, t, tau=0.5):
    u = t - p
    return np.where(u >= 0, tau * u, (tau - 1) * u)


@reference("mean_squared_log_error")
def _msle(p, t):
    return (np.log(1 + np.maximum(p, 0)) - np.log(1 + np.maximum(t, 0))) ** 2


@reference("mean_absolute_percentage_error")
def _mape(p, t):
    return np.abs(p - t) / np.maximum(np.abs(t), np.finfo(np.float64).eps)


@reference("poisson_nll")
def _poisson(p, t, log_input=True, full=False):
    # torch.nn.PoissonNLLLoss documentation.
    out = np.exp(p) - t * p if log_input else p - t * np.log(p + 1e-8)
    if full:
        safe = np.where(t > 1, t, 1.0)
        out = out + np.where(t > 1, safe * np.log(safe) - safe + 0.5 * np.log(2 * math.pi * safe), 0.0)
    return out


@reference("gaussian_nll")
def _gaussian_nll(p, t, variance=None, log_variance=None, full=False):
    if log_variance is not None:
        v = np.exp(np.asarray(log_variance, np.float64))
    elif variance is not None:
        v = np.maximum(np.asarray(variance, np.float64), 1e-6)
    else:
        v = np.ones_like(p)
    out = 0.5 * (np.log(v) + (p - t) ** 2 / v)
    return out + (0.5 * math.log(2 * math.pi) if full else 0.0)


# -- classification -----------------------------------------------------------------------------


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


def _import_family_references() -> None:
    import importlib
    import pathlib

    for path in sorted(pathlib.Path(__file__).parent.glob("references_*.py")):
        importlib.import_module(path.stem)


_import_family_references()
