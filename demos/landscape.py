"""Demo `landscape` (the same as `jaxloss demo landscape`); options: --out, --format, --show, --fast."""

from jaxloss.demos import landscape

if __name__ == "__main__":
    raise SystemExit(landscape.main())
