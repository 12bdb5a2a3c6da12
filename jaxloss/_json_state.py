"""Saving a small settings dataclass to JSON and reading it back (private).

Used by the playground's states and the 2-D experiment's settings, so that a setting can be shared as
a file and reproduced exactly. :func:`parse` reads text only (what a web page sends); :func:`load`
also reads a file, for callers on this machine.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any


def dump(settings: Any, path: str | os.PathLike[str] | None = None) -> str:
    """The dataclass as indented JSON; also written to ``path`` when given."""
    text = json.dumps(dataclasses.asdict(settings), indent=2)
    if path is not None:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    return text


def parse(cls: type, text: str, *, what: str) -> dict[str, Any]:
    """The fields of ``cls`` read from JSON text (never a path); malformed JSON or unknown keys raise ``ValueError``."""
    known = [f.name for f in dataclasses.fields(cls)]
    try:
        raw = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as err:
        raise ValueError(f"{what}: not valid JSON ({err}); expected an object with keys {known}.") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{what}: expected a JSON object with keys {known}; got {type(raw).__name__}.")
    unknown = set(raw) - set(known)
    if unknown:
        raise ValueError(f"{what}: unknown keys {sorted(unknown)}; known: {known}.")
    return raw


def load(cls: type, text_or_path: str | os.PathLike[str], *, what: str) -> dict[str, Any]:
    """Like :func:`parse`, from JSON text or from a file (anything not starting with ``{`` is a path)."""
    text = os.fspath(text_or_path)
    if not text.lstrip().startswith("{"):
        with open(text, encoding="utf-8") as f:
            text = f.read()
    return parse(cls, text, what=what)
