"""The drift check at every preview and up: what each host managed over SSH runs, read before any resource.

Each host's install script prints its state (`state` action); the core (wgsites.operations.host_drift) names what
differs from the config installed there and makes a marker of it. The marker is the argument of
the host's repair command (ssh_host.SshHost), so a host that drifted shows as an update in
`pulumi preview` and is put back by the next `up`; while it stays in sync the marker stays the
same (the host remembers the last repair's), so a repaired host is not repaired again. A host that
cannot be read this time keeps the repair command as it is in the state (ignore_changes), with a
warning: an unreachable host in a CI preview shows no spurious change.

The read is an invoke of the command provider's `local.run` (the script of wgsites.operations.ssh_read), so it runs
through the engine: Pulumi's mocks answer it (their `call`), and a program under mocks reaches no
host. What comes back is untrusted: capped bytes, read by wgsites.operations.host_drift with bounds; a bad answer is
that host's warning, in fixed words (the host's own text only escaped), and the other hosts are read
as usual.
"""

from __future__ import annotations

import asyncio
from importlib.metadata import version

import pulumi
from pulumi.runtime.sync_await import _sync_await  # what pulumi.runtime.invoke waits with; here for several at once

from wgsites.operations.host_answer import ssh_failure
from wgsites.operations.host_drift import ANSWER_LIMIT, findings, marker, parse_state, read_answer
from wgsites.operations.ssh_read import SSH_FAILED, SshAccess, read_args, read_output
from wgsites.rendering.render import install_command
from wgsites.stack.errors import ConfigError
from wgsites.stack.model import Hub, Spoke, Vpn
from wgsites.stack.plaintext import escaped

LOCAL_RUN = "command:local:run"
COMMAND_PLUGIN = version("pulumi_command")  # the provider version the engine loads for it, as for local.Command
AT_ONCE = 8  # hosts read at the same time


def read_markers(vpn: Vpn, stack: str, access: SshAccess | None) -> dict[str, str]:
    """node -> its repair marker, for every SSH-managed node that could be read (none when access is None)."""
    nodes = [n for n in vpn.nodes if n.delivery == "ssh"] if access is not None else []
    if not nodes:
        return {}

    async def read_all() -> list[str | None]:
        slots = asyncio.Semaphore(AT_ONCE)

        async def one(node: Hub | Spoke) -> str | None:
            async with slots:
                return await _read(vpn, stack, node, access)

        return await asyncio.gather(*(one(node) for node in nodes))

    answers = dict(zip((n.name for n in nodes), _sync_await(read_all()), strict=True))
    return {name: answer for name, answer in answers.items() if answer is not None}


async def _read(vpn: Vpn, stack: str, node: Hub | Spoke, access: SshAccess) -> str | None:
    """NODE's marker; None, with a warning, when what it runs could not be read."""
    args = read_args(node.ssh, install_command(vpn, node.name, stack, "state", node.ssh.user), access)
    environment: dict[str, pulumi.Input[str]] = dict(args.environment)
    environment.update({name: pulumi.Output.secret(value) for name, value in args.secret_environment.items()})
    props = {
        "command": args.command,
        "environment": environment,
        "stdin": pulumi.Output.secret(args.secret_stdin) if args.secret_stdin is not None else None,
        "logging": "none",
        "addPreviousOutputInEnv": False,
    }
    try:
        result = await pulumi.runtime.invoke_async(LOCAL_RUN, props, opts=pulumi.InvokeOptions(version=COMMAND_PLUGIN))
    except Exception as exc:  # noqa: BLE001 - any failure of the invoke is this host's warning, not the program's end
        return _unread(node, f"{LOCAL_RUN} failed: {escaped(str(exc).partition(chr(10))[0][:200])}")
    answer = read_output(result.get("stdout") if isinstance(result, dict) else None)
    if answer is None:
        return _unread(node, f"{LOCAL_RUN} gave no answer of wgsites' read")
    # an answer cut at the cap: the host's script (or ssh) may then end with an error of its own
    cut = len(answer.stdout) > ANSWER_LIMIT
    if answer.exit_code == SSH_FAILED and not cut:  # the host, the cause and the fix, as `status` tells them
        return _unread(node, ssh_failure(node.ssh, answer.stderr, SSH_FAILED))
    if answer.exit_code != 0 and not cut:
        return _unread(node, f"its install script exited {answer.exit_code}")
    try:
        state = parse_state(read_answer(answer.stdout, node.ssh.host), node.ssh.host)
    except ConfigError as exc:  # fixed words: the reason, never the host's text
        return _unread(node, exc.messages[0])
    found = findings(state, f"{stack}/{node.name}", node.interface)
    result_marker = marker(state, found)
    if found:
        pulumi.log.info(f"{node.name} drifted from its config: {'; '.join(found)}; the next up puts it back ({result_marker})")
    return result_marker


def _unread(node: Hub | Spoke, reason: str) -> None:
    pulumi.log.warn(f"{node.name}: what it runs could not be read ({reason}); no drift check for it this time")
