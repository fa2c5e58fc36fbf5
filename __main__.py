"""wgsites: one stack config -> a WireGuard VPN. Thin on purpose: config -> core -> components -> exports."""

import pulumi

from components import settings
from components.drift_check import read_markers
from components.vpn import WireGuardVpn, WireGuardVpnArgs
from wgsites.stack.access import shown_matrix

# A bad config raises here, with the core's messages, before any resource is registered.
conf = settings.load()
vpn = WireGuardVpn(
    "vpn",
    WireGuardVpnArgs(
        vpn=conf.vpn,
        stack=conf.stack,
        region=conf.region,
        ssh_private_key=conf.ssh_private_key,
        ssh_private_key_password=conf.ssh_private_key_password,
        key_rotations=conf.key_rotations,
        preshared_key_rotations=conf.preshared_key_rotations,
        key_seed=conf.key_seed,
        # what each SSH-managed host runs, read now: a host that drifted gets its repair in this up
        drift_markers=read_markers(conf.vpn, conf.stack, conf.ssh_access),
    ),
)

pulumi.export("hub_public_key", vpn.public_keys[conf.vpn.hub.name])
pulumi.export("hub_endpoint", vpn.hub_endpoint)
pulumi.export("public_keys", vpn.public_key_map)  # node -> public key
if (matrix := shown_matrix(conf.vpn)) is not None:
    # who reaches what, in words: a policy change shows in `pulumi preview --diff` (and the PR comment) as these lines
    pulumi.export("access", matrix)
for name, peer in vpn.peers.items():
    # `pulumi stack output NAME_config --show-secrets > wg0.conf`; its QR code: `wgsites qr NAME`
    pulumi.export(f"{name}_config", peer.config)
