"""Loss curves: value and derivative against the error, and named series such as a History's columns."""

from __future__ import annotations

from typing import Any

from jaxloss._arguments import array_argument, flag_argument, real_argument, text_argument
from jaxloss.inspection._arguments import loss_argument
from jaxloss.plot._style import COLORS, PALETTE, axes_argument, new_figure, style_axes


def _loss_fn(loss: Any, fn: str = "error_curve", argument: str = "loss") -> tuple[str, Any]:
    """(label, function) for a loss given by name, registry entry or function."""
    loss = loss_argument(fn, argument, loss)
    name = getattr(getattr(loss, "info", None), "name", None) or getattr(loss, "__name__", "loss")
    return str(name), loss


def error_curve(loss: Any, errors: Any, *, target: float = 0.0, **options: Any) -> tuple[Any, Any, Any]:
    """Value and derivative of an element-wise loss along a range of errors.

    ``errors`` are ``prediction - target``; returns NumPy arrays ``(errors, values, gradients)``
    where ``gradients`` is the derivative with respect to the prediction.
    """
    import jax
    import jax.numpy as jnp
    import numpy as np

    _, fn = _loss_fn(loss)
    errors = array_argument("error_curve", "errors", errors)
    target = real_argument("error_curve", "target", target, " (the target the errors are measured from)")
    e = jnp.asarray(np.asarray(errors, dtype=np.float32))
    t = jnp.full(e.shape, target, dtype=e.dtype)

    def total(p: Any) -> Any:
        return jnp.sum(fn(p, t, reduction="none", **options))

    values = fn(t + e, t, reduction="none", **options)
    grads = jax.grad(total)(t + e)
    return np.asarray(e), np.asarray(values), np.asarray(grads)


def loss_vs_error(losses: Any, errors: Any = None, *, gradients: bool = True, target: float = 0.0,
                  options: dict[str, dict[str, Any]] | None = None, title: str | None = "Loss against error",
                  axes: Any = None) -> Any:
    """Each loss (and, with ``gradients``, its derivative) against the error ``prediction - target``.

    ``losses`` is a sequence of names or functions, or a mapping ``label -> name or function``;
    ``options`` maps a label to that loss's keyword options (``{"huber": {"delta": 1.0}}``).
    Draws on ``axes`` (one or two axes) when given; returns the Figure. Line labels are the loss
    labels, so ``fig.axes[0].lines`` hold the curves in order.
    """
    import numpy as np

    if isinstance(losses, str) or not isinstance(losses, (dict, list, tuple)):
        raise TypeError(f"loss_vs_error: losses must be a list of loss names or functions (e.g. ['mse', 'huber']) or a "
                        f"dict label -> loss; got {type(losses).__name__} {losses!r}.")
    items = list(losses.items()) if isinstance(losses, dict) else [(None, item) for item in losses]
    items = [(label, _loss_fn(loss, "loss_vs_error", f"losses[{label or i!r}]")[1]) for i, (label, loss) in enumerate(items)]
    if errors is not None:
        errors = array_argument("loss_vs_error", "errors", errors)
    flag_argument("loss_vs_error", "gradients", gradients)
    real_argument("loss_vs_error", "target", target, " (the target the errors are measured from)")
    text_argument("loss_vs_error", "title", title)
    if options is not None and not isinstance(options, dict):
        raise TypeError(f"loss_vs_error: options must be a dict label -> {{option: value}} or None; got "
                        f"{type(options).__name__}.")
    errors = np.linspace(-4.0, 4.0, 401) if errors is None else np.asarray(errors)
    options = options or {}
    if axes is None:
        fig, grid = new_figure(1, 2 if gradients else 1, width=9.6 if gradients else 5.2, height=3.9)
        axes = list(grid.ravel())
    else:
        axes = list(np.atleast_1d(axes))
        fig = axes[0].figure
    for i, (label, loss) in enumerate(items):
        name, fn = _loss_fn(loss)
        label = label or name
        e, v, g = error_curve(fn, errors, target=target, **options.get(label, {}))
        color = PALETTE[i % len(PALETTE)]
        axes[0].plot(e, v, color=color, label=label)
        if gradients:
            axes[1].plot(e, g, color=color, label=label)
    style_axes(axes[0], title=title, xlabel="error (prediction - target)", ylabel="loss", legend=True)
    if gradients:
        axes[1].axhline(0.0, color=COLORS["data"], linewidth=0.8)
        style_axes(axes[1], title="Its gradient: the push on the prediction", xlabel="error (prediction - target)",
                   ylabel="d loss / d prediction", legend=False)
    fig.tight_layout()
    return fig


def curves(ax: Any, series: dict[str, Any], *, x: Any = None, title: str | None = None, xlabel: str | None = "step",
           ylabel: str | None = "loss", log: bool = False, colors: dict[str, str] | None = None) -> Any:
    """Draws named 1-D series (a History's columns, for example) on ``ax`` in the house style."""
    import numpy as np
    from collections.abc import Mapping

    axes_argument("curves", "ax", ax)
    if not isinstance(series, Mapping):
        raise TypeError(f"curves: series must be a dict name -> values (e.g. {{'loss': [2.0, 1.0]}}); got "
                        f"{type(series).__name__} {series!r}.")
    for key, value in (("title", title), ("xlabel", xlabel), ("ylabel", ylabel)):
        text_argument("curves", key, value)
    flag_argument("curves", "log", log)
    if colors is not None and not isinstance(colors, Mapping):
        raise TypeError(f"curves: colors must be a dict name -> colour or None; got {type(colors).__name__}.")

    for i, (name, values) in enumerate(series.items()):
        values = np.asarray(values, dtype=float)
        xs = np.arange(1, len(values) + 1) if x is None else np.asarray(x)
        color = (colors or {}).get(name) or COLORS.get(name) or PALETTE[i % len(PALETTE)]
        ax.plot(xs, values, label=name, color=color)
    if log:
        ax.set_yscale("log")
    return style_axes(ax, title=title, xlabel=xlabel, ylabel=ylabel, legend=True)
