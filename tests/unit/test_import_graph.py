"""The lab's modules import each other as a tree a reader can follow: no cycle, no private name borrowed.

Why: a cycle (closed by an import inside a function, or one only a type checker reads) means no
module of it can be read or changed without the others; a `_private` name imported from another
module is a contract nobody declared. The graph is read from the source (ast), every import counted:
at the top, inside a function, under TYPE_CHECKING.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["lab", "wgsites", "components"]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, package: str) -> list[tuple[str, list[str], int]]:
    """(module imported, names taken from it, line) for each import of PACKAGE's modules in PATH."""
    here = module_name(path).split(".")
    if path.name != "__init__.py":
        here = here[:-1]  # the package a relative import starts from
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            found += [(target, [alias.name], node.lineno) for alias in node.names]
    return [(target, names, line) for target, names, line in found if target.split(".")[0] == package]


def graph(package: str) -> dict[str, dict[str, list[tuple[list[str], int]]]]:
    """module -> {module it imports -> [(names, line)]}, within PACKAGE."""
    modules = {module_name(p): p for p in (ROOT / package).rglob("*.py")}
    edges: dict[str, dict[str, list[tuple[list[str], int]]]] = {name: {} for name in modules}
    for name, path in modules.items():
        for target, names, line in imports_of(path, package):
            if names and f"{target}.{names[0]}" in modules:  # `from . import x`, `from .sub import c`: a module
                target = f"{target}.{names[0]}"
            while target not in modules and "." in target:  # `import pkg.x.y`: the module that holds it
                target = target.rsplit(".", 1)[0]
            if target != name:
                edges[name].setdefault(target, []).append((names, line))
    return edges


def reachable(edges: dict[str, dict[str, list]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for target in edges[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def cycles_in(edges: dict[str, dict[str, list]]) -> list[list[str]]:
    """The modules that import each other, each group sorted (the graph's strongly connected parts of two or more)."""
    reach = {name: reachable(edges, name) for name in edges}
    groups = {tuple(sorted(m for m in reach[name] if name in reach[m])) for name in edges if name in reach[name]}
    return sorted(list(group) for group in groups)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle(package):
    cycles = cycles_in(graph(package))
    assert not cycles, f"{package}/ modules import each other: {cycles}; move what both sides need below both"


@pytest.mark.parametrize("package", PACKAGES)
def test_no_private_name_imported_across_modules(package):
    borrowed = [
        f"{module} line {line}: from {target} import {name}"
        for module, targets in graph(package).items()
        for target, uses in targets.items()
        for names, line in uses
        for name in names
        if name.startswith("_")
    ]
    assert not borrowed, f"{package}/ imports private names across modules (make them public or move them): {borrowed}"


def test_the_graph_sees_every_kind_of_import(tmp_path, monkeypatch):
    """A cycle closed inside a function or under TYPE_CHECKING is found, and so is a private name."""
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("from .b import thing, other\n")
    (package / "b.py").write_text("def f():\n    from .sub.c import _hidden\n")
    (package / "sub" / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .. import a\n")
    (package / "sub" / "d.py").write_text("import pkg.sub.c\nfrom . import c\n")
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    edges = graph("pkg")
    assert edges == {
        "pkg": {},
        "pkg.a": {"pkg.b": [(["thing"], 1), (["other"], 1)]},
        "pkg.b": {"pkg.sub.c": [(["_hidden"], 2)]},
        "pkg.sub": {},
        "pkg.sub.c": {"pkg.a": [(["a"], 3)]},
        "pkg.sub.d": {"pkg.sub.c": [([], 1), (["c"], 2)]},
    }
    assert cycles_in(edges) == [["pkg.a", "pkg.b", "pkg.sub.c"]]
    (package / "sub" / "c.py").write_text("")
    assert cycles_in(graph("pkg")) == []
