"""SSH authentication as pulumi-command does it, with the real engine on the router stack.

A passphrase-protected key given by path works once its passphrase is a secret
setting (and is refused clearly without it, or with a wrong one); a stale
SSH_AUTH_SOCK fails every SSH command even with a key, as upstream pulumi-command
does, with an error that says what to do; a running agent alone is enough.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import time

from components.settings import is_passphrase_protected
from lab.checks import table
from lab.netns import Lab
from lab.pulumi_lab import PulumiLab
from tests.stacks import stack_file

KEY_PASSWORD = "wgsites:sshPrivateKeyPassword"


def all_passed(results) -> None:
    failed = [c for c in results if not c.passed]
    assert not failed, "\n" + table(failed)


def up_refused(pl: PulumiLab) -> str:
    refused = pl.pulumi("up", "--yes", "--skip-preview", "--stack", pl.stack, check=False)
    assert refused.returncode != 0, refused.output[-3000:]
    return refused.output


def untouched(pl: PulumiLab) -> bool:
    """No command reached the router: wgsites leaves no key, config or state there."""
    router = pl.world.nodes[pl.world.vpn.hub.name]
    return router.run(["find", "/etc/wireguard", "/var/lib/wgsites", "-mindepth", "1"]).stdout == ""


def test_a_passphrase_protected_key_given_by_path():
    with Lab() as lab:
        pl = PulumiLab(lab, stack_file("router"))
        passphrase = secrets.token_urlsafe(24)  # never printed; reaches the CLI on stdin only
        locked = lab.run_dir / "id_ed25519_locked"  # the lab's key (authorized on every host), with a passphrase
        shutil.copy2(pl.world.ssh_key, locked)
        subprocess.run(["ssh-keygen", "-q", "-p", "-P", "", "-N", passphrase, "-f", str(locked)], check=True, capture_output=True)
        assert is_passphrase_protected(locked.read_text())
        pl.ssh_key = locked
        pl.write_stack_file()

        # without the passphrase: one clear error before any resource
        output = up_refused(pl)
        assert (
            "wgsites:sshPrivateKeyPath: the key is protected by a passphrase; give it as a secret: "
            f"pulumi config set --secret {KEY_PASSWORD}"
        ) in output, output[-3000:]
        assert "Traceback" not in output and "parsing private key" not in output
        assert untouched(pl)

        # a wrong one: the provider's error says so
        pl.pulumi("config", "set", "--secret", KEY_PASSWORD, "--stack", pl.stack, stdin=secrets.token_urlsafe(24))
        output = up_refused(pl)
        assert "privateKeyPassword is not this key's passphrase" in output, output[-3000:]
        assert untouched(pl)

        pl.pulumi("config", "set", "--secret", KEY_PASSWORD, "--stack", pl.stack, stdin=passphrase)
        pl.up()
        all_passed(pl.check())
        assert "could not be read" not in pl.up().output  # the drift check's read unlocks the key too (SSH_ASKPASS)
        pl.destroy()

        stack_text = (pl.project / f"Pulumi.{pl.stack}.yaml").read_text()
        state = "\n".join(path.read_text() for path in (lab.run_dir / "state").rglob("*.json"))
        assert passphrase not in stack_text and passphrase not in state
        for run in pl.runs:
            assert passphrase not in run.output, f"the passphrase is in the output of {' '.join(run.args)}"


def test_a_stale_ssh_agent_fails_every_command_and_says_what_to_do():
    with Lab() as lab:
        pl = PulumiLab(lab, stack_file("router"))
        stale = lab.run_dir / "agent-gone.sock"  # SSH_AUTH_SOCK left from a closed session: no socket there
        pl.ssh_auth_sock = str(stale)
        output = up_refused(pl)  # the stack has a key (sshPrivateKeyPath) that would work
        assert f'the SSH agent at "{stale}" cannot be reached' in output, output[-3000:]
        assert "fails every SSH command, even with a private key: unset SSH_AUTH_SOCK before running pulumi" in output
        assert untouched(pl)

        # a running agent holding the key, and no key in the stack: the agent alone is enough
        sock = lab.run_dir / "agent.sock"
        pl.operator.spawn(["ssh-agent", "-D", "-a", str(sock)])
        deadline = time.monotonic() + 10
        while not sock.exists():
            assert time.monotonic() < deadline, "ssh-agent did not start"
            time.sleep(0.05)
        pl.operator.run(["ssh-add", "-q", str(pl.world.ssh_key)], env={"SSH_AUTH_SOCK": str(sock)})
        pl.ssh_auth_sock = str(sock)
        pl.ssh_key = None
        pl.write_stack_file()
        pl.up()
        all_passed(pl.check())
        assert "could not be read" not in pl.up().output  # the drift check's read uses the agent too
        pl.destroy()
