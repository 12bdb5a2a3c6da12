"""For iterables of batches: the exact ranking metrics' entries, kept on the host batch by batch."""

from __future__ import annotations

import jax

from jaxloss import metrics as _metrics

__all__ = ["HostEntries"]


def _empty(state: _metrics.RankingState) -> _metrics.RankingState:
    # Derived from the state's own arrays, so that they are placed as it is (global arrays of several processes).
    return _metrics.RankingState(state.scores[:0], state.positive[:0], state.weights[:0], state.count * 0,
                                 state.dropped & False)


_concatenate = jax.jit(_metrics.RankingState.concatenate)


class HostEntries:
    """For iterables of batches: the entries of the ranking metrics' states, kept on the host, batch by batch.

    The exact ranking metrics (``auc``, ``average_precision``) keep every score, and an iterable's
    length is not known in advance. Each step is handed a ranking state of capacity 0, whose update
    gives back the batch's entries alone; :meth:`take` moves them here and hands the next step an empty
    state again, so every step has the same shapes (one compilation) and costs O(batch) however long
    the iterable. :meth:`restore` puts every entry back, concatenated (a group of batches at a time as
    they come, so that the end joins few pieces). Other states pass through. Nothing is read back
    from the device.
    """

    GROUP = 256

    def start(self, states: tuple) -> tuple:
        """The states to give the first step (``states``: the metrics' ``init()``)."""
        self.empty = tuple(_empty(s) if isinstance(s, _metrics.RankingState) else None for s in states)
        self.pending: list[list] = [[] for _ in states]
        self.chunks: list[list] = [[] for _ in states]
        return tuple(s if e is None else e for s, e in zip(states, self.empty))

    def take(self, states: tuple) -> tuple:
        """After a step: its entries kept here, empty states for the next step."""
        out = []
        for i, (state, empty) in enumerate(zip(states, self.empty)):
            if empty is not None:
                self.pending[i].append(state)
                if len(self.pending[i]) == self.GROUP:
                    self.chunks[i].append(_concatenate(tuple(self.pending[i])))
                    self.pending[i] = []
                state = empty
            out.append(state)
        return tuple(out)

    def restore(self, states: tuple) -> tuple:
        """The states with every entry kept since :meth:`start`."""
        out = []
        for i, (state, empty) in enumerate(zip(states, self.empty)):
            if empty is not None:
                pieces = self.chunks[i] + self.pending[i]
                state = _concatenate(tuple(pieces)) if pieces else empty
            out.append(state)
        return tuple(out)


