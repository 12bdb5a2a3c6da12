"""The interactive loss playground: sliders for the prediction, the target and each loss's options.

``jaxloss.playground()`` (or ``jaxloss playground`` on the command line) opens a matplotlib window:
tick the losses to compare, move the prediction and the target, and move each loss's hyperparameters
(Huber's ``delta``, the quantile's ``tau``, ...; the slider ranges come from the registry's
``Hyperparameter.slider``). Each loss and its gradient are redrawn live, the current point is marked
and its numbers are shown. The state saves to and loads from a small JSON file, so a setting can be
shared. Without a display it says so and saves a static figure instead.

>>> from jaxloss.playground import Playground
>>> pg = Playground(["mse", "huber"], prediction=2.0, target=0.0)
>>> pg.sliders["prediction"].set_val(3.0)
>>> round(pg.numbers()["mean_squared_error"][0], 3)
9.0
>>> pg.close()
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from jaxloss import _json_state, _kinds, _registry, plot

__all__ = ["Playground", "PlaygroundState", "playground", "DEFAULT_LOSSES"]

#: Offered when no losses are named: the regression losses with a one-number error.
DEFAULT_LOSSES = ("mean_squared_error", "mean_absolute_error", "huber", "log_cosh", "quantile", "smooth_l1")
#: The input kinds of losses of one prediction and one target, which the playground can draw.
ELEMENTWISE = (_kinds.REGRESSION, _kinds.NONNEGATIVE_REGRESSION, _kinds.POSITIVE_REGRESSION, _kinds.COUNT_REGRESSION)
X_RANGE = (-5.0, 5.0)


@dataclasses.dataclass
class PlaygroundState:
    """What the playground shows: the losses ticked, the point, and each loss's options."""

    losses: list[str]
    prediction: float = 1.5
    target: float = 0.0
    options: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)
    offered: list[str] = dataclasses.field(default_factory=list)

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        return _json_state.dump(self, path)

    @classmethod
    def from_json(cls, text_or_path: str | os.PathLike[str]) -> PlaygroundState:
        raw = _json_state.load(cls, text_or_path, what="playground state")
        if "losses" not in raw:
            raise ValueError("playground state: no 'losses' key; not a playground state.")
        return cls(**raw)


