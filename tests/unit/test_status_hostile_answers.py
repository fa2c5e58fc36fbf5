"""`wgsites status` against hosts that answer what they should not: every answer is untrusted input.

Three hosts managed over SSH (hub alpha, sites beta and gamma) and a phone. `status` runs through its
command line entry, as a user runs it, with a stand-in `ssh` first on PATH that prints each host's
prepared answer (stdout, stderr, exit status): no packet leaves this machine. beta answers badly,
in every way tried (every byte value, terminal escape sequences, 9 MiB, NaN, 1e400, 5000 digits,
another node's key, an unreachable host): each ends in a clean verdict for beta (its tunnels'
rows, `unknown` with the reason, or `shared-key`), nothing raw reaches the terminal, and alpha's
and gamma's rows are what they are without beta. The same hosts for real: tests/lab/test_status.py.
"""

from __future__ import annotations

import functools
import json
import os
import re
import time
from pathlib import Path

import pytest
import yaml

from wgsites.operations import cli
from wgsites.operations.host_answer import ask_host
from wgsites.operations.host_status import collect, format_rows, json_rows
from wgsites.rendering.render import KeyRing, render_wg_quick
from wgsites.stack.keys import generate_private_key, public_key_of
from wgsites.stack.parse import parse_vpn
from wgsites.stack.plaintext import escaped

STACK = "hostile"
VPN = {
    "network": "10.10.9.0/24",
    "listenPort": 51000,
    "hub": {
        "name": "alpha",
        "kind": "ssh",
        "address": "10.10.9.1",
        "endpoint": "192.0.2.1",
        "lans": ["10.10.10.0/24"],
        "ssh": {"host": "10.10.10.1"},
    },
    "sites": [
        {"name": "beta", "address": "10.10.9.2", "lans": ["10.10.11.0/24"], "ssh": {"host": "10.10.11.1"}},
        {"name": "gamma", "address": "10.10.9.3", "lans": ["10.10.12.0/24"], "ssh": {"host": "10.10.12.1"}},
    ],
    "peers": [{"name": "phone", "address": "10.10.9.10"}],
}
HOSTS = {"alpha": "10.10.10.1", "beta": "10.10.11.1", "gamma": "10.10.12.1"}
KEYS = {name: public_key_of(generate_private_key()) for name in ("alpha", "beta", "gamma", "phone")}
ENDPOINT = "203.0.113.9:4242"

FAKE_SSH = """#!/bin/sh
# stands in for OpenSSH: prints the prepared answer of the host named in USER@HOST
host=
for a in "$@"; do case "$a" in *@*) [ -z "$host" ] && host=${a#*@} ;; esac; done
echo "$host" >>"$FAKE_SSH_DIR/asked"
[ -f "$FAKE_SSH_DIR/$host.err" ] && cat "$FAKE_SSH_DIR/$host.err" >&2
[ -f "$FAKE_SSH_DIR/$host.out" ] && cat "$FAKE_SSH_DIR/$host.out"
exit "$(cat "$FAKE_SSH_DIR/$host.rc" 2>/dev/null || echo 0)"
"""


@functools.cache
def installed(node: str) -> str:
    return render_wg_quick(parse_vpn(VPN), node, STACK, KeyRing(public=dict(KEYS)))


def state(node: str, *, key: str | None = None, endpoint: str = ENDPOINT, handshake: str | None = None) -> bytes:
    """What NODE's install script prints for `state`: its records, `wg show dump`, its installed config."""
    config = installed(node)
    handshake = handshake if handshake is not None else str(int(time.time()) - 10)
    lines = [f"installed yes\nowner {STACK}/{node}\nkey {key or KEYS[node]}\nrepaired -", "[dump]"]
    lines.append(f"(hidden)\t{KEYS[node]}\t51000\toff")
    for block in config.split("[Peer]")[1:]:
        public = re.search(r"PublicKey = (\S+)", block).group(1)
        allowed = re.search(r"AllowedIPs = (.+)", block).group(1).replace(" ", "")
        lines.append(f"{public}\t(none)\t{endpoint}\t{allowed}\t{handshake}\t1000\t2000\toff")
    return "\n".join([*lines, "[config]", config]).encode()


@pytest.fixture
def hosts(tmp_path, monkeypatch) -> Path:
    """A folder of answers, one per host (HOST.out, .err, .rc), all well-behaved to start with."""
    folder = tmp_path / "answers"
    folder.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ssh").write_text(FAKE_SSH)
    (bin_dir / "ssh").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SSH_DIR", str(folder))
    for node, host in HOSTS.items():
        (folder / f"{host}.out").write_bytes(state(node))
    (tmp_path / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump({"config": {"wgsites:vpn": VPN}}))
    return folder


