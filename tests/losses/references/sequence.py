"""NumPy float64 references for the sequence family (CTC)."""

from __future__ import annotations

import numpy as np

from references import reference


def np_ctc_single(log_p: np.ndarray, labels: np.ndarray, blank: int = 0) -> float:
    """-log p(labels | frames) by the naive CTC forward algorithm in probability space.

    ``log_p``: (T, K) log-probabilities of the real frames only; ``labels``: the
    real labels only. Written from Graves et al. 2006, eq. 6-9, without tricks.
    """
    probs = np.exp(log_p)
    ext = [blank]
    for c in labels:
        ext += [int(c), blank]
    s_len, t_len = len(ext), len(probs)
    if t_len == 0:
        return 0.0 if len(labels) == 0 else np.inf
    alpha = np.zeros((t_len, s_len))
    alpha[0, 0] = probs[0, ext[0]]
    if s_len > 1:
        alpha[0, 1] = probs[0, ext[1]]
    for t in range(1, t_len):
        for s in range(s_len):
            a = alpha[t - 1, s]
            if s >= 1:
                a += alpha[t - 1, s - 1]
            if s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]:
                a += alpha[t - 1, s - 2]
            alpha[t, s] = a * probs[t, ext[s]]
    total = alpha[-1, -1] + (alpha[-1, -2] if s_len > 1 else 0.0)
    with np.errstate(divide="ignore"):
        return float(-np.log(total))


@reference("ctc")
def _ctc(logits, labels, logit_paddings=None, label_paddings=None, blank_id=0, zero_infinity=False,
         normalize_by_label_length=False):
    logits = np.asarray(logits, np.float64)
    b, t, _ = logits.shape
    logit_paddings = np.zeros((b, t)) if logit_paddings is None else np.asarray(logit_paddings)
    label_paddings = np.zeros(np.shape(labels)) if label_paddings is None else np.asarray(label_paddings)
    m = np.max(logits, -1, keepdims=True)
    log_p = logits - m - np.log(np.sum(np.exp(logits - m), -1, keepdims=True))
    out = np.zeros(b)
    for i in range(b):
        real = np.asarray(labels)[i][label_paddings[i] == 0]
        value = np_ctc_single(log_p[i][logit_paddings[i] == 0], real, blank_id)
        if zero_infinity and np.isinf(value):
            value = 0.0
        if normalize_by_label_length:
            value /= max(len(real), 1)
        out[i] = value
    return out
