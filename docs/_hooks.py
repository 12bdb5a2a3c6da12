"""MkDocs hook: the pages generated from jaxloss itself, so nothing is written twice.

At build time (``on_files``) it adds virtual pages: ``reference/losses/<family>.md`` for every family of
``jaxloss._registry.FAMILIES`` (each loss of ``jaxloss.catalog()`` with its formula, hyperparameters and
ranges, properties, reference and docstring example), ``catalog.md`` (one sortable table of every loss)
and ``gallery.md`` (every demo of ``jaxloss.demos.DEMOS`` with its thumbnail ``gallery/<module>.png``).
``on_config`` expands the nav entry ``Losses`` into one entry per family.
"""

from __future__ import annotations

import inspect
import os
import re

os.environ.setdefault("MPLBACKEND", "Agg")


def _title(family: str) -> str:
    return family.replace("_", " ").capitalize()


def on_config(config):
    from jaxloss._registry import FAMILIES

    def expand(items):
        for i, item in enumerate(items):
            if isinstance(item, dict):
                (key, value), = item.items()
                if key == "Losses" and isinstance(value, str):
                    items[i] = {"Losses": [value] + [{_title(f): f"reference/losses/{f}.md"} for f in FAMILIES]}
                elif isinstance(value, list):
                    expand(value)

    expand(config["nav"] or [])
    return config


def _cell(text) -> str:
    """Text for a Markdown table cell: pipes escaped, newlines folded."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _code(text) -> str:
    """Inline code, with a fence longer than any backtick run inside."""
    text = str(text)
    fence = "`" * (max((len(m) for m in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _prose(doc: str) -> str:
    """The docstring's description: the paragraphs before its first section (Args:, Returns:, ...)."""
    lines = []
    for line in doc.splitlines()[1:]:
        if re.match(r"^[A-Z][A-Za-z ]*:\s*$", line) or line.startswith(">>>"):
            break
        lines.append(line)
    text = "\n".join(lines).strip()
    return re.sub(r":(?:func|class|data|attr|meth|mod):`~?([^`]+)`", r"``\1``", text)


def _example(doc: str) -> str:
    """The docstring's doctest (the ``>>>`` lines and their output), or ''."""
    lines = doc.splitlines()
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith(">>>")), None)
    return "" if start is None else "\n".join(lines[start:]).strip()


def _loss_section(entry) -> str:
    doc = inspect.cleandoc(entry.fn.__doc__ or "")
    out = [f"## {entry.name}", ""]
    if entry.aliases:
        out += ["Aliases: " + ", ".join(_code(a) for a in entry.aliases) + "  ", ""]
    out += [f"*{entry.summary}*", ""]
    out += ["```text", entry.formula, "```", ""]
    prose = _prose(doc)
    if prose:
        out += [prose, ""]
    out += ["| about | |", "|---|---|",
            f"| Task | {_code(entry.task.value)} |",
            f"| Inputs | {_cell(entry.inputs.doc)} |",
            f"| Properties | {', '.join(_code(p) for p in sorted(entry.properties)) or 'none claimed'} |",
            f"| Reference | {_cell(entry.reference) or '-'} |",
            f"| optax | {_code('optax.losses.' + entry.optax) if entry.optax else 'no equivalent'} |", ""]
    if entry.hyperparameters:
        out += ["**Hyperparameters**", "", "| name | default | valid range | meaning |", "|---|---|---|---|"]
        for name, h in entry.hyperparameters.items():
            out.append(f"| {_code(name)} | {_code(repr(h.default))} | {_code(h.describe())} | {_cell(h.doc)} |")
        out.append("")
    example = _example(doc)
    if example:
        out += ["**Example**", "", "```pycon", example, "```", ""]
    return "\n".join(out)


def family_page(family: str) -> str:
    import jaxloss

    entries = jaxloss.catalog(family=family)
    head = [f"# {_title(family)} losses", "",
            f"The {len(entries)} loss{'es' if len(entries) != 1 else ''} of the `{family}` family, generated from "
            "the registry (`jaxloss.catalog(family=...)`) and the docstrings. Every property listed is checked "
            "numerically by the test suite. See the [catalog](../../catalog.md) for all losses at once.", ""]
    head += [", ".join(f"[`{e.name}`](#{e.name})" for e in entries), ""]
    return "\n".join(head + [_loss_section(e) for e in entries])


def losses_index() -> str:
    import jaxloss
    from jaxloss._registry import FAMILIES, PROPERTIES

    out = ["# Losses by family", "",
           "Every loss is registered once (`jaxloss._registry.register`); these pages are generated from the "
           "registry at build time. Each loss takes `(predictions, targets)` and the keyword-only options "
           "`weights=`, `where=` and `reduction=`.", "", "| family | losses |", "|---|---|"]
    for family in FAMILIES:
        names = ", ".join(f"[`{e.name}`]({family}.md#{e.name})" for e in jaxloss.catalog(family=family))
        out.append(f"| [{_title(family)}]({family}.md) | {names} |")
    out += ["", "## Properties", "", "| property | meaning |", "|---|---|"]
    out += [f"| `{k}` | {_cell(v)} |" for k, v in PROPERTIES.items()]
    return "\n".join(out) + "\n"


def catalog_page() -> str:
    import jaxloss

    entries = jaxloss.catalog()
    out = ["# Catalog", "",
           f"All {len(entries)} losses, from `jaxloss.catalog()`. Type in the box to filter the rows; click a "
           "column header to sort by it (click again to reverse).", "",
           '<div class="jl-sortable" markdown>', "",
           "| name | family | task | properties | optax | reference |", "|---|---|---|---|---|---|"]
    for e in entries:
        props = ", ".join(sorted(e.properties))
        out.append(f"| [`{e.name}`](reference/losses/{e.family}.md#{e.name}) | {e.family} | {e.task.value} | "
                   f"{props} | {_cell(e.optax or '')} | {_cell(e.reference)} |")
    out += ["", "</div>", ""]
    return "\n".join(out)


def gallery_page() -> str:
    from jaxloss.demos import DEMOS

    out = ["# Gallery", "",
           "Every demo of `jaxloss.demos.DEMOS`: run one with `jaxloss demo NAME` (its figures go to "
           "`./jaxloss-out/`), or all of them with `jaxloss demo all`.", ""]
    for demo in DEMOS.values():
        summary = demo.summary[0].upper() + demo.summary[1:]
        out += [f"## {demo.name}", "",
                f"[![{demo.name}](gallery/{demo.module}.png)](gallery/{demo.module}.png)", "",
                f"{summary}.", "", "```bash", f"jaxloss demo {demo.name}", "```", ""]
    return "\n".join(out)


def on_files(files, config):
    from mkdocs.structure.files import File

    from jaxloss._registry import FAMILIES

    pages = {"catalog.md": catalog_page(), "gallery.md": gallery_page(),
             "reference/losses/index.md": losses_index()}
    pages.update({f"reference/losses/{family}.md": family_page(family) for family in FAMILIES})
    for uri, content in pages.items():
        files.append(File.generated(config, uri, content=content))
    return files
