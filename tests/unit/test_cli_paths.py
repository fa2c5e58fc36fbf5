"""The command line's paths: a bad --out is refused up front with the fix, no traceback, nothing made that was not
asked for (a folder's parents included), relative paths taken from where the command runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.stacks import stack_file
from wgsites.operations.cli import main

ROUTER = """[Interface]
Address = 10.10.10.1/24
ListenPort = 51000
PrivateKey = {key}
"""


def test_diagram_into_a_file_is_refused_and_the_file_kept(tmp_path: Path, capsys) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("mine\n")
    assert main(["diagram", str(stack_file("home")), "--out", str(readme)]) == 2
    assert capsys.readouterr().err == (
        f"error: --out: {str(readme)!r} is a file, not a folder; name a folder (diagram writes DIR/<stack>.dot, .svg and .png)\n"
    )
    assert readme.read_text() == "mine\n"


@pytest.mark.parametrize("command", ["diagram", "import"])
def test_a_missing_folder_is_refused_and_none_made(tmp_path: Path, capsys, command: str) -> None:
    missing = tmp_path / "nonexistent"
    if command == "diagram":
        argv = ["diagram", str(stack_file("home")), "--out", str(missing / "pictures")]
    else:
        config = tmp_path / "wg0.conf"
        config.write_text(ROUTER.format(key="x"))
        argv = ["import", str(config), "--ssh", "10.10.10.1", "--out", str(missing / "Pulumi.home.yaml")]
    assert main(argv) == 2
    fix = f"error: --out: the folder {str(missing)!r} does not exist; create it first (mkdir -p {missing})\n"
    assert capsys.readouterr().err == fix
    assert list(tmp_path.iterdir()) == ([] if command == "diagram" else [tmp_path / "wg0.conf"])


def test_diagram_makes_the_folder_it_is_given_in_one_that_exists_relative_to_here(tmp_path: Path, monkeypatch) -> None:
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot draws the pictures")
    tmp_path.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    assert main(["diagram", str(stack_file("home")), "--out", "pictures"]) == 0
    assert sorted(p.name for p in (tmp_path / "pictures").iterdir()) == ["home.dot", "home.png", "home.svg"]


def test_a_folder_that_cannot_be_written_is_said_without_a_traceback(capsys) -> None:
    assert main(["diagram", str(stack_file("home")), "--out", "/proc/wgsites-pictures"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: /proc/wgsites-pictures: ") and err.endswith("; check the path and its permissions\n")
