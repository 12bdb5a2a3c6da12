"""Demo `loss-vs-accuracy` (the same as `jaxloss demo loss-vs-accuracy`); options: --out, --format, --show, --fast."""

from jaxloss.demos import loss_vs_accuracy

if __name__ == "__main__":
    raise SystemExit(loss_vs_accuracy.main())
