"""The drift check's reading of a host's `state`: each kind of drift named, markers stable, hostile text dropped."""

from __future__ import annotations

import pytest

from wgsites.config import ConfigError
from wgsites.drift import MARKER_TEXT, findings, marker, parse_state
from wgsites.keys import generate_private_key, public_key_of
from wgsites.render import preshared_key_hook

HOST, PEER, STRANGER = (public_key_of(generate_private_key()) for _ in range(3))
OWNER = "home/router"
HOOK = str(preshared_key_hook())
CONFIG = f"""# router: wg0 of wgsites stack "home". Rendered by wgsites; edits are overwritten.
[Interface]
Address = 10.10.11.1/24
ListenPort = 51000
PostUp = wg set %i private-key /etc/wireguard/%i.key

[Peer]
# laptop
PublicKey = {PEER}
AllowedIPs = 10.10.11.2/32

# end of the wgsites config
"""

WITH_HOOK = CONFIG.replace("/etc/wireguard/%i.key\n", f"/etc/wireguard/%i.key\n{HOOK}\n", 1)


def state(
    *,
    key: str = HOST,
    port: int = 51000,
    peers: dict[str, str] | None = None,
    up: bool = True,
    repaired: str = "-",
    verdicts: dict[str, str] | None = None,
    config: str = CONFIG,
    **records,
) -> str:
    peers = {PEER: "10.10.11.2/32"} if peers is None else peers
    head = {"installed": "yes", "owner": OWNER, "key": key, "repaired": repaired, **records}
    lines = [f"{k} {v}" for k, v in head.items()] + ["[dump]"]
    if up:
        lines.append(f"(hidden)\t{HOST}\t{port}\toff")
        lines += [f"{p}\t(none)\t203.0.113.9:4242\t{ips}\t1733100000\t1000\t2000\toff" for p, ips in peers.items()]
    if verdicts is not None:  # the host keeps a preshared-key store: its verdict per running peer
        lines += ["[psk]", *(f"{p} {verdict}" for p, verdict in verdicts.items())]
    return "\n".join([*lines, "[config]", config])


def found(text: str) -> list[str]:
    return findings(parse_state(text), OWNER, "wg0")


def test_a_host_in_sync_has_nothing_to_say():
    assert found(state()) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            state(peers={PEER: "10.10.11.2/32", STRANGER: "10.10.11.99/32"}),
            [f"peer {STRANGER[:8]}... is not in the stack (added by hand?)"],
        ),
        (state(peers={}), [f"peer {PEER[:8]}... of the stack is not running"]),
        (
            state(peers={PEER: "10.10.11.2/32,10.10.10.0/24"}),
            [f"peer {PEER[:8]}... has AllowedIPs 10.10.10.0/24, 10.10.11.2/32, the stack says 10.10.11.2/32"],
        ),
        (state(port=51999), ["wg0 listens on port 51999, the stack says 51000"]),
        (state(key="-"), ["the key file /etc/wireguard/wg0.key is missing"]),
        (state(key=STRANGER), ["wg0 runs another key than the one in its key file"]),
        (state(up=False), ["wg0 is down"]),
        (state(verdicts={PEER: "missing"}), [f"peer {PEER[:8]}... runs no preshared key, the stack gives it one"]),
        (state(verdicts={PEER: "other"}), [f"peer {PEER[:8]}... runs another preshared key than the stack gives it"]),
        (state(verdicts={PEER: "extra"}), [f"peer {PEER[:8]}... runs a preshared key the stack does not give it"]),
        (state(verdicts={PEER: "ok"}), []),
        (state(verdicts={PEER: "none"}), []),
        (state(verdicts={PEER: "missing; id"}), []),  # a verdict not of ours is no finding (nor text in the marker)
        (
            state(psk="no", config=WITH_HOOK),
            [
                "the preshared key file /etc/wireguard/wg0.psk is missing; write it again: "
                "pulumi up --replace on the -psk command of this node"
            ],
        ),
        (state(psk="no"), []),  # a config without the hook has no preshared keys to lose
        (state(psk="yes", config=WITH_HOOK), []),
    ],
)
def test_each_drift_is_named(text, expected):
    assert found(text) == expected
    # a marker the host reports back is read again only in wgsites' own characters: each finding must be
    assert MARKER_TEXT.fullmatch(marker(parse_state(text), expected)), expected


@pytest.mark.parametrize("text", [state(installed="no"), state(owner="home/renamed"), state(owner="other/router", peers={})])
def test_nothing_is_said_of_an_interface_this_node_does_not_own_or_has_not_installed(text):
    assert found(text) == []


def test_the_marker_is_stable_while_in_sync_and_new_for_each_repair():
    drifted = parse_state(state(port=51999))
    first = marker(drifted, findings(drifted, OWNER, "wg0"))
    assert first == "wg0 listens on port 51999, the stack says 51000 (repair 1)"
    repaired = parse_state(state(repaired=first))
    assert marker(repaired, findings(repaired, OWNER, "wg0")) == first  # the host is back: no change, no repair
    again = parse_state(state(port=51999, repaired=first))
    assert marker(again, findings(again, OWNER, "wg0")) == "wg0 listens on port 51999, the stack says 51000 (repair 2)"
    assert marker(parse_state(state()), []) == ""  # never repaired


def test_a_long_drift_is_cut_to_what_the_install_script_takes():
    many = {public_key_of(generate_private_key()): f"10.10.11.{i}/32" for i in range(3, 40)}
    text = marker(parse_state(state(peers={PEER: "10.10.11.2/32", **many})), found(state(peers={PEER: "10.10.11.2/32", **many})))
    assert len(text) <= 320 and text.endswith("... (repair 1)")


def test_a_hostile_host_cannot_put_its_own_text_into_the_marker():
    evil = parse_state(state(repaired="'; rm -rf / #\x1b[2J (repair 3)"))
    assert evil.repaired == ""  # not a marker wgsites writes
    forged_peer = "$(reboot)\t(none)\t(none)\t10.0.0.1/32\t0\t0\t0\toff"
    text = state().replace("[config]", forged_peer + "\n[config]")
    assert found(text) == ["peer with a malformed key is not in the stack (added by hand?)"]


def test_an_old_install_script_that_prints_no_state_is_a_clear_error():
    with pytest.raises(ConfigError) as caught:
        parse_state("usage: wgsites-install [install|public-key|remove|reresolve]\n", "10.10.10.1")
    assert caught.value.messages == ["10.10.10.1: its install script printed no state; the next `pulumi up` updates it"]
