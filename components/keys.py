"""WireGuard key pairs wgsites makes, for the aws hub and roaming peers: derived, not stored.

Each key is derived in the program from the stack's secret seed
(`wgsites:keySeed`) and the node's label `node/rotation` (wgsites.keys). So a
key is the same on every `up`, raising one node's rotation re-keys that node
alone, and every key is known during `pulumi preview`: a new peer's [Peer]
section shows in the hub's config diff. No resource holds a key; the private
key is a secret Output, the public key a plain one. Hosts managed over SSH make
their own keys (components.ssh_host); peers that bring their own public key get
no derived key.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from wgsites.keys import derive_private_key, key_label, public_key_of


@dataclass(frozen=True)
class NodeKey:
    private_key: pulumi.Output[str]  # secret
    public_key: pulumi.Output[str]  # plain: it goes into configs whose diffs a preview shows


def derived_key(seed: pulumi.Input[str], node: str, rotation: int | str = 0) -> NodeKey:
    """NODE's key pair under SEED; secret whether or not SEED arrives as a secret."""
    label = key_label(node, rotation)
    private = pulumi.Output.secret(seed).apply(lambda s: derive_private_key(s, label))
    # public_key_of is the only thing that leaves the secret: the public half, un-secreted on purpose
    public = pulumi.Output.unsecret(private.apply(public_key_of))
    return NodeKey(private_key=private, public_key=public)
