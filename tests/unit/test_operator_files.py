"""Files on the operator's machine cannot be redirected or planted by another local user (issue 25, point 5):
`render --out`, a peer's `file:` (its real shell command), `wgsites qr`'s files and import's output; and render writes
nothing when it refuses (issue 29, point 5)."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from components.roaming_peer import write_command
from tests.stacks import HUB_ENDPOINT, stack_file
from wgsites.operations.cli import main
from wgsites.rendering.operator_files import file_target_problem, write_file
from wgsites.rendering.render import RENDERED_MARK
from wgsites.stack.errors import ConfigError

NOBODY = 65534  # another local user: owns what they plant


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under FOLDER with its bytes (links as their targets' names): what a refusal must leave as it was."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            found[str(path.relative_to(folder))] = b"-> " + os.readlink(path).encode()
        elif path.is_file():
            found[str(path.relative_to(folder))] = path.read_bytes()
    return found


def errors(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


@pytest.fixture
def victim(tmp_path) -> Path:
    """A file of the operator's that a planted link points at: it must never be written."""
    path = tmp_path / "victim"
    path.write_text("the operator's own file\n")
    return path


# -- render --out


def render(stack: str, out: Path, *extra: str) -> int:
    return main(["render", str(stack_file(stack)), "--out", str(out), *extra])


def test_render_reuses_a_key_file_only_when_it_is_your_own_0600_file(tmp_path, capsys):
    out = tmp_path / "out"
    assert render("router", out) == 0
    key = out / "laptop" / "home0.key"
    mine = key.read_text()
    assert render("router", out) == 0 and key.read_text() == mine  # your own 0600 file: reused
    planted = "planted by another user\n"
    cases = {
        "belongs to nobody": lambda: (key.write_text(planted), os.chown(key, NOBODY, NOBODY)),
        "has mode 0644": lambda: (key.write_text(planted), key.chmod(0o644)),
        "is a symbolic link": lambda: (key.unlink(), key.symlink_to(tmp_path / "elsewhere.key")),
    }
    (tmp_path / "elsewhere.key").write_text(mine)
    for why, plant in cases.items():
        key.unlink(missing_ok=True)
        key.write_text(mine)
        key.chmod(0o600)
        plant()
        before = tree(out)
        assert render("router", out) == 2
        err = errors(capsys)
        assert f"error: --out: the key file '{key}' {why}; a key is reused only from your own 0600 file" in err
        assert tree(out) == before  # nothing rewritten, the planted key not trusted


def test_render_refuses_a_folder_others_can_write_and_writes_nothing(tmp_path, capsys):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp: the sticky bit is no exception for the folder written in
    assert render("router", shared) == 2
    assert f"error: --out: the folder '{shared}' is writable by every user" in errors(capsys)
    assert list(shared.iterdir()) == []
    # a new folder in it: refused too
    assert render("router", shared / "out") == 2
    assert "is writable by every user" in errors(capsys)
    assert list(shared.iterdir()) == []
    # a node's folder another user made inside yours
    out = tmp_path / "out"
    out.mkdir()
    (out / "laptop").mkdir()
    os.chown(out / "laptop", NOBODY, NOBODY)
    assert render("router", out) == 2
    assert f"error: --out: the folder '{out / 'laptop'}' belongs to nobody, not to you" in errors(capsys)
    assert tree(out) == {}


def test_render_overwrites_no_planted_file_in_place(tmp_path, victim):
    """A link planted where render writes is replaced by the new file, never written through."""
    out = tmp_path / "out"
    assert render("router", out) == 0
    conf = out / "laptop" / "home0.conf"
    conf.unlink()
    conf.symlink_to(victim)
    assert render("router", out) == 0
    assert victim.read_text() == "the operator's own file\n"
    assert not conf.is_symlink() and stat.S_IMODE(conf.stat().st_mode) == 0o600


def test_render_without_the_hub_endpoint_names_the_flag_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    assert render("home", out) == 2
    assert "error: --hub-endpoint: missing; the aws hub gateway's address is its Elastic IP" in errors(capsys)
    assert not out.exists()
    out.mkdir()
    (out / "mine.txt").write_text("kept\n")
    assert render("home", out) == 2
    assert tree(out) == {"mine.txt": b"kept\n"}
    assert render("home", out, "--hub-endpoint", "not an endpoint") == 2
    assert "error: --hub-endpoint: 'not an endpoint' is not host or host:port" in errors(capsys)
    assert render("home", out, "--hub-endpoint", HUB_ENDPOINT) == 0
    assert (out / "gateway" / "bundle.json").exists() and (out / "mine.txt").read_text() == "kept\n"


