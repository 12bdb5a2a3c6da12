"""The inspect and check commands, run in-process."""

from __future__ import annotations

import re

import pytest

from jaxloss.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_inspect_huber_prints_the_right_numbers(capsys):
    code, out, _ = run(capsys, "inspect", "huber", "--predictions", "0.5", "2", "10", "--targets", "0", "0", "0",
                       "--delta", "1")
    assert code == 0
    assert re.search(r"value\s+3\.70833", out)
    assert "[0.1667, 0.3333, 0.3333]" in out
    assert "mean over the count of entries = 3" in out


def test_inspect_classification_with_shape_and_options(capsys):
    code, out, _ = run(capsys, "inspect", "ce", "-p", "2", "0", "-1", "0", "1", "3", "--shape", "2", "3",
                       "-t", "0", "2", "--label-smoothing", "0.1", "--weights", "1", "3")
    assert code == 0 and "softmax_cross_entropy(label_smoothing=0.1)" in out
    assert "sum of weights = 4" in out


def test_inspect_errors_are_clear(capsys):
    code, _, err = run(capsys, "inspect", "hubert", "-p", "1", "-t", "0")
    assert code == 2 and "Did you mean 'huber'" in err
    code, _, err = run(capsys, "inspect", "huber", "-p", "1", "-t", "0", "--gamma", "2")
    assert code == 2 and "huber has no option --gamma; its options: --delta" in err
    code, _, err = run(capsys, "inspect", "huber", "-p", "1", "2", "-t", "0")
    assert code == 2 and "(2,)" in err and "(1,)" in err


def test_check_prints_a_card_and_sets_the_exit_code(capsys):
    code, out, _ = run(capsys, "check", "huber", "--dtype", "float32")
    assert code == 0 and "stability card: huber" in out and "huber: stable" in out
    with pytest.raises(SystemExit):
        main(["check", "--dtype", "float64"])
    code, _, err = run(capsys, "check")
    assert code == 2 and "--all" in err


def test_demo_lists_from_the_registry_and_rewrites_the_readme_gallery(capsys, tmp_path):
    from jaxloss import demos

    code, out, _ = run(capsys, "demo")
    assert code == 0 and all(name in out for name in demos.DEMOS)
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\n<!-- demos:start -->\nstale\n<!-- demos:end -->\n\nafter\n", encoding="utf-8")
    code, out, _ = run(capsys, "demo", "--update-readme", str(readme))
    text = readme.read_text(encoding="utf-8")
    assert code == 0 and "stale" not in text and text.endswith("<!-- demos:end -->\n\nafter\n")
    assert all(f"**`{name}`**: {demo.summary}." in text for name, demo in demos.DEMOS.items())
    code, _, err = run(capsys, "demo", "darts", "--update-readme", str(readme))
    assert code == 2 and "no demo name" in err
