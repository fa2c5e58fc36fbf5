"""The gateway's agent follows the IPv6 addresses EC2 assigns its primary interface, against a recording IMDS stand-in.

`hub.ipv6Egress` turned on for a running gateway assigns an address after boot (an update in place), which
cloud-init never configures: the agent adds it on the interface that has the primary MAC, and removes it
when EC2 unassigns it, never an address it did not add. Every IMDS answer is hostile input: a bad one is
one logged refusal and no change. The lab proves the same agent on a real interface, with the phone's IPv6
leaving through the address (tests/lab/test_gateway_ipv6_after_boot.py).
"""

from __future__ import annotations

import ipaddress
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.gateway_programs import agent_module

MAC = "0a:1b:2c:3d:4e:5f"
TOKEN = "AQAEAFTx-test-token=="
ADDRESS, BLOCK = "2001:db8:7::1234", "2001:db8:7::/64"
BASE = f"/latest/meta-data/network/interfaces/macs/{MAC}"


class Imds:
    """IMDSv2 as the instance sees it: PUT a token, then GETs carrying it; PATHS answers (None: 404). Recorded."""

    def __init__(self):
        self.paths: dict[str, bytes | None] = {"/latest/meta-data/mac": MAC.encode()}
        self.requests: list[tuple[str, str, str | None]] = []
        self.status: int | None = None  # every GET answers with this status instead
        imds = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self):  # noqa: N802 - http.server's name
                imds.requests.append(("PUT", self.path, self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")))
                self.answer(200, TOKEN.encode())

            def do_GET(self):  # noqa: N802 - http.server's name
                imds.requests.append(("GET", self.path, self.headers.get("X-aws-ec2-metadata-token")))
                body = imds.paths.get(self.path)
                if imds.status:
                    self.answer(imds.status, b"", location="http://127.0.0.1:9/")
                elif self.headers.get("X-aws-ec2-metadata-token") != TOKEN:
                    self.answer(401, b"")
                else:
                    self.answer(404 if body is None else 200, body or b"")

            def answer(self, code: int, body: bytes, location: str | None = None):
                self.send_response(code)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def assign(self, addresses: list[str] | None, blocks: list[str] | None = None) -> None:
        self.paths[f"{BASE}/ipv6s"] = None if addresses is None else "\n".join(addresses).encode()
        self.paths[f"{BASE}/subnet-ipv6-cidr-blocks"] = None if blocks is None else "\n".join(blocks).encode()


class Uplink:
    """`ip` on one interface (ens5): its global IPv6 addresses, every change recorded."""

    def __init__(self):
        self.addresses: dict[str, int] = {}
        self.changes: list[list[str]] = []

    def run(self, argv, **kwargs):
        if argv[:3] == ["ip", "-j", "-6"]:
            # as iproute2 prints it: an address the scope filter left out (the link-local one) is an empty object
            info = [{"family": "inet6", "local": a, "prefixlen": n, "scope": "global"} for a, n in self.addresses.items()]
            info.append({})
            return subprocess.CompletedProcess(argv, 0, f'[{{"ifname": "ens5", "addr_info": {info}}}]'.replace("'", '"'), "")
        if argv[:4] in (["ip", "-6", "address", "add"], ["ip", "-6", "address", "del"]):
            self.changes.append(argv)
            interface = ipaddress.IPv6Interface(argv[4])
            if argv[3] == "add":
                self.addresses[str(interface.ip)] = interface.network.prefixlen
            else:
                del self.addresses[str(interface.ip)]
            return subprocess.CompletedProcess(argv, 0, "", "")
        raise AssertionError(f"unexpected command {argv}")


@pytest.fixture
def imds():
    stand_in = Imds()
    yield stand_in
    stand_in.server.shutdown()


@pytest.fixture
def agent(tmp_path, monkeypatch, imds):
    net = tmp_path / "net"
    for name, mac in (("lo", "00:00:00:00:00:00"), ("ens5", MAC.upper()), ("wg0", "")):
        (net / name).mkdir(parents=True)
        (net / name / "address").write_text(mac + "\n")
    monkeypatch.setenv("WGSITES_IMDS", imds.url)
    monkeypatch.setenv("WGSITES_SYS_NET", str(net))
    monkeypatch.setenv("WGSITES_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")  # never used: IMDS is asked directly
    module = agent_module("wgsites_sync_imds")
    module.uplink = Uplink()
    monkeypatch.setattr(module.subprocess, "run", module.uplink.run)
    return module


def test_an_address_assigned_after_boot_is_added_and_removed_when_unassigned(agent, imds, capsys):
    imds.assign(None)  # before: no IPv6 (IMDS answers 404 for the key)
    agent.sync_uplink_ipv6("wg0")
    assert agent.uplink.changes == []
    assert imds.requests[0] == ("PUT", "/latest/api/token", "60")
    assert all(token == TOKEN for method, _path, token in imds.requests[1:])

    imds.assign([ADDRESS], [BLOCK])  # ipv6Egress on: the provider assigned one
    agent.sync_uplink_ipv6("wg0")
    agent.sync_uplink_ipv6("wg0")  # the next period: already there
    assert agent.uplink.changes == [["ip", "-6", "address", "add", f"{ADDRESS}/64", "dev", "ens5"]]
    assert agent.uplink.addresses == {ADDRESS: 64}

    imds.assign(None)  # ipv6Egress off: unassigned
    agent.sync_uplink_ipv6("wg0")
    assert agent.uplink.changes[1:] == [["ip", "-6", "address", "del", f"{ADDRESS}/64", "dev", "ens5"]]
    assert agent.uplink.addresses == {}
    log = capsys.readouterr().err
    assert f"{ADDRESS}/64 (assigned by EC2) added to ens5" in log and "removed from ens5" in log


def test_an_address_the_agent_did_not_add_stays(agent, imds):
    agent.uplink.addresses = {"2001:db8:9::5": 64}  # configured at boot (cloud-init), or by the operator
    imds.assign(None)
    agent.sync_uplink_ipv6("wg0")
    assert agent.uplink.changes == [] and agent.uplink.addresses == {"2001:db8:9::5": 64}


HOSTILE = {
    "no address": ([b"not-an-address"], [BLOCK.encode()], "At least 3 parts expected in 'not-an-address'"),
    "too long": ([b"2001:db8:7::1\n" * 400], [BLOCK.encode()], "more than 4096 bytes"),
    "too many": ([f"2001:db8:7::{i:x}".encode() for i in range(1, 40)], [BLOCK.encode()], "39 lines, at most 16"),
    "outside its block": ([b"2001:db8:8::1"], [BLOCK.encode()], "lies in no subnet block"),
    "no block": ([ADDRESS.encode()], None, "lies in no subnet block"),
    "block with host bits": ([ADDRESS.encode()], [b"2001:db8:7::1/64"], "has host bits set"),
    "link-local": ([b"fe80::1"], [b"fe80::/64"], "no unicast address"),
    "multicast": ([b"ff02::1"], [b"ff02::/64"], "no unicast address"),
    "not ASCII": (["2001:db8:7::1\u00e9".encode()], [BLOCK.encode()], "not ASCII"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_imds_answer_is_one_logged_refusal_and_changes_nothing(agent, imds, capsys, case):
    addresses, blocks, said = HOSTILE[case]
    imds.paths[f"{BASE}/ipv6s"] = b"\n".join(addresses)
    imds.paths[f"{BASE}/subnet-ipv6-cidr-blocks"] = None if blocks is None else b"\n".join(blocks)
    agent.sync_uplink_ipv6("wg0")
    agent.sync_uplink_ipv6("wg0")  # the same refusal is logged once, not every period
    assert agent.uplink.changes == []
    log = capsys.readouterr().err
    assert log.count("IMDS answer refused") == 1 and said in log, log


def test_a_refusal_keeps_the_address_the_agent_added(agent, imds, capsys):
    imds.assign([ADDRESS], [BLOCK])
    agent.sync_uplink_ipv6("wg0")
    imds.paths["/latest/meta-data/mac"] = b"<html>not a mac</html>"
    agent.sync_uplink_ipv6("wg0")
    assert agent.uplink.addresses == {ADDRESS: 64} and len(agent.uplink.changes) == 1
    assert "not a MAC address" in capsys.readouterr().err


@pytest.mark.parametrize("status", [500, 302, 401])
def test_an_imds_error_or_redirect_is_refused(agent, imds, capsys, status):
    imds.assign([ADDRESS], [BLOCK])
    imds.status = status
    agent.sync_uplink_ipv6("wg0")
    assert agent.uplink.changes == []
    assert f"HTTP {status}" in capsys.readouterr().err
    assert [path for _m, path, _t in imds.requests].count("http://127.0.0.1:9/") == 0  # the redirect not followed


def test_an_unreachable_imds_or_a_primary_mac_no_interface_has_is_refused(agent, imds, monkeypatch, capsys):
    imds.assign([ADDRESS], [BLOCK])
    imds.paths["/latest/meta-data/mac"] = b"02:00:00:00:00:01"
    agent.sync_uplink_ipv6("wg0")
    assert "no interface here has the primary interface's MAC 02:00:00:00:00:01" in capsys.readouterr().err
    monkeypatch.setenv("WGSITES_IMDS", "http://127.0.0.1:9")  # nothing listens
    agent.sync_uplink_ipv6("wg0")
    assert "/latest/api/token: URLError" in capsys.readouterr().err
    assert agent.uplink.changes == []
