"""The drift check at every preview and up: what each host managed over SSH runs, read before any resource.

Each host's install script prints its state (`state` action); the core (wgsites.drift) names what
differs from the config installed there and makes a marker of it. The marker is the argument of
the host's repair command (ssh_host.SshHost), so a host that drifted shows as an update in
`pulumi preview` and is put back by the next `up`; while it stays in sync the marker stays the
same (the host remembers the last repair's), so a repaired host is not repaired again. A host that
cannot be read this time keeps the repair command as it is in the state (ignore_changes), with a
warning: an unreachable host in a CI preview shows no spurious change.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pulumi

from wgsites.config import ConfigError
from wgsites.drift import findings, marker, parse_state
from wgsites.model import Vpn
from wgsites.plaintext import escaped
from wgsites.render import install_command
from wgsites.ssh import SshAccess, run_ssh


def read_markers(vpn: Vpn, stack: str, access: SshAccess | None) -> dict[str, str]:
    """node -> its repair marker, for every SSH-managed node that could be read (none when access is None)."""
    nodes = [n for n in vpn.nodes if n.delivery == "ssh"] if access is not None else []

    def read(node) -> str | None:
        command = install_command(vpn, node.name, stack, "state", node.ssh.user)
        try:
            state = parse_state(run_ssh(node.ssh, command, access), node.ssh.host)
        except (RuntimeError, ConfigError) as exc:
            # ssh's stderr carries the host's text: escaped, it reaches the preview and the PR comment inert
            reason = escaped(exc.messages[0] if isinstance(exc, ConfigError) else str(exc))
            pulumi.log.warn(f"{node.name}: what it runs could not be read ({reason}); no drift check for it this time")
            return None
        found = findings(state, f"{stack}/{node.name}", node.interface)
        if found:
            pulumi.log.info(f"{node.name} drifted from its config: {'; '.join(found)}; the next up puts it back")
        return marker(state, found)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = dict(zip((n.name for n in nodes), pool.map(read, nodes), strict=True))
    return {name: answer for name, answer in answers.items() if answer is not None}
