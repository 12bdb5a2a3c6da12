"""Demo `playground-2d` (the same as `jaxloss demo playground-2d`); options: --out, --format, --show, --fast."""

from jaxloss.demos import playground_2d

if __name__ == "__main__":
    raise SystemExit(playground_2d.main())
