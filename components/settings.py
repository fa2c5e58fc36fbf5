"""Stack config -> everything the program needs, or one clean error before any resource exists.

The VPN itself is one object, `wgsites:vpn`, parsed by the core (`wgsites.stack.parse`);
the rest are scalars declared in Pulumi.yaml, plus undeclared keys: the secrets
`wgsites:sshPrivateKey`, `wgsites:sshPrivateKeyPassword` and `wgsites:keySeed` (secrets are not declared: a declared
secret with a default fails Pulumi's validation) and the object `wgsites:keyRotations`
(Pulumi.yaml cannot declare objects).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pulumi

from wgsites.operations.ssh_read import SshAccess
from wgsites.rendering.limits import check_rendered_sizes
from wgsites.stack.config_keys import (
    KEY_PASSWORD,
    KEY_SEED,
    SET_KEY_PASSWORD,
    check_key_seed,
    key_rotations,
    preshared_key_rotations,
    seed_users,
)
from wgsites.stack.errors import ConfigError
from wgsites.stack.model import Vpn
from wgsites.stack.parse import parse_vpn
from wgsites.stack.region import hub_region


@dataclass(frozen=True)
class Settings:
    vpn: Vpn
    stack: str
    region: str | None  # only an aws hub needs it
    ssh_private_key: pulumi.Output[str] | None  # None: pulumi-command uses the SSH agent
    key_rotations: Mapping[str, int | str] = field(default_factory=dict)
    preshared_key_rotations: Mapping[str, int | str] = field(default_factory=dict)  # spoke -> rotation of its PSK
    key_seed: pulumi.Output[str] | None = None  # secret; None when no node's key is made by Pulumi
    ssh_private_key_password: pulumi.Output[str] | None = None  # secret; the passphrase of ssh_private_key
    # the drift check's way in (the same key, as plain values for OpenSSH); None: no check this run
    ssh_access: SshAccess | None = None


def key_seed(vpn: Vpn, stack: str) -> pulumi.Output[str] | None:
    """The checked seed from stack config, as a secret; None if no node needs it. Raises ConfigError."""
    config = pulumi.Config("wgsites")
    value = config.get("keySeed")
    errors = check_key_seed(value, vpn, stack, secret=pulumi.runtime.is_config_secret(KEY_SEED))
    if errors:
        raise ConfigError(errors)
    return pulumi.Output.secret(value) if value is not None and seed_users(vpn) else None


def _ssh_private_key(config: pulumi.Config) -> tuple[pulumi.Output[str] | None, str | None]:
    """The key as a secret, and its text when it came from a file (to tell whether it needs a passphrase)."""
    secret = config.get_secret("sshPrivateKey")
    if secret is not None:
        return secret, None
    path = config.get("sshPrivateKeyPath") or ""
    if not path:
        return None, None
    file = Path(path).expanduser()
    try:
        text = file.read_text()
    except OSError as exc:
        raise ConfigError(
            [f"wgsites:sshPrivateKeyPath: {path!r} cannot be read ({exc.strerror}); give the path of an SSH private key"]
        ) from None
    return pulumi.Output.secret(text), text


def is_passphrase_protected(key: str) -> bool:
    """An OpenSSH or PEM private key that needs a passphrase; False for anything it cannot tell."""
    if "Proc-Type: 4,ENCRYPTED" in key or "-----BEGIN ENCRYPTED PRIVATE KEY-----" in key:
        return True
    begin, end = "-----BEGIN OPENSSH PRIVATE KEY-----", "-----END OPENSSH PRIVATE KEY-----"
    if begin not in key or end not in key:
        return False
    try:
        blob = base64.b64decode(key.split(begin, 1)[1].split(end, 1)[0], validate=False)
    except (binascii.Error, ValueError):
        return False
    magic = b"openssh-key-v1\0"  # then the cipher's name, a length-prefixed string: "none" if not encrypted
    if not blob.startswith(magic) or len(blob) < len(magic) + 4:
        return False
    size = int.from_bytes(blob[len(magic) : len(magic) + 4], "big")
    return blob[len(magic) + 4 : len(magic) + 4 + size] != b"none"


def _ssh_private_key_password(config: pulumi.Config, key_text: str | None, has_key: bool) -> pulumi.Output[str] | None:
    """The key's passphrase, a secret given only with a key; a key from a path that needs one and lacks it fails here."""
    password = config.get_secret("sshPrivateKeyPassword")
    if password is None:
        if key_text is not None and is_passphrase_protected(key_text):
            raise ConfigError(
                [f"wgsites:sshPrivateKeyPath: the key is protected by a passphrase; give it as a secret: {SET_KEY_PASSWORD}"]
            )
        return None
    if not has_key:
        raise ConfigError(
            [
                f"{KEY_PASSWORD}: set, but there is no SSH key for it to unlock; set wgsites:sshPrivateKeyPath "
                f"(or wgsites:sshPrivateKey) too, or remove it: pulumi config rm {KEY_PASSWORD}"
            ]
        )
    if not pulumi.runtime.is_config_secret(KEY_PASSWORD):
        raise ConfigError([f"{KEY_PASSWORD}: stored in plain text in the stack file; set it as a secret: {SET_KEY_PASSWORD}"])
    return password


def load() -> Settings:
    """Read and check the stack config; a mistake raises pulumi.RunError (printed without a traceback)."""
    config = pulumi.Config("wgsites")
    stack = pulumi.get_stack()
    try:
        raw = config.get_object("vpn")
        if raw is None:
            raise ConfigError([f"wgsites:vpn: missing; describe the VPN under `config: wgsites:vpn:` in Pulumi.{stack}.yaml"])
        vpn = parse_vpn(raw)
        rotations = key_rotations(config.get_object("keyRotations"), vpn)
        psk_rotations = preshared_key_rotations(config.get_object("presharedKeyRotations"), vpn)
        seed = key_seed(vpn, stack)
        region, region_errors = hub_region(vpn, pulumi.Config("aws").get("region"), f"Pulumi.{stack}.yaml")
        check_rendered_sizes(vpn, stack, region)
        if region_errors:
            raise ConfigError(region_errors)
        ssh_key = key_password = access = None
        if _has_ssh_hosts(vpn):
            ssh_key, key_text = _ssh_private_key(config)
            key_password = _ssh_private_key_password(config, key_text, has_key=ssh_key is not None)
            if config.get_bool("driftCheck") is not False:
                access = _ssh_access(config)
    except ConfigError as exc:
        raise pulumi.RunError("\n".join(exc.messages)) from None
    return Settings(
        vpn=vpn,
        stack=stack,
        region=region,
        ssh_private_key=ssh_key,
        key_rotations=rotations,
        preshared_key_rotations=psk_rotations,
        key_seed=seed,
        ssh_private_key_password=key_password,
        ssh_access=access,
    )


def _ssh_access(config: pulumi.Config) -> SshAccess:
    """The key _ssh_private_key checked, as OpenSSH takes it: the path, or the secret text (kept in memory)."""
    return SshAccess(
        key_path=config.get("sshPrivateKeyPath") or None,
        key_text=config.get("sshPrivateKey"),
        passphrase=config.get("sshPrivateKeyPassword"),
    )


def _has_ssh_hosts(vpn: Vpn) -> bool:
    return any(node.delivery == "ssh" for node in vpn.nodes)
