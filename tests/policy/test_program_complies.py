"""The program as it is breaks no rule of the pack: every resource of every example stack, as registered.

The stacks are the two with an AWS hub (security group, instance, SSM parameters)
and the SSH ones (commands); `router` and `home` also run with a `file:` peer, so
the roaming peer's local file command is checked too.
"""

from __future__ import annotations

import pytest
import wgsites_rules as rules
from key_material import has_private_key_line
from programs import program
from pulumi_policy.proxy import unknown_checking_proxy

from wgsites.stack.model import DEFAULT_LISTEN_PORT

CASES = [("home", False), ("travel", False), ("router", False), ("internal", False), ("sites", False)]
CASES += [("router", True), ("home", True)]


@pytest.mark.parametrize(("stack", "file_peer"), CASES)
def test_every_resource_complies(stack, file_peer):
    prog = program(stack, file_peer)
    found = {r.name: v for r in prog.resources if (v := rules.all_violations(r.type, r.inputs, prog.listen_port))}
    assert found == {}


@pytest.mark.parametrize("stack", ["home", "travel"])
def test_aws_stacks_have_what_the_rules_check(stack):
    """So the test above checks something: the AWS rules' resource types are all there."""
    prog = program(stack)
    assert len(prog.of_type(rules.SECURITY_GROUP)) == 1
    assert len(prog.of_type(rules.INSTANCE)) == 1
    assert {r.inputs["type"] for r in prog.of_type(rules.PARAMETER)} == {"String", "SecureString"}
    instance = prog.of_type(rules.INSTANCE)[0].inputs
    assert "encoding: gz+b64" in instance["userData"]  # the decoding path runs on real content


def test_travel_listen_port_is_not_the_default():
    """The port exception follows the stack: travel's 51000 is open, and would be a violation at 51820."""
    prog = program("travel")
    assert prog.listen_port == 51000
    sg = prog.of_type(rules.SECURITY_GROUP)[0]
    assert rules.world_open_ingress(sg.type, sg.inputs, 51000) == []
    assert rules.world_open_ingress(sg.type, sg.inputs, DEFAULT_LISTEN_PORT)


def test_file_peer_command_carries_a_key_and_is_exempt():
    """The one exception is real: the local file command's stdin holds the device's key, and only it may."""
    prog = program("router", file_peer=True)
    command = prog.named("laptop-file")
    assert command.type == rules.LOCAL_COMMAND
    assert has_private_key_line(command.inputs["stdin"])
    assert rules.is_private_file_write(command.inputs)
    assert rules.private_key_in_command(command.type, command.inputs) == []
    assert rules.private_key_in_command(rules.REMOTE_COMMAND, command.inputs)  # never over SSH


def test_pushed_configs_hold_no_key():
    prog = program("router")
    install = prog.named("router-install")
    assert "[Interface]" in install.inputs["stdin"] and not has_private_key_line(install.inputs["stdin"])


@pytest.mark.parametrize("stack", ["home", "router"])
def test_rules_read_engine_proxies(stack):
    """The engine's props are pulumi-policy's unknown-checking proxies, not dicts: the rules read them the same."""
    prog = program(stack, file_peer=True)
    for r in prog.resources:
        assert rules.all_violations(r.type, unknown_checking_proxy(r.copy()), prog.listen_port) == {}, r.name


def test_default_port_matches_the_program():
    assert rules.DEFAULT_LISTEN_PORT == DEFAULT_LISTEN_PORT
