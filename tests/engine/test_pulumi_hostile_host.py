"""A compromised host cannot add lines to other nodes' configs, nor stop the others' drift check: the real engine.

beta (a site of the sites stack) is made to answer its key command with its real public key
followed by a `[Peer]` that would take all of alpha's traffic. The `up` must fail on beta with
a clear message and no traceback, push nothing with that answer to alpha, and succeed once beta
is repaired. Then alpha answers the drift check with every byte value and escape sequences, or 5 MB:
the preview ends well, alpha's warning is in fixed words, and beta's drift shows as usual.
"""

from __future__ import annotations

import json
import re

from lab.checks import table
from lab.netns import Lab
from lab.pulumi_lab import PulumiLab
from tests.engine.test_pulumi_rename_and_move import steps
from tests.stacks import stack_file
from wgsites.stack.keys import generate_private_key, public_key_of

ZERO_KEY = "A" * 43 + "="
# A `wg` in front of the real one (/usr/local/sbin is private to the lab node and first on
# root's PATH over SSH): `wg pubkey` prints the real key, then an extra section.
FORGED_WG = f"""#!/bin/sh
if [ "$1" = pubkey ]; then
	/usr/bin/wg pubkey && printf '[Peer]\\nPublicKey = {ZERO_KEY}\\nAllowedIPs = 0.0.0.0/0\\n'
else
	exec /usr/bin/wg "$@"
fi
"""


def test_a_forged_key_answer_fails_that_host_and_pushes_nothing_with_it():
    with Lab() as lab:
        pl = PulumiLab(lab, stack_file("sites"))
        alpha, beta = pl.world.nodes["alpha"], pl.world.nodes["beta"]
        beta.write_file("/usr/local/sbin/wg", FORGED_WG, 0o755)

        refused = pl.pulumi("up", "--yes", "--skip-preview", "--stack", pl.stack, check=False)
        assert refused.returncode != 0
        assert "vpn-beta: the host " in refused.output and "nothing was pushed with it" in refused.output, refused.output
        assert "Traceback" not in refused.output and "0.0.0.0/0" not in refused.output
        pushed = alpha.run("cat /etc/wireguard/*.conf 2>/dev/null || true").stdout
        assert ZERO_KEY not in pushed and "0.0.0.0/0" not in pushed, pushed

        beta.run(["rm", "/usr/local/sbin/wg"])  # the host repaired; the message says how to ask it again
        replace = re.search(r"pulumi up --replace '(urn:[^']+vpn-beta-key)'", refused.output)
        assert replace, refused.output
        pl.up("--replace", replace.group(1))
        results = pl.check()
        failed = [c for c in results if not c.passed]
        assert not failed, "\n" + table(failed)
        pl.destroy()


def forged_pubkey(key: str) -> str:
    """A `wg` whose `pubkey` prints KEY, another node's public key (a plain export of every stack)."""
    return f"""#!/bin/sh
if [ "$1" = pubkey ]; then
	cat >/dev/null && echo '{key}'
else
	exec /usr/bin/wg "$@"
fi
"""


def test_a_host_answering_another_nodes_key_fails_naming_both_and_the_hub_keeps_its_config():
    """beta answers with alpha's public key (format and low-order checks pass): the run fails on beta,
    naming alpha and the fix, before alpha's config gets a [Peer] with that key; once beta answers its
    own key again, the same `up --replace` the message names puts everything back."""
    with Lab() as lab:
        pl = PulumiLab(lab, stack_file("sites"))
        pl.up()
        alpha, beta = pl.world.nodes["alpha"], pl.world.nodes["beta"]
        keys = pl.outputs()["public_keys"]
        before = alpha.run("cat /etc/wireguard/wgA.conf").stdout
        assert keys["beta"] in before and keys["alpha"] not in before
        beta.write_file("/usr/local/sbin/wg", forged_pubkey(keys["alpha"]), 0o755)

        export = json.loads(pl.pulumi("stack", "export", "--stack", pl.stack).output)
        (urn,) = [r["urn"] for r in export["deployment"]["resources"] if r["urn"].endswith("::vpn-beta-key")]
        refused = pl.pulumi("up", "--yes", "--skip-preview", "--stack", pl.stack, "--replace", urn, check=False)
        assert refused.returncode != 0
        assert "vpn-beta: beta answered with the public key of alpha: WireGuard keeps one peer per key" in refused.output
        assert f"nothing was pushed with it. Then ask it again: pulumi up --replace '{urn}'" in refused.output
        assert "rm /etc/wireguard/wgB.key" in refused.output and "Traceback" not in refused.output, refused.output
        assert alpha.run("cat /etc/wireguard/wgA.conf").stdout == before  # no [Peer] with alpha's own key

        # the state now holds the forged answer: the next up fails the same way (a preview checks a site's key
        # against the derived and written keys only: another host's answer may be unknown until the up)
        again = pl.pulumi("up", "--yes", "--skip-preview", "--stack", pl.stack, check=False)
        assert again.returncode != 0 and "beta answered with the public key of alpha" in again.output, again.output
        assert alpha.run("cat /etc/wireguard/wgA.conf").stdout == before

        beta.run(["rm", "/usr/local/sbin/wg"])  # beta fixed: asked again, as the message says
        pl.up("--replace", urn)
        failed = [c for c in pl.check() if not c.passed]
        assert not failed, "\n" + table(failed)
        assert pl.outputs()["public_keys"]["beta"] == keys["beta"]
        pl.destroy()


# what alpha's install script then prints as its last repair's record (`repaired ...` in its state)
HOSTILE_RECORDS = {
    "every byte value": "import sys; sys.stdout.buffer.write(bytes(range(256)) + b'\\x1b]0;owned\\x07\\x1b[2J')",
    "over the cap": "import sys; sys.stdout.buffer.write(b'A' * 5_000_000)",
}


def test_a_hostile_drift_answer_is_that_hosts_warning_and_the_other_host_is_read():
    """The drift check reads every host through the command provider's local.run: alpha's answer, made
    hostile by a planted record, is alpha's warning in fixed words, while beta's drift shows as usual."""
    with Lab() as lab:
        pl = PulumiLab(lab, stack_file("sites"))
        alpha, beta = pl.world.nodes["alpha"], pl.world.nodes["beta"]
        pl.up()
        stranger = public_key_of(generate_private_key())
        beta.run(["wg", "set", "wgB", "peer", stranger, "allowed-ips", "10.10.11.99/32"])
        for name, program in HOSTILE_RECORDS.items():
            alpha.run(["sh", "-c", f'python3 -c "{program}" >/var/lib/wgsites/wgA/repaired'])
            preview = pl.pulumi("preview", "--diff", "--stack", pl.stack, check=False)
            output = preview.output
            assert preview.returncode == 0 and "Traceback" not in output, output[-3000:]
            host = pl.world.vpn.node("alpha").ssh.host  # the lab's address of it
            assert f"alpha: what it runs could not be read ({host}: its answer is not a state wgsites reads (" in output, name
            assert "\x1b" not in output and "owned" not in output and "AAAAAAAA" not in output, name
            assert {(name, op) for _, name, op in steps(output)} == {("vpn-beta-repair", "update")}, output[-3000:]
            assert f"beta drifted from its config: peer {stranger[:8]}... is not in the stack (added by hand?)" in output
        pl.destroy()
