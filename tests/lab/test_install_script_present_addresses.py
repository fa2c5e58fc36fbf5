"""An in-place reload never adds again an address the interface already has (the real install script, real
wireguard-go, in a namespace; the exact command SSH runs, config on stdin).

The reload adds each config address the running interface lacks (addresses added in place when network6
arrives, or one deleted by hand). It once read that list as `printf "$have" | grep -q ADDRESS` under
`pipefail`: grep -q leaves at its match, bash's printf writes a line at a time, and a line still to write
met a closed pipe (EPIPE: the script ignores SIGPIPE); the pipeline failed, an address the interface had
counted as missing, `ip address add` failed and the install rolled back. Seen once in a full run
(tests/engine/test_pulumi_dual_stack.py, preshared keys turned on: `printf: write error: Broken pipe`, then
`Error: ipv6: address already assigned`), when grep ran between two of printf's writes.

Here that order is certain, not waited for: the interface carries more addresses than two pipe buffers
hold (64 KiB each), so the writer still has lines to write when the reader has found its match and gone.
And an address counts as present in any textual form (fd10:50:0:0::1 is fd10:50::1). The tests run in file
order on one hub.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from lab.netns import Lab, Node
from tests.lab.test_install_script import IFACE, STACK, script
from tests.lab.test_install_script_dual_stack import vpn
from wgsites.rendering.render import KeyRing, install_command, render_wg_quick
from wgsites.stack.keys import generate_private_key, public_key_of

CONF = f"/etc/wireguard/{IFACE}.conf"
# 4000 addresses (fd99:1111:2222:3333:4444:5555:1:1/128 and on: 40 characters and a newline each in the list the
# reload reads): 160 KB, more than two pipe buffers
FILLER = 4000
# added 100 at a time: a burst of thousands of address events overflows wireguard-go's netlink socket, and it
# exits (the interface gone with it)
BATCH = 100


@dataclass
class Hub:
    node: Node
    public: dict[str, str]

    def conf(self, *sites: str) -> str:
        return render_wg_quick(vpn(*sites), "hub", STACK, KeyRing(public=self.public))

    def repair(self, marker: str):
        """The drift check's repair, as SSH runs it: the running device put back to the installed config."""
        return self.node.run(install_command(vpn("s1"), "hub", STACK, "repair", argument=marker), check=False)

    def addresses(self) -> list[str]:
        shown = self.node.run(["ip", "-o", "address", "show", "dev", IFACE]).stdout
        return [line.split()[3] for line in shown.splitlines()]


@pytest.fixture(scope="module")
def hub() -> Iterator[Hub]:
    """The hub alone (its sites' keys made here: no site needs to run), up with the dual-stack config."""
    with Lab() as lab:
        node = lab.node("hub")
        # the uplink its masquerade and sysctls name
        node.run(["ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth1"])
        public = {name: public_key_of(generate_private_key()) for name in ("s1", "s2")}
        public["hub"] = script(node, vpn("s1", "s2"), "public-key").stdout.strip()
        h = Hub(node, public)
        script(node, vpn("s1"), "install", h.conf("s1"))
        assert {"10.50.0.1/24", "fd10:50::1/64"} <= set(h.addresses())
        yield h


def test_an_address_written_in_another_form_counts_as_present(hub: Hub) -> None:
    # the installed config with its IPv6 address in a longer form (edited by hand): the repair reloads it in place
    canonical = hub.conf("s1")
    longer = canonical.replace("fd10:50::1/64", "fd10:50:0:0::1/64")
    assert longer != canonical
    hub.node.write_file(CONF, longer, mode=0o600)
    before = hub.addresses()

    done = hub.repair("drift 0123456789abcdef (repair 1)")
    assert done.returncode == 0, done.stderr
    assert "running device put back" in done.stderr and "address add" not in done.stderr, done.stderr
    assert hub.addresses() == before

    # a deleted address is still added back
    hub.node.run(["ip", "-6", "address", "del", "fd10:50::1/64", "dev", IFACE])
    done = hub.repair("drift 0123456789abcdef (repair 2)")
    assert done.returncode == 0, done.stderr
    assert "[#] ip -6 address add fd10:50:0:0::1/64 dev wg0" in done.stderr, done.stderr
    assert sorted(hub.addresses()) == sorted(before)

    # the same address with another prefix length is not taken for it: the repair fails and says so
    hub.node.run(["ip", "-6", "address", "del", "fd10:50::1/64", "dev", IFACE])
    hub.node.run(["ip", "-6", "address", "add", "fd10:50::1/128", "dev", IFACE])
    done = hub.repair("drift 0123456789abcdef (repair 3)")
    assert done.returncode != 0, done.stderr
    assert "wg0 has fd10:50:0:0::1 as fd10:50::1/128, not fd10:50:0:0::1/64" in done.stderr, done.stderr
    hub.node.run(["ip", "-6", "address", "del", "fd10:50::1/128", "dev", IFACE])
    hub.node.run(["ip", "-6", "address", "add", "fd10:50::1/64", "dev", IFACE])
    hub.node.write_file(CONF, canonical, mode=0o600)


def test_a_reload_on_an_interface_with_many_addresses_adds_none_it_has(hub: Hub) -> None:
    lines = [
        f"address add fd99:1111:2222:3333:4444:5555:{i // 1000 + 1:x}:{i % 1000 + 1:x}/128 dev {IFACE} nodad noprefixroute\n"
        for i in range(FILLER)
    ]
    for first in range(0, FILLER, BATCH):
        hub.node.run(["ip", "-batch", "-"], input="".join(lines[first : first + BATCH]))
        time.sleep(0.02)
    before = hub.addresses()
    assert len(before) > FILLER and sum(len(a) + 1 for a in before) > 2 * 65536

    done = script(hub.node, vpn("s1", "s2"), "install", hub.conf("s1", "s2"), check=False)  # a site added: peers only
    assert done.returncode == 0, done.stderr[:3000]
    assert "reloaded in place" in done.stderr and "address add" not in done.stderr, done.stderr[:3000]
    assert "write error" not in done.stderr, done.stderr[:3000]
    assert hub.addresses() == before
    assert hub.node.read_file(CONF) == hub.conf("s1", "s2")
