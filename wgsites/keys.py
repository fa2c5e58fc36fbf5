"""Curve25519 keys the way `wg genkey` / `wg pubkey` make them, with pynacl."""

from __future__ import annotations

import base64
import binascii

from nacl.public import PrivateKey


def generate_private_key() -> str:
    return base64.b64encode(bytes(PrivateKey.generate())).decode()


def public_key_of(private_key: str) -> str:
    raw = base64.b64decode(private_key, validate=True)
    return base64.b64encode(bytes(PrivateKey(raw).public_key)).decode()


def generate_preshared_key() -> str:
    # `wg genpsk` is 32 random bytes; a fresh Curve25519 secret is exactly that
    return generate_private_key()


def is_valid_key(value: str) -> bool:
    """A WireGuard key is 32 bytes in standard base64 (44 characters, one '=')."""
    if len(value) != 44 or not value.endswith("="):
        return False
    try:
        return len(base64.b64decode(value, validate=True)) == 32
    except (binascii.Error, ValueError):
        return False
