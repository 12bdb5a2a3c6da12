"""``jaxloss bench``: runs the benchmark suite of a source checkout (``python -m benchmarks``)."""

from __future__ import annotations

import argparse
import pathlib
import sys
from typing import Any


def _run(args: Any) -> int:
    root = pathlib.Path(__file__).resolve().parents[1]
    if not (root / "benchmarks" / "__main__.py").exists():
        print("jaxloss bench: the benchmarks ship with the source repository, not the installed package; "
              "clone it and run `python -m benchmarks` there.", file=sys.stderr)
        return 2
    sys.path.insert(0, str(root))
    from benchmarks.__main__ import main

    forwarded = (["--quick"] if args.quick else []) + [x for s in args.suite or [] for x in ("--suite", s)]
    return main(forwarded)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("bench", help="run the benchmark suite (python -m benchmarks)")
    p.add_argument("--quick", action="store_true", help="a small version, under a minute")
    p.add_argument("--suite", action="append", help="run only this suite (repeatable)")
    p.set_defaults(func=_run)
