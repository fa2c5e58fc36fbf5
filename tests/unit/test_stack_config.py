"""`wgsites check` (and scripts/ci-stacks, which reads stacks the same way) refuses every `wgsites:` key the
program would refuse, with the program's words (tests/mocks/test_pulumi_changes.py and
test_pulumi_preshared_keys.py hold the program's side of the same cases); a key nothing reads gets a
"did you mean" (issue 29, point 2; issue 26, point 10)."""

from __future__ import annotations

import pytest
import yaml

from tests.stacks import stack_file
from wgsites.operations.cli import main


def check(tmp_path, capsys, stack: str, config: dict, vpn_edit=None) -> tuple[int, str]:
    document = yaml.safe_load(stack_file(stack).read_text())
    document["config"].update(config)
    if vpn_edit:
        vpn_edit(document["config"]["wgsites:vpn"])
    path = tmp_path / f"Pulumi.{stack}.yaml"
    path.write_text(yaml.safe_dump(document))
    code = main(["check", str(path)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def psk_on(raw: dict) -> None:
    raw["presharedKey"] = True


@pytest.mark.parametrize(
    ("stack", "config", "vpn_edit", "message"),
    [
        (
            "home",
            {"wgsites:keyRotations": {"home": 1}},
            None,
            "wgsites:keyRotations.home: makes its own key on the host, which wgsites does not rotate; rotate only "
            "gateway, laptop, phone",
        ),
        (
            "home",
            {"wgsites:keyRotations": {"nobody": 1}},
            None,
            "wgsites:keyRotations.nobody: is not a node of wgsites:vpn; rotate only gateway, laptop, phone",
        ),
        (
            "home",
            {"wgsites:keyRotations": {"laptop": [1]}},
            None,
            "wgsites:keyRotations.laptop: [1] is not a number or a string; raise it (1, 2, ...) to make a new key",
        ),
        (
            "sites",
            {"wgsites:presharedKeyRotations": {"alpha": 1}},
            psk_on,
            "wgsites:presharedKeyRotations.alpha: is the hub; a preshared key belongs to a hub-spoke pair, so name "
            "the spoke; rotate only beta",
        ),
        (
            "sites",
            {"wgsites:presharedKeyRotations": {"gamma": 1}},
            psk_on,
            "wgsites:presharedKeyRotations.gamma: is not a node of wgsites:vpn; rotate only beta",
        ),
        (
            "sites",
            {"wgsites:presharedKeyRotations": [1]},
            psk_on,
            "wgsites:presharedKeyRotations: [1] is not a mapping; write it as `spoke-name: 1` lines",
        ),
        (
            "sites",
            {"wgsites:presharedKeyRotations": {"beta": 1}},
            None,
            "wgsites:presharedKeyRotations.beta: has no preshared key (set presharedKey: true on it, or "
            "wgsites:vpn.presharedKey: true); rotate only no spoke in this stack",
        ),
        (
            "home",
            {"wgsites:keySeed": "c2VlZHNlZWRzZWVkc2VlZHNlZWRzZWVkc2VlZHNlZWQ="},
            None,
            "wgsites:keySeed: stored in plain text in Pulumi.home.yaml, where it gives away the keys of gateway, laptop, "
            'phone; set a new one as a secret: pulumi config set --secret wgsites:keySeed "$(head -c 32 /dev/urandom '
            '| base64)"',
        ),
        (
            "home",
            {"wgsites:sshPrivateKeyPassword": "hunter2"},
            None,
            "wgsites:sshPrivateKeyPassword: stored in plain text in the stack file; set it as a secret: pulumi config "
            "set --secret wgsites:sshPrivateKeyPassword (it asks for the passphrase)",
        ),
        (
            "router",
            {"wgsites:driftCheck": "no"},
            None,
            "wgsites:driftCheck: 'no' is not true or false; write true or false",
        ),
        (
            "router",
            {"wgsites:keyRotation": {"laptop": 1}},
            None,
            "wgsites:keyRotation: unknown key; did you mean wgsites:keyRotations? use one of: wgsites:vpn, "
            "wgsites:keySeed, wgsites:keyRotations, wgsites:presharedKeyRotations, wgsites:sshPrivateKey, "
            "wgsites:sshPrivateKeyPath, wgsites:sshPrivateKeyPassword, wgsites:driftCheck, wgsites:autoDeploy",
        ),
    ],
    ids=lambda value: None,
)
def test_check_refuses_what_the_program_refuses(tmp_path, capsys, stack, config, vpn_edit, message):
    code, err = check(tmp_path, capsys, stack, config, vpn_edit)
    assert code == 2
    assert err.splitlines() == [f"error: {message}"]


def test_good_settings_and_secrets_pass(tmp_path, capsys):
    config = {
        "wgsites:keyRotations": {"laptop": 2, "phone": "2026-11"},
        "wgsites:keySeed": {"secure": "v1:AAAA"},  # encrypted: not readable here, and not refused
        "wgsites:sshPrivateKeyPassword": {"secure": "v1:AAAA"},
        "wgsites:driftCheck": "false",
    }
    assert check(tmp_path, capsys, "home", config) == (0, "")


def test_an_unknown_vpn_key_gets_a_did_you_mean(tmp_path, capsys):
    def typo(raw: dict) -> None:
        raw["hub"]["endpont"] = raw["hub"].pop("endpoint")

    code, err = check(tmp_path, capsys, "router", {}, typo)
    assert code == 2
    assert "error: wgsites:vpn.hub.endpont: unknown key; did you mean endpoint? use one of: " in err
