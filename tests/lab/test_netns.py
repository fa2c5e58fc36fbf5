"""Real network-namespace tests of the lab primitives (root, no WireGuard kernel module)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.netns import DEFAULT_PRIVATE_DIRS, Lab, LabCommandError, Node
from lab.services import generate_ssh_keypair, ssh, start_sshd, start_web_logger

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root"),
]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def lab() -> Iterator[Lab]:
    with Lab() as lab:
        yield lab
    assert_torn_down(lab.prefix, lab.run_dir, lab.spawned_pids())


def alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def assert_torn_down(prefix: str, run_dir: Path, pids: list[int]) -> None:
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert [line for line in namespaces.splitlines() if line.startswith(f"{prefix}-")] == []
    assert [pid for pid in pids if alive(pid)] == []
    mounts = subprocess.run(["findmnt", "-rn", "-o", "TARGET"], capture_output=True, text=True, check=True).stdout
    assert [m for m in mounts.splitlines() if m.startswith(str(run_dir))] == []
    assert not run_dir.exists()


def wire(lab: Lab, a: Node, a_if: str, a_cidr: str, b: Node, b_if: str, b_cidr: str) -> None:
    lab.link(a, a_if, b, b_if)
    a.add_address(a_if, a_cidr)
    b.add_address(b_if, b_cidr)


def ping(node: Node, address: str) -> bool:
    return node.run(["ping", "-c", "1", "-W", "1", address], check=False).returncode == 0


def test_linked_nodes_ping_each_other(lab: Lab) -> None:
    a, b = lab.node("a"), lab.node("b")
    wire(lab, a, "eth0", "192.0.2.1/24", b, "eth0", "192.0.2.2/24")
    assert ping(a, "192.0.2.2")
    assert ping(b, "192.0.2.1")
    # Each node sees only its own interfaces (its own /sys too).
    assert a.run("ls /sys/class/net").stdout.split() == ["eth0", "lo"]
    assert "192.0.2.1/24" not in subprocess.run(["ip", "-br", "addr"], capture_output=True, text=True).stdout


def test_router_forwards_only_with_its_own_ip_forward(lab: Lab) -> None:
    host_forward = Path("/proc/sys/net/ipv4/ip_forward").read_text()
    a, r, b = lab.node("a"), lab.node("r"), lab.node("b")
    wire(lab, a, "eth0", "192.0.2.10/24", r, "lan0", "192.0.2.1/24")
    wire(lab, b, "eth0", "198.51.100.10/24", r, "lan1", "198.51.100.1/24")
    a.add_route("default", via="192.0.2.1")
    b.add_route("default", via="198.51.100.1")
    r.sysctl("net.ipv4.ip_forward", 0)
    assert not ping(a, "198.51.100.10")
    r.sysctl("net.ipv4.ip_forward", 1)
    assert ping(a, "198.51.100.10")
    assert ping(b, "192.0.2.10")
    assert a.run("sysctl -n net.ipv4.ip_forward").stdout.strip() == "0"
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text() == host_forward


def test_private_dirs_stay_in_their_node(lab: Lab) -> None:
    a, b = lab.node("a"), lab.node("b")
    host_had = {d: os.path.exists(d) for d in DEFAULT_PRIVATE_DIRS}
    a.write_file("/etc/wireguard/lab-secret.conf", "[Interface]\n", mode=0o600)
    a.run("echo hi > /etc/wgsites/marker && echo x > /usr/local/sbin/lab-tool")
    assert a.read_file("/etc/wireguard/lab-secret.conf") == "[Interface]\n"
    assert a.run("stat -c %a /etc/wireguard/lab-secret.conf").stdout.strip() == "600"
    assert (a.dir / "root/etc/wireguard/lab-secret.conf").read_text() == "[Interface]\n"
    for path in ("/etc/wireguard/lab-secret.conf", "/etc/wgsites/marker", "/usr/local/sbin/lab-tool"):
        assert b.run(["test", "-e", path], check=False).returncode == 1, path
        assert not os.path.exists(path), path
    assert {d: os.path.exists(d) for d in DEFAULT_PRIVATE_DIRS} == host_had
    with pytest.raises(ValueError):
        a.write_file("/etc/lab-should-not-exist", "x")
    with pytest.raises(LabCommandError) as failed:
        a.run("echo oops >&2; exit 3")
    assert (failed.value.returncode, failed.value.stderr) == (3, "oops\n")


def test_wireguard_go_runs_per_node_without_socket_clash(lab: Lab) -> None:
    a, b = lab.node("a"), lab.node("b")
    pids = [node.spawn(["wireguard-go", "-f", "wg0"]) for node in (a, b)]
    for node in (a, b):
        deadline = time.monotonic() + 10
        while node.run(["wg", "show", "wg0"], check=False).returncode != 0:
            assert time.monotonic() < deadline, lab.log_tail(pids[0]) + lab.log_tail(pids[1])
            time.sleep(0.05)
        assert node.run(["wg", "show", "interfaces"]).stdout.split() == ["wg0"]
    assert all(lab.is_running(pid) for pid in pids)
    key = a.run(["wg", "genkey"]).stdout
    a.write_file("/etc/wireguard/wg0.key", key, mode=0o600)
    a.run(["wg", "set", "wg0", "private-key", "/etc/wireguard/wg0.key"])
    public = a.run(["wg", "pubkey"], input=key).stdout.strip()
    assert a.run(["wg", "show", "wg0", "public-key"]).stdout.strip() == public
    assert b.run(["wg", "show", "wg0", "public-key"]).stdout.strip() == "(none)"
    assert (a.dir / "root/var/run/wireguard/wg0.sock").exists()
    assert not os.path.exists("/var/run/wireguard/wg0.sock")


def test_sshd_runs_commands_with_stdin_in_the_node(lab: Lab) -> None:
    a, b = lab.node("a"), lab.node("b")
    wire(lab, a, "eth0", "203.0.113.1/24", b, "eth0", "203.0.113.2/24")
    key, public = generate_ssh_keypair(lab.run_dir / "keys")
    start_sshd(b, public, listen="203.0.113.2")
    done = ssh(a, host="203.0.113.2", port=22, user="root", key=key, command="cat > /etc/wireguard/x && id -u", input="payload\n")
    assert done.stdout == "0\n"
    assert (b.dir / "root/etc/wireguard/x").read_text() == "payload\n"
    assert not (a.dir / "root/etc/wireguard/x").exists()
    assert not os.path.exists("/etc/wireguard/x")
    stranger, _ = generate_ssh_keypair(lab.run_dir / "stranger")
    refused = ssh(a, host="203.0.113.2", port=22, user="root", key=stranger, command="true", check=False)
    assert refused.returncode == 255
    assert "Permission denied (publickey)" in refused.stderr


def test_web_logger_logs_client_source_address(lab: Lab) -> None:
    server, c1, c2 = lab.node("srv"), lab.node("c1"), lab.node("c2")
    wire(lab, c1, "eth0", "10.20.0.2/24", server, "eth1", "10.20.0.1/24")
    wire(lab, c2, "eth0", "10.30.0.2/24", server, "eth2", "10.30.0.1/24")
    log = start_web_logger(server, "0.0.0.0", 80)
    get = "import urllib.request as u, sys; print(u.build_opener(u.ProxyHandler({})).open(sys.argv[1]).read().decode(), end='')"
    assert c1.run([sys.executable, "-c", get, "http://10.20.0.1/"]).stdout == "10.20.0.2\n"
    assert c2.run([sys.executable, "-c", get, "http://10.30.0.1:80/x"]).stdout == "10.30.0.2\n"
    assert log.read_text().splitlines() == ["10.20.0.2", "10.30.0.2"]


def test_teardown_cleans_up_after_an_exception() -> None:
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    with pytest.raises(RuntimeError, match="boom"), Lab() as lab:
        a, b = lab.node("a"), lab.node("b")
        lab.link(a, "eth0", b, "eth0")
        lab.node("c").spawn("sleep 300")
        # A daemon started by `run` leaves our process group: teardown must still end it.
        escaped = int(a.run("setsid sleep 301 </dev/null >/dev/null 2>&1 & echo $!").stdout)
        assert alive(escaped)
        assert signal.getsignal(signal.SIGTERM) != handlers[signal.SIGTERM]
        raise RuntimeError("boom")
    assert_torn_down(lab.prefix, lab.run_dir, [*lab.spawned_pids(), escaped])
    assert {sig: signal.getsignal(sig) for sig in handlers} == handlers
    lab.teardown()  # idempotent


def test_sigterm_tears_the_lab_down() -> None:
    script = (
        "import json, time\n"
        "from lab.netns import Lab\n"
        "lab = Lab()\n"
        "node = lab.node('a')\n"
        "pid = node.spawn('sleep 300')\n"
        "print(json.dumps([lab.prefix, str(lab.run_dir), pid]), flush=True)\n"
        "time.sleep(60)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}
    )
    assert child.stdout is not None
    prefix, run_dir, pid = json.loads(child.stdout.readline())
    assert alive(pid)
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=20) == -signal.SIGTERM
    assert_torn_down(prefix, Path(run_dir), [pid])


def test_resolvconf_in_a_node_changes_only_that_node(lab: Lab) -> None:
    """wg-quick's `DNS =` runs resolvconf: the lab's own (lab/resolvconf, no openresolv on this machine), which
    writes the node's /etc/resolv.conf, never this machine's, and gives the node's own back at down."""
    before = Path("/etc/resolv.conf").read_bytes()
    had_state = Path("/run/resolvconf").exists()
    had_backup = Path("/etc/resolv.conf.bak").exists()  # openresolv backs up a resolv.conf it did not write
    a, b = lab.node("a"), lab.node("b")
    own = a.read_file("/etc/resolv.conf")
    assert own.startswith("# a: a lab node's own resolv.conf")
    assert a.run("command -v resolvconf").stdout.strip() == "/usr/local/sbin/resolvconf"
    a.run("printf 'nameserver 203.0.113.251\\n' | resolvconf -a tun.wg0 -m 0 -x")
    assert "nameserver 203.0.113.251" in a.read_file("/etc/resolv.conf")
    assert "203.0.113.251" not in b.read_file("/etc/resolv.conf")
    a.run(["resolvconf", "-d", "tun.wg0", "-f"])
    assert a.read_file("/etc/resolv.conf") == own
    assert Path("/etc/resolv.conf").read_bytes() == before
    assert Path("/run/resolvconf").exists() == had_state
    assert Path("/etc/resolv.conf.bak").exists() == had_backup


