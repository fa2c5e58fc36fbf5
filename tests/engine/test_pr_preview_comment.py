"""The pull-request comment CI posts (.github/workflows/pulumi-stack.yml), from the real engine's `preview --diff`.

A laptop-and-router stack is up in the lab; a pull request adds a tablet. pulumi/actions runs
`pulumi preview --diff` through the Automation API and posts its stdout, ANSI codes stripped and
cut at 64,000 characters, inside `<pre>` under a heading (pulumi/actions src/libs/pr.ts);
`pr_comment` builds that text the same way. The comment must show the router's new `[Peer]` lines
as a reviewer reads them, and hold no secret: no private key (the router's, made on it; the
laptop's and the tablet's, derived), not the key seed, the state passphrase, the SSH key or its
passphrase.
"""

from __future__ import annotations

import copy
import html
import re
import secrets
import shlex
import shutil
import subprocess
import time

from lab import pulumi_lab
from lab.netns import Lab
from lab.pulumi_lab import PulumiLab
from tests.stacks import stack_file
from wgsites.stack.keys import derive_private_key, key_label, public_key_of

MAX_COMMENT = 64_000  # pulumi/actions' limit, below GitHub's 65,535 characters
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
TABLET = {"name": "tablet", "address": "10.10.11.3"}


def pr_comment(command: str, project: str, stack: str, output: str) -> str:
    """What pulumi/actions posts for OUTPUT (comment-on-pr: true, always-include-summary: false)."""
    output = ANSI.sub("", output)
    trimmed = len(output) > MAX_COMMENT
    message = output[:MAX_COMMENT]
    warn = ":warning: **Warn**: The output was too long and trimmed." if trimmed else ""
    heading = f"#### :tropical_drink: `{command}` on {project}/{stack}"
    return f"{heading}\n\n<details>\n<summary>Pulumi report</summary>\n\n\n<pre>\n{message}\n</pre>\n{warn}\n</details>"


def shown(comment: str) -> str:
    """The comment's text as GitHub shows it: inside <pre>, markup is HTML (a stray `<` would vanish)."""
    pre = comment[comment.index("<pre>\n") + 6 : comment.rindex("\n</pre>")]
    assert "<" not in pre and "&" not in pre, "the diff holds text GitHub would read as HTML"
    return html.unescape(pre)


def test_the_preview_comment_shows_the_new_peer_and_no_secret(monkeypatch):
    # the state's passphrase, as CI's secret would be (the lab's own is a word of its stack's name)
    passphrase = secrets.token_urlsafe(24)
    monkeypatch.setattr(pulumi_lab, "PASSPHRASE", passphrase)
    with Lab() as lab:
        pl = PulumiLab(lab, stack_file("router"))
        # the hosts' SSH key with a passphrase, given as CI gives a stack its secrets (on stdin, never argv)
        ssh_passphrase = secrets.token_urlsafe(24)
        locked = lab.run_dir / "id_ed25519_locked"
        shutil.copy2(pl.world.ssh_key, locked)
        subprocess.run(["ssh-keygen", "-q", "-p", "-P", "", "-N", ssh_passphrase, "-f", str(locked)], check=True)
        pl.ssh_key = locked
        pl.write_stack_file()
        pl.pulumi("config", "set", "--secret", "wgsites:sshPrivateKeyPassword", "--stack", pl.stack, stdin=ssh_passphrase)
        pl.up()
        outputs = pl.outputs()
        hub = pl.world.vpn.hub
        router_key = pl.world.nodes[hub.name].read_file(f"/etc/wireguard/{hub.interface}.key").strip()
        laptop_key = re.search(r"PrivateKey = (\S+)", outputs["laptop_config"]).group(1)
        seed = pl.pulumi("config", "get", "wgsites:keySeed", "--stack", pl.stack).output.strip()
        tablet_key = derive_private_key(seed, key_label(TABLET["name"]))
        ssh_key = pl.ssh_key.read_text()

        raw = copy.deepcopy(pl.raw)
        raw["peers"].append(dict(TABLET))
        pl.set_vpn(raw)
        # as the Automation API runs it for pulumi/actions (diff: true); the comment is its stdout alone
        command = shlex.join(["pulumi", "preview", "--diff", "--stack", pl.stack, "--non-interactive"])
        start = time.monotonic()
        done = pl.operator.run(f"cd {shlex.quote(str(pl.project))} && exec {command}", env=pl.env(), timeout=300)
        seconds = time.monotonic() - start

    comment = pr_comment("preview", "wgsites", pl.stack, done.stdout)
    text = shown(comment)
    assert comment.startswith(f"#### :tropical_drink: `preview` on wgsites/{pl.stack}\n")
    assert len(comment) < MAX_COMMENT

    # the router's pushed config gains the tablet's peer, line by line, in plain text
    added = [line.strip() for line in text.splitlines() if re.match(r"^\s*\+ ", line)]
    tablet_public = public_key_of(tablet_key)
    for line in ("+ # tablet", "+ [Peer]", f"+ PublicKey = {tablet_public}", f"+ AllowedIPs = {TABLET['address']}/32"):
        assert line in added, f"{line!r} is not an added line of the comment:\n{text[-3000:]}"
    assert "[unknown]" not in "\n".join(added)
    assert re.search(r"^\s*\+ .*tablet_config.*\[secret\]", text, re.M), "the tablet's config is not shown as [secret]"

    # no secret anywhere in what is posted
    leaks = {
        "the router's private key": router_key,
        "the laptop's private key": laptop_key,
        "the tablet's private key": tablet_key,
        "the key seed": seed,
        "the state passphrase": passphrase,
        "the SSH key's passphrase": ssh_passphrase,
    }
    for what, value in leaks.items():
        assert value and value not in comment, f"{what} is in the pull-request comment"
    for line in ssh_key.splitlines():
        if len(line) > 20 and "PRIVATE KEY" not in line:
            assert line not in comment, "the SSH private key is in the pull-request comment"
    assert "PrivateKey" not in comment
    print(f"\npreview --diff for a new peer: {seconds:.1f} s, comment {len(comment)} characters, {len(added)} added lines")
