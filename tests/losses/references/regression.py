"""NumPy float64 references for the regression family (jaxloss/losses/_regression.py)."""

from __future__ import annotations

import math

import numpy as np

from references import reference


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
    # torch.nn.SmoothL1Loss documentation (beta = 0: l1_loss; beta may be an array here).
    e = np.abs(p - t)
    beta = np.asarray(beta, np.float64)
    return np.where(e < beta, 0.5 * e**2 / np.where(beta > 0, beta, 1.0), e - 0.5 * beta)


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


def torch_variance_shape(var, shape):
    """``var`` spread over ``shape`` by torch.nn.functional.gaussian_nll_loss's rule (torch 2.13).

    PyTorch: a float is used everywhere; otherwise ``var.size() == input.size()``, or
    ``input.size()[:-1] == var.size()`` (then ``var.unsqueeze(-1)``: one value per row), or the same
    number of dimensions with a single mismatched one where var has size 1; anything else is
    ``ValueError("var is of incorrect size")``. jaxloss takes a 0-d array as PyTorch takes a float.
    """
    var = np.asarray(var, np.float64)
    shape = tuple(shape)
    if var.ndim == 0 or var.shape == shape:
        return np.broadcast_to(var, shape)
    if shape[:-1] == var.shape:
        return np.broadcast_to(var[..., None], shape)
    if var.ndim == len(shape) and sum(y for x, y in zip(shape, var.shape) if x != y) == 1:
        return np.broadcast_to(var, shape)
    raise ValueError("var is of incorrect size")


@reference("gaussian_nll")
def torch_gaussian_nll(p, t, variance=None, log_variance=None, full=False):
    # torch.nn.functional.gaussian_nll_loss (torch 2.13): var clamped at 1e-6, PyTorch's shape rule.
    if log_variance is not None:
        v = np.exp(torch_variance_shape(log_variance, np.shape(p)))
    elif variance is not None:
        v = np.maximum(torch_variance_shape(variance, np.shape(p)), 1e-6)
    else:
        v = np.ones_like(p)
    out = 0.5 * (np.log(v) + (p - t) ** 2 / v)
    return out + (0.5 * math.log(2 * math.pi) if full else 0.0)
