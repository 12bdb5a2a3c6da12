"""MkDocs hook: the pages generated from jaxloss itself, so nothing is written twice.

At build time (``on_files``) it adds virtual pages: ``reference/losses/<family>.md`` for every family of
``jaxloss._registry.FAMILIES`` (each loss of ``jaxloss.catalog()`` with its formula, hyperparameters and
ranges, properties, reference and docstring example), ``catalog.md`` (one sortable table of every loss)
and ``gallery.md`` (every demo of ``jaxloss.demos.DEMOS`` with its thumbnail ``gallery/<module>.png``).
``on_config`` expands the nav entry ``Losses`` into one entry per family. ``on_page_markdown`` renders
the math of every page (``$$ ... $$`` displayed, ``\\( ... \\)`` inline; never inside code) to MathML
with latex2mathml, so the formulas are drawn by the browser itself: no script, and the site works offline.
"""

from __future__ import annotations

import html
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


_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})")
_MATH = re.compile(r"\$\$(.+?)\$\$|\\\((.+?)\\\)", re.S)
_CODE_SPAN = re.compile(r"(`+)(?:.+?)\1", re.S)


def mathml(latex: str, *, display: bool) -> str:
    """MathML for a LaTeX formula, safe to leave in Markdown (no ``_``, ``*`` or backtick for it to read)."""
    import latex2mathml.converter

    out = latex2mathml.converter.convert(latex.strip(), display="block" if display else "inline")
    unknown = re.findall(r"\\[A-Za-z]+", out)   # latex2mathml passes a command it does not know through
    if unknown:
        raise ValueError(f"the formula {latex!r} uses LaTeX commands latex2mathml does not render: {unknown}")
    alt = html.escape(" ".join(latex.split()), quote=True)
    out = out.replace("<math ", f'<math alttext="{alt}" ', 1)
    for char in "_*`[]":   # nothing for Markdown to read as emphasis, code or a link
        out = out.replace(char, f"&#x{ord(char):X};")
    return out


def _render_math(text: str) -> str:
    def one(match: re.Match) -> str:
        display, inline = match.groups()
        if display is not None:
            return f'\n\n<div class="jl-math">{mathml(display, display=True)}</div>\n\n'
        return mathml(inline, display=False)

    def outside_code(chunk: str) -> str:   # the chunk between code spans
        pieces, last = [], 0
        for span in _CODE_SPAN.finditer(chunk):
            pieces += [_MATH.sub(one, chunk[last:span.start()]), span.group(0)]
            last = span.end()
        return "".join(pieces + [_MATH.sub(one, chunk[last:])])

    out, prose, fence = [], [], None
    for line in text.splitlines(keepends=True):
        opened = _FENCE.match(line)
        if fence is None and opened:
            out.append(outside_code("".join(prose)))
            prose, fence = [], opened.group(2)
            out.append(line)
        elif fence is not None:
            out.append(line)
            if line.strip().startswith(fence) and line.strip().strip(fence[0]) == "":
                fence = None
        else:
            prose.append(line)
    return "".join(out) + outside_code("".join(prose))


def on_page_markdown(markdown, page, config, files):
    return _render_math(markdown)


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
    out += [f"$$ {entry.latex} $$", "", "In plain text: " + _code(entry.formula), ""]
    prose = _prose(doc)
    if prose:
        out += [prose, ""]
    out += ["| about | |", "|---|---|",
            f"| Task | {_code(entry.task.value)} |",
            f"| Inputs | {_cell(entry.inputs.doc)} |",
            f"| Properties | {', '.join(_code(p) for p in sorted(entry.properties)) or 'none claimed'} |",
            f"| Reference | {_cell(entry.reference) or '-'} |",
            *(f"| {library} | {_code(name) if name else 'no equivalent'} |"
              for library, name in entry.equivalents().items()),
            ""]
    if entry.hyperparameters:
        out += ["**Hyperparameters**", "", "| name | default | valid range | meaning |", "|---|---|---|---|"]
        for name, h in entry.hyperparameters.items():
            out.append(f"| {_code(name)} | {_code(repr(h.default))} | {_code(h.describe())} | {_cell(h.doc)} |")
        out.append("")
    example = _example(doc)
    if example:
        out += ["**Example**", "", "```pycon", example, "```", ""]
    return "\n".join(out)


def _short(name: str | None) -> str:
    """An equivalent's name without its library's usual module (``torch.nn.HuberLoss`` -> ``HuberLoss``)."""
    for prefix in ("optax.losses.", "torch.nn.", "keras.losses."):
        if name and name.startswith(prefix):
            return name[len(prefix):]
    return name or ""


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
    out = ["---", "hide:", "  - navigation", "  - toc", "---", "", "# Catalog", "",
           f"All {len(entries)} losses, from `jaxloss.catalog()`. Type in the box to filter the rows; click a "
           "column header to sort by it (click again to reverse).", "",
           '<div class="jl-sortable" markdown>', "",
           "| name | family | task | properties | optax | PyTorch | Keras |", "|---|---|---|---|---|---|---|"]
    for e in entries:
        props = ", ".join(sorted(e.properties))
        # a long name may break after an underscore or a dot, or before a capital (<wbr>), never inside a word
        names = " | ".join(re.sub(r"([_.])|(?<=[a-z])(?=[A-Z])", r"\1<wbr>", _cell(_short(name)))
                           for name in e.equivalents().values())
        out.append(f"| [`{e.name}`](reference/losses/{e.family}.md#{e.name}) | {e.family} | {e.task.value} | "
                   f"{props} | {names} |")
    out += ["", "</div>", "",
            "An equivalent has the same per-example math for some choice of its options; its conventions (units, "
            "reduction, whether it takes logits) may differ, and the loss's page says how. Each loss's page names the "
            "module (`optax.losses`, `torch.nn`, `keras.losses`) and its reference.", ""]
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
