"""`wgsites:sshPrivateKeyPassword` under mocks: a secret, only with a key, in every SSH host's connection.

The real engine using it on a passphrase-protected key is tests/engine/test_pulumi_ssh_auth.py.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pulumi
import pytest
import wgmocks as m

from components.settings import is_passphrase_protected

PASSWORD = "wgsites-test-not-a-real-passphrase"
FIX = "pulumi config set --secret wgsites:sshPrivateKeyPassword (it asks for the passphrase)"


def locked_key(directory: Path, passphrase: str) -> str:
    key = directory / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", "", "-f", str(key)], check=True)
    return str(key)


def run_error(stack: str, **kwargs) -> str:
    with pytest.raises(pulumi.RunError) as caught:
        m.run_stack(stack, **kwargs)
    return str(caught.value)


def test_the_password_goes_to_every_ssh_connection_as_a_secret(tmp_path):
    config = {"wgsites:sshPrivateKeyPath": locked_key(tmp_path, PASSWORD), "wgsites:sshPrivateKeyPassword": PASSWORD}
    run = m.run_stack("sites", config=config, secret_keys=["wgsites:sshPrivateKeyPassword"])
    commands = run.mocks.of_type(m.REMOTE)
    assert len(commands) == 6  # key, install, repair per host
    for command in commands:
        assert m.is_secret_input(command.inputs["connection"])
        assert m.unwrap(command.inputs["connection"])["privateKeyPassword"] == PASSWORD
    for resource in run.mocks.resources:
        assert PASSWORD not in "\n".join(m.plain_parts(resource.inputs)), resource.name
    for observed in run.outputs + list(run.exports.values()):
        assert observed.secret or PASSWORD not in repr(observed.value), observed.owner


def test_no_password_no_field(tmp_path):
    run = m.run_stack("router", config={"wgsites:sshPrivateKeyPath": locked_key(tmp_path, "")})
    for command in run.mocks.of_type(m.REMOTE):
        assert "privateKeyPassword" not in m.unwrap(command.inputs["connection"])


def test_a_protected_key_without_its_password_fails_before_any_resource(tmp_path):
    error = run_error("router", config={"wgsites:sshPrivateKeyPath": locked_key(tmp_path, PASSWORD)})
    assert error == f"wgsites:sshPrivateKeyPath: the key is protected by a passphrase; give it as a secret: {FIX}"


def test_a_password_without_a_key_or_in_plain_text_is_refused(tmp_path):
    error = run_error("router", config={"wgsites:sshPrivateKeyPassword": PASSWORD}, secret_keys=["wgsites:sshPrivateKeyPassword"])
    assert error.startswith("wgsites:sshPrivateKeyPassword: set, but there is no SSH key for it to unlock")
    config = {"wgsites:sshPrivateKeyPath": locked_key(tmp_path, PASSWORD), "wgsites:sshPrivateKeyPassword": PASSWORD}
    error = run_error("router", config=config)
    assert error == f"wgsites:sshPrivateKeyPassword: stored in plain text in the stack file; set it as a secret: {FIX}"
    assert PASSWORD not in error


@pytest.mark.parametrize(
    ("text", "protected"),
    [
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nwgsites-test-not-a-real-key\n-----END OPENSSH PRIVATE KEY-----\n", False),
        ("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END", True),
        ("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n", True),
        ("not a key", False),
    ],
)
def test_is_passphrase_protected(text, protected):
    assert is_passphrase_protected(text) is protected


def test_is_passphrase_protected_on_real_keys(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert is_passphrase_protected(Path(locked_key(tmp_path / "a", PASSWORD)).read_text())
    assert not is_passphrase_protected(Path(locked_key(tmp_path / "b", "")).read_text())
