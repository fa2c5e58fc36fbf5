"""Where an aws hub lives, read the same way by `wgsites check` (the stack file) and by the program (Pulumi's config)."""

from __future__ import annotations

import os

from .model import Vpn


def hub_region(vpn: Vpn, configured: object, stack_file: str) -> tuple[str | None, list[str]]:
    """The region of VPN's aws hub, and the error when it has none; (None, []) for a hub that is not aws.

    CONFIGURED is the stack's `aws:region`; without it, AWS_REGION or AWS_DEFAULT_REGION, as for any AWS tool.
    STACK_FILE (Pulumi.<stack>.yaml) is where the message says to set it."""
    if vpn.hub.kind != "aws":
        return None, []
    region = configured if isinstance(configured, str) and configured else None
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None
    if region:
        return region, []
    return None, [f"aws:region: missing for an aws hub; set it in {stack_file} (pulumi config set aws:region eu-central-1)"]
