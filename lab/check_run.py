"""One run of checks against a deployed stack: the PASS/FAIL rows so far, and the probes a check measures with.

Why a module of its own: every kind of check (the stack's own in `checks`, the stand-ins', the
dual stack's, the faults', the scenarios') records its rows here and pings, curls and traces
with the same probes, so none of them imports another to get at them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from wgsites.stack.addressing import AddressPlan

from .deploy import Deployment
from .netns import Node

SUMMARY_RE = re.compile(r"(\d+) packets transmitted, (\d+) received")
"""ping's summary line: (sent, received)."""
TRACE_SPACING = 3.0
"""Seconds between two traceroutes from one host: Linux's ICMP rate limit per host refills one token a second."""


@dataclass(frozen=True)
class Check:
    name: str
    nodes: str
    passed: bool
    detail: str


class CheckRun:
    def __init__(self, dep: Deployment):
        self.dep = dep
        self.world = dep.world
        self.vpn = dep.world.vpn
        self.plans = AddressPlan(self.vpn).plans()
        self.results: list[Check] = []
        self.traced: dict[str, float] = {}  # node -> when its last traceroute ended

    def record(self, name: str, nodes: str, passed: bool, detail: str) -> bool:
        self.results.append(Check(name, nodes, passed, detail))
        return passed

    def attempt(self, name: str, nodes: str, body: Callable[[], tuple[bool, str]]) -> bool:
        """The one path of a check: BODY says (passed, detail); if it crashes, the row is a FAIL with the reason."""
        try:
            passed, detail = body()
        except Exception as exc:  # a check that crashes is a failed check, with the reason
            passed, detail = False, crash_detail(exc)
        return self.record(name, nodes, passed, detail)

    def guard(self, name: str, nodes: str, step: Callable[[], object]) -> bool:
        """Run a step that records rows of its own (a scenario, a group of checks); a crash adds a FAIL row."""
        try:
            step()
        except Exception as exc:
            return self.record(name, nodes, False, crash_detail(exc))
        return True

    # probes ----------------------------------------------------------------------------

    def node(self, name: str) -> Node:
        return self.world.nodes[name]

    def iface(self, name: str) -> str:
        return self.vpn.node(name).interface

    @property
    def hub_address(self) -> str:
        return str(self.vpn.hub.address)

    def hub_endpoints(self) -> dict[str, str]:
        """Public key -> the endpoint the hub last saw it at (`wg show IFACE endpoints`)."""
        hub = self.vpn.hub
        out = self.node(hub.name).run(["wg", "show", hub.interface, "endpoints"]).stdout
        return dict(line.split("\t") for line in out.splitlines() if "\t" in line)

    def hub_endpoint_of(self, name: str) -> str:
        """Where the hub last saw node NAME: its `wg show` endpoint, or '-'."""
        return self.hub_endpoints().get(self.dep.keys.public[name], "-")

    @staticmethod
    def ping(node: Node, target: str, count: int = 3) -> tuple[int, int]:
        out = node.run(["ping", "-n", "-c", str(count), "-i", "0.2", "-W", "2", target], check=False).stdout
        match = SUMMARY_RE.search(out)
        return (int(match.group(1)), int(match.group(2))) if match else (count, 0)

    @staticmethod
    def http(node: Node, target: str, port: int = 80) -> int:
        """curl's exit code: 0 answered, 7 refused, 28 timed out."""
        return node.run(
            ["curl", "-s", "-o", "/dev/null", "-m", "3", "--noproxy", "*", f"http://{target}:{port}/"], check=False
        ).returncode

    @staticmethod
    def last_client(log) -> str:
        lines = log.read_text().split()
        return lines[-1] if lines else ""

    def hops(self, node: Node, target: str, max_hops: int = 5) -> list[str]:
        """The address answering at each hop: three probes a hop, the first that answered (an ICMP reply that
        comes late, as the hub's rate limit lets it, is not a missing hop). Traceroutes from one host are
        TRACE_SPACING apart: each router answers a host 6 at once, then 1 a second, and one costs it 3."""
        wait = self.traced.get(node.name, 0) + TRACE_SPACING - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        out = node.run(["traceroute", "-n", "-q", "3", "-w", "2", "-m", str(max_hops), target], check=False).stdout
        self.traced[node.name] = time.monotonic()
        hops = []
        for line in out.splitlines()[1:]:
            answered = [word for word in line.split()[1:] if word[0].isdigit() and word.count(".") == 3]
            hops.append(answered[0] if answered else "*")
        return hops


def crash_detail(exc: BaseException) -> str:
    """A crash as one table cell: its type and the first line of its message."""
    first = str(exc).splitlines()[0][:160] if str(exc) else ""
    said = (getattr(exc, "stderr", "") or "").strip().splitlines()  # a command's own words (LabCommandError)
    said = [line for line in said if "rror" in line] or said[-1:]  # its error line, else its last
    return f"{type(exc).__name__}: {first}" + (f": {said[-1][:200]}" if said else "")
