"""Demo `training-curve` (the same as `jaxloss demo training-curve`); options: --out, --format, --show, --fast."""

from jaxloss.demos import training_curve

if __name__ == "__main__":
    raise SystemExit(training_curve.main())
