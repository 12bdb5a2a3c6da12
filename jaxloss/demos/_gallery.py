"""The README gallery: a thumbnail of every demo's main figure, and the Markdown table that shows them.

``python demos/make_gallery.py [--out docs/gallery]`` runs every demo of the gallery, shrinks its main
figure (``<module>.png``) to a thumbnail under ~60 KB (Pillow, which matplotlib brings) and prints the
table; ``jaxloss demo --update-readme README.md`` rewrites the table in the README (the tests check
that it matches :data:`jaxloss.demos.DEMOS`).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Sequence

from jaxloss import _readme, demos

WIDTH = 640
LIMIT = 60_000
FOLDER = "docs/gallery"


def thumbnail(src: str, dst: str, width: int = WIDTH, limit: int = LIMIT) -> str:
    """Writes ``src`` shrunk to ``width`` pixels wide as an optimized palette PNG under ``limit`` bytes."""
    from PIL import Image

    with Image.open(src) as im:
        im = im.convert("RGB")
        w = width
        while True:
            h = round(im.height * w / im.width)
            small = im.resize((w, h), Image.LANCZOS).quantize(colors=96, method=Image.Quantize.MEDIANCUT)
            small.save(dst, optimize=True)
            if os.path.getsize(dst) <= limit or w <= 320:
                return dst
            w = int(w * 0.85)


def markdown(folder: str = FOLDER) -> str:
    """The README gallery table: a thumbnail and the summary of each demo of the gallery."""
    lines = ["| | |", "|---|---|"]
    for name in demos.names(gallery=True):
        demo = demos.DEMOS[name]
        image = f"{folder}/{demo.module}.png"
        lines.append(f"| [![{name}]({image})]({image}) | **`{name}`**: {demo.summary}. |")
    return "\n".join(lines) + "\n"


def readme_with_gallery(text: str) -> str:
    """README text with the gallery table between its markers regenerated."""
    return _readme.replace_section(text, "demos", markdown())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python demos/make_gallery.py", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(*FOLDER.split("/")), help=f"thumbnail folder (default {FOLDER})")
    parser.add_argument("--fast", action="store_true", help="fast demos (for a quick check)")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name in demos.names(gallery=True):
            module = demos.DEMOS[name].module
            result = demos.run(name, tmp, fast=args.fast)
            src = next(p for p in result.figures if os.path.basename(p) == f"{module}.png")
            dst = thumbnail(src, os.path.join(args.out, f"{module}.png"))
            print(f"{dst}: {os.path.getsize(dst) // 1024} KB")
    print()
    print(markdown(args.out.replace(os.sep, "/")), end="")
    return 0
