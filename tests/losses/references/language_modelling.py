"""NumPy float64 references for the language-modelling family (the linear head's cross-entropy)."""

from __future__ import annotations

import numpy as np

from references import reference


@reference("linear_cross_entropy")
def _linear_cross_entropy(h, y, weight, bias=None, chunk_size=None, token_chunk_size=None, label_smoothing=0.0,
                          z_loss=0.0, logit_softcap=None):
    """The materialised definition: logits = h W^T + b (soft-capped), smoothed cross-entropy, z-loss.

    A -inf logit (a masked token, from a -inf bias entry) is a class that cannot be predicted, as in
    torch.nn.CrossEntropyLoss's masked use and softmax_cross_entropy: the uniform part of the smoothed
    target spreads over the finite logits only, and 0 log 0 counts as 0.
    """
    del chunk_size, token_chunk_size  # a memory layout, not part of the definition
    z = np.asarray(h, np.float64) @ np.asarray(weight, np.float64).T
    if bias is not None:
        z = z + np.asarray(bias, np.float64)
    if logit_softcap is not None:
        z = logit_softcap * np.tanh(z / logit_softcap)
    vocab = z.shape[-1]
    finite = np.isfinite(z)
    lse = np.log(np.sum(np.exp(z), axis=-1))
    log_p = z - lse[..., None]
    q = ((1 - label_smoothing) * np.eye(vocab)[np.asarray(y)]
         + label_smoothing * finite / np.maximum(finite.sum(-1, keepdims=True), 1))
    present = q != 0
    return -np.sum(np.where(present, q * np.where(present, log_p, 0.0), 0.0), axis=-1) + z_loss * lse ** 2
