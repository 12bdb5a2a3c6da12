"""``jaxloss list``: the catalog with each loss's family, options and properties."""

from __future__ import annotations

import argparse
from typing import Any

from jaxloss import _readme, _registry


def catalog_rows(family: str | None = None) -> list[dict[str, str]]:
    """One row per registered loss, as shown by ``jaxloss list`` and README.md."""
    rows = []
    for entry in _registry.catalog(family=family):
        options = ", ".join(
            f"{k}={h.default}" if h.default is not None else k for k, h in entry.hyperparameters.items()
        )
        rows.append({
            "name": entry.name,
            "aliases": ", ".join(entry.aliases),
            "family": entry.family,
            "task": entry.task,
            "options": options,
            "properties": ", ".join(sorted(entry.properties)),
            "formula": entry.formula,
            "summary": entry.summary,
        })
    return rows


def markdown_table(family: str | None = None) -> str:
    """The catalog as Markdown, grouped by family (the table in README.md)."""
    out = []
    rows = catalog_rows(family)
    families = list(dict.fromkeys(r["family"] for r in rows))
    for fam in families:
        out.append(f"**{fam}**\n")
        out.append("| loss | aliases | options | formula | properties | use it when |")
        out.append("|---|---|---|---|---|---|")
        for r in rows:
            if r["family"] == fam:
                cells = [f"`{r['name']}`", r["aliases"], r["options"], f"`{r['formula']}`", r["properties"], r["summary"]]
                out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"




def readme_with_catalog(text: str) -> str:
    """README text with the catalog table between its markers regenerated."""
    return _readme.replace_section(text, "catalog", markdown_table())


def _run(args: Any) -> int:
    if args.update_readme:
        with open(args.update_readme, encoding="utf-8") as f:
            text = f.read()
        with open(args.update_readme, "w", encoding="utf-8") as f:
            f.write(readme_with_catalog(text))
        print(f"updated the catalog in {args.update_readme}")
        return 0
    rows = catalog_rows(args.family)
    if args.markdown:
        print(markdown_table(args.family), end="")
        return 0
    width = max(len(r["name"]) for r in rows)
    fam_width = max(len(r["family"]) for r in rows)
    for r in rows:
        alias = f" ({r['aliases']})" if r["aliases"] else ""
        print(f"{r['name']:<{width}}  {r['family']:<{fam_width}}  {r['formula']}{alias}")
        if args.verbose:
            print(f"{'':<{width}}  options: {r['options'] or '-'}; properties: {r['properties'] or '-'}")
            print(f"{'':<{width}}  use it when: {r['summary']}")
    print(f"\n{len(rows)} losses. `jaxloss list -v` shows options and properties.")
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("list", help="print the loss catalog with its properties")
    p.add_argument("--family", help="only this family (regression, classification, ...)")
    p.add_argument("-v", "--verbose", action="store_true", help="show options, properties and when to use each")
    p.add_argument("--markdown", action="store_true", help="print the Markdown table used in README.md")
    p.add_argument("--update-readme", metavar="PATH", help="rewrite the catalog table in this README")
    p.set_defaults(func=_run)
