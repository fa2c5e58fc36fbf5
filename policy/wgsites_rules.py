"""The pack's rules as plain functions of (resource type, inputs) -> violation messages ([] = compliant).

The engine hands a policy the resource's inputs with the engine's property names
(camelCase: `metadataOptions.httpTokens`), secrets unwrapped and, in a preview,
unknown values that raise when read; `__main__.py` wires these functions into
`ResourceValidationPolicy` objects. The tests call them directly on the inputs
the real program registers under mocks. Messages name fields, never values: a
message may be about a secret.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from key_material import (
    UndecodableContent,
    decode_user_data_base64,
    has_preshared_key_line,
    has_private_key_line,
    user_data_leaks,
)

DEFAULT_LISTEN_PORT = 51820  # wgsites' default `listenPort` (wgsites/stack/model.py), when the stack sets none

SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
INSTANCE = "aws:ec2/instance:Instance"
VOLUME = "aws:ebs/volume:Volume"
PARAMETER = "aws:ssm/parameter:Parameter"
REMOTE_COMMAND = "command:remote:Command"
LOCAL_COMMAND = "command:local:Command"
COMMANDS = (REMOTE_COMMAND, LOCAL_COMMAND)

_UDP = {"udp", "17"}
# SSM parameter names that say "a key": .../private-key, .../privatekey, .../wg0_key, .../key
KEY_PARAMETER_NAME = re.compile(r"(?i)(private[-_.]?key|privkey|(^|[/_.-])key$)")


def _items(value: Any) -> list[Any]:
    """A list input as a list (None and a single string are no list)."""
    if value is None or isinstance(value, str | bytes) or not isinstance(value, Sequence):
        return []
    return list(value)


def _is_world(cidr: Any) -> bool:
    """0.0.0.0/0, ::/0 and any other spelling of "every address"."""
    try:
        return ipaddress.ip_network(str(cidr), strict=False).prefixlen == 0
    except ValueError:
        return False  # AWS rejects it; not an opening


def _port(value: Any) -> int | None:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def _ingress_rules(resource_type: str, props: Mapping[str, Any]) -> Iterator[tuple[str, Any, Any, Any, list[Any]]]:
    """(where, protocol, fromPort, toPort, source CIDRs) of each ingress rule, in the three ways AWS spells one."""
    if resource_type == SECURITY_GROUP:
        for index, rule in enumerate(_items(props.get("ingress"))):
            cidrs = [*_items(rule.get("cidrBlocks")), *_items(rule.get("ipv6CidrBlocks"))]
            yield f"ingress[{index}]", rule.get("protocol"), rule.get("fromPort"), rule.get("toPort"), cidrs
    elif resource_type == SECURITY_GROUP_RULE and props.get("type") == "ingress":
        cidrs = [*_items(props.get("cidrBlocks")), *_items(props.get("ipv6CidrBlocks"))]
        yield "the rule", props.get("protocol"), props.get("fromPort"), props.get("toPort"), cidrs
    elif resource_type == INGRESS_RULE:
        cidrs = [c for c in (props.get("cidrIpv4"), props.get("cidrIpv6")) if c]
        yield "the rule", props.get("ipProtocol"), props.get("fromPort"), props.get("toPort"), cidrs


def world_open_ingress(resource_type: str, props: Mapping[str, Any], listen_port: int = DEFAULT_LISTEN_PORT) -> list[str]:
    """(a) No ingress from 0.0.0.0/0 or ::/0 except WireGuard's UDP listen port, one port exactly."""
    found = []
    for where, protocol, from_port, to_port, cidrs in _ingress_rules(resource_type, props):
        if not any(_is_world(c) for c in cidrs):
            continue
        if str(protocol).lower() in _UDP and _port(from_port) == listen_port and _port(to_port) == listen_port:
            continue
        found.append(
            f"{where} opens protocol {protocol} ports {_port(from_port)}-{_port(to_port)} to the whole internet; "
            f"only the WireGuard port (udp {listen_port}) may be open to 0.0.0.0/0 or ::/0"
        )
    return found


