"""Generated access policies on a dual-stack stack (hypothesis), compiled and read by the real `nft -c`: every
ruleset the compiler can write (IPv4 and IPv6 rows, the internet negated, port sets, ranges, icmp, expiry) loads."""

from __future__ import annotations

import copy
import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.bad_stacks import BASE
from wgsites.rendering.render import render_nftables
from wgsites.stack.access import check_access
from wgsites.stack.parse import parse_vpn

NAMES = ["router", "office", "laptop", "tablet", "staff", "nas", "home-lan", "v6-host", "internet"]
PORT = st.sampled_from(["tcp/22", "tcp/445", "udp/53", "udp/137-138", "tcp/8000-8080", "icmp"])


def stack(rules: list[dict], expires: str | None) -> dict:
    raw = copy.deepcopy(BASE)
    raw["network6"] = "fd10:11::/64"
    raw["peers"].append({"name": "tablet", "address": "10.10.11.4", **({"expires": expires} if expires else {})})
    raw["hosts"] = {"nas": "10.10.10.20", "home-lan": "10.10.10.0/24", "v6-host": "fd10:11::99"}
    raw["access"] = {
        "groups": {"staff": ["laptop", "tablet"]},
        "rules": rules,
    }
    return raw


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rules=st.lists(
        st.fixed_dictionaries(
            {
                "from": st.lists(st.sampled_from(NAMES[:-1]), min_size=1, max_size=3, unique=True),
                "to": st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True),
                "ports": st.lists(PORT, max_size=3, unique=True),
            }
        ),
        max_size=4,
    ),
    expires=st.sampled_from([None, "2020-01-01", "2031-05-06 07:08"]),
)
def test_every_compiled_policy_is_one_nft_loads(wg_interface, rules, expires):
    lab_node, _ = wg_interface
    vpn = parse_vpn(stack(rules, expires))
    assert check_access(vpn, "wgsites:vpn") == []
    nft = render_nftables(vpn, "router", "generated")
    checked = lab_node.run(["nft", "-c", "-f", "-"], input=nft, check=False)
    assert checked.returncode == 0, f"{rules}: {checked.stderr}\n{nft}"
    if expires:
        epoch = int(dt.datetime.fromisoformat(expires).replace(tzinfo=dt.UTC).timestamp())
        assert f"meta time >= {epoch} reject" in nft
