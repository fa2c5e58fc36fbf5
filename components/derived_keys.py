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

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from operator import itemgetter

import pulumi

from wgsites.stack.keys import derive_preshared_key, derive_private_key, key_label, preshared_key_label, public_key_of


class OnDemand(Mapping[str, pulumi.Output[str]]):
    """node -> its value of a map Output, as an Output made the first time it is read (or one GIVEN).

    The program reads a thousand peers' keys from the maps (rendering, the exported map), not one by
    one: an Output per key made up front cost the SDK a task each, two thousand of them never read."""

    def __init__(
        self, source: pulumi.Output[dict[str, str]], names: Iterable[str], given: Mapping[str, pulumi.Output[str]] | None = None
    ) -> None:
        self._source = source
        self._names = dict.fromkeys(names)  # the order they are listed in
        self._made: dict[str, pulumi.Output[str]] = dict(given or {})

    def __getitem__(self, name: str) -> pulumi.Output[str]:
        made = self._made.get(name)
        if made is None:
            if name not in self._names:
                raise KeyError(name)
            made = self._made[name] = self._source.apply(itemgetter(name))
        return made

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._names


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
