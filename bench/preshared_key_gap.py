"""How long one end of a pair may run a new preshared key before the other (root, about 3 minutes).

    sudo .venv/bin/python bench/preshared_key_gap.py

test_install_script's topology (a hub and one site on a lab bridge, userspace WireGuard), the real
install script with `presharedKey: true`: both ends get one key, the site restarts (a fresh session
at t0), then only the hub gets a new key. The site pings the hub every 0.2 s until the first lost
ping. Printed: when the hub changed and when the first ping was lost, in seconds into the session,
and whether the session was ever renewed. WireGuard's timers say what to expect: the session keeps
its keys until a rekey at REKEY_AFTER_TIME (120 s), which fails with mismatched keys and is retried
every 5 s, while the old keys stay usable until REJECT_AFTER_TIME (180 s). So both ends of a rotated
pair must change within 180 s minus the session's age, at least 60 s. Measured 2026-12-02: hub
changed 0.2 s in, first ping lost 181.3 s in, no new handshake.
"""

from __future__ import annotations

import time

from lab.netns import Lab
from tests.lab.test_install_script import HUB_VPN, IFACE, LAB_ADDRESS, STACK, World, pings, script, wg
from tests.lab.test_preshared_keys_install import VPN, set_keys
from wgsites.rendering.render import KeyRing, render_wg_quick
from wgsites.stack.keys import generate_private_key


def main() -> None:
    with Lab() as lab:
        nodes = {name: lab.node(name) for name in ("hub", "s1")}
        switch = lab.node("sw")
        for name, node in nodes.items():
            lab.link(node, "eth0", switch, f"p-{name}")
            node.add_address("eth0", f"{LAB_ADDRESS[name]}/24")
        switch.add_bridge("br0", [f"p-{name}" for name in nodes])
        world = World(lab, nodes)
        for name, node in nodes.items():
            world.public[name] = script(node, VPN, "public-key").stdout.strip()
        for name in ("hub", "s1"):
            script(nodes[name], VPN, "install", render_wg_quick(VPN, name, STACK, KeyRing(public=world.public)))
        key = generate_private_key()
        for name in ("hub", "s1"):
            set_keys(world, name, key)
        site = nodes["s1"]
        site.run(f"wg-quick down {IFACE} && wg-quick up {IFACE}")
        assert pings(site, HUB_VPN)
        start = int(wg(site, "latest-handshakes").split()[1])
        set_keys(world, "hub", generate_private_key())  # one end only
        changed = time.time() - start
        lost = None
        while time.time() - start < 240:
            if site.run(["ping", "-c", "1", "-W", "1", HUB_VPN], check=False).returncode != 0:
                lost = time.time() - start
                break
            time.sleep(0.2)
        renewed = int(wg(site, "latest-handshakes").split()[1]) != start
        print(
            f"hub changed {changed:.1f} s into the session; first ping lost "
            f"{'never (240 s)' if lost is None else f'{lost:.1f} s'} into it; session renewed: {renewed}"
        )


if __name__ == "__main__":
    main()
