"""One read of a host managed over SSH, as the command provider's local.run runs it (the drift check).

The read runs through the Pulumi engine, not beside it, so Pulumi's mocks answer it and a mocked
program reaches no host. Its command is the same fixed script for every host (ssh-read.sh.j2): where
to go and what to run are environment values, the key a secret stdin written to a 0600 file for the
read only, its passphrase a secret environment value handed to ssh through SSH_ASKPASS. Never on a
command line. The script takes the host's answer as capped bytes in base64 (a protobuf string
carries no invalid UTF-8); read_output gives them back, still untrusted, to wgsites.operations.host_drift.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass

from wgsites.rendering.render import render_ssh_read
from wgsites.stack.model import SshTarget

from .host_drift import ANSWER_LIMIT

ERROR_LIMIT = 2048  # of ssh's stderr: its own message is a line
CONNECT_SECONDS = 10
READ_SECONDS = 60  # a host that holds the read open longer is a host not read
READ_SCRIPT = render_ssh_read(ANSWER_LIMIT, ERROR_LIMIT, CONNECT_SECONDS, READ_SECONDS)
SSH_FAILED = 255  # ssh's own exit code when it cannot connect or log in

_OUTPUT = re.compile(r"wgsites-read ([0-9]{1,3}) ([A-Za-z0-9+/=]*) ([A-Za-z0-9+/=]*)\n?")


@dataclass(frozen=True)
class SshAccess:
    key_path: str | None = None
    key_text: str | None = None  # secret
    passphrase: str | None = None  # secret


@dataclass(frozen=True)
class ReadArgs:
    """What local.run gets for one read. SECRET_STDIN and SECRET_ENVIRONMENT must travel as secrets."""

    command: str
    environment: dict[str, str]
    secret_environment: dict[str, str]
    secret_stdin: str | None


@dataclass(frozen=True)
class SshAnswer:
    exit_code: int
    stdout: bytes  # at most ANSWER_LIMIT + 1 bytes: more than ANSWER_LIMIT means the answer was cut
    stderr: bytes  # its first ERROR_LIMIT bytes


def read_args(target: SshTarget, remote_command: str, access: SshAccess) -> ReadArgs:
    environment = {
        "WGSITES_SSH_TARGET": f"{target.user}@{target.host}",
        "WGSITES_SSH_PORT": str(target.port),
        "WGSITES_REMOTE_COMMAND": remote_command,
    }
    stdin = None
    if access.key_text is not None:
        stdin = access.key_text if access.key_text.endswith("\n") else access.key_text + "\n"
        environment["WGSITES_SSH_KEY_ON_STDIN"] = "yes"
    elif access.key_path:
        # the provider runs the read in a folder of its own: a path as the program read it
        environment["WGSITES_SSH_KEY_PATH"] = os.path.abspath(os.path.expanduser(access.key_path))
    secret = {"WGSITES_SSH_PASSPHRASE": access.passphrase} if access.passphrase is not None else {}
    return ReadArgs(READ_SCRIPT, environment, secret, stdin)


def read_output(stdout: object) -> SshAnswer | None:
    """The script's one line as bytes again; None when it is not that line (an invoke that did not run it)."""
    match = _OUTPUT.fullmatch(stdout) if isinstance(stdout, str) else None
    if match is None:
        return None
    try:
        out, err = (base64.b64decode(part, validate=True) for part in match.group(2, 3))
    except (binascii.Error, ValueError):
        return None
    return SshAnswer(int(match.group(1)), out, err)
