"""Regenerates the README gallery thumbnails in docs/gallery/ (run from the repository root).

    python demos/make_gallery.py

The demos it runs and the text under each thumbnail come from ``jaxloss.demos.DEMOS``; after adding
a demo, ``jaxloss demo --update-readme README.md`` rewrites the README's table.
"""

from jaxloss.demos import _gallery

if __name__ == "__main__":
    raise SystemExit(_gallery.main())