def answer(hosts: Path, node: str, stdout: bytes = b"", stderr: bytes = b"", rc: int = 0) -> None:
    host = HOSTS[node]
    (hosts / f"{host}.out").write_bytes(stdout)
    (hosts / f"{host}.err").write_bytes(stderr)
    (hosts / f"{host}.rc").write_text(str(rc))


def status(hosts: Path, capsys, *extra: str) -> tuple[int, str, list[dict]]:
    """`wgsites status` as text and as --json: (exit status, the table, the rows)."""
    stack_file = str(hosts.parent / f"Pulumi.{STACK}.yaml")
    code = cli.main(["status", stack_file, *extra])
    text = capsys.readouterr()
    assert cli.main(["status", stack_file, "--json", *extra]) == code
    rows = json.loads(capsys.readouterr().out)
    assert "Traceback" not in text.out + text.err
    return code, text.out, rows


def collected(hosts: Path) -> tuple[str, list[dict]]:
    """The same rows without the command line around them (the byte-by-byte tests run 512 times)."""
    vpn = parse_vpn(VPN)
    rows = collect(vpn, STACK, lambda node, command: ask_host(vpn.node(node).ssh, command))
    return format_rows(rows), json_rows(rows)


def inert(text: str) -> bool:
    """No character a terminal acts on: C0 and C1 controls (but the table's line breaks), DEL, bidi and separators."""
    return not any((ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) < 0xA0 or c in "\u2028\u2029\u202e\u200f" for c in text)


def by_node(rows: list[dict], node: str) -> list[tuple[str, str]]:
    return [(r["peer"], r["state"]) for r in rows if r["node"] == node]


GOOD = {
    "alpha": [("beta", "ok"), ("gamma", "ok"), ("phone", "ok")],
    "beta": [("alpha", "ok")],
    "gamma": [("alpha", "ok")],
}


def test_all_hosts_well_behaved(hosts, capsys):
    code, text, rows = status(hosts, capsys)
    assert code == 0, text
    assert {node: by_node(rows, node) for node in GOOD} == GOOD
    assert re.search(rf"handshake \d+ s ago from {re.escape(ENDPOINT)}, 1000 B in, 2000 B out", text), text


def assert_beta_alone_unknown(rows: list[dict], text: str, *reason: str) -> None:
    assert by_node(rows, "beta") == [("alpha", "unknown")], text
    assert by_node(rows, "alpha") == GOOD["alpha"] and by_node(rows, "gamma") == GOOD["gamma"], text
    detail = next(r["detail"] for r in rows if r["node"] == "beta")
    assert detail.startswith("beta cannot tell: "), detail
    for part in reason:
        assert part in detail, detail
    assert inert(text), text


@pytest.mark.parametrize("value", range(256), ids=lambda v: f"0x{v:02x}")
def test_every_byte_value_in_a_printed_field_ends_in_a_clean_verdict(hosts, capsys, value):
    """The endpoint is printed in the row: one byte of every value inside it, raw from the host."""
    broken = state("beta").replace(b"203.0.113.9:", b"203.0.113.9" + bytes([value]) + b":")
    answer(hosts, "beta", broken)
    text, rows = collected(hosts)
    assert inert(text), text
    assert by_node(rows, "alpha") == GOOD["alpha"] and by_node(rows, "gamma") == GOOD["gamma"], text
    (row,) = [r for r in rows if r["node"] == "beta"]
    if row["state"] == "ok":  # a digit: another address, rebuilt from its parsed parts
        assert chr(value).isdigit() and row["endpoint"] == f"203.0.113.9{chr(value)}:4242", row
    else:
        assert row["state"] == "unknown", row
        why = "not UTF-8" if value >= 0x80 else ("fields" if chr(value) in "\t\n\r\x0b\x0c\x1c\x1d\x1e\x85" else "endpoint")
        assert why in row["detail"], (why, row)


@pytest.mark.parametrize("value", range(256), ids=lambda v: f"0x{v:02x}")
def test_every_byte_value_in_a_number_ends_in_a_clean_verdict(hosts, capsys, value):
    broken = state("beta", handshake=f"{int(time.time()) - 10}").replace(b"\t1000\t", b"\t10" + bytes([value]) + b"00\t")
    answer(hosts, "beta", broken)
    text, rows = collected(hosts)
    assert inert(text), text
    assert by_node(rows, "alpha") == GOOD["alpha"] and by_node(rows, "gamma") == GOOD["gamma"], text
    (row,) = [r for r in rows if r["node"] == "beta"]
    if chr(value).isdigit() and value < 0x80:
        assert row["state"] == "ok" and row["rx"] == int(f"10{chr(value)}00"), row
    else:
        assert row["state"] == "unknown", row


