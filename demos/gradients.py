"""Demo `gradients` (the same as `jaxloss demo gradients`); options: --out, --format, --show, --fast."""

from jaxloss.demos import gradients

if __name__ == "__main__":
    raise SystemExit(gradients.main())
