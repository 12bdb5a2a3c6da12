"""Demo `loss-vs-metric` (the same as `jaxloss demo loss-vs-metric`); options: --out, --format, --show, --fast."""

from jaxloss.demos import loss_vs_metric

if __name__ == "__main__":
    raise SystemExit(loss_vs_metric.main())
