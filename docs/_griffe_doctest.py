"""Griffe extension for the docs: jaxloss's docstrings end with bare doctests (``>>>`` lines and their
output, as ``pytest --doctest-modules`` runs them). Markdown would read their brackets as links, so each
run of doctest lines is wrapped in a ``pycon`` code fence before mkdocstrings renders the docstring, and
Sphinx roles (``:func:`x` ``) become inline code."""

from __future__ import annotations

import re

import griffe


def fence_doctests(text: str) -> str:
    lines, out, i = text.splitlines(), [], 0
    in_fence = False
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        if in_fence or not line.lstrip().startswith(">>>"):
            out.append(line)
            i += 1
            continue
        indent = re.match(r"\s*", line).group(0)
        block = []
        while i < len(lines) and lines[i].strip():
            block.append(lines[i])
            i += 1
        out += ([""] if out and out[-1].strip() else []) + [indent + "```pycon"] + block + [indent + "```", ""]
    return "\n".join(out)


class FenceDoctests(griffe.Extension):
    def on_object(self, *, obj, **kwargs) -> None:
        if obj.docstring is not None:
            text = re.sub(r":(?:func|class|data|attr|meth|mod|obj):`~?([^`]+)`", r"``\1``", obj.docstring.value)
            obj.docstring.value = fence_doctests(text) if ">>>" in text else text
