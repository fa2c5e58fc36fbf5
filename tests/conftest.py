"""Suite-wide setup: markers from what each folder needs (tests/README.md), and one CPython workaround.

A test is marked by its folder: `lab` (network namespaces, root), `engine` (the real Pulumi
engine, built on first use; its tests use the lab too), `tools` (host tools: wg, wg-quick,
cloud-init, shellcheck, zbarimg). A test anywhere that brings up a real WireGuard interface
(the `wg_interface` fixture) needs root too: it is marked `lab`. So `-m "not lab"` runs
without root and never builds the engine.

hypothesis is imported here, at collection, in the main thread: its pytest plugin imports it
lazily otherwise, and when that first import happens inside a Pulumi SDK worker thread,
pytest's assertion rewriting hits a CPython 3.11.7 bug ("SystemError: AST constructor
recursion depth mismatch").

Every program the suite runs (mocks, the lab, the engine) keeps its QR code cache in a folder of
this run's own (WGSITES_QR_CACHE, wgsites/qr_cache.py), not in the operator's ~/.cache.
"""

import os
import shutil
import tempfile
from pathlib import Path

import hypothesis  # noqa: F401
import pytest

from tests.network_audit import program_of, watching

TESTS = Path(__file__).resolve().parent
NEEDS = {"lab": ("lab",), "engine": ("lab", "engine"), "tools": ("tools",)}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        folder = Path(str(item.fspath)).resolve().relative_to(TESTS).parts[0]
        for marker in NEEDS.get(folder, ()):
            item.add_marker(marker)
        if "wg_interface" in getattr(item, "fixturenames", ()):
            item.add_marker("lab")


@pytest.fixture(autouse=True, scope="session")
def qr_cache_of_this_run(tmp_path_factory):
    if "WGSITES_QR_CACHE" in os.environ:  # a run told where: keep it (`off` included)
        yield
        return
    os.environ["WGSITES_QR_CACHE"] = str(tmp_path_factory.mktemp("qr-cache"))
    yield
    del os.environ["WGSITES_QR_CACHE"]


@pytest.fixture(autouse=True)
def no_ssh_from_the_test_process(request):
    """A program run in this process (under Pulumi's mocks) never reads a host: its hosts do not exist, and
    an SSH client started here would go to their addresses on the network. The drift check's read goes
    through the engine (the mocks answer it); this refuses any `ssh` started by a test that uses no lab
    (lab and engine tests reach their hosts over SSH inside namespaces)."""
    if request.node.get_closest_marker("lab") is not None:
        yield
        return
    with watching(refuse=reaches_a_real_ssh):
        yield


def reaches_a_real_ssh(event: str, args: tuple) -> bool:
    """An `ssh` that is the machine's client; a stand-in a test put first on PATH under its tmp_path
    (status's hostile-answer tests) answers from a table and reaches nothing."""
    if program_of(event, args) != "ssh":
        return False
    if event == "subprocess.Popen":
        executable, argv, env = args[0], args[1], args[3]
        name = os.fsdecode(executable or (argv if isinstance(argv, str | bytes) else next(iter(argv), "")))
        found = name if os.sep in name else shutil.which(name, path=(env or os.environ).get("PATH"))
    else:
        found = os.fsdecode(args[0])
    return found is None or not os.path.realpath(found).startswith(os.path.realpath(tempfile.gettempdir()) + os.sep)
