"""The install script on a host where not everything is friendly: a local user, planted links, a dropped SSH session.

One lab: `host` runs sshd; `op` is where Pulumi would run. Each test starts from a host with
no wgsites state and installs the same one-peer hub config.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab.netns import Lab, Node
from lab.services import generate_ssh_keypair, start_sshd
from wgsites.rendering.render import KeyRing, install_command, render_wg_quick
from wgsites.stack.keys import generate_private_key, public_key_of
from wgsites.stack.parse import parse_vpn

IFACE, CONF, KEY = "wg0", "/etc/wireguard/wg0.conf", "/etc/wireguard/wg0.key"
RUN_DIR = "/run/wgsites"
STARTED = "/run/wgsites-test-slow-wg-quick"  # the node's own /run (checked by the fixture)
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
VPN = parse_vpn(
    {
        "network": "10.70.0.0/24",
        "hub": {"name": "hub", "kind": "ssh", "address": "10.70.0.1", "endpoint": "192.0.2.2", "ssh": {"host": "192.0.2.2"}},
        "sites": [{"name": "s1", "address": "10.70.0.2", "ssh": {"host": "192.0.2.9"}}],
    }
)
CONFIG = render_wg_quick(VPN, "hub", "lab", KeyRing(public={"s1": public_key_of(generate_private_key())}))
COMMAND = install_command(VPN, "hub", "lab", "install")


@dataclass
class Hosts:
    lab: Lab
    host: Node
    op: Node
    ssh_key: Path


@pytest.fixture(scope="module")
def hosts() -> Iterator[Hosts]:
    with Lab() as lab:
        host, op = lab.node("host"), lab.node("op")
        lab.link(op, "eth0", host, "eth0")
        op.add_address("eth0", "192.0.2.1/24")
        host.add_address("eth0", "192.0.2.2/24")
        key, public = generate_ssh_keypair(lab.run_dir)
        start_sshd(host, public, "192.0.2.2")
        # the node's /run must be its own, or the planted directories below would be this machine's
        host.run(["touch", "/run/wgsites-lab-probe"])
        if Path("/run/wgsites-lab-probe").exists():
            Path("/run/wgsites-lab-probe").unlink()
            pytest.skip("this machine's /run is shared with lab nodes (it has /run/wireguard)")
        yield Hosts(lab, host, op, key)


@pytest.fixture
def host(hosts: Hosts) -> Iterator[Node]:
    yield hosts.host
    # /etc/wireguard and /var/lib/wgsites are the node's own mounts: empty them, keep them
    tidy = f"rm -rf {RUN_DIR} {STARTED} /etc/wireguard/* /var/lib/wgsites/* /usr/local/sbin/wg-quick"
    hosts.host.run(f"wg-quick down {IFACE} 2>/dev/null; {tidy}")


def install(node: Node) -> subprocess.CompletedProcess[str]:
    return node.run(COMMAND, input=CONFIG, check=False)


def snapshot(node: Node) -> str:
    """What an install may change: files and links under /etc/wireguard and wgsites' state, the interface."""
    files = node.run("find /etc/wireguard /var/lib/wgsites -printf '%p %l %m %s\\n' | sort").stdout
    return files + node.run(["ip", "-o", "link", "show"]).stdout


@pytest.mark.parametrize(
    "plant",
    [
        f"mkdir -m 777 {RUN_DIR}",  # world-writable: anyone could plant the lock or a symlink in it
        f"mkdir -m 700 {RUN_DIR} && chown 65534 {RUN_DIR}",  # a user's own directory
        f"ln -s /tmp {RUN_DIR}",
    ],
    ids=["world-writable", "owned by a user", "a symlink"],
)
def test_a_run_directory_root_does_not_own_alone_is_refused(host: Node, plant: str) -> None:
    host.run(plant)
    before = snapshot(host)
    done = install(host)
    assert done.returncode != 0 and done.stdout == ""
    assert f"{RUN_DIR} must be a directory owned by root with mode 0700" in done.stderr, done.stderr
    assert snapshot(host) == before


