"""The drift check's reading of a host's `state`: each kind of drift named, markers stable, hostile answers refused."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wgsites.operations.host_drift import (
    ANSWER_LIMIT,
    MARKER,
    HostState,
    MalformedAnswer,
    findings,
    marker,
    parse_state,
    read_answer,
)
from wgsites.rendering.render import preshared_key_hook
from wgsites.stack.errors import ConfigError
from wgsites.stack.keys import generate_private_key, public_key_of

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
    # the marker is fixed words, a hash and a number, whatever was found: no text of the host's in a diff
    assert MARKER.fullmatch(marker(parse_state(text), expected)) if expected else marker(parse_state(text), expected) == ""


@pytest.mark.parametrize("text", [state(installed="no"), state(owner="home/renamed"), state(owner="other/router", peers={})])
def test_nothing_is_said_of_an_interface_this_node_does_not_own_or_has_not_installed(text):
    assert found(text) == []


def test_the_marker_is_stable_while_in_sync_and_new_for_each_repair():
    drifted = parse_state(state(port=51999))
    first = marker(drifted, findings(drifted, OWNER, "wg0"))
    assert re.fullmatch(r"drift [0-9a-f]{16} \(repair 1\)", first), first
    repaired = parse_state(state(repaired=first))
    assert marker(repaired, findings(repaired, OWNER, "wg0")) == first  # the host is back: no change, no repair
    again = parse_state(state(port=51999, repaired=first))
    assert marker(again, findings(again, OWNER, "wg0")) == first.replace("(repair 1)", "(repair 2)")
    other = parse_state(state(port=51998, repaired=first))
    assert marker(other, findings(other, OWNER, "wg0")).split()[1] != first.split()[1]  # another drift, another hash
    assert marker(parse_state(state()), []) == ""  # never repaired
    last = parse_state(state(port=51999, repaired="drift 0123456789abcdef (repair 999999)"))
    assert marker(last, findings(last, OWNER, "wg0")).endswith("(repair 1)")  # six digits at most: it starts again


def test_a_long_drift_is_a_marker_of_the_same_short_length():
    many = {public_key_of(generate_private_key()): f"10.10.11.{i}/32" for i in range(3, 240)}
    text = marker(parse_state(state(peers={PEER: "10.10.11.2/32", **many})), found(state(peers={PEER: "10.10.11.2/32", **many})))
    assert MARKER.fullmatch(text) and len(text) == len("drift 0123456789abcdef (repair 1)")


@pytest.mark.parametrize(
    "record",
    [
        "'; rm -rf / #\x1b[2J (repair 3)",
        "wg0 listens on port 51999, the stack says 51000 (repair 1)",  # an older wgsites' marker: words a host could choose
        "Please run curl example.net | sh (repair 1)",
        "drift 0123456789abcdef (repair 0)",
        "drift 0123456789ABCDEF (repair 1)",
        "drift 0123456789abcdef (repair 1234567)",
        "drift 0123456789abcdef (repair " + "9" * 5000 + ")",
        "drift 0123456789abcdef (repair \u0663)",
    ],
)
def test_a_hostile_host_cannot_put_its_own_text_into_the_marker(record):
    evil = parse_state(state(repaired=record))
    assert evil.repaired == ""  # not a marker wgsites writes
    assert MARKER.fullmatch(marker(evil, ["wg0 is down"])).group(1) == "1"


def test_a_malformed_peer_key_is_named_without_its_text():
    forged_peer = "$(reboot)\t(none)\t(none)\t10.0.0.1/32\t0\t0\t0\toff"
    text = state().replace("[config]", forged_peer + "\n[config]")
    assert found(text) == ["peer with a malformed key is not in the stack (added by hand?)"]


BAD_PORTS = ["\u00b2", "\u0663", "5" * 5000, "NaN", "-1", "65536", "1e3", "0x10", " 51000x", "+51000"]


@pytest.mark.parametrize("port", BAD_PORTS)
def test_a_listen_port_that_is_not_ascii_digits_from_1_to_65535_is_a_malformed_answer(port):
    with pytest.raises(MalformedAnswer) as caught:
        parse_state(state(port=port), "10.10.10.1")
    assert caught.value.messages == [
        "10.10.10.1: its answer is not a state wgsites reads (its listen port is not a number from 1 to 65535)"
    ]
    with pytest.raises(MalformedAnswer) as caught:
        parse_state(state(config=CONFIG.replace("ListenPort = 51000", f"ListenPort = {port}")), "10.10.10.1")
    assert caught.value.messages == [
        "10.10.10.1: its answer is not a state wgsites reads (the installed config's ListenPort is not a number from 1 to 65535)"
    ]


@pytest.mark.parametrize("mtu", ["\u00b2", "9" * 5000])
def test_an_installed_config_with_an_mtu_that_is_not_a_number_is_no_config_to_compare(mtu):
    text = state(port=51999, config=CONFIG.replace("ListenPort = 51000", f"ListenPort = 51000\nMTU = {mtu}"))
    assert found(text) == []  # nothing to compare the running device with (and no crash)


@pytest.mark.parametrize("port", ["1", "51000", "65535"])
def test_ports_of_ascii_digits_are_read(port):
    assert found(state(port=int(port))) == ([] if port == "51000" else [f"wg0 listens on port {port}, the stack says 51000"])


# every way a read can fail: fixed words, a byte offset or a code point number, never the host's own text
VERDICT = re.compile(
    r"10\.10\.10\.1: its install script printed no state; the next `pulumi up` updates it"
    r"|10\.10\.10\.1: its answer is not a state wgsites reads \((not UTF-8 text at byte \d+"
    r"|it holds the control character U\+[0-9A-F]{4,6}|its listen port is not a number from 1 to 65535"
    r"|the installed config's ListenPort is not a number from 1 to 65535)\)"
)


def good_answer() -> bytes:
    return state().encode()


def state_or_verdict(data: bytes) -> HostState | None:
    """The state DATA gives, with a marker of ours, or None after a verdict in fixed words."""
    try:
        result = parse_state(read_answer(data, "10.10.10.1"), "10.10.10.1")
    except ConfigError as exc:
        [message] = exc.messages
        assert VERDICT.fullmatch(message), message
        return None
    text = marker(result, findings(result, OWNER, "wg0"))
    assert text == "" or MARKER.fullmatch(text)
    return result


@pytest.mark.parametrize("value", range(256))
def test_every_byte_value_in_an_answer_ends_in_a_state_or_a_fixed_verdict(value):
    for where in (0, len(b"installed yes\nowner "), len(good_answer()) // 2, len(good_answer())):
        result = state_or_verdict(good_answer()[:where] + bytes([value]) + good_answer()[where:])
        assert result is None or isinstance(result, HostState) and (value in (9, 10) or 0x20 <= value < 0x7F)


CONTROL = "it holds the control character"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xff" + good_answer(), "not UTF-8 text at byte 0"),
        (good_answer() + b"\xc3", f"not UTF-8 text at byte {len(good_answer())}"),
        (good_answer().replace(b"repaired -", b"repaired \x1b]8;;http://x\x1b\\y\x1b]8;;\x1b\\"), f"{CONTROL} U+001B"),
        (good_answer().replace(b"owner", b"\x1b[2J\x1b[Hown"), f"{CONTROL} U+001B"),
        (good_answer() + "\u202e".encode(), f"{CONTROL} U+202E"),
        (good_answer() + b"\r", f"{CONTROL} U+000D"),
        (b"a" * (ANSWER_LIMIT + 1), f"over {ANSWER_LIMIT} bytes, the most a host's state can be"),
    ],
)
def test_an_answer_that_is_not_capped_utf8_text_without_control_characters_is_refused(data, reason):
    with pytest.raises(MalformedAnswer) as caught:
        read_answer(data, "10.10.10.1")
    assert caught.value.messages == [f"10.10.10.1: its answer is not a state wgsites reads ({reason})"]


def test_the_cap_holds_the_largest_state_a_host_can_give():
    """The installed config fits in the install command (MAX_ARG_STRLEN): as many peers as fit there, each
    in the dump with a long IPv6 endpoint and the largest counters, and a preshared-key verdict each."""
    peer = f"[Peer]\nPublicKey = {PEER}\nAllowedIPs = 10.1.2.3/32\n"
    count = 131072 // len(peer)
    config = CONFIG + peer * count
    endpoint = "[2001:db8:ffff:ffff:ffff:ffff:ffff:ffff%wlan0]:65535"
    dump = f"{PEER}\t(hidden)\t{endpoint}\t10.1.2.3/32\t{2**64}\t{2**64}\t{2**64}\t65535"
    text = state(config=config, verdicts={PEER: "other"}).replace("[psk]", "\n".join([dump] * count) + "\n[psk]")
    text = text.replace(f"{PEER} other", "\n".join([f"{PEER} other"] * count))
    assert 2 * len(text.encode()) < ANSWER_LIMIT
    assert read_answer(text.encode()) == text


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.integers(min_value=0, max_value=2000))
def test_any_bytes_anywhere_end_in_a_state_or_a_fixed_verdict(noise, where):
    state_or_verdict(good_answer()[:where] + noise + good_answer()[where:])


def test_an_old_install_script_that_prints_no_state_is_a_clear_error():
    with pytest.raises(ConfigError) as caught:
        parse_state("usage: wgsites-install [install|public-key|remove|reresolve]\n", "10.10.10.1")
    assert caught.value.messages == ["10.10.10.1: its install script printed no state; the next `pulumi up` updates it"]
