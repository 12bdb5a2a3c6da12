"""The ``jaxloss`` command line.

Each command lives in its own private module exposing ``add_parser(subparsers)``,
which registers the command and sets ``func`` on its parser; this file only
assembles them, so ``jaxloss --help`` lists every command.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

# Modules that contribute commands, in the order ``--help`` lists them.
COMMAND_MODULES = (
    "jaxloss._cli_catalog",
    "jaxloss._cli_inspect",
    "jaxloss._cli_demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jaxloss",
        description="jaxloss: loss functions in JAX. Explore the catalog, inspect gradients, run the demos.",
        epilog="The benchmark suite lives in the source repository: `python -m benchmarks` there.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "takes_extra", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    try:
        return int((args.func(args, extra) if getattr(args, "takes_extra", False) else args.func(args)) or 0)
    except (KeyError, ValueError, TypeError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        print(f"jaxloss {args.command}: {message}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`jaxloss list | head`): stop quietly, as Unix tools do. Python would
        # otherwise print a traceback when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
