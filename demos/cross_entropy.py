"""Demo `cross-entropy` (the same as `jaxloss demo cross-entropy`); options: --out, --format, --show, --fast."""

from jaxloss.demos import cross_entropy

if __name__ == "__main__":
    raise SystemExit(cross_entropy.main())
