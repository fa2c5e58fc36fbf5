"""`pip install .` from a clone gives a `wgsites` command that works from any folder, templates and the aws hub's
cloud-init files included (they are package data: pyproject.toml).

The venv is fresh; the project's requirements come from the shared .venv through a .pth file (--no-deps),
so nothing but the build backend (setuptools, from PyPI through pip) is fetched. The clone is copied first:
an in-tree build writes build/ and *.egg-info/ into the folder it builds.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from tests.stacks import stack_file

ROOT = Path(__file__).resolve().parents[2]


def test_pip_install_gives_a_wgsites_command_that_works_from_any_folder(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    shutil.copytree(ROOT, clone, ignore=shutil.ignore_patterns(".git", ".venv", "__pycache__", "build", "*.egg-info"))
    venv = tmp_path / "venv"
    subprocess.run([sys._base_executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True
    ).stdout.strip()
    Path(purelib, "wgsites-test-shared.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # the requirements
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps", str(clone)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    shutil.rmtree(clone)  # the command must need nothing of the clone
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(stack_file("home"), elsewhere / "Pulumi.home.yaml")
    wgsites = str(venv / "bin" / "wgsites")

    checked = subprocess.run([wgsites, "check", "Pulumi.home.yaml"], cwd=elsewhere, capture_output=True, text=True)
    assert checked.returncode == 0 and "Traceback" not in checked.stderr, checked.stderr
    assert checked.stdout.startswith("ok: aws hub gateway (10.99.0.1) on 10.99.0.0/24"), checked.stdout

    argv = [wgsites, "render", "Pulumi.home.yaml", "--out", "out", "--hub-endpoint", "203.0.113.10"]
    rendered = subprocess.run(argv, cwd=elsewhere, capture_output=True, text=True)
    assert rendered.returncode == 0, rendered.stderr
    user_data = (elsewhere / "out" / "gateway" / "user-data.yaml").read_text()
    assert user_data.startswith("#cloud-config") and "wgsites-bootstrap" in user_data  # cloud-init/ came along
    assert (elsewhere / "out" / "home" / "install.sh").read_text().startswith("#!")  # the install templates came along
