"""Regenerates the README gallery thumbnails in docs/gallery/ (run from the repository root).

    python demos/make_gallery.py
"""

from jaxloss.demos import gallery

if __name__ == "__main__":
    raise SystemExit(gallery.main())
