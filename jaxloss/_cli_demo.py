"""``jaxloss demo`` (the gallery) and ``jaxloss playground`` (the interactive loss explorer).

The demos come from ``jaxloss.demos.DEMOS``, the one list of them.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import time
from typing import Any


def _list() -> int:
    from jaxloss import demos

    width = max(len(n) for n in demos.DEMOS)
    print("Demos (run one with `jaxloss demo NAME`, all with `jaxloss demo all`):\n")
    for demo in demos.DEMOS.values():
        note = "" if demo.in_gallery else " (not in `all`)"
        print(textwrap.fill(demo.summary + note, width=100, initial_indent=f"  {demo.name:<{width}}  ",
                            subsequent_indent=" " * (width + 4)))
    return 0


def _update_readme(path: str) -> int:
    from jaxloss.demos import _gallery

    with open(path, encoding="utf-8") as f:
        text = f.read()
    with open(path, "w", encoding="utf-8") as f:
        f.write(_gallery.readme_with_gallery(text))
    print(f"updated the demo gallery in {path}")
    return 0


def _run_demo(args: Any, extra: list[str]) -> int:
    if args.update_readme:
        if args.name or extra:
            raise ValueError("--update-readme rewrites the gallery table; it takes no demo name or options.")
        return _update_readme(args.update_readme)
    if not args.name:
        if extra:
            raise ValueError(f"options {' '.join(extra)} belong to one demo; name it, e.g. "
                             "`jaxloss demo playground-2d --dataset spiral`.")
        return _list()
    from jaxloss import demos

    if extra:  # a demo's own options (playground-2d's --dataset, --loss, ...): its own command line
        if len(args.name) != 1 or args.name == ["all"]:
            raise ValueError(f"unrecognized arguments {' '.join(extra)}: a demo's own options go with one demo, "
                             "e.g. `jaxloss demo playground-2d --dataset spiral`.")
        module = demos.get(args.name[0])
        common = ["--out", args.out] + [x for f in args.format or [] for x in ("--format", f)]
        common += ["--show"] * args.show + ["--fast"] * args.fast
        return int(module.main(common + list(extra)) or 0)
    todo = demos.names(gallery=True) if "all" in args.name else args.name
    modules = [demos.get(n) for n in todo]  # unknown names fail before anything runs
    formats = tuple(dict.fromkeys(args.format or ["png"]))
    start = time.perf_counter()
    for module in modules:
        result = module.run(args.out, fast=args.fast, formats=formats, show=args.show)
        print(result.report(), f"\n  ({result.seconds:.1f} s)\n")
        sys.stdout.flush()
    if len(modules) > 1:
        print(f"{len(modules)} demos in {time.perf_counter() - start:.1f} s; figures in {args.out}")
    return 0


def _run_playground(args: Any) -> int:
    from jaxloss.playground import playground

    playground(args.losses or None, prediction=args.prediction, target=args.target,
               load=args.load, save_to=args.save, out=args.out, show=not args.no_show)
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from jaxloss.demos._common import add_options

    p = subparsers.add_parser("demo", help="run the demo gallery (figures explaining losses)",
                              description="Without NAME: list the demos. NAME may be 'all' or several names.")
    p.add_argument("name", nargs="*", help="demo name(s), or 'all'; a demo's own options follow its name "
                                           "(jaxloss demo playground-2d --dataset spiral --loss focal)")
    add_options(p)
    p.add_argument("--update-readme", metavar="PATH", help="rewrite the demo gallery table in this README")
    p.set_defaults(func=_run_demo, takes_extra=True)

    q = subparsers.add_parser("playground", help="sliders for prediction, target and loss options, live",
                              description="An interactive matplotlib window: pick losses, move the prediction, "
                              "the target and each loss's options, and watch the loss and its gradient. "
                              "Without a display it saves a static figure instead.")
    q.add_argument("losses", nargs="*", help="losses to offer (default: a regression selection)")
    q.add_argument("--prediction", type=float, default=None, help="starting prediction")
    q.add_argument("--target", type=float, default=None, help="starting target")
    q.add_argument("--load", help="JSON settings file to start from")
    q.add_argument("--save", help="JSON file to write the settings to (also the 'save' button's file)")
    q.add_argument("--out", default="jaxloss-out/playground.png", help="static figure when there is no display")
    q.add_argument("--no-show", action="store_true", help="do not open a window; just save the figure")
    q.set_defaults(func=_run_playground)
