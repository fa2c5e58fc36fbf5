"""A compromised host cannot add lines to other nodes' configs: the real engine, a forged key answer.

beta (a site of the sites stack) is made to answer its key command with its real public key
followed by a `[Peer]` that would take all of alpha's traffic. The `up` must fail on beta with
a clear message and no traceback, push nothing with that answer to alpha, and succeed once beta
is repaired.
"""

from __future__ import annotations

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
