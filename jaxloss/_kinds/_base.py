"""What an input kind is: the record every kind of loss input fills in (private).

An input kind says what a loss takes (its positional arrays and their meaning) and owns everything
that follows from it: random, perfect and hard example inputs (for the tests, the stability card and
the benchmarks), how many leading axes index examples, whether the predictions are logits, how the
gradient curve of the inspector turns one number into a (prediction, target) pair, and how a toy data
problem feeds it. A loss names its kind as an object (``register(inputs=_kinds.CLASS_LOGITS)``), never
as a string matched elsewhere.

Arrays are NumPy float64 (labels int32); callers cast them to the dtype under test.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np

#: What the x axis of a loss's gradient curve is: the error ``p - t`` (element-wise losses), the logit
#: or score against a fixed label (binary and margin losses), or the true class's logit against zero
#: logits for the other classes (multiclass losses). ``None``: one number cannot describe the inputs.
CurveAxis = Literal["error", "logit", "true_class_logit"]

NUM_CLASSES = 5
FEATURES = 3


def shape(n: int) -> tuple[int, int]:
    """The shape of element-wise example arrays: ``n`` rows of ``FEATURES`` entries."""
    return (n, FEATURES)


@dataclasses.dataclass
class Sample:
    """Positional arrays and extra keyword options for one call of a loss."""

    args: tuple[np.ndarray, ...]
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    description: str = ""
    #: A property a loss must claim for this input to be promised finite
    #: (errors of 1e20 are only finite for losses with a bounded gradient).
    requires: str | None = None
    #: Keyword arrays that, like the positional ones, hold one entry per example
    #: along axis 0 (e.g. CTC paddings): tests slice and vmap them with the args.
    example_kwargs: tuple[str, ...] = ()

    def cast(self, dtype: Any, float_args: tuple[int, ...] | None = None) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The args with every floating array in ``dtype`` (labels untouched)."""
        out = []
        for i, a in enumerate(self.args):
            if np.issubdtype(np.asarray(a).dtype, np.floating) and (float_args is None or i in float_args):
                with np.errstate(over="ignore"):  # 1e20 is inf in float16, on purpose
                    out.append(np.asarray(a).astype(dtype))
            else:
                out.append(a)
        return tuple(out), dict(self.kwargs)

    def accepted_by(self, fn: Callable[..., Any]) -> bool:
        """Whether ``fn`` takes every keyword option this sample passes."""
        params = inspect.signature(fn).parameters
        return all(key in params for key in self.kwargs)


def _identity(y: Any) -> Any:
    return y


@dataclasses.dataclass(frozen=True, eq=False)
class InputKind:
    """One kind of loss input and everything that follows from it.

    Kinds compare by identity: a loss's entry holds the object itself (``entry.inputs is CLASS_LOGITS``).

    Attributes:
      name: a short name, for messages and tables.
      doc: what the arrays are, for people.
      logits: True when the predictions are scores that a sigmoid or softmax turns into probabilities
        (logits, margins, log-probabilities), False for values and probabilities, None for neither
        (embeddings, distances). ``LossInfo.takes_logits`` reads it.
      random, perfect, hard: makers of example inputs ``(rng, n) -> Sample`` (``perfect``: where a loss
        claiming ``zero_at_target`` is 0; None when the kind has no perfect input) and
        ``(rng, n) -> list[Sample]`` of extreme inputs.
      example_axes: how many trailing axes of the predictions a loss reduces (the class, feature or
        pixel axes); the leading ones index examples.
      curve_axis, curve_target: what the gradient curve's x axis is, and its default target;
        ``curve_log_softmax``: the predictions are log-probabilities; ``curve_soft_targets``: the target
        is a one-hot distribution rather than a label.
      toy_targets, toy_model: how a toy data problem's raw targets and linear model adapt to this kind
        (``None`` model: a data problem cannot feed it; the toy problem is a prediction problem).
    """

    name: str
    doc: str
    logits: bool | None
    random: Callable[[np.random.Generator, int], Sample]
    perfect: Callable[[np.random.Generator, int], Sample] | None
    hard_cases: Callable[[np.random.Generator, int], list[Sample]]
    example_axes: int = 0
    curve_axis: CurveAxis | None = "error"
    curve_target: float = 0.0
    curve_log_softmax: bool = False
    curve_soft_targets: bool = False
    toy_targets: Callable[[np.ndarray], Any] = _identity
    toy_model: Callable[..., Any] | None = None

    def __repr__(self) -> str:
        return f"<input kind {self.name}>"

    def __str__(self) -> str:
        return self.name

    def hard(self, rng: np.random.Generator, n: int = 4) -> list[Sample]:
        """The kind's hard inputs, then the case every kind shares: every example masked out."""
        cases = self.hard_cases(rng, n)
        s = self.random(rng, n)
        where = np.zeros(self.example_shape(s), bool)
        # Every example excluded: the mean divides by zero included entries and must give 0.
        empty = dataclasses.replace(s, kwargs={**s.kwargs, "where": where}, description="every example masked out")
        return cases + [empty]

    def example_shape(self, sample: Sample) -> tuple[int, ...]:
        """Shape of the per-example losses (``reduction="none"``) for this sample."""
        first = np.asarray(sample.args[0])
        return first.shape[: first.ndim - self.example_axes]

    def curve_inputs(self, v: jax.Array, *, target: float | None, num_classes: int) -> tuple[jax.Array, jax.Array]:
        """One (predictions, targets) pair at the curve position ``v`` (a scalar), for the inspector.

        Raises:
          ValueError: the kind has no curve (one number cannot describe its inputs).
        """
        if self.curve_axis is None:
            raise ValueError(f"inputs of kind {self.name!r} ({self.doc}) have no one-number curve")
        if self.curve_axis == "true_class_logit":
            label = 0 if target is None else int(target)
            logits = jnp.zeros((1, num_classes), v.dtype).at[0, label].set(v)
            if self.curve_log_softmax:
                logits = jax.nn.log_softmax(logits)
            if self.curve_soft_targets:
                return logits, jax.nn.one_hot(jnp.asarray([label]), num_classes, dtype=v.dtype)
            return logits, jnp.asarray([label], jnp.int32)
        t0 = jnp.asarray(self.curve_target if target is None else target, v.dtype)  # may be traced
        p = v if self.curve_axis == "logit" else t0 + v
        return p.reshape(1), jnp.full((1,), t0, v.dtype)

