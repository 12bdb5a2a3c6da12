"""Every input the loss tests make, in one place: the only test module that reads input kinds.

The loss tests get their samples, perfect and hard inputs and per-example shapes from here: each is
asked of the loss's input kind, an object of ``jaxloss._kinds`` (``entry.inputs``), never matched as a
string.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import jaxloss as jl
from jaxloss import _kinds

Sample = _kinds.Sample

#: Classes of the multiclass kinds' samples (logits of shape (n, NUM_CLASSES)).
NUM_CLASSES = _kinds.NUM_CLASSES

#: Examples per random sample: one shape per input kind across the battery, so every check of a loss
#: reuses the same compiled programs (only "where equals slicing" needs a second, sliced shape).
N = 6


def _kind(entry_or_name: Any) -> _kinds.InputKind:
    entry = jl.info(entry_or_name) if isinstance(entry_or_name, str) else entry_or_name
    return entry.inputs


def kind_name(entry_or_name: Any) -> str:
    """The name of the loss's input kind (``"class_logits"``, ...), for messages."""
    return _kind(entry_or_name).name


def is_kind(entry_or_name: Any, *kinds: _kinds.InputKind) -> bool:
    """Whether the loss takes inputs of one of ``kinds`` (objects of ``jaxloss._kinds``)."""
    return any(_kind(entry_or_name) is k for k in kinds)


def kind_is_known(entry_or_name: Any) -> bool:
    return any(_kind(entry_or_name) is k for k in _kinds.ALL)


def sample(entry_or_name: Any, seed: int = 0, n: int = N) -> Sample:
    """Random inputs of the loss's kind, from ``np.random.default_rng(seed)``."""
    return _kind(entry_or_name).random(np.random.default_rng(seed), n)


def perfect(entry_or_name: Any, seed: int = 7, n: int = N) -> Sample | None:
    """Perfect predictions (where a loss claiming ``zero_at_target`` is 0), or None if the kind has none."""
    kind = _kind(entry_or_name)
    return None if kind.perfect is None else kind.perfect(np.random.default_rng(seed), n)


def hard(entry_or_name: Any, seed: int = 6, n: int = 4) -> list[Sample]:
    """The kind's hard inputs (those of the stability card, ``jl.check``), with the shared empty mask."""
    return _kind(entry_or_name).hard(np.random.default_rng(seed), n)


def example_shape(entry_or_name: Any, s: Sample) -> tuple[int, ...]:
    """Shape of the per-example losses (``reduction="none"``) for the sample ``s``."""
    return _kind(entry_or_name).example_shape(s)
