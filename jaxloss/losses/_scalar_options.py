"""Options that must be one number, shared by the families that have them.

Most numeric options of a loss take an array too, one value per example (``_core.parameter_array``
spreads it). A few have no per-example meaning: the order of a norm, the temperatures that select
bi-tempered's algorithm, a batch's temperature, a cap on every logit. Given an array, such an option
would meet jnp's implicit broadcasting, which raises an error that names neither the loss nor the
option, or reads it along the wrong axis where the shapes happen to agree. :func:`single_number`
refuses it by name instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["single_number"]


def single_number(value: Any, *, name: str, fn: str, meaning: str) -> Any:
    """``value`` unchanged if it is one number (a Python or NumPy number, or a 0-d array, concrete or traced).

    Anything with a shape raises a ``TypeError`` that names the loss and the option and says that a
    single number is expected (``meaning`` says what the number is).
    """
    shape = getattr(value, "shape", None)
    if shape is None and isinstance(value, (list, tuple)):
        shape = np.shape(value)
    if shape is not None and len(shape) != 0:
        raise TypeError(f"{fn}: {name} must be a single number ({meaning}); got an array of shape {tuple(shape)}. "
                        f"It has no per-example meaning: call the loss once per value of {name}.")
    return value
