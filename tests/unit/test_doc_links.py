"""Every relative link in the repository's Markdown works in a clone and on GitHub.

A link or picture that names a file must name one in the repository (a folder counts), its `#anchor`
a heading of that file; none may leave the repository (`../shared/...` worked on one machine
only). Links are read as GitHub reads them (markdown-it, CommonMark): a path inside a code span is
not a link, and a reference-style link counts.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from markdown_it import MarkdownIt

from tests.stacks import ROOT


def markdown_files(root: Path) -> list[Path]:
    """The repository's Markdown files, outside hidden folders (.venv, .git)."""
    found = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        found += [Path(folder, f) for f in sorted(files) if f.endswith(".md")]
    return found


def slug(heading: str, seen: dict[str, int]) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as dashes; a repeat gets -1, -2."""
    base = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
    count = seen.get(base, 0)
    seen[base] = count + 1
    return base if count == 0 else f"{base}-{count}"


def parsed(path: Path) -> tuple[list[str], set[str]]:
    """(every link and picture target, every heading anchor) of a Markdown file."""
    tokens = MarkdownIt("commonmark").enable("table").parse(path.read_text())
    targets, anchors, seen = [], set(), {}
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            text = "".join(c.content for c in tokens[i + 1].children or [] if c.type in ("text", "code_inline"))
            anchors.add(slug(text, seen))
        for child in token.children or []:
            if child.type == "link_open":
                targets.append(child.attrGet("href"))
            elif child.type == "image":
                targets.append(child.attrGet("src"))
    return targets, anchors


def broken_links(root: Path) -> list[str]:
    """Every relative link under ROOT that does not resolve, as 'file: target: why'."""
    root = root.resolve()
    broken = []
    for page in markdown_files(root):
        targets, anchors = parsed(page)
        for target in targets:
            parts = urlsplit(target)
            if parts.scheme or parts.netloc:
                continue  # a web address: not checked here
            where = f"{page.relative_to(root)}: {target}"
            path = unquote(parts.path)
            if path.startswith("/"):
                broken.append(f"{where}: an absolute path (GitHub and a clone read it differently); write it relative")
                continue
            resolved = (page.parent / path).resolve() if path else page
            if not resolved.is_relative_to(root):
                broken.append(f"{where}: leaves the repository")
            elif not resolved.exists():
                broken.append(f"{where}: no such file in the repository")
            elif parts.fragment and resolved.suffix == ".md":
                known = anchors if resolved == page else parsed(resolved)[1]
                if unquote(parts.fragment) not in known:
                    broken.append(f"{where}: no heading #{parts.fragment} in {resolved.relative_to(root)}")
    return broken


def test_every_relative_link_resolves_inside_the_repository():
    assert broken_links(ROOT) == []


def test_the_readme_and_docs_have_links_to_check():
    """The check reads what it should: the README links into docs/, and the docs pages are found."""
    pages = {p.relative_to(ROOT).as_posix() for p in markdown_files(ROOT)}
    assert {"README.md", "docs/reference.md", "docs/deploy.md", "docs/walkthroughs/home.md"} <= pages
    targets, anchors = parsed(ROOT / "README.md")
    assert "docs/reference.md#the-stack-file" in targets and "quick-start" in anchors


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("[guide](../shared/guide.md)", "leaves the repository"),
        ("[gone](docs/nothing.md)", "no such file in the repository"),
        ("[anchor](docs/page.md#nowhere)", "no heading #nowhere in docs/page.md"),
        ("[here](#nowhere)", "no heading #nowhere in README.md"),
        ("![picture](docs/missing.svg)", "no such file in the repository"),
        ("[root](/etc/passwd)", "an absolute path"),
        ("[ref][r]\n\n[r]: ../outside.md", "leaves the repository"),
    ],
)
def test_a_broken_link_is_named(tmp_path, text, why):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text("# Page\n\n## A section (with `code`)\n")
    (tmp_path / "README.md").write_text(f"# Title\n\n{text}\n")
    (broken,) = broken_links(tmp_path)
    assert broken.startswith("README.md: ") and why in broken


def test_working_links_pass(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text("# Page\n\n## A section (with `code`)\n\n## A section (with `code`)\n")
    (tmp_path / "README.md").write_text(
        "# Title\n\n## The guide's setups\n\n[a](docs/page.md#a-section-with-code) [b](docs/page.md#a-section-with-code-1) "
        "[c](#the-guides-setups) [d](docs/) [e](https://example.org/x) `[f](../not/a/link.md)`\n"
    )
    (tmp_path / "docs" / "back.md").write_text("[up](../README.md#title)\n")
    assert broken_links(tmp_path) == []
