"""Runs the benchmark suite and writes benchmarks/results/{latest,DATE-DEVICE}.{md,json}.

    python -m benchmarks            # the full suite (tens of minutes on a 2-core CPU)
    python -m benchmarks --quick    # a small version in under a minute (CI's smoke test)
    python -m benchmarks --suite losses --suite startup
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import pathlib
import platform
import sys
import time

from benchmarks import _device

SUITES = {
    "losses": "benchmarks.bench_losses",
    "training": "benchmarks.bench_training",
    "per_example": "benchmarks.bench_per_example",
    "scaling": "benchmarks.bench_scaling",
    "startup": "benchmarks.bench_startup",
    "playground": "benchmarks.bench_playground",
    "linear_ce": "benchmarks.bench_linear_ce",
    "cross_entropy": "benchmarks.bench_cross_entropy",
}
TITLES = {
    "losses": "Losses: jaxloss against optax, PyTorch and the memory bandwidth",
    "training": "Training: fit against hand-written loops",
    "per_example": "Per-example gradients: vmap of grad against a Python loop",
    "scaling": "Scaling with input size",
    "startup": "Start-up and first-call compile latency",
    "playground": "The playground: frames per second and slider latency against their goals",
    "linear_ce": "Cross-entropy of a linear head over a large vocabulary: fused against materialised",
    "cross_entropy": "Softmax cross-entropy over many classes: formulations, PyTorch, and passes over the logits",
}
RESULTS = pathlib.Path(__file__).parent / "results"


def machine() -> dict:
    """The machine and the device measured: recorded with every result (``_device.describe``)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = _device.describe()
    info.update(cpu=cpu, cores=os.cpu_count(), python=platform.python_version(),
                date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    info["versions"]["python"] = info["python"]
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small version, under a minute")
    parser.add_argument("--suite", action="append", choices=list(SUITES), help="run only these suites")
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS, help="where to write results")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--losses-large", choices=("all", "compared"), default="all",
                        help="run the 64 MB size for every loss, or only for those with an optax/PyTorch counterpart")
    args = parser.parse_args(argv)
    info = machine()
    header = (f"# jaxloss benchmarks{' (quick)' if args.quick else ''}\n\n{info['date']} on {info['cpu']} "
              f"({info['cores']} cores), device {info['device_kind']} x{info['device_count']}"
              + (f" ({info['runtime']})" if info["runtime"] else "")
              + f", matmul precision {info['matmul_precision']}, PyTorch: {info['torch_device']}; "
              + ", ".join(f"{k} {v}" for k, v in info["versions"].items() if v) + "\n")
    print(header)
    sections, results = [header], {"machine": info, "quick": args.quick, "suites": {}}
    for suite in args.suite or list(SUITES):
        try:
            module = importlib.import_module(SUITES[suite])
        except ImportError as err:
            print(f"## {TITLES[suite]}\n\nskipped: {err}\n")
            continue
        start = time.perf_counter()
        options = {"large": args.losses_large} if suite == "losses" else {}
        result = module.run(quick=args.quick, **options)
        elapsed = time.perf_counter() - start
        text = f"## {TITLES[suite]}\n\n{module.report(result)}\n\n({elapsed:.0f} s)\n"
        print(text, flush=True)
        sections.append(text)
        results["suites"][suite] = result
    if not args.no_write:
        args.out.mkdir(parents=True, exist_ok=True)
        stem = "quick" if args.quick else "latest"
        dated = f"{info['date'][:10]}-{info['device_kind'].replace(' ', '_')}"
        for name in (stem, dated if not args.quick else stem):
            (args.out / f"{name}.md").write_text("\n".join(sections))
            (args.out / f"{name}.json").write_text(json.dumps(results, indent=1, default=float))
        print(f"wrote {args.out / stem}.md and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
