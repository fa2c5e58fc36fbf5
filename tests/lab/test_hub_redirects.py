"""A hub between two sites with LANs sends no ICMP redirect out of its tunnel, so its own ICMP answers at once.

Why: spoke to spoke goes in and out of the hub's one tunnel interface, and Linux answers each such
packet with a redirect (nobody on a WireGuard interface can act on it). Redirects and ICMP errors
share one per-host rate limit: once the redirects spent it, a `forwardRules` reject between two
sites became curl's 3 s timeout (exit 28 instead of 7) and traceroute lost the hub's hop. The hub's
sysctl drop-in says `send_redirects = 0` for `all` and its tunnel (Linux ORs the two).
"""

from __future__ import annotations

import time

from lab.checks import Checker, table
from lab.deploy import deploy
from lab.netns import Lab
from lab.world import build_world
from wgsites.stack.parse import parse_vpn

STACK = {
    "network": "10.10.20.0/24",
    "listenPort": 51000,
    "hub": {
        "name": "hub",
        "kind": "ssh",
        "address": "10.10.20.1",
        "endpoint": "hub.example.net",
        "lans": ["10.20.0.0/24"],
        "ssh": {"host": "10.20.0.1"},
    },
    "sites": [
        {"name": "east", "address": "10.10.20.2", "lans": ["10.21.0.0/24"], "ssh": {"host": "10.21.0.1"}},
        {"name": "west", "address": "10.10.20.3", "endpoint": "west.example.net:51000", "lans": ["10.22.0.0/24"]},
    ],
    "peers": [{"name": "laptop", "address": "10.10.20.10"}],
    "forwardRules": [{"protocol": "tcp", "port": 22, "action": "reject"}],
}


def test_a_reject_between_two_sites_is_refused_at_once_and_traceroute_shows_the_hub():
    start = time.monotonic()
    with Lab() as lab:
        checker = Checker(deploy(build_world(lab, "redirects", parse_vpn(STACK), lab.run_dir)))
        checker.run_all()
        results = checker.results
    print(f"\nhub between two sites, lab took {time.monotonic() - start:.0f} s\n{table(results)}")
    failed = [c for c in results if not c.passed]
    assert not failed, "\n" + table(failed)
    rows = {(c.name, c.nodes) for c in results}
    for a, b in (("east", "west"), ("west", "east")):
        assert ("tcp 22 rejected between sites", f"{a}->{b}") in rows
        assert ("path gateway, hub tunnel, site tunnel, target", f"{a}->{b}") in rows
    assert ("hub sent no ICMP redirect", "hub") in rows
