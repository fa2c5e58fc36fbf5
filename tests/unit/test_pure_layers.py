"""The pure part of wgsites (wgsites/stack/, wgsites/rendering/) reaches no host and no cloud: imported with
SSH, subprocess, boto3 and pulumi blocked, every one of its modules loads. Only wgsites/operations/ and
components/ may use them; a module that sneaks one in fails here, naming the import."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PURE = ("wgsites.stack", "wgsites.rendering")
BLOCKED = ("subprocess", "boto3", "botocore", "paramiko", "asyncssh", "pulumi", "pulumi_aws", "pulumi_command")
# the layers above the pure part: importing one would bring the blocked modules in by a side door
ABOVE = ("wgsites.operations", "components")

IMPORT_ALL = textwrap.dedent(
    """
    import importlib, importlib.abc, pkgutil, sys

    blocked, above, packages = sys.argv[1].split(","), sys.argv[2].split(","), sys.argv[3].split(",")

    class Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in blocked or any(name == a or name.startswith(a + ".") for a in above):
                raise ImportError(f"the pure part imports {name}")
            return None

    sys.meta_path.insert(0, Refuse())
    for package in packages:
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, package + "."):
            importlib.import_module(info.name)
            print(info.name)
    """
)


def import_all(packages: tuple[str, ...], path: Path = ROOT) -> subprocess.CompletedProcess:
    """A fresh interpreter (nothing imported yet) loads every module of PACKAGES with the blocked ones refused."""
    argv = [sys.executable, "-c", IMPORT_ALL, ",".join(BLOCKED), ",".join(ABOVE), ",".join(packages)]
    return subprocess.run(argv, cwd=path, capture_output=True, text=True, timeout=120)


def test_the_pure_part_imports_no_ssh_no_subprocess_no_boto3_no_pulumi():
    result = import_all(PURE)
    assert result.returncode == 0, result.stderr
    loaded = set(result.stdout.split())
    assert {"wgsites.stack.check", "wgsites.rendering.render", "wgsites.rendering.gateway_programs"} <= loaded


def test_a_module_that_sneaks_one_in_is_caught(tmp_path):
    """The check itself: a pure-looking package with one module that runs OpenSSH is refused."""
    package = tmp_path / "sneaky"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "clean.py").write_text("import json\n")
    (package / "reads_a_host.py").write_text("import subprocess\n")
    result = import_all(("sneaky",), tmp_path)
    assert result.returncode != 0 and "the pure part imports subprocess" in result.stderr
