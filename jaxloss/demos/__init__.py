"""The demo gallery: every idea about losses as a picture you can regenerate.

:data:`DEMOS` is the one list of demos. Each entry names a module of this package (``"mse-vs-mae"`` is
``jaxloss/demos/mse_vs_mae.py``, run as a script by ``demos/mse_vs_mae.py``) with
``run(out_dir, *, fast=False, formats=("png",), show=False)`` returning a :class:`DemoResult` (the
files written, a plain-language summary and the numbers behind the figure), ``main(argv)`` for its
command line, and a main figure ``<module>.png`` (its thumbnail in the README gallery). The command
line (``jaxloss demo``), the scripts in ``demos/``, the README gallery (``demos/make_gallery.py``,
``jaxloss demo --update-readme README.md``) and the tests read this list; a module here that it does
not name fails the tests. To add a demo: write its module, add one :class:`Demo` line below, copy
any script in ``demos/`` to ``demos/<module>.py``.

>>> from jaxloss import demos
>>> demos.names()[:3]
['darts', 'mse-vs-mae', 'outliers']
>>> demos.DEMOS["mse-vs-mae"].module
'mse_vs_mae'
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import sys
from collections.abc import Sequence
from types import ModuleType

from jaxloss.demos._common import DemoResult as DemoResult

__all__ = ["Demo", "DemoResult", "DEMOS", "names", "get", "run", "name_of", "run_script"]


@dataclasses.dataclass(frozen=True)
class Demo:
    """One demo of the gallery.

    Attributes:
      name: as typed on the command line (``jaxloss demo NAME``); its module in this package and its
        script in ``demos/`` are the name with ``_`` for ``-`` (:attr:`module`), its main figure is
        ``<module>.png``.
      summary: one sentence, without the final full stop: what its figures show (``jaxloss demo``
        prints it, the README gallery shows it under the thumbnail).
      in_gallery: whether ``jaxloss demo all`` runs it and the README gallery shows it (False: it runs
        by name only).
    """

    name: str
    summary: str
    in_gallery: bool = True

    @property
    def module(self) -> str:
        """Its module in ``jaxloss.demos`` (and script ``demos/<module>.py``, main figure ``<module>.png``)."""
        return self.name.replace("-", "_")

    def load(self) -> ModuleType:
        """Imports its module."""
        return importlib.import_module(f"{__name__}.{self.module}")


#: Every demo, by name, in gallery order.
DEMOS: dict[str, Demo] = {demo.name: demo for demo in (
    Demo("darts", "two rounds of darts, tight and scattered; each throw's distance from the bullseye is its "
                  "error, and the round is scored by MSE and MAE"),
    Demo("mse-vs-mae", "loss and gradient against the error for MSE, MAE, Huber and log-cosh: squaring punishes "
                       "big errors, and errors of +3 and -3 both cost 9"),
    Demo("outliers", "a line fitted with optax under MSE, MAE and Huber; five outliers drag the MSE line and "
                     "leave the others in place"),
    Demo("cross-entropy", "what a 70% / 20% / 10% prediction costs for each true class, and -log p with its "
                          "three zones"),
    Demo("loss-vs-accuracy", "two classifiers, both 90 of 100 right, with very different cross-entropy: "
                             "accuracy hides how wrong the mistakes were"),
    Demo("training-curve", "a healthy optax run: high loss, a sharp drop, then a slow flattening, with the "
                           "three phases marked"),
    Demo("overfitting", "a degree-15 polynomial on 14 points: training loss keeps falling while validation "
                        "loss turns up; the best epoch and early stopping marked"),
    Demo("loss-vs-metric", "cross-entropy moves smoothly while accuracy moves in steps; early stopping on "
                           "validation AUC; accuracy's gradient is zero almost everywhere"),
    Demo("descent", "gradient descent on every registered loss, each on its toy problem: one panel per loss, "
                    "read from the registry"),
    Demo("landscape", "loss surfaces under MSE and MAE with the paths of SGD, momentum and Adam; an MLP's "
                      "surface on filter-normalized and PCA planes (`jaxloss.plot.loss_landscape`)"),
    Demo("gradients", "the gradient inspector on a batch with outliers: under MSE a few examples dominate the "
                      "update, under Huber they do not"),
    Demo("playground-2d", "a small MLP on a 2-D dataset with a loss from the catalog: the decision boundary as "
                          "it evolves (an animated GIF), per-point gradients, train and test curves; it prints the command that "
                          "opens the same experiment live in the browser (`jaxloss playground`)"),
    Demo("language-model", "a character-level language model trained with `jl.linear_cross_entropy` on jaxloss's "
                           "own docstrings, and the memory the fused loss saves as the vocabulary grows"),
)}


def names(*, gallery: bool = False) -> list[str]:
    """The demo names, in gallery order (``gallery=True``: only those ``jaxloss demo all`` runs)."""
    return [d.name for d in DEMOS.values() if d.in_gallery or not gallery]


def _entry(name: str) -> Demo:
    key = name.strip().lower().replace("_", "-")
    if key not in DEMOS:
        import difflib

        close = difflib.get_close_matches(key, list(DEMOS), n=2)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise KeyError(f"no demo named {name!r}.{hint} Demos: {', '.join(DEMOS)}.")
    return DEMOS[key]


def get(name: str) -> ModuleType:
    """The module of demo ``name`` (``"mse-vs-mae"`` and ``"mse_vs_mae"`` both work)."""
    return _entry(name).load()


def name_of(module: str) -> str:
    """The demo name of a module of this package (``name_of(__name__)`` in each demo)."""
    name = module.rsplit(".", 1)[-1].replace("_", "-")
    if name not in DEMOS:
        raise KeyError(f"{module} is not listed in jaxloss.demos.DEMOS; add Demo({name!r}, 'what it shows') there.")
    return name


def run(name: str, out_dir: str | os.PathLike[str] = "jaxloss-out", *, fast: bool = False,
        formats: tuple[str, ...] = ("png",), show: bool = False) -> DemoResult:
    """Runs demo ``name``, writing its figures under ``out_dir``."""
    return get(name).run(out_dir, fast=fast, formats=tuple(formats), show=show)


def run_script(path: str, argv: Sequence[str] | None = None) -> int:
    """Entry point of the scripts ``demos/<module>.py``: runs the demo the file is named after."""
    name = os.path.splitext(os.path.basename(path))[0]
    return int(get(name).main(sys.argv[1:] if argv is None else list(argv)) or 0)


def __dir__() -> list[str]:  # the public API only (not the modules this one imports)
    return sorted(__all__)
