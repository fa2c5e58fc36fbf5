"""What the aws gateway gets through SSM: one versioned bundle of everything that changes on it.

The VM's user data is a static bootstrap (it changes only with instance-level choices):
cloud-init runs it once per instance, and EC2 stops and starts an instance whose user data
changes. So the config, the install script (with the nftables rules and the sysctl in it),
the sync agent itself and its period all travel in the bundle, and the agent applies each
change in place. A bundle is JSON text cut into chunks of at most 4,000 characters, each a
Standard-tier String parameter (SSM's limit is 4 KB there), plus a manifest with the number
of chunks and the text's SHA-256: the VM assembles the chunks and applies the text only
when its hash matches, so a bundle read while Pulumi rewrites it is never half applied, and
only when the manifest carries the stack's signature: the bundle holds code that runs as root
on the VM, and an SSM writer without the stack's seed cannot sign one. The signature covers the
whole manifest (signed_text): the stack, the interface, the chunk count, the length, the hash
and a serial that only grows (the Pulumi layer's bundle-serial command), so SSM's old versions
of the parameters, all once signed, cannot be put back: the VM keeps the highest serial it
applied and refuses anything at or below it (the bootstrap: gateway_programs.py).
The private key is not in the bundle: it has its own SecureString. So have the preshared keys
(SecureString chunks under `<prefix>/preshared-keys/`): the bundle carries only their count and
SHA-256, so an SSM writer without the seed cannot swap them either.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass

from .ssm_format import BUNDLE_FORMAT, CHUNK_CHARS, MANIFEST_FORMAT, SIGNED_PREFIX


@dataclass(frozen=True)
class GatewayParameters:
    """Where an aws gateway's parameters are; the names change only with the stack or the interface."""

    prefix: str  # /wgsites/<stack>/<interface>
    region: str
    endpoint_url: str | None = None  # only the lab points the VM elsewhere

    @property
    def manifest(self) -> str:
        return f"{self.prefix}/bundle"

    def chunk(self, index: int) -> str:
        return f"{self.prefix}/bundle/{index:04d}"

    @property
    def key(self) -> str:
        return f"{self.prefix}/private-key"

    @property
    def status(self) -> str:
        """The manifest of the gateway's published status (gateway_status.py); the agent writes it, `status` reads it."""
        return f"{self.prefix}/status"

    def status_chunk(self, index: int) -> str:
        return f"{self.prefix}/status/{index:04d}"

    def preshared_keys_chunk(self, index: int) -> str:
        """A SecureString part of the hub's preshared keys (render_preshared_keys' text; the agent reads them)."""
        return f"{self.prefix}/preshared-keys/{index:04d}"


def gateway_parameters(stack: str, interface: str, region: str, endpoint_url: str | None = None) -> GatewayParameters:
    return GatewayParameters(f"/wgsites/{stack}/{interface}", region, endpoint_url)


def bundle_text(
    config: str,
    install_script: str,
    agent: str,
    sync_seconds: int,
    status_chunks: int,
    preshared_keys: dict[str, object] | None = None,
    public_key: str | None = None,
    metrics: bool = False,
) -> str:
    """The bundle as the VM reads it: one JSON object, keys sorted, so equal content is equal text.

    PRESHARED_KEYS: `{"chunks": N, "sha256": HEX}` of the hub's preshared keys, or None when it has none.
    PUBLIC_KEY: the hub's public key, so the agent takes from the key parameter only the private key the
    signed bundle names (an older key put back is refused like an older bundle).
    METRICS: the stack names node_exporter's textfile folder, so the agent has the script write it each sync."""
    bundle = {
        "status_chunks": status_chunks,  # how many status chunk parameters Pulumi made (all the agent may write)
        "format": BUNDLE_FORMAT,
        "config": config,  # the wg-quick config, no key in it
        "install": install_script,  # the install script, nftables and sysctl inside
        "agent": agent,  # the sync agent the bootstrap runs every period
        "sync_seconds": sync_seconds,
    }
    if preshared_keys is not None:  # absent, not null, without them: a bundle without them is as before
        bundle["preshared_keys"] = preshared_keys
    if public_key is not None:
        bundle["public_key"] = public_key
    if metrics:  # absent without them: the agent then runs no metrics action (and a bundle is as before)
        bundle["metrics"] = True
    return json.dumps(bundle, sort_keys=True, separators=(",", ":"))


def chunk_count(text: str) -> int:
    return max(1, math.ceil(len(text) / CHUNK_CHARS))


def chunks(text: str, count: int) -> list[str]:
    """TEXT in COUNT pieces of at most CHUNK_CHARS; a piece past its end is "-" (SSM takes no empty value),
    cut off again by the manifest's length."""
    if len(text) > count * CHUNK_CHARS:
        raise ValueError(f"a bundle of {len(text)} characters does not fit {count} chunks")
    return [text[i * CHUNK_CHARS : (i + 1) * CHUNK_CHARS] or "-" for i in range(count)]


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def manifest_fields(text: str, count: int, serial: int, stack: str, interface: str) -> dict[str, object]:
    """Which bundle the VM applies, every field signed: its chunks, length and SHA-256, whose it is, its serial."""
    return {
        "chunks": count,
        "format": MANIFEST_FORMAT,
        "interface": interface,
        "length": len(text),
        "serial": serial,
        "sha256": digest(text),
        "stack": stack,
    }


def signed_text(fields: dict[str, object]) -> str:
    """What the stack's Ed25519 key signs: every field of the manifest but the signature, in one canonical JSON
    text (the bootstrap computes the same from what it reads, so a field changed by an SSM writer breaks it)."""
    claims = {key: value for key, value in fields.items() if key != "signature"}
    return SIGNED_PREFIX + json.dumps(claims, sort_keys=True, separators=(",", ":"))


def manifest(fields: dict[str, object], signature: str) -> str:
    """The manifest parameter's text: manifest_fields' fields and the stack's signature over signed_text."""
    return json.dumps({**fields, "signature": signature}, sort_keys=True)


def parse_serial(text: str | None) -> int:
    """The bundle-serial command's stdout (seconds since the epoch, or one more than the last): a whole number.

    None only under Pulumi's mocks (they answer a command with its inputs, no stdout): 0, which no gateway
    applies (the bootstrap takes serials from 1), so a stack's unit tests run as before."""
    if text is None:
        return 0
    if not (text.isascii() and text.isdigit()) or len(text) > 20:
        raise ValueError(f"the bundle serial {text[:40]!r} is no whole number; run `pulumi up` again")
    return int(text)
