"""How long a piece of host code spent tracing, lowering and compiling, read from JAX's own monitoring events.

>>> import jax, jax.numpy as jnp
>>> with CompileMeter() as meter:
...     _ = jax.jit(lambda x: x * 3.0 + 1.0)(jnp.ones(7))
>>> meter.compiles >= 1 and meter.seconds > 0
True

JAX reports each trace, lowering and XLA compilation with ``jax.monitoring``; one listener, registered
once, adds their durations to the meters that are open (a program taken from XLA's persistent
compilation cache still counts its tracing and lowering, not the compilation it skipped).
"""

from __future__ import annotations

import threading
from typing import Any

import jax

__all__ = ["CompileMeter", "EVENTS"]

#: The monitoring events whose durations make up the cost of compiling a program.
EVENTS = ("/jax/core/compile/jaxpr_trace_duration", "/jax/core/compile/jaxpr_to_mlir_module_duration",
          "/jax/core/compile/backend_compile_duration")
_BACKEND = EVENTS[2]

_open: list[CompileMeter] = []  # the meters measuring now (host bookkeeping: no arrays)
_lock = threading.Lock()
_registered = False


def _listen(event: str, duration: float, **_: Any) -> None:
    if event in EVENTS:
        with _lock:
            for meter in _open:
                meter.seconds += duration
                meter.compiles += event == _BACKEND
                meter.traces += event == EVENTS[0]
                meter.lowerings += event == EVENTS[1]


class CompileMeter:
    """A context manager: ``seconds`` spent tracing, lowering and compiling inside it, ``traces`` (the
    functions traced, ``jax.eval_shape`` included), ``lowerings`` (the jitted programs built: none when
    JAX's in-memory cache had them) and ``compiles`` (the XLA compilations, persistent-cache hits
    excluded)."""

    def __init__(self) -> None:
        self.seconds, self.compiles, self.traces, self.lowerings = 0.0, 0, 0, 0

    def __enter__(self) -> CompileMeter:
        global _registered
        with _lock:
            if not _registered:
                jax.monitoring.register_event_duration_secs_listener(_listen)
                _registered = True
            _open.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        with _lock:
            _open.remove(self)
