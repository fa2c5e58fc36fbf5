"""Where a WireGuard private key hides in resource inputs: config lines, cloud-init user data, key files.

Pure Python on plain values (no engine), so the rules in `wgsites_rules` and the
tests use the same code. Nothing here returns or prints a key: only whether and
where one was found.
"""

from __future__ import annotations

import base64
import binascii
import email
import gzip
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import yaml

# A WireGuard key is 32 bytes in base64: 43 characters and `=`; the 43rd carries only 4 bits, so it is
# one of 16 letters. wg-quick reads keys case-insensitively, so `privatekey = ...` counts too.
_KEY = r"[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]="
PRIVATE_KEY_LINE = re.compile(rf"(?i:private[ _-]?key)\s*=\s*{_KEY}")
PRESHARED_KEY_LINE = re.compile(rf"(?i:preshared[ _-]?key)\s*=\s*{_KEY}")
BARE_KEY = re.compile(rf"^\s*{_KEY}\s*$")
# write_files paths that name a private key file (wg's convention: `wg0.key` private, `wg0.pub` public)
KEY_FILE_PATH = re.compile(r"(?i)(\.key$|private)")

_B64 = {"b64", "base64"}
_GZ = {"gz", "gzip"}
_GZ_B64 = {f"{g}+{b}" for g in _GZ for b in _B64}


def has_private_key_line(text: str) -> bool:
    """A `PrivateKey = <key>` line, as in a wg-quick config (a script printing `PrivateKey = ` and a file is fine)."""
    return bool(PRIVATE_KEY_LINE.search(text))


def has_preshared_key_line(text: str) -> bool:
    """A `PresharedKey = <key>` line, as in a device's wg-quick config."""
    return bool(PRESHARED_KEY_LINE.search(text))


def is_bare_key(text: str) -> bool:
    return bool(BARE_KEY.match(text))


class UndecodableContent(ValueError):
    """A write_files entry whose content does not decode as its `encoding` says: it cannot be checked."""


def decode_write_file(entry: Mapping[str, Any]) -> str:
    """A cloud-init write_files entry's content as text, decoded as cloud-init would (b64, gz, gz+b64)."""
    content = entry.get("content") or ""
    encoding = str(entry.get("encoding") or "text/plain").lower()
    try:
        raw = content if isinstance(content, bytes) else str(content).encode()
        if encoding in _B64 or encoding in _GZ_B64:
            raw = base64.b64decode(raw, validate=False)
        if encoding in _GZ or encoding in _GZ_B64:
            raw = gzip.decompress(raw)
        return raw.decode("utf-8", errors="replace")
    except (binascii.Error, OSError, EOFError) as exc:
        raise UndecodableContent(f"write_files entry {entry.get('path')!r}: {type(exc).__name__}") from None


def user_data_parts(user_data: str) -> Iterator[str]:
    """The user data itself and, for MIME multipart user data, each part's text."""
    yield user_data
    if user_data.lstrip().lower().startswith(("content-type: multipart", "mime-version")):
        message = email.message_from_string(user_data)
        for part in message.walk():
            if not part.is_multipart():
                payload = part.get_payload(decode=True)
                if payload is not None:
                    if payload[:2] == b"\x1f\x8b":
                        payload = gzip.decompress(payload)
                    yield payload.decode("utf-8", errors="replace")


def decode_user_data_base64(value: str) -> str:
    """`userDataBase64`: base64 of the user data, which may itself be gzip (cloud-init accepts both)."""
    try:
        raw = base64.b64decode(value)
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (binascii.Error, OSError, EOFError) as exc:
        raise UndecodableContent(f"userDataBase64: {type(exc).__name__}") from None
    return raw.decode("utf-8", errors="replace")


def user_data_leaks(user_data: str) -> list[str]:
    """Where USER_DATA carries a private key: the text itself, and every write_files entry decoded."""
    found = []
    for index, part in enumerate(user_data_parts(user_data)):
        where = "user data" if index == 0 else f"user data part {index}"
        if has_private_key_line(part):
            found.append(f"{where} has a `PrivateKey =` line")
        if not part.lstrip().startswith("#cloud-config"):
            continue
        try:
            document = yaml.safe_load(part)
        except yaml.YAMLError:
            continue  # not ours to judge: cloud-init rejects it, and the plain text was searched above
        files = document.get("write_files") if isinstance(document, Mapping) else None
        if not isinstance(files, Sequence) or isinstance(files, str):
            continue
        for entry in files:
            if not isinstance(entry, Mapping):
                continue
            path = str(entry.get("path", "?"))
            try:
                text = decode_write_file(entry)
            except UndecodableContent as exc:
                found.append(f"{where}: {exc}, so it cannot be checked for a private key")
                continue
            if has_private_key_line(text):
                encoding = entry.get("encoding") or "text"
                found.append(f"{where}: write_files {path!r} (encoding {encoding}) has a `PrivateKey =` line")
            elif KEY_FILE_PATH.search(path) and is_bare_key(text):
                found.append(f"{where}: write_files {path!r} is a key file holding a key")
    return found
