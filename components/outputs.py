"""How the program lifts the delivery plan into Outputs and stays cheap at a thousand peers.

Every Output costs the Python SDK a task, and its collector a walk, so a 1000-peer program is timed
by how many it makes (bench/RESULTS.md; the guard: tests/unit/test_bench_program_eval.py counts
Outputs per peer). Three techniques, kept here so the components read as lists of resources:

- A map (node -> key, node -> config) travels as ONE Output of a dict and is read whole in an apply
  (`together`, `joined`). `Output.all`, `Output.secret` or `from_input` over an Output of a dict
  lift each of its entries into an Output of their own: two thousand at a thousand peers, each time.
- One entry of such a map becomes an Output only when something reads it alone (`OnDemand`): the
  keys a thousand configs read from the map would otherwise be two thousand Outputs never read.
- Values made from the same inputs (every spoke's config needs the hub's key and endpoint only) are
  made in one apply for all, and each is picked from it (`picked`): two Outputs, not a thousand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from operator import itemgetter
from typing import Any, TypeVar

import pulumi

T = TypeVar("T")


class OnDemand(Mapping[str, pulumi.Output[str]]):
    """node -> its value of a map Output, as an Output made the first time it is read (or one GIVEN)."""

    def __init__(
        self, source: pulumi.Output[dict[str, str]], names: Iterable[str], given: Mapping[str, pulumi.Output[str]] | None = None
    ) -> None:
        self._source = source
        self._names = dict.fromkeys(names)  # the order they are listed in
        self._made: dict[str, pulumi.Output[str]] = dict(given or {})

    def __getitem__(self, name: str) -> pulumi.Output[str]:
        made = self._made.get(name)
        if made is None:
            if name not in self._names:
                raise KeyError(name)
            made = self._made[name] = self._source.apply(itemgetter(name))
        return made

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._names


def output_of(value: pulumi.Input[T]) -> pulumi.Output[T]:
    """VALUE as an Output; one that is already one as it is (from_input would wrap it in one more apply)."""
    return value if isinstance(value, pulumi.Output) else pulumi.Output.from_input(value)


def together(make: Callable[..., T], *values: pulumi.Input[Any]) -> pulumi.Output[T]:
    """MAKE of VALUES' resolved values, each read whole in a nested apply: as Output.all, without lifting
    each entry of a map into an Output. Secret, and unknown in a preview, when any of them is."""
    first, *rest = [output_of(v) for v in values]
    if not rest:
        return first.apply(make)
    return first.apply(lambda value: together(lambda *others: make(value, *others), *rest))


def joined(
    source: pulumi.Output[dict[str, str]], singles: Mapping[str, pulumi.Output[str]], names: Iterable[str]
) -> pulumi.Output[dict[str, str]]:
    """NAMES' values as one map: from the map SOURCE (read whole in an apply), or from SINGLES (each an
    Output of one value, gathered by Output.all)."""
    names = list(names)
    others = {n: singles[n] for n in names if n in singles}

    def pick(every: dict[str, str], given: dict[str, str]) -> dict[str, str]:
        every = {**every, **(given or {})}
        return {n: every[n] for n in names}

    return pulumi.Output.all(**others).apply(lambda given: source.apply(lambda every: pick(every, given)))


def picked(shared: pulumi.Output[Mapping[str, T]], names: Iterable[str]) -> dict[str, pulumi.Output[T]]:
    """Each of NAMES' entry of the map SHARED (made for all of them in one apply), as an Output of its own."""
    return {name: shared.apply(itemgetter(name)) for name in names}
