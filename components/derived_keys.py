"""WireGuard key pairs wgsites makes, for the aws hub and roaming peers: derived, not stored.

Each key is derived in the program from the stack's secret seed
(`wgsites:keySeed`) and the node's label `node/rotation` (wgsites.stack.keys). So a
key is the same on every `up`, raising one node's rotation re-keys that node
alone, and every key is known during `pulumi preview`: a new peer's [Peer]
section shows in the hub's config diff. No resource holds a key; the private
key is a secret Output, the public key a plain one. Hosts managed over SSH make
their own keys (components.ssh_host); peers that bring their own public key get
no derived key.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pulumi

from wgsites.rendering.render import KeyRing
from wgsites.stack.keys import derive_preshared_key, derive_private_key, key_label, preshared_key_label, public_key_of

from .outputs import OnDemand, joined, together


@dataclass(frozen=True)
class DerivedKeys:
    """Every derived key pair of a stack: as two maps (node -> key), and each private key on its own (made when read)."""

    private: pulumi.Output[dict[str, str]]  # secret
    public: pulumi.Output[dict[str, str]]  # plain
    private_keys: OnDemand  # node -> its private key (secret)


def derived_keys(seed: pulumi.Input[str], nodes: Mapping[str, str], rotations: Mapping[str, int | str]) -> DerivedKeys:
    """Each of NODES' key pair under SEED (node -> the name its key is made from: its first, through renames);
    secret whether or not SEED arrives as a secret.

    All are derived in one pass over the seed; one node's key is an Output of its own only once
    something reads it alone (OnDemand): a thousand peers' keys cost the program two Outputs, not
    two thousand."""
    labels = {node: key_label(first, rotations.get(node, 0)) for node, first in nodes.items()}
    private = pulumi.Output.secret(seed).apply(lambda s: {node: derive_private_key(s, label) for node, label in labels.items()})
    # public_key_of is the only thing that leaves the secret: the public halves, un-secreted on purpose
    public = pulumi.Output.unsecret(private.apply(lambda keys: {node: public_key_of(key) for node, key in keys.items()}))
    return DerivedKeys(private=private, public=public, private_keys=OnDemand(private, nodes))


def derived_preshared_keys(
    seed: pulumi.Input[str], spokes: Mapping[str, str], rotations: Mapping[str, int | str]
) -> pulumi.Output[dict[str, str]]:
    """The preshared key of each hub-spoke pair of SPOKES (spoke -> its first name), one map, secret."""
    labels = {spoke: preshared_key_label(first, rotations.get(spoke, 0)) for spoke, first in spokes.items()}
    return pulumi.Output.secret(seed).apply(lambda s: {spoke: derive_preshared_key(s, label) for spoke, label in labels.items()})


@dataclass(frozen=True)
class StackKeys:
    """Every key of a stack as Outputs, lifted into the core's KeyRing for the delivery plan to read.

    The public keys: DERIVED's map, and GIVEN (node -> its key: an SSH host's answer, checked, or one
    written in the stack file); the preshared keys: one map (None: no pair has one)."""

    derived: DerivedKeys
    given: Mapping[str, pulumi.Output[str]]
    preshared: pulumi.Output[dict[str, str]] | None
    names: tuple[str, ...]  # every node, in the stack's order

    @functools.cached_property
    def public_keys(self) -> OnDemand:
        """node -> its public key, each an Output made when first read."""
        return OnDemand(self.derived.public, self.names, self.given)

    def public(self, names: Iterable[str]) -> pulumi.Output[dict[str, str]]:
        """NAMES' public keys as one map."""
        return joined(self.derived.public, self.given, names)

    def ring(self, names: Iterable[str], private: bool = False, preshared: bool = False) -> pulumi.Output[KeyRing]:
        """A key ring of NAMES' public keys, with the derived private keys and the preshared keys if asked
        (secret then); only the keys asked for, since one unknown key (a new SSH host's, in a preview)
        leaves all that reads the ring unknown."""
        public = self.public(names)
        if not (private or preshared):
            return public.apply(KeyRing)
        nothing: dict[str, str] = {}
        secrets = (self.derived.private if private else nothing, self.preshared if preshared and self.preshared else nothing)
        return together(KeyRing, public, *secrets)
