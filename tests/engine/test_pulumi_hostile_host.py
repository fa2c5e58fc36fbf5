"""A compromised host cannot add lines to other nodes' configs: the real engine, a forged key answer.

beta (a site of the sites stack) is made to answer its key command with its real public key
followed by a `[Peer]` that would take all of alpha's traffic. The `up` must fail on beta with
a clear message and no traceback, push nothing with that answer to alpha, and succeed once beta
is repaired.
"""

from __future__ import annotations

import json
import re

from lab.checks import table
from lab.netns import Lab
from lab.pulumi_lab import PulumiLab
from tests.stacks import stack_file

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

        preview = pl.pulumi("preview", "--stack", pl.stack, check=False)  # the state now holds the forged answer
        assert preview.returncode != 0 and "beta answered with the public key of alpha" in preview.output, preview.output

        beta.run(["rm", "/usr/local/sbin/wg"])  # beta fixed: asked again, as the message says
        pl.up("--replace", urn)
        failed = [c for c in pl.check() if not c.passed]
        assert not failed, "\n" + table(failed)
        assert pl.outputs()["public_keys"]["beta"] == keys["beta"]
        pl.destroy()
