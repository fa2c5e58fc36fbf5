"""A stack's topology as Graphviz DOT text: hub, sites and their LANs, peers, tunnel addresses, who dials whom.

Pure: the text comes from the model and the address plan alone (`wgsites diagram` runs `dot` on it).
Every label is quoted as DOT quotes strings, so no value (a host name, an endpoint) can end a label
or add a statement. The graph's name carries a hash of the rest of the text: an SVG drawn from it
says, in its <title>, which DOT text it was drawn from (tests compare committed pictures that way).
"""

from __future__ import annotations

import hashlib

from wgsites.stack.addressing import AddressPlan
from wgsites.stack.model import Hub, Spoke, Vpn

FONT = "Helvetica"
ELASTIC_IP = "the Elastic IP"


def quote(text: str) -> str:
    r"""TEXT as one DOT string: backslashes and double quotes escaped (a value's `\N` or `"` stays text)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def label(*lines: str) -> str:
    """Lines joined with DOT's centred line break; each line quoted as text."""
    return quote("\n".join(line for line in lines if line)).replace("\n", "\\n")


def nets(networks) -> str:
    return ", ".join(str(n) for n in networks)


def _hub_lines(vpn: Vpn, plan: AddressPlan) -> list[str]:
    hub: Hub = vpn.hub
    hub_plan = plan.hub_plan()
    if hub.kind == "aws":
        what = f"AWS VM {hub.aws.instance_type}, config from SSM"
    else:
        what = f"Linux host, pushed over SSH ({hub.ssh.user}@{hub.ssh.host})" if hub.ssh else "Linux host over SSH"
    lines = [f"{hub.name} (hub)", what, f"{hub.interface} {', '.join(map(str, hub_plan.addresses))}, MTU {hub_plan.mtu}"]
    lines.append(f"UDP {hub.listen_port}, reached at {hub.endpoint or ELASTIC_IP}")
    if hub.masquerade is True:
        lines.append(f"NAT out of any interface but {hub.interface}")
    elif hub.masquerade:
        lines.append(f"NAT out of {hub.masquerade}")
    if hub.proxy_arp:
        lines.append(f"proxy ARP: VPN users {hub.proxy_arp.vpn_range} on its LAN")
        if hub.proxy_arp.dhcp_range:
            lines.append(f"router's DHCP range {hub.proxy_arp.dhcp_range}")
    lines.append(f"{hub.uplink.type} uplink" + (" over IPv6" if hub.uplink.ipv6 else ""))
    return lines


def _spoke_lines(vpn: Vpn, plan: AddressPlan, spoke: Spoke) -> list[str]:
    spoke_plan = plan.spoke_plan(spoke.name)
    if spoke.ssh:
        what = f"pushed over SSH ({spoke.ssh.user}@{spoke.ssh.host})"
    elif spoke.public_key:
        what = "config file, brings its own key"
    else:
        what = "config file and QR code"
    kind = "site" if spoke.kind == "site" else "peer"
    lines = [
        f"{spoke.name} ({kind})",
        what,
        f"{spoke.interface} {', '.join(map(str, spoke_plan.addresses))}, MTU {spoke_plan.mtu}",
    ]
    if spoke.endpoint:
        lines.append(f"UDP {spoke.listen_port}, reached at {spoke.endpoint}")
    if spoke.dns:
        lines.append(f"DNS {', '.join(spoke.dns)}")
    if spoke.expires:
        lines.append(f"access until {spoke.expires:%Y-%m-%d %H:%M} UTC")
    lines.append(f"{spoke.uplink.type} uplink" + (" over IPv6" if spoke.uplink.ipv6 else ""))
    return lines


def _tunnel_label(vpn: Vpn, plan: AddressPlan, spoke: Spoke) -> list[str]:
    hub = vpn.hub
    hub_at = plan.hub_dial() or f"{ELASTIC_IP}:{hub.listen_port}"
    if spoke.endpoint:
        dials = ["both have a static endpoint:", "either side dials"]
    else:
        keepalive = plan.spoke_plan(spoke.name).peers[0].keepalive
        dials = [f"dials {hub_at}", "behind NAT/CGNAT: " + (f"keepalive {keepalive} s" if keepalive else "no keepalive")]
    routed = nets(plan.spoke_plan(spoke.name).peers[0].allowed_ips)
    if spoke.kind == "site":
        route = f"routes {routed} through it"
    elif spoke.tunnel == "full":
        route = f"full tunnel: {routed}"
    else:
        route = f"split tunnel: {routed}"
    return [*dials, route]


def dot_source(vpn: Vpn, stack: str) -> str:
    """The DOT text of STACK's topology; the same VPN always gives the same text."""
    plan = AddressPlan(vpn)
    hub = vpn.hub
    title = [f"stack {stack}: VPN {vpn.network}"]
    if vpn.forward_rules:
        rules = ", ".join(f"{r.protocol} {r.port} {r.action}" for r in vpn.forward_rules)
        title.append(f"forwarded from the tunnel: {rules}")
    if vpn.access is not None:
        title.append(f"access policy: {len(vpn.access.rules)} rule(s), the rest refused by the hub (wgsites access)")
    body = [
        f"  graph [rankdir=LR, fontname={quote(FONT)}, fontsize=12, labelloc=t, label={label(*title)}];",
        f"  node [fontname={quote(FONT)}, fontsize=10, shape=box, style=rounded];",
        f"  edge [fontname={quote(FONT)}, fontsize=9];",
        f'  hub [label={label(*_hub_lines(vpn, plan))}, style="rounded,bold"];',
    ]
    for i, lan in enumerate(hub.lans):
        body.append(f"  hub_lan{i} [label={label(f'LAN {lan}')}, shape=folder];")
        body.append(f"  hub -> hub_lan{i} [dir=none, style=dashed];")
    full = [s for s in vpn.peers if s.tunnel == "full"]
    if full:
        body.append(f"  internet [label={label('internet')}, shape=ellipse, style=dashed];")
        egress = "NAT" if hub.masquerade else "routed"
        body.append(f"  hub -> internet [label={label(f'{egress} for ' + ', '.join(s.name for s in full))}];")
    for i, spoke in enumerate(vpn.spokes):
        node = f"spoke{i}"
        body.append(f"  {node} [label={label(*_spoke_lines(vpn, plan, spoke))}];")
        for j, lan in enumerate(spoke.lans):
            body.append(f"  {node}_lan{j} [label={label(f'LAN {lan}')}, shape=folder];")
            body.append(f"  {node}_lan{j} -> {node} [dir=none, style=dashed];")
        both = ", dir=both" if spoke.endpoint else ""
        body.append(f"  {node} -> hub [label={label(*_tunnel_label(vpn, plan, spoke))}{both}];")
    text = "\n".join(body) + "\n}\n"
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return f"digraph {quote(graph_name(stack, digest))} {{\n{text}"


def graph_name(stack: str, digest: str) -> str:
    return f"wgsites {stack} {digest}"