ESCAPES = {
    "CSI: erase the screen, move the cursor": "\x1b[2J\x1b[H",
    "OSC: the window title": "\x1b]0;owned\x07",
    "OSC 8: a hyperlink": "\x1b]8;;https://evil.example/\x1b\\click me\x1b]8;;\x1b\\",
    "BEL": "\x07",
    "backspace": "ok\x08\x08",
    "CR: overwrite the line": "\rbeta ok",
    "C1 CSI": "\u009b2J",
    "right-to-left override": "\u202e",
}


@pytest.mark.parametrize("sequence", ESCAPES.values(), ids=ESCAPES.keys())
def test_escape_sequences_in_an_endpoint_are_shown_escaped(hosts, capsys, sequence):
    answer(hosts, "beta", state("beta", endpoint=f"203.0.113.9:4242{sequence}"))
    code, text, rows = status(hosts, capsys)
    assert code == 1
    assert_beta_alone_unknown(rows, text, "root@10.10.11.1:22 answered a `wg show` dump whose line 2 has ", "check that host")
    if "\r" not in sequence:  # (a CR ends the line for wg's reader: the field count is told instead)
        assert f"an endpoint that is no IP:port (203.0.113.9:4242{escaped(sequence[:20])}" in text, text


@pytest.mark.parametrize("sequence", ESCAPES.values(), ids=ESCAPES.keys())
def test_escape_sequences_in_stderr_are_shown_escaped(hosts, capsys, sequence):
    """ssh's stderr carries the host's text (a banner, its shell's errors): only ever escaped."""
    answer(hosts, "beta", b"", f"kex: something{sequence} happened\n".encode(), 255)
    code, text, rows = status(hosts, capsys)
    assert_beta_alone_unknown(rows, text, "root@10.10.11.1:22: ssh failed (kex: something", "try it by hand")
    assert f"ssh failed (kex: something{escaped(sequence)} happened); try it by hand" in text, text
    answer(hosts, "beta", b"", f"bash: wgsites{sequence}: not found\n".encode(), 127)
    code, text, rows = status(hosts, capsys)
    assert_beta_alone_unknown(rows, text, "state action failed there (exit 127: bash: wgsites", "pulumi up")


NUMBERS = {
    "NaN": "NaN",
    "1e400": "1e400",
    "5000 digits": "9" * 5000,
    "2^64": str(2**64),
    "a superscript two": "\u00b2",
    "Arabic-Indic digits": "\u0661\u0662",
    "negative": "-5",
    "empty": "",
    "spaces": " 7 ",
}


@pytest.mark.parametrize("number", NUMBERS.values(), ids=NUMBERS.keys())
def test_a_bad_number_is_that_hosts_unknown_rows_only(hosts, capsys, number):
    answer(hosts, "beta", state("beta", handshake=number))
    code, text, rows = status(hosts, capsys)
    assert code == 1
    assert_beta_alone_unknown(rows, text, "root@10.10.11.1:22 answered", "latest handshake that is no whole number below 2^64")
    assert len(text) < 4000, "a 5000-digit number is cut, not printed"


def test_a_handshake_in_the_far_future_names_the_clock(hosts, capsys):
    answer(hosts, "beta", state("beta", handshake=str(int(time.time()) + 10 * 86400)))
    code, text, rows = status(hosts, capsys)
    assert_beta_alone_unknown(rows, text, "s in the future; check that host's clock")


def test_a_huge_answer_is_cut_at_the_cap_and_that_host_is_unknown(hosts, capsys):
    answer(hosts, "beta", state("beta") + b"x" * (9 * 1024 * 1024))
    started = time.monotonic()
    code, text, rows = status(hosts, capsys)
    assert_beta_alone_unknown(rows, text, "root@10.10.11.1:22 answered with more than 1 MiB")
    assert time.monotonic() - started < 20


def test_an_answer_that_is_no_state_is_unknown(hosts, capsys):
    answer(hosts, "beta", b"Welcome to beta!\n\x1b[5mnothing to see\x1b[0m\n")
    code, text, rows = status(hosts, capsys)
    assert_beta_alone_unknown(rows, text, "root@10.10.11.1:22: its install script printed no state", "pulumi up")


def test_a_host_running_another_nodes_key_is_named(hosts, capsys):
    """A compromised beta answers with the phone's public key (in the hub's config: public, by design)."""
    answer(hosts, "beta", state("beta", key=KEYS["phone"]))
    code, text, rows = status(hosts, capsys)
    assert code == 1
    shared = [r for r in rows if r["state"] == "shared-key"]
    assert [(r["node"], r["peer"]) for r in shared] == [("beta", "phone")], text
    assert shared[0]["detail"].startswith("beta answered with the public key of phone: WireGuard keeps one peer per key")
    assert "rm /etc/wireguard/wg0.key" in shared[0]["detail"] and "pulumi up --replace" in shared[0]["detail"]
    assert by_node(rows, "alpha") == GOOD["alpha"] and by_node(rows, "gamma") == GOOD["gamma"]