@pytest.mark.parametrize("path", [CONF, KEY], ids=["config", "key"])
def test_no_file_is_written_through_a_symlink(host: Node, path: str) -> None:
    host.run(f"echo 'the target stays as it is' > /etc/wireguard/target && ln -s /etc/wireguard/target {path}")
    before = snapshot(host)
    done = install(host)
    assert done.returncode != 0 and done.stdout == ""
    assert f"{path} is a symbolic link" in done.stderr, done.stderr
    assert host.read_file("/etc/wireguard/target") == "the target stays as it is\n"
    assert snapshot(host) == before


def test_a_local_user_can_neither_hold_the_lock_nor_enter_the_run_directory(host: Node) -> None:
    assert install(host).returncode == 0  # creates the run directory
    assert host.run(f"stat -c %u:%a {RUN_DIR}").stdout.strip() == "0:700"
    held = host.run([*NOBODY, "flock", "-n", f"{RUN_DIR}/{IFACE}.lock", "true"], check=False)
    assert held.returncode != 0 and "Permission denied" in held.stderr, held.stderr
    listed = host.run([*NOBODY, "ls", RUN_DIR], check=False)
    assert listed.returncode != 0
    again = install(host)
    assert again.returncode == 0 and "config unchanged" in again.stderr


def ssh_client(hosts: Hosts) -> subprocess.Popen[bytes]:
    """The install command over real SSH from `op`, as pulumi-command runs it, stdin still open."""
    argv = ["ssh", "-F", "/dev/null", "-i", str(hosts.ssh_key), "-o", "StrictHostKeyChecking=no"]
    argv += ["-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "root@192.0.2.2", "--", COMMAND]
    return subprocess.Popen(hosts.op.enter_argv(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_a_config_cut_short_on_its_way_is_refused(hosts: Hosts, host: Node) -> None:
    """The connection drops while stdin arrives: what arrived ends at a line, but lacks the last [Peer]."""
    cut = CONFIG[: CONFIG.rindex("[Peer]")]
    before = snapshot(host)
    client = ssh_client(hosts)
    client.stdin.write(cut.encode())
    client.stdin.close()  # EOF is all the host sees of a dropped connection
    assert client.wait(timeout=30) != 0
    err = client.stderr.read()
    assert b"it was cut short (a dropped connection?); nothing was changed" in err, err
    assert snapshot(host) == before


def test_a_dropped_ssh_session_does_not_stop_an_install_halfway(hosts: Hosts, host: Node) -> None:
    """The SSH client dies (Pulumi killed, a laptop lid closed) while wg-quick brings the interface up."""
    # a slow wg-quick, so the connection drops in the middle (/usr/local/sbin is the node's own and first on PATH)
    slow = f'#!/bin/sh\ntouch {STARTED}\nsleep 2\nexec /usr/bin/wg-quick "$@"\n'
    host.write_file("/usr/local/sbin/wg-quick", slow, 0o755)
    client = ssh_client(hosts)
    client.stdin.write(CONFIG.encode())
    client.stdin.close()
    deadline = time.monotonic() + 10
    while host.run(["test", "-e", STARTED], check=False).returncode != 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    client.kill()  # the TCP connection closes with the client: sshd ends the session
    client.wait()

    def installed() -> bool:
        up = host.run(["wg", "show", IFACE, "private-key"], check=False).stdout.strip()
        return bool(up) and up == host.run(f"cat {KEY} 2>/dev/null || true").stdout.strip()

    def finished() -> bool:  # the key is set before the script logs its last line: wait for both
        return installed() and "brought wg0 up" in host.run(f"cat {RUN_DIR}/{IFACE}.log", check=False).stdout

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not finished():
        time.sleep(0.2)
    log = host.run(f"cat {RUN_DIR}/{IFACE}.log", check=False).stdout
    assert installed(), f"the interface is not up with its key after the session dropped; the run's log:\n{log}"
    assert host.read_file(CONF) == CONFIG
    assert host.run(["ip", "-o", "address", "show", "dev", IFACE]).stdout.count("10.70.0.1/24") == 1
    assert "brought wg0 up" in log, log
