"""Regenerating a section of README.md between two marker comments (private).

The README's catalog table (``jaxloss list --update-readme``) and demo gallery
(``jaxloss demo --update-readme``) are written by the code that lists them, between
``<!-- name:start -->`` and ``<!-- name:end -->``.
"""

from __future__ import annotations


def markers(name: str) -> tuple[str, str]:
    """The start and end markers of section ``name``."""
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def replace_section(text: str, name: str, body: str) -> str:
    """``text`` with what stands between the markers of section ``name`` replaced by ``body``.

    Raises:
      ValueError: ``text`` lacks the markers.
    """
    start, end = markers(name)
    if start not in text or end not in text:
        raise ValueError(f"README has no {start} ... {end} markers")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{body}{end}{tail}"
