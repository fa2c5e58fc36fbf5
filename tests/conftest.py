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

Run side by side (pytest-xdist, `scripts/test` runs `-n 6 --dist loadgroup`): every lab has its own
namespaces (a random prefix), run directory, mount namespaces (its own /var/run/wireguard and
/etc/wireguard), nspawn machine names and PULUMI_HOME and backend; moto listens inside a lab node.
What cannot be split are tests that share a module-scoped fixture (one lab brought up for several
tests, in order): they go to one worker together (`xdist_group`, named for their module).
"""

import os
import shutil
import tempfile
from pathlib import Path

import hypothesis  # noqa: F401
import pytest
from _pytest.nodeid import coerce_node_id

from tests.network_audit import program_of, watching

TESTS = Path(__file__).resolve().parent
NEEDS = {"lab": ("lab",), "engine": ("lab", "engine"), "tools": ("tools",)}


@pytest.hookimpl(trylast=True)  # after xdist's own hook, which this one completes
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        folder = Path(str(item.fspath)).resolve().relative_to(TESTS).parts[0]
        for marker in NEEDS.get(folder, ()):
            item.add_marker(marker)
        if "wg_interface" in getattr(item, "fixturenames", ()):
            item.add_marker("lab")
        if shares_a_module_fixture(item):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
    if getattr(config.option, "loadgroup", False):  # an xdist worker under --dist loadgroup
        for item in items:
            group_in_node_id(item)


def group_in_node_id(item: pytest.Item) -> None:
    """xdist's loadgroup scheduler reads a test's group from an `@GROUP` suffix of its node id, which its
    worker writes to a field pytest 9.2 no longer reads (pytest-xdist#1386): the suffix is written here."""
    groups = sorted({str(mark.args[0]) for mark in item.iter_markers("xdist_group")})
    if groups and "@" not in item.nodeid.rpartition("]")[2]:
        item._id = coerce_node_id(f"{item.nodeid}@{'_'.join(groups)}")


def shares_a_module_fixture(item: pytest.Item) -> bool:
    """Whether the test uses a fixture set up once for its module (or class): its lab, kept between tests."""
    info = getattr(item, "_fixtureinfo", None)
    definitions = info.name2fixturedefs.values() if info is not None else ()
    return any(defs and defs[-1].scope in ("module", "class", "package") for defs in definitions)


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
