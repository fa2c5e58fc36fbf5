"""How big an aws gateway's published status gets, and what it costs in SSM writes (prints figures).

`.venv/bin/python bench/hub_status_size.py`: for a gateway with N peers, the agent's own
encoding (wgsites/rendering/templates/gateway/wgsites-sync.py.j2) of a realistic `wg show` dump (random keys, IPv4
endpoints, counters in the gigabytes), the chunks it takes, the slots Pulumi makes for the
worst case (wgsites/rendering/status_slots.py), and the PutParameter calls per hour: at most one status
per sync period (30 s) when handshakes move, one per heartbeat (300 s) when nothing does.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.gateway_programs import agent_module  # noqa: E402
from wgsites.rendering.ssm_format import HEARTBEAT_SECONDS  # noqa: E402
from wgsites.rendering.status_slots import status_slots  # noqa: E402
from wgsites.stack.check import load_stack_file  # noqa: E402
from wgsites.stack.keys import generate_private_key, public_key_of  # noqa: E402
from wgsites.stack.model import Spoke  # noqa: E402


def gateway_with(count: int):
    vpn = load_stack_file(ROOT / "examples" / "Pulumi.home.yaml")
    base = int(ipaddress.IPv4Address("10.99.0.0"))
    peers = tuple(Spoke(name=f"phone{i}", kind="peer", address=ipaddress.IPv4Address(base + 4 + i)) for i in range(count))
    return dataclasses.replace(vpn, network=ipaddress.IPv4Network("10.99.0.0/20"), spokes=peers)


def dump_and_config(count: int, now: int) -> tuple[str, str]:
    rng = random.Random(count)
    hub = generate_private_key()
    lines, config = [f"{hub}\t{public_key_of(hub)}\t51820\toff"], ["[Interface]"]
    for i in range(count):
        key = public_key_of(generate_private_key())
        endpoint = f"198.51.100.{rng.randrange(1, 255)}:{rng.randrange(1024, 65536)}"
        address = ipaddress.IPv4Address(int(ipaddress.IPv4Address("10.99.0.4")) + i)
        rx, tx = rng.randrange(10**9, 10**11), rng.randrange(10**9, 10**11)
        lines.append(f"{key}\t(none)\t{endpoint}\t{address}/32\t{now - rng.randrange(0, 120)}\t{rx}\t{tx}\t25")
        config += ["[Peer]", f"# phone{i}", f"PublicKey = {key}"]
    return "\n".join(lines) + "\n", "\n".join(config) + "\n"


def main() -> None:
    os.environ.setdefault("WGSITES_INTERFACE", "wg0")
    agent, now, period = agent_module(), 1_800_000_000, 30
    print(f"{'peers':>6} {'JSON chars':>11} {'published chars':>16} {'chunks':>7} {'slots':>6} {'puts/h busy':>12} {'idle':>5}")
    for count in (1, 10, 35, 100, 250, 1000):
        dump, config = dump_and_config(count, now)
        document = agent.status_document(dump, config, now)
        raw = len(agent.json.dumps(document, sort_keys=True, separators=(",", ":")))
        chunks = agent.status_chunks(document)
        slots = status_slots(gateway_with(count))
        busy, idle = 3600 // period * (len(chunks) + 1), 3600 // HEARTBEAT_SECONDS * (len(chunks) + 1)
        print(f"{count:>6} {raw:>11} {sum(map(len, chunks)):>16} {len(chunks):>7} {slots:>6} {busy:>12} {idle:>5}")


if __name__ == "__main__":
    main()
