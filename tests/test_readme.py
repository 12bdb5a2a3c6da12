"""README.md stays true: its catalog matches the registry, CI runs its test command."""

import pathlib
import re

from jaxloss import _cli_catalog

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def quick_start_commands() -> list[str]:
    section = README.split("## Quick start", 1)[1]
    block = re.search(r"```(?:bash)?\n(.*?)```", section, re.S).group(1)
    return [line.strip() for line in block.strip().splitlines()]


def test_quick_start_has_exactly_two_commands():
    commands = quick_start_commands()
    assert len(commands) == 2
    assert "jaxloss demo all" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_exactly_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert quick_start_commands()[1] in ci.splitlines()


def test_catalog_table_is_in_sync_with_the_registry():
    assert _cli_catalog.readme_with_catalog(README) == README, (
        "README's catalog is stale: run `jaxloss list --update-readme README.md`"
    )


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README, re.S)


def test_readme_python_examples_run(tmp_path, monkeypatch):
    """Every Python example in README.md runs as written (in a scratch directory)."""
    monkeypatch.chdir(tmp_path)
    blocks = python_blocks()
    assert len(blocks) >= 5
    for i, block in enumerate(blocks):
        namespace: dict = {"__name__": f"readme_block_{i}"}
        exec(compile(block, f"README.md python block {i}", "exec"), namespace)  # noqa: S102
    import matplotlib.pyplot as plt

    plt.close("all")