def test_two_hosts_running_one_key_are_both_named(hosts, capsys):
    answer(hosts, "gamma", state("gamma", key=KEYS["beta"]))
    code, text, rows = status(hosts, capsys)
    shared = sorted((r["node"], r["peer"]) for r in rows if r["state"] == "shared-key")
    assert shared == [("beta", "gamma"), ("gamma", "beta")], text


SSH_FAILURES = {
    "Connection timed out during banner exchange": ("no SSH greeting came within 10 s", "systemctl status ssh"),
    "ssh: connect to host 10.10.11.1 port 22: Connection timed out": ("no answer on port 22 within 10 s", "is up"),
    "ssh: connect to host 10.10.11.1 port 22: Connection refused": ("nothing listens on port 22", "start sshd"),
    "ssh: connect to host 10.10.11.1 port 22: No route to host": ("no route to 10.10.11.1", "ip route get"),
    "root@10.10.11.1: Permission denied (publickey).": ("refused every key offered", "--ssh-key PATH"),
    "Host key verification failed.": ("host key is not in your known_hosts", "ssh -p 22 root@10.10.11.1"),
    "@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@\nHost key verification failed.": (
        "another host key",
        "ssh-keygen -R 10.10.11.1",
    ),
    "kex_exchange_identification: Connection closed by remote host": ("closed the connection", "journalctl -u ssh"),
}


@pytest.mark.parametrize("said", SSH_FAILURES, ids=[s.splitlines()[-1][:40] for s in SSH_FAILURES])
def test_an_unreachable_host_names_the_host_the_cause_and_the_fix(hosts, capsys, said):
    cause, fix = SSH_FAILURES[said]
    answer(hosts, "beta", b"", said.encode() + b"\n", 255)
    code, text, rows = status(hosts, capsys)
    assert_beta_alone_unknown(rows, text, "root@10.10.11.1:22: ", cause, fix)


def test_an_unreachable_hub_shows_each_of_its_tunnels_unknown(hosts, capsys):
    answer(hosts, "alpha", b"", b"Connection timed out during banner exchange\n", 255)
    code, text, rows = status(hosts, capsys)
    assert code == 1
    assert by_node(rows, "alpha") == [("beta", "unknown"), ("gamma", "unknown"), ("phone", "unknown")], text
    assert all("root@10.10.10.1:22: the TCP connection opened" in r["detail"] for r in rows if r["node"] == "alpha")
    assert by_node(rows, "beta") == GOOD["beta"] and by_node(rows, "gamma") == GOOD["gamma"]


@pytest.mark.parametrize("problem", ["missing", "folder", "unreadable"])
def test_an_ssh_key_that_cannot_be_used_is_refused_before_any_host_is_asked(hosts, capsys, tmp_path, problem):
    key = tmp_path / "id_test"
    if problem == "folder":
        key.mkdir()
    elif problem == "unreadable":
        key.write_text("not for us")
        key.chmod(0)
        if key.open("rb"):  # root reads it anyway: make it unreadable by what it is instead
            key.unlink()
            key.symlink_to(key)  # a loop: open() fails (ELOOP)
    code = cli.main(["status", str(hosts.parent / f"Pulumi.{STACK}.yaml"), "--ssh-key", str(key)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"error: --ssh-key: {key} "), err
    assert "leave it out to use your SSH agent" in err
    assert not (hosts / "asked").exists()  # no host was asked


@pytest.mark.parametrize("port", ["\u00b2", "9" * 5000, "NaN", "\x1b[2J"], ids=["superscript", "5000 digits", "NaN", "CSI"])
def test_a_bad_listen_port_on_the_interface_line_is_that_hosts_unknown_rows_only(hosts, capsys, port):
    broken = state("beta").replace(f"{KEYS['beta']}\t51000\t".encode(), f"{KEYS['beta']}\t{port}\t".encode())
    answer(hosts, "beta", broken)
    code, text, rows = status(hosts, capsys)
    assert code in (0, 1) and inert(text) and len(text) < 4000, text
    assert by_node(rows, "alpha") == GOOD["alpha"] and by_node(rows, "gamma") == GOOD["gamma"], text
    # unknown (the number does not parse) or drift (the drift reader drops it: "listens on port None")
    assert {r["state"] for r in rows if r["node"] == "beta"} <= {"unknown", "drift", "ok"}, text


def test_sudo_asking_for_a_password_names_the_user_and_the_fix(hosts, capsys):
    answer(hosts, "beta", b"", b"sudo: a password is required\n", 1)
    code, text, rows = status(hosts, capsys)
    assert_beta_alone_unknown(rows, text, "root@10.10.11.1:22: root on 10.10.11.1 needs a password for sudo", "passwordless")
