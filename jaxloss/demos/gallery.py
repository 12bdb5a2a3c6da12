"""The README gallery: small thumbnails of every demo's main figure, and the Markdown that shows them.

``python -m jaxloss.demos.gallery [--out docs/gallery]`` runs every demo, shrinks its main figure to a
thumbnail under ~60 KB (Pillow, which matplotlib brings) and prints the gallery Markdown.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Sequence

from jaxloss import demos

#: Demo -> the figure (file stem) used as its thumbnail.
MAIN_FIGURE = {"landscape": "landscape", "playground-2d": "playground_2d"}
WIDTH = 640
LIMIT = 60_000


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


def markdown(folder: str = "docs/gallery") -> str:
    """The README gallery section: a thumbnail and one sentence per demo."""
    lines = ["| | |", "|---|---|"]
    for name in demos.names():
        stem = name.replace("-", "_")
        blurb = demos.get(name).BLURB
        lines.append(f"| [![{name}]({folder}/{stem}.png)]({folder}/{stem}.png) | **`{name}`**: {blurb[0].upper()}"
                     f"{blurb[1:]}. |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jaxloss.demos.gallery", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join("docs", "gallery"))
    parser.add_argument("--fast", action="store_true", help="fast demos (for a quick check)")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name in demos.names():
            result = demos.run(name, tmp, fast=args.fast)
            stem = MAIN_FIGURE.get(name, name.replace("-", "_"))
            src = next(p for p in result.figures if os.path.basename(p) == f"{stem}.png")
            dst = thumbnail(src, os.path.join(args.out, name.replace("-", "_") + ".png"))
            print(f"{dst}: {os.path.getsize(dst) // 1024} KB")
    print()
    print(markdown(args.out.replace(os.sep, "/")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
