"""Stacks of any size for the benchmarks: an aws hub, one SSH site (a home router) and N roaming peers.

Half the peers split tunnel, half full (with dns), as a fleet of laptops and phones would be. The VPN
network is a /18 (16382 addresses), so 5000 peers fit; nothing here touches the network.
"""

from __future__ import annotations

import ipaddress
from typing import Any

NETWORK = ipaddress.ip_network("10.64.0.0/18")


def scale_vpn(peers: int, hub_kind: str = "aws", hub_endpoint: str | None = None) -> dict[str, Any]:
    """The `wgsites:vpn` object of a stack with PEERS roaming peers (an ssh hub needs HUB_ENDPOINT)."""
    hosts = NETWORK.hosts()
    hub: dict[str, Any] = {"name": "gateway", "kind": hub_kind, "address": str(next(hosts)), "masquerade": "ens5"}
    if hub_kind == "aws":
        hub["aws"] = {"instanceType": "t4g.nano"}
    else:
        hub["endpoint"] = hub_endpoint
        hub["ssh"] = {"host": hub_endpoint, "user": "root"}
    site = {
        "name": "home",
        "address": str(next(hosts)),
        "lans": ["10.10.10.0/24"],
        "keepalive": 25,
        "ssh": {"host": "10.10.10.1", "user": "root"},
    }
    peers_list = []
    for i in range(peers):
        peer: dict[str, Any] = {"name": f"p{i:05d}", "address": str(next(hosts)), "tunnel": "split" if i % 2 else "full"}
        if i % 2 == 0:
            peer["dns"] = ["9.9.9.9"]
        peers_list.append(peer)
    return {"network": str(NETWORK), "listenPort": 51820, "hub": hub, "sites": [site], "peers": peers_list}
