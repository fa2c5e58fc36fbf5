"""A lab host under a real systemd: systemd-nspawn boots this machine's OS on a throw-away overlay
inside a lab node's network namespace, with its own sshd (ssh.service) reached over real SSH.

Why: the install script takes another path where systemd runs (wg-quick@IFACE, the re-resolve
timer, every systemctl bounded), and the lab's other nodes hide this machine's /run/systemd, so
only a real systemd as PID 1 can show that path works. Nothing of the container outlives it:

- its root is an overlay of `/` whose upper layer is in the node's run folder, mounted in a
  mount namespace of its own (`unshare`), so the mount goes with the container's last process;
  nspawn's own runtime files land on a tmpfs over /run/systemd in that namespace;
- it joins the node's network namespace (`--network-namespace-path`): lab links and addresses
  work as on any node, and the lab's teardown sweep finds every process it started;
- nspawn runs in a cgroup of its own (this machine runs no systemd to give it one), removed at
  teardown (docs/lab-notes.md 16);
- the container boots multi-user.target with sshd and what gets enabled in it, none of this machine's enabled services
  (postgresql, timesyncd, ...), and root gets a fresh home.

This machine has no WireGuard kernel module: a drop-in gives wg-quick@.service the userspace
switches (the lab's stand-in for the module, as netns.USERSPACE_WG_ENV is for other nodes).
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from .netns import USERSPACE_WG_ENV, Lab, LabCommandError, LabError, Node, run_on_host
from .processes import TeardownOnSignal, signal_pid

TARGET = "multi-user.target"
OWN_WANTS = {
    "multi-user.target.wants": ("ssh.service",),
    "sysinit.target.wants": (),
    "timers.target.wants": ("systemd-tmpfiles-clean.timer",),  # never empty, as on a real host (disable rmdirs it)
}
"""What the container's targets want of /etc (opaque: this machine's enabled units, postgresql,
timesyncd, apt's timers, stay out); the distribution's own wants in /lib still count."""
MASKED = ("cloud-init.target", "getty.target", "console-getty.service", "systemd-logind.service")
"""Units of this machine the container must not start: cloud-init, consoles, logind (no PAM sessions)."""
BOOT_SECONDS = 30
SHUTDOWN_SECONDS = 15

UNITS = {
    "etc/systemd/system/wg-quick@.service.d/wgsites-lab.conf": "[Service]\n"
    + "".join(f"Environment={key}={value}\n" for key, value in USERSPACE_WG_ENV.items()),
    "etc/ssh/sshd_config.d/wgsites-lab.conf": """# the lab host's sshd: key only, its own host key, no PAM (no logind here)
