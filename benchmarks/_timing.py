"""Side-by-side timing: compile first, then interleave the contenders.

These machines are shared and noisy, so absolute times mean little; ratios of
contenders measured in the same loop (A B A B ...) mean much more. Each
contender is a zero-argument callable returning something to block on.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any

import jax


def block(x: Any) -> Any:
    return jax.block_until_ready(x)


@dataclasses.dataclass(frozen=True)
class Timing:
    """Seconds per call of one contender: median and spread over the repetitions."""

    median: float
    minimum: float
    maximum: float
    repetitions: int

    def as_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)

    def spread(self) -> str:
        return f"{fmt_seconds(self.minimum)}-{fmt_seconds(self.maximum)}"


def interleaved(
    contenders: Mapping[str, Callable[[], Any]], *, repetitions: int = 20, min_time: float = 0.0,
    inner: int | None = None,
) -> dict[str, Timing]:
    """Times each contender, interleaved A B A B, after one warm-up call each.

    ``inner`` calls are made per timed repetition (chosen so a repetition lasts
    at least ~2 ms, to get above the timer's resolution, unless given).
    ``min_time`` keeps repeating until that many seconds were spent in total.
    """
    for fn in contenders.values():  # compile and warm up
        block(fn())
    if inner is None:
        inner = {}
        for name, fn in contenders.items():
            start = time.perf_counter()
            block(fn())
            one = max(time.perf_counter() - start, 1e-7)
            inner[name] = max(1, min(1000, int(0.002 / one)))
    else:
        inner = {name: inner for name in contenders}
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    started = time.perf_counter()
    rep = 0
    while rep < repetitions or time.perf_counter() - started < min_time:
        for name, fn in contenders.items():
            k = inner[name]
            start = time.perf_counter()
            for _ in range(k - 1):
                fn()
            block(fn())
            samples[name].append((time.perf_counter() - start) / k)
        rep += 1
    return {
        name: Timing(statistics.median(s), min(s), max(s), len(s)) for name, s in samples.items()
    }


def fmt_seconds(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} us"


def fmt_bytes(n: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def markdown(headers: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)
