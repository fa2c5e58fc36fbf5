"""A Linux host you already run (the hub of kind ssh, or a site with `ssh`), managed over SSH.

The host makes its own private key and reports only the public key, so its key
never crosses the network or enters Pulumi state. Its config (no key in it)
travels on stdin, never in a command line (PULUMI-NOTES 6-7).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_command import remote

from wgsites.keys import host_public_key
from wgsites.model import SshTarget, Vpn
from wgsites.render import install_command


def _checked_key(name: str, target: SshTarget, answer: str, key_urn: str) -> str:
    try:
        return host_public_key(answer)
    except ValueError as exc:
        # the key command itself succeeded, so its answer is in the state: only a replace asks again
        raise pulumi.RunError(
            f"{name}: the host {target.host} {exc}; nothing was pushed with it. Check that host (its "
            f"/etc/wireguard key and wg tools), then ask it again: pulumi up --replace '{key_urn}'"
        ) from None


# Both streams may carry what the install script logs; keep them out of logs and state.
_QUIET = pulumi.ResourceOptions(additional_secret_outputs=["stdout", "stderr"])


@dataclass(frozen=True)
class SshHostArgs:
    vpn: Vpn
    node: str  # the hub's or spoke's name in the model
    stack: str
    target: SshTarget
    private_key: pulumi.Input[str] | None = None  # SSH key (PEM); None: the SSH agent
    private_key_password: pulumi.Input[str] | None = None  # the key's passphrase, if it has one


class SshHost(pulumi.ComponentResource):
    """Two commands: `<name>-key` (make or read the host's key) and `<name>-install` (push the config).

    Built in two steps because configs need every node's public key: the
    constructor runs the key command (its stdout is the public key), and
    `install(config)` adds the push once all keys are known. The install command
    re-runs on any change of its config (an update, never a replace: a
    replacement would run the old resource's `remove` after the new install,
    PULUMI-NOTES 3); `remove` puts the host back as it was when it leaves the stack.
    """

    key_command: remote.Command
    install_command: remote.Command | None
    public_key: pulumi.Output[str]

    def __init__(self, name: str, args: SshHostArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wgsites:ssh_host:SshHost", name, None, opts)
        target = args.target
        connection = remote.ConnectionArgs(
            host=target.host,
            port=target.port,
            user=target.user,
            private_key=None if args.private_key is None else pulumi.Output.secret(args.private_key),
            private_key_password=None if args.private_key_password is None else pulumi.Output.secret(args.private_key_password),
        )
        self._args = args
        self._connection = connection
        self._prefix = name
        self.key_command = remote.Command(
            f"{name}-key",
            connection=connection,
            create=self._command("public-key"),
            logging="none",
            add_previous_output_in_env=False,
            opts=pulumi.ResourceOptions.merge(pulumi.ResourceOptions(parent=self), _QUIET),
        )
        # stdout is secret as a precaution; it holds only the public key, which is public. It is checked
        # before any other node's config uses it: a compromised host must not add lines to them.
        answer = pulumi.Output.all(self.key_command.stdout, self.key_command.urn)
        self.public_key = pulumi.Output.unsecret(answer.apply(lambda a: _checked_key(name, target, a[0], a[1])))
        self.install_command = None

    def _command(self, action: str) -> str:
        args = self._args
        return install_command(args.vpn, args.node, args.stack, action, args.target.user)

    def install(self, config: pulumi.Input[str]) -> remote.Command:
        """Push the node's wg-quick config (exactly as the core renders it) on stdin; call once."""
        assert self.install_command is None, f"{self._prefix} is installed already"
        install = self._command("install")
        self.install_command = remote.Command(
            f"{self._prefix}-install",
            connection=self._connection,
            create=install,
            update=install,
            delete=self._command("remove"),
            stdin=config,
            logging="none",
            add_previous_output_in_env=False,
            opts=pulumi.ResourceOptions.merge(pulumi.ResourceOptions(parent=self, depends_on=[self.key_command]), _QUIET),
        )
        self.register_outputs({"public_key": self.public_key})
        return self.install_command
