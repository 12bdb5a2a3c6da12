"""Input kinds of segmentation losses: masks and label maps (private)."""

from __future__ import annotations

import numpy as np

from jaxloss._kinds._base import InputKind, Sample


# -- segmentation -------------------------------------------------------------------------------

IMAGES, IMAGE_SIZE, SEGMENT_CLASSES = 2, 4, 3


def _binary_masks(rng: np.random.Generator) -> np.ndarray:
    return (rng.random((IMAGES, IMAGE_SIZE, IMAGE_SIZE)) < 0.4).astype(np.float64)


def _segmentation_binary_hard(rng: np.random.Generator, n: int) -> list[Sample]:
    t = _binary_masks(rng)
    t[0, 0, 0] = 1.0  # not empty
    shape = t.shape
    sign = 2 * t - 1
    empty = np.zeros(shape)
    return [
        Sample((np.full(shape, -1e4), empty), description="empty masks, predicted empty (logits -1e4)"),
        Sample((rng.normal(size=shape), empty), description="empty masks, random logits"),
        Sample((np.full(shape, 1e4), np.ones(shape)), description="all foreground, logits +1e4"),
        Sample((1e4 * sign, t), description="logits of +-1e4, right"),
        Sample((-1e4 * sign, t), description="logits of +-1e4, wrong"),
        Sample((np.zeros(shape), t), description="logits of exactly 0"),
        Sample((empty.copy(), empty), {"from_logits": False}, description="empty masks, probabilities of exactly 0"),
        Sample((t.copy(), t), {"from_logits": False}, description="probabilities of exactly 0 and 1, right"),
        Sample((1 - t, t), {"from_logits": False}, description="probabilities of exactly 0 and 1, wrong"),
    ]


SEGMENTATION_BINARY = InputKind(
    "segmentation_binary",
    logits=True,
    random=lambda rng, n: Sample((rng.normal(size=(IMAGES, IMAGE_SIZE, IMAGE_SIZE)) * 2, _binary_masks(rng))),
    perfect=lambda rng, n: (lambda t: Sample((40.0 * (2 * t - 1), t)))(_binary_masks(rng)),
    hard_cases=_segmentation_binary_hard,
    example_axes=2,
    doc="per-pixel logits (images, H, W) and {0, 1} masks of the same shape",
)


def _label_maps(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, SEGMENT_CLASSES, (IMAGES, IMAGE_SIZE, IMAGE_SIZE)).astype(np.int32)


def _segmentation_multiclass_hard(rng: np.random.Generator, n: int) -> list[Sample]:
    y = _label_maps(rng)
    oh = np.eye(SEGMENT_CLASSES)[y]
    single = np.zeros_like(y)  # one class everywhere: the others are empty masks
    single[1] = 2
    return [
        Sample((1e4 * (2 * oh - 1), y), description="logits of +-1e4, right"),
        Sample((-1e4 * (2 * oh - 1), y), description="logits of +-1e4, wrong"),
        Sample((np.zeros(oh.shape), y), description="logits of exactly 0"),
        Sample((1e4 * (2 * np.eye(SEGMENT_CLASSES)[single] - 1), single), description="one class per image, logits +-1e4"),
        Sample((rng.normal(size=oh.shape), single), description="one class per image, random logits"),
        Sample((oh.copy(), y), {"from_logits": False}, description="probabilities of exactly 0 and 1, right"),
        Sample((np.roll(oh, 1, axis=-1), y), {"from_logits": False}, description="probabilities of exactly 0 and 1, wrong"),
        Sample((np.eye(SEGMENT_CLASSES)[single], single), {"from_logits": False},
               description="one class per image, exact probabilities"),
    ]


SEGMENTATION_MULTICLASS = InputKind(
    "segmentation_multiclass",
    logits=True,
    random=lambda rng, n: Sample((rng.normal(size=(IMAGES, IMAGE_SIZE, IMAGE_SIZE, SEGMENT_CLASSES)) * 2,
                                  _label_maps(rng))),
    perfect=lambda rng, n: (lambda y: Sample((40.0 * np.eye(SEGMENT_CLASSES)[y], y)))(_label_maps(rng)),
    hard_cases=_segmentation_multiclass_hard,
    example_axes=3,
    doc="per-pixel logits (images, H, W, C) and integer label maps (images, H, W)",
)