def imdsv2_required(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """(b) IMDSv2 only: without session tokens any SSRF on the VM can read the role's credentials."""
    if resource_type != INSTANCE:
        return []
    options = props.get("metadataOptions") or {}
    tokens = options.get("httpTokens")
    if tokens != "required":
        return [f"metadataOptions.httpTokens is {tokens!r}; set it to 'required' (IMDSv2 only)"]
    return []


def encrypted_volumes(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """(c) Every disk encrypted: the instance's root and EBS block devices, and standalone EBS volumes."""
    found = []
    if resource_type == INSTANCE:
        root = props.get("rootBlockDevice")
        if root is None or root.get("encrypted") is not True:
            found.append("rootBlockDevice.encrypted is not true; set root_block_device=...(encrypted=True)")
        for index, device in enumerate(_items(props.get("ebsBlockDevices"))):
            if device.get("encrypted") is not True:
                found.append(f"ebsBlockDevices[{index}].encrypted is not true")
    elif resource_type == VOLUME:
        if props.get("encrypted") is not True:
            found.append("encrypted is not true")
    return found


def private_key_in_user_data(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """(d) No private key in an instance's user data (readable through IMDS and the API), write_files decoded."""
    if resource_type != INSTANCE:
        return []
    found = []
    user_data = props.get("userData")
    if user_data:
        found += user_data_leaks(str(user_data))
    encoded = props.get("userDataBase64")
    if encoded:
        try:
            found += [f"userDataBase64: {m}" for m in user_data_leaks(decode_user_data_base64(str(encoded)))]
        except UndecodableContent as exc:
            found.append(f"{exc}; it cannot be checked for a private key")
    return found


def private_key_in_plain_parameter(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """(d) A key belongs in a SecureString: a String/StringList parameter is readable by anyone who may list parameters."""
    if resource_type != PARAMETER:
        return []
    kind = props.get("type")
    if kind not in ("String", "StringList"):
        return []
    found = []
    for field in ("value", "insecureValue"):
        value = props.get(field)
        if value and has_private_key_line(str(value)):
            found.append(f"{field} of a {kind} parameter has a `PrivateKey =` line; keep keys in a SecureString parameter")
    name = str(props.get("name") or "")
    if KEY_PARAMETER_NAME.search(name):
        found.append(f"parameter {name!r} is named like a key but stored as {kind}; make it a SecureString")
    return found


def is_private_file_write(props: Mapping[str, Any]) -> bool:
    """The roaming peer's `file:` command (components/roaming_peer.write_command): stdin goes into a 0600 file, nowhere else.

    Exactly `umask 077 && mkdir -p DIR && tmp=$(mktemp DIR/.NAME.XXXXXXXXXX) && trap 'rm -f "$tmp"' EXIT
    && cat > "$tmp" && mv -f "$tmp" DIR/NAME`, as `create` and, if set, `update`: the only local command
    allowed to carry a device config with its key, because that config is the device's own and it lands
    only in the operator's file (mktemp makes the temporary file 0600, by a name nobody could plant).
    """
    create = props.get("create")
    if not isinstance(create, str):
        return False
    update = props.get("update")
    if update is not None and update != create:
        return False
    try:
        words = shlex.split(create)
    except ValueError:
        return False
    if len(words) != 22:
        return False
    shape = ["umask", "077", "&&", "mkdir", "-p", None, "&&", "tmp=$(mktemp", None, "&&"]
    shape += ["trap", 'rm -f "$tmp"', "EXIT", "&&", "cat", ">", "$tmp", "&&", "mv", "-f", "$tmp", None]
    if any(want is not None and word != want for word, want in zip(words, shape, strict=True)):
        return False
    folder, template, target = words[5], words[8], words[21]
    folder_of_target, _, name = target.rpartition("/")
    return folder_of_target == folder.rstrip("/") and template == f"{folder_of_target}/.{name}.XXXXXXXXXX)"


def private_key_in_command(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """No `PrivateKey =` line in what a command carries: SSH hosts make their own keys (pushed configs have none).

    Checked: `create`, `update`, `delete`, `environment` values, `stdin`. One exception, the
    roaming peer's local file command (`is_private_file_write`), and only for `stdin`.
    """
    if resource_type not in COMMANDS:
        return []
    found = []
    for field in ("create", "update", "delete"):
        value = props.get(field)
        if isinstance(value, str) and has_private_key_line(value):
            found.append(f"`{field}` carries a `PrivateKey =` line (a command line shows in the process table and errors)")
    environment = props.get("environment") or {}
    for name in environment:
        if has_private_key_line(str(environment[name])):
            found.append(f"environment variable {name} carries a `PrivateKey =` line")
    stdin = props.get("stdin")
    if isinstance(stdin, str) and has_private_key_line(stdin):
        if resource_type == LOCAL_COMMAND and is_private_file_write(props):
            pass  # a roaming device's own config written to its 0600 file (components/roaming_peer.py)
        else:
            found.append(
                "`stdin` carries a `PrivateKey =` line: pushed configs must not hold a key "
                "(the host makes its own; use `PostUp = wg set %i private-key /etc/wireguard/%i.key`)"
            )
    return found


def preshared_key_in_pushed_config(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """No `PresharedKey =` line in what an SSH command carries: a pushed config is a readable diff, so an SSH
    host's preshared keys travel on their own command's secret stdin (`<node>-psk`), never inline."""
    if resource_type != REMOTE_COMMAND:
        return []
    found = [
        f"`{f}` carries a `PresharedKey =` line"
        for f in ("create", "update", "delete", "stdin")
        if has_preshared_key_line(str(props.get(f) or ""))
    ]
    return [f"{line}: keep preshared keys out of pushed configs (they go on the `-psk` command's stdin)" for line in found]


def command_logging_none(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """A command's output is logged by default and its stderr may echo what it handled: `logging` must be 'none'."""
    if resource_type not in COMMANDS:
        return []
    logging = props.get("logging")
    if logging != "none":
        return [f"logging is {logging!r}; set logging='none' (docs/pulumi-notes.md 7: stdout/stderr are logged even when secret)"]
    return []


GUEST_GROUP = "guests"  # a group named so, or guests-SOMETHING, is a guest group (docs/access.md)


def _networks(value: Any) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    nets = []
    for item in _items(value):
        try:
            nets.append(ipaddress.ip_network(str(item), strict=False))
        except ValueError:
            continue  # the program refuses it
    return nets


def guest_reaches_whole_lan(vpn: Mapping[str, Any]) -> list[str]:
    """A guest group (`guests`, `guests-*`) may reach hosts on a LAN, never a whole LAN: not a node that has
    LANs (a site, a hub with lans: the name stands for all of them), nor a host that covers a LAN."""
    access = vpn.get("access") if isinstance(vpn, Mapping) else None
    if not isinstance(access, Mapping):
        return []
    groups = access.get("groups") if isinstance(access.get("groups"), Mapping) else {}
    guests = {g for g in groups if g == GUEST_GROUP or str(g).startswith(GUEST_GROUP + "-")}
    nodes = [vpn.get("hub"), *_items(vpn.get("sites")), *_items(vpn.get("peers"))]
    lans = {str(n.get("name")): _networks(n.get("lans")) for n in nodes if isinstance(n, Mapping)}
    every_lan = [lan for nets in lans.values() for lan in nets]
    hosts = vpn.get("hosts") if isinstance(vpn.get("hosts"), Mapping) else {}  # the stack's one place for names
    messages = []
    for index, rule in enumerate(_items(access.get("rules"))):
        if not isinstance(rule, Mapping):
            continue
        sources = [rule.get("from")] if isinstance(rule.get("from"), str) else _items(rule.get("from"))
        targets = [rule.get("to")] if isinstance(rule.get("to"), str) else _items(rule.get("to"))
        for group in (s for s in sources if s in guests):
            for target in targets:
                whole = lans.get(str(target)) or [
                    lan
                    for net in _networks([hosts.get(target)])
                    for lan in every_lan
                    if lan.version == net.version and lan.subnet_of(net)  # type: ignore[arg-type]
                ]
                if whole:
                    messages.append(
                        f"access.rules[{index}] lets the guest group {group} reach {target}, which is the whole LAN "
                        f"{', '.join(map(str, whole))}; name the hosts a guest needs (hosts) and their ports"
                    )
    return messages


RESOURCE_RULES = (
    imdsv2_required,
    encrypted_volumes,
    private_key_in_user_data,
    private_key_in_plain_parameter,
    private_key_in_command,
    command_logging_none,
)


def all_violations(resource_type: str, props: Mapping[str, Any], listen_port: int = DEFAULT_LISTEN_PORT) -> dict[str, list[str]]:
    """Every rule's messages for one resource, by rule name (only rules that found something)."""
    found = {"world_open_ingress": world_open_ingress(resource_type, props, listen_port)}
    for rule in RESOURCE_RULES:
        found[rule.__name__] = rule(resource_type, props)
    return {name: messages for name, messages in found.items() if messages}
