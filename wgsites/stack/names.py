"""The rules for names a user gives (nodes, interfaces, stacks) and the names wgsites derives from them.

Every pattern is matched with re.fullmatch: `$` would also match before a final line break.
"""

from __future__ import annotations

import re

NAME_RE = re.compile(r"[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?")
# wg-quick's own rule for interface names, plus the kernel's 15-byte limit.
INTERFACE_RE = re.compile(r"[a-zA-Z0-9_=+.-]{1,15}")
# Pulumi's own rule for stack names; the name lands in every rendered file's header.
STACK_RE = re.compile(r"[A-Za-z0-9_.-]{1,100}")


def nft_table(interface: str) -> str:
    """The nftables table of INTERFACE (table names allow fewer characters than interface names)."""
    return "wgsites_" + re.sub(r"[^A-Za-z0-9_]", "_", interface)
