"""Independent NumPy float64 reference implementations, one per registered loss.

Each takes the loss's positional arrays as float64 NumPy arrays (labels as
ints) and its options as keywords, and returns the per-example losses
(``reduction="none"``, no weights or mask). They are written from the papers'
and the reference libraries' definitions (named on each), directly and
without numerical tricks: they are evaluated only on moderate inputs.

One module per loss family, ``references/<family>.py`` beside ``tests/losses/test_<family>.py``
(the family is ``jl.info(name).family``); each registers its references here with ``@reference``.
Every registered loss must have one, in its family's module: ``tests/losses/test_catalog.py`` fails
for a loss without one, so a new loss cannot skip its value test.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

REFERENCES: dict[str, Callable[..., np.ndarray]] = {}


def reference(name: str) -> Callable[[Callable[..., np.ndarray]], Callable[..., np.ndarray]]:
    def register(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
        REFERENCES[name] = fn
        return fn

    return register


def np_log_softmax(x: np.ndarray) -> np.ndarray:
    m = np.max(x, axis=-1, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True))


def np_sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _import_family_references() -> None:
    import importlib
    import pathlib

    for path in sorted(pathlib.Path(__file__).parent.glob("[a-z]*.py")):
        importlib.import_module(f"{__name__}.{path.stem}")


_import_family_references()
