"""Loss landscapes: a loss on a plane through the parameters, with optimizer paths projected on it."""

from __future__ import annotations

import dataclasses
from typing import Any

from jaxloss._arguments import (array_argument, callable_argument, check_input, choice_argument, flag_argument,
                                 integer_argument, real_argument, text_argument)
from jaxloss.plot._style import PALETTE, axes_argument, new_figure, style_axes


@dataclasses.dataclass
class Landscape:
    """A loss surface on a plane through ``center``: ``values[j, i]`` is the loss at
    ``center + alphas[i] * directions[0] + betas[j] * directions[1]`` (flat parameter vectors);
    ``paths`` maps a name to its trajectory's (steps, 2) coordinates on that plane."""

    alphas: Any
    betas: Any
    values: Any
    paths: dict[str, Any]
    center: Any
    directions: Any
    method: str
    explained: Any = None


def _flat_directions(params: Any, method: str, trajectories: dict[str, Any], seed: int,
                     ignore_biases: bool) -> tuple[Any, Any, Any]:
    import jax
    import numpy as np
    from jax.flatten_util import ravel_pytree

    center, unravel = ravel_pytree(params)
    center = np.asarray(center, dtype=np.float64)
    if method == "axes":
        if center.size != 2:
            raise ValueError(f"loss_landscape: directions='axes' needs exactly 2 parameters, got {center.size}; "
                             "use 'filter' or 'pca' for larger models.")
        return center, np.eye(2), None
    if method == "pca":
        if not trajectories:
            raise ValueError("loss_landscape: directions='pca' needs trajectories={name: [params, ...]}.")
        rows = [np.asarray(ravel_pytree(p)[0], dtype=np.float64) - center
                for path in trajectories.values() for p in path]
        _, s, vt = np.linalg.svd(np.stack(rows), full_matrices=False)
        explained = (s ** 2 / max(float(np.sum(s ** 2)), 1e-30))[:2]
        return center, vt[:2], explained
    if method != "filter":
        raise ValueError(f"loss_landscape: directions={method!r}; expected 'filter', 'pca' or 'axes'.")
    # Filter normalization (Li et al. 2018): a Gaussian direction rescaled so that each filter (each
    # output unit: the last axis of a weight matrix) has the norm of the same filter in the model.
    rng = np.random.default_rng(seed)
    leaves, treedef = jax.tree_util.tree_flatten(params)
    dirs = []
    for _ in range(2):
        out = []
        for leaf in leaves:
            w = np.asarray(leaf, dtype=np.float64)
            d = rng.normal(size=w.shape)
            if w.ndim <= 1:
                d = np.zeros_like(w) if ignore_biases else d * (np.linalg.norm(w) / (np.linalg.norm(d) + 1e-12))
            else:
                axes = tuple(range(w.ndim - 1))
                d = d * (np.linalg.norm(w, axis=axes, keepdims=True) / (np.linalg.norm(d, axis=axes, keepdims=True) + 1e-12))
            out.append(d)
        dirs.append(np.asarray(ravel_pytree(jax.tree_util.tree_unflatten(treedef, out))[0], dtype=np.float64))
    return center, np.stack(dirs), None


def _check_surface(fn: str, loss_fn: Any, params: Any, directions: Any, trajectories: Any, span: Any, resolution: Any,
                   seed: Any) -> None:
    """The arguments landscape_surface and loss_landscape share, checked before anything is computed."""
    import numpy as np

    callable_argument(fn, "loss_fn", loss_fn, "a function loss_fn(params) -> scalar")
    check_input(fn, "params", params)
    if isinstance(directions, str):
        choice_argument(fn, "directions", directions, ("filter", "pca", "axes"))
    else:
        d = array_argument(fn, "directions", directions)
        if d.ndim != 2 or d.shape[0] != 2:
            raise ValueError(f"{fn}: directions must be 'filter', 'pca', 'axes' or a (2, P) array of flat directions; "
                             f"got shape {tuple(d.shape)}.")
    if trajectories is not None and not isinstance(trajectories, dict):
        raise TypeError(f"{fn}: trajectories must be a dict name -> sequence of parameter pytrees, or None; got "
                        f"{type(trajectories).__name__} {trajectories!r}.")
    if isinstance(span, (tuple, list)):
        if len(span) != 4:
            raise ValueError(f"{fn}: span must be a half-width or explicit limits (a0, a1, b0, b1); got {len(span)} "
                             "values.")
        for i, v in enumerate(span):
            real_argument(fn, f"span[{i}]", v)
    elif not np.isfinite(real_argument(fn, "span", span, " (a half-width) or limits (a0, a1, b0, b1)")) or span <= 0:
        raise ValueError(f"{fn}: span={span} must be a finite half-width > 0.")
    integer_argument(fn, "resolution", resolution, low=2, meaning=" (grid points per side)")
    integer_argument(fn, "seed", seed)