class Playground:
    """The playground figure and its widgets (usable on any backend, including Agg in tests).

    Attributes:
      fig: the matplotlib Figure.
      sliders: ``"prediction"``, ``"target"`` and ``"<loss>.<option>"`` -> ``matplotlib.widgets.Slider``.
      checks: the ``CheckButtons`` that choose the losses shown.
      value_lines, grad_lines: loss name -> the ``Line2D`` of its value and of its gradient.
      markers: loss name -> the ``Line2D`` marking the current point on the value curve.
    """

    def __init__(self, losses: Sequence[str] | None = None, *, prediction: float | None = None,
                 target: float | None = None, state: PlaygroundState | None = None,
                 save_to: str | os.PathLike[str] | None = None, resolution: int = 241) -> None:
        from matplotlib.widgets import Button, CheckButtons, Slider

        offered = list(state.offered or state.losses) if state is not None else list(losses or DEFAULT_LOSSES)
        self.entries = {e.name: e for e in (_registry.info(n) for n in offered)}
        for entry in self.entries.values():
            if not any(entry.inputs is k for k in ELEMENTWISE):
                raise ValueError(f"playground: {entry.name} takes {entry.inputs.name!r} inputs; the playground shows "
                                 f"losses of one prediction and one target ({', '.join(k.name for k in ELEMENTWISE)}).")
        state = state or PlaygroundState(losses=list(self.entries)[:3] if losses is None else list(self.entries))
        shown = [_registry.info(n).name for n in state.losses]
        self.save_to = os.fspath(save_to) if save_to else "jaxloss-playground.json"
        self.x = np.linspace(*X_RANGE, resolution)
        self.error = ""

        n_options = sum(1 for e in self.entries.values() for h in e.hyperparameters.values() if _slidable(h))
        area_rows = max(2 + n_options, len(self.entries))
        height = 5.0 + 0.32 * area_rows
        fig, grid = plot.new_figure(1, 2, width=12.5, height=height)
        self.fig = fig
        bottom = (0.1 + 0.32 * area_rows + 0.75) / height
        fig.subplots_adjust(left=0.07, right=0.98, top=0.9, bottom=bottom, wspace=0.25)
        self.ax_value, self.ax_grad = grid[0]
        self.value_lines, self.grad_lines, self.markers, self.grad_markers = {}, {}, {}, {}
        for i, name in enumerate(self.entries):
            color = plot.PALETTE[i % len(plot.PALETTE)]
            (self.value_lines[name],) = self.ax_value.plot([], [], color=color, label=name)
            (self.grad_lines[name],) = self.ax_grad.plot([], [], color=color, label=name)
            (self.markers[name],) = self.ax_value.plot([], [], "o", color=color, markersize=8, markeredgecolor="black")
            (self.grad_markers[name],) = self.ax_grad.plot([], [], "o", color=color, markersize=8,
                                                           markeredgecolor="black")
        self.target_line = self.ax_value.axvline(0.0, color="black", linestyle=":", linewidth=1.2)
        self.prediction_line = self.ax_grad.axvline(0.0, color="black", linestyle=":", linewidth=1.2)
        self.ax_grad.axhline(0.0, color=plot.COLORS["data"], linewidth=0.8)
        plot.style_axes(self.ax_value, title="Loss", xlabel="prediction", ylabel="loss")
        plot.style_axes(self.ax_grad, title="Gradient d loss / d prediction", xlabel="prediction", ylabel="gradient")
        self.text = fig.text(0.5, 0.955, "", ha="center", va="center", fontsize=10, family="monospace")

        # Widgets: one slider per row on the left, the loss checkboxes and buttons on the right.
        row_h = 0.32 / height
        self.sliders: dict[str, Any] = {}
        rows = [("prediction", "prediction", X_RANGE, state.prediction if prediction is None else prediction),
                ("target", "target", (-3.0, 3.0), state.target if target is None else target)]
        for name, entry in self.entries.items():
            for key, h in entry.hyperparameters.items():
                if _slidable(h):
                    value = state.options.get(name, {}).get(key, h.default)
                    rows.append((f"{name}.{key}", f"{_short(name)} {key}", h.slider, value))
        for i, (key, label, (lo, hi), value) in enumerate(rows):
            ax = fig.add_axes([0.2, 0.03 + (len(rows) - 1 - i) * row_h, 0.38, row_h * 0.7])
            slider = Slider(ax, label, lo, hi, valinit=float(np.clip(value, lo, hi)), color=plot.PALETTE[5])
            slider.label.set_fontsize(9.5)
            slider.on_changed(lambda _v: self.redraw())
            self.sliders[key] = slider
        check_ax = fig.add_axes([0.66, 0.03, 0.2, row_h * area_rows])
        check_ax.set_title("losses shown", fontsize=10)
        self.checks = CheckButtons(check_ax, list(self.entries), [n in shown for n in self.entries])
        self.checks.on_clicked(lambda _label: self.redraw())
        save_ax = fig.add_axes([0.88, 0.03 + row_h * 1.2, 0.09, row_h * 0.9])
        load_ax = fig.add_axes([0.88, 0.03, 0.09, row_h * 0.9])
        self.save_button, self.load_button = Button(save_ax, "save"), Button(load_ax, "load")
        self.save_button.on_clicked(lambda _e: self.save(self.save_to))
        self.load_button.on_clicked(lambda _e: self.load(self.save_to) if os.path.exists(self.save_to) else None)
        self._keep = (Slider, CheckButtons)  # widgets stay alive as long as the playground
        self.redraw()

    # -- state -------------------------------------------------------------------------------------

    def selected(self) -> list[str]:
        """The losses ticked."""
        return [name for name, on in zip(self.entries, self.checks.get_status()) if on]

    def options(self, name: str) -> dict[str, float]:
        """The current hyperparameters of loss ``name`` (from its sliders)."""
        return {key.split(".", 1)[1]: float(s.val) for key, s in self.sliders.items() if key.startswith(name + ".")}

    @property
    def state(self) -> PlaygroundState:
        return PlaygroundState(losses=self.selected(), prediction=float(self.sliders["prediction"].val),
                               target=float(self.sliders["target"].val),
                               options={n: self.options(n) for n in self.entries if self.options(n)},
                               offered=list(self.entries))

    def save(self, path: str | os.PathLike[str]) -> str:
        """Writes the state as JSON; returns the path."""
        self.state.to_json(path)
        return os.fspath(path)

    def load(self, path_or_state: str | os.PathLike[str] | PlaygroundState) -> None:
        """Sets the sliders and checkboxes from a saved state (losses not offered here are ignored)."""
        st = path_or_state if isinstance(path_or_state, PlaygroundState) else PlaygroundState.from_json(path_or_state)
        wanted = {_registry.info(n).name for n in st.losses}
        for i, name in enumerate(self.entries):
            if (name in wanted) != self.checks.get_status()[i]:
                self.checks.set_active(i)
        self.sliders["prediction"].set_val(st.prediction)
        self.sliders["target"].set_val(st.target)
        for name, opts in st.options.items():
            for key, value in opts.items():
                slider = self.sliders.get(f"{_registry.info(name).name}.{key}")
                if slider is not None:
                    slider.set_val(value)

    # -- drawing -----------------------------------------------------------------------------------

    def numbers(self) -> dict[str, tuple[float, float]]:
        """Loss name -> (value, gradient) at the current prediction and target, for the losses shown."""
        p, t = float(self.sliders["prediction"].val), float(self.sliders["target"].val)
        out = {}
        for name in self.selected():
            _, v, g = plot.error_curve(self.entries[name].fn, [p - t], target=t, **self.options(name))
            out[name] = (float(v[0]), float(g[0]))
        return out

    def redraw(self) -> None:
        """Recomputes every curve and the marked point from the widgets."""
        p, t = float(self.sliders["prediction"].val), float(self.sliders["target"].val)
        shown = set(self.selected())
        lines = []
        self.error = ""
        top = 1.0
        for name, entry in self.entries.items():
            visible = name in shown
            for artist in (self.value_lines[name], self.grad_lines[name], self.markers[name], self.grad_markers[name]):
                artist.set_visible(visible)
            if not visible:
                continue
            try:
                _, v, g = plot.error_curve(entry.fn, self.x - t, target=t, **self.options(name))
                _, pv, pg = plot.error_curve(entry.fn, [p - t], target=t, **self.options(name))
            except (ValueError, TypeError) as err:  # e.g. a target outside the loss's domain
                self.error = str(err).splitlines()[0][:90]
                v = g = np.full_like(self.x, np.nan)
                pv = pg = np.array([np.nan])
            self.value_lines[name].set_data(self.x, v)
            self.grad_lines[name].set_data(self.x, g)
            self.markers[name].set_data([p], [pv[0]])
            self.grad_markers[name].set_data([p], [pg[0]])
            near = np.abs(self.x - t) <= 3.5
            if np.any(np.isfinite(v[near])):
                top = max(top, float(np.nanmax(v[near])))
            lines.append(f"{_short(name)}: loss {pv[0]:.3g}, grad {pg[0]:+.3g}")
        self.target_line.set_xdata([t, t])
        self.prediction_line.set_xdata([p, p])
        self.ax_value.set_xlim(*X_RANGE)
        self.ax_grad.set_xlim(*X_RANGE)
        self.ax_value.set_ylim(-0.05 * top, top * 1.05)
        self.ax_grad.relim()
        self.ax_grad.autoscale_view(scalex=False)
        handles = [self.value_lines[n] for n in self.entries if n in shown]
        self.ax_value.legend(handles, [h.get_label() for h in handles], loc="upper center", fontsize=9)
        self.text.set_text(f"prediction {p:.2f}, target {t:.2f}   |   " + "   ".join(lines) +
                           (f"\n{self.error}" if self.error else ""))
        self.fig.canvas.draw_idle()

    def close(self) -> None:
        plot.close(self.fig)


