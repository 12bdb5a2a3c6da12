"""Demo `descent` (the same as `jaxloss demo descent`); options: --out, --format, --show, --fast."""

from jaxloss.demos import descent

if __name__ == "__main__":
    raise SystemExit(descent.main())
