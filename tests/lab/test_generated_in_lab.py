"""Stacks drawn from the generator of valid stacks (tests/strategies.py) brought up in the lab.

Why: the lab must run any stack that passes `check`, not only the examples. Each draw
is seeded (the same stack every run, printed), and each seed is the first draw that
has the shape its name says, so together they cover different shapes: an aws hub with
sites behind NAT and peers with own keys and DNS; an ssh hub with a managed laptop; a
small stack with a site reachable at its endpoint; a dual-stack one with a full-tunnel peer. Only the running-stack checks run
here (no changes, no faults), to keep the three under about 90 s.

Every drawn site is managed over SSH: a site without `ssh` gets only its wg-quick config
from `wgsites render` and the Pulumi layer, and today that config cannot work as a site
(the lab shows it as FAIL rows): with forward rules its PostUp loads a `<iface>.nft` no one
delivers (`wg-quick up` fails), and nothing turns on its forwarding for its LANs.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, find, settings

from lab.checks import table
from lab.netns import Lab
from lab.run import run_stack
from tests.strategies import stacks

Raw = dict[str, Any]


def sites(raw: Raw) -> list[Raw]:
    return raw.get("sites", [])


def peers(raw: Raw) -> list[Raw]:
    return raw.get("peers", [])


def sites_managed(raw: Raw) -> bool:
    """Every site is reached over SSH (see the module's docstring for why)."""
    return all("ssh" in s for s in sites(raw))


def aws_hub_sites_behind_nat_full_peer_with_dns(raw: Raw) -> bool:
    return (
        sites_managed(raw)
        and raw["hub"]["kind"] == "aws"
        and any(s.get("lans") and not s.get("endpoint") for s in sites(raw))
        and any(p["tunnel"] == "full" and p.get("dns") for p in peers(raw))
    )


def ssh_hub_with_lan_managed_laptop_split_dns(raw: Raw) -> bool:
    return (
        sites_managed(raw)
        and raw["hub"]["kind"] == "ssh"
        and bool(raw["hub"].get("lans"))
        and any("ssh" in p for p in peers(raw))
        and any(p["tunnel"] == "split" and p.get("dns") for p in peers(raw))
        and len(sites(raw)) + len(peers(raw)) <= 4
    )


def small_site_at_its_endpoint_with_two_lans(raw: Raw) -> bool:
    return (
        sites_managed(raw)
        and len(sites(raw)) == 1
        and sites(raw)[0].get("endpoint") is not None
        and len(sites(raw)[0].get("lans", [])) == 2
        and any("publicKey" in p for p in peers(raw))
        and len(peers(raw)) <= 2
    )


def dual_stack_with_a_full_peer(raw: Raw) -> bool:
    """network6 beside the IPv4 network: the lab's IPv6 checks run between every two nodes."""
    return (
        sites_managed(raw)
        and "network6" in raw
        and any(p["tunnel"] == "full" for p in peers(raw))
        and len(sites(raw)) + len(peers(raw)) <= 3
    )


SHAPES: dict[str, tuple[Callable[[Raw], bool], int]] = {
    "aws-nat-full-dns": (aws_hub_sites_behind_nat_full_peer_with_dns, 1),
    "ssh-managed-laptop": (ssh_hub_with_lan_managed_laptop_split_dns, 2),
    "small-site-endpoint": (small_site_at_its_endpoint_with_two_lans, 3),
    "dual-stack-full": (dual_stack_with_a_full_peer, 4),
}


def draw(shape: Callable[[Raw], bool], seed: int) -> Raw:
    """The first generated stack with SHAPE from a generator seeded with SEED (no shrinking: a real draw)."""
    quiet = settings(phases=[Phase.generate], max_examples=5000, database=None, suppress_health_check=list(HealthCheck))
    return find(stacks(), shape, settings=quiet, random=random.Random(seed))


@pytest.mark.parametrize("name", SHAPES)
def test_a_generated_stack_runs_in_the_lab(name, tmp_path):
    shape, seed = SHAPES[name]
    raw = draw(shape, seed)
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_text(yaml.safe_dump({"config": {"aws:region": "eu-central-1", "wgsites:vpn": raw}}, sort_keys=False))
    print(f"\n{name} (seed {seed}):\n{path.read_text()}")
    start = time.monotonic()
    with Lab() as lab:
        results = run_stack(lab, path, faults=False, changes=False)
    print(f"lab took {time.monotonic() - start:.0f} s\n{table(results)}")
    assert any(c.name == "handshake with the hub" for c in results)
    if "network6" in raw:
        assert any(c.name == "ping6 over the tunnel" for c in results)
    failed = [c for c in results if not c.passed]
    assert not failed, "\n" + table(failed)
