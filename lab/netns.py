"""Lab primitives on network namespaces: nodes (a netns plus a private mount namespace) and links.

Why: rendered configs and scripts must run the way a real host runs them (real
`wg-quick`, real sshd, real routing) without touching this machine's networking or
files. A node is a network namespace plus a persistent private mount namespace (docs/lab-notes.md
point 2): `/etc/wireguard`, `/var/run/wireguard`, ... are per-node folders of the lab's run
directory, `/etc` and `/run` per-node overlays of this machine's.

Nothing here knows WireGuard stacks (`world` maps them onto nodes). Processes and
signals at teardown: `processes`; sshd, the SSH client, the web logger: `services`.
Standard library only; needs root, `ip`, `nsenter`, `unshare`, `taskset`, `mount`.
"""

from __future__ import annotations

import atexit
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from .processes import (
    TeardownOnSignal,
    block_signals,
    is_under,
    mounts_under,
    namespace_ids,
    signal_group,
    stop_processes,
    unblock_signals,
)

DEFAULT_PRIVATE_DIRS: tuple[str, ...] = (
    "/etc/wireguard",
    "/var/run/wireguard",
    "/etc/sysctl.d",
    "/etc/wgsites",
    "/etc/systemd/system",
    "/usr/local/sbin",
    "/etc/nftables.d",
    "/var/lib/wgsites",
    "/run/systemd",  # hides this machine's systemd: scripts in a node take their no-systemd path
)
"""Directories a node gets its own empty copy of, so what its scripts install stays in the lab."""

USERSPACE_WG_ENV: Mapping[str, str] = {
    "WG_QUICK_USERSPACE_IMPLEMENTATION": "wireguard-go",
    "WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD": "1",
}
"""No kernel module here: wg-quick must fall back to wireguard-go (docs/lab-notes.md 1)."""

INOTIFY_LIMIT = Path("/proc/sys/fs/inotify/max_user_instances")


def inotify_instances_free() -> tuple[int, int]:
    """(free, limit) of this machine's inotify instances for root. Each wireguard-go holds one (its UAPI socket
    watch), so past the limit (Debian's default is 128, shared with every other lab running here) the next
    `wg-quick up` fails with `Unable to modify interface: Connection reset by peer`."""
    limit = int(INOTIFY_LIMIT.read_text())
    used = 0
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            used += sum(1 for fd in fd_dir.iterdir() if os.readlink(fd) == "anon_inode:inotify")
        except OSError:  # a process that ended meanwhile, or one we may not read
            continue
    return limit - used, limit


# a node's /etc/resolv.conf before wg-quick's resolvconf writes it: this machine's resolver is not reachable from the lab
RESOLV_CONF = "# {node}: a lab node's own resolv.conf; no name server until a tunnel's DNS brings one"
# wg-quick's `DNS =` runs resolvconf: the lab's own, in each node's private /usr/local/sbin (first on PATH), so this
# machine needs no openresolv, which would replace its systemd-resolved (docs/lab-notes.md 12)
RESOLVCONF = Path(__file__).with_name("resolvconf")
NODE_RESOLVCONF = "/usr/local/sbin/resolvconf"

IFNAME_MAX = 15  # IFNAMSIZ - 1: the kernel refuses longer interface names
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class LabError(RuntimeError):
    """The lab itself failed (setup, teardown, a process that did not come up)."""


class LabCommandError(LabError):
    """A command inside a node failed; carries everything needed to see why."""

    def __init__(
        self,
        node: str,
        cmd: str | Sequence[str],
        returncode: int | None,
        stdout: str,
        stderr: str,
    ) -> None:
        self.node = node
        self.cmd = cmd
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        shown = cmd if isinstance(cmd, str) else shlex.join(cmd)
        status = "timed out" if returncode is None else f"exited {returncode}"
        super().__init__(f"[{node}] {shown!r} {status}\n--- stdout:\n{stdout}--- stderr:\n{stderr}")


