"""`wgsites status` against the real OpenSSH client and server: each way a host cannot be read names the
host, the cause and the fix, and what the host itself sends back reaches the operator only escaped.

One lab: `host` runs a real sshd (and a TCP listener that never speaks SSH); `op` is the operator's
machine, with a /root/.ssh of its own (its known_hosts), where status's reader (host_answer.ask_host)
runs the real `ssh`. The model of these messages (tests/unit/test_status_hostile_answers.py) uses
the words checked here. Then `wgsites status` itself, from `op`, against the hub installed for real by
its install script and a site nobody answers for, before and after the hub's `wg` puts escape
sequences into its dump.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

from lab.netns import DEFAULT_PRIVATE_DIRS, Lab
from lab.services import generate_ssh_keypair, start_sshd
from wgsites.rendering.render import KeyRing, install_command, render_wg_quick
from wgsites.stack.keys import generate_private_key, public_key_of
from wgsites.stack.parse import parse_vpn

ROOT = Path(__file__).resolve().parents[2]
HOST = "192.0.2.2"
ASK = """
import sys
from wgsites.operations.host_answer import HostAnswerError, ask_host
from wgsites.stack.model import SshTarget
host, port, key, command = sys.argv[1:]
try:
    answer = ask_host(SshTarget(host, int(port)), command, key or None)
    print("ANSWER", len(answer), answer[:100])
except HostAnswerError as exc:
    print("ERROR", exc)
"""

RAW = {
    "network": "10.70.0.0/24",
    "hub": {"name": "hub", "kind": "ssh", "address": "10.70.0.1", "endpoint": HOST, "ssh": {"host": HOST}},
    "sites": [{"name": "s1", "address": "10.70.0.2", "ssh": {"host": "192.0.2.9"}}],  # on the link, nobody there
}
VPN = parse_vpn(RAW)
S1_KEY = public_key_of(generate_private_key())
CONFIG = render_wg_quick(VPN, "hub", "lab", KeyRing(public={"s1": S1_KEY}))
# a `wg` whose dump carries a title and an erase in each peer's endpoint (the install script's state reads it)
ESCAPING_WG = r"""#!/bin/sh
if [ "$1" = show ] && [ "$3" = dump ]; then
	/usr/bin/wg "$@" | awk -F'\t' -v OFS='\t' 'NR > 1 { $3 = "198.51.100.7:4242\033]0;owned\007\033[2J" } { print }'
else
	exec /usr/bin/wg "$@"
