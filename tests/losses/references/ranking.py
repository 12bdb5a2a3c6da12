"""NumPy float64 references for the ranking family, one loop per list."""

from __future__ import annotations

import numpy as np

from references import reference


@reference("pairwise_logistic")
def _pairwise_logistic(s, r, gap_weighted=False):
    # RankNet (Burges et al. 2005): mean over pairs with r_i > r_j of log(1 + exp(-(s_i - s_j))).
    out = np.zeros(s.shape[:-1])
    for k in np.ndindex(*s.shape[:-1]):
        num = den = 0.0
        for i in range(s.shape[-1]):
            for j in range(s.shape[-1]):
                if r[k][i] > r[k][j]:
                    w = r[k][i] - r[k][j] if gap_weighted else 1.0
                    num += w * np.log1p(np.exp(-(s[k][i] - s[k][j])))
                    den += w
        out[k] = num / den if den > 0 else 0.0
    return out


@reference("listwise_softmax")
def _listwise_softmax(s, r, normalize=True):
    # ListNet top-one (Cao et al. 2007): -sum_i q_i log softmax(s)_i, q = r / sum(r).
    out = np.zeros(s.shape[:-1])
    for k in np.ndindex(*s.shape[:-1]):
        log_p = s[k] - np.log(np.sum(np.exp(s[k])))
        q = r[k] / r[k].sum() if normalize and r[k].sum() > 0 else (0 * r[k] if normalize else r[k])
        out[k] = -np.sum(q * log_p)
    return out
