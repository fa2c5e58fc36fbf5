"""`pulumi up` meeting faults, with the real engine: two ups at once, a host unreachable, an up interrupted.

One lab for the module (the router stack, brought up once); each test leaves the
stack converged (its last `up` completes and the lab's checks pass), so the next
one starts from a working VPN. Every figure the tests measure is printed.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import time
from dataclasses import dataclass

import pytest

from lab.checks import Checker, table
from lab.deploy import wait_for
from lab.faults import netns_pids
from lab.netns import Lab
from lab.pulumi_lab import PulumiLab
from lab.services import start_sshd
from tests.engine.interrupted_install import hold_install_lock, install_waiting, release, running_matches_file
from tests.stacks import stack_file

LOCKED = "the stack is currently locked by 1 lock(s)"


def all_passed(results) -> None:
    failed = [c for c in results if not c.passed]
    assert not failed, "\n" + table(failed)


def report(capsys, text: str) -> None:
    with capsys.disabled():
        print(f"\n{text}")


@pytest.fixture(scope="module")
def pl():
    with Lab() as lab:
        pl = PulumiLab(lab, stack_file("router"))
        pl.up()
        all_passed(pl.check())
        yield pl


def up_args(pl: PulumiLab) -> list[str]:
    return ["up", "--yes", "--skip-preview", "--stack", pl.stack]


def log_of(pl: PulumiLab, name: str):
    return pl.lab.run_dir / f"{name}.log"


def managed(pl: PulumiLab) -> dict[str, str]:
    """SSH-managed node -> interface."""
    return {n.name: n.interface for n in pl.world.vpn.nodes if getattr(n, "ssh", None)}


def host_state(pl: PulumiLab, name: str) -> str:
    """What an up may change on a host: its config file (content and time) and its running peers."""
    node, iface = pl.world.nodes[name], managed(pl)[name]
    # sorted: wireguard-go lists its peers in no fixed order
    return node.run(
        f"stat -c %Y /etc/wireguard/{iface}.conf; cat /etc/wireguard/{iface}.conf; wg show {iface} peers | sort"
    ).stdout


def pending_operations(pl: PulumiLab) -> list[str]:
    export = json.loads(pl.pulumi("stack", "export", "--stack", pl.stack).output)
    operations = export["deployment"].get("pending_operations") or []
    return [f"{op['type']} {op['resource']['urn'].split('::')[-1]}" for op in operations]


def every_host_works(pl: PulumiLab) -> list[str]:
    """Problems, if any: every host's interface up with peers, and every spoke pings the hub within 30 s."""
    problems = []
    vpn = pl.world.vpn
    for node in vpn.nodes:
        shown = pl.world.nodes[node.name].run(["wg", "show", node.interface, "peers"], check=False)
        if shown.returncode != 0 or not shown.stdout.split():
            problems.append(f"{node.name}: no running {node.interface} with peers ({shown.stderr.strip()})")
    hub = pl.world.nodes[vpn.hub.name]
    running = hub.run(["ip", "-o", "-4", "address", "show", "dev", vpn.hub.interface], check=False).stdout.split()
    address = running[3].split("/")[0] if len(running) > 3 else str(vpn.hub.address)  # old or new: either is working
    for spoke in vpn.spokes:
        node = pl.world.nodes[spoke.name]
        # a restarted hub is reached again on the spoke's next handshake retry (about 15 s, bench/RESULTS.md)
        took = wait_for(lambda node=node: Checker.ping(node, address, 1)[1] == 1, 30, 0.5)
        if took is None:
            problems.append(f"{spoke.name}: no ping to the hub's {address} answered in 30 s")
    return problems


# -- two ups of one stack at once -----------------------------------------------------------------


