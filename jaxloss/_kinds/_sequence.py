"""The input kind of CTC: per-frame logits and padded label sequences (private)."""

from __future__ import annotations

from typing import Any

import numpy as np

from jaxloss._kinds._base import InputKind, Sample


# -- sequence (CTC) -----------------------------------------------------------------------------

CTC_FRAMES, CTC_CLASSES, CTC_LABELS = 6, 4, 3  # T, K (blank = 0), N


def _ctc_batch(n: int) -> int:
    return 3 if n <= 6 else n


def _ctc_labels(rng: np.random.Generator, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Right-padded labels in [1, K) (padding holds 0), their paddings, and the frames each needs."""
    labels = np.zeros((b, CTC_LABELS), np.int32)
    paddings = np.ones((b, CTC_LABELS))
    needed = np.zeros(b, int)
    for i in range(b):
        length = rng.integers(1, CTC_LABELS + 1)
        labels[i, :length] = rng.integers(1, CTC_CLASSES, length)
        paddings[i, :length] = 0.0
        needed[i] = length + int(np.sum(labels[i, 1:length] == labels[i, : length - 1]))
    return labels, paddings, needed


def _ctc_frame_paddings(rng: np.random.Generator, needed: np.ndarray) -> np.ndarray:
    pad = np.zeros((len(needed), CTC_FRAMES))
    for i, k in enumerate(needed):
        pad[i, rng.integers(k, CTC_FRAMES + 1):] = 1.0  # every alignment stays possible
    return pad


def _ctc_sample(logits: np.ndarray, labels: np.ndarray, label_pad: np.ndarray, frame_pad: np.ndarray,
                description: str = "", **options: Any) -> Sample:
    return Sample((logits, labels), {"logit_paddings": frame_pad, "label_paddings": label_pad, **options},
                  description=description, example_kwargs=("logit_paddings", "label_paddings"))


def _ctc_random(rng: np.random.Generator, n: int) -> Sample:
    b = _ctc_batch(n)
    labels, label_pad, needed = _ctc_labels(rng, b)
    logits = rng.normal(size=(b, CTC_FRAMES, CTC_CLASSES)) * 2
    return _ctc_sample(logits, labels, label_pad, _ctc_frame_paddings(rng, needed))


def _ctc_alignment(labels: np.ndarray, label_pad: np.ndarray) -> np.ndarray:
    """One frame-level path per sequence: the labels, a blank between repeats, blanks after."""
    path = np.zeros((len(labels), CTC_FRAMES), np.int32)
    for i, row in enumerate(labels):
        t = 0
        real = row[label_pad[i] == 0]
        for j, c in enumerate(real):
            if j > 0 and c == real[j - 1]:
                t += 1  # a blank separates repeated labels
            path[i, t] = c
            t += 1
    return path


def _ctc_perfect(rng: np.random.Generator, n: int) -> Sample:
    b = _ctc_batch(n)
    labels, label_pad, _ = _ctc_labels(rng, b)
    logits = 40.0 * np.eye(CTC_CLASSES)[_ctc_alignment(labels, label_pad)]
    return _ctc_sample(logits, labels, label_pad, np.zeros((b, CTC_FRAMES)))


def _ctc_hard(rng: np.random.Generator, n: int) -> list[Sample]:
    b = _ctc_batch(n)
    labels, label_pad, needed = _ctc_labels(rng, b)
    frame_pad = _ctc_frame_paddings(rng, needed)
    right = 2 * np.eye(CTC_CLASSES)[_ctc_alignment(labels, label_pad)] - 1
    masked = rng.normal(size=(b, CTC_FRAMES, CTC_CLASSES))
    for i in range(b):  # -inf on one class that this sequence never uses (never the blank)
        unused = sorted(set(range(1, CTC_CLASSES)) - set(labels[i][label_pad[i] == 0].tolist()))
        if unused:
            masked[i, :, unused[0]] = -np.inf
    impossible_labels = np.array([[1, 1, 1]] + [[2, 3, 2]] * (b - 1), np.int32)
    short_frames = np.zeros((b, CTC_FRAMES))
    short_frames[:, 2:] = 1.0  # two frames for three labels: no alignment exists
    empty_pad = np.ones((b, CTC_LABELS))
    return [
        _ctc_sample(1e4 * right, labels, label_pad, np.zeros((b, CTC_FRAMES)), "logits of +-1e4 on a valid path"),
        _ctc_sample(-1e4 * right, labels, label_pad, np.zeros((b, CTC_FRAMES)), "logits of +-1e4 against the path"),
        _ctc_sample(masked, labels, label_pad, frame_pad, "-inf logits on a class the labels never use"),
        _ctc_sample(np.zeros((b, CTC_FRAMES, CTC_CLASSES)), labels, empty_pad, frame_pad, "empty label sequences"),
        _ctc_sample(rng.normal(size=(b, CTC_FRAMES, CTC_CLASSES)), impossible_labels, np.zeros((b, CTC_LABELS)),
                    short_frames, "impossible alignments with zero_infinity", zero_infinity=True),
    ]


CTC = InputKind(
    "ctc",
    logits=True,
    random=_ctc_random,
    perfect=_ctc_perfect,
    hard_cases=_ctc_hard,
    example_axes=2,
    doc="per-frame logits (B, T, K) with blank 0, right-padded integer labels (B, N), and logit_paddings / "
        "label_paddings keywords (1.0 = padded)",
)
