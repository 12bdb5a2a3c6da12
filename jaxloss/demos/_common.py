"""What every demo shares: its result, saving figures, and the script entry point (private)."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from jaxloss import plot


@dataclasses.dataclass
class DemoResult:
    """What a demo produced.

    Attributes:
      name: the demo's name.
      figures: paths of the files written.
      summary: a short plain-language explanation of what the figures show.
      numbers: the key numbers, by name (printed, and checked by the tests).
      data: the arrays behind the figures (checked by the tests), by name.
      seconds: wall time of the run.
    """

    name: str
    figures: list[str]
    summary: str
    numbers: dict[str, Any] = dataclasses.field(default_factory=dict)
    data: dict[str, Any] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0

    def report(self) -> str:
        """The text the command line prints: the explanation, the numbers and the files."""
        lines = [f"== {self.name} ==", self.summary.strip(), ""]
        for key, value in self.numbers.items():
            lines.append(f"  {key}: {_fmt(value)}")
        lines.append("  wrote: " + ", ".join(self.figures))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


class Timer:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start


def finish(figs: dict[str, Any], out_dir: str | os.PathLike[str], *, formats: Sequence[str], show: bool) -> list[str]:
    """Saves each figure as ``out_dir/<stem>.<fmt>``; shows them if asked; closes them."""
    written: list[str] = []
    for stem, fig in figs.items():
        written += plot.save(fig, os.path.join(os.fspath(out_dir), stem), formats=formats)
    if show:
        plot._pyplot().show()
    for fig in figs.values():
        plot.close(fig)
    return written


def parser_for(name: str) -> argparse.ArgumentParser:
    """The command line of ``python demos/<module>.py`` with the options every demo takes."""
    from jaxloss import demos

    demo = demos.DEMOS[name]
    parser = argparse.ArgumentParser(prog=f"demos/{demo.module}.py",
                                     description=f"jaxloss demo {name}: {demo.summary}.")
    add_options(parser)
    return parser


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="jaxloss-out", help="folder for the figures (default ./jaxloss-out/)")
    parser.add_argument("--format", action="append", choices=("png", "svg", "pdf"),
                        help="file format; repeat for several (default png)")
    parser.add_argument("--show", action="store_true", help="also open the figures in windows")
    parser.add_argument("--fast", action="store_true", help="few steps: a quick check that it runs")


def script_main(name: str, argv: Sequence[str] | None = None) -> int:
    """A demo's ``main(argv)``: ``python demos/<module>.py`` and ``jaxloss demo NAME --opt`` land here."""
    from jaxloss import demos

    module = demos.get(name)
    args = parser_for(name).parse_args(argv)
    result = module.run(args.out, fast=args.fast, formats=tuple(args.format or ("png",)), show=args.show)
    print(result.report())
    sys.stdout.flush()
    return 0


def line_model(params: Any, inputs: Any) -> Any:
    """``w * x + b``: the two-parameter model several demos fit."""
    return params["w"] * inputs + params["b"]


def mlp_init(key: Any, sizes: Sequence[int], dtype: Any = None) -> list[dict[str, Any]]:
    """Parameters of a small tanh MLP with layer ``sizes`` (Glorot-scaled normal weights)."""
    import jax
    import jax.numpy as jnp

    dtype = dtype or jnp.float32
    params = []
    for k, (m, n) in zip(jax.random.split(key, len(sizes) - 1), zip(sizes[:-1], sizes[1:])):
        params.append({"w": jax.random.normal(k, (m, n), dtype) * (2.0 / (m + n)) ** 0.5, "b": jnp.zeros((n,), dtype)})
    return params


def mlp(params: list[dict[str, Any]], inputs: Any) -> Any:
    """The MLP of :func:`mlp_init`; the output layer is linear (a trailing axis of 1 is dropped)."""
    import jax.numpy as jnp

    h = inputs
    for i, layer in enumerate(params):
        h = h @ layer["w"] + layer["b"][None, :]
        if i < len(params) - 1:
            h = jnp.tanh(h)
    return h[..., 0] if h.shape[-1] == 1 else h
