"""Keys derived from a stack's seed: deterministic, separate per node, rotation and seed, real WireGuard keys."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess

import pytest

from wgsites.stack.keys import (
    SEED_MAX_BYTES,
    SEED_MIN_BYTES,
    derive_private_key,
    generate_private_key,
    is_valid_key,
    key_label,
    public_key_of,
    seed_bytes,
)

SEED = base64.b64encode(bytes(range(32))).decode()
OTHER_SEED = base64.b64encode(bytes(range(100, 132))).decode()


def wg_pubkey(private: str) -> str:
    result = subprocess.run(["wg", "pubkey"], input=private + "\n", capture_output=True, text=True, check=True)
    return result.stdout.strip()


def test_the_derivation_is_pinned():
    """Changing the derivation would re-key every deployed stack: this known answer must never change."""
    assert derive_private_key(SEED, "laptop/0") == "EKlMYcVGdhGLVhze82nInnyIZLObKs5ZpzwBwehnqEo="
    # the same as the standard library's BLAKE2b with the same key and personalization, then clamped
    digest = bytearray(hashlib.blake2b(b"laptop/0", key=bytes(range(32)), person=b"wgsites-wg-key", digest_size=32).digest())
    digest[0] &= 248
    digest[31] = (digest[31] & 127) | 64
    assert derive_private_key(SEED, "laptop/0") == base64.b64encode(bytes(digest)).decode()


def test_deterministic():
    assert derive_private_key(SEED, key_label("laptop")) == derive_private_key(SEED, key_label("laptop", 0))
    assert derive_private_key(SEED, "gateway/0") == derive_private_key(SEED, "gateway/0")


def test_labels():
    assert key_label("laptop") == "laptop/0"
    assert key_label("laptop", 2) == "laptop/2"
    assert key_label("phone", "2026-11") == "phone/2026-11"
    assert key_label("laptop", 1) == key_label("laptop", "1")  # `1` and `"1"` in keyRotations are one rotation


def test_different_nodes_rotations_and_seeds_give_different_keys():
    keys = [
        derive_private_key(seed, key_label(node, rotation))
        for seed in (SEED, OTHER_SEED)
        for node in ("gateway", "laptop", "phone", "laptop2")
        for rotation in (0, 1, 2, "2026-11")
    ]
    assert len(set(keys)) == len(keys) == 32
    assert len({public_key_of(k) for k in keys}) == 32


def test_clamped_as_wg_genkey_does():
    for label in ("gateway/0", "laptop/0", "laptop/1", "phone/7"):
        raw = base64.b64decode(derive_private_key(SEED, label))
        assert raw[0] & 7 == 0
        assert raw[31] & 128 == 0
        assert raw[31] & 64 == 64


def test_valid_keys():
    private = derive_private_key(SEED, "laptop/0")
    assert is_valid_key(private) and is_valid_key(public_key_of(private))


@pytest.mark.skipif(shutil.which("wg") is None, reason="needs wireguard-tools")
def test_the_public_key_is_what_wg_pubkey_prints():
    for seed in (SEED, OTHER_SEED):
        for label in ("gateway/0", "laptop/0", "laptop/1", "phone/2026-11"):
            private = derive_private_key(seed, label)
            assert public_key_of(private) == wg_pubkey(private)
    random = generate_private_key()
    assert public_key_of(random) == wg_pubkey(random)


def test_seed_whitespace_is_ignored():
    long_seed = base64.encodebytes(bytes(range(64))).decode()  # wrapped after 76 characters, as `base64` does
    assert "\n" in long_seed.strip()
    assert derive_private_key(long_seed, "laptop/0") == derive_private_key("".join(long_seed.split()), "laptop/0")
    assert derive_private_key(" " + SEED + "\n", "laptop/0") == derive_private_key(SEED, "laptop/0")


@pytest.mark.parametrize(
    ("seed", "problem"),
    [
        ("", "decodes to 0 bytes, fewer than 32"),
        ("not base64!", "is not base64"),
        ("QUJD" * 10 + "Q", "is not base64"),  # incorrect padding
        (base64.urlsafe_b64encode(b"\xfb" * 32).decode(), "is not base64"),  # the URL-safe alphabet is not accepted
        (base64.b64encode(b"x" * (SEED_MIN_BYTES - 1)).decode(), "decodes to 31 bytes, fewer than 32"),
        (base64.b64encode(b"x" * (SEED_MAX_BYTES + 1)).decode(), "decodes to 65 bytes, more than 64"),
    ],
)
def test_bad_seeds(seed, problem):
    with pytest.raises(ValueError) as caught:
        seed_bytes(seed)
    assert str(caught.value) == problem
    with pytest.raises(ValueError):
        derive_private_key(seed, "laptop/0")


def test_seed_bounds():
    for size in (SEED_MIN_BYTES, SEED_MAX_BYTES):
        assert len(seed_bytes(base64.b64encode(b"s" * size).decode())) == size
