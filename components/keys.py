"""WireGuard key pairs made inside Pulumi, for the aws hub and roaming peers.

Keys are made once, in `create`, and kept in state as secrets: `diff` reports no
change unless `rotation` changes, so `pulumi up` never re-keys a peer behind the
user's back, and one peer's key can be rotated alone. Hosts managed over SSH
make their own keys (components.ssh_host); peers that bring their own public key
get no WireGuardKey at all.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi.dynamic


class WireGuardKeyProvider(pulumi.dynamic.ResourceProvider):
    """Curve25519 keys with pynacl, as `wg genkey | wg pubkey` makes them.

    The provider is serialized with dill into every WireGuardKey's state, so it
    stays self-contained: imports happen inside the methods and nothing from
    this module is captured (PULUMI-NOTES 11). dill stores the class by
    reference (`components.keys.WireGuardKeyProvider`); the engine starts the
    dynamic provider in the program's directory, where that import works.
    """

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        import base64

        from nacl.public import PrivateKey
        from pulumi.dynamic import CreateResult

        key = PrivateKey.generate()
        public = base64.b64encode(bytes(key.public_key)).decode()
        outs = {
            "private_key": base64.b64encode(bytes(key)).decode(),
            "public_key": public,
            "rotation": props.get("rotation", 0),
        }
        return CreateResult(id_=public, outs=outs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        from pulumi.dynamic import DiffResult

        def normal(value):  # numbers cross the wire as floats: 1, 1.0 and "1" are one rotation
            text = str(value if value is not None else 0)
            return text[:-2] if text.endswith(".0") else text

        if normal(olds.get("rotation")) != normal(news.get("rotation")):
            return DiffResult(changes=True, replaces=["rotation"], delete_before_replace=False)
        return DiffResult(changes=False)


class WireGuardKey(pulumi.dynamic.Resource, module="keys", name="WireGuardKey"):
    """One node's key pair; `private_key` is a secret output, `public_key` plain."""

    private_key: pulumi.Output[str]
    public_key: pulumi.Output[str]
    rotation: pulumi.Output[Any]

    def __init__(self, name: str, rotation: int | str = 0, opts: pulumi.ResourceOptions | None = None) -> None:
        secret = pulumi.ResourceOptions(additional_secret_outputs=["private_key"])
        super().__init__(
            WireGuardKeyProvider(),
            name,
            {"rotation": rotation, "private_key": None, "public_key": None},
            pulumi.ResourceOptions.merge(opts, secret),
        )
