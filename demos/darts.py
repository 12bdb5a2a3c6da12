"""Demo `darts` (the same as `jaxloss demo darts`); options: --out, --format, --show, --fast."""

from jaxloss.demos import darts

if __name__ == "__main__":
    raise SystemExit(darts.main())
