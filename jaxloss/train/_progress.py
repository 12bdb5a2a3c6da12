"""The progress display of ``fit``: a bar in a terminal, a live bar in Jupyter, one line per epoch in logs.

``fit`` calls :meth:`Progress.epoch` for every epoch, in order, as soon as the host has its values
(the compiled program runs several epochs per call; ``fit`` sizes those chunks by time so that the
display moves about ten times a second). Each update shows the epoch, the training loss and the
monitored quantity.
"""

from __future__ import annotations

import html
import math
import sys
import time
from collections.abc import Mapping
from typing import Any, Literal, TextIO

__all__ = ["Display", "Progress", "choose_display"]

Display = Literal["bar", "notebook", "lines"]
DISPLAYS: tuple[Display, ...] = ("bar", "notebook", "lines")

#: At most this many lines in a log (every k-th epoch beyond it, and always the last).
_MAX_LINES = 100


def _in_notebook() -> bool:
    ipython_module = sys.modules.get("IPython")
    if ipython_module is None:
        return False
    shell = ipython_module.get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def choose_display(progress: bool | str, stream: TextIO | None = None) -> Display | None:
    """What ``progress=`` means here: None (off), or the display for this environment."""
    if progress is False or progress is None:
        return None
    if progress is True:
        if _in_notebook():
            return "notebook"
        stream = sys.stderr if stream is None else stream
        return "bar" if getattr(stream, "isatty", lambda: False)() else "lines"
    if progress in DISPLAYS:
        return progress  # type: ignore[return-value]
    raise ValueError(f"fit: progress={progress!r}; use True (choose for this environment), False, or one of "
                     f"{', '.join(repr(d) for d in DISPLAYS)}.")


def _number(value: float) -> str:
    return f"{value:.4g}" if math.isfinite(value) else str(value)


class Progress:
    """Shows ``fit``'s progress: call :meth:`epoch` for every epoch, then :meth:`close` once."""

    def __init__(self, display: Display | None, epochs: int, *, monitor: str, first_epoch: int = 1,
                 stream: TextIO | None = None, show: Any = None) -> None:
        self.display, self.epochs, self.monitor = display, epochs, monitor
        self.first_epoch = first_epoch
        self.stream = sys.stderr if stream is None else stream
        self.start = time.perf_counter()
        self.last_draw = -math.inf
        self.every = max(1, math.ceil(max(epochs - first_epoch + 1, 1) / _MAX_LINES))
        self.last_epoch, self.last_logs = first_epoch - 1, {}
        self.handle = None
        self.first_seen: tuple[int, float] | None = None
        self._show = show  # IPython's display function (injected in tests)

    def _summary(self, logs: Mapping[str, float]) -> str:
        keys = ["loss"] + ([self.monitor] if self.monitor != "loss" else [])
        return "  ".join(f"{k} {_number(logs[k])}" for k in keys if k in logs)

    def _timing(self, epoch: int) -> str:
        now = time.perf_counter()
        if self.first_seen is None:  # the first epoch's time includes compiling: rates start after it
            self.first_seen = (epoch, now)
        elapsed = now - self.start
        since, then = self.first_seen
        if epoch <= since:
            return f"{elapsed:.1f}s"
        per = (now - then) / (epoch - since)
        left = per * (self.epochs - epoch)
        return f"{elapsed:.1f}s, {per * 1e3:.3g} ms/epoch" + (f", ~{left:.0f}s left" if epoch < self.epochs else "")

    def epoch(self, epoch: int, logs: Mapping[str, float]) -> None:
        """Shows epoch ``epoch`` (1-based) with its ``logs``."""
        self.last_epoch, self.last_logs = epoch, dict(logs)
        if self.display == "lines":
            if epoch == self.first_epoch or epoch % self.every == 0 or epoch == self.epochs:
                self.stream.write(f"epoch {epoch}/{self.epochs}  {self._summary(logs)}  ({self._timing(epoch)})\n")
                self.stream.flush()
            return
        now = time.perf_counter()
        if self.display is not None and (now - self.last_draw >= 0.1 or epoch == self.epochs):
            self._draw(epoch, logs)
            self.last_draw = now

    def _draw(self, epoch: int, logs: Mapping[str, float], message: str = "") -> None:
        fraction = min(1.0, epoch / max(self.epochs, 1))
        text = f"epoch {epoch}/{self.epochs}  {self._summary(logs)}  ({self._timing(epoch)})"
        if self.display == "bar":
            width = 24
            bar = "#" * int(width * fraction) + "." * (width - int(width * fraction))
            self.stream.write(f"\r[{bar}] {text}" + (f"  {message}" if message else "") + "\033[K")
            self.stream.flush()
        elif self.display == "notebook":
            body = (f'<div style="font-family: monospace"><progress value="{epoch}" max="{self.epochs}" '
                    f'style="width: 16em; vertical-align: middle"></progress> {html.escape(text)}'
                    + (f"<br>{html.escape(message)}" if message else "") + "</div>")
            self._notebook(body)

    def _notebook(self, body: str) -> None:
        from IPython.display import HTML, display

        show = self._show or display
        if self.handle is None:
            self.handle = show(HTML(body), display_id=True)
        else:
            self.handle.update(HTML(body))

    def close(self, message: str) -> None:
        """The last state and how the run ended."""
        if self.display == "lines":
            self.stream.write(message + "\n")
            self.stream.flush()
        elif self.display is not None:
            self._draw(self.last_epoch, self.last_logs, message)
            if self.display == "bar":
                self.stream.write("\n")
                self.stream.flush()
