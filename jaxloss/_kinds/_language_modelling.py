"""The input kind of a linear head's cross-entropy: hidden states, token ids and the head (private)."""

from __future__ import annotations

import numpy as np

from jaxloss._kinds._base import InputKind, Sample

# -- language modelling (a linear head over a vocabulary) -------------------------------------------

HEAD_DIM, HEAD_VOCAB, HEAD_CHUNK = 4, 7, 3  # D, V, and a block size that leaves a padded last block
HEAD_TOKENS = 4  # tokens per block: 6 examples make two blocks of 3


def _head(rng: np.random.Generator) -> np.ndarray:
    return rng.normal(size=(HEAD_VOCAB, HEAD_DIM))


def _linear_head(rng: np.random.Generator, n: int) -> Sample:
    hidden = rng.normal(size=(n, HEAD_DIM))
    labels = rng.integers(0, HEAD_VOCAB, n).astype(np.int32)
    return Sample((hidden, labels), {"weight": _head(rng), "chunk_size": HEAD_CHUNK, "token_chunk_size": HEAD_TOKENS})


def _linear_head_hard(rng: np.random.Generator, n: int) -> list[Sample]:
    labels = rng.integers(0, HEAD_VOCAB, n).astype(np.int32)
    labels[0], labels[-1] = 0, HEAD_VOCAB - 1  # the first row and the padded block's last real row
    head = _head(rng)
    return [
        Sample((rng.normal(size=(n, HEAD_DIM)) * 1e3, labels), {"weight": head, "chunk_size": HEAD_CHUNK},
               description="hidden states x1e3 (logits of thousands)"),
        Sample((np.zeros((n, HEAD_DIM)), labels), {"weight": head, "chunk_size": HEAD_CHUNK},
               description="zero hidden states (every logit equal)"),
        Sample((rng.normal(size=(n, HEAD_DIM)), labels), {"weight": head * 1e4, "chunk_size": 1},
               description="a head x1e4, one row per block"),
    ]


LINEAR_HEAD = InputKind(
    "linear_head",
    curve_axis=None,
    logits=None,  # hidden states: the logits are computed inside the loss
    random=_linear_head,
    perfect=None,
    hard_cases=_linear_head_hard,
    example_axes=1,
    doc="hidden states (n, D) and token ids (n,); the head weight=(V, D) is a keyword option",
)
