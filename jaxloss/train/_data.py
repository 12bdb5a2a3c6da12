"""Training data for ``fit``: in-memory arrays, or any iterable of batches prefetched to the device.

* **Arrays**: a tuple ``(inputs, targets)`` or a dict with ``"inputs"`` and ``"targets"`` (and
  optionally per-example ``"weights"`` and a boolean ``"where"``), arrays or pytrees of arrays with
  the examples on axis 0. ``fit`` shuffles and batches them on the device, inside one compiled
  program per epoch: the fast path.
* **Batches**: any other iterable whose items are batches in one of those two forms (NumPy or JAX
  arrays): a list, a generator, a ``grain`` or ``tf.data``-style loader. A re-iterable source (a
  list, a loader) is iterated once per epoch; a one-shot iterator (a generator) is consumed across
  epochs. ``steps_per_epoch`` cuts epochs of that many batches from one continuous stream
  (restarting a re-iterable source when it ends). The next ``prefetch`` batches are put on the
  device while the current step runs.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import jax
import numpy as np

__all__ = ["ArrayData", "BatchStream", "as_data", "split_batch", "leading"]

_EXTRA = ("weights", "where")


def leading(tree: Any, what: str = "the data") -> int:
    """The number of examples (axis 0), the same for every array of ``tree``."""
    sizes = {int(np.shape(x)[0]) if np.ndim(x) else -1 for x in jax.tree.leaves(tree)}
    if -1 in sizes:
        raise ValueError(f"fit: every array of {what} needs the examples on axis 0; got a scalar.")
    if len(sizes) != 1:
        raise ValueError(f"fit: every array of {what} must have the same number of examples (axis 0); "
                         f"got {sorted(sizes)}.")
    return sizes.pop()


def split_batch(batch: Any, what: str) -> tuple[Any, Any, dict[str, Any]]:
    """``(inputs, targets, {"weights"?, "where"?})`` from a tuple or a dict, with a clear error otherwise."""
    if isinstance(batch, Mapping):
        unknown = sorted(set(batch) - {"inputs", "targets", *_EXTRA})
        if "inputs" not in batch or "targets" not in batch or unknown:
            raise TypeError(f"fit: {what} as a dict needs the keys 'inputs' and 'targets' (optional 'weights', "
                            f"'where'); got keys {sorted(batch)}.")
        return batch["inputs"], batch["targets"], {k: batch[k] for k in _EXTRA if batch.get(k) is not None}
    if isinstance(batch, tuple) and len(batch) == 2:
        return batch[0], batch[1], {}
    shape = f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else ""
    raise TypeError(f"fit: {what} must be a tuple (inputs, targets) or a dict with 'inputs' and 'targets'; "
                    f"got {type(batch).__name__}{shape}.")


@dataclasses.dataclass(frozen=True)
class ArrayData:
    """In-memory examples: inputs, targets and optional per-example weights / mask."""

    inputs: Any
    targets: Any
    extra: dict[str, Any]
    size: int

    @property
    def arrays(self) -> tuple[Any, Any, dict[str, Any]]:
        return self.inputs, self.targets, self.extra


class BatchStream:
    """An iterable of batches, cut into epochs (see the module docstring)."""

    def __init__(self, source: Iterable[Any], steps_per_epoch: int | None, what: str) -> None:
        self.source, self.steps_per_epoch, self.what = source, steps_per_epoch, what
        self.one_shot = iter(source) is source
        self._stream: Iterator[Any] | None = None
        self._pending: list[Any] = []  # batches read ahead by first(), served first

    def first(self) -> Any:
        """The first batch of the next epoch, without losing it (None when there is none)."""
        if self.steps_per_epoch is None and not self.one_shot:
            return next(iter(self.source), None)
        if not self._pending:
            stream = self._streamed()
            try:
                self._pending.append(next(stream))
            except StopIteration:
                return None
        return self._pending[0]

    def _streamed(self) -> Iterator[Any]:
        if self.steps_per_epoch is None:  # a one-shot source, consumed across epochs
            return iter(self.source)
        if self._stream is None:
            self._stream = self._continuous()
        return self._stream

    def _continuous(self) -> Iterator[Any]:
        if self.one_shot:
            yield from self.source
            return
        while True:
            empty = True
            for batch in self.source:
                empty = False
                yield batch
            if empty:
                return

    def epoch(self) -> Iterator[Any]:
        """The batches of the next epoch (possibly none, when a one-shot source has run out)."""
        if self.steps_per_epoch is None and not self.one_shot:
            return iter(self.source)
        stream, pending, count = self._streamed(), self._pending, self.steps_per_epoch

        def take() -> Iterator[Any]:
            taken = 0
            while count is None or taken < count:
                if pending:
                    yield pending.pop(0)
                else:
                    try:
                        yield next(stream)
                    except StopIteration:
                        return
                taken += 1
        return take()


def as_data(data: Any, what: str, steps_per_epoch: int | None = None) -> ArrayData | BatchStream:
    """``data`` as :class:`ArrayData` (a tuple or dict of arrays) or a :class:`BatchStream` (any other iterable)."""
    if isinstance(data, (tuple, Mapping)):
        inputs, targets, extra = split_batch(data, what)
        size = leading((inputs, targets, extra), what)
        return ArrayData(inputs, targets, extra, size)
    if isinstance(data, (str, bytes)) or not isinstance(data, Iterable):
        raise TypeError(f"fit: {what} must be (inputs, targets) arrays, a dict of arrays, or an iterable of such "
                        f"batches; got {type(data).__name__}.")
    if steps_per_epoch is not None and (isinstance(steps_per_epoch, bool) or int(steps_per_epoch) < 1):
        raise ValueError(f"fit: steps_per_epoch={steps_per_epoch!r} must be a positive integer or None.")
    return BatchStream(data, None if steps_per_epoch is None else int(steps_per_epoch), what)


def prefetch(batches: Iterator[Any], place: Callable[[Any], Any], size: int = 2) -> Iterator[Any]:
    """``batches`` with each ``place``-d on the device ``size`` batches ahead of the one consumed.

    JAX dispatches asynchronously, so the transfer of the next batches overlaps the running step.
    No thread: a producer thread would contend for the GIL with the dispatching one (measured
    several times slower for small steps); loaders that need parallel workers (grain, tf.data) bring
    their own, outside the GIL.
    """
    ahead: collections.deque = collections.deque()
    for batch in itertools.islice(batches, max(1, size)):
        ahead.append(place(batch))
    while ahead:
        yield ahead.popleft()
        for batch in itertools.islice(batches, 1):
            ahead.append(place(batch))