def test_two_ups_at_once_the_second_is_refused_and_nothing_is_lost(pl, capsys):
    raw = copy.deepcopy(pl.raw)
    raw.setdefault("peers", []).append({"name": "tablet", "address": "10.10.11.3"})
    pl.add_roaming_node("tablet", "203.0.113.77", 77)
    pl.set_vpn(raw)
    first = pl.spawn(*up_args(pl), log=log_of(pl, "up-first"))
    locked = wait_for(lambda: bool(pl.lock_files()), 60, 0.02)
    assert locked is not None, "the first up never took the DIY backend's lock"
    lock = json.loads(pl.lock_files()[0].read_text())
    started = time.monotonic()
    second = pl.spawn(*up_args(pl), log=log_of(pl, "up-second"))
    second_rc = pl.wait_exit(second, 120)
    refused_after = time.monotonic() - started
    first_still_running = pl.lab.is_running(first)
    first_rc = pl.wait_exit(first, 300)
    second_out = log_of(pl, "up-second").read_text()
    first_out = log_of(pl, "up-first").read_text()
    assert first_rc == 0, first_out[-3000:]
    assert second_rc not in (0, None) and LOCKED in second_out, second_out[-3000:]
    assert f"(pid {lock['pid']})" in second_out  # it names the holder
    assert first_still_running, "the second up was refused only after the first had ended: no overlap was tested"
    assert not pl.lock_files(), "a lock was left behind"
    noop = pl.up("--expect-no-changes")  # nothing lost: the first's change is all in the state
    all_passed(pl.check())
    history = json.loads(pl.pulumi("stack", "history", "--json", "--stack", pl.stack).output)
    refusal = next(line for line in second_out.splitlines() if "locked" in line)
    report(
        capsys,
        f"two ups at once: second refused {refused_after:.1f} s after it started, exit {second_rc}, while the first ran; "
        f"first exit {first_rc}; no lock left; no-op up after: {noop.seconds:.1f} s; "
        f"{len(history)} updates in the history\n  second said: {refusal.strip()}",
    )


# -- a host unreachable during up ------------------------------------------------------------------


def test_a_new_site_unreachable_fails_naming_it_and_changes_no_other_host(pl, capsys):
    node, address, sshd = pl.add_ssh_node("office", "203.0.113.78", 120)
    os.kill(sshd, signal.SIGTERM)  # the host is there, its sshd is not: the key command cannot run
    assert wait_for(lambda: not pl.lab.is_running(sshd), 10, 0.1) is not None
    raw = copy.deepcopy(pl.raw)
    raw.setdefault("sites", []).append({"name": "office", "address": "10.10.11.5", "ssh": {"host": address}})
    pl.set_vpn(raw)
    before = {name: host_state(pl, name) for name in managed(pl) if name != "office"}

    failed = pl.pulumi(*up_args(pl), check=False, timeout=600)

    # the error quotes the whole command (docs/pulumi-notes.md 7): show its head only
    errors = [line.strip()[:200] for line in failed.output.splitlines() if "unable to connect" in line]
    assert failed.returncode != 0, failed.output[-3000:]
    assert f"unable to connect to {address}:22" in failed.output, failed.output[-3000:]
    assert "office-key" in failed.output  # the resource named, so the host is named twice
    for name, state in before.items():
        assert host_state(pl, name) == state, f"{name} was changed by an up that could not reach office"
    assert not pending_operations(pl)

    start_sshd(node, pl.world.ssh_public_key, address, 22)
    again = pl.up()
    all_passed(pl.check())
    report(
        capsys,
        f"office unreachable (sshd stopped): up failed after {failed.seconds:.1f} s (exit {failed.returncode}); "
        f"router untouched; with sshd back the next up took {again.seconds:.1f} s and the checks pass\n  "
        + "\n  ".join(errors[:4]),
    )


# -- an up interrupted mid-push --------------------------------------------------------------------


def move_hub_address(pl: PulumiLab) -> str:
    """A change of the hub's [Interface] only (its VPN address): the install restarts the interface.

    Only the hub's config changes (spokes route the whole VPN network), and the
    install script's text does not, so the key command stays as it is and the step
    in flight on the host is the install itself.
    """
    raw = copy.deepcopy(pl.raw)
    raw["hub"]["address"] = "10.10.11.254" if raw["hub"]["address"] == "10.10.11.1" else "10.10.11.1"
    pl.set_vpn(raw)
    return raw["hub"]["address"]


