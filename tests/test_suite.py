"""The suite's own plumbing: what keeps it within its time budget works as it is meant to."""

import os

import pytest


@pytest.mark.xdist_group("suite-plumbing")
def test_xdist_groups_reach_the_scheduler(request):
    """Under xdist, ``--dist loadgroup`` (pyproject's addopts) sends a group's items to one worker, so a
    group compiles its programs (the loss battery, one loss per group) and builds its fixtures (the
    documentation site, the playground's programs) once. pytest-xdist 3.8 tags an item's node id with its
    group; pytest 9 no longer reads the attribute it sets, and then every group is silently spread over the
    workers (the site was built twice, the battery compiled per worker). Hence ``pytest<9`` in the dev
    extra, until pytest-xdist supports pytest 9's node ids."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None or not request.config.getoption("loadgroup", False):
        pytest.skip("not running under pytest-xdist with --dist loadgroup")
    assert request.node.nodeid.endswith("@suite-plumbing"), (
        f"pytest-xdist did not tag {request.node.nodeid!r} with its group: --dist loadgroup has no effect with "
        f"this pytest ({pytest.__version__}); see pyproject.toml's dev extra")


def test_subprocesses_keep_the_suites_xla_flags():
    """conftest puts XLA flags that halve the suite's compile time into the environment, and subprocesses
    inherit them. A test that sets ``XLA_FLAGS`` for a subprocess (virtual devices) must add to the
    environment's value, not replace it: a replaced value silently compiles that subprocess's programs at
    XLA's full cost (the descent, distributed and data-parallel tests had done so)."""
    import pathlib
    import re

    here = pathlib.Path(__file__).parent
    replaced = []
    for path in sorted(here.rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"XLA_FLAGS[\"']?\s*[=:,]\s*f?[\"']--", line):
                replaced.append(f"{path.relative_to(here)}:{number}: {line.strip()}")
    assert not replaced, "XLA_FLAGS set without the environment's value:\n" + "\n".join(replaced)
    assert "--xla_backend_optimization_level=0" in os.environ.get("XLA_FLAGS", "")
