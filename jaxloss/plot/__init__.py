"""Figures in one house style (matplotlib, imported lazily).

Every figure jaxloss draws lives here, and every one returns a matplotlib ``Figure`` and never
calls ``show()`` itself. The house style: the Okabe-Ito colour-blind-safe palette, titles and axis
labels on every panel, light grids, legends without frames, and sizes that stay readable as
thumbnails. The layers below (training, inspection) hand their results here; they do not draw.

* the style: :data:`PALETTE`, :data:`COLORS`, :func:`house_style`, :func:`new_figure`,
  :func:`style_axes`, :func:`save`, :func:`close`;
* results: :func:`history` (a ``History`` from ``fit``), :func:`report` (a ``Report`` from
  ``inspect``);
* losses: :func:`loss_vs_error`, :func:`error_curve`, :func:`curves`;
* landscapes: :func:`loss_landscape`, :func:`landscape_surface`, :func:`draw_landscape`,
  :class:`Landscape`.

``import jaxloss`` does not import matplotlib; this package imports it only when a figure is made.
"""

from jaxloss.plot._curves import curves as curves
from jaxloss.plot._curves import error_curve as error_curve
from jaxloss.plot._curves import loss_vs_error as loss_vs_error
from jaxloss.plot._history import history as history
from jaxloss.plot._landscape import Landscape as Landscape
from jaxloss.plot._landscape import draw_landscape as draw_landscape
from jaxloss.plot._landscape import landscape_surface as landscape_surface
from jaxloss.plot._landscape import loss_landscape as loss_landscape
from jaxloss.plot._report import report as report
from jaxloss.plot._style import COLORS as COLORS
from jaxloss.plot._style import PALETTE as PALETTE
from jaxloss.plot._style import _pyplot as _pyplot  # noqa: F401  (the demos' and the playground's pyplot)
from jaxloss.plot._style import close as close
from jaxloss.plot._style import house_style as house_style
from jaxloss.plot._style import new_figure as new_figure
from jaxloss.plot._style import save as save
from jaxloss.plot._style import style_axes as style_axes

__all__ = ["house_style", "new_figure", "style_axes", "save", "close", "history", "report", "error_curve",
           "loss_vs_error", "curves", "Landscape", "landscape_surface", "draw_landscape", "loss_landscape",
           "PALETTE", "COLORS"]


def __dir__() -> list[str]:  # the public API only (not the modules this one imports)
    return sorted(__all__)
