"""Curve25519 keys the way `wg genkey` / `wg pubkey` make them, with pynacl.

Keys wgsites makes for a stack (the aws hub, roaming peers) are derived, not
random: keyed BLAKE2b of the node's label under the stack's secret seed
(`wgsites:keySeed`), clamped as `wg genkey` clamps. So they are the same on
every run, known at preview, and one node gets a new key alone by raising its
rotation (the label is `node/rotation`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

import nacl.bindings
import nacl.encoding
import nacl.exceptions
import nacl.hash
import nacl.signing
from nacl.public import PrivateKey

SEED_MIN_BYTES = 32
SEED_MAX_BYTES = nacl.hash.BLAKE2B_KEYBYTES_MAX  # 64: the longest BLAKE2b key
KEY_DERIVATION_PERSON = b"wgsites-wg-key"  # BLAKE2b personalization: these hashes are WireGuard keys, nothing else


def generate_private_key() -> str:
    return base64.b64encode(bytes(PrivateKey.generate())).decode()


def public_key_of(private_key: str) -> str:
    raw = base64.b64decode(private_key, validate=True)
    return base64.b64encode(bytes(PrivateKey(raw).public_key)).decode()


def is_valid_key(value: str) -> bool:
    """A WireGuard key is 32 bytes in standard base64 (44 characters, one '=')."""
    if len(value) != 44 or not value.endswith("="):
        return False
    try:
        return len(base64.b64decode(value, validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


def is_low_order(public_key: str) -> bool:
    """Whether a (valid) public key is one of Curve25519's low-order points, all zeros among them.

    Any private key times such a point is the identity: libsodium refuses that result, as
    WireGuard refuses the handshake. So one scalar multiplication with a fresh key tells.
    """
    try:
        nacl.bindings.crypto_scalarmult(bytes(PrivateKey.generate()), base64.b64decode(public_key))
    except nacl.exceptions.RuntimeError:
        return True
    return False


def host_public_key(answer: str) -> str:
    """The public key a host printed (its key command's stdout), or ValueError saying what is wrong.

    A host is trusted with its own tunnel only: its answer goes into other nodes' `PublicKey =`
    lines, so it must be exactly one line holding one usable key. The answer is never echoed
    (whatever a broken or compromised host printed, it stays out of logs).
    """
    lines = answer.splitlines()
    key = answer.strip()
    if len(lines) != 1 or not is_valid_key(key):
        raise ValueError(f"answered with {len(lines)} line(s), {len(answer)} characters, not one WireGuard public key")
    if is_low_order(key):
        raise ValueError("answered with a low-order (all-zero or weak) public key, which WireGuard refuses")
    return key


def other_owner(node: str, key: str, keys: Mapping[str, str]) -> str | None:
    """The first node of KEYS (node -> public key) other than NODE whose key is KEY; None if none."""
    return next((other for other, known in keys.items() if known == key and other != node), None)


def shared_key_message(node: str, other: str, interface: str) -> str:
    """Why a host answering another node's public key is refused (and named by `status`), and the fix on it.

    Public keys are a plain export, so a compromised host can answer one; a cloned disk does it by mistake."""
    return (
        f"{node} answered with the public key of {other}: WireGuard keeps one peer per key, so the hub would merge "
        f"the two and one's tunnel would take the other's AllowedIPs. If {node}'s key file was copied from {other} "
        f"(a cloned disk or image), give {node} its own key: on it, `wg-quick down {interface}; rm "
        f"/etc/wireguard/{interface}.key`; if it was not, treat {node} as compromised"
    )


# how the key step is asked again once the host is fixed; the program names the command's URN itself
SHARED_KEY_AGAIN = "pulumi up --replace on its -key command (pulumi stack --show-urns lists it)"


def seed_bytes(seed: str) -> bytes:
    """The seed's bytes; ValueError says what is wrong, never showing the value.

    Whitespace is ignored: `base64` wraps long output into lines.
    """
    try:
        raw = base64.b64decode("".join(seed.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("is not base64") from None
    if len(raw) < SEED_MIN_BYTES:
        raise ValueError(f"decodes to {len(raw)} bytes, fewer than {SEED_MIN_BYTES}")
    if len(raw) > SEED_MAX_BYTES:
        raise ValueError(f"decodes to {len(raw)} bytes, more than {SEED_MAX_BYTES}")
    return raw


def key_label(node: str, rotation: int | str = 0) -> str:
    """What a node's key is derived from: its name and its rotation (`wgsites:keyRotations`, default 0)."""
    return f"{node}/{rotation}"


def clamp(key: bytes) -> bytes:
    """Curve25519 clamping, as `wg genkey` does it."""
    k = bytearray(key)
    k[0] &= 248
    k[31] &= 127
    k[31] |= 64
    return bytes(k)


def seeded_digest(seed: str, label: str, person: bytes) -> bytes:
    """32 bytes for LABEL under SEED: keyed BLAKE2b, PERSON (a personalization) telling apart what they become."""
    return nacl.hash.blake2b(
        label.encode("utf-8"), key=seed_bytes(seed), digest_size=32, person=person, encoder=nacl.encoding.RawEncoder
    )


BUNDLE_SIGNING_PERSON = b"wgsites-bundle"  # another personalization: a signing key is never a WireGuard key
BUNDLE_SIGNING_LABEL = "bundle-signing/0"


def bundle_signing_key(seed: str) -> nacl.signing.SigningKey:
    """The Ed25519 key that signs the aws gateway's bundles, derived from the stack's secret seed.

    The VM's user data holds its public half: whoever may write the gateway's SSM parameters,
    but holds no seed, cannot make a bundle (code that runs as root there) the VM accepts.
    """
    return nacl.signing.SigningKey(seeded_digest(seed, BUNDLE_SIGNING_LABEL, BUNDLE_SIGNING_PERSON))


def sign_text(key: nacl.signing.SigningKey, text: str) -> str:
    """KEY's Ed25519 signature over TEXT, base64."""
    return base64.b64encode(key.sign(text.encode()).signature).decode()


def verify_key_text(key: nacl.signing.SigningKey) -> str:
    return base64.b64encode(bytes(key.verify_key)).decode()


def derive_private_key(seed: str, label: str) -> str:
    """The private key for LABEL (see key_label) under SEED (base64, 32-64 bytes): keyed BLAKE2b, clamped."""
    return base64.b64encode(clamp(seeded_digest(seed, label, KEY_DERIVATION_PERSON))).decode()


PRESHARED_KEY_PERSON = b"wgsites-psk"  # its own personalization: a preshared key is never a private key


def preshared_key_label(spoke: str, rotation: int | str = 0) -> str:
    """What the preshared key of the pair hub-SPOKE is derived from: the spoke's first name and its rotation
    (`wgsites:presharedKeyRotations`, default 0). The hub is not in it: a hub has one pair per spoke."""
    return f"psk/{spoke}/{rotation}"


def derive_preshared_key(seed: str, label: str) -> str:
    """The preshared key for LABEL (see preshared_key_label) under SEED: keyed BLAKE2b, 32 bytes, not clamped
    (a preshared key is any 32 bytes, as `wg genpsk` makes them)."""
    return base64.b64encode(seeded_digest(seed, label, PRESHARED_KEY_PERSON)).decode()
