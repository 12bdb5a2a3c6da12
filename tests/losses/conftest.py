"""The loss tests: the battery's items run loss by loss.

``tests/losses/_battery.py`` keeps one loss's compiled programs at a time; under xdist the
``xdist_group`` marks (``--dist loadgroup``, in pyproject's addopts) send a loss's items to one
worker, and here, for any run, the battery's items are ordered loss by loss (stable otherwise), so
that its programs are compiled once and freed when the next loss starts.
"""

from __future__ import annotations

from pathlib import Path

import pytest


def _group(item: pytest.Item) -> str | None:
    mark = item.get_closest_marker("xdist_group")
    return None if mark is None else str(mark.args[0] if mark.args else mark.kwargs.get("name"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # This hook sees the whole session's items: only the ones of this folder are reordered, so that
    # another module's items (and its module-scoped fixtures, the documentation site) stay together.
    here = Path(__file__).parent
    slots = [i for i, item in enumerate(items) if _group(item) is not None and here in Path(item.path).parents]
    first_seen: dict[str, int] = {}
    for i in slots:
        first_seen.setdefault(_group(items[i]), len(first_seen))  # type: ignore[arg-type]
    ordered = sorted((items[i] for i in slots), key=lambda item: first_seen[_group(item)])  # type: ignore[index]
    for i, item in zip(slots, ordered):
        items[i] = item
