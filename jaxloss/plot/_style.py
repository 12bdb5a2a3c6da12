"""The house style: palette, named colours, rc settings, new figures, saving (matplotlib, imported lazily).

The Okabe-Ito colour-blind-safe palette, titles and axis labels on every panel, light grids,
legends without frames, and sizes that stay readable as thumbnails.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from jaxloss._arguments import flag_argument, integer_argument, real_argument, text_argument

#: Okabe and Ito's colour-blind-safe palette (Color Universal Design, 2008).
PALETTE = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)

#: Named roles, so that the same idea has the same colour in every figure.
COLORS = {
    "train": PALETTE[0],
    "validation": PALETTE[1],
    "best": PALETTE[2],
    "stop": PALETTE[3],
    "data": "#555555",
    "highlight": PALETTE[4],
}

STYLE: dict[str, Any] = {
    "figure.dpi": 100,
    "savefig.dpi": 110,
    "savefig.bbox": "tight",
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.labelsize": 11,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "legend.fontsize": 10,
    "lines.linewidth": 2.0,
}


def _pyplot() -> Any:
    import matplotlib

    if (sys.platform.startswith("linux") and not os.environ.get("MPLBACKEND")
            and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")):
        # Headless Linux: draw to files without needing a display.
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


@contextlib.contextmanager
def house_style() -> Iterator[None]:
    """Context in which matplotlib uses the jaxloss house style."""
    import matplotlib
    from cycler import cycler

    with matplotlib.rc_context({**STYLE, "axes.prop_cycle": cycler(color=list(PALETTE))}):
        yield


def new_figure(nrows: int = 1, ncols: int = 1, *, width: float | None = None, height: float | None = None,
               squeeze: bool = False, **kwargs: Any) -> tuple[Any, Any]:
    """A figure and its axes in the house style (axes as a 2-D array unless ``squeeze``)."""
    nrows = integer_argument("new_figure", "nrows", nrows, low=1)
    ncols = integer_argument("new_figure", "ncols", ncols, low=1)
    for key, value in (("width", width), ("height", height)):
        if value is not None and real_argument("new_figure", key, value, " (inches) or None") <= 0:
            raise ValueError(f"new_figure: {key}={value} must be > 0 (inches).")
    flag_argument("new_figure", "squeeze", squeeze)
    plt = _pyplot()
    width = width if width is not None else 4.6 * ncols
    height = height if height is not None else 3.6 * nrows
    with house_style():
        fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=squeeze, **kwargs)
    if _inline_backend():
        # Jupyter's inline backend shows every figure pyplot holds when a cell ends, and the figure a
        # cell returns once more: hand it over to the caller only, so it shows once.
        plt.close(fig)
    return fig, axes


def _inline_backend() -> bool:
    import matplotlib

    return "inline" in str(matplotlib.get_backend()).lower()


def style_axes(ax: Any, *, title: str | None = None, xlabel: str | None = None, ylabel: str | None = None,
               legend: bool = False) -> Any:
    """Applies the house style to one axes, with its title and labels."""
    axes_argument("style_axes", "ax", ax)
    for key, value in (("title", title), ("xlabel", xlabel), ("ylabel", ylabel)):
        text_argument("style_axes", key, value)
    flag_argument("style_axes", "legend", legend)
    with house_style():
        if title:
            ax.set_title(title, fontsize=STYLE["axes.titlesize"], fontweight=STYLE["axes.titleweight"])
        if xlabel:
            ax.set_xlabel(xlabel)
        if ylabel:
            ax.set_ylabel(ylabel)
        ax.grid(True, alpha=STYLE["grid.alpha"])
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        if legend and ax.get_legend_handles_labels()[0]:
            ax.legend(frameon=False, fontsize=STYLE["legend.fontsize"])
    return ax


def save(fig: Any, path: str | os.PathLike[str], *, formats: Sequence[str] = ("png",)) -> list[str]:
    """Saves ``fig`` as ``path`` with each extension in ``formats``; returns the paths written."""
    figure_argument("save", "fig", fig)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"save: path must be a file path (a string); got {type(path).__name__} {path!r}.")
    if isinstance(formats, str) or not isinstance(formats, (list, tuple)):
        raise TypeError(f"save: formats must be a list of file formats, e.g. formats=['png', 'pdf']; got "
                        f"{type(formats).__name__} {formats!r}.")
    supported = fig.canvas.get_supported_filetypes()
    for i, fmt in enumerate(formats):
        if not isinstance(fmt, str) or fmt.lower() not in supported:
            raise ValueError(f"save: formats[{i}]={fmt!r} is not a format matplotlib writes; use one of "
                             f"{', '.join(sorted(supported))}.")
    base, _ = os.path.splitext(os.fspath(path))
    os.makedirs(os.path.dirname(base) or ".", exist_ok=True)
    written = []
    with house_style():
        for fmt in formats:
            target = f"{base}.{fmt}"
            fig.savefig(target, format=fmt)
            written.append(target)
    return written


def close(fig: Any) -> None:
    """Frees a figure's memory (figures are not closed for you: you may want to show them)."""
    figure_argument("close", "fig", fig)
    _pyplot().close(fig)


def figure_argument(fn: str, argument: str, value: Any) -> Any:
    """A matplotlib Figure (what every function here returns)."""
    from matplotlib.figure import Figure

    if not isinstance(value, Figure):
        raise TypeError(f"{fn}: {argument} must be a matplotlib Figure (what jaxloss.plot's functions return); got "
                        f"{type(value).__name__} {value!r}.")
    return value


def axes_argument(fn: str, argument: str, value: Any) -> Any:
    """A matplotlib Axes (``fig.axes[0]``, or one of ``new_figure``'s)."""
    from matplotlib.axes import Axes

    if not isinstance(value, Axes):
        raise TypeError(f"{fn}: {argument} must be a matplotlib Axes (e.g. new_figure()[1][0, 0]); got "
                        f"{type(value).__name__} {value!r}.")
    return value
