"""Where each node stands in the stack file, as a message names it: `wgsites:vpn.hub`, `wgsites:vpn.sites[0]`."""

from __future__ import annotations

from .model import Hub, Spoke, Vpn


def node_paths(vpn: Vpn, path: str) -> list[tuple[str, Hub | Spoke]]:
    """Every node with its key path, hub first, as messages name them."""
    paths: list[tuple[str, Hub | Spoke]] = [(f"{path}.hub", vpn.hub)]
    counters = {"site": 0, "peer": 0}
    for spoke in vpn.spokes:
        key = "sites" if spoke.kind == "site" else "peers"
        paths.append((f"{path}.{key}[{counters[spoke.kind]}]", spoke))
        counters[spoke.kind] += 1
    return paths
