"""NumPy float64 references for the language-modelling family (the linear head's cross-entropy)."""

from __future__ import annotations

import numpy as np

from references import reference


@reference("linear_cross_entropy")
def _linear_cross_entropy(h, y, weight, bias=None, chunk_size=None, token_chunk_size=None, label_smoothing=0.0,
                          z_loss=0.0, logit_softcap=None):
    """The materialised definition: logits = h W^T + b (soft-capped), smoothed cross-entropy, z-loss."""
    del chunk_size, token_chunk_size  # a memory layout, not part of the definition
    z = np.asarray(h, np.float64) @ np.asarray(weight, np.float64).T
    if bias is not None:
        z = z + np.asarray(bias, np.float64)
    if logit_softcap is not None:
        z = logit_softcap * np.tanh(z / logit_softcap)
    vocab = z.shape[-1]
    lse = np.log(np.sum(np.exp(z), axis=-1))
    log_p = z - lse[..., None]
    q = (1 - label_smoothing) * np.eye(vocab)[np.asarray(y)] + label_smoothing / vocab
    return -np.sum(q * log_p, axis=-1) + z_loss * lse ** 2
