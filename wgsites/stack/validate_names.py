"""The rules on names (check_vpn runs them): an interface name every tool and app takes, one node per name
and alias, and two nodes on one SSH host that do not overwrite each other.
"""

from __future__ import annotations

from .key_paths import node_paths
from .model import Hub, Spoke, Vpn
from .names import nft_table

# wg-quick's INTERFACE_RE lets these through; the kernel (".", "..") or the tools ("-x") do not.
PATH_NAMES = {".", ".."}

# A device's config file is named after its interface, and the Windows app names the tunnel after the
# file: it refuses these (wireguard-windows conf/name.go), as Windows refuses such file names.
WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}

# wg-quick allows + and = in a name; systemd's unit names do not (unit-name.c VALID_CHARS: letters, digits, :-_.\)
SYSTEMD_REFUSES = {"+", "="}

EGRESS_FIX = "name the interface traffic leaves by, e.g. ens5 or eth0, or write true"


def check_interface_names(vpn: Vpn, path: str) -> list[str]:
    """Names wg-quick's rule allows but that become paths (/etc/wireguard/..conf, /var/lib/wgsites/..) or options."""
    errors = []
    named = [(f"{p}.interface", n.interface) for p, n in node_paths(vpn, path)]
    if isinstance(vpn.hub.masquerade, str):
        named.append((f"{path}.hub.masquerade", vpn.hub.masquerade))
    for key, name in named:
        fix = EGRESS_FIX if key.endswith(".masquerade") else "use a name such as wg0"
        if name == "lo":
            errors.append(f"{key}: 'lo' is the loopback interface every host has; {fix}")
        elif name in PATH_NAMES:
            errors.append(
                f"{key}: {name!r} is a directory name, not an interface (Linux refuses it and paths built from it "
                f"leave their folder); {fix}"
            )
        elif name.startswith("-"):
            errors.append(f"{key}: {name!r} starts with '-', which ip, wg and nft read as an option; {fix}")
    for node_path, node in node_paths(vpn, path):
        odd = sorted(set(node.interface) & SYSTEMD_REFUSES)
        if node.delivery != "file" and odd:  # installed as the unit wg-quick@IFACE
            errors.append(
                f"{node_path}.interface: {node.interface!r} has {' and '.join(map(repr, odd))}, which systemd refuses in "
                f"a unit name (wg-quick@{node.interface}.service cannot start); use letters, digits, _ . -, e.g. wg0"
            )
    for node_path, node in node_paths(vpn, path):
        if node.is_device and node.interface.split(".")[0].upper() in WINDOWS_RESERVED:
            errors.append(
                f"{node_path}.interface: {node.interface!r} is a name Windows reserves for a device, so the WireGuard "
                "app for Windows cannot import a tunnel of that name; use a name such as wg0"
            )
    hub = vpn.hub
    if isinstance(hub.masquerade, str) and hub.masquerade == hub.interface:
        errors.append(f"{path}.hub.masquerade: {hub.masquerade!r} is the tunnel itself; {EGRESS_FIX}")
    return errors


def check_unique_names(vpn: Vpn, path: str) -> list[str]:
    """One node per name, counting the names nodes had before (aliases): a Pulumi alias names one resource."""
    errors, seen = [], {}
    for node_path, node in node_paths(vpn, path):
        if node.name in seen:
            errors.append(f"{node_path}.name: '{node.name}' is already used by {seen[node.name]}; give each node its own name")
        seen.setdefault(node.name, node_path)
    for node_path, node in node_paths(vpn, path):
        for i, alias in enumerate(node.aliases):
            if alias == node.name or alias in node.aliases[:i]:
                errors.append(f"{node_path}.aliases[{i}]: '{alias}' is listed already (or is its name); remove it")
            elif alias in seen:
                errors.append(
                    f"{node_path}.aliases[{i}]: '{alias}' is also {seen[alias]}; an alias is a name this node had "
                    "before, so it cannot be another node's: remove it, or rename that node"
                )
            else:
                seen[alias] = f"{node_path}.aliases[{i}]"
    return errors


def _host_key(node: Hub | Spoke) -> tuple[str, int] | None:
    if node.ssh is None:
        return None
    return node.ssh.host.lower().rstrip("."), node.ssh.port


def check_shared_hosts(vpn: Vpn, path: str) -> list[str]:
    """Two nodes on one SSH host: the same interface (or nftables table) would overwrite each other's
    config, and the same UDP port lets only one of them come up."""
    errors = []
    seen: list[tuple[str, Hub | Spoke]] = []
    for node_path, node in node_paths(vpn, path):
        host = _host_key(node)
        if host is None:
            continue
        where = f"{node.ssh.host}:{node.ssh.port}"
        for other_path, other in seen:
            if _host_key(other) != host:
                continue
            if other.interface == node.interface:
                errors.append(
                    f"{node_path}.interface: {node.interface!r} is also {other_path}'s interface on the same host {where}; "
                    "they would overwrite each other's config, so give one another interface"
                )
            elif nft_table(other.interface) == nft_table(node.interface):
                errors.append(
                    f"{node_path}.interface: {node.interface!r} and {other_path}'s {other.interface!r} share the nftables "
                    f"table {nft_table(node.interface)} on the same host {where}; rename one"
                )
            elif node.listen_port and node.listen_port == other.listen_port:
                errors.append(
                    f"{node_path}.listenPort: {node.listen_port} is also {other_path}'s port on the same host {where}; "
                    "only one interface can listen on it, so pick another port"
                )
        seen.append((node_path, node))
    return errors