def landscape_surface(loss_fn: Any, params: Any, *, directions: Any = "filter", trajectories: dict[str, Any] | None = None,
                      span: float | tuple[float, float, float, float] = 1.0, resolution: int = 41, seed: int = 0,
                      ignore_biases: bool = True, margin: float = 0.15) -> Landscape:
    """The loss ``loss_fn(params)`` on a plane through ``params`` (any pytree).

    ``directions``: ``"filter"`` (two filter-normalized random directions, Li et al. 2018, *Visualizing
    the Loss Landscape of Neural Nets*), ``"pca"`` (the two principal directions of the trajectories'
    offsets from ``params``), ``"axes"`` (the raw plane of a 2-parameter model) or an explicit (2, P)
    array of flat directions. ``trajectories`` (name -> sequence of parameter pytrees) are projected on
    the plane; ``span`` is the half-width in direction units, or explicit ``(a0, a1, b0, b1)`` limits,
    and grows to hold the projected paths. The grid is evaluated with one ``jit(vmap(...))``.
    """
    import jax
    import jax.numpy as jnp
    import numpy as np
    from jax.flatten_util import ravel_pytree

    _check_surface("landscape_surface", loss_fn, params, directions, trajectories, span, resolution, seed)
    flag_argument("landscape_surface", "ignore_biases", ignore_biases)
    if real_argument("landscape_surface", "margin", margin, " (the share of the paths' extent added around them)") < 0:
        raise ValueError(f"landscape_surface: margin={margin} must be >= 0.")
    trajectories = dict(trajectories or {})
    if isinstance(directions, str):
        center, d, explained = _flat_directions(params, directions, trajectories, seed, ignore_biases)
        method = directions
    else:
        center = np.asarray(ravel_pytree(params)[0], dtype=np.float64)
        d, explained, method = np.asarray(directions, dtype=np.float64), None, "custom"
    _, unravel = ravel_pytree(params)
    # Project each trajectory on the (not necessarily orthogonal) plane by least squares.
    gram = d @ d.T
    paths = {}
    for name, path in trajectories.items():
        offsets = np.stack([np.asarray(ravel_pytree(p)[0], dtype=np.float64) - center for p in path])
        paths[name] = np.linalg.solve(gram, d @ offsets.T).T
    if isinstance(span, (tuple, list)):
        a0, a1, b0, b1 = span
    else:
        a0, a1, b0, b1 = -span, span, -span, span
        for xy in paths.values():
            pad_a = margin * max(float(np.ptp(xy[:, 0])), 1e-3)
            pad_b = margin * max(float(np.ptp(xy[:, 1])), 1e-3)
            a0, a1 = min(a0, xy[:, 0].min() - pad_a), max(a1, xy[:, 0].max() + pad_a)
            b0, b1 = min(b0, xy[:, 1].min() - pad_b), max(b1, xy[:, 1].max() + pad_b)
    alphas, betas = np.linspace(a0, a1, resolution), np.linspace(b0, b1, resolution)
    dtype = ravel_pytree(params)[0].dtype
    c, dj = jnp.asarray(center, dtype), jnp.asarray(d, dtype)

    @jax.jit
    def grid(ab: Any) -> Any:
        return jax.vmap(lambda x: loss_fn(unravel(c + x[0] * dj[0] + x[1] * dj[1])))(ab)

    aa, bb = np.meshgrid(alphas, betas)
    ab = jnp.asarray(np.stack([aa.ravel(), bb.ravel()], axis=1), dtype)
    values = np.asarray(grid(ab), dtype=np.float64).reshape(aa.shape)
    return Landscape(alphas, betas, values, paths, center, d, method, explained)


