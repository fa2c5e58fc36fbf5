"""What a piece of code starts that could reach the network: processes and connections, seen by a Python audit hook.

CPython raises an audit event (sys.addaudithook) before it starts a process (subprocess.Popen,
os.exec*, os.posix_spawn*, os.spawn*, os.system) and before a socket connects or sends. One hook,
added once per process (a hook cannot be removed), hands the events to whatever `watching` blocks
are open; with `refuse`, an event it names is refused: the call raises instead of starting.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator

EVENTS = frozenset(
    {
        "subprocess.Popen",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.system",
        "os.startfile",
        "socket.connect",
        "socket.sendto",
        "socket.sendmsg",
        "socket.getaddrinfo",
    }
)
Event = tuple[str, tuple]
_watchers: list[tuple[list[Event], Callable[[str, tuple], bool] | None]] = []
_lock = threading.Lock()
_added = False


def _hook(event: str, args: tuple) -> None:
    if event not in EVENTS or not _watchers:
        return
    watchers = list(_watchers)
    for seen, _ in watchers:  # every block sees it, the refused ones too
        seen.append((event, args))
    for _, refuse in watchers:
        if refuse is not None and refuse(event, args):
            raise PermissionError(f"refused by the test's network audit: {event} {args!r}"[:300])


def program_of(event: str, args: tuple) -> str | None:
    """The name of the program a process event starts (None for a socket event)."""
    if event == "subprocess.Popen":
        executable, argv = args[0], args[1]
        if executable:
            first = os.fsdecode(executable)
        elif isinstance(argv, str | bytes | os.PathLike):  # one string: a shell command line
            first = (os.fsdecode(argv).split() or [""])[0]
        else:
            first = os.fsdecode(next(iter(argv), ""))
        return os.path.basename(first)
    if event in ("os.exec", "os.posix_spawn", "os.spawn"):
        return os.path.basename(os.fsdecode(args[0]))
    if event == "os.system":
        return os.fsdecode(args[0]).split()[0] if args[0] else ""
    return None


@contextlib.contextmanager
def watching(refuse: Callable[[str, tuple], bool] | None = None) -> Iterator[list[Event]]:
    """The events raised inside the block, in every thread; REFUSE(event, args) true stops that one."""
    global _added
    with _lock:
        if not _added:
            sys.addaudithook(_hook)
            _added = True
    entry: tuple[list[Event], Callable[[str, tuple], bool] | None] = ([], refuse)
    _watchers.append(entry)
    try:
        yield entry[0]
    finally:
        _watchers.remove(entry)