fi
"""


def test_each_ssh_failure_and_each_bad_answer_is_told_with_host_cause_and_fix():
    with Lab() as lab:
        host, op = lab.node("host"), lab.node("op", (*DEFAULT_PRIVATE_DIRS, "/root/.ssh"))
        lab.link(op, "eth0", host, "eth0")
        op.add_address("eth0", "192.0.2.1/24")
        host.add_address("eth0", f"{HOST}/24")
        key, public = generate_ssh_keypair(lab.run_dir)
        stranger, _ = generate_ssh_keypair(lab.run_dir, "id_stranger")
        start_sshd(host, public, HOST)
        # accepts every connection and says nothing: sshd hung, or something else on the port
        silent = "import socket; s=socket.socket(); s.bind(('192.0.2.2',2222)); s.listen(); h=[]\nwhile 1: h.append(s.accept())"
        host.spawn([sys.executable, "-c", silent])
        host.wait_for_port(HOST, 2222)

        def ask(command: str = "echo hi", port: int = 22, ssh_key: Path | None = key, where: str = HOST) -> str:
            argv = [sys.executable, "-c", ASK, where, str(port), str(ssh_key or ""), command]
            return op.run(argv, env={"PYTHONPATH": str(ROOT)}, timeout=60).stdout.strip()

        said = ask()
        assert said.startswith(f"ERROR root@{HOST}:22: {HOST}'s host key is not in your known_hosts"), said
        assert f"ssh -p 22 root@{HOST}" in said
        host_key = next((lab.run_dir / "host").rglob("ssh_host_ed25519_key.pub")).read_text().split()[:2]
        op.write_file("/root/.ssh/known_hosts", f"{HOST} {' '.join(host_key)}\n", 0o600)
        assert ask() == "ANSWER 3 hi"

        said = ask(ssh_key=stranger)
        assert said.startswith(f"ERROR root@{HOST}:22: root@{HOST} refused every key offered; give the key"), said
        said = ask(port=2223)
        assert said.startswith(f"ERROR root@{HOST}:2223: nothing listens on port 2223"), said
        said = ask(port=2222)
        assert said.startswith(f"ERROR root@{HOST}:2222: the TCP connection opened but no SSH greeting came"), said
        said = ask(where="192.0.2.77")  # on the link, but no one answers ARP
        assert said.startswith("ERROR root@192.0.2.77:22: no route to 192.0.2.77") or "no answer on port 22" in said, said

        # what the host sends back: its stderr escaped, its stdout capped and strictly decoded
        said = ask("printf 'bad\\r\\033]0;owned\\007\\033[2Jend' >&2; exit 3")
        assert said == (
            f"ERROR root@{HOST}:22: the install script's state action failed there (exit 3: bad\\r\\x1b]0;owned"
            "\\x07\\x1b[2Jend); run `pulumi up` to install the current script, then look at the host"
        ), said
        said = ask("head -c 9437184 /dev/zero")
        assert said.startswith(f"ERROR root@{HOST}:22 answered with more than 1 MiB"), said
        said = ask("printf 'ok\\377'")
        assert said.startswith(f"ERROR root@{HOST}:22 answered with bytes that are not UTF-8 text (0xff at byte 2)"), said

        # the whole command line, as a user runs it: a hub installed for real, a site that cannot be reached
        host.run(install_command(VPN, "hub", "lab", "install"), input=CONFIG)
        stack = lab.run_dir / "Pulumi.lab.yaml"
        stack.write_text(yaml.safe_dump({"config": {"wgsites:vpn": RAW}}))

        def status() -> str:
            argv = [sys.executable, "-m", "wgsites", "status", str(stack), "--ssh-key", str(key)]
            done = op.run(argv, env={"PYTHONPATH": str(ROOT)}, check=False, timeout=90)
            assert done.returncode == 1 and "Traceback" not in done.stderr, done.stdout + done.stderr
            assert not any(ord(c) < 0x20 and c != "\n" for c in done.stdout + done.stderr), repr(done.stdout)
            return done.stdout

        shown = status()
        assert re.search(r"^hub +s1 +never +s1 never completed a handshake with hub", shown, re.M), shown
        assert re.search(r"^s1 +hub +unknown +s1 cannot tell: root@192\.0\.2\.9:22: (no route|no answer)", shown, re.M), shown

        host.write_file("/usr/local/sbin/wg", ESCAPING_WG, 0o755)  # first on PATH over SSH: the node's own
        shown = status()
        assert re.search(r"^s1 +hub +unknown +s1 cannot tell: root@192\.0\.2\.9:22: ", shown, re.M), shown  # as before
        hub = (
            "hub cannot tell: root@192.0.2.2:22 answered a `wg show` dump whose line 2 has an endpoint that is no "
            "IP:port (198.51.100.7:4242\\x1b]0;owned\\x07\\x1b[2J); check that host"
        )
        assert re.search(rf"^hub +s1 +unknown +{re.escape(hub)}$", shown, re.M), shown

        # the hub's key file now answers s1's public key (in the hub's own config: public): named as such
        host.write_file(
            "/usr/local/sbin/wg", f'#!/bin/sh\n[ "$1" = pubkey ] && echo {S1_KEY} && exit 0\nexec /usr/bin/wg "$@"\n', 0o755
        )
        shown = status()
        assert re.search(r"^hub +s1 +shared-key +hub answered with the public key of s1: WireGuard keeps one peer", shown, re.M)
        assert "rm /etc/wireguard/wg0.key" in shown, shown
