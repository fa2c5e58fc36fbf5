"""One command on a host managed over SSH, with OpenSSH's client, as pulumi-command reaches it.

Used where a read must happen outside a Pulumi resource: the drift check at every preview and
up. Like pulumi-command it reads no ssh_config and checks no host key (docs/pulumi-notes.md 8);
the key is the stack's (a path, or a secret value written to a 0600 file for the call only), its
passphrase handed to ssh through SSH_ASKPASS from the environment, never on a command line.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .model import SshTarget


@dataclass(frozen=True)
class SshAccess:
    key_path: str | None = None
    key_text: str | None = None  # secret
    passphrase: str | None = None  # secret


ASKPASS = '#!/bin/sh\nprintf "%s\\n" "$WGSITES_SSH_PASSPHRASE"\n'


def run_ssh(target: SshTarget, command: str, access: SshAccess, timeout: float = 30) -> str:
    """COMMAND's stdout on TARGET; RuntimeError with ssh's own message when it cannot run there."""
    with tempfile.TemporaryDirectory(prefix="wgsites-ssh-") as folder:
        argv = ["ssh", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
        argv += ["-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10", "-o", "PasswordAuthentication=no"]
        argv += ["-o", "KbdInteractiveAuthentication=no", "-p", str(target.port)]
        env = dict(os.environ)
        key = access.key_path
        if access.key_text is not None:
            key = str(Path(folder) / "key")
            descriptor = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(access.key_text if access.key_text.endswith("\n") else access.key_text + "\n")
        if key:
            argv += ["-i", str(Path(key).expanduser())]
        if access.passphrase is not None:
            askpass = Path(folder) / "askpass"
            askpass.write_text(ASKPASS)
            askpass.chmod(0o700)
            env.update(SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force", WGSITES_SSH_PASSPHRASE=access.passphrase)
        else:
            argv += ["-o", "BatchMode=yes"]
        argv += [f"{target.user}@{target.host}", command]
        try:
            done = subprocess.run(
                argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, env=env, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RuntimeError(f"ssh to {target.host}:{target.port} failed: {exc.__class__.__name__}") from None
        if done.returncode != 0:
            reason = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"ssh exited {done.returncode}"
            raise RuntimeError(reason[:300])
        return done.stdout