def _argv(cmd: str | Sequence[str]) -> list[str]:
    """A string is a shell command line; a sequence is an argv."""
    return ["sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)


def run_on_host(argv: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a lab-management command in the host's namespaces (ip -n, mount, umount)."""
    done = subprocess.run(list(argv), stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise LabCommandError("host", argv, done.returncode, done.stdout, done.stderr)
    return done


def node_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Our environment with a node's /usr/local/sbin first on PATH, the userspace-WireGuard switches, `extra`."""
    merged = dict(os.environ)
    path = merged.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").split(":")
    merged["PATH"] = ":".join(["/usr/local/sbin", *(p for p in path if p != "/usr/local/sbin")])  # the node's own first
    merged.update(USERSPACE_WG_ENV)
    merged.update(extra or {})
    return merged


def running_node(name: str) -> tuple[Path, Path]:
    """A running lab's node as (its mount namespace file, its network namespace file), found by its network
    namespace's name (wglXXXX-NODE) or, while one lab runs, by NODE alone. Why both: a node's WireGuard sockets
    and files live in its private mount namespace (docs/lab-notes.md 2), so `ip netns exec` alone sees none."""
    netns = sorted(p.name for p in Path("/run/netns").glob("*")) if Path("/run/netns").is_dir() else []
    nodes: dict[str, Path] = {}  # netns name -> its node's mount namespace file
    with open("/proc/self/mountinfo") as mountinfo:
        for line in mountinfo:
            fields, _, fstype = line.partition(" - ")
            point = Path(fields.split()[4])
            if not fstype.startswith("nsfs ") or point.suffix != ".mnt":
                continue
            for candidate in netns:  # a lab's run folder is PREFIX-..., its node's netns PREFIX-NODE
                prefix = candidate[: -len(point.stem) - 1]
                if candidate.endswith(f"-{point.stem}") and point.parent.name.startswith(f"{prefix}-"):
                    nodes[candidate] = point
    matches = [n for n in nodes if n == name] or [n for n in nodes if n.split("-", 1)[-1] == name]
    if len(matches) != 1:
        running = ", ".join(sorted(nodes)) or "none (is a lab kept with --keep running?)"
        which = "more than one lab has it: give its full name" if matches else "no such lab node"
        raise LabError(f"{name}: {which}; running lab nodes: {running}")
    return nodes[matches[0]], Path("/run/netns") / matches[0]


def _refused_namespace_bind(stderr: str) -> bool:
    """unshare's words when the kernel refused to bind the new mount namespace on its file (before any command ran)."""
    return re.search(r"^unshare: mount /proc/\d+/ns/mnt on .* failed: Invalid argument$", stderr, re.M) is not None


def _check_name(kind: str, name: str, max_len: int | None = None) -> None:
    if not _NAME_RE.match(name) or (max_len is not None and len(name) > max_len):
        limit = f", at most {max_len} chars" if max_len else ""
        raise ValueError(f"bad {kind} name {name!r} (letters, digits, _.-{limit})")


class Node:
    """One lab machine: a network namespace and a private mount namespace."""

    def __init__(self, lab: Lab, name: str, private_dirs: Sequence[str]) -> None:
        self.lab = lab
        self.name = name
        self.netns = f"{lab.prefix}-{name}"
        self.netns_file = Path("/run/netns") / self.netns
        self.dir = lab.run_dir / name
        self.mount_ns_file = lab.run_dir / f"{name}.mnt"
        self.private_dirs = tuple(os.path.normpath(d) for d in private_dirs)
        self._spawned = 0

    def __repr__(self) -> str:
        return f"Node({self.name!r}, netns={self.netns!r})"

    # -- running things -------------------------------------------------------------

    def enter_argv(self, cmd: str | Sequence[str]) -> list[str]:
        """The argv that runs `cmd` inside this node (both namespaces)."""
        return [
            "nsenter",
            f"--mount={self.mount_ns_file}",
            f"--net={self.netns_file}",
            "--",
            *_argv(cmd),
        ]

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return node_env(extra)

    def run(
        self,
        cmd: str | Sequence[str],
        *,
        input: str | None = None,
        check: bool = True,
        timeout: float = 60,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command to completion inside the node and capture its output.

        It runs in its own session so a timeout can end its whole process group.
        Anything that keeps stdout open after the command returns (a daemon that
        does not close it) blocks until `timeout`: start those with `spawn`.
        """
        self.lab._require_alive()
        proc = subprocess.Popen(
            self.enter_argv(cmd),
            stdin=subprocess.DEVNULL if input is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env(env),
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            signal_group(proc.pid, signal.SIGKILL)
            try:
                out, err = proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                out, err = "", ""
            raise LabCommandError(self.name, cmd, None, out, err) from None
        done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        if check and done.returncode != 0:
            raise LabCommandError(self.name, cmd, done.returncode, out, err)
        return done

    def spawn(
        self,
        cmd: str | Sequence[str],
        *,
        log: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> int:
        """Start a long-running process in the node, in its own process group.

        The PID is recorded so teardown ends it (and its group). Output goes to
        `log` (default: a file under the node's run folder).
        """
        self.lab._require_alive()
        self._spawned += 1
        if log is None:
            log = self.dir / "logs" / f"spawn-{self._spawned}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                self.enter_argv(cmd),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env(env),
                start_new_session=True,
            )
        self.lab._record(proc, log)
        return proc.pid

    # -- network ----------------------------------------------------------------------

    def add_address(self, ifname: str, cidr: str) -> None:
        self.run(["ip", "address", "add", cidr, "dev", ifname])

    def set_up(self, ifname: str) -> None:
        self.run(["ip", "link", "set", ifname, "up"])

    def add_route(self, dest: str, via: str | None = None, dev: str | None = None) -> None:
        """`dest` may be `default`; give `via`, `dev` or both."""
        if via is None and dev is None:
            raise ValueError("add_route needs via or dev")
        argv = ["ip", "route", "add", dest]
        argv += ["via", via] if via else []
        argv += ["dev", dev] if dev else []
        self.run(argv)

    def sysctl(self, key: str, value: str | int) -> None:
        """Per network namespace for net.* keys (docs/lab-notes.md 5): the host is untouched."""
        self.run(["sysctl", "-q", "-w", f"{key}={value}"])

    def add_bridge(self, name: str, members: Sequence[str]) -> None:
        """A bridge with `members` enslaved; bridge and members are brought up."""
        _check_name("bridge", name, IFNAME_MAX)
        script = [f"ip link add {shlex.quote(name)} type bridge"]
        for member in members:
            script.append(f"ip link set {shlex.quote(member)} master {shlex.quote(name)} up")
        script.append(f"ip link set {shlex.quote(name)} up")
        self.run("set -e; " + "; ".join(script))

    # -- files ------------------------------------------------------------------------

    def is_private(self, path: str) -> bool:
        """Whether `path` is in one of the node's private dirs or the lab's run dir."""
        path = os.path.normpath(path)
        roots = [*self.private_dirs, *(os.path.realpath(d) for d in self.private_dirs)]
        roots.append(str(self.lab.run_dir))
        return any(is_under(path, root) for root in roots)

    def write_file(self, path: str, content: str, mode: int = 0o644) -> None:
        """Install a file as the node sees it; refuses paths that would reach the host."""
        if not os.path.isabs(path) or not self.is_private(path):
            raise ValueError(f"{path!r} is not in {self.name}'s private dirs: writing it would change the host")
        self.run(["install", "-D", "-m", f"{mode:o}", "/dev/stdin", path], input=content)

    def read_file(self, path: str) -> str:
        return self.run(["cat", "--", path]).stdout

    # -- services ---------------------------------------------------------------------

    def wait_for_port(self, host: str, port: int, *, pid: int | None = None, timeout: float = 10) -> None:
        """Poll with real TCP connects from inside the node until `host:port` accepts."""
        deadline = time.monotonic() + timeout
        while True:
            if pid is not None and not self.lab.is_running(pid):
                raise LabError(f"[{self.name}] process {pid} exited: {self.lab.log_tail(pid)}")
            probe = self.run(["nc", "-z", "-w", "1", host, str(port)], check=False)
            if probe.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise LabError(f"[{self.name}] nothing listens on {host}:{port} after {timeout}s")
            time.sleep(0.05)


class Lab:
    """A set of nodes that exists from construction until `teardown`.

    Teardown runs on leaving the `with` block (also on exceptions), on SIGINT/SIGTERM
    (handlers installed while the lab is alive, when created in the main thread) and
    at interpreter exit, and it is idempotent.
    """

    def __init__(
        self,
        prefix: str | None = None,
        run_dir: Path | None = None,
        *,
        keep_run_dir: bool = False,
    ) -> None:
        self.prefix = prefix or f"wgl{secrets.token_hex(2)}"
        _check_name("lab prefix", self.prefix)
        self._own_run_dir = run_dir is None and not keep_run_dir
        if run_dir is None:
            run_dir = Path(tempfile.mkdtemp(prefix=f"{self.prefix}-", dir="/tmp"))
        self.run_dir = Path(run_dir).absolute()
        self.nodes: dict[str, Node] = {}
        self._procs: dict[int, tuple[subprocess.Popen[bytes], Path]] = {}
        self._lock = threading.RLock()
        self._alive = True
        self._run_dir_mounted = False
        self._signals = TeardownOnSignal(self.teardown)
        atexit.register(self.teardown)
        self._signals.install()
        try:
            # docs/lab-notes.md 2: node mount-namespace files can only be bound in a private mount.
            self.run_dir.mkdir(parents=True, exist_ok=True)
            run_on_host(["mount", "--bind", str(self.run_dir), str(self.run_dir)])
            self._run_dir_mounted = True
            run_on_host(["mount", "--make-private", str(self.run_dir)])
        except BaseException:
            self.teardown()
            raise

    def __enter__(self) -> Lab:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.teardown()

    def __repr__(self) -> str:
        return f"Lab({self.prefix!r}, run_dir={str(self.run_dir)!r}, nodes={list(self.nodes)})"

    # -- building -------------------------------------------------------------------

    def node(self, name: str, private_dirs: Sequence[str] = DEFAULT_PRIVATE_DIRS) -> Node:
        """Create a node: netns `<prefix>-<name>` with lo up, and its private mount namespace."""
        with self._lock:
            self._require_alive()
            _check_name("node", name)
            if name in self.nodes:
                raise ValueError(f"node {name!r} exists already")
            node = Node(self, name, private_dirs)
            run_on_host(["ip", "netns", "add", node.netns])
            self.nodes[name] = node
            node.dir.mkdir(parents=True, exist_ok=True)
            node.mount_ns_file.touch()
            self._make_mount_namespace(node)
            node.set_up("lo")
            if node.is_private(NODE_RESOLVCONF):
                node.write_file(NODE_RESOLVCONF, RESOLVCONF.read_text(), 0o755)
            return node

    def _make_mount_namespace(self, node: Node) -> None:
        """The node's private mount namespace, kept by a bind mount of it on its file. The kernel refuses that bind
        (EINVAL) when the new namespace's ID is not above the ID of ours, and it hands IDs out in batches per CPU:
        inside a container (our namespace's ID high), a namespace made on another CPU can get a lower one
        (docs/lab-notes.md 20). Then the bind is tried again on each CPU in turn: the one whose batch gave ours
        gives higher IDs."""
        argv = ["nsenter", f"--net={node.netns_file}", "--", "unshare", f"--mount={node.mount_ns_file}"]
        argv += ["--propagation", "private", "sh", "-ec", self._mount_script(node)]
        done = run_on_host(argv, check=False)
        if done.returncode != 0 and _refused_namespace_bind(done.stderr):
            for cpu in range(os.cpu_count() or 1):  # every CPU of the machine, not only those we were pinned to
                again = run_on_host(["taskset", "--cpu-list", str(cpu), *argv], check=False)
                if again.returncode == 0:
                    return
                if not _refused_namespace_bind(again.stderr):  # bound, then its mounts failed: that is the error
                    done = again
                    break
        if done.returncode != 0:
            raise LabCommandError("host", argv, done.returncode, done.stdout, done.stderr)

    def _mount_script(self, node: Node) -> str:
        """Shell run once inside the node's new mount namespace to make it private.

        Each private dir gets a bind mount from the node's run folder. A dir missing on
        the host cannot be created there (that would change the host), so its nearest
        existing ancestor is covered by an overlay whose upper layer is in the run dir,
        and the mount point is created in that overlay. /sys is remounted so that it
        shows the node's interfaces, as `ip netns exec` does.
        """
        q = shlex.quote
        lines = ["mount -t sysfs -o nosuid,nodev,noexec sysfs /sys"]
        binds: list[tuple[str, Path, bool]] = []  # (target, source, missing on host)
        overlays: set[str] = set()
        for wanted in node.private_dirs:
            target = os.path.realpath(wanted)  # /var/run -> /run: mount the real place
            source = node.dir / "root" / wanted.lstrip("/")
            if os.path.isdir(target):
                source.mkdir(parents=True, exist_ok=True)
                source.chmod(os.stat(target).st_mode & 0o7777)
                binds.append((target, source, False))
                continue
            if os.path.lexists(target):
                raise LabError(f"private dir {wanted!r} exists on the host but is not a directory")
            ancestor = os.path.dirname(target)
            while not os.path.isdir(ancestor):
                ancestor = os.path.dirname(ancestor)
            if ancestor == "/":
                raise LabError(f"will not overlay / to create {wanted!r}")
            overlays.add(ancestor)
            source.mkdir(parents=True, exist_ok=True)
            binds.append((target, source, True))
        # /run is always the node's own (an overlay of this machine's): the install script's lock, scratch
        # and log (/run/wgsites), wireguard-go's sockets and sshd's runtime dir must not be shared
        overlays.add("/run")
        # /etc too: what a node's tools write there stays in the node, above all /etc/resolv.conf, which
        # wg-quick's `DNS =` has resolvconf rewrite (docs/lab-notes.md 12); the node starts with its own, empty
        overlays.add("/etc")
        for ancestor in sorted(overlays, key=lambda p: p.count("/")):
            layer = node.dir / "overlay" / ancestor.lstrip("/")
            (layer / "upper").mkdir(parents=True, exist_ok=True)
            (layer / "work").mkdir(parents=True, exist_ok=True)
            opts = f"lowerdir={ancestor},upperdir={layer / 'upper'},workdir={layer / 'work'}"
            lines.append(f"mount -t overlay overlay -o {q(opts)} {q(ancestor)}")
        for target, source, missing in sorted(binds, key=lambda b: b[0].count("/")):
            if missing:
                lines.append(f"mkdir -p {q(target)}")
            lines.append(f"mount --bind {q(str(source))} {q(target)}")
        lines.append("rm -f /etc/resolv.conf")  # in the overlay: a symlink to this machine's resolver goes too
        lines.append(f"echo {q(RESOLV_CONF.format(node=node.name))} > /etc/resolv.conf")
        return "\n".join(lines)

    def link(self, a: Node, a_ifname: str, b: Node, b_ifname: str) -> None:
        """A veth pair from `a` (named `a_ifname`) to `b` (named `b_ifname`), both ends up.

        Created with `ip -n` from the host's mount namespace, where every node's
        /run/netns entry is visible (a node's private mount namespace lacks the entries
        of nodes created after it); the pair never exists in the host's netns.
        """
        _check_name("interface", a_ifname, IFNAME_MAX)
        _check_name("interface", b_ifname, IFNAME_MAX)
        self._require_alive()
        run_on_host(["ip", "-n", a.netns, "link", "add", a_ifname, "type", "veth"] + ["peer", "name", b_ifname, "netns", b.netns])
        a.set_up(a_ifname)
        b.set_up(b_ifname)

    # -- processes ------------------------------------------------------------------

    def _record(self, proc: subprocess.Popen[bytes], log: Path) -> None:
        with self._lock:
            self._procs[proc.pid] = (proc, log)

    def is_running(self, pid: int) -> bool:
        """Whether a process this lab spawned is still running."""
        entry = self._procs.get(pid)
        return entry is not None and entry[0].poll() is None

    def log_tail(self, pid: int, chars: int = 2000) -> str:
        entry = self._procs.get(pid)
        if entry is None or not entry[1].exists():
            return ""
        return entry[1].read_text(errors="replace")[-chars:]

    def spawned_pids(self) -> list[int]:
        return list(self._procs)

    def _require_alive(self) -> None:
        if not self._alive:
            raise LabError(f"lab {self.prefix} is torn down")

    # -- teardown -------------------------------------------------------------------

    def teardown(self) -> None:
        """End our processes, unmount, delete our namespaces; safe to call again."""
        with self._lock:
            if not self._alive:
                return
            self._alive = False
            blocked = block_signals()
            try:
                problems = self._teardown()
            finally:
                self._signals.restore()
                atexit.unregister(self.teardown)
                unblock_signals(blocked)
        if problems:
            raise LabError(f"lab {self.prefix} teardown incomplete: " + "; ".join(problems))

    def _teardown(self) -> list[str]:
        problems: list[str] = []
        self._stop_processes(problems)
        for node in self.nodes.values():
            if mounts_under(node.mount_ns_file):
                done = run_on_host(["umount", str(node.mount_ns_file)], check=False)
                if done.returncode:
                    problems.append(f"umount {node.mount_ns_file}: {done.stderr.strip()}")
            if node.netns_file.exists():
                done = run_on_host(["ip", "netns", "delete", node.netns], check=False)
                if done.returncode:
                    problems.append(f"ip netns delete {node.netns}: {done.stderr.strip()}")
        if self._run_dir_mounted:
            done = run_on_host(["umount", str(self.run_dir)], check=False)
            if done.returncode:
                problems.append(f"umount {self.run_dir}: {done.stderr.strip()}")
        leftover = mounts_under(self.run_dir)
        if leftover:
            problems.append(f"still mounted: {leftover}")
        elif self._own_run_dir:
            shutil.rmtree(self.run_dir, ignore_errors=True)
        return problems

    def _stop_processes(self, problems: list[str]) -> None:
        """End what we spawned and anything left in our namespaces (processes.stop_processes)."""
        paths = [p for node in self.nodes.values() for p in (node.netns_file, node.mount_ns_file)]
        left = stop_processes([proc for proc, _ in self._procs.values()], namespace_ids(paths))
        if left:
            problems.append(f"processes survived SIGKILL: {left}")
