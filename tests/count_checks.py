"""Count the checks the loss tests make: ``python tests/count_checks.py [pytest args]``.

A check is one (property, loss[, variant]) combination that ran and passed: a collected test item
counts once (its parameters are the loss and the variant), unless the test reports finer checks
itself (``record_check`` in ``tests/losses/_battery.py`` appends ``("check", (property, loss,
variant))`` to the item's user properties: one item of the battery checks many losses, dtypes or
hard cases). Items and reported checks that were skipped are counted apart, with their reason: a
skip is not a check.

    .venv/bin/python tests/count_checks.py tests/losses -n 2 --json /tmp/after.json
    .venv/bin/python tests/count_checks.py --compare /tmp/before.json /tmp/after.json

The table has one row per property (the test function's name, or the property a battery item
reports); ``--compare`` prints both counts side by side and lists every check of the first run
that the second did not make.
"""

from __future__ import annotations

import collections
import json
import sys


class CountChecks:
    """A pytest plugin collecting passed and skipped checks."""

    def __init__(self) -> None:
        self.passed: set[tuple[str, str, str]] = set()
        self.skipped: dict[tuple[str, str, str], str] = {}
        self.failed: list[str] = []

    def pytest_runtest_logreport(self, report) -> None:  # noqa: ANN001 (pytest's TestReport)
        function, _, params = report.nodeid.partition("[")
        function = function.rsplit("::", 1)[-1]
        params = params.rstrip("]")
        if report.when == "setup" and report.skipped:
            self.skipped[(function, params, "")] = _reason(report)
        elif report.when == "call":
            reported = [v for k, v in report.user_properties if k == "check"]
            skipped = [v for k, v in report.user_properties if k == "skipped_check"]
            if report.failed:
                self.failed.append(report.nodeid)
            elif report.skipped:
                self.skipped[(function, params, "")] = _reason(report)
            elif reported or skipped:
                self.passed.update(tuple(str(x) for x in v) for v in reported)
                for prop, loss, variant, why in skipped:
                    self.skipped[(str(prop), str(loss), str(variant))] = str(why)
            else:
                self.passed.add((function, params, ""))

    def summary(self) -> dict:
        return {
            "passed": sorted(self.passed),
            "skipped": sorted([list(k) + [v] for k, v in self.skipped.items()]),
            "failed": self.failed,
        }


def _reason(report) -> str:  # noqa: ANN001
    longrepr = report.longrepr
    return str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr)


def table(summary: dict) -> dict[str, tuple[int, int]]:
    passed = collections.Counter(p[0] for p in summary["passed"])
    skipped = collections.Counter(s[0] for s in summary["skipped"])
    return {k: (passed[k], skipped[k]) for k in sorted(set(passed) | set(skipped))}


def print_table(summary: dict) -> None:
    rows = table(summary)
    width = max([len(k) for k in rows] + [8])
    print(f"{'property':<{width}}  {'checks':>7}  {'skipped':>7}")
    for k, (p, s) in rows.items():
        print(f"{k:<{width}}  {p:>7}  {s:>7}")
    print(f"{'total':<{width}}  {sum(p for p, _ in rows.values()):>7}  {sum(s for _, s in rows.values()):>7}")
    if summary["failed"]:
        print(f"{len(summary['failed'])} failed:", *summary["failed"], sep="\n  ")


def compare(before_path: str, after_path: str) -> int:
    with open(before_path) as f:
        before = json.load(f)
    with open(after_path) as f:
        after = json.load(f)
    tb, ta = table(before), table(after)
    width = max([len(k) for k in tb | ta] + [8])
    print(f"{'property':<{width}}  {'before':>7}  {'after':>7}  {'skipped before':>14}  {'skipped after':>13}")
    for k in sorted(set(tb) | set(ta)):
        b, a = tb.get(k, (0, 0)), ta.get(k, (0, 0))
        print(f"{k:<{width}}  {b[0]:>7}  {a[0]:>7}  {b[1]:>14}  {a[1]:>13}")
    print(f"{'total':<{width}}  {sum(v[0] for v in tb.values()):>7}  {sum(v[0] for v in ta.values()):>7}  "
          f"{sum(v[1] for v in tb.values()):>14}  {sum(v[1] for v in ta.values()):>13}")
    missing = sorted({tuple(p) for p in before["passed"]} - {tuple(p) for p in after["passed"]})
    print(f"\nchecks made before and not after: {len(missing)}")
    for m in missing:
        print("  ", *m)
    return 1 if missing else 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["--compare"]:
        return compare(argv[1], argv[2])
    json_path = None
    if "--json" in argv:
        i = argv.index("--json")
        json_path = argv[i + 1]
        del argv[i:i + 2]
    import pytest

    plugin = CountChecks()
    # Checks are counted from test reports, which reach the controller under xdist too.
    code = pytest.main(["-q", "-p", "no:cacheprovider", *argv], plugins=[plugin])
    summary = plugin.summary()
    print_table(summary)
    if json_path:
        with open(json_path, "w") as f:
            json.dump(summary, f, indent=0)
    return int(code)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
