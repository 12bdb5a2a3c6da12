"""``jaxloss demo`` (the gallery) and ``jaxloss playground`` (the playground's local web server).

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
    from jaxloss.playground import PlaygroundServer

    server = PlaygroundServer(port=args.port, verbose=args.verbose)
    url = server.url(args.page, state=args.state or "")
    print(f"jaxloss playground: {url}\n  (the {args.page} page; the other one is linked at its top. Ctrl-C stops "
          "the server.)")
    sys.stdout.flush()
    if not args.no_browser:
        import webbrowser

        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\njaxloss playground: stopped.")
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

    q = subparsers.add_parser("playground", help="the playground in your browser: train a network on any loss, "
                              "or dissect losses (a local web server)",
                              description="Starts a web server on 127.0.0.1 (a free port unless --port), prints its "
                              "URL and opens the browser. Page 'train': TensorFlow Playground with every loss of the "
                              "catalog; page 'anatomy': losses' value and first and second derivative, live.")
    q.add_argument("page", nargs="?", default="train", choices=("train", "anatomy"), help="the page to open")
    q.add_argument("--port", type=int, default=0, help="the port on 127.0.0.1 (default: a free one)")
    q.add_argument("--state", help="a URL state to start from, e.g. 'dataset=spiral&loss=focal'")
    q.add_argument("--no-browser", action="store_true", help="do not open a browser; just print the URL")
    q.add_argument("--verbose", action="store_true", help="log every request")
    q.set_defaults(func=_run_playground)
