"""Valid stacks to break one key at a time, and the fixes the messages name (shared by the bad-config tables)."""

from __future__ import annotations

import copy

BASE = {
    "network": "10.10.11.0/24",
    "listenPort": 51000,
    "hub": {
        "name": "router",
        "kind": "ssh",
        "address": "10.10.11.1",
        "endpoint": "home.example.net",
        "lans": ["10.10.10.0/24"],
        "ssh": {"host": "10.10.10.1"},
    },
    "sites": [{"name": "office", "address": "10.10.11.3", "lans": ["10.20.0.0/24"], "ssh": {"host": "192.0.2.7"}}],
    "peers": [{"name": "laptop", "address": "10.10.11.2", "interface": "home0"}],
}

PROXY = {
    "network": "10.10.10.0/24",
    "hub": {
        "name": "internal",
        "kind": "ssh",
        "address": "10.10.10.10",
        "endpoint": "home.example.net",
        "lans": ["10.10.10.0/24"],
        "proxyArp": {"vpnRange": "10.10.10.10-10.10.10.49", "dhcpRange": "10.10.10.50-10.10.10.254"},
        "ssh": {"host": "10.10.10.10"},
    },
    "peers": [{"name": "laptop", "address": "10.10.10.11"}],
}

AWS = {
    "network": "10.99.0.0/24",
    "hub": {"name": "gateway", "kind": "aws", "address": "10.99.0.1", "masquerade": "ens5"},
    "peers": [{"name": "phone", "address": "10.99.0.11", "tunnel": "full", "dns": ["9.9.9.9"]}],
}


def edit(base: dict, path: str, value: object) -> dict:
    """Copy of base with one key set (value ...: deleted). Path like 'hub.lans' or 'peers.0.address'."""
    config = copy.deepcopy(base)
    *parents, last = path.split(".")
    target = config
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if isinstance(target, list):
        target[int(last)] = value
    elif value is ...:
        del target[last]
    else:
        target[last] = value
    return config


P = "wgsites:vpn"


def one_line(code: str) -> str:
    return f"contains U+{code}, a line break or control character; write it on one line"


NOT_DNS = "is not an IP address; DNS servers are given by address, e.g. 10.10.10.1"
NOT_NETWORK = "is not a network; write it like 198.51.100.7/32"
NOT_INSTANCE = "is not an EC2 instance type; write it like t4g.nano or t3.micro"
NOT_ENDPOINT = "is not host or host:port; write it like vpn.example.net:51820 or 203.0.113.5"
NOT_HOST = "is not a host name or address; write it like router.lan or 192.0.2.10"
