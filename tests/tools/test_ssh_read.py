"""The drift check's read script (wgsites/rendering/templates/ssh-read.sh.j2) under the real /bin/sh, with an `ssh` of ours.

The script is what the command provider's local.run runs for each host; an `ssh` first on PATH plays
the host (it prints what a hostile host would) and records what it was given. Checked: shellcheck,
every byte value carried exactly, an answer over the cap cut one byte past it, a huge stderr capped,
ssh's exit code kept, the key only as a 0600 file gone after the read, the passphrase only through
SSH_ASKPASS, a host that holds the read open ended by the time limit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from wgsites.operations.host_drift import ANSWER_LIMIT
from wgsites.operations.ssh_read import ERROR_LIMIT, READ_SCRIPT, SshAccess, read_args, read_output
from wgsites.rendering.render import render_ssh_read
from wgsites.stack.model import SshTarget

TARGET = SshTarget(host="10.10.10.1", port=2222, user="root")
KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nbm90IGEga2V5\n-----END OPENSSH PRIVATE KEY-----\n"
PASSPHRASE = "correct horse battery staple"
AGENT = SshAccess()  # no key given: the SSH agent
# the host: what $FAKE says, and a record of the arguments, the key file and the askpass answer
FAKE_SSH = r"""#!/bin/sh
printf '%s\n' "$@" >"$RECORD/argv"
while [ $# -gt 0 ]; do
	if [ "$1" = -i ]; then stat -c '%a' "$2" >"$RECORD/key-mode"; cat "$2" >"$RECORD/key"; echo "$2" >"$RECORD/key-path"; fi
	shift
done
[ -z "${SSH_ASKPASS:-}" ] || "$SSH_ASKPASS" >"$RECORD/askpass"
case $FAKE in
bytes) printf "$(printf '\\%03o' $(seq 0 255))" ;;
huge) head -c 5000000 /dev/zero ;;
noisy) head -c 100000 /dev/zero | tr '\0' 'e' >&2; exit 255 ;;
refused) echo "ssh: connect to host 10.10.10.1 port 2222: Connection refused" >&2; exit 255 ;;
hang) sleep 600 ;;
*) echo state ;;
esac
"""


def shellcheck() -> str:
    found = shutil.which("shellcheck") or str(Path(__file__).resolve().parents[2] / ".venv/bin/shellcheck")
    return found


def test_the_read_script_passes_shellcheck(tmp_path):
    path = tmp_path / "ssh-read.sh"
    path.write_text(READ_SCRIPT)
    result = subprocess.run([shellcheck(), "-s", "sh", "-S", "style", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def read(tmp_path: Path, fake: str, access: SshAccess = AGENT, script: str = READ_SCRIPT):
    """Run the script as local.run would: /bin/sh -c, the environment added, the secret stdin fed."""
    bin_dir, record = tmp_path / "bin", tmp_path / "record"
    bin_dir.mkdir(exist_ok=True)
    record.mkdir(exist_ok=True)
    (bin_dir / "ssh").write_text(FAKE_SSH)
    (bin_dir / "ssh").chmod(0o755)
    args = read_args(TARGET, "bash -c 'the state action'", access)
    env = {**os.environ, **args.environment, **args.secret_environment, "FAKE": fake, "RECORD": str(record)}
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    done = subprocess.run(
        ["/bin/sh", "-c", script], input=(args.secret_stdin or "").encode(), capture_output=True, env=env, timeout=120
    )
    assert done.returncode == 0 and done.stderr == b"", done.stderr
    return read_output(done.stdout.decode()), record


def test_every_byte_value_comes_back_exactly(tmp_path):
    answer, record = read(tmp_path, "bytes")
    assert answer.exit_code == 0 and answer.stdout == bytes(range(256))
    argv = (record / "argv").read_text().splitlines()
    assert argv[-2:] == ["root@10.10.10.1", "bash -c 'the state action'"] and "2222" in argv
    assert "BatchMode=yes" in argv and "StrictHostKeyChecking=no" in argv and "-i" not in argv  # the agent


def test_an_answer_over_the_cap_is_cut_one_byte_past_it(tmp_path):
    answer, _ = read(tmp_path, "huge")
    assert len(answer.stdout) == ANSWER_LIMIT + 1  # read_answer refuses it


def test_a_huge_stderr_is_capped_and_ssh_s_exit_code_kept(tmp_path):
    answer, _ = read(tmp_path, "noisy")
    assert answer.exit_code == 255 and answer.stderr == b"e" * ERROR_LIMIT and answer.stdout == b""
    answer, _ = read(tmp_path, "refused")
    assert answer.exit_code == 255 and answer.stderr == b"ssh: connect to host 10.10.10.1 port 2222: Connection refused\n"


def test_the_key_is_a_0600_file_for_the_read_only_and_the_passphrase_goes_through_askpass(tmp_path):
    answer, record = read(tmp_path, "ok", SshAccess(key_text=KEY, passphrase=PASSPHRASE))
    assert answer.stdout == b"state\n"
    assert (record / "key").read_text() == KEY and (record / "key-mode").read_text().strip() == "600"
    assert not Path((record / "key-path").read_text().strip()).exists()  # gone with the read
    assert (record / "askpass").read_text() == PASSPHRASE + "\n"
    argv = (record / "argv").read_text()
    assert "PRIVATE KEY" not in argv and PASSPHRASE not in argv and "BatchMode=yes" not in argv


def test_a_key_path_is_given_as_it_is(tmp_path):
    key = tmp_path / "id_ed25519"
    key.write_text(KEY)
    _, record = read(tmp_path, "ok", SshAccess(key_path=str(key)))
    assert (record / "key-path").read_text().strip() == str(key)


@pytest.mark.skipif(shutil.which("timeout") is None, reason="coreutils' timeout is not installed")
def test_a_host_that_holds_the_read_open_is_ended_by_the_time_limit(tmp_path):
    script = render_ssh_read(ANSWER_LIMIT, ERROR_LIMIT, connect_seconds=10, read_seconds=2)
    start = time.monotonic()
    answer, _ = read(tmp_path, "hang", script=script)
    assert time.monotonic() - start < 30 and answer.exit_code == 124 and answer.stdout == b""