def checks_after_a_hub_restart(pl: PulumiLab):
    """The lab's checks once every spoke talks to the hub again.

    Moving the hub's address restarts its interface: a spoke's session is then unknown to the hub, which drops
    its packets, until the spoke hears nothing back for REKEY_TIMEOUT + KEEPALIVE_TIMEOUT (15 s) and handshakes
    anew (WireGuard's rule, not wgsites'). That is awaited, by pinging the hub from each spoke, before checking.
    """
    hub = str(pl.world.vpn.hub.address)
    for spoke in pl.world.vpn.spokes:
        node = pl.world.nodes.get(spoke.name)
        if node is not None:
            wait_for(lambda node=node: node.run(["ping", "-c", "1", "-W", "1", hub], check=False).returncode == 0, 40, 1)
    return pl.check()


@dataclass
class Interrupted:
    """What an interrupted up left: the CLI's exit and output, and what was seen on the hub meanwhile."""

    code: int | None
    output: str
    provider_gone: float | None  # seconds after the signals until the CLI's providers had exited (None: still there)
    install_alive: bool  # the install still ran on the host (waiting for the lock) once the providers were gone
    sessions_open: int  # SSH sessions still open on the hub then
    hub_after: tuple[bool, str]  # running = file on the hub, before any other up
    plugins: list[int]  # what the CLI had started (language host, program, providers)


