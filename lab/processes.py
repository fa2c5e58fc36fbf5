"""Processes and signals of a lab, read from /proc: what to end at teardown, and how.

Why: a namespace's daemons (wireguard-go, sshd sessions) outlive the command that
started them and leave its process group (docs/lab-notes.md 6); teardown must find
exactly those, in namespaces this lab created, and nothing else on this machine.
Standard library only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import FrameType
from typing import Any

CATCH_SIGNALS = (signal.SIGINT, signal.SIGTERM)
"""What tears a lab down on the way out (Ctrl-C, a kill)."""


def is_under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def mounts_under(root: Path) -> list[str]:
    """Mount points at or below `root` in this process's mount namespace."""
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            target = line.split()[4].replace("\\040", " ")
            if is_under(target, str(root)):
                found.append(target)
    return found


def block_signals() -> set[signal.Signals]:
    """Keep SIGINT/SIGTERM from interrupting teardown halfway; they arrive after it."""
    if threading.current_thread() is not threading.main_thread():
        return set()
    return signal.pthread_sigmask(signal.SIG_BLOCK, CATCH_SIGNALS)


def unblock_signals(previous: set[signal.Signals]) -> None:
    if threading.current_thread() is threading.main_thread():
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


_NSFS_DEV: int | None = None


def nsfs_dev() -> int:
    """Device number of the nsfs pseudo filesystem (what /proc/self/ns/* resolve to)."""
    global _NSFS_DEV
    if _NSFS_DEV is None:
        _NSFS_DEV = os.stat("/proc/self/ns/net").st_dev
    return _NSFS_DEV


def namespace_ids(paths: Iterable[Path]) -> set[tuple[int, int]]:
    """(dev, inode) of the namespaces bound on `paths`, as /proc/PID/ns/* links resolve."""
    ids = set()
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            continue
        if st.st_dev == nsfs_dev():  # else: a plain file, nothing bound on it
            ids.add((st.st_dev, st.st_ino))
    return ids


def signal_pid(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def members(groups: set[int], ns_ids: set[tuple[int, int]]) -> list[int]:
    """Live (non-zombie) processes in one of `groups` or one of the namespaces `ns_ids`."""
    me = os.getpid()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        pid = int(entry)
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, pgrp = fields[0], int(fields[2])
        if state in ("Z", "X"):
            continue
        if pgrp in groups:
            found.append(pid)
            continue
        for kind in ("net", "mnt"):
            try:
                st = os.stat(f"/proc/{pid}/ns/{kind}")
            except OSError:
                continue
            if (st.st_dev, st.st_ino) in ns_ids:
                found.append(pid)
                break
    return found


def stop_processes(spawned: list[subprocess.Popen[bytes]], ns_ids: set[tuple[int, int]]) -> list[int]:
    """End what was spawned (whole groups) and anything left in the namespaces `ns_ids`.

    The namespace sweep catches daemons started through `Node.run` (wg-quick's
    wireguard-go, sshd sessions) that left their process groups: only processes
    inside the lab's own namespaces are touched. Returns the PIDs that survived SIGKILL.
    """
    groups = {p.pid for p in spawned}
    for sig, grace in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
        for pid in groups:
            signal_group(pid, sig)
        for pid in members(groups, ns_ids):
            signal_pid(pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            for proc in spawned:
                proc.poll()
            if all(p.returncode is not None for p in spawned) and not members(groups, ns_ids):
                return []
            time.sleep(0.02)
    return [p.pid for p in spawned if p.returncode is None] + members(groups, ns_ids)


_Handler = Callable[[int, FrameType | None], Any] | int | None


class TeardownOnSignal:
    """SIGINT/SIGTERM handlers that run `teardown`, then the previous handler (or the default action).

    Why: a Ctrl-C or a kill must not leave namespaces, mounts and wireguard-go behind.
    Installed only from the main thread (signal.signal works nowhere else).
    """

    def __init__(self, teardown: Callable[[], None]) -> None:
        self.teardown = teardown
        self.saved: dict[int, _Handler] = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in CATCH_SIGNALS:
            if signal.getsignal(sig) != signal.SIG_IGN:  # an ignored signal stays ignored
                self.saved[sig] = signal.signal(sig, self.on_signal)

    def restore(self) -> None:
        for sig, previous in self.saved.items():
            if signal.getsignal(sig) == self.on_signal:  # leave a newer handler alone
                signal.signal(sig, previous)

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        previous = self.saved.get(signum, signal.SIG_DFL)
        try:
            self.teardown()
        finally:
            if callable(previous):
                previous(signum, frame)
            elif previous in (signal.SIG_DFL, None):
                signal.signal(signum, signal.SIG_DFL)
                os.kill(os.getpid(), signum)
