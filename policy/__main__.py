"""The wgsites policy pack: the rules of `wgsites_rules`, each a MANDATORY `ResourceValidationPolicy`.

Run from the project root: `pulumi preview --policy-pack policy`. A violation fails
the preview or the update before anything changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import wgsites_rules as rules
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyPack,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationPolicy,
)
from stack_settings import capture_stack_config, listen_port, vpn_object

Rule = Callable[[str, Mapping[str, Any]], list[str]]


def report_all(rule: Rule) -> Callable[[ResourceValidationArgs, Callable], None]:
    """A pulumi-policy validation that reports each message of RULE as one violation."""

    def validate(args: ResourceValidationArgs, report_violation) -> None:
        for message in rule(args.resource_type, args.props):
            report_violation(message)

    return validate


def validate_world_open_ingress(args: ResourceValidationArgs, report_violation) -> None:
    port = listen_port(args.get_config())
    for message in rules.world_open_ingress(args.resource_type, args.props, port):
        report_violation(message)


def mandatory(name: str, description: str, validate, **extra) -> ResourceValidationPolicy:
    return ResourceValidationPolicy(
        name=name, description=description, validate=validate, enforcement_level=EnforcementLevel.MANDATORY, **extra
    )


POLICIES = [
    mandatory(
        "wgsites-no-world-open-ingress",
        "Security groups open nothing to 0.0.0.0/0 or ::/0 but WireGuard's UDP listen port.",
        validate_world_open_ingress,
        config_schema=PolicyConfigSchema(properties={"listenPort": {"type": "integer", "minimum": 1, "maximum": 65535}}),
    ),
    mandatory(
        "wgsites-imdsv2-required",
        "EC2 instances require IMDSv2 (metadataOptions.httpTokens = required).",
        report_all(rules.imdsv2_required),
    ),
    mandatory(
        "wgsites-encrypted-volumes",
        "Instance root and EBS block devices and EBS volumes are encrypted.",
        report_all(rules.encrypted_volumes),
    ),
    mandatory(
        "wgsites-no-private-key-in-user-data",
        "No WireGuard private key in an instance's user data (write_files decoded).",
        report_all(rules.private_key_in_user_data),
    ),
    mandatory(
        "wgsites-no-private-key-in-plain-parameter",
        "No WireGuard private key in a String/StringList SSM parameter.",
        report_all(rules.private_key_in_plain_parameter),
    ),
    mandatory(
        "wgsites-no-private-key-in-command",
        "No WireGuard private key in a command's create/update/delete/environment/stdin (but a roaming peer's own config file).",
        report_all(rules.private_key_in_command),
    ),
    mandatory(
        "wgsites-no-preshared-key-in-pushed-config",
        "No `PresharedKey =` line in what an SSH command carries (a host's preshared keys go on their own secret stdin).",
        report_all(rules.preshared_key_in_pushed_config),
    ),
    mandatory("wgsites-command-logging-none", "Commands run with logging='none'.", report_all(rules.command_logging_none)),
    StackValidationPolicy(
        name="wgsites-no-guest-reaches-a-whole-lan",
        description="No guest group (access.groups guests or guests-*) may reach a whole LAN, only hosts on it.",
        validate=lambda args, report_violation: [report_violation(m) for m in rules.guest_reaches_whole_lan(vpn_object())],
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
]

if __name__ == "__main__":
    capture_stack_config()
    PolicyPack(name="wgsites-policy", enforcement_level=EnforcementLevel.MANDATORY, policies=POLICIES)