def interrupted_up(pl: PulumiLab, name: str, signals: list[int], gap: float = 0.5, *, tree: bool = False) -> Interrupted:
    """Start an up while the hub's install lock is held, signal the CLI once the install waits on the host.

    The lock is released only after the signals (and, if the CLI died, after its
    providers have gone too, taking their SSH sessions), so the install on the hub
    was running on the host, mid-push, when the CLI was stopped. `tree`: the signals
    go to the CLI and every process it started (what a CI runner's cancel or a
    closed laptop does), so the SSH sessions drop with the providers.
    """
    hub = pl.world.vpn.hub
    hub_node = pl.world.nodes[hub.name]
    holder = hold_install_lock(hub_node, hub.interface)
    gone, running, sessions, plugins = None, False, 0, []
    try:
        cli = pl.spawn(*up_args(pl), log=log_of(pl, name))
        assert wait_for(lambda: install_waiting(hub_node), 60, 0.05) is not None, "the install never reached the host"
        plugins = descendants(cli)
        targets = [cli, *plugins] if tree else [cli]
        for sig in signals:
            for pid in targets:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            time.sleep(gap)
        time.sleep(2)
        if not pl.lab.is_running(cli):
            gone = wait_for(lambda: not any(map(alive, plugins)), 10, 0.2)
            if gone is not None:
                gone += 2 + gap * len(signals)
        running, sessions = install_waiting(hub_node), ssh_sessions(hub_node)
    finally:
        release(hub_node, holder)
    code = pl.wait_exit(cli, 120)
    time.sleep(3)  # what the install on the host still does, it does now
    after = running_matches_file(hub_node, hub.interface)
    return Interrupted(code, log_of(pl, name).read_text(), gone, running, sessions, after, plugins)


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (the CLI's language host, program and providers)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(children.get(child, []))
    return found


def ssh_sessions(node) -> int:
    """sshd processes in the node beyond its listener: one (or two) per open session."""
    names = []
    for pid in netns_pids(node):
        try:
            names.append(open(f"/proc/{pid}/comm").read().strip())
        except OSError:
            continue
    return max(0, sum(n.startswith("sshd") for n in names) - 1)


def alive(pid: int) -> bool:
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def summary(output: str) -> str:
    keep = ("error", "cancel", "interrupt", "pending", "Duration:", "^C", "terminat", "updated", "unchanged", "created")
    return "\n  ".join(line.strip() for line in output.splitlines() if any(k in line for k in keep))[:1500]


def test_one_sigint_mid_push_waits_for_the_install_and_the_next_up_completes(pl, capsys):
    move_hub_address(pl)
    stop = interrupted_up(pl, "up-sigint", [signal.SIGINT])
    problems = every_host_works(pl)
    pending = pending_operations(pl)
    locks = pl.lock_files()
    after = pl.up()
    all_passed(checks_after_a_hub_restart(pl))
    report(
        capsys,
        f"one SIGINT mid-push: CLI exit {stop.code}; hub right after: running = file {stop.hub_after}; hosts working: "
        f"{not problems} {problems}; pending operations {pending}; locks left {len(locks)}; "
        f"next up {after.seconds:.1f} s, checks pass\n  {summary(stop.output)}\n  next up: {summary(after.output)}",
    )
    assert stop.code not in (0, None) and "update canceled" in stop.output
    assert not problems, problems
    assert stop.hub_after[0], stop.hub_after  # the in-flight install was waited for: the new config runs
    assert not pending and not locks


HARD_STOPS = {
    "SIGINT twice": ([signal.SIGINT, signal.SIGINT], False),
    "SIGKILL": ([signal.SIGKILL], False),
    "SIGKILL of the CLI and its plugins": ([signal.SIGKILL], True),
}


@pytest.mark.parametrize("how", list(HARD_STOPS))
def test_hard_stop_mid_push_leaves_every_host_working_and_the_next_up_converges(pl, capsys, how):
    """A CLI stopped hard while the hub's install runs: the hub keeps a working config, and the next up converges.

    Measured before install.sh.j2 survives a dropped SSH session (2026-12-01): with the
    CLI alone stopped (SIGINT twice, SIGKILL) its orphaned provider keeps the session
    and the install completes; with the CLI and its plugins killed, the session drops,
    the install dies after writing the new config file but before applying it, and the
    next up reports success while the hub runs the old config: that case fails here
    until the install script finishes what it started after a dropped session.
    """
    move_hub_address(pl)
    signals, tree = HARD_STOPS[how]
    stop = interrupted_up(pl, f"up-{how.replace(' ', '-')}", signals, tree=tree)
    problems = every_host_works(pl)
    pending = pending_operations(pl)
    locks = pl.lock_files()
    nxt = pl.pulumi(*up_args(pl), check=False)
    steps = [f"next up exit {nxt.returncode} ({nxt.seconds:.1f} s)"]
    if nxt.returncode != 0 and LOCKED in nxt.output:
        pl.pulumi("cancel", "--yes", "--stack", pl.stack)
        nxt = pl.pulumi(*up_args(pl), check=False)
        steps.append(f"after `pulumi cancel`: exit {nxt.returncode} ({nxt.seconds:.1f} s)")
    consistent = {name: running_matches_file(pl.world.nodes[name], iface) for name, iface in managed(pl).items()}
    lingering = [p for p in stop.plugins if alive(p)]
    pending_after = pending_operations(pl)
    results = checks_after_a_hub_restart(pl) if nxt.returncode == 0 else []
    report(
        capsys,
        f"{how} mid-push: CLI exit {stop.code}; its plugins gone {stop.provider_gone} s after (None: not in 10 s; "
        f"{len(lingering)} of {len(stop.plugins)} still alive after the next up); then install still on the "
        f"host: {stop.install_alive}, SSH sessions open: {stop.sessions_open}; hub right after: running = file "
        f"{stop.hub_after}; hosts working: {not problems} {problems}; pending operations {pending}; locks left "
        f"{len(locks)}; {'; '.join(steps)}; pending after it {pending_after}; running = file: {consistent}\n"
        f"  {summary(stop.output)}\n"
        f"  next up: {summary(nxt.output)}",
    )
    assert not problems, problems
    assert nxt.returncode == 0, nxt.output[-3000:]
    all_passed(results)
    # pre-fix expectation (install.sh.j2 not yet surviving a dropped session): this can fail
    assert all(ok for ok, _ in consistent.values()), f"a host runs another config than its file says: {consistent}"
