"""Figures for the tutorials, drawn by the demos while the site is built (imported by their code blocks).

``demo_figure(name, alt)`` runs ``jaxloss.demos`` demo ``name`` (its fast version) into a temporary
folder and returns its main figure as an ``<img>`` with the PNG inline (the code block prints it:
markdown-exec captures the block's own ``print``), so a tutorial's pictures come from the library's
code of the day, not from files committed earlier.
"""

from __future__ import annotations

import base64
import html
import tempfile

from jaxloss import demos


def demo_figure(name: str, alt: str) -> str:
    with tempfile.TemporaryDirectory() as folder:
        result = demos.run(name, folder, fast=True)
        png = next(path for path in result.figures if path.endswith(".png"))
        with open(png, "rb") as f:
            data = base64.b64encode(f.read()).decode("ascii")
    return (f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(alt)} (drawn by <code>jaxloss demo {name}</code> while this page was built)"
            "</figcaption></figure>")