def test_render_out_a_file_or_in_a_missing_folder_is_refused_without_a_traceback(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("# mine\n")
    assert render("router", readme) == 2
    assert f"error: --out: '{readme}' is a file, not a folder; name a folder" in errors(capsys)
    assert readme.read_text() == "# mine\n"
    assert render("router", tmp_path / "missing" / "out") == 2
    assert f"error: --out: the folder '{tmp_path / 'missing'}' does not exist; create it first" in errors(capsys)
    assert not (tmp_path / "missing").exists()
    out = tmp_path / "out"
    (out / "laptop" / "home0.conf").mkdir(parents=True)  # a folder where a file goes
    assert render("router", out) == 2
    assert f"error: --out: '{out / 'laptop' / 'home0.conf'}' is there and is not a file" in errors(capsys)
    assert tree(out) == {}


def test_a_new_render_folder_appears_whole_and_only_you_can_enter_it(tmp_path):
    out = tmp_path / "out"
    assert render("router", out) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary folder left beside it


# -- the shared writer


def test_write_file_never_follows_a_link_and_never_replaces_when_told(tmp_path, victim):
    target = tmp_path / "Pulumi.x.yaml"
    target.symlink_to(victim)
    with pytest.raises(ConfigError, match=r"exists; it is never overwritten"):
        write_file(target, "new\n", 0o644, "--out", replace=False)
    write_file(target, "new\n", 0o644, "--out")
    assert victim.read_text() == "the operator's own file\n" and target.read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Pulumi.x.yaml", "victim"]


def test_a_group_writable_folder_is_refused_unless_the_group_is_yours_alone(tmp_path):
    folder = tmp_path / "group"
    folder.mkdir()
    folder.chmod(0o770)
    os.chown(folder, os.getuid(), NOBODY)  # nogroup: not the user's private group
    with pytest.raises(ConfigError, match="is writable by the members of group"):
        write_file(folder / "a", "x", 0o600, "--out")
    os.chown(folder, os.getuid(), os.getgid())  # the user's own group (root's, here): fine
    write_file(folder / "a", "x", 0o600, "--out")


# -- file: (the command the program runs, run here by a real shell)


def test_the_file_command_writes_no_planted_link_at_the_old_fixed_name(tmp_path, victim):
    target = tmp_path / "wireguard" / "home0.conf"
    target.parent.mkdir()
    (target.parent / "home0.conf.wgsites-new").symlink_to(victim)  # where the old command wrote first
    config = f"# {RENDERED_MARK}\n[Interface]\nPrivateKey = secret\n"
    subprocess.run(["sh", "-c", write_command(str(target))], input=config, text=True, check=True)
    assert victim.read_text() == "the operator's own file\n"
    assert target.read_text() == config and stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in target.parent.iterdir()) == ["home0.conf", "home0.conf.wgsites-new"]  # no temp left


def test_the_file_command_leaves_no_temporary_file_when_it_fails(tmp_path):
    target = tmp_path / "home0.conf"
    target.write_text("the previous config\n")
    unreadable = os.open(tmp_path, os.O_RDONLY)  # a folder as stdin: cat fails reading it, after mktemp
    try:
        done = subprocess.run(["sh", "-c", write_command(str(target))], stdin=unreadable, capture_output=True, check=False)
    finally:
        os.close(unreadable)
    assert done.returncode != 0
    assert [p.name for p in tmp_path.iterdir()] == ["home0.conf"] and target.read_text() == "the previous config\n"


def test_a_file_target_in_a_folder_others_can_write_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    assert file_target_problem(str(shared / "home0.conf")).startswith(
        f"would be written in the folder '{shared}', which is writable by every user"
    )
    assert file_target_problem(str(shared / "new" / "home0.conf")) is not None  # the nearest existing folder counts
    assert file_target_problem(str(tmp_path / "new" / "home0.conf")) is None


def test_check_refuses_a_file_target_as_the_program_does(tmp_path, capsys):
    document = yaml.safe_load(stack_file("travel").read_text())
    document["config"]["wgsites:vpn"]["peers"][0]["file"] = "/etc/resolv.conf"
    path = tmp_path / "Pulumi.travel.yaml"
    path.write_text(yaml.safe_dump(document))
    assert main(["check", str(path)]) == 2
    assert ".file: '/etc/resolv.conf' " in errors(capsys)


# -- wgsites qr's files


def test_wgsites_qr_writes_its_png_through_no_planted_link(tmp_path, victim, monkeypatch, capsys):
    import wgsites.operations.cli

    config = "[Interface]\nPrivateKey = c2VlZHNlZWRzZWVkc2VlZHNlZWRzZWVkc2VlZHNlZWQ=\nAddress = 10.99.0.10/24\n"
    monkeypatch.setattr(wgsites.operations.cli, "stack_output_config", lambda peer, stack: config)
    folder = tmp_path / "codes"
    folder.mkdir(mode=0o700)
    (folder / "phone.png").symlink_to(victim)  # planted where the code goes
    assert main(["qr", "phone", "--png", str(folder / "phone.png")]) == 0
    assert victim.read_text() == "the operator's own file\n"  # the link was replaced, not followed
    written = folder / "phone.png"
    assert not written.is_symlink() and stat.S_IMODE(written.stat().st_mode) == 0o600
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    assert main(["qr", "phone", "--png", str(shared / "phone.png")]) == 2
    assert "--png: the folder" in errors(capsys) and not (shared / "phone.png").exists()


# -- import's output


def test_import_writes_no_stack_file_into_a_missing_or_shared_folder(tmp_path, capsys):
    from tests.unit.test_import import import_argv

    args = import_argv(tmp_path, tmp_path / "unused")[:-2]
    assert main([*args, "--out", str(tmp_path / "nonexistent" / "Pulumi.home.yaml")]) == 2
    assert "does not exist; create it first" in errors(capsys) and not (tmp_path / "nonexistent").exists()
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    assert main([*args, "--out", str(shared / "Pulumi.home.yaml")]) == 2
    assert "is writable by every user" in errors(capsys) and list(shared.iterdir()) == []
