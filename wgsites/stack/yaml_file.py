"""A stack file read the way the Pulumi CLI reads it, or refused where readers disagree.

The Pulumi CLI reads `Pulumi.<stack>.yaml` with Go's gopkg.in/yaml.v3 into
untyped values (resource/config/object.go). PyYAML reads YAML 1.1, which
differs: it keeps the last of two equal keys (yaml.v3 refuses the file), and
it reads `yes`/`no`/`on`/`off` as booleans and `14:20` as 860 (yaml.v3: the
strings). So the scalars here are resolved as yaml.v3's resolve.go does, and
the forms that reviewers, YAML 1.1 tools and YAML 1.2 tools read differently
are refused with the fix: `0100` (octal 64 to yaml.v3 and YAML 1.1, 100 to
YAML 1.2), `1_000`, `0x1F`, `0o17`, `0b101`, and the YAML 1.1 boolean words.
The document is bounded (size, nesting, alias expansion), so a hostile file
is refused quickly, never with a traceback.
"""

from __future__ import annotations

import datetime
import math
import re
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_BYTES = 1 << 20  # 1 MiB: a stack file of a thousand peers is far below it
MAX_NODES = 50_000  # values composed, and values built with aliases counted each time they are used
MAX_DEPTH = 64

PLAIN = "!wgsites/plain"  # the tag a plain scalar without an explicit tag gets from _Loader
STR, INT, FLOAT, BOOL, NULL = (f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null"))
SEQ, MAP = "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"

# resolve.go: the only words yaml.v3 turns into booleans, nulls and special floats
V3_WORDS: dict[str, Any] = {
    **dict.fromkeys(("true", "True", "TRUE"), True),
    **dict.fromkeys(("false", "False", "FALSE"), False),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
}
# YAML 1.1 booleans yaml.v3 reads as strings (PyYAML's list; the spec's y/n are left alone: node names)
YAML11_BOOLS = {
    **dict.fromkeys(("yes", "Yes", "YES", "on", "On", "ON"), True),
    **dict.fromkeys(("no", "No", "NO", "off", "Off", "OFF"), False),
}
V3_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
GO_INT = re.compile(r"[-+]?(0[xX][0-9a-fA-F]+|0[oO]?[0-7]+|0[bB][01]+|0|[1-9][0-9]*)")
DECIMAL = re.compile(r"[-+]?(0|[1-9][0-9]*)")
# resolve.go's parseTimestamp layouts: 2006-1-2, 2006-1-2 15:4:5.999, 2006-1-2T15:4:5.999Z07:00
TIMESTAMP = re.compile(
    r"(?P<y>[0-9]{4})-(?P<m>[0-9]{1,2})-(?P<d>[0-9]{1,2})"
    r"(?:[Tt][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]+)?(?:Z|[-+][0-9]{2}:[0-9]{2})"
    r"|[ ][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]+)?)?"
)
INT64 = range(-(1 << 63), 1 << 63)
UINT64 = range(0, 1 << 64)


class StackFileError(ValueError):
    """Mistakes in the file itself; config.load_stack_file turns them into a ConfigError."""

    def __init__(self, messages: list[str]):
        self.messages = messages
        super().__init__("\n".join(messages))


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml when there: ten times faster
    """Composes nodes only; plain scalars keep their text for v3_scalar to resolve.

    Every untagged node passes through resolve(), so counting there stops a wide document
    while it is being composed, before its nodes fill memory.
    """

    composed = 0

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        self.composed += 1
        if self.composed > MAX_NODES:
            raise StackFileError([f"{self.name}: more than {MAX_NODES} values; a stack file has a few hundred"])
        if kind is ScalarNode:
            return PLAIN if implicit[0] else STR
        return super().resolve(kind, value, implicit)


def go_int(text: str) -> int | None:
    """Go's strconv.ParseInt(text, 0, 64), then ParseUint: prefixes 0x, 0o, 0b, and a bare 0 for octal."""
    if not GO_INT.fullmatch(text):
        return None
    sign, digits = (-1, text[1:]) if text[0] == "-" else (1, text.lstrip("+"))
    lower = digits.lower()
    base = (
        16 if lower.startswith("0x") else 2 if lower.startswith("0b") else 8 if lower.startswith("0") and len(lower) > 1 else 10
    )
    body = lower[2:] if lower[:2] in ("0x", "0b", "0o") else lower
    value = sign * int(body, base)
    return value if value in INT64 or value in UINT64 else None


def v3_scalar(text: str) -> Any:
    """What yaml.v3 decodes a plain scalar into (resolve.go). A timestamp stays its text here;
    ambiguous_form refuses it, since Pulumi stores the time.Time's String() instead."""
    if text in V3_WORDS:
        return V3_WORDS[text]
    head = text[:1]
    if head == ".":
        return float(text) if V3_FLOAT.fullmatch(text) else text
    if head.isdigit() and head.isascii() or head in ("+", "-"):
        plain = text.replace("_", "")
        number = go_int(plain)
        if number is not None:
            return number
        if V3_FLOAT.fullmatch(plain):
            return float(plain)
    return text


def is_timestamp(text: str) -> bool:
    """resolve.go tries its timestamp layouts on a plain scalar first; time.Parse also checks the calendar."""
    match = TIMESTAMP.fullmatch(text)
    if not match:
        return False
    try:
        datetime.date(int(match["y"]), int(match["m"]), int(match["d"]))
    except ValueError:
        return False
    return True


def ambiguous_form(text: str, value: Any) -> str | None:
    """Why readers disagree on this plain scalar, and the fix; None when every reader agrees."""
    if is_timestamp(text):
        return (
            f"is a date to Pulumi, which stores it as a time such as '2001-12-14 00:00:00 +0000 UTC'; "
            f"quote {text!r} if you mean the text"
        )
    if text in YAML11_BOOLS:
        word = "true" if YAML11_BOOLS[text] else "false"
        return (
            f"is {word} to YAML 1.1 tools but the string {text!r} to Pulumi; write {word}, or quote {text!r} if you mean the word"
        )
    if isinstance(value, float) and re.fullmatch(r"[-+]?0[0-9_]+", text):
        decimal = int(text.replace("_", ""), 10)
        return f"is the float {value} to Pulumi but {decimal} to YAML 1.2 and a string to YAML 1.1; write {decimal}"
    if not isinstance(value, int) or isinstance(value, bool) or DECIMAL.fullmatch(text):
        return None
    digits = text.lstrip("+-").replace("_", "").lower()
    if "_" in text:
        return f"is {value} to Pulumi but a string to YAML 1.2 tools; write {value}"
    if digits.startswith("0x"):
        return f"is hexadecimal for {value}; write {value}"
    if digits.startswith("0b"):
        return f"is binary for {value}; write {value}"
    if digits.startswith("0o"):
        return f"is octal for {value} to Pulumi but a string to YAML 1.1 tools; write {value}"
    decimal = int(text.replace("_", ""), 10)
    return f"is octal {value} to Pulumi and YAML 1.1 but {decimal} to YAML 1.2; write {value}, or {decimal} if you meant decimal"


class _Builder:
    """Turns composed nodes into dicts, lists and scalars, collecting one message per mistake."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.built = 0
        self.open: set[int] = set()  # nodes being built: an alias to one of them never ends

    def build(self, node: Node, path: str, depth: int = 0) -> Any:
        if id(node) in self.open:
            raise StackFileError([f"{_short(path)}: an alias on line {_line(node)} contains itself; write the values out"])
        self.open.add(id(node))
        try:
            return self._build(node, path, depth)
        finally:
            self.open.discard(id(node))

    def _build(self, node: Node, path: str, depth: int) -> Any:
        self.built += 1
        if self.built > MAX_NODES:
            raise StackFileError([f"{_short(path)}: more than {MAX_NODES} values after expanding aliases; write the values out"])
        if depth > MAX_DEPTH:
            raise StackFileError([f"{_short(path)}: nested more than {MAX_DEPTH} levels deep; a stack file needs a few levels"])
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        if isinstance(node, SequenceNode) and node.tag == SEQ:
            return [self.build(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(node.value)]
        if isinstance(node, MappingNode) and node.tag == MAP:
            return self.mapping(node, path, depth)
        self.errors.append(
            f"{path or '(top level)'}: tag {_tag(node)} on line {_line(node)} is not supported in a stack file; remove the tag"
        )
        return None

    def scalar(self, node: ScalarNode, path: str) -> Any:
        if node.tag == STR:
            return node.value
        if node.tag == PLAIN:
            value = v3_scalar(node.value)
            why = ambiguous_form(node.value, value)
            if why:
                self.errors.append(f"{path}: {node.value} {why}")
            return value
        if node.tag in (INT, FLOAT, BOOL, NULL):  # an explicit !!int and so on: yaml.v3 resolves the text the same way
            return v3_scalar(node.value)
        self.errors.append(
            f"{path or '(top level)'}: tag {_tag(node)} on line {_line(node)} is not supported in a stack file; remove the tag"
        )
        return None

    def mapping(self, node: MappingNode, path: str, depth: int) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        lines: dict[tuple[type, Any], int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.errors.append(f"{path}: a key on line {_line(key_node)} is not a plain word; write keys as `name: value`")
                continue
            if key_node.tag == PLAIN and key_node.value == "<<":
                self.errors.append(
                    f"{path}.<<: merge key on line {_line(key_node)} hides values from a reviewer; write the keys out"
                )
                continue
            key = self.scalar(key_node, path)
            if not isinstance(key, str | int | float | bool | None):
                continue
            child = _child_path(path, key)
            value = self.build(value_node, child, depth + 1)
            ident = (type(key), key)
            if ident in lines:
                self.errors.append(
                    f"{child or key}: {_show(value)} on line {_line(key_node)} repeats the key set on line {lines[ident]}; "
                    "Pulumi refuses a key written twice, so keep one"
                )
                continue
            lines[ident] = _line(key_node)
            result[key] = value
        return result


def _child_path(path: str, key: Any) -> str:
    """Paths start below `config:`, so they read `wgsites:vpn.hub.name` as every other message does."""
    text = key if isinstance(key, str) and key.isprintable() else repr(key)
    if path == "":
        return "" if key == "config" else text
    return f"{path}.{text}"


def _short(path: str) -> str:
    return (path[:60] + "...") if len(path) > 60 else path or "(top level)"


def _tag(node: Node) -> str:
    return node.tag.replace("tag:yaml.org,2002:", "!!")


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "{...}"
    if isinstance(value, list):
        return "[...]"
    return repr(value)


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", "".join(c if c.isprintable() or c.isspace() else f"\\x{ord(c):02x}" for c in text)).strip()


def _compose(text: str, path: Path) -> Node | None:
    loader = _Loader(text)
    loader.name = str(path)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def read_stack_document(path: Path) -> Any:
    """The stack file as yaml.v3 would decode it, with `config:` keys at the top of every path; raises StackFileError."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise StackFileError([f"{path}: no such file; pass a stack file such as examples/Pulumi.home.yaml"]) from None
    except OSError as exc:
        raise StackFileError([f"{path}: cannot be read ({exc.strerror}); pass a readable stack file"]) from None
    if len(data) > MAX_BYTES:
        raise StackFileError([f"{path}: larger than {MAX_BYTES} bytes (1 MiB); a stack file is a few kilobytes, check the file"])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StackFileError([f"{path}: byte {exc.start} is not UTF-8; save the file as UTF-8"]) from None
    try:
        root = _compose(text, path)
    except yaml.MarkedYAMLError as exc:
        if "maximum nesting depth" in str(exc.problem):  # libyaml's own bound (1000 levels)
            raise StackFileError([f"{path}: nested too deeply to read; a stack file needs a few levels"]) from None
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        problem = _one_line(exc.problem or exc.context or "unreadable")
        raise StackFileError([f"{path}: not valid YAML at {where} ({problem}); fix the indentation or quoting there"]) from None
    except yaml.YAMLError as exc:
        raise StackFileError([f"{path}: not valid YAML ({_one_line(str(exc))}); fix the indentation or quoting there"]) from None
    except RecursionError:
        raise StackFileError([f"{path}: nested too deeply to read; a stack file needs a few levels"]) from None
    if root is None:
        return None
    builder = _Builder()
    document = builder.build(root, "")
    if builder.errors:
        raise StackFileError(builder.errors)
    return document
