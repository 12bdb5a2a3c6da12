"""Demo `overfitting` (the same as `jaxloss demo overfitting`); options: --out, --format, --show, --fast."""

from jaxloss.demos import overfitting

if __name__ == "__main__":
    raise SystemExit(overfitting.main())
