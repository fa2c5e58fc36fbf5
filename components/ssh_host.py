"""A Linux host you already run (the hub of kind ssh, or a site with `ssh`), managed over SSH, in two steps.

First its key (HostKey), then, once every node's public key is known, its config (SshHost).

The host makes its own private key and reports only the public key, so its key
never crosses the network or enters Pulumi state. Its config (no key in it)
travels on stdin, never in a command line (docs/pulumi-notes.md 6-7).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_command import remote

from wgsites.stack.keys import host_public_key, other_owner, shared_key_message
from wgsites.stack.model import SshTarget


def _checked_key(name: str, host: str, answer: str, key_urn: str) -> str:
    try:
        return host_public_key(answer)
    except ValueError as exc:
        # the key command itself succeeded, so its answer is in the state: only a replace asks again
        raise pulumi.RunError(
            f"{name}: the host {host} {exc}; nothing was pushed with it. Check that host (its "
            f"/etc/wireguard key and wg tools), then ask it again: pulumi up --replace '{key_urn}'"
        ) from None


def _own_key(name: str, node: str, interface: str, key: str, others: dict[str, str], key_urn: str) -> str:
    other = other_owner(node, key, others)
    if other is not None:
        # a compromised host answering a phone's key would take the phone's place in the hub's config
        raise pulumi.RunError(
            f"{name}: {shared_key_message(node, other, interface)}; nothing was pushed with it. "
            f"Then ask it again: pulumi up --replace '{key_urn}'"
        )
    return key


# Both streams may carry what the install script logs; keep them out of logs and state.
_QUIET = pulumi.ResourceOptions(additional_secret_outputs=["stdout", "stderr"])


def ssh_connection(
    target: SshTarget, private_key: pulumi.Input[str] | None, password: pulumi.Input[str] | None = None
) -> remote.ConnectionArgs:
    """How pulumi-command reaches TARGET: the SSH key given (secret, with its passphrase), else the SSH agent."""
    return remote.ConnectionArgs(
        host=target.host,
        port=target.port,
        user=target.user,
        private_key=None if private_key is None else pulumi.Output.secret(private_key),
        private_key_password=None if password is None else pulumi.Output.secret(password),
    )


@dataclass(frozen=True)
class HostKeyArgs:
    connection: remote.ConnectionArgs
    host: str  # for messages: the SSH host the key command runs on
    command: str  # the install script's `public-key` action, as the core renders it


class HostKey(pulumi.ComponentResource):
    """The key step: `<name>-key` makes the host's private key if it has none and prints the public half.

    The key never leaves the host. Its answer is checked before any other node's config
    uses it: a compromised host must not add lines to them.
    """

    command: remote.Command
    public_key: pulumi.Output[str]

    def __init__(self, name: str, args: HostKeyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wgsites:ssh_host:HostKey", name, None, opts)
        # the command was a child of SshHost NAME until key and push became two components: the alias
        # keeps its URN's history, so no stack's command is replaced (re-run) by the move
        before = pulumi.create_urn(name, "wgsites:ssh_host:SshHost", parent=opts.parent if opts else None)
        self.command = remote.Command(
            f"{name}-key",
            connection=args.connection,
            create=args.command,
            logging="none",
            add_previous_output_in_env=False,
            opts=pulumi.ResourceOptions.merge(pulumi.ResourceOptions(parent=self, aliases=[pulumi.Alias(parent=before)]), _QUIET),
        )
        # stdout is secret as a precaution; it holds only the public key, which is public
        answer = pulumi.Output.all(self.command.stdout, self.command.urn)
        self.public_key = pulumi.Output.unsecret(answer.apply(lambda a: _checked_key(name, args.host, a[0], a[1])))
        self.register_outputs({"public_key": self.public_key})
        self._name = name

    def distinct_from(self, node: str, interface: str, others: pulumi.Output[dict[str, str]]) -> pulumi.Output[str]:
        """The host's public key once it is none of OTHERS' (node -> public key): a host that answers
        another node's key fails its run, as `check` refuses one key written for two nodes."""
        # OTHERS read in an apply: Output.all would lift each entry of the map into an Output of its own
        answer = pulumi.Output.all(self.public_key, self.command.urn)
        return others.apply(lambda o: answer.apply(lambda a: _own_key(self._name, node, interface, a[0], o, a[1])))


