"""Demo `mse-vs-mae` (the same as `jaxloss demo mse-vs-mae`); options: --out, --format, --show, --fast."""

from jaxloss.demos import mse_vs_mae

if __name__ == "__main__":
    raise SystemExit(mse_vs_mae.main())
