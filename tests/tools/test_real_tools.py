"""What reaches a host is checked by the real tools: wg-quick, wg, cloud-init, shellcheck."""

from __future__ import annotations

import base64
import gzip
import re
import shutil
import subprocess
from pathlib import Path

from tests.stacks import STACKS, render_stack
from wgsites.rendering.gateway_programs import agent_source, bootstrap_source
from wgsites.rendering.render import render_install_script


def all_files(tmp_path: Path):
    for stack in STACKS:
        rendered = render_stack(stack, tmp_path / stack)
        for node, files in rendered.files.items():
            for name, content in files.items():
                yield stack, node, name, content


def test_every_config_passes_wg_quick_strip_and_wg_setconf(tmp_path, wg_interface):
    lab_node, iface = wg_interface
    checked = 0
    for stack, node, name, content in all_files(tmp_path):
        if not name.endswith(".conf") or name.startswith("70-"):
            continue
        # wg-quick wants the file named after a valid interface
        conf = tmp_path / "strip" / stack / node / name
        conf.parent.mkdir(parents=True)
        # wg resolves an Endpoint host name at once, and this machine has no DNS:
        # the example hosts (example.net) become documentation addresses here
        conf.write_text(re.sub(r"(?m)^Endpoint = [a-z.]+\.example\.net:", "Endpoint = 192.0.2.1:", content))
        stripped = subprocess.run(["wg-quick", "strip", str(conf)], check=True, capture_output=True, text=True).stdout
        setconf = lab_node.run(["wg", "setconf", iface, "/dev/stdin"], input=stripped, check=False)
        assert setconf.returncode == 0, f"{stack}/{node}/{name}: {setconf.stderr}"
        shown = lab_node.run(["wg", "show", iface, "peers"]).stdout.split()
        assert len(shown) == content.count("[Peer]")
        checked += 1
    assert checked == 12  # every node of the five stacks


def test_wg_setconf_rejects_a_typo(tmp_path, wg_interface):
    """The check above can fail: a misspelt key is refused by the same call."""
    node, iface = wg_interface
    result = node.run(
        ["wg", "setconf", iface, "/dev/stdin"],
        input="[Interface]\nListenPort = 51000\n[Peer]\nPublicKy = x\n",
        check=False,
    )
    assert result.returncode != 0 and "Line unrecognized" in result.stderr


def test_every_user_data_passes_cloud_init_schema(tmp_path):
    checked = 0
    for stack, node, name, content in all_files(tmp_path):
        if name != "user-data.yaml":
            continue
        path = tmp_path / f"{stack}-{node}.yaml"
        path.write_text(content)
        result = subprocess.run(["cloud-init", "schema", "--config-file", str(path)], capture_output=True, text=True)
        assert result.returncode == 0, f"{stack}: {result.stdout}{result.stderr}"
        assert "Valid" in result.stdout
        checked += 1
    assert checked == 2  # home and travel


def test_cloud_init_schema_catches_a_broken_user_data(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("#cloud-config\npackages: wireguard-tools\nruncmd: reboot\n")
    assert subprocess.run(["cloud-init", "schema", "--config-file", str(path)], capture_output=True).returncode != 0


def shellcheck() -> str:
    found = shutil.which("shellcheck") or str(Path(__file__).resolve().parents[2] / ".venv/bin/shellcheck")
    return found


def test_every_install_script_passes_shellcheck(tmp_path):
    checked = 0
    for stack, node, name, content in all_files(tmp_path):
        if name != "install.sh":
            continue
        path = tmp_path / f"{stack}-{node}.sh"
        path.write_text(content)
        result = subprocess.run([shellcheck(), "-S", "style", str(path)], capture_output=True, text=True)
        assert result.returncode == 0, f"{stack}/{node}: {result.stdout}"
        checked += 1
    assert checked == 7  # every hub and every spoke managed over SSH


def test_shellcheck_catches_a_mistake(tmp_path):
    path = tmp_path / "bad.sh"
    path.write_text("#!/bin/bash\nrm -rf $DIR/*\n")
    assert subprocess.run([shellcheck(), str(path)], capture_output=True).returncode != 0


def test_user_data_carries_the_bootstrap_and_the_bundle_the_rest(tmp_path):
    """The aws hub's user data holds only the bootstrap (static); the install script and the agent are in the bundle."""
    rendered = render_stack("home", tmp_path)
    user_data = rendered.files["gateway"]["user-data.yaml"]
    import json

    import yaml

    files = {
        f["path"]: gzip.decompress(base64.b64decode(f["content"])).decode()
        for f in yaml.safe_load(user_data)["write_files"]
        if f.get("encoding") == "gz+b64"
    }
    assert files == {"/usr/local/sbin/wgsites-bootstrap": bootstrap_source()}
    assert len(user_data.encode()) < 8000  # far below EC2's 16384, whatever the stack holds
    bundle = json.loads(rendered.files["gateway"]["bundle.json"])
    assert bundle["install"] == render_install_script(rendered.vpn, "gateway", "home")
    assert bundle["agent"] == agent_source()
    assert bundle["config"] == rendered.files["gateway"]["wg0.conf"]
