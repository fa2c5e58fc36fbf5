"""`status` rows of a host managed over SSH from its `wg show` dump and config: the threshold and --json fields.

The same hosts for real: tests/lab/test_status.py; an aws hub's view: test_status_aws_hub.py.
"""

from __future__ import annotations

from tests.stacks import stack_file
from wgsites.operations.host_status import diagnose, json_rows
from wgsites.stack.check import load_stack_file
from wgsites.stack.keys import generate_private_key, public_key_of

NOW = 1_800_000_000
LAPTOP = public_key_of(generate_private_key())


def output(handshake: int) -> str:
    """What COMMAND prints on the router: its dump (the interface's own line first), then its config's names."""
    router = generate_private_key()
    laptop = f"{LAPTOP}\t(none)\t198.51.100.7:51000\t10.10.11.2/32\t{handshake}\t10\t20\t0"
    dump = f"{router}\t{public_key_of(router)}\t51000\toff\n{laptop}\n"
    return f"{dump}--- config\n[Interface]\n[Peer]\n# laptop\nPublicKey = {LAPTOP}\n"


def test_the_threshold_decides_stale_and_json_names_the_facts():
    vpn = load_stack_file(stack_file("router"))
    (row,) = diagnose(vpn, "router", output(NOW - 100), now=NOW)
    assert row.state == "ok" and row.detail == "handshake 100 s ago from 198.51.100.7:51000, 10 B in, 20 B out"
    (row,) = diagnose(vpn, "router", output(NOW - 100), now=NOW, stale_after=60)
    assert row.state == "stale"
    assert json_rows([row]) == [
        {
            "node": "router",
            "peer": "laptop",
            "state": "stale",
            "detail": "handshake 100 s ago from 198.51.100.7:51000, 10 B in, 20 B out",
            "endpoint": "198.51.100.7:51000",
            "handshake_age": 100,
            "rx": 10,
            "tx": 20,
        }
    ]
    (row,) = diagnose(vpn, "router", output(0), now=NOW)
    assert row.state == "never" and row.handshake_age is None
