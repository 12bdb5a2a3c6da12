"""Runs the jaxloss demo this file is named after: `python demos/mse_vs_mae.py` is `jaxloss demo mse-vs-mae`.

Options: --out, --format, --show, --fast and the demo's own (--help lists them). Every demo is listed
once, in jaxloss.demos.DEMOS; each has a copy of this file named after its module.
"""

from jaxloss import demos

if __name__ == "__main__":
    raise SystemExit(demos.run_script(__file__))
