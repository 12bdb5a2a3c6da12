"""NumPy float64 references for the margin family: PyTorch's definitions, written directly.

Each follows the formula in the ``torch.nn.functional`` documentation (and, where
the documentation is ambiguous, PyTorch 2.13's CPU kernel, named in the comment).
"""

from __future__ import annotations

import numpy as np

from references import reference


def _log_sigmoid(x):
    return -np.logaddexp(0.0, -x)


@reference("margin_ranking")
def _margin_ranking(a, b, y, margin=0.0):
    # torch.nn.functional.margin_ranking_loss: max(0, -y * (x1 - x2) + margin).
    return np.maximum(0.0, -y * (a - b) + margin)


@reference("soft_margin")
def _soft_margin(x, y):
    # torch.nn.functional.soft_margin_loss: log(1 + exp(-y x)).
    return np.log1p(np.exp(-y * x))


@reference("multilabel_soft_margin")
def _multilabel_soft_margin(x, t, class_weights=None):
    # torch.nn.functional.multilabel_soft_margin_loss: -(1/C) sum_c w_c (t log s(x) + (1 - t) log s(-x)).
    terms = -(t * _log_sigmoid(x) + (1 - t) * _log_sigmoid(-x))
    if class_weights is not None:
        terms = terms * class_weights
    return terms.sum(-1) / x.shape[-1]


@reference("multilabel_margin")
def _multilabel_margin(x, y):
    # torch.nn.functional.multilabel_margin_loss (CPU kernel: the list stops at the first
    # negative index; a repeated index counts twice).
    n, c = x.shape
    out = np.zeros(n)
    for k in range(n):
        targets = []
        for j in y[k]:
            if j < 0:
                break
            targets.append(int(j))
        others = [i for i in range(c) if i not in set(targets)]
        out[k] = sum(max(0.0, 1.0 - (x[k, j] - x[k, i])) for j in targets for i in others) / c
    return out


@reference("hinge_embedding")
def _hinge_embedding(x, y, margin=1.0):
    # torch.nn.functional.hinge_embedding_loss: x if y == 1, max(0, margin - x) if y == -1.
    return np.where(y == 1, x, np.maximum(0.0, margin - x))


@reference("multi_margin")
def _multi_margin(x, y, p=1, margin=1.0, class_weights=None):
    # torch.nn.functional.multi_margin_loss (CPU kernel: the class weight multiplies the
    # hinge after the power).
    n, c = x.shape
    out = np.zeros(n)
    for k in range(n):
        t = int(y[k])
        total = 0.0
        for i in range(c):
            if i != t:
                h = max(0.0, margin - x[k, t] + x[k, i]) ** p
                total += h * (1.0 if class_weights is None else class_weights[t])
        out[k] = total / c
    return out
