"""The ``jaxloss`` command line.

Each command lives in its own private module exposing ``add_parser(subparsers)``,
which registers the command and sets ``func`` on its parser; this file only
assembles them, so ``jaxloss --help`` lists every command.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Modules that contribute commands, in the order ``--help`` lists them.
COMMAND_MODULES = (
    "jaxloss._cli_catalog",
    "jaxloss._cli_bench",
    "jaxloss._cli_inspect",
    "jaxloss._cli_demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jaxloss",
        description="jaxloss: loss functions in JAX. Explore the catalog, inspect gradients, run the demos.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except (KeyError, ValueError, TypeError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        print(f"jaxloss {args.command}: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