HostKey /etc/ssh/wgsites-lab_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
""",
}


def cgroup_roots() -> list[Path]:
    """The hierarchies nspawn and systemd use: cgroup2 alone, or (hybrid) name=systemd and the unified one."""
    with open("/proc/self/mounts") as mounts:
        found = {line.split()[1]: line.split()[2] for line in mounts}
    if found.get("/sys/fs/cgroup") == "cgroup2":
        return [Path("/sys/fs/cgroup")]
    roots = [Path("/sys/fs/cgroup/systemd")]
    if found.get("/sys/fs/cgroup/unified") == "cgroup2":
        roots.append(Path("/sys/fs/cgroup/unified"))
    for root in roots:
        if str(root) not in found:
            raise LabError(f"no cgroup hierarchy at {root}: systemd-nspawn needs one to boot a container")
    return roots


def container_init(nspawn_pid: int) -> int | None:
    """A container's PID 1 as this machine sees it: nspawn's child, once systemd runs in it."""
    try:
        children = Path(f"/proc/{nspawn_pid}/task/{nspawn_pid}/children").read_text().split()
        return next((int(c) for c in children if Path(f"/proc/{c}/comm").read_text().strip() == "systemd"), None)
    except OSError:
        return None


def remove_cgroup(path: Path) -> None:
    """rmdir a cgroup and its children, deepest first (cgroupfs refuses rmdir -r)."""
    if not path.is_dir():
        return
    for child in sorted((p for p in path.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        child.rmdir()
    path.rmdir()


class SystemdHost:
    """A lab node booted by systemd-nspawn; use as a context manager inside the lab's `with`.

    `node` is an ordinary lab node (links, addresses); `run` enters the container itself (its
    files, its systemd); SSH reaches its sshd on every address of the node.
    """

    def __init__(self, lab: Lab, name: str, authorized_key: str, resolver: str | None = None) -> None:
        if shutil.which("systemd-nspawn") is None or not os.path.exists("/lib/systemd/systemd"):
            raise LabError("a systemd host needs systemd and systemd-nspawn: run `sudo scripts/setup test`")
        self.lab = lab
        self.node: Node = lab.node(name)
        self.dir = self.node.dir / "systemd"
        self.upper = self.dir / "upper"
        self.machine = self.node.netns
        self.cgroups = [root / f"wgsites-lab-{self.machine}" for root in cgroup_roots()]
        self.pid: int | None = None  # nspawn's (the lab's spawn: nsenter, unshare, sh exec into it)
        self._signals = TeardownOnSignal(self.stop)
        self._layers(authorized_key, resolver)

    def _layers(self, authorized_key: str, resolver: str | None) -> None:
        """The upper layer's first files: the target, the drop-ins, root's key, sshd's host key, masks."""
        for path, content in UNITS.items():
            target = self.upper / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
        units = self.upper / "etc/systemd/system"
        for wants, enabled in OWN_WANTS.items():
            (units / wants).mkdir(parents=True)
            os.setxattr(units / wants, "trusted.overlay.opaque", b"y")
            for unit in enabled:
                (units / wants / unit).symlink_to(f"/lib/systemd/system/{unit}")
        for unit in MASKED:
            (units / unit).symlink_to("/dev/null")
        # fresh, empty directories (opaque in the overlay): root's home without this machine's dotfiles
        # (a shell init that waits on a lock), and no WireGuard config of this machine's
        for path in ("root", "etc/wireguard"):
            (self.upper / path).mkdir(mode=0o700, parents=True)
            (self.upper / path).chmod(0o700)
            os.setxattr(self.upper / path, "trusted.overlay.opaque", b"y")
        ssh_dir = self.upper / "root/.ssh"
        ssh_dir.mkdir(mode=0o700)
        (ssh_dir / "authorized_keys").write_text(authorized_key.strip() + "\n")
        host_key = self.upper / "etc/ssh/wgsites-lab_host_ed25519_key"
        run_on_host(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", self.machine, "-f", str(host_key)])
        # the node's own resolver, or none: this machine's is not reachable from the lab
        nameserver = f"nameserver {resolver}\noptions timeout:1 attempts:1\n" if resolver else ""
        (self.upper / "etc/resolv.conf").write_text(f"# {self.machine}: a lab host's resolv.conf\n{nameserver}")
        (self.upper / "etc/hostname").write_text(f"{self.node.name}\n")

    # -- life ---------------------------------------------------------------------

    def boot(self) -> SystemdHost:
        """Start the container (again after `stop`: its files are kept) and wait until systemd has booted it."""
        work = self.dir / "work"
        root = self.dir / "root"
        for directory in (*self.cgroups, work, root):
            directory.mkdir(exist_ok=True)
        q = shlex.quote
        overlay = f"lowerdir=/,upperdir={self.upper},workdir={work}"
        script = "\n".join(
            [
                *(f"echo $$ > {q(str(cgroup / 'cgroup.procs'))}" for cgroup in self.cgroups),
                "mount -t tmpfs -o mode=0755 tmpfs /run/systemd",
                f"mount -t overlay overlay -o {q(overlay)} {q(str(root))}",
                "exec "
                + shlex.join(
                    [
                        "systemd-nspawn",
                        "--boot",
                        "--quiet",
                        f"--directory={root}",
                        f"--machine={self.machine}",
                        f"--hostname={self.node.name}",
                        f"--uuid={uuid.uuid4()}",  # its own machine id (journal, units)
                        f"--network-namespace-path={self.node.netns_file}",
                        "--private-network",  # with the path: the node's namespace, /proc/sys/net writable, CAP_NET_ADMIN
                        "--register=no",  # no machined here
                        "--keep-unit",  # no systemd here to give it a scope: the cgroup above
                        "--link-journal=no",
                        "--resolv-conf=off",  # the upper layer's
                        "--tmpfs=/tmp",
                        "--",
                        f"systemd.unit={TARGET}",
                    ]
                ),
            ]
        )
        # from the node's network namespace back into this process's mount namespace, then a new one
        argv = ["nsenter", f"--mount=/proc/{os.getpid()}/ns/mnt", "--", "unshare", "--mount", "--propagation", "private"]
        self._signals.install()
        self.pid = self.node.spawn([*argv, "sh", "-ec", script], log=self.dir / "console.log")
        deadline = time.monotonic() + BOOT_SECONDS
        while True:
            if not self.lab.is_running(self.pid):
                raise LabError(f"[{self.node.name}] systemd-nspawn exited: {self.lab.log_tail(self.pid)}")
            if self.init_pid() is not None:
                state = self.run(["systemctl", "is-system-running", "--wait"], check=False, timeout=BOOT_SECONDS)
                if state.stdout.strip() in ("running", "degraded"):
                    break
            if time.monotonic() > deadline:
                raise LabError(f"[{self.node.name}] systemd did not finish booting in {BOOT_SECONDS} s: {self.console()}")
            time.sleep(0.1)
        failed = self.run(["systemctl", "--failed", "--plain", "--no-legend"]).stdout.strip()
        if failed:
            raise LabError(f"[{self.node.name}] units failed at boot: {failed}")
        return self

    def init_pid(self) -> int | None:
        return None if self.pid is None else container_init(self.pid)

    def console(self) -> str:
        log = self.dir / "console.log"
        return log.read_text(errors="replace")[-3000:] if log.exists() else ""

    def stop(self) -> None:
        """Power the container off (systemd's own shutdown), end nspawn, remove the cgroups; safe to call again."""
        self._signals.restore()
        if self.pid is not None and self.lab.is_running(self.pid):
            init = self.init_pid()
            if init is not None:  # SIGRTMIN+3: systemd's halt, what nspawn sends on a SIGTERM of its own
                signal_pid(init, signal.SIGRTMIN + 3)
            deadline = time.monotonic() + SHUTDOWN_SECONDS
            while self.lab.is_running(self.pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if self.lab.is_running(self.pid):
                signal_pid(self.pid, signal.SIGKILL)
                time.sleep(0.5)
        problems = []
        for cgroup in self.cgroups:
            try:
                remove_cgroup(cgroup)
            except OSError as error:
                problems.append(f"{cgroup}: {error}")
        if problems:
            raise LabError(f"[{self.node.name}] cgroups left behind: {'; '.join(problems)}")

    def reboot(self) -> None:
        """Halt and boot again on the same files, as a host's reboot (enabled units start, runtime state is gone)."""
        self.stop()
        self.boot()

    def __enter__(self) -> SystemdHost:
        try:
            return self.boot()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    # -- inside ----------------------------------------------------------------------

    def run(
        self, cmd: str | Sequence[str], *, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside the container (its mount, PID and network namespaces: its files, its systemd)."""
        init = self.init_pid()
        if init is None:
            raise LabError(f"[{self.node.name}] the container is not running")
        argv = ["nsenter", f"--target={init}", "--mount", "--pid", "--net", "--uts", "--ipc", "--root", "--wd", "--"]
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}
        try:
            done = subprocess.run(
                [*argv, *(["sh", "-c", cmd] if isinstance(cmd, str) else cmd)],
                input=input,
                capture_output=True,
                text=True,
                timeout=timeout,
                env=env,
            )
        except subprocess.TimeoutExpired as expired:
            raise LabCommandError(self.node.name, cmd, None, str(expired.stdout or ""), str(expired.stderr or "")) from None
        if check and done.returncode != 0:
            raise LabCommandError(self.node.name, cmd, done.returncode, done.stdout, done.stderr)
        return done

    def unit_state(self, unit: str) -> tuple[str, str]:
        """(is-enabled, is-active) of UNIT, as systemctl answers."""
        enabled = self.run(["systemctl", "is-enabled", unit], check=False).stdout.strip()
        active = self.run(["systemctl", "is-active", unit], check=False).stdout.strip()
        return enabled, active