def draw_landscape(ax: Any, land: Landscape, *, title: str | None = None, log: bool = True, levels: int = 18,
                   colorbar: bool = True, path_colors: dict[str, str] | None = None, legend: bool = True) -> Any:
    """Draws a :class:`Landscape` as filled contours with its paths (start dot, end cross)."""
    import numpy as np

    axes_argument("draw_landscape", "ax", ax)
    if not isinstance(land, Landscape):
        raise TypeError(f"draw_landscape: land must be a Landscape (from landscape_surface); got {type(land).__name__} "
                        f"{land!r}.")
    text_argument("draw_landscape", "title", title)
    for key, value in (("log", log), ("colorbar", colorbar), ("legend", legend)):
        flag_argument("draw_landscape", key, value)
    integer_argument("draw_landscape", "levels", levels, low=2)
    if path_colors is not None and not isinstance(path_colors, dict):
        raise TypeError(f"draw_landscape: path_colors must be a dict path name -> colour or None; got "
                        f"{type(path_colors).__name__}.")

    values = np.asarray(land.values)
    shown = np.log10(values - min(values.min(), 0.0) + 1e-3) if log else values
    filled = ax.contourf(land.alphas, land.betas, shown, levels=levels, cmap="viridis")
    ax.contour(land.alphas, land.betas, shown, levels=levels, colors="white", linewidths=0.4, alpha=0.5)
    if colorbar:
        bar = ax.figure.colorbar(filled, ax=ax, fraction=0.046, pad=0.03)
        bar.set_label("log10 loss" if log else "loss")
    colors = [PALETTE[4], PALETTE[5], PALETTE[1], PALETTE[3], PALETTE[6], PALETTE[2]]
    for i, (name, xy) in enumerate(land.paths.items()):
        color = (path_colors or {}).get(name, colors[i % len(colors)])
        ax.plot(xy[:, 0], xy[:, 1], color=color, linewidth=2.0, label=name)
        ax.plot(xy[0, 0], xy[0, 1], "o", color=color, markersize=6, markeredgecolor="black")
        ax.plot(xy[-1, 0], xy[-1, 1], "X", color=color, markersize=9, markeredgecolor="black")
    labels = {"axes": ("parameter 1", "parameter 2"), "pca": ("1st principal direction", "2nd principal direction"),
              "filter": ("random direction 1 (filter-normalized)", "random direction 2 (filter-normalized)")}
    xlabel, ylabel = labels.get(land.method, ("direction 1", "direction 2"))
    if land.method == "pca" and land.explained is not None:
        xlabel += f" ({100 * land.explained[0]:.0f}% of path)"
        ylabel += f" ({100 * land.explained[1]:.0f}%)"
    style_axes(ax, title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(False)
    if legend and land.paths:
        ax.legend(loc="lower right", fontsize=9, framealpha=0.85, frameon=True)
    return ax


def loss_landscape(loss_fn: Any, params: Any, *, directions: Any = "filter", trajectories: dict[str, Any] | None = None,
                   span: Any = 1.0, resolution: int = 41, seed: int = 0, log: bool = True, title: str | None = None,
                   ax: Any = None) -> Any:
    """A 2-D loss landscape of any model, with optimizer paths projected on it; returns the Figure.

    ``loss_fn(params) -> scalar`` for any parameter pytree; see :func:`landscape_surface` for
    ``directions`` (``"filter"``, ``"pca"``, ``"axes"``) and ``trajectories``. The computed
    :class:`Landscape` is kept as ``fig.landscape`` (a list if several are drawn on one figure).

    >>> import jax.numpy as jnp
    >>> from jaxloss import plot
    >>> fig = plot.loss_landscape(lambda p: jnp.sum((p["w"] - 1.0) ** 2), {"w": jnp.zeros((2, 2))},
    ...                           resolution=9)
    >>> fig.landscape[0].values.shape
    (9, 9)
    >>> plot.close(fig)
    """
    _check_surface("loss_landscape", loss_fn, params, directions, trajectories, span, resolution, seed)
    flag_argument("loss_landscape", "log", log)
    text_argument("loss_landscape", "title", title)
    if ax is not None:
        axes_argument("loss_landscape", "ax", ax)
    land = landscape_surface(loss_fn, params, directions=directions, trajectories=trajectories, span=span,
                             resolution=resolution, seed=seed)
    if ax is None:
        fig, grid = new_figure(1, 1, width=5.6, height=4.6)
        ax = grid[0, 0]
    fig = ax.figure
    draw_landscape(ax, land, title=title or f"Loss landscape ({land.method} directions)", log=log)
    if not hasattr(fig, "landscape"):
        fig.landscape = []
    fig.landscape.append(land)
    return fig
