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