def _slidable(h: _registry.Hyperparameter) -> bool:
    return h.slider is not None and isinstance(h.default, (int, float)) and not isinstance(h.default, bool)


def _short(name: str) -> str:
    return {"mean_squared_error": "MSE", "mean_absolute_error": "MAE"}.get(name, name)


def _interactive() -> bool:
    import matplotlib

    plot._pyplot()  # chooses Agg on a headless machine
    backend = matplotlib.get_backend().lower()
    return backend not in ("agg", "pdf", "svg", "ps", "cairo", "template") and "inline" not in backend


def playground(losses: Sequence[str] | None = None, *, prediction: float | None = None, target: float | None = None,
               load: str | os.PathLike[str] | None = None, save_to: str | os.PathLike[str] | None = None,
               out: str | os.PathLike[str] = "jaxloss-out/playground.png", show: bool = True) -> Playground:
    """Opens the playground (see the module docstring); returns the :class:`Playground`.

    ``losses``: names or aliases of element-wise losses (default :data:`DEFAULT_LOSSES`, three ticked);
    ``load``: a JSON state to start from; ``save_to``: where the save button (and, headless, the
    state) is written. Without an interactive backend (no display) it prints that, saves a static
    figure to ``out`` and returns.

    >>> import jaxloss as jl
    >>> pg = jl.playground(["huber"], prediction=2.0, show=False, out="/tmp/jaxloss-playground.png")
    >>> pg.sliders["huber.delta"].set_val(0.5)
    >>> pg.numbers()["huber"]
    (0.875, 0.5)
    >>> pg.close()
    """
    state = PlaygroundState.from_json(load) if load else None
    pg = Playground(losses if state is None else None, prediction=prediction, target=target, state=state,
                    save_to=save_to)
    if show and _interactive():
        plot._pyplot().show()
        return pg
    written = plot.save(pg.fig, out)
    if show:
        print(f"playground: no interactive display here (matplotlib backend {_backend()!r}); "
              f"saved a static figure to {written[0]}. Run it on a desktop or in Jupyter (%matplotlib widget) "
              "to move the sliders.")
    if save_to:
        pg.save(save_to)
    return pg


def _backend() -> str:
    import matplotlib

    return matplotlib.get_backend()


def __dir__() -> list[str]:  # the public API only (not the modules this one imports)
    return sorted(__all__)
