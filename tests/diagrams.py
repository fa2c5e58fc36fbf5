"""The graph name of DOT text, as an SVG drawn from it shows it in its <title>: how the tests tell which DOT text
a committed picture was drawn from (wgsites.rendering.diagram names each graph after a hash of its text)."""

from __future__ import annotations


def drawn_from(dot: str) -> str:
    """The graph name of DOT text (what an SVG drawn from it shows as its <title>)."""
    first = dot.split("\n", 1)[0]
    assert first.startswith('digraph "') and first.endswith('" {'), first
    return first[len('digraph "') : -len('" {')].replace('\\"', '"').replace("\\\\", "\\")
