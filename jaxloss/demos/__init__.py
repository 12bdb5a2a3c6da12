"""The demo gallery: every idea about losses as a picture you can regenerate.

Each demo is one module here with ``run(out_dir, *, fast=False, formats=("png",), show=False)``
returning a :class:`DemoResult` (the files written, a plain-language summary and the numbers behind
the figure), and ``main()`` for ``python demos/<name>.py``. ``jaxloss demo`` lists them,
``jaxloss demo NAME`` runs one and ``jaxloss demo all`` runs every one.

>>> from jaxloss import demos
>>> demos.names()[:3]
['darts', 'mse-vs-mae', 'outliers']
"""

from __future__ import annotations

import importlib
from types import ModuleType

from jaxloss.demos._common import DemoResult as DemoResult

__all__ = ["DemoResult", "DEMOS", "names", "get", "run"]

#: Demo name (as typed on the command line) -> module in this package, in gallery order.
DEMOS = {
    "darts": "darts",
    "mse-vs-mae": "mse_vs_mae",
    "outliers": "outliers",
    "cross-entropy": "cross_entropy",
    "loss-vs-accuracy": "loss_vs_accuracy",
    "training-curve": "training_curve",
    "overfitting": "overfitting",
    "loss-vs-metric": "loss_vs_metric",
    "descent": "descent",
    "landscape": "landscape",
    "gradients": "gradients",
    "playground-2d": "playground_2d",
}


def names() -> list[str]:
    """The demo names, in gallery order."""
    return list(DEMOS)


def get(name: str) -> ModuleType:
    """The module of demo ``name`` (``"mse-vs-mae"`` and ``"mse_vs_mae"`` both work)."""
    key = name.strip().lower().replace("_", "-")
    if key not in DEMOS:
        import difflib

        close = difflib.get_close_matches(key, list(DEMOS), n=2)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise KeyError(f"no demo named {name!r}.{hint} Demos: {', '.join(DEMOS)}.")
    return importlib.import_module(f"jaxloss.demos.{DEMOS[key]}")


def run(name: str, out_dir: str = "jaxloss-out", *, fast: bool = False, formats: tuple[str, ...] = ("png",),
        show: bool = False) -> DemoResult:
    """Runs demo ``name``, writing its figures under ``out_dir``."""
    return get(name).run(out_dir, fast=fast, formats=tuple(formats), show=show)


def __dir__() -> list[str]:  # the public API only (not the modules this one imports)
    return sorted(__all__)
