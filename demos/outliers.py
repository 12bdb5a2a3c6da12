"""Demo `outliers` (the same as `jaxloss demo outliers`); options: --out, --format, --show, --fast."""

from jaxloss.demos import outliers

if __name__ == "__main__":
    raise SystemExit(outliers.main())