@dataclass(frozen=True)
class SshHostArgs:
    connection: remote.ConnectionArgs
    install: str  # the install script's `install` action, as the core renders it; the config goes on stdin
    remove: str  # its `remove` action: puts the host back as it was when it leaves the stack
    config: pulumi.Input[str]  # the node's wg-quick config, exactly as the core renders it (no key in it)
    key: HostKey  # the push waits for the host's key
    # its `repair` action with the drift check's marker (components.drift_check); None: the host could not
    # be read this time, so the repair command stays as the state has it
    repair: str
    repair_known: bool = True
    # the node's preshared keys (render_preshared_keys' text, a secret) and the install script's
    # `preshared-keys` / `forget-preshared-keys` actions; None: the node has no preshared key
    preshared_keys: pulumi.Input[str] | None = None
    preshared_keys_install: str | None = None
    preshared_keys_forget: str | None = None


class SshHost(pulumi.ComponentResource):
    """The push step: `<name>-install` installs the config on stdin and reloads the interface in place;
    `<name>-repair` puts the running interface back to it when the drift check found a difference.

    The install re-runs on any change of its config (an update, never a replace: a replacement
    would run the old resource's `remove` after the new install). No command sets `update`: on an
    update pulumi-command runs `create` when `update` is unset (provider/pkg/provider/remote/
    commandController.go lines 76-79), and each copy of the install script (60 kB in the state's JSON)
    is held twice, in the inputs and in the outputs that echo them.
    """

    install_command: remote.Command
    repair_command: remote.Command
    preshared_keys_command: remote.Command | None

    def __init__(self, name: str, args: SshHostArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wgsites:ssh_host:SshHost", name, None, opts)
        self.install_command = remote.Command(
            f"{name}-install",
            connection=args.connection,
            create=args.install,
            delete=args.remove,
            stdin=args.config,
            logging="none",
            add_previous_output_in_env=False,
            opts=pulumi.ResourceOptions.merge(pulumi.ResourceOptions(parent=self, depends_on=[args.key.command]), _QUIET),
        )
        # `<name>-repair` puts back a host that drifted: it runs when its marker (what the drift check
        # saw) changes, after the install; no delete, so a replacement or a rename never undoes anything
        self.repair_command = remote.Command(
            f"{name}-repair",
            connection=args.connection,
            create=args.repair,
            logging="none",
            add_previous_output_in_env=False,
            opts=pulumi.ResourceOptions.merge(
                pulumi.ResourceOptions(
                    parent=self,
                    depends_on=[self.install_command],
                    ignore_changes=[] if args.repair_known else ["create", "update"],
                ),
                _QUIET,
            ),
        )
        # `<name>-psk` keeps the preshared keys apart from the config: they travel as a secret on stdin
        # (the preview shows [secret], the config's diff stays readable), after the install, and each end
        # of a pair gets its new key in the same `up` (a running session keeps its keys until its next
        # handshake, so both ends change well inside one rekey interval)
        self.preshared_keys_command = None
        if args.preshared_keys is not None:
            self.preshared_keys_command = remote.Command(
                f"{name}-psk",
                connection=args.connection,
                create=args.preshared_keys_install,
                delete=args.preshared_keys_forget,
                stdin=pulumi.Output.secret(args.preshared_keys),
                logging="none",
                add_previous_output_in_env=False,
                # a replace (`pulumi up --replace` after a store was deleted by hand) forgets first, then writes
                # the keys again: create-before-delete would end with the old resource's forget
                opts=pulumi.ResourceOptions.merge(
                    pulumi.ResourceOptions(parent=self, depends_on=[self.install_command], delete_before_replace=True), _QUIET
                ),
            )
        self.register_outputs({})