OWN_MOUNT_NAMESPACE_ID = """
import fcntl, os, struct
fd = os.open("/proc/self/ns/mnt", os.O_RDONLY)
answer = bytearray(8)
fcntl.ioctl(fd, 0x8008B705, answer)  # NS_GET_MNTNS_ID (linux/nsfs.h)
print(struct.unpack("Q", answer)[0])
"""
# inside the outer namespace, pinned to the CPU whose IDs are lower: first a bare bind (the kernel's refusal, shown),
# then a lab of two nodes
LAB_IN_A_CONTAINER = """
import subprocess, tempfile
from lab.netns import Lab
folder = tempfile.mkdtemp()
subprocess.run(["mount", "--bind", folder, folder], check=True)
subprocess.run(["mount", "--make-private", folder], check=True)
open(f"{folder}/x.mnt", "w").close()
bare = subprocess.run(["unshare", f"--mount={folder}/x.mnt", "true"], capture_output=True, text=True)
print("bare bind refused:", bare.returncode != 0 and "Invalid argument" in bare.stderr)
with Lab() as lab:
    lab.node("a"), lab.node("b")
    print("nodes made:", lab.node("c").run(["cat", "/proc/self/mountinfo"]).returncode == 0)
"""


def test_a_lab_in_a_container_makes_its_nodes_whatever_cpu_it_runs_on() -> None:
    """docs/lab-notes.md 20: a mount namespace's ID comes from a batch per CPU, so one made later can have a lower ID,
    and the kernel refuses to bind a namespace whose ID is not above the binder's. A container's namespace is such a
    binder: made here on the CPU whose batch is higher, the lab inside it pinned to the other."""
    ids = {}
    for cpu in sorted(os.sched_getaffinity(0)):
        argv = ["taskset", "--cpu-list", str(cpu), "unshare", "--mount", sys.executable, "-c", OWN_MOUNT_NAMESPACE_ID]
        ids[cpu] = int(subprocess.run(argv, capture_output=True, text=True, check=True).stdout)
    high, low = max(ids, key=ids.get), min(ids, key=ids.get)
    if ids[high] == ids[low]:
        pytest.skip("one CPU: mount namespace IDs come from one batch")
    outer = ["taskset", "--cpu-list", str(high), "unshare", "--mount", "--propagation", "private"]
    inner = ["taskset", "--cpu-list", str(low), sys.executable, "-c", LAB_IN_A_CONTAINER]
    done = subprocess.run([*outer, *inner], capture_output=True, text=True, cwd=REPO, timeout=120)
    if "bare bind refused: False" in done.stdout:
        pytest.skip(f"this kernel handed the IDs out in order here ({ids}): nothing to show")
    assert done.returncode == 0 and "nodes made: True" in done.stdout, done.stdout + done.stderr
